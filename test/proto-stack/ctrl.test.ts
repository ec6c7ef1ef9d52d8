import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex } from '../../src/proto-stack/bytes.js';
import {
  CTRL,
  CtrlChannel,
  CtrlClient,
  type CtrlClientEvent,
  CtrlConsole,
  type CtrlConsoleEvent,
  CtrlReassembler,
  decodeKeyboardOpen,
  decodeKeyboardTextRequest,
  decodeKeyboardTextResponse,
  decodeSessionId,
  encodeCtrlFrame,
  encodeKeyboardOpen,
  encodeKeyboardTextRequest,
  encodeKeyboardTextResponse,
  encodeMicToggle,
  encodeSessionId,
  fallbackSessionId,
  randomSessionId,
} from '../../src/proto-stack/ctrl.js';
import { NetworkError, ParseError } from '../../src/proto-stack/errors.js';
import { RpCrypt } from '../../src/proto-stack/rpcrypt.js';
import {
  formatCtrlRequest,
  formatCtrlResponse,
  parseCtrlRequest,
  parseCtrlResponse,
} from '../../src/proto-stack/session.js';
import type { Target } from '../../src/proto-stack/target.js';
import { typedOnly } from '../helpers/fuzz.js';
import { tick } from '../helpers/machine.js';

const nonce = fromHex('ae92e764882651ef89018cfa696c6938');
const morning = fromHex('74a59c9693c2083ba6a84ba050fa8e5a');
const crypt = RpCrypt.forSession(1000, nonce, morning);

describe('ctrl framing and counters', () => {
  it('frames as len u32 | type u16 | 00 00 | payload', () => {
    expect(toHex(encodeCtrlFrame(CTRL.HEARTBEAT_REP, new Uint8Array(0)))).toBe('0000000001fe0000');
    expect(toHex(encodeCtrlFrame(0x8004, new Uint8Array([1, 2, 3])))).toBe('0000000380040000010203');
  });

  it('encrypts at the local counter and skips counters for empty payloads', () => {
    const ch = new CtrlChannel(crypt, 4, 1);
    const hb = ch.encode(CTRL.HEARTBEAT_REP);
    const pin = ch.encode(CTRL.LOGIN_PIN_REP, new Uint8Array(Buffer.from('1234')));
    const bed = ch.encode(CTRL.GOTO_BED);
    const mic = ch.encode(CTRL.MIC_TOGGLE, encodeMicToggle(false));
    expect(toHex(hb)).toBe('0000000001fe0000');
    expect(pin.subarray(8)).toEqual(crypt.encrypt(4, new Uint8Array(Buffer.from('1234'))));
    expect(toHex(bed)).toBe('0000000000500000');
    expect(mic.subarray(8)).toEqual(crypt.encrypt(5, fromHex('00010159')));
    expect(ch.counters).toEqual({ local: 6, remote: 1 });

    const peer = new CtrlChannel(crypt, 1, 4);
    const msgs = peer.feed(concatBytes(hb, pin, bed, mic));
    expect(msgs.map((m) => [m.type, toHex(m.payload)])).toEqual([
      [CTRL.HEARTBEAT_REP, ''],
      [CTRL.LOGIN_PIN_REP, '31323334'],
      [CTRL.GOTO_BED, ''],
      [CTRL.MIC_TOGGLE, '00010159'],
    ]);
    expect(peer.counters.remote).toBe(6);
  });

  it('reassembles frames split at any byte boundary', () => {
    const frames = [
      encodeCtrlFrame(1, new Uint8Array([9])),
      encodeCtrlFrame(2, new Uint8Array(0)),
      encodeCtrlFrame(3, new Uint8Array(300).fill(3)),
    ];
    const stream = concatBytes(...frames);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 40 }), (cuts) => {
        const r = new CtrlReassembler();
        const got: number[] = [];
        let off = 0;
        for (const c of cuts) {
          for (const f of r.push(stream.subarray(off, Math.min(stream.length, off + c)))) got.push(f.type);
          off = Math.min(stream.length, off + c);
        }
        for (const f of r.push(stream.subarray(off))) got.push(f.type);
        expect(got).toEqual([1, 2, 3]);
        expect(r.buffered).toBe(0);
      }),
    );
  });

  it('an absurd length is a ParseError, not a hang or a huge buffer', () => {
    expect(() => new CtrlReassembler().push(fromHex('7fffffff00330000'))).toThrow(ParseError);
  });
});

