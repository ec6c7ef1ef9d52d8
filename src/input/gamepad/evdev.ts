/**
 * Linux evdev backend without a native module: reads `/dev/input/event*` as a byte stream of
 * `struct input_event` (24 bytes on 64-bit: timeval 16, type u16, code u16, value s32; 16 bytes
 * on 32-bit ARM) and finds devices through sysfs. Works over SSH on a Pi with the pad plugged
 * into the Pi; the user needs read access to the event device (usually the `input` group).
 *
 * Sony pads appear as three devices (pad, "... Touchpad", "... Motion Sensors"); the siblings are
 * found through sysfs and merged into one controller state.
 *
 * Limits of going without ioctl: axis ranges (EVIOCGABS) are not readable, so each pad family
 * has its known ranges; force feedback needs EVIOCSFF to upload an effect before it can be played,
 * so FF_RUMBLE is not possible here. Sony pads rumble anyway: their hidraw node takes the output
 * report with a plain write. After SYN_DROPPED the state
 * cannot be re-read (EVIOCGKEY) and catches up with the next events.
 */
import {
  closeSync,
  constants,
  createReadStream,
  existsSync,
  openSync,
  type ReadStream,
  readdirSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { view } from '../../proto-stack/bytes.js';
import {
  type ButtonName,
  type ControllerState,
  IDLE_STATE,
  isPressed,
  TOUCH_MAX_X,
  TOUCH_MAX_Y,
  type TouchPoint,
  withButton,
  withMotion,
  withStick,
  withTouch,
  withTrigger,
} from '../../proto-stack/controller.js';
import type { Vec3 } from '../../proto-stack/feedback.js';
import { rumbleReport } from './hid.js';
import {
  type AxisRange,
  applyStick,
  applyTrigger,
  BYTE_STICK,
  DEFAULT_DEAD_ZONE,
  hatToDpad,
  type PadFamily,
  padFamily,
  unitAxis,
  XBOX360_PRODUCTS,
} from './mapping.js';

// linux/input-event-codes.h
export const EV_SYN = 0x00;
export const EV_KEY = 0x01;
export const EV_ABS = 0x03;
export const BUS_USB = 0x03;
export const BUS_BLUETOOTH = 0x05;
export const SYN_REPORT = 0;
export const SYN_DROPPED = 3;
export const BTN_SOUTH = 0x130;
export const BTN_EAST = 0x131;
export const BTN_NORTH = 0x133; // also BTN_X
export const BTN_WEST = 0x134; // also BTN_Y
export const BTN_TL = 0x136;
export const BTN_TR = 0x137;
export const BTN_TL2 = 0x138;
export const BTN_TR2 = 0x139;
export const BTN_SELECT = 0x13a;
export const BTN_START = 0x13b;
export const BTN_MODE = 0x13c;
export const BTN_THUMBL = 0x13d;
export const BTN_THUMBR = 0x13e;
export const BTN_DPAD_UP = 0x220;
export const BTN_DPAD_DOWN = 0x221;
export const BTN_DPAD_LEFT = 0x222;
export const BTN_DPAD_RIGHT = 0x223;
export const ABS_X = 0x00;
export const ABS_Y = 0x01;
export const ABS_Z = 0x02;
export const ABS_RX = 0x03;
export const ABS_RY = 0x04;
export const ABS_RZ = 0x05;
export const ABS_HAT0X = 0x10;
export const ABS_HAT0Y = 0x11;
export const BTN_LEFT = 0x110;
export const ABS_MT_SLOT = 0x2f;
export const ABS_MT_POSITION_X = 0x35;
export const ABS_MT_POSITION_Y = 0x36;
export const ABS_MT_TRACKING_ID = 0x39;
/** First gamepad button code; a device whose key capabilities include it is a pad. */
export const BTN_GAMEPAD = BTN_SOUTH;

export interface InputEvent {
  sec: number;
  usec: number;
  type: number;
  code: number;
  value: number;
}

/** input_event size for the running Node: 16 on 32-bit ARM/x86 kernels' userland, else 24. */
export function inputEventSize(arch: string = process.arch): 16 | 24 {
  return arch === 'arm' || arch === 'ia32' ? 16 : 24;
}

/** Splits a byte stream into input_event structs, keeping a partial struct for the next chunk. */
export class InputEventParser {
  private partial = new Uint8Array(0);
  constructor(readonly eventSize: 16 | 24 = inputEventSize()) {}

  feed(chunk: Uint8Array): InputEvent[] {
    let buf = chunk;
    if (this.partial.length) {
      buf = new Uint8Array(this.partial.length + chunk.length);
      buf.set(this.partial);
      buf.set(chunk, this.partial.length);
    }
    const n = Math.floor(buf.length / this.eventSize);
    const dv = view(buf);
    const out: InputEvent[] = [];
    const t = this.eventSize === 24 ? 16 : 8;
    for (let i = 0; i < n; i++) {
      const o = i * this.eventSize;
      const sec = this.eventSize === 24 ? Number(dv.getBigInt64(o, true)) : dv.getInt32(o, true);
      const usec = this.eventSize === 24 ? Number(dv.getBigInt64(o + 8, true)) : dv.getInt32(o + 4, true);
      out.push({
        sec,
        usec,
        type: dv.getUint16(o + t, true),
        code: dv.getUint16(o + t + 2, true),
        value: dv.getInt32(o + t + 4, true),
      });
    }
    this.partial = buf.slice(n * this.eventSize);
    return out;
  }
}

/** Builds input_event bytes (fixtures, tests). */
export function encodeInputEvents(events: readonly InputEvent[], eventSize: 16 | 24 = 24): Uint8Array {
  const out = new Uint8Array(events.length * eventSize);
  const dv = new DataView(out.buffer);
  const t = eventSize === 24 ? 16 : 8;
  events.forEach((e, i) => {
    const o = i * eventSize;
    if (eventSize === 24) {
      dv.setBigInt64(o, BigInt(e.sec), true);
      dv.setBigInt64(o + 8, BigInt(e.usec), true);
    } else {
      dv.setInt32(o, e.sec, true);
      dv.setInt32(o + 4, e.usec, true);
    }
    dv.setUint16(o + t, e.type, true);
    dv.setUint16(o + t + 2, e.code, true);
    dv.setInt32(o + t + 4, e.value, true);
  });
  return out;
}

type AxisRole = 'lx' | 'ly' | 'rx' | 'ry' | 'l2' | 'r2' | 'hatx' | 'haty';

export interface EvdevProfile {
  family: PadFamily;
  buttons: ReadonlyMap<number, ButtonName>;
  axes: ReadonlyMap<number, { role: AxisRole; range: AxisRange }>;
}

const COMMON_BUTTONS: [number, ButtonName][] = [
  [BTN_SOUTH, 'cross'],
  [BTN_EAST, 'circle'],
  [BTN_TL, 'l1'],
  [BTN_TR, 'r1'],
  [BTN_SELECT, 'share'],
  [BTN_START, 'options'],
  [BTN_MODE, 'ps'],
  [BTN_THUMBL, 'l3'],
  [BTN_THUMBR, 'r3'],
  [BTN_DPAD_UP, 'dpad_up'],
  [BTN_DPAD_DOWN, 'dpad_down'],
  [BTN_DPAD_LEFT, 'dpad_left'],
  [BTN_DPAD_RIGHT, 'dpad_right'],
];

/**
 * Known layouts. Sony pads (hid-sony / hid-playstation) follow the kernel gamepad spec: triangle
 * is BTN_NORTH, square BTN_WEST. xpad reports Xbox X (left button, = square) as BTN_X (= 0x133,
 * the same code as BTN_NORTH) and Y (top, = triangle) as BTN_Y (0x134): the two must be swapped.
 */
export function evdevProfile(family: PadFamily, product = 0): EvdevProfile {
  const sony = family === 'dualshock4' || family === 'dualsense';
  const stick: AxisRange = sony ? BYTE_STICK : { min: -32768, max: 32767 };
  const trigger: AxisRange = { min: 0, max: sony || XBOX360_PRODUCTS.has(product) ? 255 : 1023 };
  const hat: AxisRange = { min: -1, max: 1 };
  const [north, west]: ButtonName[] = sony ? ['triangle', 'square'] : ['square', 'triangle'];
  return {
    family,
    buttons: new Map([...COMMON_BUTTONS, [BTN_NORTH, north], [BTN_WEST, west]]),
    axes: new Map([
      [ABS_X, { role: 'lx', range: stick }],
      [ABS_Y, { role: 'ly', range: stick }],
      [ABS_RX, { role: 'rx', range: stick }],
      [ABS_RY, { role: 'ry', range: stick }],
      [ABS_Z, { role: 'l2', range: trigger }],
      [ABS_RZ, { role: 'r2', range: trigger }],
      [ABS_HAT0X, { role: 'hatx', range: hat }],
      [ABS_HAT0Y, { role: 'haty', range: hat }],
    ]),
  };
}

/**
 * Folds evdev events into controller states. Events between two SYN_REPORTs form one frame: a
 * state comes out only at SYN_REPORT, and only if it changed. After SYN_DROPPED (the kernel's
 * buffer overflowed) the frame is discarded until the next report.
 */
export class EvdevPadState {
  private raw = { lx: 0, ly: 0, rx: 0, ry: 0 };
  private hat = { x: 0, y: 0 };
  private pending: ControllerState;
  private emitted: ControllerState = IDLE_STATE;
  private dropping = false;

  constructor(
    readonly profile: EvdevProfile,
    private readonly deadZone = DEFAULT_DEAD_ZONE,
  ) {
    this.pending = IDLE_STATE;
    const centre = (role: AxisRole): number => {
      for (const a of profile.axes.values()) if (a.role === role) return (a.range.min + a.range.max) / 2;
      return 0;
    };
    this.raw = { lx: centre('lx'), ly: centre('ly'), rx: centre('rx'), ry: centre('ry') };
  }

  get state(): ControllerState {
    return this.emitted;
  }

  /** Returns the new state at a SYN_REPORT that changed something. */
  apply(ev: InputEvent): ControllerState | undefined {
    if (ev.type === EV_SYN) {
      if (ev.code === SYN_DROPPED) {
        this.dropping = true;
        return undefined;
      }
      if (ev.code !== SYN_REPORT) return undefined;
      if (this.dropping) {
        this.dropping = false;
        this.pending = this.emitted;
        return undefined;
      }
      if (this.pending === this.emitted) return undefined;
      this.emitted = this.pending;
      return this.emitted;
    }
    if (this.dropping) return undefined;
    if (ev.type === EV_KEY) {
      const b = this.profile.buttons.get(ev.code);
      if (b) this.pending = withButton(this.pending, b, ev.value !== 0);
    } else if (ev.type === EV_ABS) {
      const axis = this.profile.axes.get(ev.code);
      if (!axis) return undefined;
      switch (axis.role) {
        case 'lx':
        case 'ly':
        case 'rx':
        case 'ry': {
          this.raw[axis.role] = ev.value;
          const left = axis.role === 'lx' || axis.role === 'ly';
          const x = unitAxis(left ? this.raw.lx : this.raw.rx, axis.range);
          const y = unitAxis(left ? this.raw.ly : this.raw.ry, axis.range);
          const [sx, sy] = applyStick(x, y, this.deadZone);
          this.pending = withStick(this.pending, left ? 'left' : 'right', sx, sy);
          break;
        }
        case 'l2':
        case 'r2':
          this.pending = withTrigger(this.pending, axis.role, applyTrigger(ev.value, axis.range));
          break;
        case 'hatx':
        case 'haty': {
          this.hat[axis.role === 'hatx' ? 'x' : 'y'] = ev.value;
          const d = hatToDpad(this.hat.x, this.hat.y);
          let s = this.pending;
          s = withButton(s, 'dpad_left', d.left);
          s = withButton(s, 'dpad_right', d.right);
          s = withButton(s, 'dpad_up', d.up);
          this.pending = withButton(s, 'dpad_down', d.down);
          break;
        }
      }
    }
    return undefined;
  }
}

export interface EvdevDeviceInfo {
  /** /dev/input/eventN */
  path: string;
  name: string;
  vendorId: number;
  productId: number;
  /** 3 = USB, 5 = Bluetooth */
  bustype: number;
  family: PadFamily;
  /** The touchpad and motion-sensor devices of the same pad (Sony pads). */
  touchpad?: string;
  motion?: string;
  /** The pad's /dev/hidrawN (Sony pads): output reports written there make it rumble. */
  hidraw?: string;
}

/** DualShock 4 touch y runs to 941 like the protocol; DualSense to 1079. */
const touchMaxY = (family: PadFamily): number => (family === 'dualsense' ? 1079 : TOUCH_MAX_Y);
/** hid-sony / hid-playstation report calibrated motion at these resolutions. */
const ACCEL_PER_G = 8192;
const GYRO_PER_DEG_S = 1024;

/** The touchpad device: multitouch slots and the click (BTN_LEFT). */
export class EvdevTouchpadState {
  private slot = 0;
  private readonly slots: ({ id: number; x: number; y: number } | null)[] = [null, null];
  private click = false;
  private emitted: { touches: [TouchPoint | null, TouchPoint | null]; click: boolean } = {
    touches: [null, null],
    click: false,
  };

  constructor(private readonly family: PadFamily) {}

  get state(): { touches: readonly [TouchPoint | null, TouchPoint | null]; click: boolean } {
    return this.emitted;
  }

  /** True at a SYN_REPORT that changed the touches or the click. */
  apply(ev: InputEvent): boolean {
    if (ev.type === EV_KEY && ev.code === BTN_LEFT) this.click = ev.value !== 0;
    else if (ev.type === EV_ABS) {
      if (ev.code === ABS_MT_SLOT) this.slot = ev.value;
      else if (this.slot === 0 || this.slot === 1) {
        const cur = this.slots[this.slot];
        if (ev.code === ABS_MT_TRACKING_ID)
          this.slots[this.slot] =
            ev.value < 0 ? null : { id: ev.value & 0x7f, x: cur?.x ?? 0, y: cur?.y ?? 0 };
        else if (cur && ev.code === ABS_MT_POSITION_X) this.slots[this.slot] = { ...cur, x: ev.value };
        else if (cur && ev.code === ABS_MT_POSITION_Y) this.slots[this.slot] = { ...cur, y: ev.value };
      }
    } else if (ev.type === EV_SYN && ev.code === SYN_REPORT) {
      const maxY = touchMaxY(this.family);
      const touches = this.slots.map((t) =>
        t
          ? {
              id: t.id,
              x: Math.min(TOUCH_MAX_X, Math.max(0, t.x)),
              y: Math.round((Math.max(0, Math.min(maxY, t.y)) * TOUCH_MAX_Y) / maxY),
            }
          : null,
      ) as [TouchPoint | null, TouchPoint | null];
      const next = { touches, click: this.click };
      if (JSON.stringify(next) === JSON.stringify(this.emitted)) return false;
      this.emitted = next;
      return true;
    }
    return false;
  }
}

/** The motion-sensor device: accelerometer on ABS_X/Y/Z, gyroscope on ABS_RX/RY/RZ. */
export class EvdevMotionState {
  private readonly raw = [0, ACCEL_PER_G, 0, 0, 0, 0];
  private emitted: { gyro: Vec3; accel: Vec3 } = { gyro: [0, 0, 0], accel: [0, 1, 0] };

  get state(): { gyro: Vec3; accel: Vec3 } {
    return this.emitted;
  }

  apply(ev: InputEvent): boolean {
    if (ev.type === EV_ABS && ev.code <= ABS_RZ) this.raw[ev.code] = ev.value;
    else if (ev.type === EV_SYN && ev.code === SYN_REPORT) {
      const r = this.raw;
      const g = (v: number): number => ((v / GYRO_PER_DEG_S) * Math.PI) / 180;
      const next = {
        accel: [r[0] / ACCEL_PER_G, r[1] / ACCEL_PER_G, r[2] / ACCEL_PER_G] as const,
        gyro: [g(r[3]), g(r[4]), g(r[5])] as const,
      };
      if (JSON.stringify(next) === JSON.stringify(this.emitted)) return false;
      this.emitted = next;
      return true;
    }
    return false;
  }
}

/** One pad's state from its (up to) three devices. */
export function combinePadDevices(
  pad: ControllerState,
  touchpad: EvdevTouchpadState['state'] | undefined,
  motion: EvdevMotionState['state'] | undefined,
): ControllerState {
  let s = pad;
  if (touchpad) {
    s = withButton(s, 'touchpad', touchpad.click || isPressed(pad, 'touchpad'));
    s = withTouch(withTouch(s, 0, touchpad.touches[0]), 1, touchpad.touches[1]);
  }
  if (motion) s = withMotion(s, motion.gyro, motion.accel);
  return s;
}

function readText(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Does a sysfs key capability bitmap (hex words, most significant first, each a `long`) include
 * `code`? Words are 64 bits on 64-bit kernels; the width is guessed from the longest word.
 */
export function hasCapability(bitmap: string, code: number): boolean {
  const words = bitmap.trim().split(/\s+/).filter(Boolean).reverse();
  if (words.length === 0) return false;
  const bits = words.some((w) => w.length > 8) || words.length > 16 ? 64 : 32;
  const word = words[Math.floor(code / bits)];
  if (!word) return false;
  return ((BigInt(`0x${word}`) >> BigInt(code % bits)) & 1n) === 1n;
}

interface SysfsInput {
  event: string;
  name: string;
  vendorId: number;
  productId: number;
  bustype: number;
  uniq: string;
  phys: string;
  isPad: boolean;
  hidraw: string | undefined;
}

/** hidrawN of the HID device an input device belongs to (sysfs: event/device/device/hidraw/). */
function hidrawOf(sysRoot: string, event: string): string | undefined {
  try {
    return readdirSync(join(sysRoot, event, 'device', 'device', 'hidraw')).find((h) => /^hidraw\d+$/.test(h));
  } catch {
    return undefined;
  }
}

function readSysfsInputs(sysRoot: string): SysfsInput[] {
  let entries: string[];
  try {
    entries = readdirSync(sysRoot).filter((e) => /^event\d+$/.test(e));
  } catch {
    return [];
  }
  return entries
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
    .map((event) => {
      const dev = join(sysRoot, event, 'device');
      const hex = (f: string): number => Number.parseInt(readText(join(dev, 'id', f)) ?? '0', 16) || 0;
      return {
        event,
        name: readText(join(dev, 'name')) ?? event,
        vendorId: hex('vendor'),
        productId: hex('product'),
        bustype: hex('bustype'),
        uniq: readText(join(dev, 'uniq')) ?? '',
        phys: readText(join(dev, 'phys')) ?? '',
        isPad: hasCapability(readText(join(dev, 'capabilities', 'key')) ?? '', BTN_GAMEPAD),
        hidraw: hidrawOf(sysRoot, event),
      };
    });
}

/** Same physical pad: same ids, same uniq (Bluetooth address) or phys when the kernel sets one. */
function sameDevice(a: SysfsInput, b: SysfsInput): boolean {
  if (a.vendorId !== b.vendorId || a.productId !== b.productId) return false;
  if (a.uniq && b.uniq) return a.uniq === b.uniq;
  if (a.phys && b.phys) return a.phys.replace(/\/input\d+$/, '') === b.phys.replace(/\/input\d+$/, '');
  return true;
}

/** Game pads among the input devices, from sysfs (roots are parameters for tests). */
export function listEvdevPads(sysRoot = '/sys/class/input', devRoot = '/dev/input'): EvdevDeviceInfo[] {
  if (!existsSync(sysRoot)) return [];
  const all = readSysfsInputs(sysRoot);
  const used = new Set<string>();
  const out: EvdevDeviceInfo[] = [];
  for (const d of all) {
    if (!d.isPad) continue;
    const sibling = (suffix: string): string | undefined => {
      const s = all.find(
        (x) => !x.isPad && !used.has(x.event) && x.name === `${d.name} ${suffix}` && sameDevice(d, x),
      );
      if (!s) return undefined;
      used.add(s.event);
      return join(devRoot, s.event);
    };
    const family = padFamily(d.vendorId, d.productId, d.name);
    out.push({
      path: join(devRoot, d.event),
      name: d.name,
      vendorId: d.vendorId,
      productId: d.productId,
      bustype: d.bustype,
      family,
      touchpad: sibling('Touchpad'),
      motion: sibling('Motion Sensors'),
      ...(d.hidraw && family !== 'generic' && family !== 'xbox'
        ? { hidraw: join(devRoot, '..', d.hidraw) }
        : {}),
    });
  }
  return out;
}

/** Reads one event device, calling `onEvent` per input_event, `onEnd` once on close or error. */
function readEvents(
  path: string,
  onEvent: (ev: InputEvent) => void,
  onEnd: (err?: Error) => void,
): ReadStream {
  const parser = new InputEventParser();
  const stream = createReadStream(path, { highWaterMark: parser.eventSize * 64 });
  stream.on('data', (chunk) => {
    for (const ev of parser.feed(chunk as Buffer)) onEvent(ev);
  });
  stream.on('error', (err) => onEnd(err));
  stream.on('close', () => onEnd());
  return stream;
}

/**
 * An open pad (plus its touchpad and motion devices when it has them); `onState` gets each changed
 * state, `onClose` the end (unplug, error). Losing only a sibling device keeps the pad going.
 */
export class EvdevPad {
  private readonly streams: ReadStream[] = [];
  private readonly pad: EvdevPadState;
  private readonly touch: EvdevTouchpadState | undefined;
  private readonly motion: EvdevMotionState | undefined;
  private combined: ControllerState = IDLE_STATE;
  private closed = false;
  private hidrawFd: number | undefined;
  private outputSeq = 0;

  constructor(
    readonly info: EvdevDeviceInfo,
    onState: (s: ControllerState) => void,
    onClose: (err?: Error) => void,
    deadZone = DEFAULT_DEAD_ZONE,
  ) {
    this.pad = new EvdevPadState(evdevProfile(info.family, info.productId), deadZone);
    const publish = (): void => {
      this.combined = combinePadDevices(this.pad.state, this.touch?.state, this.motion?.state);
      onState(this.combined);
    };
    const end = (err?: Error): void => {
      if (this.closed) return;
      this.close();
      onClose(err);
    };
    this.streams.push(
      readEvents(
        info.path,
        (ev) => {
          if (this.pad.apply(ev)) publish();
        },
        end,
      ),
    );
    const sibling = (path: string | undefined, apply: (ev: InputEvent) => boolean): void => {
      if (!path) return;
      this.streams.push(
        readEvents(
          path,
          (ev) => {
            if (apply(ev)) publish();
          },
          () => {},
        ),
      );
    };
    if (info.touchpad) {
      const t = new EvdevTouchpadState(info.family);
      this.touch = t;
      sibling(info.touchpad, (ev) => t.apply(ev));
    }
    if (info.motion) {
      const m = new EvdevMotionState();
      this.motion = m;
      sibling(info.motion, (ev) => m.apply(ev));
    }
  }

  get state(): ControllerState {
    return this.combined;
  }

  /**
   * Rumble through the pad's hidraw node: a plain write of the output report, no ioctl needed.
   * Returns false when there is no such node or it is not writable.
   */
  rumble(strong: number, weak: number): boolean {
    const bus = this.info.bustype;
    if (bus !== BUS_USB && bus !== BUS_BLUETOOTH) return false;
    const report =
      this.info.hidraw && rumbleReport(this.info.family, bus === BUS_USB, strong, weak, this.outputSeq++);
    if (!report || this.closed) return false;
    try {
      this.hidrawFd ??= openSync(this.info.hidraw!, constants.O_WRONLY | constants.O_NONBLOCK);
      writeSync(this.hidrawFd, report);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.closed = true;
    for (const s of this.streams) s.destroy();
    if (this.hidrawFd !== undefined) {
      try {
        closeSync(this.hidrawFd);
      } catch {
        // already gone
      }
      this.hidrawFd = undefined;
    }
  }
}
