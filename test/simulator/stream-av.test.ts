// The simulator's AV (clip source, network faults, log) in a whole session in memory: the clip's
// frames go out only after STREAMINFOACK, every drop is logged with its frame/unit numbers, the
// client reports exactly the frames FEC cannot rebuild, and key frame requests restart the clip
// (or are logged as pending/held).
import { describe, expect, it } from 'vitest';
import type { ParsedLaunchSpec } from '../../src/proto-stack/launchspec.js';
import { EventLog } from '../../src/simulator/events.js';
import { type DropRecord, fecOutcome } from '../../src/simulator/faults.js';
import { clipSource } from '../../src/simulator/stream-av.js';
import { SessionPair, type SessionPairOptions } from '../helpers/session-pair.js';

function session(o: Partial<SessionPairOptions> = {}): SessionPair {
  const p = new SessionPair({ target: 1000, ...o });
  p.client.start(p.now);
  return p;
}

const events = (p: SessionPair, name: string) => p.simLog.filter((e) => e.event === name);

describe('simulator AV in a session', () => {
  it('sends nothing before STREAMINFOACK, then the clip at 60 fps with its audio; frames arrive whole', () => {
    const p = session();
    p.drive();
    expect(events(p, 'frame-sent')).toHaveLength(0);
    p.advance(1000);
    const ack = p.consoleOf('streamReceived').find((e) => e.message.type === 'streamInfoAck');
    const sent = events(p, 'frame-sent');
    expect(ack).toBeDefined();
    // the schedule starts with the AV: the handshake before it is owed no frames
    expect(sent.length).toBeGreaterThanOrEqual(Math.floor((p.now - (ack?.at ?? 0)) / (1000 / 60)));
    expect(sent.length).toBeLessThanOrEqual(Math.ceil((p.now - (ack?.at ?? 0)) / (1000 / 60)) + 1);
    expect(sent.map((e) => e.frameIndex)).toEqual(sent.map((_, i) => i + 1));
    expect(sent[0]).toMatchObject({ keyframe: true, clipFrame: 0 });
    expect(events(p, 'drop')).toEqual([]);
    const frames = p.clientOf('video').map((e) => e.frame);
    expect(frames.length).toBeGreaterThanOrEqual(sent.length - 2);
    expect(frames.every((f) => !f.recovered)).toBe(true);
    // the first frame carries the clip's SPS/PPS (the STREAMINFO header) in front
    expect(frames[0].keyframe).toBe(true);
    expect(p.console?.stats().av?.audioPackets).toBeGreaterThan(20);
    expect(events(p, 'stream').find((e) => e.action === 'media')).toMatchObject({
      clip: 'testsrc-720p60.h264',
      codec: 'h264',
      width: 1280,
      height: 720,
      fps: 60,
    });
  });

  it('under 10 % loss the client reports exactly the frames FEC cannot rebuild, and a key frame follows each report', () => {
    const p = session({ faults: { loss: 0.1, seed: 4 } });
    p.advance(3500);
    const drops = events(p, 'drop') as unknown as DropRecord[];
    expect(drops.length).toBe(p.network.stats().dropped);
    const sent = events(p, 'frame-sent');
    const judged = new Set(sent.slice(0, -3).map((e) => e.frameIndex as number));
    const outcome = [...fecOutcome(drops).values()].filter((o) => judged.has(o.frameIndex));
    const lost = outcome.filter((o) => !o.recoverable).map((o) => o.frameIndex);
    expect(lost.length).toBeGreaterThan(0);
    const reported = new Set<number>();
    const corrupt = p.consoleOf('streamReceived').filter((e) => e.message.type === 'corruptFrame');
    for (const c of corrupt)
      if (c.message.type === 'corruptFrame')
        for (let i = c.message.start; i <= c.message.end; i++) reported.add(i);
    expect([...reported].filter((i) => judged.has(i)).sort((a, b) => a - b)).toEqual(
      lost.sort((a, b) => a - b),
    );
    expect(p.clientOf('video').some((f) => f.frame.recovered)).toBe(true);
    // every loss: the next frame sent after the report is a key frame (or one is already on its way)
    for (const c of corrupt) {
      if (c.message.type !== 'corruptFrame' || !judged.has(c.message.end)) continue;
      const next = sent.find((e) => e.t >= c.at && e.keyframe === true);
      expect(next, `key frame after ${c.message.start}-${c.message.end}`).toBeDefined();
    }
    const outcomes = new Set(events(p, 'keyframe').map((e) => e.outcome));
    expect(outcomes.has('restart')).toBe(true);
  });

  it('key frame requests: restart, then pending until it leaves, then held while it travels', () => {
    const p = session();
    p.advance(1200);
    const k = () => events(p, 'keyframe').at(-1);
    p.client.requestIdr(p.now);
    p.drive();
    expect(k()).toMatchObject({ request: 'IDRREQUEST', outcome: 'restart' });
    const clipFrame = k()?.clipFrame;
    p.client.requestIdr(p.now);
    p.drive();
    expect(k()).toMatchObject({ request: 'IDRREQUEST', outcome: 'pending' });
    p.advance(20);
    const key = events(p, 'frame-sent')
      .filter((e) => e.keyframe === true)
      .at(-1);
    expect(key).toMatchObject({ clipFrame });
    p.client.requestIdr(p.now);
    p.drive();
    expect(k()).toMatchObject({ outcome: 'held' });
  });

  it('a PS5 asking for H.265 gets the HEVC clip and plays it from its first key frame', () => {
    const p = session({ target: 1000100, client: { codec: 'h265' } });
    p.advance(1200);
    expect(events(p, 'stream').find((e) => e.action === 'media')).toMatchObject({ codec: 'h265' });
    expect(p.clientOf('video')[0].frame.keyframe).toBe(true);
  });
});

describe('clipSource', () => {
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

  it('a PS4 asking for H.265 gets H.264; an odd frame rate streams at 60; a size without a clip says so', () => {
    const log = new EventLog();
    const lines: string[] = [];
    log.on((e) => lines.push(JSON.stringify(e)));
    expect(clipSource(spec({ codec: 'h265' }), 1000, log, {}, 0).codec).toBe('h264');
    expect(clipSource(spec({ codec: 'h265' }), 1000100, log, {}, 0).codec).toBe('h265');
    expect(clipSource(spec({ maxFps: 0 }), 1000, log, {}, 0).fps).toBe(60);
    expect(clipSource(spec({ width: 960, height: 540 }), 1000, log, {}, 0).width).toBe(1280);
    expect(lines.some((l) => /960x540/.test(l))).toBe(true);
  });
});
