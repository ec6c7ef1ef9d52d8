/**
 * Audio over AV packets (docs/protocol.md §7), sans-I/O.
 *
 * One AUDIO packet carries `sourceUnits` new frames and `fecUnits` redundant copies of the frames
 * just before them, each unit `unitSize` bytes (one Opus packet at 48 kHz stereo, or on PS5 a
 * haptics PCM block when the v12 marker says so). Source unit i is frame frame_index + i; FEC
 * unit j is frame frame_index - fecUnits + j. There is no erasure coding: a copy simply stands in
 * for a frame whose own packet was lost. At stream start the copies point before the first frame
 * and are skipped.
 *
 * The receiver holds frames only while there is a gap (a jitter window of `jitterFrames`), so an
 * in-order stream adds no delay; a frame still missing when the stream is that far ahead is
 * reported as lost so the decoder can conceal it.
 */

import { type AvPacketFields, type AvVersion, HAPTICS_MARKER } from './avpacket.js';
import { ByteReader, ByteWriter } from './bytes.js';
import { ParseError, UsageError } from './errors.js';
import { type Machine, Queue } from './machine.js';
import { seq16Add, seq16Gt, seq16Lt } from './seqnum.js';

export const OPUS_CODEC = 5;

/** STREAMINFO audio_header (14 bytes, big-endian). */
export interface AudioHeader {
  channels: number;
  bits: number;
  rate: number;
  /** Samples per channel in one frame (480 = 10 ms at 48 kHz). */
  frameSize: number;
  unknown: number;
}

export function parseAudioHeader(bytes: Uint8Array): AudioHeader {
  if (bytes.length !== 14)
    throw new ParseError('audio-header', `expected 14 bytes, got ${bytes.length}`, {
      hint: 'the console sent an audio format this client does not know',
    });
  const r = new ByteReader(bytes, 'audio-header');
  return { channels: r.u8(), bits: r.u8(), rate: r.u32(), frameSize: r.u32(), unknown: r.u32() };
}

export function formatAudioHeader(h: AudioHeader): Uint8Array {
  return new ByteWriter(14).u8(h.channels).u8(h.bits).u32(h.rate).u32(h.frameSize).u32(h.unknown).finish();
}

/**
 * The parts of a parsed AUDIO packet the receiver reads; `data` must already be decrypted. The
 * receiver keeps views of it (as FrameProcessor keeps its units): the caller must not reuse it.
 */
export interface AudioUnit {
  frameIndex: number;
  unitsTotal: number;
  fecUnits: number;
  sourceUnits: number;
  unitSize: number;
  codec: number;
  isHaptics: boolean;
  data: Uint8Array;
}

export type AudioEvent =
  /** One Opus packet, in frame order. `recovered`: it came from a redundant copy. */
  | { type: 'frame'; index: number; data: Uint8Array; recovered: boolean }
  /** `count` consecutive frames starting at `index` never arrived: conceal them. */
  | { type: 'lost'; index: number; count: number }
  /** PS5 haptics PCM (s16le stereo, 3000 Hz), in order; late blocks are dropped. */
  | { type: 'haptics'; index: number; data: Uint8Array };

export interface AudioStats {
  framesReceived: number;
  framesRecovered: number;
  framesLost: number;
  packetsReceived: number;
  packetsDropped: number;
  hapticsFrames: number;
}

export class AudioReceiver implements Machine<AudioUnit, AudioEvent> {
  private readonly events = new Queue<AudioEvent>();
  private readonly jitter: number;
  private next: number | undefined;
  private newest = 0;
  private readonly buf = new Map<number, { data: Uint8Array; recovered: boolean }>();
  private startup = true;
  private hapticsPrev: number | undefined;
  private lastPacketFrame: number | undefined;
  private reportReceived = 0;
  private reportLost = 0;
  private readonly st: AudioStats = {
    framesReceived: 0,
    framesRecovered: 0,
    framesLost: 0,
    packetsReceived: 0,
    packetsDropped: 0,
    hapticsFrames: 0,
  };

  constructor(opts: { jitterFrames?: number } = {}) {
    this.jitter = Math.max(1, opts.jitterFrames ?? 3);
  }

