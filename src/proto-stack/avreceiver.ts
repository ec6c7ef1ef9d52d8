/**
 * The client's AV receive path after Takion (docs/protocol.md §7, §9), a Machine (machine.ts):
 * authenticated VIDEO/AUDIO packets in (TakionEndpoint's `av` events), decoded-ready media out.
 *
 *   handle({ bytes, keyPos }, now)   one authenticated AV datagram
 *   pollEvent()                      what became ready, in stream order (below)
 *   pollTimeout()/handleTimeout()    the video reorder window's give-up timer
 *   takeCongestion()                 units received/lost since the last CONGESTION packet
 *   stats(now)                       for SessionStats
 *
 * Events:
 *   frame     Annex-B access unit (STREAMINFO header in front of the first one) -> video sink
 *   opus      one Opus packet (`recovered`: it came from a redundant copy)      -> Opus decoder
 *   opusLost  `count` frames that never came (conceal them)                    -> Opus decoder
 *   haptics   PS5 haptics PCM (s16le stereo, 3000 Hz)
 *   corrupt   send CORRUPTFRAME {start, end}
 *   idr       send IDRREQUEST
 *
 * Per packet: parse the header (avpacket's parseAvUnit), XOR the payload with the remote key
 * stream at keyPos + 16 (keyPos is the 64-bit position Takion extended and verified; the payload
 * is decrypted into a buffer of its own, GkCrypt.decrypt), then video goes to
 * FrameProcessor (reorder window, FEC, reassembly, loss -> CORRUPTFRAME/IDR) and audio to
 * AudioReceiver (redundant copies, jitter window). A packet that does not parse or that the
 * processors reject is counted (stats.packets.malformed / video.packetsDropped) and dropped:
 * nothing a network peer sends makes these methods throw.
 */
import { type AudioHeader, AudioReceiver, parseAudioHeader } from './audio.js';
import { type AvVersion, parseAvUnit } from './avpacket.js';
import { RptuiError } from './errors.js';
import { prepareFecDecoder } from './fec.js';
import { FrameProcessor } from './frameprocessor.js';
import type { GkCrypt } from './gkcrypt.js';
import { type Machine, Queue } from './machine.js';

/** The fields of TakionEndpoint's `{ type: 'av' }` event this receiver reads (the type is in byte 0). */
export interface AvInput {
  bytes: Uint8Array;
  keyPos: number;
}

export type AvOutput =
  | { type: 'frame'; index: number; bytes: Uint8Array; keyframe: boolean; recovered: boolean }
  | { type: 'opus'; frameIndex: number; packet: Uint8Array; recovered: boolean }
  | { type: 'opusLost'; frameIndex: number; count: number }
  | { type: 'haptics'; frameIndex: number; pcm: Uint8Array }
  | { type: 'corrupt'; start: number; end: number }
  | { type: 'idr' };

export interface AvReceiverOptions {
  version: AvVersion;
  /** STREAMINFO resolution[].video_header, by adaptive_stream_index. */
  videoHeaders: Uint8Array[];
  /** STREAMINFO audio_header (14 bytes). */
  audioHeader: Uint8Array;
  /** gkcrypt remote (index 3); undefined = payloads arrive in the clear (tests, Senkusha-like). */
  remoteCrypt: GkCrypt | undefined;
  codec?: 'h264' | 'h265';
  /** Construction time: stats().packets.idleMs counts from here until the first packet. */
  now: number;
  /** How long a gap in packet_index is waited for (default 16 ms, as the reference). */
  reorderWaitMs?: number;
  /** Audio frames held while waiting for a missing one (default 3). */
  audioJitterFrames?: number;
}

export interface AvReceiverStats {
  video: {
    /** Frames handed out. */
    frames: number;
    /** Of those, rebuilt with FEC. */
    recovered: number;
    /** Frames never completed (gaps and failed FEC). */
    lost: number;
    /** Complete frames dropped while waiting for a key frame after a loss. */
    skipped: number;
    fps: number;
    kbps: number;
    idrRequests: number;
    /** Packets too late, duplicated or inconsistent with their frame. */
    packetsDropped: number;
  };
  audio: { frames: number; recovered: number; lost: number; haptics: number };
  packets: {
    /** AV datagrams handed to handleAv(). */
    av: number;
    /** Units received / lost as the congestion report counts them (video units + audio packets). */
    received: number;
    lost: number;
    /** Datagrams that did not parse (dropped). */
    malformed: number;
    /** Time since the last AV packet (or since construction): a stalled stream shows here. */
    idleMs: number;
  };
}

