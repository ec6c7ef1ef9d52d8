/**
 * PCoIP management channel (MGMT) codec: a message is a 64-bit size (bytes after the header) then
 * chunks of `u32 tag (FourCC), u32 size, data`. The first chunk is always `ssig` (the purpose).
 *
 * Choices where the document is silent (the decoder warns when input does not fit them):
 *  - every integer (header size, chunk size, integer chunk values) is big-endian (network order);
 *  - a FourCC tag is its four ASCII characters in reading order ("ssig" = 73 73 69 67);
 *  - `menc` ("var" length) is one u32 code when 4 bytes long, otherwise a list of one-byte codes;
 *  - `kmps` (4 bytes, "max size (x,y)") is two u16 values, x first;
 *  - `cipa` and `ctag` are text (trailing NULs ignored);
 *  - 4-byte booleans are u32 0/1; anything else decodes as true with a warning.
 * Chunks keep their raw data, so encode(decode(bytes)) reproduces the input byte for byte, including
 * unknown chunks and known chunks whose data does not fit the table.
 */

import { ascii, ByteWriter, fromAscii, fromHex, toHex, view } from '../bytes.js';
import { ParseError } from '../errors.js';

const LAYER = 'pcoip-mgmt';
const HEADER = 8;
const CHUNK_HEADER = 8;

type ValueType =
  | 'u32' // integer
  | 'id32' // u32 identifier (SPI, PRI address), shown in hex
  | 'u16'
  | 'enum' // u32 with names
  | 'bool32'
  | 'bool8'
  | 'bytes' // keys, salts: shown as hex
  | 'text'
  | 'mac'
  | 'list' // array of one-byte codes, with names
  | 'records3' // array of 3-byte records
  | 'menc' // media encoding, named after the preceding mtyp
  | 'xy16';

interface ChunkDef {
  name: string;
  type: ValueType;
  /** exact length in bytes, or {max} for "<= n", or undefined for "var"/"?" */
  len?: number | { max: number };
  names?: Record<number, string>;
  /** media type (mtyp value) the chunk belongs to; undefined for general chunks */
  media?: number;
}

export const SSIG_NAMES: Record<number, string> = {
  0: 'Invite',
  1: 'Invite Ok',
  2: 'Not Acceptable',
  3: 'Ack',
  4: 'Bye',
  5: 'Bye Ok',
  6: 'Ping',
  7: 'Pong',
};
export const PSEC_NAMES: Record<number, string> = {
  0: 'NULL',
  1: 'AES-128-GCM',
  2: 'AES-256-GCM',
  3: 'Salsa20-256-round12',
};
export const MEDIA_TYPE = { usb: 0, audio: 1, video: 2, ddc: 3, kmp: 4, vchan: 5 } as const;
export const MTYP_NAMES: Record<number, string> = {
  0: 'USB',
  1: 'Audio',
  2: 'Video',
  3: 'DDC',
  4: 'KMP',
  5: 'VChan',
};
/** Media encodings per media type; DDC, KMP and VChan always use 0. */
export const MENC_NAMES: Record<number, Record<number, string>> = {
  0: { 0: 'OHCI', 1: 'EHCI', 3: 'URB' },
  1: {
    1: 'ADPCM 48000 Hz stereo',
    2: 'ADPCM 8000 Hz mono',
    3: 'ADPCM 16000 Hz mono',
    4: 'PCM 16-bit LE 48000 Hz stereo',
    5: 'PCM 16-bit LE 48000 Hz mono',
  },
  2: { 0: 'Video 1', 1: 'Video 2', 2: 'Video 3' },
  3: { 0: 'default' },
  4: { 0: 'default' },
  5: { 0: 'default' },
};

const { usb, audio, video, ddc, kmp, vchan } = MEDIA_TYPE;

