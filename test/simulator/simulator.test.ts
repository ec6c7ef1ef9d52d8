// The simulated console in-process on 127.0.0.7 (PS5) and 127.0.0.8 (PS4): what it answers, what
// it refuses, and what it remembers. Requests are built with the codecs and sent raw.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Datagram, tcpExchange, UdpEndpoint } from '../../src/common/net.js';
import { ascii, fromHex, toBase64 } from '../../src/proto-stack/bytes.js';
import { formatDdpRequest, parseDdpResponse, wakeCredential } from '../../src/proto-stack/discovery.js';
import { ConfigError, NetworkError, UsageError } from '../../src/proto-stack/errors.js';
import { parseHttpResponseHead, readHttpResponse } from '../../src/proto-stack/http.js';
import {
  buildRegistRequest,
  formatRegistSearch,
  isRegistSearchResponse,
  parseAccountId,
  parseRegistResponse,
} from '../../src/proto-stack/regist.js';
import type { SimEvent } from '../../src/simulator/events.js';
import { checkSimulatorAddress, SimulatedConsole, type SimulatorOptions } from '../../src/simulator/index.js';
import { useHarness } from '../helpers/cli.js';

const h = useHarness();
const PS5_HOST = '127.0.0.7';
const PS4_HOST = '127.0.0.8';
const PIN = '13572468';
const ACCOUNT = parseAccountId('1234567890123456789');

async function start(
  over: Partial<SimulatorOptions> = {},
): Promise<{ sim: SimulatedConsole; events: SimEvent[] }> {
  const sim = await SimulatedConsole.start({ host: PS5_HOST, kind: 'PS5', pin: PIN, bootMs: 50, ...over });
  h.defer(() => sim.stop());
  const events: SimEvent[] = [];
  sim.events.on((e) => events.push(e));
  return { sim, events };
}

/** Sends one datagram from a fresh loopback socket; the answer or undefined after `ms`. */
async function udpAsk(data: Uint8Array, port: number, host: string, ms = 300): Promise<Datagram | undefined> {
  const ep = await UdpEndpoint.open({ address: '127.0.0.1', what: 'test' });
  try {
    await ep.send(data, port, host);
    return await ep.receive(ms);
  } finally {
    ep.close();
  }
}

const post = (host: string, request: Uint8Array) =>
  tcpExchange({
    host,
    port: 9295,
    request,
    connectTimeoutMs: 2000,
    responseTimeoutMs: 2000,
    complete: (b) => readHttpResponse(b) !== null,
    what: 'test',
  });

async function pair(sim: SimulatedConsole, pin = PIN) {
  const req = buildRegistRequest({ target: sim.target, pin: Number(pin), accountId: ACCOUNT });
  return { req, answer: await post(sim.host, req.bytes) };
}

