/**
 * The ctrl channel (docs/protocol.md §3.4): the TCP connection of the ctrl request stays open and carries
 * length-delimited messages, `payload_len u32 | type u16 | 00 00` followed by the payload
 * encrypted with the session RpCrypt. Each direction counts its own messages, continuing from the
 * request (client: after its encrypted headers; console: after RP-Server-Type). Empty payloads are
 * sent as bare headers and do not advance a counter (the reference does the same on both ends).
 *
 * Sans-I/O: CtrlClient and CtrlConsole take bytes and the current time and hand back the bytes to
 * write and the events seen; nextWakeup() says when poll() must run again for their timers.
 */
import { randomBytes } from 'node:crypto';
import {
  ascii,
  ByteReader,
  ByteWriter,
  bytesEqual,
  concatBytes,
  fromAscii,
  fromUtf8,
  toBase64,
  utf8,
  view,
} from './bytes.js';
import { NetworkError, ParseError, UsageError } from './errors.js';
import { type Machine, Queue } from './machine.js';
import type { RpCrypt } from './rpcrypt.js';
import { ctrlLocalCounterStart } from './session.js';
import type { Target } from './target.js';

export const CTRL = {
  DISPLAY_A: 0x01,
  LOGIN_PIN_REQ: 0x04,
  LOGIN: 0x05,
  KEYBOARD_ENABLE: 0x0d,
  DUALSENSE_CONNECT: 0x11,
  ENABLE_DUALSENSE: 0x13,
  GO_HOME: 0x14,
  DISPLAY_B: 0x16,
  KEYBOARD_ENABLE_TOGGLE: 0x20,
  KEYBOARD_OPEN: 0x21,
  KEYBOARD_CLOSE_REMOTE: 0x22,
  KEYBOARD_TEXT_CHANGE_REQ: 0x23,
  KEYBOARD_TEXT_CHANGE_RES: 0x24,
  KEYBOARD_CLOSE_REQ: 0x25,
  MIC_CONNECT: 0x30,
  SESSION_ID: 0x33,
  SWITCH_TO_STREAM: 0x34,
  MIC_TOGGLE: 0x36,
  GOTO_BED: 0x50,
  HEARTBEAT_REQ: 0xfe,
  HEARTBEAT_REP: 0x1fe,
  DISPLAY_DEVICES: 0x910,
  LOGIN_PIN_REP: 0x8004,
} as const;

const CTRL_NAMES = new Map<number, string>(Object.entries(CTRL).map(([k, v]) => [v, k]));
/** Symbolic name of a message type, or its hex value. */
export function ctrlTypeName(type: number): string {
  return CTRL_NAMES.get(type) ?? `0x${type.toString(16)}`;
}

export const CTRL_HEADER_SIZE = 8;
/** Real ctrl messages are tens of bytes; anything this large means the stream is out of sync. */
export const CTRL_MAX_PAYLOAD = 64 * 1024;

// ------------------------------------------------------------------------------------------------
// Framing
// ------------------------------------------------------------------------------------------------

/** A frame as it travels: `payload` is still encrypted. */
export interface CtrlFrame {
  type: number;
  payload: Uint8Array;
}

export function encodeCtrlFrame(type: number, payload: Uint8Array): Uint8Array {
  if (payload.length > CTRL_MAX_PAYLOAD)
    throw new UsageError(`ctrl payload of ${payload.length} bytes is too large`);
  return new ByteWriter(CTRL_HEADER_SIZE + payload.length)
    .u32(payload.length)
    .u16(type)
    .u16(0)
    .bytes(payload)
    .finish();
}

/** Splits a TCP byte stream into frames, keeping partial frames across reads. */
export class CtrlReassembler {
  private buf = new Uint8Array(0);

  get buffered(): number {
    return this.buf.length;
  }

  /** ParseError when a header announces an impossible length (the stream cannot recover). */
  push(chunk: Uint8Array): CtrlFrame[] {
    const all = new Uint8Array(this.buf.length + chunk.length);
    all.set(this.buf, 0);
    all.set(chunk, this.buf.length);
    const frames: CtrlFrame[] = [];
    let off = 0;
    while (all.length - off >= CTRL_HEADER_SIZE) {
      const dv = view(all.subarray(off));
      const len = dv.getUint32(0);
      if (len > CTRL_MAX_PAYLOAD)
        throw new ParseError(
          'ctrl',
          `message announces ${len} payload bytes (limit ${CTRL_MAX_PAYLOAD}); stream out of sync`,
        );
      if (all.length - off < CTRL_HEADER_SIZE + len) break;
      const type = dv.getUint16(4);
      frames.push({ type, payload: all.slice(off + CTRL_HEADER_SIZE, off + CTRL_HEADER_SIZE + len) });
      off += CTRL_HEADER_SIZE + len;
    }
    this.buf = all.slice(off);
    return frames;
  }
}

