/**
 * Feedback packets: the client's controller input (docs/protocol.md §8).
 *
 * FEEDBACK_STATE (type 6) carries sticks and motion, FEEDBACK_HISTORY (type 1) carries a list of
 * button / trigger / touch events, newest first. Both share a 12-byte header
 * `type | seq u16 | 00 | key_pos u32 | gmac[4]`; the payload is encrypted with the local gkcrypt at
 * key_pos + 16 and the tag is computed over the whole packet with only the gmac field zeroed.
 *
 * Everything here is pure; the console side (parse/decode/describe) is used by the simulator.
 */

import { ByteReader, ByteWriter, bytesEqual } from './bytes.js';
import { AuthError, ParseError } from './errors.js';

const LAYER = 'feedback';

/** The part of GkCrypt (src/proto-stack/gkcrypt.ts) feedback needs; kept structural on purpose. */
export interface FeedbackCrypt {
  /** XORs `data` with the key stream starting at key position `keyPos`; returns the result. */
  crypt(data: Uint8Array, keyPos: number): Uint8Array;
  /** 4-byte GMAC tag of `data` at `keyPos`. */
  gmac(data: Uint8Array, keyPos: number): Uint8Array;
}

export type FeedbackType = 'state' | 'history';
export const FEEDBACK_TYPE_BYTE: Record<FeedbackType, number> = { history: 0x01, state: 0x06 };
export const FEEDBACK_HEADER_SIZE = 12;
/** Block size the payload is shifted by in the key stream (and added to our key_pos advance). */
export const FEEDBACK_KEY_POS_EXTRA = 16;
export const FEEDBACK_STATE_SIZE_V9 = 25;
export const FEEDBACK_STATE_SIZE_V12 = 28;
/** The history ring holds 16 events; after a send the newest 4 stay to be repeated. */
export const FEEDBACK_HISTORY_MAX_EVENTS = 16;
export const FEEDBACK_HISTORY_RESEND_EVENTS = 4;

// ---------------------------------------------------------------------------------------------
// Feedback state

export type Vec3 = readonly [number, number, number];
/** Quaternion as x, y, z, w. */
export type Quat = readonly [number, number, number, number];

export interface FeedbackStateFields {
  /** rad/s, encoded in [-30, 30]. */
  gyro: Vec3;
  /** g, encoded in [-5, 5]. */
  accel: Vec3;
  orientation: Quat;
  /** int16; negative y is up. */
  leftX: number;
  leftY: number;
  rightX: number;
  rightY: number;
}

export const IDLE_MOTION = {
  gyro: [0, 0, 0] as Vec3,
  accel: [0, 1, 0] as Vec3,
  orientation: [0, 0, 0, 1] as Quat,
};

const GYRO_RANGE = 30;
const ACCEL_RANGE = 5;
const f32 = Math.fround;

/** `trunc(0xffff * (v - min) / (max - min))` evaluated in float32 as the reference does. */
function quantise(v: number, range: number): number {
  const x = f32(f32(0xffff * f32(f32(v) + range)) / (2 * range));
  if (!(x > 0)) return 0; // also NaN
  return Math.min(0xffff, Math.trunc(x));
}

function unquantise(raw: number, range: number): number {
  return (raw * 2 * range) / 0xffff - range;
}

const SQRT1_2 = Math.SQRT1_2;
const QUAT_SCALE = 0x1ff / (2 * SQRT1_2);

/**
 * "Smallest three" quaternion: bit 0 = sign of the largest component, bits 1-2 = its index, then
 * the other three (each clamped to ±1/√2) as 9-bit values at bits 3, 12, 21. The arithmetic mirrors
 * the reference's float/double mix so that the bytes match.
 */
export function compressQuat(q: Quat): number {
  const c = q.map(f32);
  let largest = 0;
  for (let i = 1; i < 4; i++) if (Math.abs(c[i]) > Math.abs(c[largest])) largest = i;
  let r = (c[largest] < 0 ? 1 : 0) | (largest << 1);
  let slot = 0;
  for (let i = 0; i < 4; i++) {
    if (i === largest) continue;
    let v = c[i];
    if (Number.isNaN(v)) v = 0;
    if (v < -SQRT1_2) v = f32(-SQRT1_2);
    if (v > SQRT1_2) v = f32(SQRT1_2);
    v = f32(v + SQRT1_2);
    v = f32(v * QUAT_SCALE);
    r |= Math.min(0x1ff, Math.trunc(v)) << (3 + slot * 9);
    slot++;
  }
  return r >>> 0;
}

