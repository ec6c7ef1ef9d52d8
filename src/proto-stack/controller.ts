/**
 * The pad as the console sees it: 16 digital buttons, two analog triggers, two sticks, two touch
 * slots and motion. States are plain frozen-by-convention objects; every change makes a new one,
 * so a previous state can be kept and diffed against the next (diffState -> history events).
 */
import {
  type FeedbackHistoryEvent,
  type FeedbackStateFields,
  type HistoryButton,
  IDLE_MOTION,
  type Quat,
  type Vec3,
} from './feedback.js';

/** Digital buttons in the reference's bit order (bit i = BUTTONS[i]); history events follow it. */
export const BUTTONS = [
  'cross',
  'circle',
  'square',
  'triangle',
  'dpad_left',
  'dpad_right',
  'dpad_up',
  'dpad_down',
  'l1',
  'r1',
  'l3',
  'r3',
  'options',
  'share',
  'touchpad',
  'ps',
] as const satisfies readonly HistoryButton[];
export type ButtonName = (typeof BUTTONS)[number];

export const TRIGGERS = ['l2', 'r2'] as const;
export type TriggerName = (typeof TRIGGERS)[number];

export const STICK_DIRECTIONS = [
  'left_stick_up',
  'left_stick_down',
  'left_stick_left',
  'left_stick_right',
  'right_stick_up',
  'right_stick_down',
  'right_stick_left',
  'right_stick_right',
] as const;
export type StickDirection = (typeof STICK_DIRECTIONS)[number];

/** Every name a key map may bind. */
export const CONTROLS = [...BUTTONS, ...TRIGGERS, ...STICK_DIRECTIONS] as const;
export type Control = ButtonName | TriggerName | StickDirection;
export const isControl = (s: string): s is Control => (CONTROLS as readonly string[]).includes(s);

const BUTTON_BIT = new Map<string, number>(BUTTONS.map((b, i) => [b, 1 << i]));

export interface TouchPoint {
  /** 0..127, allocated by the client. */
  id: number;
  /** 0..1919 */
  x: number;
  /** 0..941 (the DualShock 4 grid); the feedback sender rescales for a PS5 console. */
  y: number;
}

export interface ControllerState {
  /** Bit i set = BUTTONS[i] held. */
  readonly buttons: number;
  /** 0..255 */
  readonly l2: number;
  readonly r2: number;
  /** int16, idle 0, negative y is up. */
  readonly leftX: number;
  readonly leftY: number;
  readonly rightX: number;
  readonly rightY: number;
  readonly touches: readonly [TouchPoint | null, TouchPoint | null];
  readonly gyro: Vec3;
  readonly accel: Vec3;
  readonly orientation: Quat;
}

export const IDLE_STATE: ControllerState = Object.freeze({
  buttons: 0,
  l2: 0,
  r2: 0,
  leftX: 0,
  leftY: 0,
  rightX: 0,
  rightY: 0,
  touches: [null, null] as const,
  ...IDLE_MOTION,
});

export const STICK_MAX = 32767;
export const STICK_MIN = -32768;
export const TOUCH_MAX_X = 1919;
export const TOUCH_MAX_Y = 941;

export function isPressed(s: ControllerState, b: ButtonName): boolean {
  return (s.buttons & (BUTTON_BIT.get(b) ?? 0)) !== 0;
}

export function pressedButtons(s: ControllerState): ButtonName[] {
  return BUTTONS.filter((b) => isPressed(s, b));
}

export function withButton(s: ControllerState, b: ButtonName, pressed: boolean): ControllerState {
  const bit = BUTTON_BIT.get(b) ?? 0;
  const buttons = pressed ? s.buttons | bit : s.buttons & ~bit;
  return buttons === s.buttons ? s : { ...s, buttons };
}

export function withButtons(s: ControllerState, buttons: number): ControllerState {
  return buttons === s.buttons ? s : { ...s, buttons };
}

const clampInt = (v: number, lo: number, hi: number): number =>
  Number.isFinite(v) ? Math.max(lo, Math.min(hi, Math.round(v))) : 0;

export function withTrigger(s: ControllerState, t: TriggerName, value: number): ControllerState {
  const v = clampInt(value, 0, 255);
  return s[t] === v ? s : { ...s, [t]: v };
}

