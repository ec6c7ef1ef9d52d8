/**
 * The simulated console's media source: streams a real clip (Annex-B H.264/HEVC + Opus packets) as
 * AV packets the way a console does (docs/protocol.md §7, §12), sans-I/O.
 *
 * It is the ConsoleAvSource (src/proto-stack/consolesession.ts) the simulator's ConsoleSession
 * streams from: `loadClip` picks the fixture clip, the session calls start(now) once the client
 * acknowledged STREAMINFO, handleTimeout(now) at pollTimeout() makes due packets ready and
 * pollTransmit() hands them out (the session keys, encrypts and tags each one); CORRUPTFRAME and
 * IDRREQUEST become requestKeyframe(now[, end]). Each AvSend carries the frame/unit numbers a
 * drop log needs.
 *
 * Timing: video frame n leaves at start + n * 1000 / fps (whatever rate the clip was encoded at), audio packet a at start + a * (Opus
 * packet duration, 20 ms for the fixture). With `bitrateKbps` a frame's packets are spread at that
 * rate (within 90 % of a frame interval) as a console paces them; without it a frame leaves as one
 * burst. A driver more than 250 ms late does not get a burst of stale frames: the schedule
 * restarts at `now` (counted in stats.lagResets).
 *
 * Content: frames are the clip's access units without their parameter sets (those go to
 * STREAMINFO as `videoHeader`); wire frame indices start at 1 and only ever increase (mod 2^16)
 * while the clip loops from its first key frame. requestKeyframe() makes the next frame sent the
 * clip's next key frame (the fixtures have one every 60 frames; the search wraps to the loop
 * start), unless a key frame already covers the request: for CORRUPTFRAME one sent after the lost
 * range (frames the client lost while that key frame was on its way), for IDRREQUEST one sent less
 * than `keyframeHoldMs` ago (the client's retries while it waits; a client retrying slower than
 * that still gets a new key frame when the first one was lost). Otherwise every report of one
 * loss would cost a key frame. Video gets `fecRatio` Cauchy FEC units per source unit; each audio packet carries one
 * new Opus frame and `audioFec` copies of the frames before it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readOggOpus } from '../media/ogg.js';
import {
  extractVideoHeader,
  fillerNal,
  fillerOverhead,
  isKeyframe,
  sliceData,
  splitAccessUnits,
  type VideoCodec,
} from '../proto-stack/annexb.js';
import { formatAudioHeader, packetizeAudio, padOpusPacket } from '../proto-stack/audio.js';
import { type AvMeta, type AvPacketFields, type AvVersion, formatAvPacket } from '../proto-stack/avpacket.js';
import { concatBytes } from '../proto-stack/bytes.js';
import type { AvSend, ConsoleAvSource } from '../proto-stack/consolesession.js';
import { ConfigError, UsageError } from '../proto-stack/errors.js';
import { packetizeVideoFrame, type VideoPacketOut } from '../proto-stack/frameprocessor.js';
import type { GkCrypt } from '../proto-stack/gkcrypt.js';
import { Queue } from '../proto-stack/machine.js';
import { seq16Gt } from '../proto-stack/seqnum.js';

export type ClipCodec = 'h264' | 'h265';

export interface MediaClip {
  /** For logs, e.g. the file name. */
  name: string;
  codec: ClipCodec;
  /** The coded picture size (what STREAMINFO must announce). */
  width: number;
  height: number;
  /** Annex-B elementary stream. */
  video: Uint8Array;
  /** Opus packets of 1..255 bytes (variable-bitrate ones are padded to the largest). */
  audio?: Uint8Array[];
  /** Opus channel count (default 2). */
  audioChannels?: number;
}

export interface Resolution {
  width: number;
  height: number;
}