/** The FourCC tables of the document. */
export const CHUNKS: Record<string, ChunkDef> = {
  ssig: { name: 'Purpose', type: 'enum', len: 4, names: SSIG_NAMES },
  byec: { name: 'Bye reason', type: 'u32', len: 4 },
  psec: { name: 'Security type', type: 'enum', len: 4, names: PSEC_NAMES },
  '1key': { name: 'AES-128 key', type: 'bytes', len: 16 },
  '1slt': { name: 'AES-128 salt', type: 'bytes', len: 4 },
  '1spi': { name: 'AES-128 SPI', type: 'id32', len: 4 },
  '2key': { name: 'AES-256 key', type: 'bytes', len: 32 },
  '2slt': { name: 'AES-256 salt', type: 'bytes', len: 4 },
  '2spi': { name: 'AES-256 SPI', type: 'id32', len: 4 },
  s12k: { name: 'Salsa20-256-round12 key', type: 'bytes', len: 32 },
  s12s: { name: 'Salsa20-256-round12 salt', type: 'bytes', len: 4 },
  s12t: { name: 'Salsa20-256-round12 SPI', type: 'id32', len: 4 },
  cipa: { name: 'Connection IP address', type: 'text', len: { max: 255 } },
  cmac: { name: 'Connection MAC address', type: 'mac', len: 6 },
  cpri: { name: 'Connection PRI address', type: 'id32', len: 4 },
  ctag: { name: 'Connection tag', type: 'text', len: { max: 127 } },
  cprt: { name: 'Connection port', type: 'u16', len: 2 },
  pca1: { name: 'AES-128-GCM key', type: 'bytes', len: 32 },
  pca2: { name: 'AES-256-GCM key', type: 'bytes', len: 48 },
  pcs2: { name: 'Salsa20-256-round12 key', type: 'bytes', len: 48 },
  penc: {
    name: 'PCoIP encoding',
    type: 'list',
    len: { max: 64 },
    names: { 0: 'pcoip_data_1', 1: 'pcoip_data_2' },
  },
  pcap: {
    name: 'PCoIP encapsulation',
    type: 'list',
    len: { max: 64 },
    names: { 0: 'IP', 1: 'UDP', 2: 'TCP' },
  },
  pclr: { name: 'Cleartext transport header supported', type: 'bool8', len: 1 },
  psak: { name: 'Selective ACK supported', type: 'bool8', len: 1 },
  plnk: { name: 'PCoIP link rate (bit/s)', type: 'u32', len: 4 },
  pmtu: { name: 'MTU size', type: 'u32', len: 4 },
  pprf: { name: 'PCoIP packet preference', type: 'records3', len: { max: 96 } },
  mtyp: { name: 'Media type', type: 'enum', len: 4, names: MTYP_NAMES },
  menc: { name: 'Media encoding', type: 'menc' },
  menb: { name: 'Media boolean', type: 'bool32', len: 4 },
  usbb: { name: 'USB client parameter version', type: 'u32', len: 4, media: usb },
  usbp: { name: 'USB plugin version', type: 'u32', len: 4, media: usb },
  usbc: { name: 'USB number of channels', type: 'u32', len: 4, media: usb },
  audf: { name: 'Audio FEC mode', type: 'list', len: { max: 100 }, names: { 0: 'FEC Mode 1' }, media: audio },
  audi: { name: 'Audio input', type: 'bool32', len: 4, media: audio },
  audy: { name: 'Audio standby mode', type: 'u32', len: 4, media: audio },
  vidt: { name: 'Video topology caching', type: 'bool32', len: 4, media: video },
  vidn: { name: 'Video max number of displays', type: 'u32', len: 4, media: video },
  vidv: { name: 'Video vertical extended motion', type: 'bool32', len: 4, media: video },
  vidh: { name: 'Video horizontal extended motion', type: 'bool32', len: 4, media: video },
  vidp: { name: 'Video SACK', type: 'bool32', len: 4, media: video },
  vidl: { name: 'Video (deprecated)', type: 'bytes', media: video },
  vidb: { name: 'Video image cache size', type: 'u32', len: 4, media: video },
  vidu: { name: 'Video user config', type: 'bool32', len: 4, media: video },
  vidy: { name: 'Video standby mode', type: 'bool32', len: 4, media: video },
  vidm: { name: 'Video monitor power saving', type: 'bool32', len: 4, media: video },
  vidC: { name: 'Video (meaning unknown)', type: 'u32', len: 4, media: video },
  viCA: { name: 'Video (meaning unknown)', type: 'u32', len: 4, media: video },
  ddce: { name: 'DDC asynchronous EDID update', type: 'bool32', len: 4, media: ddc },
  kmpa: {
    name: 'KMP auto repeat modes',
    type: 'list',
    len: { max: 100 },
    names: { 0: 'client auto repeat' },
    media: kmp,
  },
  kmpb: {
    name: 'KMP pointer shape bitmap types',
    type: 'list',
    len: { max: 100 },
    names: {
      0: 'alpha',
      1: 'color',
      2: 'xor',
      3: 'compressed alpha',
      4: 'compressed color',
      5: 'compressed xor',
    },
    media: kmp,
  },
  kmpc: { name: 'KMP pointer shape caches', type: 'u32', len: 4, media: kmp },
  kmpx: { name: 'KMP pointer shape cache size', type: 'u32', len: 4, media: kmp },
  kmps: { name: 'KMP pointer shape max size', type: 'xy16', len: 4, media: kmp },
  kmpf: { name: 'KMP pointer fadeout', type: 'bool32', len: 4, media: kmp },
  kmpl: { name: 'KMP multiple locale', type: 'bool32', len: 4, media: kmp },
  kmpu: { name: 'KMP unicode key', type: 'bool32', len: 4, media: kmp },
  kmpk: { name: 'KMP key block', type: 'bool32', len: 4, media: kmp },
  vchc: { name: 'VChan number of channels', type: 'u32', len: 4, media: vchan },
  vchs: { name: 'VChan buffer size', type: 'u32', len: 4, media: vchan },
};