export class AvReceiver implements Machine<AvInput, AvOutput> {
  readonly version: AvVersion;
  readonly audio: AudioHeader;
  private readonly events = new Queue<AvOutput>();
  private readonly crypt: GkCrypt | undefined;
  private readonly video: FrameProcessor;
  private readonly audioRx: AudioReceiver;
  private av = 0;
  private malformed = 0;
  private lastPacketAt: number;
  private pendingReceived = 0;
  private pendingLost = 0;
  private totalReceived = 0;
  private totalLost = 0;

  /** Throws ParseError when the STREAMINFO audio header is not 14 bytes. */
  constructor(opts: AvReceiverOptions) {
    this.version = opts.version;
    this.audio = parseAudioHeader(opts.audioHeader);
    this.crypt = opts.remoteCrypt;
    this.video = new FrameProcessor({
      codec: opts.codec === 'h265' ? 'hevc' : 'h264',
      reorderWaitMs: opts.reorderWaitMs,
    });
    this.video.setVideoHeaders(opts.videoHeaders);
    prepareFecDecoder();
    this.audioRx = new AudioReceiver({ jitterFrames: opts.audioJitterFrames });
    this.lastPacketAt = opts.now;
  }

  /** One authenticated AV datagram. Never throws for bad input. */
  handle(e: AvInput, now: number): void {
    this.av++;
    this.lastPacketAt = now;
    try {
      const u = parseAvUnit(e.bytes, this.version);
      const crypt = this.crypt;
      if (u.isVideo) {
        // a unit its frame no longer needs (spare FEC after the frame completed) is counted but
        // never read: it skips the decryption
        if (!crypt) u.data = e.bytes.subarray(u.headerSize);
        else if (!this.video.ignoresFrame(u.frameIndex))
          u.data = crypt.decrypt(e.bytes, e.keyPos + 16, u.headerSize);
        this.video.handle(u, now);
        this.takeVideo();
        return;
      }
      u.data = crypt ? crypt.decrypt(e.bytes, e.keyPos + 16, u.headerSize) : e.bytes.subarray(u.headerSize);
      this.audioRx.handle(u, now);
      for (let a = this.audioRx.pollEvent(); a; a = this.audioRx.pollEvent()) {
        if (a.type === 'frame')
          this.events.push({ type: 'opus', frameIndex: a.index, packet: a.data, recovered: a.recovered });
        else if (a.type === 'lost')
          this.events.push({ type: 'opusLost', frameIndex: a.index, count: a.count });
        else this.events.push({ type: 'haptics', frameIndex: a.index, pcm: a.data });
      }
    } catch (err) {
      if (!(err instanceof RptuiError)) throw err;
      this.malformed++;
    }
  }

  private takeVideo(): void {
    for (let v = this.video.pollEvent(); v; v = this.video.pollEvent()) this.events.push(v);
  }

  pollEvent(): AvOutput | undefined {
    return this.events.shift();
  }

  /** Nothing: CORRUPTFRAME / IDR requests are events the session turns into messages. */
  pollTransmit(): undefined {
    return undefined;
  }

  /** A gap in the video reorder window given up on. */
  handleTimeout(now: number): void {
    this.video.handleTimeout(now);
    this.takeVideo();
  }

  pollTimeout(): number | undefined {
    return this.video.pollTimeout();
  }

  /** Units received and lost since the last call: the numbers of the next CONGESTION packet. */
  takeCongestion(now: number): { received: number; lost: number } {
    this.collect(now);
    const out = { received: this.pendingReceived, lost: this.pendingLost };
    this.pendingReceived = 0;
    this.pendingLost = 0;
    return out;
  }

  stats(now: number): AvReceiverStats {
    this.collect(now);
    const v = this.video.stats(now);
    const a = this.audioRx.stats();
    return {
      video: {
        frames: v.framesReceived,
        recovered: v.framesRecovered,
        lost: v.framesLost,
        skipped: v.framesSkipped,
        fps: v.fps,
        kbps: v.kbps,
        idrRequests: v.idrRequests,
        packetsDropped: v.packetsDropped,
      },
      audio: {
        frames: a.framesReceived,
        recovered: a.framesRecovered,
        lost: a.framesLost,
        haptics: a.hapticsFrames,
      },
      packets: {
        av: this.av,
        received: this.totalReceived,
        lost: this.totalLost,
        malformed: this.malformed,
        idleMs: now - this.lastPacketAt,
      },
    };
  }

  /** Moves the processors' per-report counters into ours (they reset on every take). */
  private collect(now: number): void {
    const v = this.video.takePacketStats(now);
    const a = this.audioRx.takePacketStats();
    const received = v.received + a.received;
    const lost = v.lost + a.lost;
    this.pendingReceived += received;
    this.pendingLost += lost;
    this.totalReceived += received;
    this.totalLost += lost;
  }
}