export function decompressQuat(raw: number): Quat {
  const largest = (raw >>> 1) & 3;
  const out = [0, 0, 0, 0];
  let sum = 0;
  let slot = 0;
  for (let i = 0; i < 4; i++) {
    if (i === largest) continue;
    const v = ((raw >>> (3 + slot * 9)) & 0x1ff) / QUAT_SCALE - SQRT1_2;
    out[i] = v;
    sum += v * v;
    slot++;
  }
  const big = Math.sqrt(Math.max(0, 1 - sum));
  out[largest] = raw & 1 ? -big : big;
  return out as unknown as Quat;
}

const int16 = (v: number): number => {
  if (!Number.isFinite(v)) return 0;
  return Math.max(-32768, Math.min(32767, Math.trunc(v)));
};

/** FeedbackState payload: 25 bytes for PS4 (Takion v9), 28 for PS5 (v12). */
export function encodeFeedbackState(s: FeedbackStateFields, ps5: boolean): Uint8Array {
  const w = new ByteWriter(FEEDBACK_STATE_SIZE_V12).u8(0xa0);
  for (const g of s.gyro) w.u16le(quantise(g, GYRO_RANGE));
  for (const a of s.accel) w.u16le(quantise(a, ACCEL_RANGE));
  w.u32le(compressQuat(s.orientation));
  for (const v of [s.leftX, s.leftY, s.rightX, s.rightY]) w.u16(int16(v) & 0xffff);
  if (ps5) w.u8(0).u8(0).u8(1);
  return w.finish();
}

export interface DecodedFeedbackState extends FeedbackStateFields {
  ps5: boolean;
}

const s16 = (v: number): number => (v << 16) >> 16;

/** Console side: decodes a (decrypted) FeedbackState payload. */
export function decodeFeedbackState(payload: Uint8Array): DecodedFeedbackState {
  if (payload.length !== FEEDBACK_STATE_SIZE_V9 && payload.length !== FEEDBACK_STATE_SIZE_V12) {
    throw new ParseError(
      LAYER,
      `feedback state payload is ${payload.length} bytes, expected ${FEEDBACK_STATE_SIZE_V9} (PS4) or ${FEEDBACK_STATE_SIZE_V12} (PS5)`,
    );
  }
  const r = new ByteReader(payload, LAYER);
  const marker = r.u8('marker');
  if (marker !== 0xa0) throw new ParseError(LAYER, `feedback state starts with 0x${hex2(marker)}, not 0xa0`);
  const gyro = [0, 1, 2].map(() => unquantise(r.u16le('gyro'), GYRO_RANGE)) as unknown as Vec3;
  const accel = [0, 1, 2].map(() => unquantise(r.u16le('accel'), ACCEL_RANGE)) as unknown as Vec3;
  const orientation = decompressQuat(r.u32le('orientation'));
  const [leftX, leftY, rightX, rightY] = [0, 1, 2, 3].map(() => s16(r.u16('stick')));
  return {
    ps5: payload.length === FEEDBACK_STATE_SIZE_V12,
    gyro,
    accel,
    orientation,
    leftX,
    leftY,
    rightX,
    rightY,
  };
}

// ---------------------------------------------------------------------------------------------
// Feedback history events

/** Buttons with a history id, named as in key maps. l2/r2 carry an analog state. */
export type HistoryButton =
  | 'dpad_up'
  | 'dpad_down'
  | 'dpad_left'
  | 'dpad_right'
  | 'l1'
  | 'r1'
  | 'l2'
  | 'r2'
  | 'cross'
  | 'circle'
  | 'square'
  | 'triangle'
  | 'options'
  | 'share'
  | 'ps'
  | 'l3'
  | 'r3'
  | 'touchpad';

/** Three-byte events `80 id state`. */
const STATEFUL_IDS: Partial<Record<HistoryButton, number>> = {
  dpad_up: 0x80,
  dpad_down: 0x81,
  dpad_left: 0x82,
  dpad_right: 0x83,
  l1: 0x84,
  r1: 0x85,
  l2: 0x86,
  r2: 0x87,
  cross: 0x88,
  circle: 0x89,
  square: 0x8a,
  triangle: 0x8b,
};
/** Two-byte events `80 id` (released) / `80 id+0x20` (pressed). */
const TWO_BYTE_IDS: Partial<Record<HistoryButton, number>> = {
  options: 0x8c,
  share: 0x8d,
  ps: 0x8e,
  l3: 0x8f,
  r3: 0x90,
  touchpad: 0x91,
};
const PRESSED_OFFSET = 0x20;
const BUTTON_BY_ID = new Map<number, HistoryButton>();
for (const [name, id] of Object.entries({ ...STATEFUL_IDS, ...TWO_BYTE_IDS }))
  BUTTON_BY_ID.set(id as number, name as HistoryButton);

