// RemotePlaySession (src/client/session.ts) against an in-process simulated console with its
// stream service (src/simulator/stream.ts) on 127.0.0.14 (PS5) and 127.0.0.15 (PS4): the whole
// session over real loopback sockets (session init, ctrl, Takion, BIG/BANG/STREAMINFO,
// heartbeats, feedback, congestion, DISCONNECT), refusals, one client at a time, tampering.
// Plus the Takion rule the session depends on: an untagged pre-crypt chunk resent after the
// crypt switch is a duplicate, not a GMAC failure.
import { describe, expect, it } from 'vitest';
import { RemotePlaySession, type RemotePlaySessionOptions } from '../../src/client/session.js';
import type {
  CloseReason,
  ConsoleMessage,
  SessionState,
  SessionStats,
  StreamInfo,
} from '../../src/common/session-api.js';
import { IDLE_STATE, withButton, withStick } from '../../src/proto-stack/controller.js';
import { ConsoleRefusedError, UsageError } from '../../src/proto-stack/errors.js';
import { ChunkType } from '../../src/proto-stack/takion.js';
import type { SimEvent } from '../../src/simulator/events.js';
import { SimulatedConsole } from '../../src/simulator/index.js';
import { startStreamService } from '../../src/simulator/stream.js';
import { useHarness } from '../helpers/cli.js';
import { TakionPair } from '../helpers/takion-pair.js';

const h = useHarness();
const REGIST_KEY = '3132333435363738';
const MORNING = '00112233445566778899aabbccddeeff';

async function console_(host: string, kind: 'PS4' | 'PS5', tamperAfter?: number, loginPin?: string) {
  const sim = await SimulatedConsole.start({ host, kind, pin: '12345678' });
  h.defer(() => sim.stop());
  const events: SimEvent[] = [];
  sim.events.on((e) => events.push(e));
  await startStreamService(sim, { tamperAfter, loginPin, statsIntervalMs: 300 });
  await sim.state.addPairing({
    accountId: 'AAAAAAAAAAA=',
    registKey: REGIST_KEY,
    morning: MORNING,
    pairedAt: new Date().toISOString(),
  });
  return { sim, events };
}

