// What the simulated console sends besides video and audio, through a real RemotePlaySession on
// loopback (127.0.0.60..62): CONNECTIONQUALITY every second (loss = datagrams the fault injector
// dropped), rumble DATA messages (type 7), and the on-screen keyboard over ctrl (open, the
// client's text, accept). Plus the CLI's checks of --rumble-every / --keyboard-after.
import { describe, expect, it } from 'vitest';
import { RemotePlaySession, type RemotePlaySessionOptions } from '../../src/client/session.js';
import type { ConsoleMessage } from '../../src/common/session-api.js';
import type { SimEvent } from '../../src/simulator/events.js';
import { SimulatedConsole } from '../../src/simulator/index.js';
import { type StreamServiceOptions, startStreamService } from '../../src/simulator/stream.js';
import { runStateless, useHarness } from '../helpers/cli.js';

const h = useHarness();
const REGIST_KEY = '3132333435363738';
const MORNING = '00112233445566778899aabbccddeeff';

/** A paired simulated console with its stream service, and its event log. */
async function startConsole(host: string, kind: 'PS4' | 'PS5', opts: StreamServiceOptions) {
  const sim = await SimulatedConsole.start({ host, kind, pin: '12345678' });
  h.defer(() => sim.stop());
  const events: SimEvent[] = [];
  sim.events.on((e) => events.push(e));
  await startStreamService(sim, opts);
  await sim.state.addPairing({
    accountId: 'AAAAAAAAAAA=',
    registKey: REGIST_KEY,
    morning: MORNING,
    pairedAt: new Date().toISOString(),
  });
  return events;
}

/** A streaming session and the console messages it emitted. */
async function stream(host: string, target: RemotePlaySessionOptions['target']) {
  const s = new RemotePlaySession({
    host,
    target,
    registKey: REGIST_KEY,
    rpKey: MORNING,
    localAddress: '127.0.0.1',
    resolution: '720p',
    fps: 30,
    bitrateKbps: 5000,
  });
  h.defer(() => s.disconnect());
  const messages: ConsoleMessage[] = [];
  s.on('console', (m) => messages.push(m));
  await s.start();
  expect(s.state).toBe('streaming');
  return { s, messages };
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function ofType<T extends ConsoleMessage['type']>(messages: ConsoleMessage[], type: T) {
  return messages.filter((m): m is Extract<ConsoleMessage, { type: T }> => m.type === type);
}

describe('console -> client messages from the simulator', () => {
  it('CONNECTIONQUALITY every second: target bitrate of the launch spec, rtt, dropped datagrams', async () => {
    const events = await startConsole('127.0.0.60', 'PS5', { faults: { loss: 0.1, seed: 7 } });
    const { s, messages } = await stream('127.0.0.60', 1000100);
    const started = Date.now();
    await until(() => ofType(messages, 'connectionQuality').length >= 2, 'two CONNECTIONQUALITY', 4000);
    // the first one comes a second after streaming started, not at once
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    const got = ofType(messages, 'connectionQuality');
    const sent = events.filter((e) => e.event === 'stream' && e.message === 'CONNECTIONQUALITY');
    expect(sent.length).toBeGreaterThanOrEqual(got.length);
    for (const [i, q] of got.entries()) {
      // bit/s on the wire, kbit/s for the session's users
      expect(sent[i]).toMatchObject({ dir: 'out', targetBitrate: 5_000_000, loss: q.loss, rtt: q.rttMs });
      expect(q.targetBitrateKbps).toBe(5000);
      expect(q.rttMs).toBeGreaterThan(0);
      expect(Number.isInteger(q.loss)).toBe(true);
    }
    // 10 % of some hundred AV datagrams a second: the counts are the injector's drops, no more
    const reported = got.reduce((n, q) => n + q.loss, 0);
    expect(reported).toBeGreaterThan(0);
    expect(reported).toBeLessThanOrEqual(events.filter((e) => e.event === 'drop').length);
    expect(s.state).toBe('streaming');
  });

  it('rumble every 200 ms alternates on and off, counted in stats.rumble', async () => {
    const events = await startConsole('127.0.0.61', 'PS4', { rumbleEveryMs: 200 });
    const { s, messages } = await stream('127.0.0.61', 1000);
    await until(() => s.stats.rumble >= 3, 'three rumble messages');
    const rumble = ofType(messages, 'rumble');
    expect(rumble.length).toBe(s.stats.rumble);
    expect(rumble.slice(0, 3)).toEqual([
      { type: 'rumble', left: 0xc0, right: 0x40 },
      { type: 'rumble', left: 0, right: 0 },
      { type: 'rumble', left: 0xc0, right: 0x40 },
    ]);
    const sent = events.filter((e) => e.event === 'rumble');
    expect(sent.slice(0, 3).map((e) => [e.left, e.right])).toEqual([
      [0xc0, 0x40],
      [0, 0],
      [0xc0, 0x40],
    ]);
  });

  it('the keyboard opens after streaming started; the text and the accept reach the console', async () => {
    const events = await startConsole('127.0.0.62', 'PS5', { keyboardAfterMs: 300 });
    const { s, messages } = await stream('127.0.0.62', 1000100);
    const started = Date.now();
    expect(ofType(messages, 'keyboardOpen')).toEqual([]);
    await until(() => ofType(messages, 'keyboardOpen').length === 1, 'keyboardOpen');
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    s.keyboardSetText('hello');
    // the console echoes the text it took
    await until(() => ofType(messages, 'keyboardText').some((m) => m.text === 'hello'), 'keyboardText');
    s.keyboardAccept();
    await until(() => events.some((e) => e.event === 'keyboard' && e.action === 'close'), 'keyboard close');
    const keyboard = events
      .filter((e) => e.event === 'keyboard')
      .map(({ dir, action, text, accepted }) => ({ dir, action, text, accepted }));
    expect(keyboard).toEqual([
      { dir: 'out', action: 'open', text: '', accepted: undefined },
      { dir: 'in', action: 'text', text: 'hello', accepted: undefined },
      { dir: 'in', action: 'close', text: undefined, accepted: true },
    ]);
  });

  it('rptui simulate refuses a bad --rumble-every / --keyboard-after with a usage error', async () => {
    for (const args of [
      ['--rumble-every', '0'],
      ['--keyboard-after', 'soon'],
    ]) {
      const r = await runStateless('simulate', '--host', '127.0.0.63', ...args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`${args[0]} takes seconds`);
    }
  });
});