/** The committed fixtures (made by scripts/make-fixtures.sh). */
const FIXTURES: { file: string; codec: ClipCodec; width: number; height: number }[] = [
  { file: 'testsrc-360p60.h264', codec: 'h264', width: 640, height: 360 },
  { file: 'testsrc-720p60.h264', codec: 'h264', width: 1280, height: 720 },
  { file: 'testsrc-1080p60.h264', codec: 'h264', width: 1920, height: 1080 },
  { file: 'testsrc-720p60.h265', codec: 'h265', width: 1280, height: 720 },
];
const FIXTURE_AUDIO = 'tone-1khz-48k-stereo.opus';
const MEDIA_DIR = join('test', 'fixtures', 'media');

/**
 * The fixture directory: the first test/fixtures/media above `startDir` (two levels up from
 * src/simulator under tsx/vitest, one up from dist/cli.js; the package ships the directory).
 */
export function findMediaDir(startDir = dirname(fileURLToPath(import.meta.url))): string {
  let dir = startDir;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, MEDIA_DIR);
    if (existsSync(join(candidate, FIXTURE_AUDIO))) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new ConfigError(`cannot find the simulator's media clips (${MEDIA_DIR}) above ${startDir}`, {
    hint: 'the rptui installation is incomplete, or regenerate the clips with scripts/make-fixtures.sh',
  });
}

function readFile(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new ConfigError(`cannot read media clip ${path}: ${(err as NodeJS.ErrnoException).code}`, {
      hint: 'regenerate the clips with scripts/make-fixtures.sh',
      cause: err,
    });
  }
}

/** A clip from files: an Annex-B video stream and optionally an Ogg Opus file. */
export function loadClipFiles(f: {
  video: string;
  codec: ClipCodec;
  width: number;
  height: number;
  audio?: string;
}): MediaClip {
  const clip: MediaClip = {
    name: f.video.split(/[\\/]/).pop() ?? f.video,
    codec: f.codec,
    width: f.width,
    height: f.height,
    video: readFile(f.video),
  };
  if (f.audio) {
    const ogg = readOggOpus(readFile(f.audio));
    clip.audio = ogg.packets;
    clip.audioChannels = ogg.head.channels;
  }
  return clip;
}

/**
 * The fixture clip for a requested resolution and codec, with the tone as audio. Without an exact
 * match the nearest size is used and `warning` says so; STREAMINFO must then announce the clip's
 * size (clip.width x clip.height), not the requested one.
 */
export function loadClip(
  resolution: Resolution,
  codec: ClipCodec,
  mediaDir: string = findMediaDir(),
): { clip: MediaClip; warning?: string } {
  // FIXTURES go up in size: on a tie (540p) the larger clip
  const candidates = FIXTURES.filter((f) => f.codec === codec);
  let best = candidates[0];
  for (const f of candidates)
    if (Math.abs(f.height - resolution.height) <= Math.abs(best.height - resolution.height)) best = f;
  const clip = loadClipFiles({
    video: join(mediaDir, best.file),
    audio: join(mediaDir, FIXTURE_AUDIO),
    codec,
    width: best.width,
    height: best.height,
  });
  const exact = best.width === resolution.width && best.height === resolution.height;
  return exact
    ? { clip }
    : {
        clip,
        warning: `no ${resolution.width}x${resolution.height} ${codec.toUpperCase()} clip: streaming the ${best.width}x${best.height} one (${best.file}) and announcing that size`,
      };
}

/** Duration of an Opus packet from its TOC byte (RFC 6716 §3.1), in milliseconds. */
export function opusPacketMs(packet: Uint8Array): number {
  if (packet.length === 0) throw new UsageError('empty Opus packet in the clip');
  const toc = packet[0];
  const config = toc >> 3;
  let frameMs: number;
  if (config < 12) frameMs = [10, 20, 40, 60][config & 3];
  else if (config < 16) frameMs = [10, 20][config & 1];
  else frameMs = [2.5, 5, 10, 20][config & 3];
  const c = toc & 3;
  let frames = c === 0 ? 1 : c === 3 ? (packet[1] ?? 0) & 0x3f : 2;
  if (frames === 0) frames = 1;
  return frameMs * frames;
}

