/**
 * RIDX ("xdir"): the little-endian index of a RIFA file. A 0x20-byte header (entries count, version,
 * service id) then entries of 0x30 bytes: entitlement label, RIF offset and size in the RIFA, two
 * unknown bytes, the first 8 bytes of a per-console HMAC-SHA256 of the RIF (not checkable here:
 * the key never leaves the console), six unknown bytes.
 *
 * Choices where the document is silent: labels and the service id are latin1 text up to the first
 * NUL; bytes after the last entry are a warning; crossCheck() compares an index with its RIFA.
 */

import { ascii, ByteReader, ByteWriter, bytesEqual, fromAscii, toHex } from '../bytes.js';
import { ParseError } from '../errors.js';
import { entitlementLabel, RIF_SIZE } from './rif.js';
import { RIFA_HEADER, type Rifa } from './rifa.js';

const LAYER = 'ridx';
export const RIDX_MAGIC = ascii('xdir');
export const RIDX_HEADER = 0x20;
export const RIDX_ENTRY = 0x30;

export interface RidxEntry {
  label: string;
  labelField: Uint8Array; // 16 bytes
  rifOffset: bigint;
  rifSize: bigint;
  unknown20: number;
  unknown21: number;
  digest: Uint8Array; // 8 bytes
  unknown2A: Uint8Array; // 6 bytes
}

export interface Ridx {
  version: number;
  serviceId: string;
  serviceIdField: Uint8Array; // 0x13 bytes
  unknown1C: number;
  entries: RidxEntry[];
  trailing: Uint8Array;
  warnings: string[];
}

const swap64 = (v: bigint): bigint => {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setBigUint64(0, v, true);
  return dv.getBigUint64(0);
};

const text = (b: Uint8Array): string => {
  const nul = b.indexOf(0);
  return fromAscii(nul < 0 ? b : b.subarray(0, nul));
};

export function parseRidx(bytes: Uint8Array): Ridx {
  const r = new ByteReader(bytes, LAYER);
  const magic = r.bytes(4, 'magic');
  if (!bytesEqual(magic, RIDX_MAGIC))
    throw new ParseError(LAYER, `bad magic ${toHex(magic)}, expected 78646972 ("xdir")`);
  const count = r.u32le('entries count');
  const need = RIDX_HEADER + count * RIDX_ENTRY;
  if (bytes.length < need)
    throw new ParseError(
      LAYER,
      `truncated: ${count} entries need ${need} bytes, the file has ${bytes.length}`,
      count > 0xffff ? { hint: 'the count field is read little-endian; this may not be a RIF index' } : {},
    );
  const version = r.u8('version');
  const serviceIdField = r.bytes(0x13, 'service id').slice();
  const unknown1C = r.u32le();
  const entries: RidxEntry[] = [];
  for (let i = 0; i < count; i++) {
    const labelField = r.bytes(16, 'label').slice();
    entries.push({
      label: text(labelField),
      labelField,
      rifOffset: r.u64le('RIF offset'),
      rifSize: r.u64le('RIF size'),
      unknown20: r.u8(),
      unknown21: r.u8(),
      digest: r.bytes(8, 'digest').slice(),
      unknown2A: r.bytes(6).slice(),
    });
  }
  const trailing = r.rest().slice();
  const warnings: string[] = [];
  if (version !== 1) warnings.push(`version ${version}, the document knows 1`);
  if (trailing.length > 0) warnings.push(`${trailing.length} bytes after the last of ${count} entries`);
  return { version, serviceId: text(serviceIdField), serviceIdField, unknown1C, entries, trailing, warnings };
}

export type RidxEntryInput = Partial<Omit<RidxEntry, 'label' | 'labelField'>> & { label: string };

