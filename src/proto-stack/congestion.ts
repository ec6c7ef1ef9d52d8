/**
 * CONGESTION packets (base type 5, docs/protocol.md §9): every 200 ms the client reports how many AV
 * units it received and lost since the last report.
 * `05 | word_0 u16 | received u16 | lost u16 | gmac[4] | key_pos u32` = 15 bytes; tagged with the
 * local gkcrypt while the key_pos field is zeroed (the reference rule, pinned by its test).
 */

import { view } from './bytes.js';
import { ParseError } from './errors.js';
import type { GkCrypt } from './gkcrypt.js';
import { applyGmac, TakionType } from './takion.js';

export const CONGESTION_PACKET_SIZE = 15;

export interface CongestionReport {
  received: number;
  lost: number;
  /** Our key_pos for this packet (TakionEndpoint.allocKeyPos(15)). */
  keyPos: number;
  /** Unknown first word; the reference sends 0. */
  word0?: number;
}

export interface ParsedCongestion {
  word0: number;
  received: number;
  lost: number;
  gmac: Uint8Array;
  /** Low 32 bits of the sender's key_pos. */
  keyPos: number;
}

const u16 = (n: number) => Math.max(0, Math.min(0xffff, Math.trunc(n)));

/** The 15-byte packet; with `crypt` (local gkcrypt) it is GMAC-tagged at report.keyPos. */
export function formatCongestion(r: CongestionReport, crypt?: GkCrypt): Uint8Array {
  const p = new Uint8Array(CONGESTION_PACKET_SIZE);
  const dv = view(p);
  p[0] = TakionType.Congestion;
  dv.setUint16(1, u16(r.word0 ?? 0));
  // counters saturate rather than wrap: a huge loss must not read as a tiny one
  dv.setUint16(3, u16(r.received));
  dv.setUint16(5, u16(r.lost));
  dv.setUint32(11, r.keyPos % 0x1_0000_0000);
  if (crypt) applyGmac(p, crypt, r.keyPos);
  return p;
}

/** Console side: reads a CONGESTION packet (its GMAC is checked by TakionEndpoint). */
export function parseCongestion(bytes: Uint8Array): ParsedCongestion {
  if (bytes.length !== CONGESTION_PACKET_SIZE)
    throw new ParseError('congestion', `packet is ${bytes.length} bytes, expected ${CONGESTION_PACKET_SIZE}`);
  if ((bytes[0] & 0x0f) !== TakionType.Congestion)
    throw new ParseError('congestion', `base type ${bytes[0] & 0x0f} is not CONGESTION (5)`);
  const dv = view(bytes);
  return {
    word0: dv.getUint16(1),
    received: dv.getUint16(3),
    lost: dv.getUint16(5),
    gmac: bytes.slice(7, 11),
    keyPos: dv.getUint32(11),
  };
}
