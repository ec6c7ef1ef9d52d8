/**
 * Annex-B H.264 / HEVC elementary streams: NAL unit scanning, access-unit (frame) splitting,
 * key-frame detection and the parameter sets (SPS/PPS, plus VPS for HEVC) that STREAMINFO
 * carries as a profile's video_header. Pure functions over bytes.
 */
export type VideoCodec = 'h264' | 'hevc';

export interface NalUnit {
  /** Offset of the start code (00 00 01 or 00 00 00 01). */
  start: number;
  /** Offset of the NAL header byte(s). */
  payload: number;
  /** One past the last byte (trailing zero bytes belong to the next start code). */
  end: number;
  type: number;
}

/** NAL unit type from the header byte(s) at `at`. */
export function nalType(bytes: Uint8Array, at: number, codec: VideoCodec): number {
  const b = bytes[at] ?? 0;
  return codec === 'h264' ? b & 0x1f : (b >> 1) & 0x3f;
}

/** Every NAL unit of an Annex-B buffer, in order. Bytes before the first start code are ignored. */
export function nalUnits(bytes: Uint8Array, codec: VideoCodec): NalUnit[] {
  const starts: { start: number; payload: number }[] = [];
  const n = bytes.length;
  for (let i = 0; i + 2 < n; ) {
    // Fast skip: a start code needs a zero at i + 2 or we can jump ahead.
    if (bytes[i + 2] > 1) {
      i += 3;
      continue;
    }
    if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 1) {
      const start = i > 0 && bytes[i - 1] === 0 ? i - 1 : i;
      starts.push({ start, payload: i + 3 });
      i += 3;
    } else i++;
  }
  return starts.map((s, k) => {
    let end = k + 1 < starts.length ? starts[k + 1].start : n;
    // Zero bytes right before the next start code are trailing_zero_8bits, not NAL data.
    if (k + 1 < starts.length) while (end > s.payload && bytes[end - 1] === 0) end--;
    return { ...s, end, type: nalType(bytes, s.payload, codec) };
  });
}

function isVcl(type: number, codec: VideoCodec): boolean {
  return codec === 'h264' ? type >= 1 && type <= 5 : type <= 31;
}

/** True for NAL types that may only appear before the first slice of an access unit. */
function startsAccessUnit(type: number, codec: VideoCodec): boolean {
  if (codec === 'h264')
    return type === 6 || type === 7 || type === 8 || type === 9 || (type >= 14 && type <= 18);
  return (
    (type >= 32 && type <= 35) || type === 39 || (type >= 41 && type <= 44) || (type >= 48 && type <= 55)
  );
}

/** A slice that begins a new picture (first_mb_in_slice = 0 / first_slice_segment_in_pic_flag). */
function firstSliceOfPicture(bytes: Uint8Array, nal: NalUnit, codec: VideoCodec): boolean {
  // H.264: first_mb_in_slice is ue(v) right after the 1-byte header; 0 encodes as a single 1 bit.
  // HEVC: the flag is the first bit after the 2-byte header.
  const at = nal.payload + (codec === 'h264' ? 1 : 2);
  return at < nal.end && (bytes[at] & 0x80) !== 0;
}

/**
 * Splits an elementary stream into access units (one coded frame each, with any parameter sets
 * and SEI that precede it). Each result is a view into `stream`.
 */
export function splitAccessUnits(stream: Uint8Array, codec: VideoCodec): Uint8Array[] {
  const nals = nalUnits(stream, codec);
  const out: Uint8Array[] = [];
  let auStart = -1;
  let sawVcl = false;
  for (const nal of nals) {
    const vcl = isVcl(nal.type, codec);
    const boundary =
      auStart >= 0 &&
      sawVcl &&
      ((!vcl && startsAccessUnit(nal.type, codec)) || (vcl && firstSliceOfPicture(stream, nal, codec)));
    if (boundary) {
      out.push(stream.subarray(auStart, nal.start));
      auStart = nal.start;
      sawVcl = false;
    }
    if (auStart < 0) auStart = nal.start;
    if (vcl) sawVcl = true;
  }
  if (auStart >= 0 && sawVcl) out.push(stream.subarray(auStart));
  return out;
}

/** H.264 IDR slice (5); HEVC IRAP pictures (BLA/IDR/CRA, 16..21). */
function isKeyType(type: number, codec: VideoCodec): boolean {
  return codec === 'h264' ? type === 5 : type >= 16 && type <= 21;
}

