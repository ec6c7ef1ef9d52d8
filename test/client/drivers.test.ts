// The client drivers (discover, wake, register) against an in-process simulated PS5 on
// 127.0.0.5, and against a misbehaving peer on 127.0.0.6 that answers with garbage, truncated
// or no data: every failure must be a typed error, within its deadline.
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { discover, probe } from '../../src/client/discovery.js';
import { pairAndStore } from '../../src/client/pairing.js';
import { ProfileStore } from '../../src/client/profiles.js';
import { parsePin, register } from '../../src/client/regist.js';
import { wake } from '../../src/client/wake.js';
import { ascii, toHex } from '../../src/proto-stack/bytes.js';
import { wakeCredential } from '../../src/proto-stack/discovery.js';
import {
  ConfigError,
  ConsoleRefusedError,
  NetworkError,
  ParseError,
  UsageError,
} from '../../src/proto-stack/errors.js';
import { parseAccountId } from '../../src/proto-stack/regist.js';
import { SimulatedConsole } from '../../src/simulator/index.js';
import { useHarness } from '../helpers/cli.js';

const h = useHarness();
const SIM = '127.0.0.5';
const ODD = '127.0.0.6';
const PIN = 87654321;
const ACCOUNT = parseAccountId('x3HEK6t1aw8=');

async function sim(standby = false): Promise<SimulatedConsole> {
  const s = await SimulatedConsole.start({
    host: SIM,
    kind: 'PS5',
    pin: String(PIN),
    nickname: 'Lab',
    standby,
    bootMs: 100,
  });
  h.defer(() => s.stop());
  return s;
}

/** A UDP peer on ODD:port that answers every datagram with `answer` (none when undefined). */
async function udpPeer(port: number, answer: Uint8Array | undefined): Promise<void> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(port, ODD, () => r()));
  sock.on('message', (_m, rinfo) => {
    if (answer) sock.send(answer, rinfo.port, rinfo.address);
  });
  h.defer(async () => {
    sock.close();
  });
}