/** A decoded chunk value. `text` is the one-line rendering the CLI prints. */
export type MgmtValue =
  | { kind: 'int'; value: number; name?: string; text: string }
  | { kind: 'bool'; value: boolean; text: string }
  | { kind: 'bytes'; hex: string; text: string }
  | { kind: 'text'; value: string; text: string }
  | { kind: 'list'; values: number[]; names: (string | undefined)[]; text: string }
  | { kind: 'records'; records: string[]; text: string }
  | { kind: 'xy'; x: number; y: number; text: string };

export interface MgmtChunk {
  /** FourCC, four characters (latin1, so any byte value round-trips) */
  tag: string;
  /** the chunk data exactly as on the wire */
  data: Uint8Array;
  /** table name; undefined for unknown chunks */
  name?: string;
  /** typed value; undefined for unknown chunks and known chunks whose data does not fit the table */
  value?: MgmtValue;
}

export interface MgmtMessage {
  chunks: MgmtChunk[];
  /** ssig value when the first chunk is a well-formed ssig */
  purpose?: number;
  purposeName?: string;
  /** things in the input that do not fit the document or the byte-order choices above */
  warnings: string[];
}

const named = (names: Record<number, string> | undefined, v: number): string | undefined =>
  names && Object.hasOwn(names, v) ? names[v] : undefined;
const withName = (v: number, name: string | undefined): string =>
  name === undefined ? `${v} (unknown value)` : `${name} (${v})`;