export interface MediaStreamerOptions {
  version: AvVersion;
  clip: MediaClip;
  fps: number;
  /** What the client asked for; a different clip size adds a line to `warnings`. */
  resolution?: Resolution;
  /** Pace each frame's packets at this rate instead of sending them as one burst. */
  bitrateKbps?: number;
  /** Largest video unit incl. its 2-byte padding field (default 1400, fits a 1454-byte MTU). */
  unitSize?: number;
  /** FEC units per source unit (default 0.2; at least one per frame when > 0). */
  fecRatio?: number;
  /** Redundant copies of earlier Opus frames per audio packet (default 2). */
  audioFec?: number;
  /** IDR requests this soon after a key frame went out are ignored (default 100 ms, ~ RTT + decode). */
  keyframeHoldMs?: number;
  /** Byte 9 of video packets (default 3, what PS4 H.264 streams carry). */
  wireCodec?: number;
  now: number;
}

export type MediaStreamerStats = {
  videoFrames: number;
  videoPackets: number;
  /** Frame bytes sent (without FEC and headers). */
  videoBytes: number;
  keyframes: number;
  audioPackets: number;
  keyframeRequests: number;
  /** Requests a key frame already sent covers (ignored). */
  keyframeRequestsHeld: number;
  /** Times the clip started over. */
  loops: number;
  /** Times the driver was so late that the schedule restarted. */
  lagResets: number;
  /** Next clip frame to send. */
  clipFrame: number;
};

interface ClipFrame {
  keyframe: boolean;
  bytes: number;
  packets: VideoPacketOut[];
}

interface Scheduled {
  due: number;
  send: AvSend;
}

const DEFAULT_UNIT_SIZE = 1400;

/**
 * The largest frame one FEC block carries (k source + max(1, ceil(k * fecRatio)) FEC units <= 256
 * over GF(256)), less a unit per NAL unit boundary (a frame's NAL units start new units).
 */
function maxFrameBytes(unitSize: number, fecRatio: number): number {
  let k = 255;
  while (k > 1 && k + Math.max(1, Math.ceil(k * fecRatio)) > 256) k--;
  return (k - 4) * (unitSize - 2);
}

/**
 * Frame sizes for a stream at `targetAvg` bytes per frame: every frame scaled by one factor (key
 * frames stay several times larger than P-frames, as an encoder's do), a frame never above
 * `cap`, the rest spread over the others so the average still meets the target. A clip already at
 * or above the target keeps its sizes; growth smaller than a filler NAL unit is skipped.
 */
export function shapeFrameSizes(
  sizes: readonly number[],
  targetAvg: number,
  cap: number,
  minPad: number,
): number[] {
  const n = sizes.length;
  const total = (f: number) => sizes.reduce((a, b) => a + Math.min(cap, Math.max(b, b * f)), 0);
  if (n === 0 || total(1) >= targetAvg * n) return [...sizes];
  let lo = 1;
  let hi = 2;
  while (total(hi) < targetAvg * n && hi < 1e7) hi *= 2;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (total(mid) < targetAvg * n) lo = mid;
    else hi = mid;
  }
  return sizes.map((b) => {
    const want = Math.round(Math.min(cap, Math.max(b, b * hi)));
    return want - b >= minPad ? want : b;
  });
}
const DEFAULT_FEC_RATIO = 0.2;
const MAX_LAG_MS = 250;
const FIRST_FRAME_INDEX = 1;

function avSend(
  fields: AvPacketFields,
  data: Uint8Array,
  meta: AvMeta,
  keyframe: boolean,
  clipFrame: number,
): AvSend {
  return {
    ...meta,
    keyframe,
    clipFrame,
    size: data.length,
    build(keyPos: number, crypt: GkCrypt | undefined): Uint8Array {
      const payload = crypt ? crypt.crypt(data, keyPos + 16) : data;
      return formatAvPacket({ ...fields, keyPos: keyPos % 0x1_0000_0000 }, payload);
    },
  };
}

