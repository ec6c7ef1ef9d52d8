/**
 * The whole AV path in memory with a test clock: MediaStreamer -> console TakionEndpoint (key_pos,
 * encryption, GMAC) -> FaultInjector -> client TakionEndpoint (GMAC check, key_pos extension) ->
 * AvReceiver. CORRUPTFRAME / IDR outputs go straight back to the streamer (zero latency), as the
 * session and the simulator do over Takion.
 */
import { type AvOutput, AvReceiver } from '../../src/client/av-receiver.js';
import type { AvVersion } from '../../src/proto-stack/avpacket.js';
import { baseType, TakionType } from '../../src/proto-stack/takion.js';
import { FaultInjector, type FaultOptions } from '../../src/simulator/faults.js';
import { type AvSend, type MediaClip, MediaStreamer } from '../../src/simulator/media-streamer.js';
import { TakionPair } from './takion-pair.js';

export interface PipelineRun {
  streamer: MediaStreamer;
  receiver: AvReceiver;
  faults: FaultInjector;
  pair: TakionPair;
  outputs: AvOutput[];
  /** Every packet the streamer produced, in order. */
  sent: AvSend[];
  now: number;
}

export function runPipeline(o: {
  clip: MediaClip;
  version: AvVersion;
  seconds: number;
  fps?: number;
  faults?: FaultOptions;
  bitrateKbps?: number;
  /** false: ignore CORRUPTFRAME/IDR (the stream never restarts at a key frame). */
  honourIdr?: boolean;
}): PipelineRun {
  const pair = new TakionPair({ client: { peerTimeoutMs: 1e9 }, console: { peerTimeoutMs: 1e9 } });
  pair.connect();
  pair.setCrypt();
  const start = pair.now;
  const streamer = new MediaStreamer({
    version: o.version,
    clip: o.clip,
    fps: o.fps ?? 60,
    bitrateKbps: o.bitrateKbps,
    now: start,
  });
  const receiver = new AvReceiver({
    version: o.version,
    videoHeaders: [streamer.videoHeader],
    audioHeader: streamer.audioHeader,
    remoteCrypt: pair.client.remoteCrypt,
    codec: o.clip.codec,
    now: start,
  });
  const faults = new FaultInjector(o.faults);
  const run: PipelineRun = { streamer, receiver, faults, pair, outputs: [], sent: [], now: start };
  const con = pair.console;
  const cli = pair.client;
  const deliver = (now: number) => {
    for (const d of faults.poll(now)) {
      cli.handleDatagram(d, now);
      for (const e of cli.drainEvents()) if (e.type === 'av') take(receiver.handleAv(e, now), now);
    }
  };
  const take = (outs: AvOutput[], now: number) => {
    for (const out of outs) {
      run.outputs.push(out);
      if (o.honourIdr === false) continue;
      if (out.type === 'idr') streamer.requestKeyframe(now);
      else if (out.type === 'corrupt') streamer.requestKeyframe(now, out.end);
    }
  };
  const end = start + o.seconds * 1000;
  let now = start;
  const streamEnd = end - 100; // the last 100 ms only drain what is in flight
  while (now <= end) {
    if (now <= streamEnd)
      for (const p of streamer.poll(now)) {
        run.sent.push(p);
        const kp = con.allocKeyPos(p.size);
        con.sendRaw(p.build(kp, con.localCrypt), kp);
        for (const d of con.poll(now)) {
          const t = baseType(d);
          if (t === TakionType.Video || t === TakionType.Audio) faults.push(d, p, now);
          else cli.handleDatagram(d, now);
        }
      }
    deliver(now);
    take(receiver.tick(now), now);
    const wake = [
      now <= streamEnd ? streamer.nextWakeup() : undefined,
      faults.nextWakeup(),
      receiver.nextWakeup(),
    ].filter((t): t is number => t !== undefined && t > now);
    now = wake.length > 0 ? Math.min(...wake) : now + 10;
  }
  run.now = now;
  return run;
}