describe('ctrl payload codecs', () => {
  it('session id: one marker byte then 24..78 alphanumerics', () => {
    const id = randomSessionId();
    expect(id).toMatch(/^[A-Za-z0-9]{74}$/);
    const p = encodeSessionId(id);
    expect(p[0]).toBe(0x4a);
    expect(decodeSessionId(p)).toEqual({ sessionId: id, marker: 0x4a });
    expect(decodeSessionId(encodeSessionId('short'))).toBeUndefined();
    expect(decodeSessionId(encodeSessionId('a'.repeat(79)))).toBeUndefined();
    expect(decodeSessionId(encodeSessionId(`${'a'.repeat(30)}+`))).toBeUndefined();
    expect(decodeSessionId(new Uint8Array([0x4a]))).toBeUndefined();
    expect(fallbackSessionId(12_345_678, new Uint8Array(48))).toBe(`12345${'A'.repeat(64)}`);
  });

  it('keyboard layouts', () => {
    expect(toHex(encodeKeyboardTextRequest(2, 'hi'))).toBe(
      `00000002${'00000002'}${'00'.repeat(24)}000000026869`,
    );
    expect(decodeKeyboardTextRequest(encodeKeyboardTextRequest(7, 'héllo'))).toEqual({
      counter: 7,
      text: 'héllo',
    });
    expect(encodeKeyboardTextResponse(3, 'ab').length).toBe(42);
    expect(decodeKeyboardTextResponse(encodeKeyboardTextResponse(3, 'ab'))).toEqual({
      counter: 3,
      text: 'ab',
    });
    expect(encodeKeyboardOpen('x').length).toBe(33);
    expect(decodeKeyboardOpen(encodeKeyboardOpen('search me'))).toBe('search me');
    expect(() => decodeKeyboardOpen(new Uint8Array(31))).toThrow(ParseError);
    expect(() =>
      decodeKeyboardOpen(concatBytes(new Uint8Array(28), fromHex('00000010'), new Uint8Array(3))),
    ).toThrow(ParseError);
  });
});

/** Client + console wired in memory; `clock` advances in small steps, like a real event loop. */
function wire(
  target: Target,
  opts: {
    console?: Partial<ConstructorParameters<typeof CtrlConsole>[0]>;
    client?: Partial<ConstructorParameters<typeof CtrlClient>[0]>;
  } = {},
) {
  const c = RpCrypt.forSession(target, nonce, morning);
  const registKey = fromHex('31613262336334640000000000000000');
  let now = 1_000;
  // the real HTTP exchange first, so the counters come from the same code the drivers use
  const req = formatCtrlRequest({ target, host: '127.0.0.1', crypt: c, registKey });
  const info = parseCtrlRequest(req.bytes, () => [{ crypt: c, registKey, client: 'me' }]);
  if (!info) throw new Error('incomplete request');
  const console_ = new CtrlConsole({
    target,
    crypt: c,
    remoteCounter: info.clientCounter,
    now,
    ...opts.console,
  });
  const answer = formatCtrlResponse(c, 2);
  const res = parseCtrlResponse(answer, c);
  if (!res) throw new Error('incomplete answer');
  const client = new CtrlClient({
    target,
    crypt: c,
    remoteCounter: res.remoteCounter,
    localCounter: req.localCounter,
    now,
    ...opts.client,
  });
  const clientEvents: CtrlClientEvent[] = [];
  const consoleEvents: CtrlConsoleEvent[] = [];
  /** writes that left the console, with the time they were written */
  const consoleWrites: Array<{ at: number; bytes: Uint8Array }> = [];
  let consoleAlive = true;
  let clientAlive = true;
  const pump = (): void => {
    for (let i = 0; i < 4; i++) {
      const cp = tick(console_, now);
      consoleEvents.push(...cp.events);
      for (const b of cp.out) {
        consoleWrites.push({ at: now, bytes: b });
        if (consoleAlive && clientAlive) client.handle(b, now);
      }
      const kp = tick(client, now);
      clientEvents.push(...kp.events);
      for (const b of kp.out) if (clientAlive && consoleAlive) console_.handle(b, now);
    }
  };
  const advance = (ms: number, step = 50): void => {
    const end = now + ms;
    while (now < end) {
      now = Math.min(end, now + step);
      pump();
    }
  };
  pump();
  return {
    client,
    console: console_,
    clientEvents,
    consoleEvents,
    consoleWrites,
    advance,
    pump,
    get now() {
      return now;
    },
    killConsole: () => {
      consoleAlive = false;
    },
    killClient: () => {
      clientAlive = false;
    },
  };
}

const received = (ev: CtrlConsoleEvent[], name: string) =>
  ev.filter(
    (e): e is Extract<CtrlConsoleEvent, { type: 'received' }> => e.type === 'received' && e.name === name,
  );

