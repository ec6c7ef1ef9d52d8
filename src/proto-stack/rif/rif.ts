/**
 * PS4 Rights Information File (RIF): one 0x400-byte big-endian license record. Only the clear fields
 * are read; the secret stays encrypted (no keys, no decryption).
 *
 * Choices where the document is silent: the content id is latin1 text up to the first NUL in its
 * 0x30-byte field; timestamps are unsigned and shown as ISO dates (UTC) when they fit a date.
 * Observations the document makes ("zeroed if not KDS", version per type, ...) become warnings.
 */
import { createHash } from 'node:crypto';
import { ascii, ByteReader, ByteWriter, bytesEqual, fromAscii, toHex } from '../bytes.js';
import { ParseError } from '../errors.js';

const LAYER = 'rif';
export const RIF_SIZE = 0x400;
export const RIF_MAGIC = Uint8Array.of(0x52, 0x49, 0x46, 0x00); // "RIF\0"
export const NEVER_EXPIRES = 0x7fffffffffffffffn; // INT64_MAX
const CONTENT_ID_FIELD = 0x30;
const CONTENT_ID_LENGTH = 0x24;

export type RifFamily = 'kds' | 'free' | 'disc' | 'debug' | 'other';

interface TypeInfo {
  name: string;
  family: RifFamily;
  platform: string;
  /** allowed version range, when the document gives one */
  versions?: [number, number];
}

/** The document's Type table (hex as the document writes it). Rows without versions continue the
 * row above them. */
export const RIF_TYPES: Record<number, TypeInfo> = Object.fromEntries<TypeInfo>([
  [0x000, { name: 'KDS (NPDRM)', family: 'kds', platform: 'All', versions: [1, 1] }],
  [0x001, { name: 'KDS (NPDRM)', family: 'kds', platform: 'All', versions: [2, 2] }],
  [0x002, { name: 'KDS (NPDRM)', family: 'kds', platform: 'All', versions: [3, 3] }],
  [0x101, { name: 'Isolated ("free")', family: 'free', platform: 'All', versions: [1, 1] }],
  [0x302, { name: 'Isolated ("free")', family: 'free', platform: 'All' }],
  [0x102, { name: 'Disc', family: 'disc', platform: 'All', versions: [1, 1] }],
  [0x200, { name: 'Debug ("fake")', family: 'debug', platform: 'DEX/TEST', versions: [1, 1] }],
  [0x201, { name: 'Debug ("fake")', family: 'debug', platform: 'DEX/TEST' }],
  [0x202, { name: 'Debug ("fake")', family: 'debug', platform: 'DEX/TEST' }],
  [0x303, { name: 'unknown (CEX)', family: 'other', platform: 'CEX', versions: [1, 1] }],
  [0x304, { name: 'unknown (not CEX)', family: 'other', platform: 'not CEX', versions: [1, 1] }],
  [0x305, { name: 'unknown (DEX/TEST)', family: 'other', platform: 'DEX/TEST', versions: [1, 1] }],
]);
export const SKU_NAMES: Record<number, string> = { 0: 'not bootable', 1: 'trial', 3: 'full game' };
/** Same codes as the PKG content type; 0x20 is the PS5 one the document mentions. */
export const CONTENT_TYPE_NAMES: Record<number, string> = Object.fromEntries([
  [0x1a, 'PS4GD'],
  [0x1b, 'PS4AC'],
  [0x20, 'PS5GD'],
]);
export const DRM_TYPE_NAMES: Record<number, string> = Object.fromEntries([
  [0x0f, 'Local (PS4)'],
  [0x10, 'Local (PS5)'],
]);