  /** One decrypted audio packet (the time is not used: the jitter window counts frames). */
  handle(p: AudioUnit, _now: number): void {
    this.st.packetsReceived++;
    const { sourceUnits: src, fecUnits: fec, unitSize: size } = p;
    if (
      p.codec !== OPUS_CODEC ||
      size === 0 ||
      src + fec !== p.unitsTotal ||
      p.data.length !== size * p.unitsTotal
    ) {
      this.st.packetsDropped++;
      return;
    }
    const fi = p.frameIndex & 0xffff;
    if (fi > 0x8000) this.startup = false;
    if (!p.isHaptics) this.countPacket(fi, src);
    if (!p.isHaptics && this.next === undefined) {
      // Start at the oldest frame this packet carries, so copies can fill in a lost first packet.
      this.next = fi;
      for (let j = 0; j < fec; j++) {
        const back = fi - fec + j;
        if (this.startup && back < 1) continue;
        this.next = back & 0xffff;
        break;
      }
    }
    for (let i = 0; i < src + fec; i++) {
      let idx: number;
      if (i < src) idx = seq16Add(fi, i);
      else {
        const back = fi - fec + (i - src);
        if (this.startup && back < 1) continue; // copies of frames from before the stream began
        idx = back & 0xffff;
      }
      // a view, as FrameProcessor keeps its units: the receiver's payloads are its own buffers
      const data = p.data.subarray(i * size, (i + 1) * size);
      if (p.isHaptics) this.haptics(idx, data);
      else this.store(idx, data, i >= src);
    }
    if (!p.isHaptics) this.drain();
  }

  pollEvent(): AudioEvent | undefined {
    return this.events.shift();
  }

  /** Nothing to send, no timers: the jitter window is counted in frames. */
  pollTransmit(): undefined {
    return undefined;
  }

  pollTimeout(): undefined {
    return undefined;
  }

  handleTimeout(_now: number): void {}

  /** Hands out everything still buffered (end of stream), declaring the gaps lost. */
  flush(): void {
    while (this.next !== undefined && this.buf.size > 0) {
      const start = this.next;
      let n = 0;
      while (!this.buf.has(this.next)) {
        n++;
        this.next = seq16Add(this.next, 1);
      }
      if (n > 0) this.lost(start, n);
      this.drain();
    }
  }

  stats(): AudioStats {
    return { ...this.st };
  }

  /** Audio packets received and lost since the last call (from the frame-index span). */
  takePacketStats(): { received: number; lost: number } {
    const out = { received: this.reportReceived, lost: this.reportLost };
    this.reportReceived = 0;
    this.reportLost = 0;
    return out;
  }

  private countPacket(fi: number, src: number): void {
    this.reportReceived++;
    if (this.lastPacketFrame !== undefined && seq16Gt(fi, this.lastPacketFrame)) {
      const step = Math.max(1, src);
      this.reportLost += Math.max(0, Math.round(((fi - this.lastPacketFrame) & 0xffff) / step) - 1);
    }
    if (this.lastPacketFrame === undefined || seq16Gt(fi, this.lastPacketFrame)) this.lastPacketFrame = fi;
  }

  private haptics(idx: number, data: Uint8Array): void {
    if (this.hapticsPrev !== undefined && !seq16Gt(idx, this.hapticsPrev)) return;
    this.hapticsPrev = idx;
    this.st.hapticsFrames++;
    this.events.push({ type: 'haptics', index: idx, data });
  }

  private store(idx: number, data: Uint8Array, recovered: boolean): void {
    const next = this.next as number;
    if (seq16Lt(idx, next) || this.buf.has(idx)) return;
    // Half the index space away is not comparable; such a frame cannot be placed.
    if (!seq16Gt(idx, next) && idx !== next) return;
    this.buf.set(idx, { data, recovered });
    if (seq16Gt(idx, this.newest) || this.buf.size === 1) this.newest = idx;
  }

  private drain(): void {
    for (;;) {
      const next = this.next as number;
      const b = this.buf.get(next);
      if (b) {
        this.buf.delete(next);
        this.next = seq16Add(next, 1);
        this.st.framesReceived++;
        if (b.recovered) this.st.framesRecovered++;
        this.events.push({ type: 'frame', index: next, data: b.data, recovered: b.recovered });
        continue;
      }
      if (this.buf.size === 0) return;
      const ahead = (this.newest - next) & 0xffff;
      if (ahead < this.jitter) return;
      // Give up on frames up to the first buffered one, or until the window fits again.
      let nearest = 0x10000;
      for (const k of this.buf.keys()) nearest = Math.min(nearest, (k - next) & 0xffff);
      const n = Math.min(nearest, ahead - this.jitter + 1);
      this.lost(next, n);
      this.next = seq16Add(next, n);
    }
  }

  private lost(index: number, count: number): void {
    this.st.framesLost += count;
    this.events.push({ type: 'lost', index, count });
  }
}

/**
 * Grows an Opus packet to exactly `size` bytes without changing what it decodes to, using the
 * padding of a code-3 packet (RFC 6716 §3.2.5), so variable-bitrate packets fit fixed-size units.
 */