export function withStick(
  s: ControllerState,
  stick: 'left' | 'right',
  x: number,
  y: number,
): ControllerState {
  const cx = clampInt(x, STICK_MIN, STICK_MAX);
  const cy = clampInt(y, STICK_MIN, STICK_MAX);
  if (stick === 'left') return s.leftX === cx && s.leftY === cy ? s : { ...s, leftX: cx, leftY: cy };
  return s.rightX === cx && s.rightY === cy ? s : { ...s, rightX: cx, rightY: cy };
}

export function withTouch(s: ControllerState, slot: 0 | 1, touch: TouchPoint | null): ControllerState {
  const cur = s.touches[slot];
  const next = touch && {
    id: touch.id & 0x7f,
    x: clampInt(touch.x, 0, TOUCH_MAX_X),
    y: clampInt(touch.y, 0, TOUCH_MAX_Y),
  };
  if (cur === next || (cur && next && cur.id === next.id && cur.x === next.x && cur.y === next.y)) return s;
  const touches: [TouchPoint | null, TouchPoint | null] = [s.touches[0], s.touches[1]];
  touches[slot] = next;
  return { ...s, touches };
}

export function withMotion(s: ControllerState, gyro: Vec3, accel: Vec3, orientation?: Quat): ControllerState {
  return { ...s, gyro, accel, orientation: orientation ?? s.orientation };
}

function touchEqual(a: TouchPoint | null, b: TouchPoint | null): boolean {
  return a === b || (!!a && !!b && a.id === b.id && a.x === b.x && a.y === b.y);
}

const vecEqual = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= 1e-7);

/** The fields that go into a FeedbackState packet (sticks and motion) are equal. */
export function feedbackStateEqual(a: ControllerState, b: ControllerState): boolean {
  return (
    a.leftX === b.leftX &&
    a.leftY === b.leftY &&
    a.rightX === b.rightX &&
    a.rightY === b.rightY &&
    vecEqual(a.gyro, b.gyro) &&
    vecEqual(a.accel, b.accel) &&
    vecEqual(a.orientation, b.orientation)
  );
}

export function stateEqual(a: ControllerState, b: ControllerState): boolean {
  return (
    a === b ||
    (a.buttons === b.buttons &&
      a.l2 === b.l2 &&
      a.r2 === b.r2 &&
      touchEqual(a.touches[0], b.touches[0]) &&
      touchEqual(a.touches[1], b.touches[1]) &&
      feedbackStateEqual(a, b))
  );
}

export function toFeedbackState(s: ControllerState): FeedbackStateFields {
  const { gyro, accel, orientation, leftX, leftY, rightX, rightY } = s;
  return { gyro, accel, orientation, leftX, leftY, rightX, rightY };
}

/**
 * History events for a change, in the order the reference records them (its ring stores them
 * newest first): button releases, then touch changes, then presses, then L2 and R2. Releases come
 * before touches so a finger never lifts while its touchpad click is still held.
 */
export function diffState(prev: ControllerState, next: ControllerState): FeedbackHistoryEvent[] {
  const out: FeedbackHistoryEvent[] = [];
  const changed = prev.buttons ^ next.buttons;
  const buttons = (pressed: boolean): void => {
    BUTTONS.forEach((b, i) => {
      const bit = 1 << i;
      if (changed & bit && ((next.buttons & bit) !== 0) === pressed)
        out.push({ kind: 'button', button: b, state: pressed ? 0xff : 0 });
    });
  };
  buttons(false);
  for (const slot of [0, 1] as const) {
    const p = prev.touches[slot];
    const n = next.touches[slot];
    const lifted = p !== null && (!n || n.id !== p.id);
    if (lifted) out.push({ kind: 'touch', down: false, pointerId: p.id, x: p.x, y: p.y });
    // A finger replacing another in the same slot also gets its own down event (the reference
    // sends only the lift then, and the new finger stays unseen until it moves).
    if (n && (lifted || !p || p.x !== n.x || p.y !== n.y))
      out.push({ kind: 'touch', down: true, pointerId: n.id, x: n.x, y: n.y });
  }
  buttons(true);
  if (prev.l2 !== next.l2) out.push({ kind: 'button', button: 'l2', state: next.l2 });
  if (prev.r2 !== next.r2) out.push({ kind: 'button', button: 'r2', state: next.r2 });
  return out;
}
