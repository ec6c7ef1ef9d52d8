/**
 * The simulated console's AV, around the ConsoleSession machine: which clip streams for a launch
 * spec (`clipSource`), and the network between the console and the client (`AvNetwork`: the
 * --loss/--reorder/--dup/--jitter faults on AV datagrams, never on control traffic).
 *
 * Video and audio go through two injectors seeded from the same --seed: with one, the fate of a
 * video packet would depend on how many audio packets happened to be interleaved before it (a
 * matter of timer timing), so a seed would not reproduce its losses. With every fault off the
 * datagrams bypass the injectors, so they leave exactly in the session's (key_pos) order.
 *
 * Logged (the e2e tests rebuild from these which frames FEC can recover and which it cannot):
 *   drop         every dropped datagram: kind, frameIndex, unitIndex, unitsTotal, fecUnits
 */
import type { AvMeta } from '../proto-stack/avpacket.js';
import type { ParsedLaunchSpec } from '../proto-stack/launchspec.js';
import { earliest } from '../proto-stack/machine.js';
import { isPs5, type Target } from '../proto-stack/target.js';
import type { EventLog } from './events.js';
import { FaultInjector, type FaultOptions } from './faults.js';
import { type ClipCodec, loadClip, MediaStreamer } from './media-streamer.js';

/** The fixture clip for what the launch spec asks, as the session's AV source. */
export function clipSource(
  spec: ParsedLaunchSpec,
  target: Target,
  events: EventLog,
  opts: { mediaDir?: string; faults?: FaultOptions; bitrateCapKbps?: number },
  now: number,
): MediaStreamer {
  // a PS4 only ever streams H.264; a PS5 streams what the launch spec asks
  const codec: ClipCodec = isPs5(target) && spec.codec === 'h265' ? 'h265' : 'h264';
  const requested = { width: spec.width, height: spec.height };
  // the launch spec is the client's word: an odd frame rate streams at 60 rather than failing
  const fps = Number.isInteger(spec.maxFps) && spec.maxFps >= 1 && spec.maxFps <= 240 ? spec.maxFps : 60;
  const { clip } = loadClip(requested, codec, opts.mediaDir);
  const streamer = new MediaStreamer({
    version: isPs5(target) ? 12 : 9,
    clip,
    fps,
    resolution: requested,
    bitrateKbps:
      spec.bitrateKbps > 0
        ? Math.min(spec.bitrateKbps, opts.bitrateCapKbps ?? Number.POSITIVE_INFINITY)
        : undefined,
    now,
  });
  for (const w of streamer.warnings) events.emit('stream', { warning: w }, `  ${w}`);
  events.emit(
    'stream',
    {
      action: 'media',
      clip: clip.name,
      codec,
      width: clip.width,
      height: clip.height,
      fps,
      faults: opts.faults ?? {},
    },
    `  streaming ${clip.name} (${clip.width}x${clip.height} ${codec.toUpperCase()} @ ${fps} fps) with the Opus tone`,
  );
  return streamer;
}

/** The network faults on the AV datagrams of one session. */
export class AvNetwork {
  private readonly video: FaultInjector;
  private readonly audio: FaultInjector;
  private readonly passThrough: boolean;

  constructor(
    faults: FaultOptions | undefined,
    private readonly events: EventLog,
  ) {
    const seed = faults?.seed ?? 1;
    this.video = new FaultInjector({ ...faults, seed });
    this.audio = new FaultInjector({ ...faults, seed: seed + 1 });
    this.passThrough = this.video.passThrough;
  }

  /** An AV datagram: sent at once (`send`) when it is not dropped or held back. */
  push(bytes: Uint8Array, meta: AvMeta, now: number, send: (d: Uint8Array) => void): void {
    if (this.passThrough) {
      send(bytes);
      return;
    }
    const inj = meta.kind === 'video' ? this.video : this.audio;
    inj.handle({ bytes, meta }, now);
    this.drain(inj, send);
  }

  /** Sends what was held back and is due now. */
  handleTimeout(now: number, send: (d: Uint8Array) => void): void {
    for (const inj of [this.video, this.audio]) {
      inj.handleTimeout(now);
      this.drain(inj, send);
    }
  }

  pollTimeout(): number | undefined {
    return earliest(this.video.pollTimeout(), this.audio.pollTimeout());
  }

  /** AV datagrams dropped so far (CONNECTIONQUALITY's loss). */
  get dropped(): number {
    return this.video.stats.dropped + this.audio.stats.dropped;
  }

  stats(): { dropped: number; duplicated: number; reordered: number } {
    const v = this.video.stats;
    const a = this.audio.stats;
    return {
      dropped: v.dropped + a.dropped,
      duplicated: v.duplicated + a.duplicated,
      reordered: v.reordered + a.reordered,
    };
  }

  private drain(inj: FaultInjector, send: (d: Uint8Array) => void): void {
    for (let d = inj.pollEvent(); d; d = inj.pollEvent())
      this.events.emit('drop', {
        kind: d.kind,
        frameIndex: d.frameIndex,
        unitIndex: d.unitIndex,
        unitsTotal: d.unitsTotal,
        fecUnits: d.fecUnits,
      });
    for (let d = inj.pollTransmit(); d; d = inj.pollTransmit()) send(d);
  }
}