/** Builds a RIDX file (the inverse of parseRidx for files without trailing bytes). */
export function encodeRidx(f: {
  serviceId: string;
  version?: number;
  unknown1C?: number;
  entries: readonly RidxEntryInput[];
}): Uint8Array {
  const field = (s: string, n: number, what: string): Uint8Array => {
    if (s.length > n) throw new ParseError(LAYER, `${what} is longer than ${n} bytes`);
    const b = new Uint8Array(n);
    b.set(ascii(s));
    return b;
  };
  const w = new ByteWriter(RIDX_HEADER + f.entries.length * RIDX_ENTRY)
    .bytes(RIDX_MAGIC)
    .u32le(f.entries.length)
    .u8(f.version ?? 1)
    .bytes(field(f.serviceId, 0x13, 'service id'))
    .u32le(f.unknown1C ?? 0);
  for (const e of f.entries) {
    const digest = e.digest ?? new Uint8Array(8);
    const rest = e.unknown2A ?? new Uint8Array(6);
    if (digest.length !== 8 || rest.length !== 6)
      throw new ParseError(LAYER, 'digest is 8 bytes, unknown2A 6');
    w.bytes(field(e.label, 16, 'label'))
      .u64le(e.rifOffset ?? 0n)
      .u64le(e.rifSize ?? BigInt(RIF_SIZE))
      .u8(e.unknown20 ?? 1)
      .u8(e.unknown21 ?? 0)
      .bytes(digest)
      .bytes(rest);
  }
  return w.finish();
}

/**
 * Cross-checks an index against its RIFA (`rifaLength` = the RIFA file size): service ids, every
 * entry's offset, size and label, and RIFs no entry points at. Returns one warning per mismatch.
 */
export function crossCheck(ridx: Ridx, rifa: Rifa, rifaLength: number): string[] {
  const w: string[] = [];
  if (ridx.serviceId !== rifa.serviceId)
    w.push(`service id: index says ${ridx.serviceId}, RIFA says ${rifa.serviceId}`);
  const byOffset = new Map(rifa.entries.map((e) => [BigInt(e.offset), e]));
  const used = new Set<bigint>();
  ridx.entries.forEach((e, i) => {
    const at = `entry ${i} (${e.label})`;
    const off = `0x${e.rifOffset.toString(16)}`;
    if (e.rifSize !== BigInt(RIF_SIZE)) w.push(`${at}: RIF size 0x${e.rifSize.toString(16)}, a RIF is 0x400`);
    if (e.rifOffset < BigInt(RIFA_HEADER)) {
      w.push(`${at}: offset ${off} points into the RIFA header`);
      return;
    }
    if (e.rifOffset + e.rifSize > BigInt(rifaLength)) {
      const swapped = swap64(e.rifOffset);
      const hint =
        swapped >= BigInt(RIFA_HEADER) && swapped < BigInt(rifaLength)
          ? `; read big-endian the offset would be 0x${swapped.toString(16)} (the document says little-endian)`
          : '';
      w.push(
        `${at}: offset ${off} + size 0x${e.rifSize.toString(16)} runs past the RIFA end (0x${rifaLength.toString(16)})${hint}`,
      );
      return;
    }
    const slot = byOffset.get(e.rifOffset);
    if (!slot) {
      w.push(`${at}: offset ${off} is not on a RIF boundary (0x400 + n * 0x400)`);
      return;
    }
    if (used.has(e.rifOffset)) w.push(`${at}: offset ${off} is indexed twice`);
    used.add(e.rifOffset);
    if (!slot.rif) {
      w.push(`${at}: the RIF at ${off} does not parse`);
      return;
    }
    const label = entitlementLabel(slot.rif.contentId);
    if (label !== e.label) w.push(`${at}: label does not match the RIF at ${off} (${slot.rif.contentId})`);
  });
  for (const s of rifa.entries)
    if (!used.has(BigInt(s.offset)))
      w.push(`RIF at 0x${s.offset.toString(16)}${s.rif ? ` (${s.rif.contentId})` : ''} has no index entry`);
  return w;
}
