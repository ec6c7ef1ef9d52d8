// RemotePlaySession against a misbehaving "console" on 127.0.0.16 (a scripted TCP 9295 server)
// and the simulator's stream service on 127.0.0.17 fed garbage: every failure is a typed error
// within its deadline, the RP-Version retry rule is followed, nothing crashes or hangs.
import { createSocket } from 'node:dgram';
import { connect, createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RemotePlaySession } from '../../src/client/session.js';
import { fromAscii, toBase64 } from '../../src/proto-stack/bytes.js';
import { ConsoleRefusedError, NetworkError, ParseError, RptuiError } from '../../src/proto-stack/errors.js';
import { RpCrypt } from '../../src/proto-stack/rpcrypt.js';
import { formatCtrlResponse } from '../../src/proto-stack/session.js';
import type { SimEvent } from '../../src/simulator/events.js';
import { SimulatedConsole } from '../../src/simulator/index.js';
import { startStreamService } from '../../src/simulator/stream.js';
import { useHarness } from '../helpers/cli.js';

const h = useHarness();
const FAKE = '127.0.0.16';
const SIM = '127.0.0.17';
const REGIST_KEY = '3132333435363738';
const MORNING = '00112233445566778899aabbccddeeff';
const NONCE = new Uint8Array(16).fill(7);

/** A TCP 9295 server whose nth connection is answered by script[n] (with the request text). */
async function fakeConsole(
  script: Array<(req: string, sock: Socket) => void>,
): Promise<{ requests: string[] }> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => {});
    let buf = '';
    const n = requests.length;
    requests.push('');
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (!buf.includes('\r\n\r\n')) return;
      requests[n] = buf;
      (script[n] ?? ((_r, s) => s.destroy()))(buf, sock);
    });
  });
  await new Promise<void>((r) => server.listen({ host: FAKE, port: 9295, exclusive: true }, () => r()));
  h.defer(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { requests };
}

const nonceAnswer = (_req: string, s: Socket) =>
  s.end(`HTTP/1.1 200 OK\r\nContent-Length: 0\r\nRP-Nonce: ${toBase64(NONCE)}\r\n\r\n`);

async function failure(target: 1000 | 1000100 = 1000100): Promise<{ err: RptuiError; ms: number }> {
  const s = new RemotePlaySession({ host: FAKE, target, registKey: REGIST_KEY, rpKey: MORNING });
  const t = Date.now();
  const err = await s.start().then(
    () => {
      throw new Error('start() resolved');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RptuiError);
  expect(s.state).toBe('closed');
  return { err: err as RptuiError, ms: Date.now() - t };
}

describe('client against a misbehaving console', () => {
  it('session init: garbage, silence-then-close and refusals are typed errors', async () => {
    const fake = await fakeConsole([
      (_r, s) => s.end('HTTP/1.1 200 OK\r\nRP-Nonce: !!not base64!!\r\n\r\n'),
      (_r, s) => s.end(),
      (_r, s) => s.end('HTTP/1.1 403 Forbidden\r\nRP-Application-Reason: 80108b10\r\n\r\n'),
      (_r, s) => s.end('\x00\x01garbage\r\n\r\n'),
    ]);
    let r = await failure();
    expect(r.err).toBeInstanceOf(ParseError);
    r = await failure();
    expect(r.err).toBeInstanceOf(NetworkError);
    expect(r.err.message).toMatch(/without an answer/);
    r = await failure();
    expect(r.err).toBeInstanceOf(ConsoleRefusedError);
    expect(r.err.message).toContain('Remote Play is already in use by another client');
    r = await failure();
    expect(r.err).toBeInstanceOf(ParseError);
    expect(fake.requests).toHaveLength(4);
    expect(fake.requests[0]).toMatch(/^GET \/sie\/ps5\/rp\/sess\/init HTTP\/1\.1\r\n/);
    expect(fake.requests[0]).toContain(`RP-Registkey: ${REGIST_KEY}\r\n`);
  });

  it('follows the RP-Version retry rule: asks again with the version the console names', async () => {
    const versionRefusal = (v: string) => (_r: string, s: Socket) =>
      s.end(`HTTP/1.1 403 Forbidden\r\nRP-Application-Reason: 80108b11\r\nRP-Version: ${v}\r\n\r\n`);
    const fake = await fakeConsole([versionRefusal('9.0'), versionRefusal('8.0'), versionRefusal('10.0')]);
    const { err } = await failure(1000);
    expect(err).toBeInstanceOf(ConsoleRefusedError);
    expect(err.message).toContain('another Remote Play protocol version');
    // 10.0 -> 9.0 (old PS4 path) -> 8.0, then no more tries
    expect(fake.requests.map((q) => /Rp-Version: (.*)\r\n/.exec(q)?.[1])).toEqual(['10.0', '9.0', '8.0']);
    expect(fake.requests[1]).toMatch(/^GET \/sce\/rp\/session HTTP/);
  });

  it('ctrl: a refusal, and a message stream out of sync after the answer, end with typed errors', async () => {
    const crypt = RpCrypt.forSession(1000100, NONCE, Uint8Array.from(Buffer.from(MORNING, 'hex')));
    await fakeConsole([
      nonceAnswer,
      (_r, s) => s.end('HTTP/1.1 403 Forbidden\r\nRP-Application-Reason: 80108b15\r\n\r\n'),
      nonceAnswer,
      (_r, s) => {
        s.write(formatCtrlResponse(crypt, 2));
        // a frame header announcing 4 GiB: the stream cannot be resynchronised
        setTimeout(() => s.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0x33, 0, 0])), 50);
      },
    ]);
    let r = await failure();
    expect(r.err).toBeInstanceOf(ConsoleRefusedError);
    expect(r.err.message).toContain(
      'the console refused the ctrl connection: Remote Play crashed on the console',
    );
    r = await failure();
    expect(r.err).toBeInstanceOf(ParseError);
    expect(r.err.message).toMatch(/out of sync/);
    expect(r.ms).toBeLessThan(2000);
  });

  it('an unreachable console is a NetworkError with a hint', async () => {
    const s = new RemotePlaySession({
      host: '127.0.0.18',
      target: 1000100,
      registKey: REGIST_KEY,
      rpKey: MORNING,
    });
    const err = await s.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).hint).toBeTruthy();
  });
});

