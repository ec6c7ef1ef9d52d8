/**
 * AV packet header codec (Takion base types 2 = VIDEO and 3 = AUDIO), docs/protocol.md §7.
 *
 *   0      type (0x02 video / 0x03 audio, +0x10 when 3 NALU-info bytes follow the header)
 *   1..2   packet_index      3..4  frame_index
 *   5..8   unit word: video  unit_index:11 | units_total-1:11 | fec_units:10
 *                     audio  unit_index:8  | units_total-1:8  | unit_size:8 | fec:4 | source:4
 *   9      codec             10..13 GMAC       14..17 key_pos (low 32 bits)
 *   video: 18..19 unknown u16, 20 = adaptive_stream_index << 5 | low bits; data at 21
 *   audio: 18 unknown byte; data at 19
 *   then +3 NALU-info bytes when flagged, then (v12 audio only) one marker byte, 0x02 = haptics.
 *
 * Version 7 (only Senkusha, §10.1, speaks it) differs for audio alone: the unit word has the video
 * layout (11 | 11 | 10 bits) and there is no byte 18, so the data starts at 18.
 *
 * The payload stays encrypted here: the caller verifies the GMAC and XORs the data with the
 * remote key stream at keyPos + 16.
 */
import { ParseError } from './errors.js';

export type AvVersion = 7 | 9 | 12;

export const AV_TYPE_VIDEO = 2;
export const AV_TYPE_AUDIO = 3;
const NALU_FLAG = 0x10;
const GMAC_OFFSET = 10;
export const AV_KEY_POS_OFFSET = 14;
export const HAPTICS_MARKER = 0x02;

/** Everything a sender chooses; formatAvPacket writes exactly these. */
export interface AvPacketFields {
  isVideo: boolean;
  version: AvVersion;
  packetIndex: number;
  frameIndex: number;
  unitIndex: number;
  unitsTotal: number;
  /** Video (and v7 audio): FEC units of the frame. v9/v12 audio: redundant copies per packet (4 bits). */
  fecUnits: number;
  /** v9/v12 audio only: source units per packet (4 bits); elsewhere derived as unitsTotal - fecUnits. */
  sourceUnits?: number;
  /** v9/v12 audio only: bytes per unit (8 bits). */
  unitSize?: number;
  codec: number;
  /** Low 32 bits of the sender's key position. */
  keyPos: number;
  /** Video only. */
  adaptiveStreamIndex?: number;
  /** Unknown bits kept for a faithful re-format: video bytes 18..19 (u16), v9/v12 audio byte 18. */
  unknown18?: number;
  /** Video only: the low 5 bits of byte 20. */
  streamFlags?: number;
  /** The 3 NALU-info bytes, when present. */
  naluInfo?: Uint8Array;
  /** v12 audio only: the marker byte (0x02 = haptics PCM). */
  audioMarker?: number;
}

export interface AvPacket extends Required<Omit<AvPacketFields, 'naluInfo'>> {
  naluInfo: Uint8Array | undefined;
  isHaptics: boolean;
  /** The 4 GMAC bytes as received (a view into the packet). */
  gmac: Uint8Array;
  headerSize: number;
  /** The payload (a view into the packet), still encrypted on the wire. */
  data: Uint8Array;
}

/** v7 audio has the video unit word and no byte 18. */
const videoUnitWord = (isVideo: boolean, version: AvVersion): boolean => isVideo || version === 7;

function headerSizeOf(isVideo: boolean, version: AvVersion, nalu: boolean): number {
  let n = isVideo ? 21 : version === 7 ? 18 : 19;
  if (nalu) n += 3;
  if (!isVideo && version === 12) n += 1;
  return n;
}

// big-endian fields read bytewise: no DataView per packet on the receive path (module-level
// functions: closures inside parseAvPacket cost a helper call per packet under tsx)
function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/**
 * What a receiver reads from an AV header (parseAvUnit): no views into the packet, its payload
 * is bytes [headerSize, length). `data` is the caller's: the payload once decrypted (the empty
 * array until then).
 */
export interface AvUnit {
  isVideo: boolean;
  packetIndex: number;
  frameIndex: number;
  unitIndex: number;
  unitsTotal: number;
  /** Video (and v7 audio): FEC units of the frame. v9/v12 audio: redundant copies per packet. */
  fecUnits: number;
  sourceUnits: number;
  /** v9/v12 audio: bytes per unit (0 for video). */
  unitSize: number;
  codec: number;
  /** Video only (0 for audio). */
  adaptiveStreamIndex: number;
  isHaptics: boolean;
  headerSize: number;
  data: Uint8Array;
}

const NO_DATA = new Uint8Array(0);

/**
 * The receive path's parse of a VIDEO or AUDIO datagram: one small object per packet (the full
 * parseAvPacket adds the fields only a re-format needs, and views). Malformed input throws
 * ParseError('av', ...).
 */