export type FeedbackHistoryEvent =
  /**
   * state: 0 released, 255 pressed; l2/r2: analog 0..255. Two-byte buttons decode as 0 or 255;
   * `threeByte`: one of them came as `80 id state` (some clients send every button that way).
   */
  | { kind: 'button'; button: HistoryButton; state: number; threeByte?: true }
  /** down covers touch start and move; x 0..1919 (12 bits), y 0..941 (12 bits). */
  | { kind: 'touch'; down: boolean; pointerId: number; x: number; y: number };

const TOUCH_DOWN = 0xd0;
const TOUCH_UP = 0xc0;

export function encodeHistoryEvent(e: FeedbackHistoryEvent): Uint8Array {
  if (e.kind === 'touch') {
    const x = Math.max(0, Math.min(0xfff, Math.trunc(e.x)));
    const y = Math.max(0, Math.min(0xfff, Math.trunc(e.y)));
    return Uint8Array.of(
      e.down ? TOUCH_DOWN : TOUCH_UP,
      e.pointerId & 0x7f,
      x >> 4,
      ((x & 0xf) << 4) | (y >> 8),
      y & 0xff,
    );
  }
  const stateful = STATEFUL_IDS[e.button];
  if (stateful !== undefined) return Uint8Array.of(0x80, stateful, Math.max(0, Math.min(255, e.state | 0)));
  const id = TWO_BYTE_IDS[e.button];
  if (id === undefined) throw new ParseError(LAYER, `no history id for button "${e.button}"`);
  return Uint8Array.of(0x80, e.state ? id + PRESSED_OFFSET : id);
}

/** History payload from events, newest first (the order they are given in). */
export function encodeFeedbackHistory(events: readonly FeedbackHistoryEvent[]): Uint8Array {
  const w = new ByteWriter(events.length * 5);
  for (const e of events) w.bytes(encodeHistoryEvent(e));
  return w.finish();
}