describe('simulator stream service fed garbage', () => {
  it('refuses malformed session and ctrl requests, ignores stray datagrams, keeps serving', async () => {
    const sim = await SimulatedConsole.start({ host: SIM, kind: 'PS5', pin: '12345678' });
    h.defer(() => sim.stop());
    const events: SimEvent[] = [];
    sim.events.on((e) => events.push(e));
    await startStreamService(sim);
    await sim.state.addPairing({
      accountId: 'AAAAAAAAAAA=',
      registKey: REGIST_KEY,
      morning: MORNING,
      pairedAt: new Date().toISOString(),
    });
    const ask = (text: string) =>
      new Promise<string>((resolve) => {
        const c = connect({ host: SIM, port: 9295 });
        let got = '';
        c.on('data', (d) => {
          got += fromAscii(new Uint8Array(d));
        });
        c.on('error', () => resolve(got));
        c.on('close', () => resolve(got));
        c.write(text);
      });
    let a = await ask('GET /sie/ps5/rp/sess/init HTTP/1.1\r\nRp-Version: 7.7\r\nRP-Registkey: zz\r\n\r\n');
    expect(a).toMatch(/^HTTP\/1\.1 403 /);
    expect(a).toContain('RP-Application-Reason: 80108bff');
    a = await ask('GET /sie/ps5/rp/sess/ctrl HTTP/1.1\r\nRP-Version: 1.0\r\nRP-Auth: AAAA\r\n\r\n');
    expect(a).toMatch(/^HTTP\/1\.1 403 /);
    // datagrams without a session are ignored
    const u = createSocket('udp4');
    await new Promise<void>((r) => u.bind({ address: '127.0.0.1', port: 0 }, () => r()));
    for (const d of [Buffer.alloc(0), Buffer.from([0, 1, 2]), Buffer.alloc(1500, 0xff)])
      await new Promise<void>((r) => u.send(d, 9296, SIM, () => r()));
    u.close();
    const deadline = Date.now() + 2000;
    while (
      events.filter((e) => e.event === 'ignored' && e.proto === 'takion').length < 3 &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 20));
    expect(events.filter((e) => e.event === 'ignored' && e.proto === 'takion')).toHaveLength(3);
    // and a real client still gets its session afterwards
    const s = new RemotePlaySession({ host: SIM, target: 1000100, registKey: REGIST_KEY, rpKey: MORNING });
    await s.start();
    await s.disconnect();
    expect(s.stats.packets.forged).toBe(0);
    expect(events.some((e) => e.event === 'error')).toBe(false);
  });
});
