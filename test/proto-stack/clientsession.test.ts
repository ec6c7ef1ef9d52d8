// The whole stream session with no sockets and a test clock: ClientSession against ConsoleGate +
// ConsoleSession (the machines the client driver and the simulator drive). Checks the timing
// rules end to end: SESSION_ID after the answer, heartbeats both ways every second, congestion
// every 200 ms, feedback decoded by the console, AV frames from the fixture clip, zero GMAC
// failures, DISCONNECT, standby, and "console lost" within 5 s.
import { describe, expect, it } from 'vitest';
import { IDLE_STATE, withButton } from '../../src/proto-stack/controller.js';
import { ConsoleRefusedError } from '../../src/proto-stack/errors.js';
import { REASON } from '../../src/proto-stack/reason.js';
import { baseType, readKeyPosLow, TAKION_PORT, TakionType } from '../../src/proto-stack/takion.js';
import { type DropRecord, fecOutcome } from '../../src/simulator/faults.js';
import { PAIRED, SessionPair } from '../helpers/session-pair.js';

function streaming(target: 1000 | 1000100): SessionPair {
  const p = new SessionPair({ target });
  p.client.start(p.now);
  p.advance(1000);
  expect(p.client.state).toBe('streaming');
  return p;
}

describe.each([1000, 1000100] as const)('ClientSession <-> ConsoleSession in memory, target %i', (target) => {
  it('SESSION_ID after the answer, handshake, heartbeats, feedback, congestion, AV, zero GMAC failures, DISCONNECT', () => {
    const p = new SessionPair({ target });
    p.client.start(p.now);
    const answeredAt = p.now;
    p.advance(1000);
    expect(p.clientOf('state').map((e) => e.state)).toEqual([
      'requesting',
      'ctrl',
      'probing',
      'takion',
      'handshake',
      'streaming',
    ]);
    const sid = p.consoleOf('ctrlSent').find((e) => e.message === 'SESSION_ID');
    expect(sid?.at).toBeGreaterThanOrEqual(answeredAt + 300); // never in the answer's write
    const info = p.clientOf('streamInfo')[0];
    expect(info.info).toMatchObject({ width: 1280, height: 720, fps: 60, codec: 'h264' });
    expect(info.info.serverType).toBe(target === 1000 ? 'PS4' : 'PS5');

    p.client.setController(withButton(IDLE_STATE, 'cross', true), p.now);
    p.client.setController(IDLE_STATE, p.now);
    p.advance(5000);
    const cs = p.client.stats(p.now);
    expect(p.client.heartbeats.streamReceived).toBeGreaterThanOrEqual(5);
    expect(p.client.heartbeats.ctrlReceived).toBeGreaterThanOrEqual(5);
    const hbConsole = p.consoleOf('streamReceived').filter((e) => e.message.type === 'heartbeat').length;
    expect(hbConsole).toBeGreaterThanOrEqual(5);
    expect(
      p.consoleOf('ctrlReceived').filter((e) => e.name === 'HEARTBEAT_REP').length,
    ).toBeGreaterThanOrEqual(5);
    // congestion every 200 ms: about 25 in 5 s
    const sstats = p.console?.stats();
    expect(sstats?.congestion).toBeGreaterThanOrEqual(24);
    expect(p.consoleOf('controller').map((e) => e.event)).toEqual([
      { type: 'controller', button: 'cross', pressed: true },
      { type: 'controller', button: 'cross', pressed: false },
    ]);
    // the clip streams at 60 fps and arrives whole; the first frame is a key frame with its SPS/PPS
    const video = p.clientOf('video');
    expect(video.length).toBeGreaterThanOrEqual(5.5 * 60);
    expect(video[0].frame.keyframe).toBe(true);
    expect(cs.video.lost).toBe(0);
    expect(p.clientOf('opus').length).toBeGreaterThan(200);
    // CONNECTIONQUALITY every second reaches the client as a console message
    expect(
      p.clientOf('console').filter((e) => e.message.type === 'connectionQuality').length,
    ).toBeGreaterThanOrEqual(5);

    p.client.close(p.now);
    p.advance(100);
    expect(p.consoleOf('ended').at(-1)?.reason).toBe('client disconnected ("Client Disconnecting")');
    const closed = p.clientOf('closed');
    expect(closed).toHaveLength(1);
    expect(closed[0].reason).toEqual({ code: 'user', message: 'disconnected by the user' });
    expect(cs.packets.forged).toBe(0);
    expect(p.console?.stats().gmacFailures).toBe(0);
    expect(p.console?.stats().retransmits).toBe(0);
    expect(p.clientOf('warning')).toEqual([]);
  });

  it('a console that goes silent is reported lost within 5 s', () => {
    const p = streaming(target);
    p.vanish();
    const from = p.now;
    p.advance(6000);
    const closed = p.clientOf('closed')[0];
    expect(closed.reason.code).toBe('console-lost');
    expect(closed.reason.message).toMatch(/^console lost: no stream traffic/);
    const at = p.clientEvents.find((e) => e.type === 'closed')?.at ?? Number.POSITIVE_INFINITY;
    expect(at - from).toBeLessThanOrEqual(5000);
  });

  it('standby: GOTO_BED on ctrl first, then DISCONNECT', () => {
    const p = streaming(target);
    p.client.standby(p.now);
    p.advance(1000);
    const bed = p.consoleOf('ctrlReceived').find((e) => e.name === 'GOTO_BED');
    const ended = p.consoleOf('ended')[0];
    expect(bed).toBeDefined();
    expect(ended.reason).toBe('client disconnected ("Client Disconnecting")');
    expect(ended.at).toBeGreaterThan(bed?.at ?? Number.POSITIVE_INFINITY);
    expect(p.clientOf('closed')[0].reason.code).toBe('user');
  });
});