export interface Rif {
  version: number;
  /** u16 at 0x06: FF FF on fake and disc, 00 02 on KDS */
  unknown06: number;
  /** NP account id; 0 when the license is not bound to an account */
  accountId: bigint;
  startTimestamp: bigint;
  /** startTimestamp as an ISO date, "always" for 0; null when it is not a date */
  startDate: string | null;
  /** NEVER_EXPIRES (INT64_MAX) when there is no expiry */
  endTimestamp: bigint;
  /** endTimestamp as an ISO date, "never" for NEVER_EXPIRES; null when it is not a date */
  endDate: string | null;
  contentId: string;
  /** the whole 0x30-byte field, for a byte-exact re-encode */
  contentIdField: Uint8Array;
  type: number;
  typeName?: string;
  family?: RifFamily;
  drmType: number;
  drmTypeName?: string;
  contentType: number;
  contentTypeName?: string;
  skuFlag: number;
  skuName?: string;
  extraFlags: number;
  unknownFlags: number;
  unknown60: number;
  unknown64: number;
  unknown68: Uint8Array; // 3 bytes
  unknown6B: number;
  unknown6C: number;
  unknown6E: Uint8Array; // 0x1D2 bytes
  discKey: Uint8Array; // 0x20
  secretIv: Uint8Array; // 0x10
  encryptedSecret: Uint8Array; // 0x90
  signature: Uint8Array; // 0x100
  /** the debug fPKG pattern: secret IV = first 16 bytes of SHA-256(content id field) */
  secretIvFromContentId: boolean;
  warnings: string[];
}

const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0);
const pick = <T>(table: Record<number, T>, v: number): T | undefined =>
  Object.hasOwn(table, v) ? table[v] : undefined;