function printable(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

/** Decodes one chunk's data with the table; returns the value and any warnings. */
function decodeValue(
  tag: string,
  def: ChunkDef,
  data: Uint8Array,
  mediaType: number | undefined,
): { value?: MgmtValue; warnings: string[] } {
  const w: string[] = [];
  if (typeof def.len === 'number' && data.length !== def.len) {
    w.push(`chunk ${tag}: ${data.length} bytes, the document says ${def.len}; kept raw`);
    return { warnings: w };
  }
  if (typeof def.len === 'object' && data.length > def.len.max) {
    w.push(`chunk ${tag}: ${data.length} bytes, the document allows at most ${def.len.max}`);
  }
  if (def.media !== undefined && mediaType !== def.media) {
    const where =
      mediaType === undefined
        ? 'before any mtyp chunk'
        : `in a ${MTYP_NAMES[mediaType] ?? mediaType} section`;
    w.push(`chunk ${tag} belongs to ${MTYP_NAMES[def.media]} media but appears ${where}`);
  }
  const dv = view(data);
  switch (def.type) {
    case 'u32': {
      const v = dv.getUint32(0);
      return { value: { kind: 'int', value: v, text: String(v) }, warnings: w };
    }
    case 'id32': {
      const v = dv.getUint32(0);
      return { value: { kind: 'int', value: v, text: `0x${v.toString(16).padStart(8, '0')}` }, warnings: w };
    }
    case 'u16': {
      const v = dv.getUint16(0);
      return { value: { kind: 'int', value: v, text: String(v) }, warnings: w };
    }
    case 'enum': {
      const v = dv.getUint32(0);
      const name = named(def.names, v);
      if (name === undefined) w.push(`chunk ${tag}: value ${v} is not in the document's table`);
      return { value: { kind: 'int', value: v, name, text: withName(v, name) }, warnings: w };
    }
    case 'bool32':
    case 'bool8': {
      const v = def.type === 'bool8' ? dv.getUint8(0) : dv.getUint32(0);
      if (v > 1) w.push(`chunk ${tag}: boolean holds ${v}, read as true`);
      return { value: { kind: 'bool', value: v !== 0, text: v !== 0 ? 'true' : 'false' }, warnings: w };
    }
    case 'bytes': {
      const hex = toHex(data);
      return { value: { kind: 'bytes', hex, text: hex === '' ? '(empty)' : hex }, warnings: w };
    }
    case 'text': {
      const s = fromAscii(data).replace(/\0+$/, '');
      if (!printable(s)) {
        w.push(`chunk ${tag}: not printable text; shown as hex`);
        const hex = toHex(data);
        return { value: { kind: 'bytes', hex, text: hex }, warnings: w };
      }
      return { value: { kind: 'text', value: s, text: JSON.stringify(s) }, warnings: w };
    }
    case 'mac': {
      const s = Array.from(data, (b) => b.toString(16).padStart(2, '0')).join(':');
      return { value: { kind: 'text', value: s, text: s }, warnings: w };
    }
    case 'list':
      return { value: listValue(Array.from(data), def.names), warnings: w };
    case 'records3': {
      if (data.length % 3 !== 0) {
        w.push(`chunk ${tag}: ${data.length} bytes is not a whole number of 3-byte records; kept raw`);
        return { warnings: w };
      }
      const records: string[] = [];
      for (let i = 0; i < data.length; i += 3) records.push(toHex(data.subarray(i, i + 3)));
      return { value: { kind: 'records', records, text: records.join(' ') || '(none)' }, warnings: w };
    }
    case 'xy16': {
      const x = dv.getUint16(0);
      const y = dv.getUint16(2);
      return { value: { kind: 'xy', x, y, text: `${x} x ${y}` }, warnings: w };
    }
    case 'menc': {
      const names = mediaType === undefined ? undefined : MENC_NAMES[mediaType];
      if (mediaType === undefined) w.push(`chunk ${tag} appears before any mtyp chunk`);
      if (data.length === 4) {
        const v = dv.getUint32(0);
        const name = named(names, v);
        if (names && name === undefined)
          w.push(`chunk ${tag}: encoding ${v} is not in the document's table for ${MTYP_NAMES[mediaType!]}`);
        return { value: { kind: 'int', value: v, name, text: withName(v, name) }, warnings: w };
      }
      return { value: listValue(Array.from(data), names), warnings: w };
    }
  }
}

function listValue(values: number[], names: Record<number, string> | undefined): MgmtValue {
  const n = values.map((v) => named(names, v));
  const text = values.length === 0 ? '(none)' : values.map((v, i) => withName(v, n[i])).join(', ');
  return { kind: 'list', values, names: n, text };
}

/**
 * Decodes the chunks of one message body (the bytes after the 8-byte header). Unknown tags are kept
 * raw; a chunk whose size runs past the end of the body is a ParseError.
 */
function decodeBody(body: Uint8Array, base: number): MgmtMessage {
  const chunks: MgmtChunk[] = [];
  const warnings: string[] = [];
  const dv = view(body);
  let mediaType: number | undefined;
  let pos = 0;
  while (pos < body.length) {
    const at = base + pos;
    if (body.length - pos < CHUNK_HEADER)
      throw new ParseError(
        LAYER,
        `truncated chunk header at offset ${at}: ${body.length - pos} bytes left, need 8`,
      );
    const tag = fromAscii(body.subarray(pos, pos + 4));
    const size = dv.getUint32(pos + 4);
    const avail = body.length - pos - CHUNK_HEADER;
    if (size > avail) {
      const le = dv.getUint32(pos + 4, true);
      throw new ParseError(
        LAYER,
        `chunk ${JSON.stringify(tag)} at offset ${at} says ${size} bytes but only ${avail} are left in the message`,
        le <= avail
          ? { hint: `read little-endian the size would be ${le}; this decoder reads sizes big-endian` }
          : {},
      );
    }
    const data = body.slice(pos + CHUNK_HEADER, pos + CHUNK_HEADER + size);
    pos += CHUNK_HEADER + size;
    if (!printable(tag)) warnings.push(`chunk at offset ${at}: tag ${toHex(ascii(tag))} is not a FourCC`);
    const def = Object.hasOwn(CHUNKS, tag) ? CHUNKS[tag] : undefined;
    if (!def) {
      chunks.push({ tag, data });
      continue;
    }
    const { value, warnings: w } = decodeValue(tag, def, data, mediaType);
    warnings.push(...w);
    if (tag === 'mtyp' && value?.kind === 'int') mediaType = value.value;
    chunks.push({ tag, data, name: def.name, value });
  }
  const msg: MgmtMessage = { chunks, warnings };
  const first = chunks[0];
  if (!first) warnings.push('message has no chunks; the document says the first chunk is always ssig');
  else if (first.tag !== 'ssig')
    warnings.push(`first chunk is ${JSON.stringify(first.tag)}, the document says ssig`);
  else if (first.value?.kind === 'int') {
    msg.purpose = first.value.value;
    msg.purposeName = first.value.name;
  }
  if (chunks.filter((c) => c.tag === 'ssig').length > 1) warnings.push('more than one ssig chunk');
  return msg;
}

export interface DecodedMgmt extends MgmtMessage {
  /** total bytes the message occupied, header included */
  length: number;
}

/**
 * Decodes the MGMT message that starts at `offset` in `bytes` (offsets in messages count from the
 * start of `bytes`). Bytes after the message are left for the caller (see decodeMgmtStream); a
 * header size beyond the input is a ParseError.
 */
export function decodeMgmt(bytes: Uint8Array, offset = 0): DecodedMgmt {
  const left = bytes.length - offset;
  if (left < HEADER)
    throw new ParseError(LAYER, `truncated header at offset ${offset}: ${left} bytes, need 8`);
  const dv = view(bytes);
  const size = dv.getBigUint64(offset);
  const avail = BigInt(left - HEADER);
  if (size > avail) {
    const le = dv.getBigUint64(offset, true);
    throw new ParseError(
      LAYER,
      `header at offset ${offset} says ${size} bytes follow but only ${avail} do`,
      le <= avail
        ? { hint: `read little-endian the size would be ${le}; this decoder reads the header big-endian` }
        : { hint: 'the capture may be cut short, or this is not a MGMT message' },
    );
  }
  const n = Number(size);
  const start = offset + HEADER;
  const msg = decodeBody(bytes.subarray(start, start + n), start);
  return { ...msg, length: HEADER + n };
}

/** Decodes back-to-back MGMT messages until the input is used up. */
export function decodeMgmtStream(bytes: Uint8Array): DecodedMgmt[] {
  if (bytes.length === 0) throw new ParseError(LAYER, 'empty input');
  const out: DecodedMgmt[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const m = decodeMgmt(bytes, pos);
    out.push(m);
    pos += m.length;
  }
  return out;
}

/** Encodes chunks into one MGMT message (header + chunks), each chunk's data as given. */
export function encodeMgmt(chunks: readonly Pick<MgmtChunk, 'tag' | 'data'>[]): Uint8Array {
  const w = new ByteWriter(HEADER + chunks.reduce((n, c) => n + CHUNK_HEADER + c.data.length, 0));
  w.u64(0n);
  for (const c of chunks) {
    if (c.tag.length !== 4) throw new ParseError(LAYER, `tag ${JSON.stringify(c.tag)} is not 4 characters`);
    w.bytes(ascii(c.tag)).u32(c.data.length).bytes(c.data);
  }
  const out = w.finish();
  view(out).setBigUint64(0, BigInt(out.length - HEADER));
  return out;
}

/** Typed input for mgmtChunk(): numbers for integer/enum chunks, booleans, hex for key/salt bytes,
 * strings for text chunks, arrays of codes for list chunks, [x, y] for kmps, hex records for pprf. */
export type MgmtInput = number | boolean | string | number[] | [number, number] | Uint8Array;

/** Builds a known chunk from a typed value, using the table's encoding (the inverse of decode). */
export function mgmtChunk(tag: string, input: MgmtInput): MgmtChunk {
  const def = Object.hasOwn(CHUNKS, tag) ? CHUNKS[tag] : undefined;
  if (!def) throw new ParseError(LAYER, `unknown chunk ${JSON.stringify(tag)}; use raw data for it`);
  const w = new ByteWriter(8);
  const bad = (): never => {
    throw new ParseError(LAYER, `chunk ${tag} (${def.type}) cannot hold ${JSON.stringify(input)}`);
  };
  switch (def.type) {
    case 'u32':
    case 'id32':
    case 'enum':
      if (typeof input !== 'number') bad();
      w.u32(input as number);
      break;
    case 'u16':
      if (typeof input !== 'number') bad();
      w.u16(input as number);
      break;
    case 'bool32':
      if (typeof input !== 'boolean') bad();
      w.u32(input ? 1 : 0);
      break;
    case 'bool8':
      if (typeof input !== 'boolean') bad();
      w.u8(input ? 1 : 0);
      break;
    case 'bytes':
    case 'records3':
      if (input instanceof Uint8Array) w.bytes(input);
      else if (typeof input === 'string' && /^([0-9a-f]{2})*$/i.test(input)) w.bytes(fromHex(input));
      else bad();
      break;
    case 'text':
      if (typeof input !== 'string') bad();
      w.bytes(ascii(input as string));
      break;
    case 'mac':
      if (typeof input !== 'string' || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(input)) bad();
      w.bytes(fromHex((input as string).replaceAll(':', '')));
      break;
    case 'list':
      if (!Array.isArray(input)) bad();
      for (const v of input as number[]) w.u8(v);
      break;
    case 'xy16':
      if (!Array.isArray(input) || input.length !== 2) bad();
      w.u16((input as number[])[0]).u16((input as number[])[1]);
      break;
    case 'menc':
      if (typeof input === 'number') w.u32(input);
      else if (Array.isArray(input)) for (const v of input) w.u8(v);
      else bad();
      break;
  }
  return { tag, data: w.finish(), name: def.name };
}