/** A TCP peer on ODD:9295 that does `behave` with each connection once the request arrived. */
async function tcpPeer(behave: (s: Socket) => void): Promise<void> {
  const conns = new Set<Socket>();
  const server = createServer((s) => {
    conns.add(s);
    s.once('data', () => behave(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(9295, ODD, () => r()));
  h.defer(async () => {
    for (const c of conns) c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
}

const registerOdd = () =>
  register({
    host: ODD,
    pin: PIN,
    accountId: ACCOUNT,
    kind: 'PS5',
    probeTimeoutMs: 200,
    searchTimeoutMs: 500,
    responseTimeoutMs: 400,
  });

describe('discover', () => {
  it('finds the console at a unicast address and returns at its first answer', async () => {
    const s = await sim();
    const ports: number[] = [];
    s.events.on((e) => {
      if (e.event === 'request' && e.proto === 'ddp') ports.push(e.port as number);
    });
    const seen: string[] = [];
    const t0 = Date.now();
    const list = await discover({ host: SIM, timeoutMs: 3000, onFound: (c) => seen.push(c.hostName) });
    // sent from the ports both references use (a PS5 answers there), 9303 when it is free
    expect(ports.length).toBeGreaterThan(0);
    expect(ports.every((p) => p >= 9303 && p <= 9319)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000); // the deadline is 3000
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      hostName: 'Lab',
      hostType: 'PS5',
      status: 'ready',
      address: SIM,
      hostId: s.state.data.hostId,
    });
    expect(seen).toEqual(['Lab']);
  });

  it('asks only the requested kinds, and returns nothing when nobody answers', async () => {
    await sim();
    expect(await discover({ host: SIM, timeoutMs: 300, kinds: ['PS4'] })).toEqual([]);
    expect(await probe(ODD, 300)).toBeUndefined();
  });

  it('throws a ParseError when the host answers with something that is not a discovery reply', async () => {
    await udpPeer(9302, ascii('HTTP/1.1 200 OK\nhost-name:x\n'));
    await expect(discover({ host: ODD, timeoutMs: 400 })).rejects.toBeInstanceOf(ParseError);
  });
});

describe('register', () => {
  it('pairs, learning the generation from discovery', async () => {
    const s = await sim();
    const steps: string[] = [];
    const r = await register({
      host: SIM,
      pin: PIN,
      accountId: ACCOUNT,
      kind: 'PS4',
      onStep: (t) => steps.push(t),
    });
    expect(r).toMatchObject({ kind: 'PS5', target: 1000100, address: SIM });
    expect(r.result.mac).toBe(s.state.data.hostId);
    expect(r.result.registKeyText).toBe(s.state.data.paired[0].registKey);
    expect(toHex(r.result.morning)).toBe(s.state.data.paired[0].morning);
    expect(steps[0]).toMatch(/found PS5 "Lab"/);
  });

  it('reports a wrong PIN as the console refusing, with its reason', async () => {
    await sim();
    const err = await register({ host: SIM, pin: PIN + 1, accountId: ACCOUNT, kind: 'PS5' }).catch((e) => e);
    expect(err).toBeInstanceOf(ConsoleRefusedError);
    expect(err.reason).toBe(0x80108b09);
    expect(err.hint).toMatch(/PIN/);
  });

  it('says so when the console is in standby', async () => {
    await sim(true);
    await expect(register({ host: SIM, pin: PIN, accountId: ACCOUNT, kind: 'PS5' })).rejects.toThrow(
      /is in standby/,
    );
  });

  it('times out when nothing answers the registration search', async () => {
    const err = await registerOdd().catch((e) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err.message).toMatch(/no answer to the registration search/);
  });

  const answers: Array<[string, (s: Socket) => void, RegExp, typeof ParseError | typeof NetworkError]> = [
    ['not HTTP', (s) => s.end('SSH-2.0-OpenSSH\r\n'), /not HTTP/, ParseError],
    [
      'a truncated body',
      (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc'),
      /truncated/,
      ParseError,
    ],
    [
      'a truncated header',
      (s) => s.end('HTTP/1.1 200 OK\r\nContent-Le'),
      /before its header was complete/,
      ParseError,
    ],
    [
      'a body that does not decrypt',
      (s) => s.end(`HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n${'z'.repeat(64)}`),
      /decrypt/,
      ParseError,
    ],
    ['a close without data', (s) => s.end(), /closed the registration connection/, NetworkError],
    ['silence', () => undefined, /did not answer within 400 ms/, NetworkError],
  ];
  it.each(answers)('turns %s into a typed error', async (_name, behave, pattern, type) => {
    await udpPeer(9295, ascii('RES3'));
    await tcpPeer(behave);
    const err = await registerOdd().catch((e) => e);
    expect(err).toBeInstanceOf(type);
    expect(err.message).toMatch(pattern);
  });
});

describe('wake', () => {
  it('wakes a resting console with the credential of its pairing', async () => {
    const s = await sim();
    const r = await register({ host: SIM, pin: PIN, accountId: ACCOUNT, kind: 'PS5' });
    const credential = wakeCredential(r.result.registKey);
    const already = await wake({ host: SIM, credential, kind: 'PS5', timeoutMs: 2000 });
    expect(already.alreadyAwake).toBe(true);
    s.power = 'standby';
    const polls: string[] = [];
    const woke = await wake({
      host: SIM,
      credential,
      kind: 'PS5',
      timeoutMs: 5000,
      pollMs: 200,
      onPoll: (c) => polls.push(c?.status ?? 'none'),
    });
    expect(woke).toMatchObject({ alreadyAwake: false, console: { status: 'ready' } });
    expect(polls[0]).toBe('standby');
    expect(polls.at(-1)).toBe('ready');
  });

  it('gives up with a clear message when the credential is not accepted', async () => {
    await sim(true);
    const err = await wake({
      host: SIM,
      credential: '305419896',
      kind: 'PS5',
      timeoutMs: 800,
      pollMs: 200,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err.message).toMatch(/still in standby after 1 s/);
    expect(err.hint).toMatch(/credential/);
  });

  it('checks the credential format before sending anything', async () => {
    await expect(wake({ host: SIM, credential: '12ab', kind: 'PS5', timeoutMs: 500 })).rejects.toBeInstanceOf(
      UsageError,
    );
  });
});

describe('parsePin', () => {
  it('takes exactly 8 digits', () => {
    expect(parsePin('01234567')).toBe(1234567);
    expect(parsePin(' 12345678 ')).toBe(12345678);
    for (const bad of ['1234567', '123456789', '1234 5678', 'abcdefgh', ''])
      expect(() => parsePin(bad)).toThrow(UsageError);
  });
});

describe('pairAndStore (rptui register)', () => {
  it('stores a profile, refreshes it on a re-pairing, and keeps --name unique', async () => {
    const s = await sim();
    const store = new ProfileStore(join(h.tempDir(), 'profiles.json'));
    const base = { host: SIM, pin: String(PIN), accountId: '1234567890123456789', store };
    const first = await pairAndStore(base);
    expect(first).toMatchObject({
      replaced: false,
      profile: { name: 'Lab', kind: 'PS5', host: SIM, accountId: 'FYHpffQQIhE=' },
    });
    const second = await pairAndStore(base);
    expect(second.replaced).toBe(true);
    expect(second.profile.name).toBe('Lab');
    expect(second.profile.registKey).not.toBe(first.profile.registKey);
    expect(second.profile.registKey).toBe(s.state.data.paired.at(-1)?.registKey);
    const other = await pairAndStore({ ...base, accountId: '42' });
    expect(other.profile.name).toBe('Lab-2');
    expect((await store.list()).map((p) => p.name)).toEqual(['Lab', 'Lab-2']);
  });

  it('checks the name and the profiles file before asking the console', async () => {
    const s = await sim();
    const requests: string[] = [];
    s.events.on((e) => {
      if (e.event === 'request') requests.push(String(e.proto));
    });
    const dir = h.tempDir();
    const store = new ProfileStore(join(dir, 'profiles.json'));
    const base = { host: SIM, pin: String(PIN), accountId: '1234567890123456789', store };
    await pairAndStore({ ...base, name: 'mine' });
    requests.length = 0;
    await expect(pairAndStore({ ...base, name: 'mine' })).rejects.toThrow(/already exists/);
    await expect(pairAndStore({ ...base, name: 'a/b' })).rejects.toThrow(/not a usable profile name/);
    writeFileSync(store.path, '{"version":1,"profiles":[{}]}');
    await expect(pairAndStore(base)).rejects.toBeInstanceOf(ConfigError);
    expect(readFileSync(store.path, 'utf8')).toBe('{"version":1,"profiles":[{}]}');
    expect(requests).toEqual([]);
  });
});
