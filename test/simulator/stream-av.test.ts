// The simulator's AV output (ConsoleAv) against the client's receive path, in memory with a test
// clock: the clip's frames go out after start(), every drop is logged with its frame/unit numbers,
// the client reports exactly the frames FEC cannot rebuild, and key frame requests restart the
// clip (or are logged as pending/held).
import { describe, expect, it } from 'vitest';
import { AvReceiver } from '../../src/proto-stack/avreceiver.js';
import type { ParsedLaunchSpec } from '../../src/proto-stack/launchspec.js';
import { EventLog, type SimEvent } from '../../src/simulator/events.js';
import { type DropRecord, fecOutcome } from '../../src/simulator/faults.js';
import { ConsoleAv } from '../../src/simulator/stream-av.js';
import { TakionPair } from '../helpers/takion-pair.js';

const spec = (o: Partial<ParsedLaunchSpec> = {}): ParsedLaunchSpec => ({
  width: 1280,
  height: 720,
  maxFps: 60,
  bitrateKbps: 10_000,
  mtu: 1454,
  rtt: 1,
  handshakeKey: new Uint8Array(16),
  codec: 'h264',
  hdr: false,
  ...o,
});

function setup(loss: number, seed: number, s = spec(), target: 1000 | 1000100 = 1000) {
  const log: SimEvent[] = [];
  const events = new EventLog();
  events.on((e) => log.push(e));
  const pair = new TakionPair({ client: { peerTimeoutMs: 1e9 }, console: { peerTimeoutMs: 1e9 } });
  pair.connect();
  pair.setCrypt();
  const av = new ConsoleAv(s, target, events, { faults: { loss, seed } }, pair.now);
  const rx = new AvReceiver({
    version: target === 1000 ? 9 : 12,
    videoHeaders: [av.streamer.videoHeader],
    audioHeader: av.streamer.audioHeader,
    remoteCrypt: pair.client.remoteCrypt,
    codec: s.codec,
    now: pair.now,
  });
  const frames: { index: number; keyframe: boolean; recovered: boolean; bytes: Uint8Array }[] = [];
  const corrupt: { start: number; end: number; t: number }[] = [];
  /** Runs `ms` of stream time; the client's CORRUPTFRAME/IDR go straight back to the console. */
  const run = (ms: number) => {
    const end = pair.now + ms;
    for (; pair.now < end; pair.now++) {
      const now = pair.now;
      av.pump(pair.console, now, (d) => pair.client.handleDatagram(d, now));
      const outs = [];
      for (const e of pair.client.drainEvents()) if (e.type === 'av') outs.push(...rx.handleAv(e, now));
      outs.push(...rx.tick(now));
      for (const o of outs) {
        if (o.type === 'frame') frames.push(o);
        else if (o.type === 'corrupt') {
          corrupt.push({ start: o.start, end: o.end, t: now });
          av.keyframeRequest('CORRUPTFRAME', now);
        } else if (o.type === 'idr') av.keyframeRequest('IDRREQUEST', now);
      }
    }
  };
  return { av, rx, log, frames, corrupt, run, pair };
}

