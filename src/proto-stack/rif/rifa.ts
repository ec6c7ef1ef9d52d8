/**
 * RIFA: the per-service license container paired with a RIDX index. A 0x400-byte big-endian header
 * (magic "rifa", service id at 0x04) followed by RIFs back to back.
 *
 * Choices where the document is silent: the service id field is 0x14 bytes ("size assumed") of
 * latin1 text up to the first NUL; a RIF slot that does not parse is reported with its offset and
 * the others are still read; a tail shorter than a RIF is a warning.
 */

import { ascii, ByteWriter, bytesEqual, concatBytes, fromAscii, toHex } from '../bytes.js';
import { ParseError } from '../errors.js';
import { parseRif, RIF_SIZE, type Rif, serviceIdOf } from './rif.js';

const LAYER = 'rifa';
export const RIFA_HEADER = 0x400;
export const RIFA_MAGIC = ascii('rifa');
const SERVICE_ID_FIELD = 0x14;

export interface RifaEntry {
  /** byte offset of the RIF inside the RIFA file */
  offset: number;
  rif?: Rif;
  /** why the slot could not be read as a RIF */
  error?: string;
}

export interface Rifa {
  serviceId: string;
  serviceIdField: Uint8Array;
  /** the header's remaining 0x3D8 bytes (zeros in every known file) */
  headerRest: Uint8Array;
  entries: RifaEntry[];
  /** bytes after the last whole RIF */
  trailing: Uint8Array;
  warnings: string[];
}

export function parseRifa(bytes: Uint8Array): Rifa {
  if (bytes.length < RIFA_HEADER)
    throw new ParseError(LAYER, `truncated: the RIFA header is 0x400 bytes, got ${bytes.length}`);
  const magic = bytes.subarray(0, 4);
  if (!bytesEqual(magic, RIFA_MAGIC))
    throw new ParseError(LAYER, `bad magic ${toHex(magic)}, expected 72696661 ("rifa")`);
  const serviceIdField = bytes.slice(4, 4 + SERVICE_ID_FIELD);
  const nul = serviceIdField.indexOf(0);
  const serviceId = fromAscii(serviceIdField.subarray(0, nul < 0 ? SERVICE_ID_FIELD : nul));
  const headerRest = bytes.slice(4 + SERVICE_ID_FIELD, RIFA_HEADER);
  const warnings: string[] = [];
  if (headerRest.some((b) => b !== 0)) warnings.push('header bytes 0x18..0x3ff are not all zero');
  const entries: RifaEntry[] = [];
  let pos = RIFA_HEADER;
  for (; bytes.length - pos >= RIF_SIZE; pos += RIF_SIZE) {
    try {
      const rif = parseRif(bytes, pos);
      entries.push({ offset: pos, rif });
      if (serviceIdOf(rif.contentId) !== serviceId)
        warnings.push(`RIF at 0x${pos.toString(16)} (${rif.contentId}) is not for service ${serviceId}`);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      entries.push({ offset: pos, error: e.message });
      warnings.push(`slot at 0x${pos.toString(16)}: ${e.message}`);
    }
  }
  const trailing = bytes.slice(pos);
  if (trailing.length > 0)
    warnings.push(`${trailing.length} bytes after the last whole RIF (RIFs are 0x400 bytes)`);
  if (entries.length === 0) warnings.push('RIFA holds no RIF');
  return { serviceId, serviceIdField, headerRest, entries, trailing, warnings };
}

/** Builds a RIFA from a service id and encoded RIFs. */
export function encodeRifa(serviceId: string, rifs: readonly Uint8Array[]): Uint8Array {
  if (serviceId.length > SERVICE_ID_FIELD)
    throw new ParseError(LAYER, 'service id is longer than 0x14 bytes');
  if (rifs.some((r) => r.length !== RIF_SIZE)) throw new ParseError(LAYER, 'every RIF must be 0x400 bytes');
  const w = new ByteWriter(RIFA_HEADER + rifs.length * RIF_SIZE).bytes(RIFA_MAGIC).bytes(ascii(serviceId));
  w.zeros(RIFA_HEADER - w.length);
  return concatBytes(w.finish(), ...rifs);
}