/** Plaintext message. */
export interface CtrlMessage {
  type: number;
  payload: Uint8Array;
}

/**
 * One end of the ctrl channel: frames + encrypts outgoing messages at the local counter and
 * reassembles + decrypts incoming ones at the remote counter.
 */
export class CtrlChannel {
  private readonly reasm = new CtrlReassembler();
  constructor(
    private readonly crypt: RpCrypt,
    private localCounter: number,
    private remoteCounter: number,
  ) {}

  get counters(): { local: number; remote: number } {
    return { local: this.localCounter, remote: this.remoteCounter };
  }

  encode(type: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
    const enc = payload.length > 0 ? this.crypt.encrypt(this.localCounter++, payload) : payload;
    return encodeCtrlFrame(type, enc);
  }

  feed(chunk: Uint8Array): CtrlMessage[] {
    return this.reasm.push(chunk).map((f) => ({
      type: f.type,
      payload: f.payload.length > 0 ? this.crypt.decrypt(this.remoteCounter++, f.payload) : f.payload,
    }));
  }
}

// ------------------------------------------------------------------------------------------------
// Payload codecs
// ------------------------------------------------------------------------------------------------

/** Fixed payloads the client sends (docs/protocol.md §3.4). */
export const CTRL_PAYLOAD = {
  enableDualSense: new Uint8Array([0x00, 0x40, 0x00]),
  dualSenseConnect: new Uint8Array([
    0xa0, 0xab, 0x51, 0xbd, 0xd1, 0x7e, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0,
  ]),
  keyboardEnable: new Uint8Array([0, 0, 0, 1, 0, 0, 0x05, 0xae, 0, 0, 0, 0, 0, 0, 0, 0]),
  keyboardEnableToggle: new Uint8Array([1]),
  goHome: new Uint8Array([0x00, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
  micConnect: new Uint8Array([0, 0]),
  displayDevices: new Uint8Array([0, 0, 0, 0]),
} as const;

const SESSION_ID_MARKER = 0x4a;
export const SESSION_ID_MIN = 24;
export const SESSION_ID_MAX = 78;
const ALNUM = /^[A-Za-z0-9]+$/;

/** SESSION_ID payload as a console sends it: the 0x4a byte, then the id text. */
export function encodeSessionId(sessionId: string): Uint8Array {
  return concatBytes(Uint8Array.of(SESSION_ID_MARKER), ascii(sessionId));
}

/**
 * Reads SESSION_ID. One leading byte is skipped (docs/protocol.md §10.6: the reference that validates the
 * id skips one byte, the other skips two; we follow the one-byte rule because an id of 24..78
 * alphanumerics is only recognisable that way). Returns undefined for an id the reference would
 * reject (then a fallback id is used).
 */
export function decodeSessionId(payload: Uint8Array): { sessionId: string; marker: number } | undefined {
  if (payload.length < 2) return undefined;
  const id = fromAscii(payload.subarray(1));
  if (id.length < SESSION_ID_MIN || id.length > SESSION_ID_MAX || !ALNUM.test(id)) return undefined;
  return { sessionId: id, marker: payload[0] };
}

/** The reference's stand-in when no valid session id arrives: seconds + base64 of 48 random bytes. */
export function fallbackSessionId(nowMs: number, random: Uint8Array = randomBytes(48)): string {
  return `${Math.floor(nowMs / 1000)}${toBase64(random)}`;
}

/** A random id of `length` alphanumerics (console side). */
export function randomSessionId(length = 74, random: (n: number) => Uint8Array = randomBytes): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (const b of random(length)) s += abc[b % abc.length];
  return s;
}

export function encodeLoginPin(pin: string): Uint8Array {
  if (!/^\d{1,16}$/.test(pin))
    throw new UsageError('the login passcode must be digits', 'enter the console user passcode');
  return ascii(pin);
}

export function decodeLoginPin(payload: Uint8Array): string {
  return fromAscii(payload);
}

export const LOGIN_SUCCESS = 0;
export const LOGIN_PIN_INCORRECT = 1;

/** KEYBOARD_OPEN: 28 unknown bytes, u32 text length, text. */
export function encodeKeyboardOpen(text: string): Uint8Array {
  const t = utf8(text);
  return new ByteWriter(32 + t.length).zeros(28).u32(t.length).bytes(t).finish();
}

export function decodeKeyboardOpen(payload: Uint8Array): string {
  const r = new ByteReader(payload, 'ctrl');
  r.skip(28, 'keyboard open header');
  const len = r.u32('text length');
  return fromUtf8(r.bytes(len, 'keyboard text'));
}

/** KEYBOARD_TEXT_CHANGE_REQ: u32 counter, u32 len, 24 zero bytes, u32 len, text. */
export function encodeKeyboardTextRequest(counter: number, text: string): Uint8Array {
  const t = utf8(text);
  return new ByteWriter(36 + t.length).u32(counter).u32(t.length).zeros(24).u32(t.length).bytes(t).finish();
}

export function decodeKeyboardTextRequest(payload: Uint8Array): { counter: number; text: string } {
  const r = new ByteReader(payload, 'ctrl');
  const counter = r.u32('counter');
  const len = r.u32('text length');
  r.skip(28, 'keyboard request header');
  return { counter, text: fromUtf8(r.bytes(len, 'keyboard text')) };
}

/** KEYBOARD_TEXT_CHANGE_RES: u32 counter, u32, u32 len, u32, 16 bytes, u32, u32 len, text. */
export function encodeKeyboardTextResponse(counter: number, text: string): Uint8Array {
  const t = utf8(text);
  return new ByteWriter(40 + t.length)
    .u32(counter)
    .u32(0)
    .u32(t.length)
    .u32(0)
    .zeros(16)
    .u32(0)
    .u32(t.length)
    .bytes(t)
    .finish();
}

export function decodeKeyboardTextResponse(payload: Uint8Array): { counter: number; text: string } {
  const r = new ByteReader(payload, 'ctrl');
  const counter = r.u32('counter');
  r.skip(4);
  const len = r.u32('text length');
  r.skip(28, 'keyboard response header');
  return { counter, text: fromUtf8(r.bytes(len, 'keyboard text')) };
}

/** KEYBOARD_CLOSE_REQ: 0 accept, 1 reject. */
export function encodeKeyboardClose(accept: boolean): Uint8Array {
  return new Uint8Array([0, 0, 0, accept ? 0 : 1]);
}

export function decodeKeyboardClose(payload: Uint8Array): boolean {
  return new ByteReader(payload, 'ctrl').u32('keyboard close') === 0;
}

/** MIC_TOGGLE: `00 01 01 59` unmuted, `00 01 00 59` muted. */
export function encodeMicToggle(muted: boolean): Uint8Array {
  return new Uint8Array([0, 1, muted ? 0 : 1, 0x59]);
}

export function decodeMicToggle(payload: Uint8Array): { muted: boolean } {
  const r = new ByteReader(payload, 'ctrl');
  r.skip(2);
  return { muted: r.u8('mic state') === 0 };
}

// ------------------------------------------------------------------------------------------------
// Client role
// ------------------------------------------------------------------------------------------------

export type CtrlClientEvent =
  /** `fallback`: none (or an invalid one) arrived in time and the reference's stand-in is used. */
  | { type: 'sessionId'; sessionId: string; fallback: boolean }
  /** The console user has a login passcode: ask the user, then call sendLoginPin. */
  | { type: 'loginPinRequest'; incorrect: boolean }
  | { type: 'loginSuccess' }
  | { type: 'heartbeat' }
  | { type: 'keyboardOpen'; text: string }
  | { type: 'keyboardTextChange'; text: string }
  | { type: 'keyboardCloseRemote' }
  /** false: the console shows protected content that it will not stream. */
  | { type: 'display'; canDisplay: boolean }
  | { type: 'unknown'; msgType: number; payload: Uint8Array }
  /** Odd but survivable input (a malformed payload inside a valid frame). */
  | { type: 'warning'; message: string }
  /** Silence beyond silenceTimeoutMs; the channel is closed afterwards. */
  | { type: 'lost'; error: NetworkError };

export interface CtrlClientOptions {
  target: Target;
  crypt: RpCrypt;
  /** From parseCtrlResponse (1 after a valid RP-Server-Type). */
  remoteCounter: number;
  /** Defaults to ctrlLocalCounterStart(target) (what formatCtrlRequest returns). */
  localCounter?: number;
  now: number;
  /** Announce DualSense features after the session id (PS5 with a DualSense). */
  dualSense?: boolean;
  /** Enable the on-screen keyboard after the session id. */
  keyboard?: boolean;
  /** Console silence that counts as "console lost" (the reference's ctrl expect timeout). */
  silenceTimeoutMs?: number;
  /** Wait for SESSION_ID before inventing one. */
  sessionIdTimeoutMs?: number;
  random?: (n: number) => Uint8Array;
}

export const CTRL_SILENCE_TIMEOUT_MS = 5000;
export const CTRL_SESSION_ID_TIMEOUT_MS = 10000;

export class CtrlClient implements Machine<Uint8Array, CtrlClientEvent, Uint8Array> {
  private readonly channel: CtrlChannel;
  private readonly opts: CtrlClientOptions;
  /** Complete frames to write, in order. */
  private readonly out = new Queue<Uint8Array>();
  private readonly events = new Queue<CtrlClientEvent>();
  private lastHeard: number;
  private sessionIdDeadline: number | undefined;
  private closed = false;
  private pinRequested = false;
  private keyboardCounter = 0;
  private cantDisplayA = false;
  private cantDisplayB = false;
  /** The session id once known (from the console or the fallback). */
  sessionId: string | undefined;

  constructor(opts: CtrlClientOptions) {
    this.opts = opts;
    this.channel = new CtrlChannel(
      opts.crypt,
      opts.localCounter ?? ctrlLocalCounterStart(opts.target),
      opts.remoteCounter,
    );
    this.lastHeard = opts.now;
    this.sessionIdDeadline = opts.now + (opts.sessionIdTimeoutMs ?? CTRL_SESSION_ID_TIMEOUT_MS);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes read from the socket (including those that followed the HTTP answer). */
  handle(bytes: Uint8Array, now: number): void {
    if (this.closed) return;
    this.lastHeard = now;
    for (const m of this.channel.feed(bytes)) this.onMessage(m, now);
  }

  /** Other proof that the console is alive (e.g. Takion traffic) postpones "console lost". */
  noteConsoleActivity(now: number): void {
    if (now > this.lastHeard) this.lastHeard = now;
  }

  handleTimeout(now: number): void {
    if (!this.closed) {
      const silence = this.opts.silenceTimeoutMs ?? CTRL_SILENCE_TIMEOUT_MS;
      if (now - this.lastHeard >= silence) {
        this.closed = true;
        this.events.push({
          type: 'lost',
          error: new NetworkError(
            `console lost: no ctrl message for ${Math.round((now - this.lastHeard) / 1000)} s`,
            {
              hint: 'the console went to rest mode, lost its network or was switched off; check it and reconnect',
            },
          ),
        });
      } else if (this.sessionIdDeadline !== undefined && now >= this.sessionIdDeadline) {
        this.adoptSessionId(fallbackSessionId(now, (this.opts.random ?? randomBytes)(48)), true);
      }
    }
  }

  pollTransmit(): Uint8Array | undefined {
    return this.out.shift();
  }

  pollEvent(): CtrlClientEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): number | undefined {
    if (this.closed) return undefined;
    const lost = this.lastHeard + (this.opts.silenceTimeoutMs ?? CTRL_SILENCE_TIMEOUT_MS);
    return this.sessionIdDeadline === undefined ? lost : Math.min(lost, this.sessionIdDeadline);
  }

  sendLoginPin(pin: string, now: number): void {
    this.send(CTRL.LOGIN_PIN_REP, encodeLoginPin(pin));
    if (this.sessionId === undefined)
      this.sessionIdDeadline = now + (this.opts.sessionIdTimeoutMs ?? CTRL_SESSION_ID_TIMEOUT_MS);
  }

  /** GOTO_BED: the console goes to rest mode. */
  standby(): void {
    this.send(CTRL.GOTO_BED);
  }

  keyboardSetText(text: string): void {
    this.keyboardCounter = (this.keyboardCounter + 1) >>> 0;
    this.send(CTRL.KEYBOARD_TEXT_CHANGE_REQ, encodeKeyboardTextRequest(this.keyboardCounter, text));
  }

  keyboardAccept(): void {
    this.send(CTRL.KEYBOARD_CLOSE_REQ, encodeKeyboardClose(true));
  }

  keyboardReject(): void {
    this.send(CTRL.KEYBOARD_CLOSE_REQ, encodeKeyboardClose(false));
  }

  enableDualSense(): void {
    this.send(CTRL.ENABLE_DUALSENSE, CTRL_PAYLOAD.enableDualSense);
    this.send(CTRL.DUALSENSE_CONNECT, CTRL_PAYLOAD.dualSenseConnect);
  }

  goHome(): void {
    this.send(CTRL.GO_HOME, CTRL_PAYLOAD.goHome);
  }

  micConnect(): void {
    this.send(CTRL.MIC_CONNECT, CTRL_PAYLOAD.micConnect);
  }

  micToggle(muted: boolean): void {
    this.send(CTRL.MIC_TOGGLE, encodeMicToggle(muted));
  }

  private send(type: number, payload?: Uint8Array): void {
    if (this.closed) return;
    this.out.push(this.channel.encode(type, payload));
  }

  private adoptSessionId(id: string, fallback: boolean): void {
    this.sessionId = id;
    this.sessionIdDeadline = undefined;
    this.events.push({ type: 'sessionId', sessionId: id, fallback });
    // What the reference enables once the session id is known, in its order.
    if (this.opts.dualSense) this.enableDualSense();
    if (this.opts.keyboard) {
      this.send(CTRL.KEYBOARD_ENABLE, CTRL_PAYLOAD.keyboardEnable);
      this.send(CTRL.KEYBOARD_ENABLE_TOGGLE, CTRL_PAYLOAD.keyboardEnableToggle);
    }
    this.micToggle(false);
    this.micToggle(false);
    this.send(CTRL.DISPLAY_DEVICES, CTRL_PAYLOAD.displayDevices);
  }

  private onMessage(m: CtrlMessage, now: number): void {
    try {
      this.dispatch(m, now);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      this.events.push({ type: 'warning', message: `${ctrlTypeName(m.type)}: ${e.message}` });
    }
  }

  private dispatch(m: CtrlMessage, now: number): void {
    const p = m.payload;
    switch (m.type) {
      case CTRL.HEARTBEAT_REQ:
        this.send(CTRL.HEARTBEAT_REP);
        this.events.push({ type: 'heartbeat' });
        return;
      case CTRL.SESSION_ID: {
        if (this.sessionId !== undefined) {
          this.events.push({ type: 'warning', message: 'a second SESSION_ID was ignored' });
          return;
        }
        const id = decodeSessionId(p);
        if (id) this.adoptSessionId(id.sessionId, false);
        else {
          this.events.push({
            type: 'warning',
            message: 'the console sent an invalid session id; using a stand-in',
          });
          this.adoptSessionId(fallbackSessionId(now, (this.opts.random ?? randomBytes)(48)), true);
        }
        return;
      }
      case CTRL.LOGIN_PIN_REQ:
        // The reference only waits for a PIN before the session id and ends the session on a
        // later request; surfacing it at any time lets the driver decide (and costs nothing).
        this.pinRequested = true;
        if (this.sessionId === undefined) this.sessionIdDeadline = undefined; // the user is typing
        this.events.push({ type: 'loginPinRequest', incorrect: false });
        return;
      case CTRL.LOGIN: {
        const state = new ByteReader(p, 'ctrl').u8('login state');
        if (state === LOGIN_SUCCESS) {
          this.pinRequested = false;
          this.events.push({ type: 'loginSuccess' });
        } else if (state === LOGIN_PIN_INCORRECT && this.pinRequested) {
          if (this.sessionId === undefined) this.sessionIdDeadline = undefined;
          this.events.push({ type: 'loginPinRequest', incorrect: true });
        } else this.events.push({ type: 'warning', message: `unexpected LOGIN state ${state}` });
        return;
      }
      case CTRL.KEYBOARD_OPEN:
        this.events.push({ type: 'keyboardOpen', text: decodeKeyboardOpen(p) });
        return;
      case CTRL.KEYBOARD_TEXT_CHANGE_RES:
        this.events.push({ type: 'keyboardTextChange', text: decodeKeyboardTextResponse(p).text });
        return;
      case CTRL.KEYBOARD_CLOSE_REMOTE:
        this.events.push({ type: 'keyboardCloseRemote' });
        return;
      case CTRL.DISPLAY_A:
        this.displayA(p);
        return;
      case CTRL.DISPLAY_B:
        this.displayB(p);
        return;
      case CTRL.SWITCH_TO_STREAM:
        return; // internet (PSN) path only
      default:
        this.events.push({ type: 'unknown', msgType: m.type, payload: p });
    }
  }

  // The console reports protected content in two steps (A = 1, then B = 00 00) and lifts it again
  // with B = 01 ff followed by A = 0; only the combined state is surfaced.
  private displayA(p: Uint8Array): void {
    const s = new ByteReader(p, 'ctrl').u8('display state');
    if (s === 1) this.cantDisplayA = true;
    else if (s === 0 && !this.cantDisplayB) {
      const was = this.cantDisplayA;
      this.cantDisplayA = false;
      if (was) this.events.push({ type: 'display', canDisplay: true });
    }
  }

  private displayB(p: Uint8Array): void {
    const r = new ByteReader(p, 'ctrl');
    const a = r.u8('display state');
    const b = r.u8('display state');
    if (this.cantDisplayA && a === 0 && b === 0 && !this.cantDisplayB) {
      this.cantDisplayB = true;
      this.events.push({ type: 'display', canDisplay: false });
    } else if (this.cantDisplayB && a === 0x01 && b === 0xff) this.cantDisplayB = false;
  }
}

// ------------------------------------------------------------------------------------------------
// Console role (simulator)
// ------------------------------------------------------------------------------------------------

export type CtrlConsoleEvent =
  | { type: 'sessionIdSent'; sessionId: string }
  | { type: 'loginPinRequested' }
  /** Every message the client sent, decoded where the format is known. */
  | { type: 'received'; name: string; msgType: number; detail?: Record<string, unknown> }
  | { type: 'warning'; message: string }
  /** The client stopped answering; the channel is closed afterwards. */
  | { type: 'clientLost'; silentMs: number };

export interface CtrlConsoleOptions {
  target: Target;
  crypt: RpCrypt;
  /** From parseCtrlRequest: the counter of the client's first message. */
  remoteCounter: number;
  /** The console's next counter; RP-Server-Type used 0. */
  localCounter?: number;
  now: number;
  /** Defaults to 74 random alphanumerics. */
  sessionId?: string;
  /** SESSION_ID goes out this long after the HTTP answer, never in the same write. */
  sessionIdDelayMs?: number;
  heartbeatIntervalMs?: number;
  /** A client silent this long is dropped. */
  clientTimeoutMs?: number;
  /** Ask for this login passcode before handing out the session id. */
  loginPin?: string;
}

export const CONSOLE_SESSION_ID_DELAY_MS = 300;
export const CONSOLE_HEARTBEAT_INTERVAL_MS = 1000;
export const CONSOLE_CLIENT_TIMEOUT_MS = 5000;

export class CtrlConsole implements Machine<Uint8Array, CtrlConsoleEvent, Uint8Array> {
  private readonly channel: CtrlChannel;
  private readonly opts: CtrlConsoleOptions;
  readonly sessionId: string;
  private readonly out = new Queue<Uint8Array>();
  private readonly events = new Queue<CtrlConsoleEvent>();
  private lastHeard: number;
  private nextHeartbeat: number;
  /** When to send SESSION_ID (or the login PIN request); undefined once done or while waiting for the PIN. */
  private greetAt: number | undefined;
  private awaitingPin = false;
  private pinAccepted = false;
  private closed = false;

  constructor(opts: CtrlConsoleOptions) {
    this.opts = opts;
    this.channel = new CtrlChannel(opts.crypt, opts.localCounter ?? 1, opts.remoteCounter);
    this.sessionId = opts.sessionId ?? randomSessionId();
    this.lastHeard = opts.now;
    this.nextHeartbeat = opts.now + this.heartbeatInterval;
    this.greetAt = opts.now + (opts.sessionIdDelayMs ?? CONSOLE_SESSION_ID_DELAY_MS);
  }

  private get heartbeatInterval(): number {
    return this.opts.heartbeatIntervalMs ?? CONSOLE_HEARTBEAT_INTERVAL_MS;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  handle(bytes: Uint8Array, now: number): void {
    if (this.closed) return;
    this.lastHeard = now;
    for (const m of this.channel.feed(bytes)) {
      try {
        this.onMessage(m, now);
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        this.events.push({ type: 'warning', message: `${ctrlTypeName(m.type)}: ${e.message}` });
      }
    }
  }

  handleTimeout(now: number): void {
    if (!this.closed) {
      const timeout = this.opts.clientTimeoutMs ?? CONSOLE_CLIENT_TIMEOUT_MS;
      if (now - this.lastHeard >= timeout) {
        this.closed = true;
        this.events.push({ type: 'clientLost', silentMs: now - this.lastHeard });
      } else {
        if (this.greetAt !== undefined && now >= this.greetAt) {
          this.greetAt = undefined;
          if (this.opts.loginPin !== undefined && !this.pinAccepted) {
            this.awaitingPin = true;
            this.send(CTRL.LOGIN_PIN_REQ);
            this.events.push({ type: 'loginPinRequested' });
          } else this.sendSessionId();
        }
        if (now >= this.nextHeartbeat) {
          this.send(CTRL.HEARTBEAT_REQ);
          // catch up without a burst if poll ran late
          this.nextHeartbeat = Math.max(this.nextHeartbeat + this.heartbeatInterval, now + 1);
        }
      }
    }
  }

  pollTransmit(): Uint8Array | undefined {
    return this.out.shift();
  }

  pollEvent(): CtrlConsoleEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): number | undefined {
    if (this.closed) return undefined;
    let t = Math.min(
      this.nextHeartbeat,
      this.lastHeard + (this.opts.clientTimeoutMs ?? CONSOLE_CLIENT_TIMEOUT_MS),
    );
    if (this.greetAt !== undefined) t = Math.min(t, this.greetAt);
    return t;
  }

  openKeyboard(text = ''): void {
    this.send(CTRL.KEYBOARD_OPEN, encodeKeyboardOpen(text));
  }

  closeKeyboard(): void {
    this.send(CTRL.KEYBOARD_CLOSE_REMOTE);
  }

  /** Protected content on screen (true) or gone again (false), in the two-step form clients expect. */
  setProtectedContent(on: boolean): void {
    if (on) {
      this.send(CTRL.DISPLAY_A, new Uint8Array([1]));
      this.send(CTRL.DISPLAY_B, new Uint8Array([0, 0]));
    } else {
      this.send(CTRL.DISPLAY_B, new Uint8Array([0x01, 0xff]));
      this.send(CTRL.DISPLAY_A, new Uint8Array([0]));
    }
  }

  private send(type: number, payload?: Uint8Array): void {
    if (this.closed) return;
    this.out.push(this.channel.encode(type, payload));
  }

  private sendSessionId(): void {
    this.send(CTRL.SESSION_ID, encodeSessionId(this.sessionId));
    this.events.push({ type: 'sessionIdSent', sessionId: this.sessionId });
  }

  private received(m: CtrlMessage, detail?: Record<string, unknown>): void {
    this.events.push({
      type: 'received',
      name: ctrlTypeName(m.type),
      msgType: m.type,
      ...(detail ? { detail } : {}),
    });
  }

  private onMessage(m: CtrlMessage, now: number): void {
    const p = m.payload;
    switch (m.type) {
      case CTRL.LOGIN_PIN_REP: {
        const pin = decodeLoginPin(p);
        const correct = this.awaitingPin && pin === this.opts.loginPin;
        this.received(m, { pin, correct });
        if (!this.awaitingPin) return;
        this.send(CTRL.LOGIN, new Uint8Array([correct ? LOGIN_SUCCESS : LOGIN_PIN_INCORRECT]));
        if (correct) {
          this.awaitingPin = false;
          this.pinAccepted = true;
          this.greetAt = now + (this.opts.sessionIdDelayMs ?? CONSOLE_SESSION_ID_DELAY_MS);
        }
        return;
      }
      case CTRL.KEYBOARD_TEXT_CHANGE_REQ: {
        const req = decodeKeyboardTextRequest(p);
        this.received(m, req);
        this.send(CTRL.KEYBOARD_TEXT_CHANGE_RES, encodeKeyboardTextResponse(req.counter, req.text));
        return;
      }
      case CTRL.KEYBOARD_CLOSE_REQ:
        this.received(m, { accepted: decodeKeyboardClose(p) });
        return;
      case CTRL.MIC_TOGGLE:
        this.received(m, decodeMicToggle(p));
        return;
      case CTRL.ENABLE_DUALSENSE:
        this.received(m, { ok: bytesEqual(p, CTRL_PAYLOAD.enableDualSense) });
        return;
      default:
        this.received(m, p.length > 0 ? { payloadBytes: p.length } : undefined);
    }
  }
}