export class MediaStreamer implements ConsoleAvSource {
  readonly width: number;
  readonly height: number;
  readonly codec: ClipCodec;
  readonly fps: number;
  /** STREAMINFO video_header: the clip's SPS/PPS (VPS/SPS/PPS for HEVC), Annex-B. */
  readonly videoHeader: Uint8Array;
  /** STREAMINFO audio_header (14 bytes). */
  readonly audioHeader: Uint8Array;
  /** Things worth telling the user (e.g. the clip's size differs from the requested one). */
  readonly warnings: string[] = [];

  private readonly version: AvVersion;
  private readonly frames: ClipFrame[];
  private readonly nextKey: Int32Array;
  private readonly loopStart: number;
  private readonly frameMs: number;
  private readonly pacingKbps: number | undefined;
  private readonly wireCodec: number;
  private readonly audio: Uint8Array[];
  private readonly audioMs: number;
  private readonly audioFec: number;
  private readonly keyframeHoldMs: number;
  private lastKeyframeAt = Number.NEGATIVE_INFINITY;
  /** Wire frame index of the last key frame sent. */
  private lastKeyframeIndex: number | undefined;

  private videoBase: number;
  private videoN = 0;
  private audioBase: number;
  private audioN = 0;
  private cursor: number;
  private frameNo = FIRST_FRAME_INDEX;
  private videoPacket = 0;
  private audioCursor = 0;
  private audioNo = FIRST_FRAME_INDEX;
  private audioPacket = 0;
  private readonly audioHistory: Uint8Array[] = [];
  private queue: Scheduled[] = [];
  private readonly ready = new Queue<AvSend>();
  private readonly st: MediaStreamerStats = {
    videoFrames: 0,
    videoPackets: 0,
    videoBytes: 0,
    keyframes: 0,
    audioPackets: 0,
    keyframeRequests: 0,
    keyframeRequestsHeld: 0,
    loops: 0,
    lagResets: 0,
    clipFrame: 0,
  };

  constructor(opts: MediaStreamerOptions) {
    const { clip } = opts;
    if (!Number.isFinite(opts.fps) || opts.fps <= 0 || opts.fps > 240)
      throw new UsageError(`unsupported frame rate ${opts.fps} (1..240)`);
    const codec: VideoCodec = clip.codec === 'h265' ? 'hevc' : 'h264';
    const header = extractVideoHeader(clip.video, codec);
    if (!header)
      throw new UsageError(
        `clip ${clip.name} has no parameter sets (SPS/PPS${codec === 'hevc' ? '/VPS' : ''})`,
        'encode it with repeated headers (x264/x265 repeat-headers=1)',
      );
    this.version = opts.version;
    this.width = clip.width;
    this.height = clip.height;
    this.codec = clip.codec;
    this.fps = opts.fps;
    this.videoHeader = header;
    this.frameMs = 1000 / opts.fps;
    this.wireCodec = opts.wireCodec ?? 3;
    this.keyframeHoldMs = opts.keyframeHoldMs ?? 100;
    if (opts.bitrateKbps !== undefined && !(opts.bitrateKbps > 0))
      throw new UsageError(`bitrate must be positive, got ${opts.bitrateKbps} kbps`);
    this.pacingKbps = opts.bitrateKbps;
    if (opts.resolution && (opts.resolution.width !== clip.width || opts.resolution.height !== clip.height))
      this.warnings.push(
        `asked for ${opts.resolution.width}x${opts.resolution.height}, streaming the ${clip.width}x${clip.height} clip ${clip.name}`,
      );

    // Every frame is cut and FEC-coded once here: a frame too big for one FEC block fails now, with
    // a clear message, rather than mid-stream; looping then costs no FEC work.
    const packetOpts = {
      unitSize: opts.unitSize ?? DEFAULT_UNIT_SIZE,
      fecRatio: opts.fecRatio ?? DEFAULT_FEC_RATIO,
      version: opts.version,
      codec: this.wireCodec,
    };
    const slices = splitAccessUnits(clip.video, codec).map((au) => sliceData(au, codec));
    const sizes = opts.bitrateKbps
      ? shapeFrameSizes(
          slices.map((b) => b.length),
          (opts.bitrateKbps * 1000) / 8 / opts.fps,
          maxFrameBytes(packetOpts.unitSize, packetOpts.fecRatio),
          fillerOverhead(codec),
        )
      : slices.map((b) => b.length);
    this.frames = slices.map((body, i) => {
      const bytes =
        sizes[i] > body.length ? concatBytes(body, fillerNal(sizes[i] - body.length, codec)) : body;
      return {
        keyframe: isKeyframe(bytes, codec),
        bytes: bytes.length,
        packets: packetizeVideoFrame(0, bytes, packetOpts),
      };
    });
    const first = this.frames.findIndex((f) => f.keyframe);
    if (first < 0) throw new UsageError(`clip ${clip.name} has no key frame: a decoder could never start`);
    this.loopStart = first;
    this.cursor = first;
    // nextKey[i]: the key frame at or after clip frame i, wrapping to the loop start
    this.nextKey = new Int32Array(this.frames.length);
    let k = first;
    for (let i = this.frames.length - 1; i >= 0; i--) {
      if (this.frames[i].keyframe) k = i;
      this.nextKey[i] = i < first ? first : k;
    }

    this.audioFec = opts.audioFec ?? 2;
    const channels = clip.audioChannels ?? 2;
    const audio = clip.audio ?? [];
    if (audio.length > 0) {
      // validates once, up front (1..255-byte packets, unit counts); a variable-bitrate clip is
      // padded to one unit size for the whole stream, as a console's units are
      packetizeAudio(audio, { version: opts.version, firstFrameIndex: 1, fecUnits: this.audioFec });
      let size = 0;
      for (const p of audio) size = Math.max(size, p.length);
      this.audio = audio.map((p) => (p.length === size ? p : padOpusPacket(p, size)));
      this.audioMs = opusPacketMs(audio[0]);
    } else {
      this.audio = [];
      this.audioMs = 20;
    }
    this.audioHeader = formatAudioHeader({
      channels,
      bits: 16,
      rate: 48000,
      frameSize: Math.round(this.audioMs * 48),
      unknown: 0,
    });
    this.videoBase = opts.now;
    this.audioBase = opts.now;
  }

