import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/proto-stack/bytes.js';
import { Ecdh } from '../../src/proto-stack/ecdh.js';
import { AuthError, ConsoleRefusedError, NetworkError } from '../../src/proto-stack/errors.js';
import type { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import { drainEvents } from '../../src/proto-stack/machine.js';
import { RpCrypt } from '../../src/proto-stack/rpcrypt.js';
import {
  CHANNEL,
  decodeTakionMessage,
  encodeTakionMessage,
  type StreamClientEvent,
  StreamConnectionClient,
  type StreamConnectionClientOptions,
  StreamConnectionConsole,
  type StreamConnectionConsoleOptions,
  type StreamConsoleEvent,
  type StreamInfo,
  type StreamMessage,
  type StreamOutput,
} from '../../src/proto-stack/streamconnection.js';
import { DataType, TakionEndpoint, type TakionEvent } from '../../src/proto-stack/takion.js';
import type { Target } from '../../src/proto-stack/target.js';
import { tick } from '../helpers/machine.js';
import { step } from '../helpers/takion-pair.js';

const nonce = fromHex('ae92e764882651ef89018cfa696c6938');
const morning = fromHex('74a59c9693c2083ba6a84ba050fa8e5a');
const SID = 'A'.repeat(20) + 'b'.repeat(20) + '1'.repeat(34);
const info = (w: number, h: number): StreamInfo => ({
  resolutions: [{ width: w, height: h, videoHeader: fromHex('000000016764001fac2b') }],
  audioHeader: fromHex('0210000bb800000001e000000001'),
  startTimeout: 100,
});

type CryptPair = { local: GkCrypt; remote: GkCrypt };

/** A PS4 client (640x360) and its console at time 0, not joined: the test carries each message. */
function bareEnds(streamInfo: StreamConnectionConsoleOptions['streamInfo']) {
  const rp = RpCrypt.forSession(1000, nonce, morning);
  const client = new StreamConnectionClient({
    target: 1000,
    sessionId: SID,
    rpcrypt: rp,
    launch: { width: 640, height: 360, maxFps: 30, bitrateKbps: 2000, mtu: 1454, rtt: 1 },
  });
  const cons = new StreamConnectionConsole({ target: 1000, sessionId: SID, rpcrypt: rp, streamInfo, now: 0 });
  return { client, cons };
}

/** Client and console StreamConnection joined by an in-memory message pipe and a test clock. */
function pair(
  target: Target,
  o: {
    client?: Partial<StreamConnectionClientOptions>;
    console?: Partial<StreamConnectionConsoleOptions>;
  } = {},
) {
  let now = 5_000;
  const rp = RpCrypt.forSession(target, nonce, morning);
  const client = new StreamConnectionClient({
    target,
    sessionId: SID,
    rpcrypt: rp,
    launch: { width: 1280, height: 720, maxFps: 60, bitrateKbps: 10000, mtu: 1454, rtt: 1 },
    ...o.client,
  });
  const cons = new StreamConnectionConsole({
    target,
    sessionId: SID,
    rpcrypt: rp,
    streamInfo: (spec) => info(spec.width, spec.height),
    now,
    ...o.console,
  });
  const clientEvents: StreamClientEvent[] = [];
  const consoleEvents: StreamConsoleEvent[] = [];
  const toConsole: StreamMessage[] = [];
  const toClient: StreamMessage[] = [];
  const cryptOf: { client?: CryptPair; console?: CryptPair } = {};
  /** which side had crypt switched on when each message was sent */
  const sentEncrypted: Array<{ from: 'client' | 'console'; type: string; encrypted: boolean }> = [];
  let deliverToClient = true;
  const take = (from: 'client' | 'console', out: StreamOutput[], q: StreamMessage[]) => {
    for (const x of out) {
      if (x.kind === 'crypt') cryptOf[from] = { local: x.local, remote: x.remote };
      else {
        sentEncrypted.push({
          from,
          type: decodeTakionMessage(x.payload).type,
          encrypted: cryptOf[from] !== undefined,
        });
        q.push({ channel: x.channel, dataType: x.dataType, payload: x.payload });
      }
    }
  };
  const pump = () => {
    for (let i = 0; i < 6; i++) {
      const c = tick(client, now);
      clientEvents.push(...c.events);
      take('client', c.out, toConsole);
      const k = tick(cons, now);
      consoleEvents.push(...k.events);
      take('console', k.out, toClient);
      while (toConsole.length) cons.handle(toConsole.shift()!, now);
      while (toClient.length) {
        const m = toClient.shift()!;
        if (deliverToClient) client.handle(m, now);
      }
    }
  };
  const advance = (ms: number, step = 100) => {
    const end = now + ms;
    while (now < end) {
      now = Math.min(end, now + step);
      pump();
    }
  };
  return {
    client,
    cons,
    clientEvents,
    consoleEvents,
    cryptOf,
    sentEncrypted,
    pump,
    advance,
    start: () => {
      client.start(now);
      pump();
    },
    get now() {
      return now;
    },
    muteConsole: () => {
      deliverToClient = false;
    },
  };
}

const received = (ev: StreamConsoleEvent[]) =>
  ev.flatMap((e) => (e.type === 'received' ? [{ channel: e.channel, type: e.message.type }] : []));

describe('StreamConnection client <-> console (messages only)', () => {
  it.each([1000, 1000100] as const)(
    'target %i: BIG/BANG, crypt both ways, STREAMINFO, heartbeats, DISCONNECT',
    (target) => {
      const p = pair(target);
      p.start();
      // the console read the launch spec and answered
      const big = p.consoleEvents.find((e) => e.type === 'big');
      expect(big?.type === 'big' && big.big.clientVersion).toBe(target === 1000 ? 9 : 12);
      expect(big?.type === 'big' && big.launchSpec).toMatchObject({
        width: 1280,
        height: 720,
        maxFps: 60,
        bitrateKbps: 10000,
      });
      expect(big?.type === 'big' && big.launchSpec.handshakeKey).toEqual(p.client.handshakeKey);
      // crypt contexts: each side's local is the other's remote (index 2 client->console, 3 back)
      const c = p.cryptOf.client;
      const k = p.cryptOf.console;
      expect(c && k).toBeTruthy();
      if (!c || !k) return;
      expect([c.local.index, c.remote.index, k.local.index, k.remote.index]).toEqual([2, 3, 3, 2]);
      expect(c.local.keyBase).toEqual(k.remote.keyBase);
      expect(c.remote.iv).toEqual(k.local.iv);
      // BIG and BANG travel in the clear, everything after them under crypt
      expect(p.sentEncrypted.slice(0, 2)).toEqual([
        { from: 'client', type: 'big', encrypted: false },
        { from: 'console', type: 'bang', encrypted: false },
      ]);
      expect(p.sentEncrypted.slice(2).every((s) => s.encrypted)).toBe(true);

      expect(p.clientEvents.map((e) => e.type)).toEqual(['bang', 'streamInfo', 'connected']);
      const si = p.clientEvents.find((e) => e.type === 'streamInfo');
      expect(si?.type === 'streamInfo' && si.streamInfo).toEqual(info(1280, 720));
      expect(received(p.consoleEvents)).toEqual([
        { channel: 1, type: 'big' },
        { channel: CHANNEL.streamInfoAck, type: 'streamInfoAck' },
        { channel: 1, type: 'controllerConnection' },
        { channel: 1, type: 'streamInfo' },
      ]);
      expect(p.client.state).toBe('running');
      expect(p.cons.state).toBe('running');

      p.advance(5_000);
      expect(p.clientEvents.filter((e) => e.type === 'heartbeat')).toHaveLength(5);
      expect(received(p.consoleEvents).filter((r) => r.type === 'heartbeat')).toHaveLength(5);

      p.client.corruptFrame(3, 5);
      p.client.idrRequest();
      p.client.disconnect();
      p.pump();
      expect(received(p.consoleEvents).slice(-3)).toEqual([
        { channel: 2, type: 'corruptFrame' },
        { channel: 2, type: 'idrRequest' },
        { channel: 1, type: 'disconnect' },
      ]);
      expect(p.consoleEvents.at(-1)).toEqual({ type: 'disconnected', reason: 'Client Disconnecting' });
      expect(p.client.state).toBe('closed');
      expect(p.cons.state).toBe('closed');
      expect(p.clientEvents.some((e) => e.type === 'error' || e.type === 'warning')).toBe(false);
    },
  );

  it('a DualSense is announced as controller type 6', () => {
    const p = pair(1000100, { client: { dualSense: true } });
    p.start();
    const cc = p.consoleEvents.find(
      (e) => e.type === 'received' && e.message.type === 'controllerConnection',
    );
    expect(cc?.type === 'received' && cc.message).toEqual({
      type: 'controllerConnection',
      connected: true,
      controllerType: 6,
      controllerId: undefined,
    });
  });

  it('STREAMINFO that arrives before BANG is kept and handled after it', () => {
    const { client, cons } = bareEnds((s) => info(s.width, s.height));
    client.start(0);
    for (const o of tick(client, 0).out) if (o.kind === 'message') cons.handle(o, 0);
    const msgs = tick(cons, 0).out.filter(
      (o): o is Extract<StreamOutput, { kind: 'message' }> => o.kind === 'message',
    );
    expect(msgs.map((m) => decodeTakionMessage(m.payload).type)).toEqual(['bang', 'streamInfo']);
    client.handle(msgs[1], 1); // STREAMINFO first
    expect(client.state).toBe('expectBang');
    client.handle(msgs[0], 2);
    const r = tick(client, 2);
    expect(r.events.map((e) => e.type)).toEqual(['bang', 'streamInfo', 'connected']);
    expect(r.out.map((o) => o.kind)).toEqual(['crypt', 'message', 'message', 'message']);
  });

  it('no BANG within 5 s: NetworkError, and a DISCONNECT goes out', () => {
    const p = pair(1000);
    p.muteConsole();
    p.start();
    p.advance(4_900);
    expect(p.clientEvents.some((e) => e.type === 'error')).toBe(false);
    p.advance(200);
    const err = p.clientEvents.find((e) => e.type === 'error');
    expect(err?.type === 'error' && err.error).toBeInstanceOf(NetworkError);
    expect(err?.type === 'error' && err.error.message).toMatch(/no BANG within 5 s/);
    expect(p.client.state).toBe('closed');
    expect(p.sentEncrypted.filter((m) => m.from === 'client').map((m) => m.type)).toEqual([
      'big',
      'disconnect',
    ]);
  });

  it('BANG but no STREAMINFO within 5 s: NetworkError', () => {
    const { client, cons } = bareEnds(() => info(1, 1));
    client.start(0);
    for (const o of tick(client, 0).out) if (o.kind === 'message') cons.handle(o, 0);
    const bang = tick(cons, 0).out.find((o) => o.kind === 'message');
    if (bang?.kind === 'message') client.handle(bang, 10);
    expect(client.state).toBe('expectStreamInfo');
    expect(client.pollTimeout()).toBe(5_010);
    const ev = tick(client, 5_010).events;
    const err = ev.find((e) => e.type === 'error');
    expect(err?.type === 'error' && err.error.message).toMatch(/no stream info within 5 s/);
  });

  it('a BANG signed with another handshake key is an AuthError', () => {
    const rp = RpCrypt.forSession(1000100, nonce, morning);
    const client = new StreamConnectionClient({
      target: 1000100,
      sessionId: SID,
      rpcrypt: rp,
      launch: { width: 1280, height: 720, maxFps: 60, bitrateKbps: 10000, mtu: 1454, rtt: 1 },
    });
    client.start(0);
    tick(client, 0);
    const forger = Ecdh.generate();
    const bang = encodeTakionMessage({
      type: 'bang',
      bang: {
        serverVersion: 12,
        token: 0,
        encryptedKeyAccepted: true,
        versionAccepted: true,
        sessionKey: SID,
        ecdhPubKey: forger.publicKey,
        ecdhSig: forger.sign(new Uint8Array(16)),
      },
    });
    client.handle({ channel: 1, dataType: DataType.Protobuf, payload: bang }, 1);
    const r = tick(client, 1);
    const err = r.events.find((e) => e.type === 'error');
    expect(err?.type === 'error' && err.error).toBeInstanceOf(AuthError);
    expect(r.out.some((o) => o.kind === 'crypt')).toBe(false);
  });

  it('the console refuses a launch spec masked with other session keys, and a wrong Takion version', () => {
    const other = RpCrypt.forSession(1000, fromHex('07112233445566f78899aabbccddeeff'), morning);
    const p = pair(1000, { client: { rpcrypt: other } });
    p.start();
    const rej = p.consoleEvents.find((e) => e.type === 'rejected');
    expect(rej).toBeDefined();
    const err = p.clientEvents.find((e) => e.type === 'error');
    expect(err?.type === 'error' && err.error).toBeInstanceOf(ConsoleRefusedError);
    expect(err?.type === 'error' && err.error.message).toMatch(/session key/);

    const v = pair(1000100, { client: { target: 1000 } });
    v.start();
    const verr = v.clientEvents.find((e) => e.type === 'error');
    expect(verr?.type === 'error' && verr.error.message).toMatch(/protocol version/);
  });

  it('strictSessionId rejects a session key the console did not hand out', () => {
    const loose = pair(1000, { client: { sessionId: 'stand-in-id' } });
    loose.start();
    expect(loose.client.state).toBe('running');
    const strict = pair(1000, { client: { sessionId: 'stand-in-id' }, console: { strictSessionId: true } });
    strict.start();
    expect(strict.client.state).toBe('closed');
    expect(strict.consoleEvents.some((e) => e.type === 'rejected')).toBe(true);
  });

  it('console DISCONNECT ends the client; non-protobuf data passes through', () => {
    const p = pair(1000);
    p.start();
    p.client.handle({ channel: 1, dataType: 7, payload: fromHex('000102') }, p.now);
    expect(tick(p.client, p.now).events).toEqual([
      { type: 'data', channel: 1, dataType: 7, payload: fromHex('000102') },
    ]);
    p.cons.disconnect();
    p.pump();
    expect(p.clientEvents.at(-1)).toEqual({ type: 'disconnected', reason: 'Server shutting down' });
  });

  it('the console drops a client that stops talking after about 5 s', () => {
    const { client, cons } = bareEnds(() => info(1, 1));
    client.start(0);
    for (const o of tick(client, 0).out) if (o.kind === 'message') cons.handle(o, 0);
    tick(cons, 0);
    expect(cons.pollTimeout()).toBe(1_000);
    let lostAt: number | undefined;
    for (let t = 100; t <= 8_000 && lostAt === undefined; t += 100)
      if (tick(cons, t).events.some((e) => e.type === 'clientLost')) lostAt = t;
    expect(lostAt).toBe(5_000);
  });
});

describe('full stack in memory: TakionEndpoint pair + StreamConnection pair', () => {
  function fullStack(target: Target) {
    let now = 1_000;
    const rp = RpCrypt.forSession(target, nonce, morning);
    // a small MTU so that BIG (about 1.3 KB) must travel as DATA + continuation pieces
    const tc = new TakionEndpoint({ role: 'client', now, mtu: 1000 });
    const ts = new TakionEndpoint({ role: 'console', now, mtu: 1000 });
    const sc = new StreamConnectionClient({
      target,
      sessionId: SID,
      rpcrypt: rp,
      launch: { width: 1920, height: 1080, maxFps: 60, bitrateKbps: 15000, mtu: 1454, rtt: 1, codec: 'h265' },
    });
    const ss = new StreamConnectionConsole({
      target,
      sessionId: SID,
      rpcrypt: rp,
      streamInfo: (spec) => info(spec.width, spec.height),
      now,
    });
    const clientEvents: StreamClientEvent[] = [];
    const consoleEvents: StreamConsoleEvent[] = [];
    const takionTrouble: TakionEvent[] = [];
    const apply = (t: TakionEndpoint, out: StreamOutput[]) => {
      for (const o of out) {
        if (o.kind === 'crypt') t.setCrypt(o.local, o.remote);
        else t.sendMessage(o.channel, o.dataType, o.payload, now);
      }
    };
    // As a driver does: act on a datagram's events before feeding the next one, so a crypt switch
    // caused by BANG is in place before anything after it is read or acknowledged.
    const clientSide = () => {
      for (const e of drainEvents(tc)) {
        if (e.type === 'connected') sc.start(now);
        else if (e.type === 'message') sc.handle(e, now);
        else if (e.type === 'lost' || e.type === 'error') takionTrouble.push(e);
      }
      const cp = tick(sc, now);
      clientEvents.push(...cp.events);
      apply(tc, cp.out);
    };
    const consoleSide = () => {
      for (const e of drainEvents(ts)) {
        if (e.type === 'message') ss.handle(e, now);
        else if (e.type === 'lost' || e.type === 'error') takionTrouble.push(e);
      }
      const kp = tick(ss, now);
      consoleEvents.push(...kp.events);
      apply(ts, kp.out);
    };
    const settle = () => {
      for (let round = 0; round < 1_000; round++) {
        clientSide();
        consoleSide();
        const c2s = step(tc, now);
        const s2c = step(ts, now);
        if (c2s.length + s2c.length === 0) return;
        for (const d of c2s) {
          ts.handle(d, now);
          consoleSide();
        }
        for (const d of s2c) {
          tc.handle(d, now);
          clientSide();
        }
      }
      throw new Error('did not settle');
    };
    const advance = (ms: number, step = 50) => {
      const end = now + ms;
      while (now < end) {
        now = Math.min(end, now + step);
        settle();
      }
    };
    return {
      tc,
      ts,
      sc,
      ss,
      clientEvents,
      consoleEvents,
      takionTrouble,
      settle,
      advance,
      connect: () => tc.connect(now),
    };
  }

  it.each([1000, 1000100] as const)(
    'target %i: handshake, BIG/BANG, STREAMINFO, heartbeats, DISCONNECT, zero GMAC failures',
    (target) => {
      const s = fullStack(target);
      s.connect();
      s.settle();
      expect(s.tc.state).toBe('connected');
      expect(s.clientEvents.map((e) => e.type)).toEqual(['bang', 'streamInfo', 'connected']);
      const si = s.clientEvents.find((e) => e.type === 'streamInfo');
      expect(si?.type === 'streamInfo' && si.streamInfo.resolutions[0]).toMatchObject({
        width: 1920,
        height: 1080,
      });
      // BIG arrived whole although it is larger than one datagram
      const big = s.consoleEvents.find((e) => e.type === 'big');
      expect(big?.type === 'big' && big.big.launchSpec.length).toBeGreaterThan(1000);
      expect(big?.type === 'big' && big.launchSpec.codec).toBe(target === 1000100 ? 'h265' : 'h264');
      expect(s.tc.localCrypt?.index).toBe(2);
      expect(s.ts.localCrypt?.index).toBe(3);

      s.advance(5_000);
      expect(s.clientEvents.filter((e) => e.type === 'heartbeat').length).toBeGreaterThanOrEqual(4);
      const hb = s.consoleEvents.filter((e) => e.type === 'received' && e.message.type === 'heartbeat');
      expect(hb.length).toBeGreaterThanOrEqual(4);

      s.sc.disconnect();
      s.settle();
      expect(s.consoleEvents.at(-1)).toEqual({ type: 'disconnected', reason: 'Client Disconnecting' });
      expect(s.tc.stats.gmacFailures).toBe(0);
      expect(s.ts.stats.gmacFailures).toBe(0);
      expect(s.takionTrouble).toEqual([]);
      expect(s.clientEvents.some((e) => e.type === 'error' || e.type === 'warning')).toBe(false);
      expect(s.consoleEvents.some((e) => e.type === 'warning' || e.type === 'rejected')).toBe(false);
    },
  );
});