function session(
  host: string,
  target: RemotePlaySessionOptions['target'],
  o: Partial<RemotePlaySessionOptions> = {},
) {
  const s = new RemotePlaySession({
    host,
    target,
    registKey: REGIST_KEY,
    rpKey: MORNING,
    localAddress: '127.0.0.1',
    ...o,
  });
  h.defer(() => s.disconnect());
  const log = {
    states: [] as SessionState[],
    info: [] as StreamInfo[],
    stats: [] as SessionStats[],
    console: [] as ConsoleMessage[],
    warnings: [] as string[],
    closed: [] as CloseReason[],
  };
  s.on('state', (x) => log.states.push(x));
  s.on('streamInfo', (x) => log.info.push(x));
  s.on('stats', (x) => log.stats.push(x));
  s.on('console', (x) => log.console.push(x));
  s.on('warning', (x) => log.warnings.push(x));
  s.on('closed', (x) => log.closed.push(x));
  return { s, log };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

const streamIn = (events: SimEvent[], message: string) =>
  events.filter((e) => e.event === 'stream' && e.dir === 'in' && e.message === message);

describe.each([
  { kind: 'PS5' as const, host: '127.0.0.14', target: 1000100 as const, version: 12 },
  { kind: 'PS4' as const, host: '127.0.0.15', target: 1000 as const, version: 9 },
])('RemotePlaySession with a simulated $kind', ({ kind, host, target, version }) => {
  it('streams: handshake, stream info, heartbeats, feedback and IDR request reach the console, clean DISCONNECT', async () => {
    const { events } = await console_(host, kind);
    const { s, log } = session(host, target, { resolution: '540p', fps: 30, bitrateKbps: 5000 });
    expect(s.state).toBe('idle');
    await s.start();
    expect(s.state).toBe('streaming');
    expect(log.states).toEqual(['requesting', 'ctrl', 'probing', 'takion', 'handshake', 'streaming']);
    // the simulator has no 540p clip: STREAMINFO announces the 720p one it streams, and the
    // fixture's 20 ms Opus packets
    expect(log.info).toEqual([
      {
        width: 1280,
        height: 720,
        fps: 30,
        codec: 'h264',
        bitrateKbps: 5000,
        audio: { channels: 2, sampleRate: 48000, frameSize: 960 },
        serverType: kind,
      },
    ]);
    const big = streamIn(events, 'BIG')[0];
    expect(big).toMatchObject({
      clientVersion: version,
      width: 960,
      height: 540,
      fps: 30,
      bitrateKbps: 5000,
    });

    // a button press and a stick move travel as encrypted, tagged feedback and come out decoded
    s.setController(withStick(withButton(IDLE_STATE, 'cross', true), 'left', 1000, -2000));
    s.setController(IDLE_STATE);
    s.requestIdr();
    await sleep(1300);
    const controller = events.filter((e) => e.event === 'controller');
    expect(controller).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ button: 'cross', pressed: true }),
        expect.objectContaining({ button: 'cross', pressed: false }),
        expect.objectContaining({ stick: 'left', x: 1000, y: -2000 }),
      ]),
    );
    expect(streamIn(events, 'IDRREQUEST')).toHaveLength(1);
    expect(streamIn(events, 'IDRREQUEST')[0].channel).toBe(2);
    expect(streamIn(events, 'HEARTBEAT').length).toBeGreaterThanOrEqual(1);
    expect(s.heartbeats.streamReceived).toBeGreaterThanOrEqual(1);
    expect(s.heartbeats.ctrlReceived).toBeGreaterThanOrEqual(1);
    // stats every 500 ms, with the uptime growing
    expect(log.stats.length).toBeGreaterThanOrEqual(2);
    expect(log.stats.at(-1)?.uptimeMs).toBeGreaterThan(log.stats[0].uptimeMs);
    expect(s.stats.packets.received).toBeGreaterThan(5);
    const periodic = events.filter((e) => e.event === 'stats' && !e.final);
    expect(periodic.at(-1)?.congestion).toBeGreaterThanOrEqual(4);

    await s.disconnect();
    expect(s.state).toBe('closed');
    expect(log.closed).toEqual([{ code: 'user', message: 'disconnected by the user' }]);
    await until(() => streamIn(events, 'DISCONNECT').length === 1);
    expect(streamIn(events, 'DISCONNECT')[0].reason).toBe('Client Disconnecting');
    const fin = events.find((e) => e.event === 'stats' && e.final);
    expect(fin?.gmacFailures).toBe(0);
    expect(s.stats.packets.forged).toBe(0);
    expect(log.warnings).toEqual([]);
    // the DISCONNECT was acknowledged: nothing resent to a console that ended the session
    await sleep(300);
    expect(events.filter((e) => e.event === 'ignored' && e.proto === 'takion')).toEqual([]);
  });
});