describe('ConsoleAv', () => {
  it('sends nothing before start(), then the clip at 60 fps with its audio; frames arrive whole', () => {
    const { av, log, frames, run, pair } = setup(0, 1);
    run(100);
    expect(log.filter((e) => e.event === 'frame-sent')).toHaveLength(0);
    expect(av.nextWakeup()).toBeUndefined();
    expect(av.pump(pair.console, pair.now, () => {})).toBe(false);
    av.start(pair.now);
    run(1000);
    const sent = log.filter((e) => e.event === 'frame-sent');
    // the schedule starts with the AV, 60 fps from there: the 100 ms of handshake are not owed
    // (they came as a burst of 6 stale frames, 66 in the first second)
    expect(sent).toHaveLength(60);
    expect(sent.map((e) => e.frameIndex)).toEqual(sent.map((_, i) => i + 1));
    expect(sent[0]).toMatchObject({ keyframe: true, clipFrame: 0 });
    expect(log.some((e) => e.event === 'drop')).toBe(false);
    expect(frames.length).toBeGreaterThanOrEqual(sent.length - 2);
    expect(frames.every((f) => !f.recovered)).toBe(true);
    // the first frame carries the clip's SPS/PPS (the STREAMINFO header) in front
    expect(frames[0].keyframe).toBe(true);
    expect(frames[0].bytes.subarray(0, av.streamer.videoHeader.length)).toEqual(av.streamer.videoHeader);
    expect(av.stats().audioPackets).toBeGreaterThan(45);
    expect(log.find((e) => e.event === 'stream' && e.action === 'media')).toMatchObject({
      clip: 'testsrc-720p60.h264',
      codec: 'h264',
      width: 1280,
      height: 720,
      fps: 60,
    });
  });

  it('under 10 % loss the client reports exactly the frames FEC cannot rebuild, and a key frame follows each report', () => {
    const { av, log, frames, corrupt, run, pair } = setup(0.1, 4);
    av.start(pair.now);
    run(3000);
    const drops = log.filter((e) => e.event === 'drop') as unknown as DropRecord[];
    expect(drops.length).toBe(av.stats().dropped);
    const sent = log.filter((e) => e.event === 'frame-sent');
    const judged = new Set(sent.slice(0, -3).map((e) => e.frameIndex as number));
    const outcome = [...fecOutcome(drops).values()].filter((o) => judged.has(o.frameIndex));
    const lost = outcome.filter((o) => !o.recoverable).map((o) => o.frameIndex);
    expect(lost.length).toBeGreaterThan(0);
    const reported = new Set<number>();
    for (const c of corrupt) for (let i = c.start; i <= c.end; i++) reported.add(i);
    expect([...reported].filter((i) => judged.has(i)).sort((a, b) => a - b)).toEqual(
      lost.sort((a, b) => a - b),
    );
    expect(frames.some((f) => f.recovered)).toBe(true);
    // every loss: the next frame sent after the report is a key frame (or one is already on its way)
    for (const c of corrupt.filter((x) => judged.has(x.end))) {
      const next = sent.find((e) => e.t >= c.t && e.keyframe === true);
      expect(next, `key frame after ${c.start}-${c.end}`).toBeDefined();
    }
    const outcomes = new Set(log.filter((e) => e.event === 'keyframe').map((e) => e.outcome));
    expect(outcomes.has('restart')).toBe(true);
  });

  it('key frame requests: restart, then pending until it leaves, then held while it travels', () => {
    const { av, log, run, pair } = setup(0, 1);
    av.start(pair.now);
    run(200);
    const k = () => log.filter((e) => e.event === 'keyframe').at(-1);
    av.keyframeRequest('CORRUPTFRAME', pair.now);
    expect(k()).toMatchObject({ request: 'CORRUPTFRAME', outcome: 'restart', clipFrame: 60 });
    av.keyframeRequest('IDRREQUEST', pair.now);
    expect(k()).toMatchObject({ request: 'IDRREQUEST', outcome: 'pending' });
    run(20);
    const key = log.filter((e) => e.event === 'frame-sent' && e.keyframe === true).at(-1);
    expect(key).toMatchObject({ clipFrame: 60 });
    av.keyframeRequest('IDRREQUEST', pair.now);
    expect(k()).toMatchObject({ outcome: 'held' });
  });

  it('a PS5 asking for H.265 gets the HEVC clip; a PS4 asking for it gets H.264; an odd frame rate streams at 60', () => {
    const hevc = setup(0, 1, spec({ codec: 'h265' }), 1000100);
    expect(hevc.av.streamer.codec).toBe('h265');
    hevc.av.start(hevc.pair.now);
    hevc.run(200);
    expect(hevc.frames[0].keyframe).toBe(true);
    expect(setup(0, 1, spec({ codec: 'h265' }), 1000).av.streamer.codec).toBe('h264');
    expect(setup(0, 1, spec({ maxFps: 0 })).av.streamer.fps).toBe(60);
    const small = setup(0, 1, spec({ width: 960, height: 540 }));
    expect(small.av.streamer.width).toBe(1280);
    expect(small.log.some((e) => e.event === 'stream' && /960x540/.test(String(e.warning)))).toBe(true);
  });
});