describe('ClientSession refusals and retries', () => {
  it('an unpaired client is refused at session init with a hint to pair again; nothing else is sent', () => {
    const p = new SessionPair({ target: 1000100, paired: [{ ...PAIRED, registKey: '0011223344556677' }] });
    p.client.start(p.now);
    p.advance(100);
    const closed = p.clientOf('closed')[0].reason;
    expect(closed.code).toBe('error');
    if (closed.code !== 'error') return;
    expect(closed.error).toBeInstanceOf(ConsoleRefusedError);
    expect((closed.error as ConsoleRefusedError).reason).toBe(REASON.invalidPsnId);
    expect(closed.error.hint).toMatch(/pair again/);
    expect(p.console).toBeUndefined();
    expect(p.sent.c2s).toEqual([]);
  });

  it('a PS4 asked with the wrong RP-Version is asked again with the version it names', () => {
    // the profile says PS4 8.0 (target 800); the console is a PS4 on 10.0 (target 1000)
    const p = new SessionPair({ target: 1000, client: { target: 800 } });
    p.client.start(p.now);
    p.advance(1000);
    expect(p.client.state).toBe('streaming');
    expect(p.clientOf('state').filter((e) => e.state === 'requesting').length).toBeGreaterThanOrEqual(1);
  });

  it('a console that never answers the session request: a typed error after 5 s', () => {
    const p = new SessionPair({ target: 1000100 });
    p.vanish();
    p.client.start(p.now);
    p.advance(6000);
    const closed = p.clientOf('closed')[0];
    expect(closed.reason.code).toBe('error');
    expect(closed.reason.message).toMatch(/no answer .* within 5 s/);
    expect(closed.at - 10_000).toBeLessThanOrEqual(5000);
  });

  it('AV datagrams leave the console in key_pos order', () => {
    const p = streaming(1000100);
    p.advance(2000);
    let last = -1;
    let av = 0;
    for (const d of p.sent.s2c) {
      const t = baseType(d);
      if (t !== TakionType.Video && t !== TakionType.Audio) continue;
      const kp = readKeyPosLow(d) ?? -1;
      av++;
      expect(kp).toBeGreaterThan(last);
      last = kp;
    }
    expect(av).toBeGreaterThan(100);
  });
});