describe('SimulatedConsole', () => {
  it('answers SRCH on its own discovery port with its identity', async () => {
    const { sim } = await start({ nickname: 'Den', systemVersion: '09600001' });
    const d = await udpAsk(formatDdpRequest('SRCH', { ps5: true }), 9302, PS5_HOST);
    expect(d?.address).toBe(PS5_HOST);
    const host = parseDdpResponse(d!.data);
    expect(host).toMatchObject({ status: 'ready', hostName: 'Den', hostType: 'PS5', target: 1000100 });
    expect(host.hostId).toBe(sim.state.data.hostId);
    // nothing listens on the PS4 port of a PS5
    expect(await udpAsk(formatDdpRequest('SRCH', { ps5: false }), 987, PS5_HOST, 200)).toBeUndefined();
  });

  it('pairs with the right PIN: one answer with the keys it remembers', async () => {
    const { sim, events } = await start();
    const { req, answer } = await pair(sim);
    const result = parseRegistResponse(answer, req.crypt, true);
    expect(result.mac).toBe(sim.state.data.hostId);
    expect(result.nickname).toBe('PS5-sim');
    expect(sim.state.data.paired).toHaveLength(1);
    expect(sim.state.data.paired[0]).toMatchObject({
      registKey: result.registKeyText,
      accountId: toBase64(ACCOUNT),
    });
    expect(events.map((e) => e.event)).toContain('paired');
    // the credential of that pairing is a decimal number
    expect(wakeCredential(fromHex(result.registKeyText))).toMatch(/^\d+$/);
  });

  it('refuses a wrong PIN with RP-Application-Reason 80108b09 and remembers nothing', async () => {
    const { sim, events } = await start();
    const { req, answer } = await pair(sim, '13572469');
    const head = parseHttpResponseHead(answer)!;
    expect(head.status).toBe(403);
    expect(head.headers.get('rp-application-reason')).toBe('80108b09');
    expect(() => parseRegistResponse(answer, req.crypt, true)).toThrow(/wrong PIN, or pairing is not open/);
    expect(sim.state.data.paired).toEqual([]);
    expect(events.find((e) => e.event === 'refusal')).toMatchObject({
      reason: 'wrong-pin',
      code: '80108b09',
    });
  });

  it('refuses even the right PIN while the pairing screen is closed', async () => {
    const { sim, events } = await start({ pairingClosed: true });
    const res = await udpAsk(formatRegistSearch(true), 9295, PS5_HOST);
    expect(res && isRegistSearchResponse(res.data, true)).toBe(true);
    const { answer } = await pair(sim);
    expect(parseHttpResponseHead(answer)!.headers.get('rp-application-reason')).toBe('80108b09');
    expect(events.find((e) => e.event === 'refusal')).toMatchObject({ reason: 'pairing-closed' });
    expect(sim.state.data.paired).toEqual([]);
  });

  it('refuses malformed HTTP, unknown paths, wrong methods and broken bodies', async () => {
    const { sim, events } = await start();
    expect(parseHttpResponseHead(await post(PS5_HOST, ascii('\x00\x01garbage\r\n\r\n')))!.status).toBe(400);
    expect(parseHttpResponseHead(await post(PS5_HOST, ascii('GET /nope HTTP/1.1\r\n\r\n')))!.status).toBe(
      404,
    );
    const ps4Path = ascii('POST /sie/ps4/rp/sess/rgst HTTP/1.1\r\nContent-Length: 0\r\n\r\n');
    expect(parseHttpResponseHead(await post(PS5_HOST, ps4Path))!.status).toBe(404);
    const get = ascii('GET /sie/ps5/rp/sess/rgst HTTP/1.1\r\n\r\n');
    expect(parseHttpResponseHead(await post(PS5_HOST, get))!.headers.get('rp-application-reason')).toBe(
      '80108b09',
    );
    const short = ascii('POST /sie/ps5/rp/sess/rgst HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789');
    expect(parseHttpResponseHead(await post(PS5_HOST, short))!.status).toBe(403);
    const reasons = events.filter((e) => e.event === 'refusal').map((e) => e.reason);
    expect(reasons).toEqual(['malformed', 'not-found', 'not-found', 'not-post', 'malformed']);
    expect(events.some((e) => e.event === 'error')).toBe(false);
    expect(sim.state.data.paired).toEqual([]);
  });

  it('answers the registration search only for its generation and only when awake', async () => {
    const { sim } = await start();
    const res = await udpAsk(formatRegistSearch(true), 9295, PS5_HOST);
    expect(res && isRegistSearchResponse(res.data, true)).toBe(true);
    expect(await udpAsk(formatRegistSearch(false), 9295, PS5_HOST, 200)).toBeUndefined();
    expect(await udpAsk(ascii('HELLO'), 9295, PS5_HOST, 200)).toBeUndefined();
    sim.power = 'standby';
    expect(await udpAsk(formatRegistSearch(true), 9295, PS5_HOST, 200)).toBeUndefined();
    // a resting console does not serve TCP 9295 either
    const closed = await post(PS5_HOST, ascii('GET / HTTP/1.1\r\n\r\n')).catch((e) => e);
    expect(closed instanceof NetworkError || (closed instanceof Uint8Array && closed.length === 0)).toBe(
      true,
    );
  });

  it('wakes only for the credential of a paired client', async () => {
    const { sim, events } = await start();
    const { req, answer } = await pair(sim);
    const key = parseRegistResponse(answer, req.crypt, true).registKeyText;
    sim.power = 'standby';
    const wakeup = (credential: string) => formatDdpRequest('WAKEUP', { ps5: true, credential });
    expect(await udpAsk(wakeup('305419896'), 9302, PS5_HOST, 200)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 150));
    expect(sim.power).toBe('standby');
    expect(events.find((e) => e.event === 'refusal')).toMatchObject({
      command: 'WAKEUP',
      reason: 'unknown-credential',
    });
    await udpAsk(wakeup(wakeCredential(fromHex(key))), 9302, PS5_HOST, 200);
    await expect.poll(() => sim.power, { timeout: 3000 }).toBe('ready');
    expect(events.some((e) => e.event === 'wake')).toBe(true);
  });

  it('remembers identity and pairings across restarts in a 0600 state file', async () => {
    const state = join(h.tempDir(), 'console.json');
    const first = await start({ statePath: state, nickname: 'Attic' });
    await pair(first.sim);
    const hostId = first.sim.state.data.hostId;
    await first.sim.stop();
    expect(statSync(state).mode & 0o777).toBe(0o600);
    const again = await start({ statePath: state, standby: true });
    expect(again.sim.state.data).toMatchObject({ hostId, nickname: 'Attic' });
    expect(again.sim.state.data.paired).toHaveLength(1);
    const d = await udpAsk(formatDdpRequest('SRCH', { ps5: true }), 9302, PS5_HOST);
    expect(parseDdpResponse(d!.data)).toMatchObject({ status: 'standby', hostId, hostName: 'Attic' });
    await again.sim.stop();
    await expect(start({ statePath: state, kind: 'PS4', host: PS4_HOST })).rejects.toThrow(
      /belongs to a simulated PS5/,
    );
  });

  it('reports a corrupt state file and leaves it alone', async () => {
    const state = join(h.tempDir(), 'console.json');
    writeFileSync(state, '{"version":1,"kind":"PS5"}');
    const err = await start({ statePath: state }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(state);
    expect(readFileSync(state, 'utf8')).toBe('{"version":1,"kind":"PS5"}');
  });

  it('writes one JSON object per line to --json-events', async () => {
    const path = join(h.tempDir(), 'events.jsonl');
    await start({ eventsPath: path });
    await udpAsk(formatDdpRequest('SRCH', { ps5: true }), 9302, PS5_HOST);
    await new Promise((r) => setTimeout(r, 50));
    const lines = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((e) => e.event)).toEqual(['listening', 'request', 'answer']);
    expect(lines[0]).toMatchObject({
      host: PS5_HOST,
      kind: 'PS5',
      pin: PIN,
      ports: { ddp: 9302, regist: 9295 },
    });
    expect(typeof lines[1].t).toBe('number');
  });

  it('plays a PS4 on port 987 with the PS4 registration path', async () => {
    const { sim } = await start({ host: PS4_HOST, kind: 'PS4' });
    expect(sim.target).toBe(1000);
    const d = await udpAsk(formatDdpRequest('SRCH', { ps5: false }), 987, PS4_HOST);
    expect(parseDdpResponse(d!.data)).toMatchObject({ hostType: 'PS4', target: 1000, status: 'ready' });
    const { req, answer } = await pair(sim);
    expect(parseRegistResponse(answer, req.crypt, false).nickname).toBe('PS4-sim');
  });

  it('survives random and mutated datagrams and requests', async () => {
    const { sim, events } = await start();
    const srch = formatDdpRequest('SRCH', { ps5: true });
    const valid = buildRegistRequest({ target: sim.target, pin: Number(PIN), accountId: ACCOUNT }).bytes;
    const ep = await UdpEndpoint.open({ address: '127.0.0.1', what: 'fuzz' });
    h.defer(async () => ep.close());
    const mutate = (base: Uint8Array, at: number, byte: number) => {
      const c = Uint8Array.from(base);
      c[at % c.length] = byte;
      return c;
    };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([i, b]) => mutate(srch, i, b)),
        ),
        async (bytes) => {
          await ep.send(bytes, 9302, PS5_HOST);
          await ep.send(bytes, 9295, PS5_HOST);
        },
      ),
      { numRuns: 150 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 700 }),
          fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([i, b]) => mutate(valid, i, b)),
          fc.nat({ max: valid.length }).map((n) => valid.subarray(0, n)),
        ),
        async (bytes) => {
          // answered, refused, or closed: never a hang past the timeout, never a crash
          await tcpExchange({
            host: PS5_HOST,
            port: 9295,
            request: bytes,
            connectTimeoutMs: 2000,
            responseTimeoutMs: 150,
            complete: (b) => b.length > 0,
            what: 'fuzz',
          }).catch((e) => {
            if (!(e instanceof NetworkError)) throw e;
          });
        },
      ),
      { numRuns: 40 },
    );
    const d = await udpAsk(srch, 9302, PS5_HOST);
    expect(parseDdpResponse(d!.data).status).toBe('ready');
    expect(events.filter((e) => e.event === 'error')).toEqual([]);
  });
});

describe('checkSimulatorAddress', () => {
  it('accepts loopback, refuses wildcards, and LAN addresses without --allow-lan', () => {
    expect(checkSimulatorAddress('127.0.0.2', false)).toBeUndefined();
    for (const bad of ['0.0.0.0', '255.255.255.255', 'localhost', '::1', '10.0.0.255']) {
      expect(() => checkSimulatorAddress(bad, true)).toThrow(UsageError);
    }
    const lan = (() => {
      try {
        return checkSimulatorAddress('192.168.1.5', false);
      } catch (e) {
        return e as UsageError;
      }
    })();
    expect(lan).toBeInstanceOf(UsageError);
    expect((lan as UsageError).hint).toMatch(/--allow-lan/);
    expect(checkSimulatorAddress('192.168.1.5', true)).toMatch(/^warning: .*reachable from your network/);
  });

  it('refuses a PIN that is not 8 digits', async () => {
    await expect(start({ pin: '1234' })).rejects.toThrow(/8 digits/);
  });
});