/**
 * Whether an access unit contains a key-frame picture. Looks only at the NAL headers up to the
 * first slice, so a large frame costs a few bytes of scanning, not its whole length.
 */
export function isKeyframe(au: Uint8Array, codec: VideoCodec): boolean {
  const n = au.length;
  for (let i = 0; i + 3 < n; ) {
    if (au[i + 2] > 1) {
      i += 3;
      continue;
    }
    if (au[i] === 0 && au[i + 1] === 0 && au[i + 2] === 1) {
      const type = nalType(au, i + 3, codec);
      if (isVcl(type, codec)) return isKeyType(type, codec);
      i += 3;
    } else i++;
  }
  return false;
}

function isParameterSet(type: number, codec: VideoCodec): boolean {
  return codec === 'h264' ? type === 7 || type === 8 : type >= 32 && type <= 34;
}

const START_CODE = new Uint8Array([0, 0, 0, 1]);

function joinNals(bytes: Uint8Array, nals: NalUnit[]): Uint8Array {
  let size = 0;
  for (const n of nals) size += 4 + n.end - n.payload;
  const out = new Uint8Array(size);
  let o = 0;
  for (const n of nals) {
    out.set(START_CODE, o);
    out.set(bytes.subarray(n.payload, n.end), o + 4);
    o += 4 + n.end - n.payload;
  }
  return out;
}

/**
 * The parameter sets of the first key frame (VPS/SPS/PPS for HEVC, SPS/PPS for H.264), each with
 * a 4-byte start code: what a console sends as a STREAMINFO video_header. Undefined if none.
 */
export function extractVideoHeader(stream: Uint8Array, codec: VideoCodec): Uint8Array | undefined {
  const sets: NalUnit[] = [];
  for (const nal of nalUnits(stream, codec)) {
    if (isParameterSet(nal.type, codec)) sets.push(nal);
    else if (isVcl(nal.type, codec) && sets.length > 0) break;
  }
  return sets.length > 0 ? joinNals(stream, sets) : undefined;
}

/**
 * The access unit without its parameter sets, as a console sends frames (the decoder gets the
 * sets from the STREAMINFO header instead). Returns `au` itself when it has none.
 */
export function stripParameterSets(au: Uint8Array, codec: VideoCodec): Uint8Array {
  const nals = nalUnits(au, codec);
  const kept = nals.filter((n) => !isParameterSet(n.type, codec));
  if (kept.length === nals.length) return au;
  return joinNals(au, kept);
}

/**
 * Only the coded slices of an access unit, each with a 4-byte start code: what a console sends as
 * a frame. Parameter sets go to the STREAMINFO header; SEI, access unit delimiters and filler data
 * are left out, so the first NAL unit of every frame is a slice (clients that look only at it
 * recognise key frames). Returns `au` itself when it holds nothing else.
 */
export function sliceData(au: Uint8Array, codec: VideoCodec): Uint8Array {
  const nals = nalUnits(au, codec);
  const kept = nals.filter((n) => isVcl(n.type, codec));
  if (kept.length === nals.length) return au;
  return joinNals(au, kept);
}

/** H.264 filler data (type 12) and HEVC FD_NUT (38) NAL headers. */
const FILLER_HEADER: Record<VideoCodec, Uint8Array> = {
  h264: Uint8Array.of(12),
  hevc: Uint8Array.of(38 << 1, 1),
};

/** The smallest filler NAL unit: start code, header, one trailing-bits byte. */
export const fillerOverhead = (codec: VideoCodec): number => 4 + FILLER_HEADER[codec].length + 1;

/**
 * A filler-data NAL unit of exactly `size` bytes (start code included; at least
 * fillerOverhead(codec)): 0xff payload bytes and the rbsp trailing bits. Decoders skip it; it
 * makes a frame as large as a real encoder's at the stream's bitrate.
 */
export function fillerNal(size: number, codec: VideoCodec): Uint8Array {
  const header = FILLER_HEADER[codec];
  if (size < fillerOverhead(codec))
    throw new RangeError(`a filler NAL unit needs ${fillerOverhead(codec)} bytes`);
  const out = new Uint8Array(size).fill(0xff);
  out.set(START_CODE, 0);
  out.set(header, 4);
  out[size - 1] = 0x80;
  return out;
}