export function parseAvUnit(bytes: Uint8Array, version: AvVersion): AvUnit {
  if (bytes.length < 1) throw new ParseError('av', 'empty AV packet');
  const baseType = bytes[0] & 0x0f;
  if (baseType !== AV_TYPE_VIDEO && baseType !== AV_TYPE_AUDIO)
    throw new ParseError('av', `packet type ${baseType} is neither video (2) nor audio (3)`);
  const isVideo = baseType === AV_TYPE_VIDEO;
  const nalu = (bytes[0] & NALU_FLAG) !== 0;
  const headerSize = headerSizeOf(isVideo, version, nalu);
  if (bytes.length <= headerSize)
    throw new ParseError(
      'av',
      `${isVideo ? 'video' : 'audio'} packet of ${bytes.length} bytes has no payload after its ${headerSize}-byte header`,
    );
  const word = u32(bytes, 5);
  let unitIndex: number;
  let unitsTotal: number;
  let fecUnits: number;
  let sourceUnits: number;
  let unitSize = 0;
  if (videoUnitWord(isVideo, version)) {
    unitIndex = word >>> 21;
    unitsTotal = ((word >>> 10) & 0x7ff) + 1;
    fecUnits = word & 0x3ff;
    sourceUnits = unitsTotal - fecUnits;
  } else {
    unitIndex = word >>> 24;
    unitsTotal = ((word >>> 16) & 0xff) + 1;
    unitSize = (word >>> 8) & 0xff;
    fecUnits = (word >>> 4) & 0xf;
    sourceUnits = word & 0xf;
  }
  // the v12 audio marker is the header's last byte
  const isHaptics = !isVideo && version === 12 && bytes[headerSize - 1] === HAPTICS_MARKER;
  return {
    isVideo,
    packetIndex: u16(bytes, 1),
    frameIndex: u16(bytes, 3),
    unitIndex,
    unitsTotal,
    fecUnits,
    sourceUnits,
    unitSize,
    codec: bytes[9],
    adaptiveStreamIndex: isVideo ? bytes[20] >>> 5 : 0,
    isHaptics,
    headerSize,
    data: NO_DATA,
  };
}

/** Parses a VIDEO or AUDIO datagram; any malformed input throws ParseError('av', ...). */
export function parseAvPacket(bytes: Uint8Array, version: AvVersion): AvPacket {
  const u = parseAvUnit(bytes, version);
  const { isVideo, headerSize } = u;
  let off = 18;
  let unknown18 = 0;
  let streamFlags = 0;
  if (isVideo) {
    unknown18 = u16(bytes, 18);
    streamFlags = bytes[20] & 0x1f;
    off = 21;
  } else if (version !== 7) {
    unknown18 = bytes[18];
    off = 19;
  }
  const naluInfo = (bytes[0] & NALU_FLAG) !== 0 ? bytes.subarray(off, off + 3) : undefined;
  return {
    ...u,
    version,
    gmac: bytes.subarray(GMAC_OFFSET, GMAC_OFFSET + 4),
    keyPos: u32(bytes, AV_KEY_POS_OFFSET),
    unknown18,
    streamFlags,
    naluInfo,
    audioMarker: !isVideo && version === 12 ? bytes[headerSize - 1] : 0,
    data: bytes.subarray(headerSize),
  };
}

function field(name: string, v: number | undefined, bits: number, min = 0): number {
  const x = v ?? 0;
  if (!Number.isInteger(x) || x < min || x >= 2 ** bits)
    throw new ParseError('av', `${name} = ${v} does not fit the header (${min}..${2 ** bits - 1})`);
  return x;
}

/**
 * Builds a datagram from header fields and the (already encrypted) payload. The GMAC field is
 * zero: the caller computes the tag over the finished packet and writes it at offset 10.
 */
export function formatAvPacket(f: AvPacketFields, encryptedData: Uint8Array): Uint8Array {
  const nalu = f.naluInfo !== undefined;
  if (nalu && f.naluInfo?.length !== 3) throw new ParseError('av', 'NALU info must be 3 bytes');
  const headerSize = headerSizeOf(f.isVideo, f.version, nalu);
  const out = new Uint8Array(headerSize + encryptedData.length);
  const dv = new DataView(out.buffer);
  out[0] = (f.isVideo ? AV_TYPE_VIDEO : AV_TYPE_AUDIO) | (nalu ? NALU_FLAG : 0);
  dv.setUint16(1, field('packetIndex', f.packetIndex, 16));
  dv.setUint16(3, field('frameIndex', f.frameIndex, 16));
  let word: number;
  if (videoUnitWord(f.isVideo, f.version)) {
    word =
      (field('unitIndex', f.unitIndex, 11) << 21) |
      (field('unitsTotal', f.unitsTotal - 1, 11) << 10) |
      field('fecUnits', f.fecUnits, 10);
  } else {
    word =
      (field('unitIndex', f.unitIndex, 8) << 24) |
      (field('unitsTotal', f.unitsTotal - 1, 8) << 16) |
      (field('unitSize', f.unitSize, 8) << 8) |
      (field('fecUnits', f.fecUnits, 4) << 4) |
      field('sourceUnits', f.sourceUnits, 4);
  }
  dv.setUint32(5, word >>> 0);
  out[9] = field('codec', f.codec, 8);
  dv.setUint32(AV_KEY_POS_OFFSET, field('keyPos', f.keyPos, 32));
  let off: number;
  if (f.isVideo) {
    dv.setUint16(18, field('unknown18', f.unknown18, 16));
    out[20] =
      (field('adaptiveStreamIndex', f.adaptiveStreamIndex, 3) << 5) | field('streamFlags', f.streamFlags, 5);
    off = 21;
  } else if (f.version === 7) {
    off = 18;
  } else {
    out[18] = field('unknown18', f.unknown18, 8);
    off = 19;
  }
  if (f.naluInfo) {
    out.set(f.naluInfo, off);
    off += 3;
  }
  if (!f.isVideo && f.version === 12) out[off++] = field('audioMarker', f.audioMarker, 8);
  out.set(encryptedData, off);
  return out;
}

/** Which frame and unit an AV datagram carries: what a drop log and fault injection need. */
export interface AvMeta {
  kind: 'video' | 'audio';
  /** Wire frame index (16-bit). */
  frameIndex: number;
  unitIndex: number;
  unitsTotal: number;
  fecUnits: number;
}
