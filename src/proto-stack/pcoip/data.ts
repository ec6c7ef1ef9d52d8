/**
 * PCoIP data channel: the Salsa20/12 packet encapsulation and the data message header.
 *
 * Salsa20/12 packet: `u32 spi, u32 serial (from 0), u8 iv[8], ciphertext`. The ciphertext is the
 * Salsa20/12 encryption (256-bit key from the s12k chunk, the packet's iv as the 8-byte nonce, block
 * counter from 0) of `message || DE AD BE EF`; the four trailer bytes are not part of the message.
 * Data message: `u8 type, u8 unknown[3], u16 serial_no, body`.
 *
 * Choices where the document is silent: spi, serial and serial_no are big-endian; the trailer is
 * the bytes DE AD BE EF (the byte-swapped EF BE AD DE is accepted with a warning). A wrong trailer
 * means a wrong key or not a Salsa20/12 packet: that is an AuthError. The AES-128/256 encapsulations
 * are left undocumented by the document, so they are refused with a clear error.
 */

import { ByteReader, ByteWriter, bytesEqual, concatBytes, toHex } from '../bytes.js';
import { AuthError, ParseError } from '../errors.js';
import { salsa20Xor } from './salsa20.js';

const LAYER = 'pcoip-data';
export const SALSA_ROUNDS = 12;
export const SALSA_HEADER = 16;
const TRAILER = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);
const TRAILER_SWAPPED = Uint8Array.of(0xef, 0xbe, 0xad, 0xde);

export type PcoipCipher = 'salsa20-12' | 'aes-128-gcm' | 'aes-256-gcm';

export const DATA_TYPES: Record<number, { name: string; description: string }> = {
  2: { name: 'IMG', description: 'video channel (server)' },
  6: { name: '?', description: 'redirection services' },
  8: { name: 'DDC', description: 'display data channel' },
  9: { name: '?', description: 'meaning unknown' },
  10: { name: '?', description: 'meaning unknown' },
  12: { name: 'HDA', description: 'audio channel' },
};

export interface SalsaPacket {
  spi: number;
  serial: number;
  iv: Uint8Array;
  /** decrypted data message, trailer removed */
  message: Uint8Array;
  warnings: string[];
}

function checkKey(key: Uint8Array): void {
  if (key.length !== 32)
    throw new ParseError(LAYER, `a Salsa20-256-round12 key is 32 bytes, got ${key.length}`, {
      hint: 'use the 32-byte s12k key from the MGMT exchange (after SCS1 de-obfuscation if the token was SCS1)',
    });
}

/** Decrypts a Salsa20/12 packet and checks the DEADBEEF trailer. */
export function decapsulateSalsa(packet: Uint8Array, key: Uint8Array): SalsaPacket {
  checkKey(key);
  const r = new ByteReader(packet, LAYER);
  const spi = r.u32('spi');
  const serial = r.u32('serial');
  const iv = r.bytes(8, 'iv').slice();
  const ct = r.rest();
  if (ct.length < TRAILER.length)
    throw new ParseError(LAYER, `payload is ${ct.length} bytes, too short for the 4-byte DEADBEEF trailer`);
  const pt = salsa20Xor(key, iv, ct, { rounds: SALSA_ROUNDS });
  const tail = pt.subarray(pt.length - 4);
  const warnings: string[] = [];
  if (bytesEqual(tail, TRAILER_SWAPPED)) warnings.push('trailer is EF BE AD DE (DEADBEEF little-endian)');
  else if (!bytesEqual(tail, TRAILER))
    throw new AuthError(
      `Salsa20/12 packet (spi 0x${spi.toString(16)}, serial ${serial}): trailer is ${toHex(tail)}, not deadbeef`,
      {
        hint: 'the key is wrong (each direction has its own key) or the packet is not Salsa20/12-encapsulated',
      },
    );
  return { spi, serial, iv, message: pt.slice(0, pt.length - 4), warnings };
}

/** Encrypts a data message into a Salsa20/12 packet (the inverse of decapsulateSalsa). */
export function encapsulateSalsa(
  message: Uint8Array,
  opts: { key: Uint8Array; spi: number; serial: number; iv: Uint8Array },
): Uint8Array {
  checkKey(opts.key);
  if (opts.iv.length !== 8) throw new ParseError(LAYER, `iv must be 8 bytes, got ${opts.iv.length}`);
  const ct = salsa20Xor(opts.key, opts.iv, concatBytes(message, TRAILER), { rounds: SALSA_ROUNDS });
  return new ByteWriter(SALSA_HEADER + ct.length)
    .u32(opts.spi)
    .u32(opts.serial)
    .bytes(opts.iv)
    .bytes(ct)
    .finish();
}

/** Decapsulates with the named cipher; the AES encapsulations are undocumented and refused. */
export function decapsulate(
  packet: Uint8Array,
  key: Uint8Array,
  cipher: PcoipCipher = 'salsa20-12',
): SalsaPacket {
  if (cipher === 'salsa20-12') return decapsulateSalsa(packet, key);
  const name = cipher === 'aes-128-gcm' ? 'AES-128' : 'AES-256';
  throw new ParseError(
    LAYER,
    `the ${name} encapsulation is undocumented (the PCoIP document leaves it as FIXME)`,
    {
      hint: 'only Salsa20/12 packets (psec 3) can be decoded',
    },
  );
}

export interface DataMessage {
  type: number;
  typeName?: string;
  typeDescription?: string;
  /** the three bytes the document calls unknown */
  unknown: Uint8Array;
  serialNo: number;
  body: Uint8Array;
  warnings: string[];
}

export function decodeDataMessage(message: Uint8Array): DataMessage {
  const r = new ByteReader(message, LAYER);
  const type = r.u8('message type');
  const unknown = r.bytes(3, 'unknown header bytes').slice();
  const serialNo = r.u16('serial_no');
  const body = r.rest().slice();
  const t = Object.hasOwn(DATA_TYPES, type) ? DATA_TYPES[type] : undefined;
  const warnings = t ? [] : [`message type ${type} is not in the document's table (2, 6, 8, 9, 10, 12)`];
  return { type, typeName: t?.name, typeDescription: t?.description, unknown, serialNo, body, warnings };
}

export function encodeDataMessage(
  m: Pick<DataMessage, 'type' | 'unknown' | 'serialNo' | 'body'>,
): Uint8Array {
  if (m.unknown.length !== 3) throw new ParseError(LAYER, 'the unknown header field is 3 bytes');
  return new ByteWriter(6 + m.body.length).u8(m.type).bytes(m.unknown).u16(m.serialNo).bytes(m.body).finish();
}