describe('refusals and limits (PS5 on 127.0.0.14)', () => {
  const host = '127.0.0.14';

  it('an unknown RegistKey is refused at session init, a wrong RP-Key at the ctrl request', async () => {
    const { events } = await console_(host, 'PS5');
    const a = session(host, 1000100, { registKey: '3132333435363739' });
    const e1 = await a.s.start().catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ConsoleRefusedError);
    expect((e1 as ConsoleRefusedError).reason).toBe(0x80108b02);
    expect((e1 as Error).message).toBe(
      "the console refused the session: it does not recognise this profile's pairing keys (RP-Application-Reason 80108b02)",
    );
    expect(a.s.state).toBe('closed');
    expect(a.log.closed[0].code).toBe('error');

    const b = session(host, 1000100, { rpKey: 'ff112233445566778899aabbccddeeff' });
    const e2 = await b.s.start().catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(ConsoleRefusedError);
    expect((e2 as Error).message).toMatch(/^the console refused the ctrl connection: /);
    expect(events.some((e) => e.event === 'refusal' && e.proto === 'ctrl' && e.reason === 'auth')).toBe(true);
  });

  it('one client at a time: a second session while one streams is "in use"', async () => {
    await console_(host, 'PS5');
    const a = session(host, 1000100);
    await a.s.start();
    const b = session(host, 1000100);
    const err = await b.s.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConsoleRefusedError);
    expect((err as ConsoleRefusedError).reason).toBe(0x80108b10);
    expect((err as Error).message).toContain('Remote Play is already in use by another client');
    expect(a.s.state).toBe('streaming');
    await a.s.disconnect();
    // free again once the first one left
    const c = session(host, 1000100);
    await c.s.start();
    await c.s.disconnect();
    expect(c.log.closed[0].code).toBe('user');
  });

  it('a tampered datagram is counted and dropped by the client, the session goes on', async () => {
    const { events } = await console_(host, 'PS5', 2);
    const { s, log } = session(host, 1000100);
    await s.start();
    await until(() => s.stats.packets.forged === 1);
    const heartbeats = s.heartbeats.streamReceived;
    await until(() => s.heartbeats.streamReceived > heartbeats, 2000);
    expect(s.state).toBe('streaming');
    await s.disconnect();
    expect(log.closed[0].code).toBe('user');
    expect(s.stats.packets.forged).toBe(1);
    expect(events.filter((e) => e.event === 'stream' && e.action === 'tampered')).toHaveLength(1);
    await until(() => events.some((e) => e.event === 'stats' && e.final));
    expect(events.find((e) => e.event === 'stats' && e.final)?.gmacFailures).toBe(0);
  });

  it('login passcode: the console asks, a wrong PIN is refused, the right one lets the stream start', async () => {
    const { events } = await console_(host, 'PS5', undefined, '4321');
    const { s, log } = session(host, 1000100);
    let asked = 0;
    s.on('console', (m) => {
      if (m.type === 'loginPinRequest') s.sendLoginPin(++asked === 1 ? '1111' : '4321');
    });
    await s.start();
    expect(log.console).toEqual([
      { type: 'loginPinRequest' },
      { type: 'loginResult', ok: false },
      { type: 'loginPinRequest' },
      { type: 'loginResult', ok: true },
    ]);
    const answers = events.filter((e) => e.event === 'ctrl' && e.message === 'LOGIN_PIN_REP');
    expect(answers.map((e) => e.correct)).toEqual([false, true]);
    expect(() => s.sendLoginPin('12')).toThrow(UsageError);
    await s.disconnect();
  });

  it('standby(): GOTO_BED puts the console to rest, then the session closes cleanly', async () => {
    const { sim, events } = await console_(host, 'PS5');
    const { s, log } = session(host, 1000100);
    await s.start();
    await s.standby();
    expect(log.closed).toEqual([{ code: 'user', message: 'standby requested (console goes to rest mode)' }]);
    await until(() => sim.power === 'standby');
    expect(events.some((e) => e.event === 'ctrl' && e.message === 'GOTO_BED')).toBe(true);
    await until(() => streamIn(events, 'DISCONNECT').length === 1);
  });

  it('reports "console lost" when the console stops, and rejects bad options up front', async () => {
    const { sim } = await console_(host, 'PS5');
    const { s, log } = session(host, 1000100);
    await s.start();
    const stopped = Date.now();
    await sim.stop();
    const reason = await s.closed();
    expect(Date.now() - stopped).toBeLessThan(5000);
    expect(reason.code).toBe('console-lost');
    expect(reason.message).toMatch(/^console lost: /);
    expect(log.closed).toHaveLength(1);
    expect(() => new RemotePlaySession({ host, target: 1000100, registKey: 'zz', rpKey: MORNING })).toThrow(
      UsageError,
    );
    expect(
      () => new RemotePlaySession({ host, target: 1000100, registKey: REGIST_KEY, rpKey: '00' }),
    ).toThrow(UsageError);
  });
});

describe('Takion: pre-crypt resends', () => {
  it('a DATA chunk sent before crypt and resent after it is re-acked as a duplicate, not counted as a GMAC failure', () => {
    const pair = new TakionPair();
    pair.connect();
    // the console's ack of the client's message is lost; then both sides switch crypt (as on BANG)
    let dropAck = true;
    pair.filter = (d, dir) => {
      if (dir === 's2c' && dropAck && d[0] === 0 && d[13] === ChunkType.DataAck) {
        dropAck = false;
        return [];
      }
      return [d];
    };
    pair.client.sendMessage(1, 0, new Uint8Array([1, 2, 3]), pair.now);
    pair.pump();
    expect(pair.messages('console')).toHaveLength(1);
    pair.setCrypt();
    pair.advance(250);
    expect(pair.client.stats.retransmits).toBeGreaterThanOrEqual(1);
    expect(pair.console.stats.gmacFailures).toBe(0);
    expect(pair.console.stats.duplicates).toBeGreaterThanOrEqual(1);
    expect(pair.client.inFlightCount).toBe(0);
    expect(pair.messages('console')).toHaveLength(1);
    // a forged packet with a wrong tag still counts
    const forged = pair.sent.c2s.at(-1)?.slice() as Uint8Array;
    forged[5] ^= 0xff;
    pair.inject('c2s', forged);
    expect(pair.console.stats.gmacFailures).toBe(1);
  });
});