export function padOpusPacket(packet: Uint8Array, size: number): Uint8Array {
  const len = packet.length;
  if (len === size) return packet;
  if (len < 1 || size < len || size > 255)
    throw new UsageError(`cannot pad a ${len}-byte Opus packet to ${size} bytes`);
  const toc = packet[0];
  const code = toc & 3;
  let count: number; // frame count byte without the padding flag
  let body: Uint8Array; // what follows the frame count byte (and the padding length)
  if (code === 0) {
    count = 1;
    body = packet.subarray(1);
  } else if (code === 1) {
    count = 2;
    body = packet.subarray(1);
  } else if (code === 2) {
    count = 0x80 | 2; // the first frame's length bytes stay where code 3 VBR expects them
    body = packet.subarray(1);
  } else {
    throw new UsageError('cannot pad an Opus packet that already uses code 3 framing');
  }
  const out = new Uint8Array(size);
  out[0] = (toc & ~3) | 3;
  if (size === len + 1) {
    out[1] = count;
    out.set(body, 2);
    return out;
  }
  // size <= 255 keeps the padding below 255 bytes, so one length byte says how much
  out[1] = count | 0x40;
  out[2] = size - len - 2;
  out.set(body, 3);
  return out;
}

export interface PacketizeAudioOptions {
  version: AvVersion;
  /** frame_index of frames[0]. */
  firstFrameIndex: number;
  firstPacketIndex?: number;
  /** New frames per packet (1 on the consoles seen). */
  sourceUnits?: number;
  /** Redundant copies of earlier frames per packet. */
  fecUnits?: number;
  /** PS5 haptics PCM instead of Opus (v12 only). */
  haptics?: boolean;
}

export interface AudioPacketOut {
  /** keyPos is 0: the sender sets it when it encrypts. */
  fields: AvPacketFields;
  /** Plaintext payload: source units then the redundant copies. */
  data: Uint8Array;
}

/**
 * Builds the AUDIO packets a console would send for a run of Opus frames (at most 255 bytes each).
 * The unit size is the largest frame; shorter Opus frames are padded to it (padOpusPacket), other
 * payloads (haptics PCM) must all have that size. Before the first frame there is nothing to
 * repeat, so those copies repeat the packet's own first frame.
 */
export function packetizeAudio(frames: Uint8Array[], opts: PacketizeAudioOptions): AudioPacketOut[] {
  const src = opts.sourceUnits ?? 1;
  const fec = opts.fecUnits ?? 2;
  if (!Number.isInteger(src) || src < 1 || src > 15 || !Number.isInteger(fec) || fec < 0 || fec > 15)
    throw new UsageError(
      `audio units per packet out of range: ${src} source, ${fec} redundant (1..15 / 0..15)`,
    );
  if (opts.haptics && opts.version !== 12)
    throw new UsageError('haptics audio exists only in v12 (PS5) streams');
  if (frames.length === 0) return [];
  let size = 0;
  for (const f of frames) size = Math.max(size, f.length);
  let units = frames;
  if (size > 255 || frames.some((f) => f.length === 0))
    throw new UsageError(
      'audio frames must be 1..255 bytes (one AV audio unit each)',
      'encode Opus at a lower bitrate or with shorter frames (e.g. ffmpeg -c:a libopus -b:a 64k)',
    );
  if (frames.some((f) => f.length !== size)) {
    // Padding needs one spare byte; a frame exactly one byte short gets code-3 framing instead.
    if (opts.haptics) throw new UsageError('haptics PCM blocks must all have the same size');
    units = frames.map((f) => padOpusPacket(f, size));
  }
  const out: AudioPacketOut[] = [];
  const firstPacket = opts.firstPacketIndex ?? 0;
  for (let pos = 0, n = 0; pos < units.length; pos += src, n++) {
    const data = new Uint8Array(size * (src + fec));
    // A short last packet repeats the final frame rather than inventing audio.
    for (let i = 0; i < src; i++) data.set(units[Math.min(pos + i, units.length - 1)], i * size);
    for (let j = 0; j < fec; j++) {
      const back = pos - fec + j;
      data.set(units[back >= 0 ? back : pos], (src + j) * size);
    }
    out.push({
      fields: {
        isVideo: false,
        version: opts.version,
        packetIndex: (firstPacket + n) & 0xffff,
        frameIndex: (opts.firstFrameIndex + pos) & 0xffff,
        unitIndex: 0,
        unitsTotal: src + fec,
        fecUnits: fec,
        sourceUnits: src,
        unitSize: size,
        codec: OPUS_CODEC,
        keyPos: 0,
        ...(opts.version === 12 ? { audioMarker: opts.haptics ? HAPTICS_MARKER : 0 } : {}),
      },
      data,
    });
  }
  return out;
}