describe('what the console is and how it numbers its messages', () => {
  it('a console whose first DATA TSN is not its tag: BANG is recognised by what it is', () => {
    const p = new SessionPair({ target: 1000100, console: { takionInitialTsn: 0x1234_5678 } });
    p.client.start(p.now);
    p.advance(1000);
    expect(p.client.state).toBe('streaming');
    expect(p.clientOf('video').length).toBeGreaterThan(10);
    expect(p.client.stats(p.now).packets.forged).toBe(0);
  });

  it('1080p from a PS4 Pro streams 1080p; a plain PS4 is asked for 720p instead, with a warning', () => {
    const pro = new SessionPair({ target: 1000, pro: true, client: { resolution: '1080p', fps: 60 } });
    pro.client.start(pro.now);
    pro.advance(1000);
    expect(pro.clientOf('streamInfo')[0].info).toMatchObject({
      width: 1920,
      height: 1080,
      serverType: 'PS4 Pro',
    });
    expect(pro.consoleOf('big')[0].launchSpec).toMatchObject({ width: 1920, height: 1080 });
    expect(pro.clientOf('warning')).toEqual([]);

    const plain = new SessionPair({
      target: 1000,
      client: { resolution: '1080p', fps: 60, bitrateKbps: 12_000 },
    });
    plain.client.start(plain.now);
    plain.advance(1000);
    expect(plain.consoleOf('big')[0].launchSpec).toMatchObject({
      width: 1280,
      height: 720,
      bitrateKbps: 12_000,
    });
    expect(plain.clientOf('streamInfo')[0].info).toMatchObject({
      width: 1280,
      height: 720,
      serverType: 'PS4',
    });
    expect(plain.clientOf('warning').map((w) => w.message)).toEqual([
      'the console is a PS4, not a PS4 Pro: streaming 720p instead of 1080p',
    ]);
  });
});

describe('Senkusha before the stream', () => {
  it('measures the path MTU and puts it, with the RTT, into the launch spec', () => {
    const p = new SessionPair({ target: 1000100, console: { pathMtu: 1200 } });
    p.client.start(p.now);
    p.advance(3000);
    expect(p.client.state).toBe('streaming');
    const probe = p.client.stats(p.now).probe;
    expect(probe).toMatchObject({ measured: true, mtu: 1200 });
    expect(p.consoleOf('big')[0].launchSpec).toMatchObject({ mtu: 1200, rtt: 1 });
    expect(p.consoleOf('senkusha').map((e) => e.event.type)).toContain('mtuRequest');
    expect(p.clientOf('warning')).toEqual([]);
  });

  it('a console with nothing on UDP 9297: the stream starts with MTU 1454 / RTT 1 ms within 2 s', () => {
    const p = new SessionPair({ target: 1000100, noSenkushaListener: true });
    p.client.start(p.now);
    p.advance(4000);
    const probing = p.clientEvents.find((e) => e.type === 'state' && e.state === 'probing');
    const takion = p.clientEvents.find((e) => e.type === 'state' && e.state === 'takion');
    expect((takion?.at ?? Number.POSITIVE_INFINITY) - (probing?.at ?? 0)).toBeLessThanOrEqual(2000);
    expect(p.client.state).toBe('streaming');
    expect(p.client.stats(p.now).probe).toEqual({ measured: false, rttMs: 1, mtu: 1454 });
    expect(p.consoleOf('big')[0].launchSpec).toMatchObject({ mtu: 1454, rtt: 1 });
    expect(
      p
        .clientOf('warning')
        .map((w) => w.message)
        .join('\n'),
    ).toMatch(/no RTT\/MTU measurement/);
  });

  it('--no-senkusha goes straight to the stream', () => {
    const p = new SessionPair({ target: 1000, client: { senkusha: false } });
    p.client.start(p.now);
    p.advance(1000);
    expect(p.clientOf('state').map((e) => e.state)).not.toContain('probing');
    expect(p.consoleOf('senkusha')).toEqual([]);
    expect(p.client.state).toBe('streaming');
  });
});

