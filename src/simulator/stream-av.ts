/**
 * The simulated console's AV output for one stream session: the fixture clip for the
 * launch spec through MediaStreamer (packets, FEC, pacing), encrypted and tagged by the console's
 * TakionEndpoint, then through FaultInjector (--loss/--reorder/--dup/--jitter) to the socket.
 *
 * Video and audio go through two injectors seeded from the same --seed: with one, the fate of a
 * video packet would depend on how many audio packets happened to be interleaved before it (a
 * matter of timer timing), so a seed would not reproduce its losses.
 *
 * Logged (the e2e tests rebuild from these which frames FEC can recover and which it cannot):
 *   frame-sent   once per video frame: frameIndex, keyframe, unitsTotal, fecUnits, clipFrame
 *   drop         every dropped datagram: kind, frameIndex, unitIndex, unitsTotal, fecUnits
 *   keyframe     a CORRUPTFRAME/IDRREQUEST and its outcome (see keyframeRequest)
 */

import type { ParsedLaunchSpec } from '../proto-stack/launchspec.js';
import { baseType, type TakionEndpoint, TakionType } from '../proto-stack/takion.js';
import { isPs5, type Target } from '../proto-stack/target.js';
import type { EventLog } from './events.js';
import { FaultInjector, type FaultOptions } from './faults.js';
import { type ClipCodec, loadClip, MediaStreamer, type MediaStreamerStats } from './media-streamer.js';

export interface ConsoleAvOptions {
  /** Network faults on AV datagrams (control traffic is never touched). */
  faults?: FaultOptions;
  /** Where the clips are (default: the package's test/fixtures/media). */
  mediaDir?: string;
}

export class ConsoleAv {
  readonly streamer: MediaStreamer;
  private readonly video: FaultInjector;
  private readonly audio: FaultInjector;
  private started = false;

  constructor(
    spec: ParsedLaunchSpec,
    target: Target,
    private readonly events: EventLog,
    opts: ConsoleAvOptions,
    now: number,
  ) {
    // a PS4 only ever streams H.264; a PS5 streams what the launch spec asks
    const codec: ClipCodec = isPs5(target) && spec.codec === 'h265' ? 'h265' : 'h264';
    const requested = { width: spec.width, height: spec.height };
    // the launch spec is the client's word: an odd frame rate streams at 60 rather than failing
    const fps = Number.isInteger(spec.maxFps) && spec.maxFps >= 1 && spec.maxFps <= 240 ? spec.maxFps : 60;
    const { clip } = loadClip(requested, codec, opts.mediaDir);
    this.streamer = new MediaStreamer({
      version: isPs5(target) ? 12 : 9,
      clip,
      fps,
      resolution: requested,
      bitrateKbps: spec.bitrateKbps > 0 ? spec.bitrateKbps : undefined,
      now,
    });
    for (const w of this.streamer.warnings) events.emit('stream', { warning: w }, `  ${w}`);
    const seed = opts.faults?.seed ?? 1;
    this.video = new FaultInjector({ ...opts.faults, seed });
    this.audio = new FaultInjector({ ...opts.faults, seed: seed + 1 });
    const onDrop: FaultInjector['onDrop'] = (d) =>
      events.emit('drop', {
        kind: d.kind,
        frameIndex: d.frameIndex,
        unitIndex: d.unitIndex,
        unitsTotal: d.unitsTotal,
        fecUnits: d.fecUnits,
      });
    this.video.onDrop = onDrop;
    this.audio.onDrop = onDrop;
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
  }

  /** The client acknowledged STREAMINFO: AV may flow (PROTOCOL §12: never before STREAMINFO). */
  start(now: number): void {
    if (!this.started) this.streamer.restartClock(now);
    this.started = true;
  }

  /**
   * Sends what is due: streamer -> key positions, encryption, GMAC -> faults -> `send`. Other
   * datagrams the endpoint had queued go to `send` directly. Returns whether anything moved.
   */
  pump(takion: TakionEndpoint, now: number, send: (d: Uint8Array) => void): boolean {
    if (!this.started || takion.state !== 'connected') return false;
    let moved = false;
    for (const p of this.streamer.poll(now)) {
      moved = true;
      if (p.kind === 'video' && p.unitIndex === 0)
        this.events.emit('frame-sent', {
          frameIndex: p.frameIndex,
          keyframe: p.keyframe,
          unitsTotal: p.unitsTotal,
          fecUnits: p.fecUnits,
          clipFrame: p.clipFrame,
        });
      const kp = takion.allocKeyPos(p.size);
      takion.sendRaw(p.build(kp, takion.localCrypt), kp);
      for (const d of takion.poll(now)) {
        const t = baseType(d);
        if (t === TakionType.Video) this.video.push(d, p, now);
        else if (t === TakionType.Audio) this.audio.push(d, p, now);
        else send(d);
      }
    }
    for (const inj of [this.video, this.audio])
      for (const d of inj.poll(now)) {
        moved = true;
        send(d);
      }
    return moved;
  }

  nextWakeup(): number | undefined {
    if (!this.started) return undefined;
    let t = this.streamer.nextWakeup();
    for (const inj of [this.video, this.audio]) {
      const w = inj.nextWakeup();
      if (w !== undefined) t = Math.min(t, w);
    }
    return t;
  }

  /**
   * CORRUPTFRAME / IDRREQUEST from the client. Logged as `restart` (the next frame is now a key
   * frame), `pending` (an earlier request already made it so) or `held` (a key frame left moments
   * ago: the client cannot have seen it yet).
   */
  keyframeRequest(message: string, now: number): void {
    const before = this.streamer.stats();
    this.streamer.requestKeyframe(now);
    const after = this.streamer.stats();
    const outcome =
      after.keyframeRequestsHeld > before.keyframeRequestsHeld
        ? 'held'
        : after.clipFrame !== before.clipFrame
          ? 'restart'
          : 'pending';
    this.events.emit(
      'keyframe',
      { request: message, outcome, nextFrameIndex: this.streamer.nextFrameIndex, clipFrame: after.clipFrame },
      outcome === 'restart'
        ? `  ${message}: restarting from the key frame at clip frame ${after.clipFrame} (wire frame ${this.streamer.nextFrameIndex})`
        : undefined,
    );
  }

  /** For the session's stats events. */
  stats(): MediaStreamerStats & { dropped: number; duplicated: number; reordered: number } {
    const v = this.video.stats;
    const a = this.audio.stats;
    return {
      ...this.streamer.stats(),
      dropped: v.dropped + a.dropped,
      duplicated: v.duplicated + a.duplicated,
      reordered: v.reordered + a.reordered,
    };
  }
}