/** Console side: splits a (decrypted) history payload into events, newest first. */
export function decodeFeedbackHistory(payload: Uint8Array): FeedbackHistoryEvent[] {
  const r = new ByteReader(payload, LAYER);
  const out: FeedbackHistoryEvent[] = [];
  while (r.remaining > 0) {
    const at = r.offset;
    const lead = r.u8('event type');
    if (lead === 0x80) {
      const id = r.u8('button id');
      const stateful = BUTTON_BY_ID.get(id);
      if (stateful !== undefined && id <= 0x8b) {
        out.push({ kind: 'button', button: stateful, state: r.u8('button state') });
        continue;
      }
      const released = BUTTON_BY_ID.get(id);
      const pressed = BUTTON_BY_ID.get(id - PRESSED_OFFSET);
      let e: FeedbackHistoryEvent;
      if (released !== undefined) e = { kind: 'button', button: released, state: 0 };
      else if (pressed !== undefined && id - PRESSED_OFFSET >= 0x8c)
        e = { kind: 'button', button: pressed, state: 255 };
      else throw new ParseError(LAYER, `unknown button id 0x${hex2(id)} in history event at offset ${at}`);
      // Lenient as a console is: the id already says pressed or released, so a third (state) byte
      // is read and dropped. It cannot be mistaken for the next event, whose lead is 80, c0 or d0.
      const next = r.remaining > 0 ? payload[r.offset] : undefined;
      if (next !== undefined && next !== 0x80 && next !== TOUCH_DOWN && next !== TOUCH_UP) {
        r.u8('button state');
        e.threeByte = true;
      }
      out.push(e);
    } else if (lead === TOUCH_DOWN || lead === TOUCH_UP) {
      const b = r.bytes(4, 'touch event');
      out.push({
        kind: 'touch',
        down: lead === TOUCH_DOWN,
        pointerId: b[0] & 0x7f,
        x: (b[1] << 4) | (b[2] >> 4),
        y: ((b[2] & 0xf) << 8) | b[3],
      });
    } else {
      throw new ParseError(LAYER, `unknown history event type 0x${hex2(lead)} at offset ${at}`);
    }
    if (out.length > FEEDBACK_HISTORY_MAX_EVENTS)
      throw new ParseError(LAYER, `more than ${FEEDBACK_HISTORY_MAX_EVENTS} events in one history packet`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Packets

/**
 * A feedback datagram without its tag: with `crypt` (the local gkcrypt, index 2) the payload is
 * encrypted at keyPos + 16 and key_pos written, the gmac field left zero for the transport to fill
 * (TakionEndpoint.sendRaw); without it (before BANG) key_pos stays zero and the payload plain.
 * The caller advances its key_pos by `payload.length + 16`.
 */
export function encodeFeedbackPacket(
  type: FeedbackType,
  seq: number,
  payload: Uint8Array,
  crypt: FeedbackCrypt | undefined,
  keyPos: number,
): Uint8Array {
  const packet = new Uint8Array(FEEDBACK_HEADER_SIZE + payload.length);
  const dv = new DataView(packet.buffer);
  packet[0] = FEEDBACK_TYPE_BYTE[type];
  dv.setUint16(1, seq & 0xffff);
  if (!crypt) {
    packet.set(payload, FEEDBACK_HEADER_SIZE);
    return packet;
  }
  packet.set(crypt.crypt(payload, keyPos + FEEDBACK_KEY_POS_EXTRA), FEEDBACK_HEADER_SIZE);
  dv.setUint32(4, keyPos >>> 0);
  return packet;
}

/** The whole datagram, tagged: encodeFeedbackPacket plus the GMAC (key_pos stays in the tag input). */
export function formatFeedbackPacket(
  type: FeedbackType,
  seq: number,
  payload: Uint8Array,
  crypt: FeedbackCrypt | undefined,
  keyPos: number,
): Uint8Array {
  const packet = encodeFeedbackPacket(type, seq, payload, crypt, keyPos);
  if (crypt) packet.set(crypt.gmac(packet, keyPos).subarray(0, 4), 8);
  return packet;
}

export interface ParsedFeedbackPacket {
  type: FeedbackType;
  seq: number;
  /** Low 32 bits of the sender's key position, as written in the header. */
  keyPos: number;
  gmac: Uint8Array;
  /** Decrypted when a crypt was given, else as received. */
  payload: Uint8Array;
}

/**
 * Console side: parses a feedback datagram. With `crypt` (the console's view of the client's
 * gkcrypt, index 2) the tag is verified (AuthError on mismatch) and the payload decrypted; the
 * 32-bit header key_pos is used as is, which holds for the first 4 GiB of a session.
 */
export function parseFeedbackPacket(packet: Uint8Array, crypt?: FeedbackCrypt): ParsedFeedbackPacket {
  const r = new ByteReader(packet, LAYER);
  const typeByte = r.u8('type');
  const type: FeedbackType | undefined =
    typeByte === FEEDBACK_TYPE_BYTE.state
      ? 'state'
      : typeByte === FEEDBACK_TYPE_BYTE.history
        ? 'history'
        : undefined;
  if (!type) throw new ParseError(LAYER, `packet type 0x${hex2(typeByte)} is not a feedback packet`);
  const seq = r.u16('seq');
  r.skip(1, 'reserved');
  const keyPos = r.u32('key_pos');
  const gmac = r.bytes(4, 'gmac').slice();
  let payload: Uint8Array = r.rest().slice();
  if (crypt) {
    const zeroed = packet.slice();
    zeroed.fill(0, 8, 12);
    const expected = crypt.gmac(zeroed, keyPos).subarray(0, 4);
    if (!bytesEqual(expected, gmac))
      throw new AuthError(`feedback ${type} packet seq ${seq}: GMAC mismatch at key_pos ${keyPos}`, {
        hint: 'the packet was corrupted or the stream keys differ',
      });
    payload = crypt.crypt(payload, keyPos + FEEDBACK_KEY_POS_EXTRA);
  }
  return { type, seq, keyPos, gmac, payload };
}

// ---------------------------------------------------------------------------------------------
// Console side: which history events are new, and what the simulator logs

/**
 * History packets repeat up to 4 older events after the new ones. The receiver compares each
 * packet with the previous one to pick out only the new events; after a gap in seq numbers it
 * cannot know and reports every event (the caller's state tracking makes repeats harmless then).
 */
export class FeedbackHistoryReceiver {
  private lastSeq: number | undefined;
  private lastEvents: Uint8Array[] = [];

  /** Returns the new events of this packet, oldest first (the order to apply them). */
  accept(seq: number, events: readonly FeedbackHistoryEvent[]): FeedbackHistoryEvent[] {
    const encoded = events.map(encodeHistoryEvent);
    let fresh = events.length;
    if (this.lastSeq !== undefined) {
      const delta = (seq - this.lastSeq) & 0xffff;
      if (delta === 0 || delta > 0x8000) return []; // duplicate or reordered older packet
      if (delta === 1) fresh = events.length - this.repeatedTail(encoded);
    }
    this.lastSeq = seq;
    this.lastEvents = encoded;
    return events.slice(0, fresh).reverse();
  }

  /**
   * How many trailing events repeat the previous packet's newest ones. Normally exactly the 4 (or
   * fewer) the sender kept; a full packet may have lost some of them to the 16-event cap. A tail
   * that does not match means we cannot tell, so 0 (everything counts as new).
   */
  private repeatedTail(encoded: Uint8Array[]): number {
    const kept = Math.min(FEEDBACK_HISTORY_RESEND_EVENTS, this.lastEvents.length);
    const matches = (r: number): boolean => {
      for (let i = 0; i < r; i++)
        if (!bytesEqual(encoded[encoded.length - r + i], this.lastEvents[i])) return false;
      return true;
    };
    if (encoded.length < FEEDBACK_HISTORY_MAX_EVENTS)
      return kept <= encoded.length && matches(kept) ? kept : 0;
    for (let r = kept; r > 0; r--) if (matches(r)) return r;
    return 0;
  }
}

export type ControllerLogEvent =
  | { type: 'controller'; button: HistoryButton; pressed: boolean; value?: number; threeByte?: true }
  | { type: 'controller'; touch: 'down' | 'up'; id: number; x: number; y: number }
  | { type: 'controller'; stick: 'left' | 'right'; x: number; y: number };

/** The JSON line the simulator logs for one history event. l2/r2 also carry their analog value. */
export function describeControllerEvent(e: FeedbackHistoryEvent): ControllerLogEvent {
  if (e.kind === 'touch')
    return { type: 'controller', touch: e.down ? 'down' : 'up', id: e.pointerId, x: e.x, y: e.y };
  if (e.button === 'l2' || e.button === 'r2')
    return { type: 'controller', button: e.button, pressed: e.state > 0, value: e.state };
  return {
    type: 'controller',
    button: e.button,
    pressed: e.state !== 0,
    ...(e.threeByte ? { threeByte: true } : {}),
  };
}

/** Stick log lines for a feedback state compared with the previous one (centred sticks if none). */
export function describeStickChanges(
  prev: FeedbackStateFields | undefined,
  next: FeedbackStateFields,
): ControllerLogEvent[] {
  const out: ControllerLogEvent[] = [];
  const p = prev ?? { leftX: 0, leftY: 0, rightX: 0, rightY: 0 };
  if (p.leftX !== next.leftX || p.leftY !== next.leftY)
    out.push({ type: 'controller', stick: 'left', x: next.leftX, y: next.leftY });
  if (p.rightX !== next.rightX || p.rightY !== next.rightY)
    out.push({ type: 'controller', stick: 'right', x: next.rightX, y: next.rightY });
  return out;
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/**
 * Console side in one piece: feedback datagrams in, the controller log lines out (new button,
 * trigger and touch events in the order they happened, stick changes). Set the crypt once the
 * stream keys exist; before that packets are read as plain.
 */
export class FeedbackConsoleDecoder {
  private readonly history = new FeedbackHistoryReceiver();
  private lastState: DecodedFeedbackState | undefined;
  private lastStateSeq: number | undefined;

  constructor(private crypt?: FeedbackCrypt) {}

  setCrypt(crypt: FeedbackCrypt | undefined): void {
    this.crypt = crypt;
  }

  /** The last decoded stick/motion state, if any arrived. */
  get state(): DecodedFeedbackState | undefined {
    return this.lastState;
  }

  /** Throws ParseError / AuthError for bad packets; returns [] for stale or repeated ones. */
  accept(packet: Uint8Array): ControllerLogEvent[] {
    const p = parseFeedbackPacket(packet, this.crypt);
    if (p.type === 'history')
      return this.history.accept(p.seq, decodeFeedbackHistory(p.payload)).map(describeControllerEvent);
    const s = decodeFeedbackState(p.payload);
    if (this.lastStateSeq !== undefined) {
      const delta = (p.seq - this.lastStateSeq) & 0xffff;
      if (delta === 0 || delta > 0x8000) return []; // duplicate or reordered older state
    }
    const out = describeStickChanges(this.lastState, s);
    this.lastState = s;
    this.lastStateSeq = p.seq;
    return out;
  }
}