describe('datagram counters', () => {
  it('received counts only authenticated datagrams; forged and malformed ones are counted apart', () => {
    const p = new SessionPair({ target: 1000100 });
    p.client.start(p.now);
    p.advance(1500);
    const before = p.client.stats(p.now).packets;
    const av = p.sent.s2c.filter((d) => baseType(d) === TakionType.Video).at(-1) as Uint8Array;
    const forged = av.slice();
    forged[forged.length - 1] ^= 0x40; // payload changed, tag kept: the GMAC no longer matches
    const garbage = Uint8Array.of(0x00, 0x01);
    for (const bytes of [forged, forged, garbage])
      p.client.handle({ type: 'udp', port: TAKION_PORT, bytes }, p.now);
    const after = p.client.stats(p.now).packets;
    expect(after.forged - before.forged).toBe(2);
    expect(after.malformed - before.malformed).toBe(1);
    expect(after.received).toBe(before.received);
    expect(before.received).toBeGreaterThan(100);
  });
});

describe('a bad network: 10 % loss, 5 % reordered, 5 % duplicated, 50 ms jitter', () => {
  it('every FEC-recoverable frame is rebuilt, and the loss reported to the console is the real loss', () => {
    const p = new SessionPair({
      target: 1000100,
      client: { resolution: '1080p', bitrateKbps: 15_000, senkusha: false },
      faults: { loss: 0.1, reorder: 0.05, dup: 0.05, jitterMs: 50, seed: 11 },
    });
    p.client.start(p.now);
    p.advance(10_000, 2);
    const drops = p.simLog.filter((e) => e.event === 'drop') as unknown as DropRecord[];
    const outcome = fecOutcome(drops);
    // the last frames may still be in flight when the run stops
    const judged = p.simLog.filter((e) => e.event === 'frame-sent').slice(0, -10);
    const recoverable = judged.filter((e) => outcome.get(e.frameIndex as number)?.recoverable !== false);
    const unrecoverable = judged.length - recoverable.length;
    expect(unrecoverable).toBeGreaterThan(0);
    const corrupt = new Set<number>();
    for (const c of p.consoleOf('streamReceived'))
      if (c.message.type === 'corruptFrame')
        for (let i = c.message.start; i <= c.message.end; i++) corrupt.add(i);
    // none of them was ever reported corrupt: each was rebuilt (delivered, or dropped while the
    // decoder waited for a key frame after an unrecoverable one)
    expect(recoverable.filter((e) => corrupt.has(e.frameIndex as number))).toEqual([]);
    const st = p.client.stats(p.now);
    expect(st.video.frames + st.video.skipped).toBeGreaterThanOrEqual(recoverable.length);
    expect(st.video.recovered).toBeGreaterThan(100);
    // what the client tells the console it lost is what the network dropped, within 10 %
    expect(st.packets.lost).toBeGreaterThan(drops.length * 0.9);
    expect(st.packets.lost).toBeLessThan(drops.length * 1.1);
  });
});

describe('closing in every phase', () => {
  const phases = ['requesting', 'ctrl', 'probing', 'takion', 'handshake', 'streaming'] as const;
  it.each(phases)(
    'close() while %s: the console ends the session; a DISCONNECT it can verify once BIG went out',
    (phase) => {
      const p = new SessionPair({ target: 1000100 });
      let closedIn: string | undefined;
      // the user leaves the moment the client enters the phase (as a signal handler would)
      p.onClientEvent = (e) => {
        if (e.type !== 'state' || e.state !== phase || closedIn) return;
        closedIn = e.state;
        p.client.close(p.now);
      };
      p.client.start(p.now);
      p.advance(3000);
      expect(closedIn).toBe(phase);
      const bigSent = phase === 'handshake' || phase === 'streaming';
      expect(p.clientOf('closed')[0].reason.code).toBe('user');
      const before = p.console?.stats();
      if (p.console) expect(p.consoleOf('ended')).toHaveLength(1);
      const disconnects = p.consoleOf('streamReceived').filter((e) => e.message.type === 'disconnect');
      expect(disconnects).toHaveLength(bigSent ? 1 : 0);
      if (bigSent)
        expect(p.consoleOf('ended')[0].reason).toBe('client disconnected ("Client Disconnecting")');
      // nothing the console could not verify
      expect(before?.gmacFailures ?? 0).toBe(0);
    },
  );
});