  /**
   * Starts the schedule over at `now`: AV begins once the client acknowledged STREAMINFO, and the
   * wait for that acknowledgement owes it no frames (they would arrive as one stale burst).
   */
  start(now: number): void {
    this.videoBase = now;
    this.videoN = 0;
    this.audioBase = now;
    this.audioN = 0;
  }

  get position(): { nextFrameIndex: number; clipFrame: number } {
    return { nextFrameIndex: this.frameNo & 0xffff, clipFrame: this.cursor };
  }

  stats(): MediaStreamerStats {
    return { ...this.st, clipFrame: this.cursor };
  }

  /** CORRUPTFRAME / IDRREQUEST from the client: the next frame sent is a key frame (see above). */
  requestKeyframe(now: number, lostEnd?: number): 'restart' | 'pending' | 'held' {
    this.st.keyframeRequests++;
    const covered =
      lostEnd !== undefined
        ? this.lastKeyframeIndex !== undefined && seq16Gt(this.lastKeyframeIndex, lostEnd)
        : now - this.lastKeyframeAt < this.keyframeHoldMs;
    if (covered) {
      this.st.keyframeRequestsHeld++;
      return 'held';
    }
    const before = this.cursor;
    this.cursor = this.nextKey[this.cursor];
    return this.cursor !== before ? 'restart' : 'pending';
  }

  /** Makes the packets due at `now` ready, in send order. */
  handleTimeout(now: number): void {
    if (now - (this.videoBase + this.videoN * this.frameMs) > MAX_LAG_MS) {
      this.videoBase = now;
      this.videoN = 0;
      this.st.lagResets++;
    }
    while (this.videoBase + this.videoN * this.frameMs <= now) {
      this.sendFrame(this.videoBase + this.videoN * this.frameMs);
      this.videoN++;
    }
    if (this.audio.length > 0) {
      if (now - (this.audioBase + this.audioN * this.audioMs) > MAX_LAG_MS) {
        this.audioBase = now;
        this.audioN = 0;
        this.st.lagResets++;
      }
      while (this.audioBase + this.audioN * this.audioMs <= now) {
        this.sendAudio(this.audioBase + this.audioN * this.audioMs);
        this.audioN++;
      }
    }
    let n = 0;
    while (n < this.queue.length && this.queue[n].due <= now) n++;
    for (const q of this.queue.splice(0, n)) this.ready.push(q.send);
  }