describe('CtrlClient <-> CtrlConsole in memory', () => {
  it.each([1000, 1000100] as const)(
    'target %i: session id arrives later, heartbeats flow both ways',
    (target) => {
      const w = wire(target);
      // nothing in the same write as the HTTP answer
      expect(w.consoleWrites).toHaveLength(0);
      expect(w.console.pollTimeout()).toBe(w.now + 300);
      w.advance(400);
      const sid = w.clientEvents.find((e) => e.type === 'sessionId');
      expect(sid).toEqual({ type: 'sessionId', sessionId: w.console.sessionId, fallback: false });
      expect(w.consoleWrites[0].at).toBeGreaterThanOrEqual(1_300);
      // the client enabled what the reference enables after the session id
      expect(received(w.consoleEvents, 'MIC_TOGGLE')).toHaveLength(2);
      expect(received(w.consoleEvents, 'DISPLAY_DEVICES')).toHaveLength(1);
      w.advance(10_000);
      expect(received(w.consoleEvents, 'HEARTBEAT_REP').length).toBeGreaterThanOrEqual(10);
      expect(w.clientEvents.filter((e) => e.type === 'heartbeat').length).toBeGreaterThanOrEqual(10);
      expect(w.clientEvents.some((e) => e.type === 'lost' || e.type === 'warning')).toBe(false);
      expect(w.consoleEvents.some((e) => e.type === 'clientLost' || e.type === 'warning')).toBe(false);
    },
  );

  it('DualSense and keyboard enables when asked for', () => {
    const w = wire(1000100, { client: { dualSense: true, keyboard: true } });
    w.advance(400);
    expect(received(w.consoleEvents, 'ENABLE_DUALSENSE')[0].detail).toEqual({ ok: true });
    expect(received(w.consoleEvents, 'DUALSENSE_CONNECT')).toHaveLength(1);
    expect(received(w.consoleEvents, 'KEYBOARD_ENABLE')).toHaveLength(1);
    expect(received(w.consoleEvents, 'KEYBOARD_ENABLE_TOGGLE')).toHaveLength(1);
  });

  it('login PIN: wrong, then right, then the session id', () => {
    const w = wire(1000, { console: { loginPin: '1234' } });
    w.advance(400);
    expect(w.clientEvents).toContainEqual({ type: 'loginPinRequest', incorrect: false });
    expect(w.clientEvents.some((e) => e.type === 'sessionId')).toBe(false);
    // the user takes 20 s to type: no fallback session id meanwhile, heartbeats keep it alive
    w.advance(20_000);
    expect(w.clientEvents.some((e) => e.type === 'sessionId' || e.type === 'lost')).toBe(false);
    w.client.sendLoginPin('9999', w.now);
    w.advance(100);
    expect(w.clientEvents).toContainEqual({ type: 'loginPinRequest', incorrect: true });
    w.client.sendLoginPin('1234', w.now);
    w.advance(500);
    expect(w.clientEvents).toContainEqual({ type: 'loginSuccess' });
    expect(w.clientEvents).toContainEqual({
      type: 'sessionId',
      sessionId: w.console.sessionId,
      fallback: false,
    });
    expect(received(w.consoleEvents, 'LOGIN_PIN_REP').map((e) => e.detail)).toEqual([
      { pin: '9999', correct: false },
      { pin: '1234', correct: true },
    ]);
  });

  it('keyboard open / text / accept / remote close, standby', () => {
    const w = wire(1000100);
    w.advance(400);
    w.console.openKeyboard('find');
    w.advance(50);
    expect(w.clientEvents).toContainEqual({ type: 'keyboardOpen', text: 'find' });
    w.client.keyboardSetText('hello wörld');
    w.advance(50);
    expect(received(w.consoleEvents, 'KEYBOARD_TEXT_CHANGE_REQ')[0].detail).toEqual({
      counter: 1,
      text: 'hello wörld',
    });
    expect(w.clientEvents).toContainEqual({ type: 'keyboardTextChange', text: 'hello wörld' });
    w.client.keyboardAccept();
    w.client.keyboardReject();
    w.advance(50);
    expect(received(w.consoleEvents, 'KEYBOARD_CLOSE_REQ').map((e) => e.detail)).toEqual([
      { accepted: true },
      { accepted: false },
    ]);
    w.console.closeKeyboard();
    w.client.standby();
    w.advance(50);
    expect(w.clientEvents).toContainEqual({ type: 'keyboardCloseRemote' });
    expect(received(w.consoleEvents, 'GOTO_BED')).toHaveLength(1);
  });

  it('protected content toggles the display state', () => {
    const w = wire(1000);
    w.advance(400);
    w.console.setProtectedContent(true);
    w.advance(50);
    w.console.setProtectedContent(false);
    w.advance(50);
    expect(w.clientEvents.filter((e) => e.type === 'display')).toEqual([
      { type: 'display', canDisplay: false },
      { type: 'display', canDisplay: true },
    ]);
  });

  it('console lost: silence beyond 5 s ends the client with a NetworkError, within 5 s of the kill', () => {
    const w = wire(1000);
    w.advance(2_000);
    w.killConsole();
    // heartbeats came every second until the kill, so nothing is lost for about 4 s ...
    w.advance(3_900);
    expect(w.clientEvents.some((e) => e.type === 'lost')).toBe(false);
    // ... and the verdict is there 5 s after the kill at the latest
    w.advance(1_100);
    const lost = w.clientEvents.find((e) => e.type === 'lost');
    expect(lost?.type === 'lost' && lost.error).toBeInstanceOf(NetworkError);
    expect(lost?.type === 'lost' && lost.error.message).toMatch(/console lost/);
    expect(w.client.isClosed).toBe(true);
    expect(w.client.pollTimeout()).toBeUndefined();
  });

  it('the console drops a silent client after about 5 s', () => {
    const w = wire(1000);
    w.advance(1_000);
    w.killClient();
    w.advance(7_000);
    const lost = w.consoleEvents.find((e) => e.type === 'clientLost');
    expect(lost).toBeDefined();
    expect(lost?.type === 'clientLost' && lost.silentMs).toBeGreaterThanOrEqual(5_000);
    expect(lost?.type === 'clientLost' && lost.silentMs).toBeLessThan(5_100);
  });

  it('no session id in 10 s: the client invents one; an invalid one is replaced at once', () => {
    const w = wire(1000, { console: { sessionIdDelayMs: 60_000 } });
    w.advance(9_900);
    expect(w.clientEvents.some((e) => e.type === 'sessionId')).toBe(false);
    w.advance(200);
    const sid = w.clientEvents.find((e) => e.type === 'sessionId');
    expect(sid?.type === 'sessionId' && sid.fallback).toBe(true);
    expect(w.client.sessionId).toMatch(/^\d+[A-Za-z0-9+/]{64}$/);

    const bad = wire(1000, { console: { sessionId: 'not valid!' } });
    bad.advance(400);
    const sid2 = bad.clientEvents.find((e) => e.type === 'sessionId');
    expect(sid2?.type === 'sessionId' && sid2.fallback).toBe(true);
    expect(bad.clientEvents.some((e) => e.type === 'warning')).toBe(true);
  });
});

