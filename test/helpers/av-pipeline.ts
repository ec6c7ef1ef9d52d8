/**
 * The whole AV path in memory with a test clock: MediaStreamer -> console TakionEndpoint (key_pos,
 * encryption, GMAC) -> FaultInjector -> client TakionEndpoint (GMAC check, key_pos extension) ->
 * AvReceiver. CORRUPTFRAME / IDR outputs go straight back to the streamer (zero latency), as the
 * session and the simulator do over Takion.
 */

import type { AvVersion } from '../../src/proto-stack/avpacket.js';
import { type AvOutput, AvReceiver } from '../../src/proto-stack/avreceiver.js';
import type { AvSend } from '../../src/proto-stack/consolesession.js';
import { baseType, TakionType } from '../../src/proto-stack/takion.js';
import { FaultInjector, type FaultOptions } from '../../src/simulator/faults.js';
import { type MediaClip, MediaStreamer } from '../../src/simulator/media-streamer.js';
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
  const take = (now: number) => {
    for (let out = receiver.pollEvent(); out; out = receiver.pollEvent()) {
      run.outputs.push(out);
      if (o.honourIdr === false) continue;
      if (out.type === 'idr') streamer.requestKeyframe(now);
      else if (out.type === 'corrupt') streamer.requestKeyframe(now, out.end);
    }
  };
  const receive = (d: Uint8Array, now: number) => {
    cli.handle(d, now);
    for (let e = cli.pollEvent(); e; e = cli.pollEvent()) if (e.type === 'av') receiver.handle(e, now);
    take(now);
  };
  const deliver = (now: number) => {
    faults.handleTimeout(now);
    for (let d = faults.pollTransmit(); d; d = faults.pollTransmit()) receive(d, now);
  };
  const end = start + o.seconds * 1000;
  let now = start;
  const streamEnd = end - 100; // the last 100 ms only drain what is in flight
  streamer.start(start);
  while (now <= end) {
    if (now <= streamEnd) {
      streamer.handleTimeout(now);
      for (let p = streamer.pollTransmit(); p; p = streamer.pollTransmit()) {
        run.sent.push(p);
        const kp = con.allocKeyPos(p.size);
        con.sendRaw(p.build(kp, con.localCrypt), kp);
        for (let d = con.pollTransmit(); d; d = con.pollTransmit()) {
          const t = baseType(d);
          if (t === TakionType.Video || t === TakionType.Audio) faults.handle({ bytes: d, meta: p }, now);
          else receive(d, now);
        }
        deliver(now);
      }
    }
    deliver(now);
    receiver.handleTimeout(now);
    take(now);
    const wake = [
      now <= streamEnd ? streamer.pollTimeout() : undefined,
      faults.pollTimeout(),
      receiver.pollTimeout(),
    ].filter((t): t is number => t !== undefined && t > now);
    now = wake.length > 0 ? Math.min(...wake) : now + 10;
  }
  run.now = now;
  return run;
}