  pollTransmit(): AvSend | undefined {
    return this.ready.shift();
  }

  pollEvent(): undefined {
    return undefined;
  }

  /** A source has no input: requests come through requestKeyframe(). */
  handle(_input: never, _now: number): void {}

  /** When handleTimeout() next has something to make ready. */
  pollTimeout(): number {
    let t = this.videoBase + this.videoN * this.frameMs;
    if (this.audio.length > 0) t = Math.min(t, this.audioBase + this.audioN * this.audioMs);
    if (this.queue.length > 0) t = Math.min(t, this.queue[0].due);
    return t;
  }

  private schedule(due: number, send: AvSend): void {
    const q = this.queue;
    let i = q.length;
    while (i > 0 && q[i - 1].due > due) i--;
    q.splice(i, 0, { due, send });
  }

  private sendFrame(at: number): void {
    const f = this.frames[this.cursor];
    const frameIndex = this.frameNo & 0xffff;
    let spreadMs = 0;
    if (this.pacingKbps !== undefined) {
      let bits = 0;
      for (const p of f.packets) bits += p.data.length * 8;
      // kbps = bits per millisecond
      spreadMs = Math.min(bits / this.pacingKbps, 0.9 * this.frameMs);
    }
    let total = 0;
    for (const p of f.packets) total += p.data.length;
    let before = 0;
    for (const p of f.packets) {
      const fields: AvPacketFields = {
        ...p.fields,
        frameIndex,
        packetIndex: this.videoPacket & 0xffff,
      };
      this.videoPacket++;
      const meta: AvMeta = {
        kind: 'video',
        frameIndex,
        unitIndex: fields.unitIndex,
        unitsTotal: fields.unitsTotal,
        fecUnits: fields.fecUnits,
      };
      const due = total > 0 ? at + (spreadMs * before) / total : at;
      before += p.data.length;
      this.schedule(due, avSend(fields, p.data, meta, f.keyframe, this.cursor));
    }
    this.st.videoFrames++;
    this.st.videoPackets += f.packets.length;
    this.st.videoBytes += f.bytes;
    if (f.keyframe) {
      this.st.keyframes++;
      this.lastKeyframeAt = at;
      this.lastKeyframeIndex = frameIndex;
    }
    this.frameNo++;
    this.cursor++;
    if (this.cursor >= this.frames.length) {
      this.cursor = this.loopStart;
      this.st.loops++;
    }
  }

  private sendAudio(at: number): void {
    const clipFrame = this.audioCursor;
    const cur = this.audio[clipFrame];
    this.audioCursor = (this.audioCursor + 1) % this.audio.length;
    const run = [...this.audioHistory, cur];
    // packetizeAudio numbers a run of frames; the last packet is the one carrying `cur` with
    // copies of the frames before it
    const pkts = packetizeAudio(run, {
      version: this.version,
      firstFrameIndex: this.audioNo - this.audioHistory.length,
      firstPacketIndex: this.audioPacket - this.audioHistory.length,
      sourceUnits: 1,
      fecUnits: this.audioFec,
    });
    const p = pkts[pkts.length - 1];
    this.audioHistory.push(cur);
    if (this.audioHistory.length > this.audioFec) this.audioHistory.shift();
    const meta: AvMeta = {
      kind: 'audio',
      frameIndex: this.audioNo & 0xffff,
      unitIndex: 0,
      unitsTotal: p.fields.unitsTotal,
      fecUnits: p.fields.fecUnits,
    };
    this.audioNo++;
    this.audioPacket++;
    this.st.audioPackets++;
    this.schedule(at, avSend(p.fields, p.data, meta, false, clipFrame));
  }
}