describe('fuzz: ctrl parsers only throw typed errors', () => {
  it('random and mutated streams into reassembler, client and console', () => {
    const ch = new CtrlChannel(crypt, 1, 4);
    const valid = concatBytes(
      ch.encode(CTRL.SESSION_ID, encodeSessionId(randomSessionId())),
      ch.encode(CTRL.HEARTBEAT_REQ),
      ch.encode(CTRL.KEYBOARD_OPEN, encodeKeyboardOpen('abc')),
      ch.encode(CTRL.KEYBOARD_TEXT_CHANGE_RES, encodeKeyboardTextResponse(1, 'abc')),
      ch.encode(CTRL.LOGIN, new Uint8Array([1])),
      ch.encode(CTRL.DISPLAY_A, new Uint8Array([1])),
      ch.encode(CTRL.DISPLAY_B, new Uint8Array(0)),
      ch.encode(0x4444, new Uint8Array(5)),
    );
    const mutated = fc
      .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 })
      .map((flips) => {
        const b = valid.slice();
        for (const [at, v] of flips) b[at % b.length] = v;
        return b;
      });
    const input = fc.tuple(
      fc.oneof(fc.uint8Array({ maxLength: 400 }), mutated),
      fc.integer({ min: 1, max: 64 }),
    );
    fc.assert(
      fc.property(input, ([bytes, chunk]) => {
        const client = new CtrlClient({ target: 1000, crypt, remoteCounter: 1, now: 0 });
        const cons = new CtrlConsole({ target: 1000, crypt, remoteCounter: 4, now: 0 });
        const r = new CtrlReassembler();
        for (let i = 0; i < bytes.length; i += chunk) {
          const part = bytes.subarray(i, i + chunk);
          typedOnly(() => r.push(part));
          typedOnly(() => client.handle(part, i));
          typedOnly(() => cons.handle(part, i));
        }
        typedOnly(() => tick(client, 1));
        typedOnly(() => tick(cons, 1));
      }),
      { numRuns: 500 },
    );
  });
});