/** Timestamps as ISO dates; undefined when the value cannot be a date. */
export function timestampIso(t: bigint): string | undefined {
  // Date's range is +-8.64e15 ms; larger values are not dates.
  if (t > 8_640_000_000_000n) return undefined;
  return new Date(Number(t) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Start of validity: "always" for 0, else the ISO date; null when the value is not a date. */
export const startDate = (t: bigint): string | null => (t === 0n ? 'always' : (timestampIso(t) ?? null));

/** End of validity: "never" for NEVER_EXPIRES, else the ISO date; null when the value is not a date. */
export const endDate = (t: bigint): string | null =>
  t === NEVER_EXPIRES ? 'never' : (timestampIso(t) ?? null);

/** "2013-11-15T00:00:00Z .. never expires" style validity text. */
export function validityText(r: Pick<Rif, 'startTimestamp' | 'endTimestamp'>): string {
  const start = startDate(r.startTimestamp) ?? `invalid (${r.startTimestamp})`;
  const end = endDate(r.endTimestamp);
  return `${start} .. ${end === 'never' ? 'never expires' : (end ?? `invalid (${r.endTimestamp})`)}`;
}

export const accountText = (id: bigint): string =>
  id === 0n ? 'none' : `0x${id.toString(16).padStart(16, '0')}`;

/** The entitlement label: the part of the content id after its second '-' (e.g. PLAYROOM00000000). */
export const entitlementLabel = (contentId: string): string => contentId.split('-').slice(2).join('-');
/** The service id: the content id up to its second '-' (e.g. IP9100-CUSA00001_00). */
export const serviceIdOf = (contentId: string): string => contentId.split('-').slice(0, 2).join('-');

const CONTENT_ID_RE = /^[A-Z]{2}\d{4}-[A-Z]{4}\d{5}_\d{2}-[A-Z0-9]{16}$/;

/** Parses one RIF at `offset` (default 0). Input shorter than 0x400 bytes or a wrong magic throw. */
export function parseRif(bytes: Uint8Array, offset = 0): Rif {
  if (bytes.length - offset < RIF_SIZE)
    throw new ParseError(
      LAYER,
      `truncated: a RIF is 0x400 bytes, ${Math.max(0, bytes.length - offset)} available at offset ${offset}`,
    );
  const r = new ByteReader(bytes.subarray(offset, offset + RIF_SIZE), LAYER);
  const magic = r.bytes(4, 'magic');
  if (!bytesEqual(magic, RIF_MAGIC))
    throw new ParseError(
      LAYER,
      `bad magic ${toHex(magic)} at offset ${offset}, expected 52494600 ("RIF\\0")`,
    );
  const version = r.u16();
  const unknown06 = r.u16();
  const accountId = r.u64();
  const startTimestamp = r.u64();
  const endTimestamp = r.u64();
  const contentIdField = r.bytes(CONTENT_ID_FIELD).slice();
  const type = r.u16();
  const drmType = r.u16();
  const contentType = r.u16();
  const skuFlag = r.u16();
  const extraFlags = r.u32();
  const unknownFlags = r.u32();
  const unknown60 = r.u32();
  const unknown64 = r.u32();
  const unknown68 = r.bytes(3).slice();
  const unknown6B = r.u8();
  const unknown6C = r.u16();
  const unknown6E = r.bytes(0x1d2).slice();
  const discKey = r.bytes(0x20).slice();
  const secretIv = r.bytes(0x10).slice();
  const encryptedSecret = r.bytes(0x90).slice();
  const signature = r.bytes(0x100).slice();

  const nul = contentIdField.indexOf(0);
  const contentId = fromAscii(contentIdField.subarray(0, nul < 0 ? CONTENT_ID_FIELD : nul));
  const t = pick(RIF_TYPES, type);
  const hash = createHash('sha256').update(contentIdField).digest();
  const rif: Rif = {
    version,
    unknown06,
    accountId,
    startTimestamp,
    startDate: startDate(startTimestamp),
    endTimestamp,
    endDate: endDate(endTimestamp),
    contentId,
    contentIdField,
    type,
    typeName: t?.name,
    family: t?.family,
    drmType,
    drmTypeName: pick(DRM_TYPE_NAMES, drmType),
    contentType,
    contentTypeName: pick(CONTENT_TYPE_NAMES, contentType),
    skuFlag,
    skuName: pick(SKU_NAMES, skuFlag),
    extraFlags,
    unknownFlags,
    unknown60,
    unknown64,
    unknown68,
    unknown6B,
    unknown6C,
    unknown6E,
    discKey,
    secretIv,
    encryptedSecret,
    signature,
    secretIvFromContentId: bytesEqual(secretIv, hash.subarray(0, 16)),
    warnings: [],
  };
  rif.warnings = rifWarnings(rif);
  return rif;
}

const typeHex = (v: number): string => `0x${v.toString(16).padStart(3, '0')}`;

function rifWarnings(r: Rif): string[] {
  const w: string[] = [];
  const t = pick(RIF_TYPES, r.type);
  if (!t) w.push(`type ${typeHex(r.type)} is not in the document's type table`);
  else if (t.versions && (r.version < t.versions[0] || r.version > t.versions[1]))
    w.push(
      `version ${r.version} does not fit type ${typeHex(r.type)} (${t.name}), which the document gives version ${t.versions[0]}`,
    );
  if (r.contentTypeName === undefined)
    w.push(`content type 0x${r.contentType.toString(16)} is unknown (PS4GD 0x1a, PS4AC 0x1b)`);
  if (r.skuName === undefined)
    w.push(`SKU flag ${r.skuFlag} is unknown (0 not bootable, 1 trial, 3 full game)`);
  if (r.drmTypeName === undefined) w.push(`DRM type 0x${r.drmType.toString(16)} is unknown (0x0f Local PS4)`);
  if (!CONTENT_ID_RE.test(r.contentId))
    w.push(
      `content id ${JSON.stringify(r.contentId)} does not look like XX0000-XXXX00000_00-LABEL16CHARACTERS`,
    );
  if (!isZero(r.contentIdField.subarray(Math.max(r.contentId.length, CONTENT_ID_LENGTH))))
    w.push('bytes after the content id (0x24 of 0x30) are not zero');
  if (r.family === 'kds' && r.accountId === 0n) w.push('KDS license with no account id');
  if (r.family && r.family !== 'kds' && r.accountId !== 0n)
    w.push(
      `${t?.name} license carries account id ${accountText(r.accountId)} (the document: zeroed if not KDS)`,
    );
  if (r.family === 'debug' && r.startTimestamp !== 0n)
    w.push('debug ("fake") license with a start timestamp (the document: zeroed on fake)');
  if (r.endTimestamp > NEVER_EXPIRES)
    w.push(`end timestamp 0x${r.endTimestamp.toString(16)} is negative as int64`);
  else if (r.endTimestamp !== NEVER_EXPIRES && timestampIso(r.endTimestamp) === undefined)
    w.push(`end timestamp ${r.endTimestamp} is not a date`);
  if (timestampIso(r.startTimestamp) === undefined)
    w.push(`start timestamp ${r.startTimestamp} is not a date`);
  if (r.endTimestamp < r.startTimestamp) w.push('end timestamp is before the start timestamp');
  if ((r.family === 'kds' || r.family === 'debug') && !isZero(r.discKey))
    w.push(`${t?.name} license has a disc key (the document: zeroed on demo, debug and KDS)`);
  if (r.family === 'disc' && isZero(r.discKey)) w.push('disc license with an all-zero disc key');
  if (isZero(r.signature)) w.push('signature is all zeros');
  return w;
}

/** Fields encodeRif needs; everything not given is zero. */
export type RifInput = Partial<
  Omit<Rif, 'contentId' | 'contentIdField' | 'warnings' | 'startDate' | 'endDate'>
> & {
  contentId?: string;
  contentIdField?: Uint8Array;
};

/** Encodes a RIF (0x400 bytes). `contentIdField` wins over `contentId` so parse/encode is byte-exact. */
export function encodeRif(f: RifInput): Uint8Array {
  const fixed = (b: Uint8Array | undefined, n: number, what: string): Uint8Array => {
    if (b === undefined) return new Uint8Array(n);
    if (b.length !== n) throw new ParseError(LAYER, `${what} must be ${n} bytes, got ${b.length}`);
    return b;
  };
  let cid = f.contentIdField;
  if (!cid) {
    const text = f.contentId ?? '';
    if (text.length > CONTENT_ID_FIELD) throw new ParseError(LAYER, 'content id is longer than 0x30 bytes');
    cid = new Uint8Array(CONTENT_ID_FIELD);
    cid.set(ascii(text));
  }
  const w = new ByteWriter(RIF_SIZE)
    .bytes(RIF_MAGIC)
    .u16(f.version ?? 1)
    .u16(f.unknown06 ?? 0)
    .u64(f.accountId ?? 0n)
    .u64(f.startTimestamp ?? 0n)
    .u64(f.endTimestamp ?? NEVER_EXPIRES)
    .bytes(fixed(cid, CONTENT_ID_FIELD, 'content id field'))
    .u16(f.type ?? 0)
    .u16(f.drmType ?? 0x0f)
    .u16(f.contentType ?? 0x1a)
    .u16(f.skuFlag ?? 0)
    .u32(f.extraFlags ?? 0)
    .u32(f.unknownFlags ?? 0)
    .u32(f.unknown60 ?? 0)
    .u32(f.unknown64 ?? 0)
    .bytes(fixed(f.unknown68, 3, 'unknown68'))
    .u8(f.unknown6B ?? 0)
    .u16(f.unknown6C ?? 0)
    .bytes(fixed(f.unknown6E, 0x1d2, 'unknown6E'))
    .bytes(fixed(f.discKey, 0x20, 'disc key'))
    .bytes(fixed(f.secretIv, 0x10, 'secret IV'))
    .bytes(fixed(f.encryptedSecret, 0x90, 'encrypted secret'))
    .bytes(fixed(f.signature, 0x100, 'signature'));
  return w.finish();
}
