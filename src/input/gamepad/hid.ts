/**
 * node-hid backend for Sony pads: reads DualShock 4 (USB report 0x01, Bluetooth 0x11) and
 * DualSense (USB 0x01, Bluetooth 0x31) input reports, including motion and both touch points,
 * and writes rumble output reports. node-hid is an optional native dependency, loaded with a
 * dynamic import; when it is missing the backend reports why and the others carry on.
 *
 * Report layouts (offsets after the report id): sticks x y rx ry, then DS4 buttons[3] z rz
 * timestamp temp gyro[3] accel[3] ... touch; DualSense z rz seq buttons[4] reserved[4] gyro[3]
 * accel[3] timestamp reserved touch[2]. Bluetooth reports carry the same bytes one (DualSense)
 * or two (DS4) bytes later.
 */
import { crc32 } from 'node:zlib';
import { view } from '../../proto-stack/bytes.js';
import type { ButtonName, ControllerState, TouchPoint } from '../../proto-stack/controller.js';
import { BUTTONS, IDLE_STATE, stateEqual, TOUCH_MAX_Y, withButtons } from '../../proto-stack/controller.js';
import {
  type AxisRange,
  applyStick,
  applyTrigger,
  BYTE_STICK,
  DEFAULT_DEAD_ZONE,
  DS4_PRODUCTS,
  DUALSENSE_PRODUCTS,
  hat8ToDpad,
  optionalLoadFailure,
  type PadFamily,
  SONY_VENDOR,
  unitAxis,
} from './mapping.js';

const BYTE: AxisRange = { min: 0, max: 255 };
/** Both pads: 1024 LSB per deg/s and 8192 LSB per g (uncalibrated). */
const GYRO_RAD_PER_LSB = Math.PI / 180 / 1024;
const ACCEL_G_PER_LSB = 1 / 8192;
/** DualSense touch y runs to 1079; the console expects the DualShock 4's 0..941. */
const DUALSENSE_TOUCH_MAX_Y = 1079;

const FACE: [number, ButtonName][] = [
  [0x10, 'square'],
  [0x20, 'cross'],
  [0x40, 'circle'],
  [0x80, 'triangle'],
];
const SHOULDER: [number, ButtonName][] = [
  [0x01, 'l1'],
  [0x02, 'r1'],
  [0x10, 'share'],
  [0x20, 'options'],
  [0x40, 'l3'],
  [0x80, 'r3'],
];
const BUTTON_BITS = new Map<ButtonName, number>(BUTTONS.map((b, i) => [b, 1 << i]));

interface Layout {
  sticks: number;
  buttons: number;
  triggers: number;
  gyro: number | undefined;
  touch: number | undefined;
}

/** Where the fields of a report start, or undefined for reports we do not read. */
function layoutOf(family: PadFamily, report: Uint8Array): Layout | undefined {
  const id = report[0];
  if (family === 'dualshock4') {
    // BT reports are 0x01 (reduced: sticks, buttons, triggers only) until the pad is switched
    // to full mode, then 0x11.
    if (id === 0x01 && report.length >= 43)
      return { sticks: 1, buttons: 5, triggers: 8, gyro: 13, touch: 35 };
    if (id === 0x01 && report.length >= 10)
      return { sticks: 1, buttons: 5, triggers: 8, gyro: undefined, touch: undefined };
    if (id === 0x11 && report.length >= 45)
      return { sticks: 3, buttons: 7, triggers: 10, gyro: 15, touch: 37 };
    return undefined;
  }
  if (family === 'dualsense') {
    if (id === 0x01 && report.length >= 41)
      return { sticks: 1, buttons: 8, triggers: 5, gyro: 16, touch: 33 };
    if (id === 0x01 && report.length >= 10)
      return { sticks: 1, buttons: 8, triggers: 5, gyro: undefined, touch: undefined };
    if (id === 0x31 && report.length >= 42)
      return { sticks: 2, buttons: 9, triggers: 6, gyro: 17, touch: 34 };
  }
  return undefined;
}

function touchPoint(r: Uint8Array, o: number, ps5: boolean): TouchPoint | null {
  const contact = r[o];
  if (contact & 0x80) return null; // bit 7 set: no finger
  const x = r[o + 1] | ((r[o + 2] & 0x0f) << 8);
  let y = (r[o + 2] >> 4) | (r[o + 3] << 4);
  if (ps5) y = Math.round((y * TOUCH_MAX_Y) / DUALSENSE_TOUCH_MAX_Y);
  return { id: contact & 0x7f, x, y };
}

/** Pure: one input report to a controller state, or undefined for reports of another kind. */
export function parseSonyReport(
  family: PadFamily,
  report: Uint8Array,
  deadZone = DEFAULT_DEAD_ZONE,
): ControllerState | undefined {
  const l = layoutOf(family, report);
  if (!l) return undefined;
  const r = report;
  const b0 = r[l.buttons];
  const b1 = r[l.buttons + 1];
  const b2 = r[l.buttons + 2];
  let buttons = 0;
  for (const [bit, name] of FACE) if (b0 & bit) buttons |= BUTTON_BITS.get(name)!;
  for (const [bit, name] of SHOULDER) if (b1 & bit) buttons |= BUTTON_BITS.get(name)!;
  if (b2 & 0x01) buttons |= BUTTON_BITS.get('ps')!;
  if (b2 & 0x02) buttons |= BUTTON_BITS.get('touchpad')!;
  const hat = hat8ToDpad(b0 & 0x0f);
  if (hat.up) buttons |= BUTTON_BITS.get('dpad_up')!;
  if (hat.down) buttons |= BUTTON_BITS.get('dpad_down')!;
  if (hat.left) buttons |= BUTTON_BITS.get('dpad_left')!;
  if (hat.right) buttons |= BUTTON_BITS.get('dpad_right')!;
  const [leftX, leftY] = applyStick(
    unitAxis(r[l.sticks], BYTE_STICK),
    unitAxis(r[l.sticks + 1], BYTE_STICK),
    deadZone,
  );
  const [rightX, rightY] = applyStick(
    unitAxis(r[l.sticks + 2], BYTE_STICK),
    unitAxis(r[l.sticks + 3], BYTE_STICK),
    deadZone,
  );
  let state: ControllerState = {
    ...IDLE_STATE,
    l2: applyTrigger(r[l.triggers], BYTE),
    r2: applyTrigger(r[l.triggers + 1], BYTE),
    leftX,
    leftY,
    rightX,
    rightY,
  };
  state = withButtons(state, buttons);
  if (l.gyro !== undefined) {
    const dv = view(r);
    const g = (i: number): number => dv.getInt16(l.gyro! + i * 2, true) * GYRO_RAD_PER_LSB;
    const a = (i: number): number => dv.getInt16(l.gyro! + 6 + i * 2, true) * ACCEL_G_PER_LSB;
    state = { ...state, gyro: [g(0), g(1), g(2)], accel: [a(0), a(1), a(2)] };
  }
  if (l.touch !== undefined) {
    const ps5 = family === 'dualsense';
    state = { ...state, touches: [touchPoint(r, l.touch, ps5), touchPoint(r, l.touch + 4, ps5)] };
  }
  return state;
}

const clampByte = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));

/** Bluetooth output reports end in a CRC32 over a 0xa2 seed byte and the report. */
const BT_CRC_SEED = Uint8Array.of(0xa2);
const BT_REPORT_SIZE = 78;

function sealBt(b: Uint8Array): Uint8Array {
  const crc = crc32(b.subarray(0, BT_REPORT_SIZE - 4), crc32(BT_CRC_SEED));
  new DataView(b.buffer).setUint32(BT_REPORT_SIZE - 4, crc, true);
  return b;
}

/**
 * Output report that sets the motors (strong = left, low frequency; weak = right). Over
 * Bluetooth the same fields sit 2 (DualShock 4) or 3 (DualSense) bytes further in a 78-byte
 * report with a CRC32; the DualSense also wants a 4-bit sequence number.
 */
export function rumbleReport(
  family: PadFamily,
  usb: boolean,
  strong: number,
  weak: number,
  seq = 0,
): Uint8Array | undefined {
  if (family === 'dualshock4') {
    const b = new Uint8Array(usb ? 32 : BT_REPORT_SIZE);
    const o = usb ? 1 : 3;
    if (usb) b[0] = 0x05;
    else b.set([0x11, 0xc0], 0); // report id, flags: HID report + CRC32
    b[o] = 0x01; // valid: motors only (leave the light bar alone)
    b[o + 3] = clampByte(weak);
    b[o + 4] = clampByte(strong);
    return usb ? b : sealBt(b);
  }
  if (family === 'dualsense') {
    const b = new Uint8Array(usb ? 63 : BT_REPORT_SIZE);
    const o = usb ? 1 : 3;
    if (usb) b[0] = 0x02;
    else b.set([0x31, (seq & 0x0f) << 4, 0x10], 0); // report id, sequence, tag
    b[o] = 0x03; // valid: compatible vibration + haptics select
    b[o + 2] = clampByte(weak);
    b[o + 3] = clampByte(strong);
    return usb ? b : sealBt(b);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The native part

interface HidDeviceInfo {
  vendorId: number;
  productId: number;
  path?: string;
  product?: string;
  interface: number;
}
interface HidHandle {
  on(ev: 'data', f: (data: Buffer) => void): void;
  on(ev: 'error', f: (err: Error) => void): void;
  write(values: number[] | Buffer): number;
  getFeatureReport(id: number, len: number): number[];
  close(): void;
}
interface NodeHid {
  devices(): HidDeviceInfo[];
  HID: new (path: string) => HidHandle;
}

export interface HidPadInfo {
  path: string;
  name: string;
  vendorId: number;
  productId: number;
  family: PadFamily;
}

export type HidLoad = { ok: true; hid: NodeHid } | { ok: false; reason: string };

let loaded: Promise<HidLoad> | undefined;

/** Loads node-hid once; never throws. */
export function loadNodeHid(): Promise<HidLoad> {
  loaded ??= (async (): Promise<HidLoad> => {
    try {
      const mod = (await import('node-hid')) as unknown as NodeHid & { default?: NodeHid };
      const hid = typeof mod.devices === 'function' ? mod : mod.default;
      if (!hid || typeof hid.devices !== 'function')
        return { ok: false, reason: 'node-hid has an unexpected API' };
      return { ok: true, hid };
    } catch (e) {
      return { ok: false, reason: optionalLoadFailure('node-hid', e) };
    }
  })();
  return loaded;
}

export function listHidPads(hid: NodeHid): HidPadInfo[] {
  const seen = new Set<string>();
  const out: HidPadInfo[] = [];
  for (const d of hid.devices()) {
    if (d.vendorId !== SONY_VENDOR || !d.path || seen.has(d.path)) continue;
    const family = DS4_PRODUCTS.has(d.productId)
      ? 'dualshock4'
      : DUALSENSE_PRODUCTS.has(d.productId)
        ? 'dualsense'
        : undefined;
    if (!family) continue;
    seen.add(d.path);
    out.push({
      path: d.path,
      name: d.product || (family === 'dualsense' ? 'DualSense Wireless Controller' : 'Wireless Controller'),
      vendorId: d.vendorId,
      productId: d.productId,
      family,
    });
  }
  return out;
}

/** An open pad: states through onState, the end through onClose (unplug, read error). */
export class HidPad {
  private readonly dev: HidHandle;
  private usb: boolean | undefined;
  private outputSeq = 0;
  private last: ControllerState = IDLE_STATE;
  private closed = false;

  constructor(
    hid: NodeHid,
    readonly info: HidPadInfo,
    onState: (s: ControllerState) => void,
    private readonly onClose: (err?: Error) => void,
    deadZone = DEFAULT_DEAD_ZONE,
  ) {
    this.dev = new hid.HID(info.path);
    // Reading the calibration feature report switches Bluetooth pads to full reports (motion,
    // touch). USB pads send full reports anyway; a failure here only costs motion over BT.
    try {
      this.dev.getFeatureReport(
        info.family === 'dualsense' ? 0x05 : 0x02,
        info.family === 'dualsense' ? 41 : 37,
      );
    } catch {
      // reduced reports still carry buttons, sticks and triggers
    }
    this.dev.on('data', (data: Buffer) => {
      const report = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      if (this.usb === undefined && (report[0] === 0x11 || report[0] === 0x31)) this.usb = false;
      else if (this.usb === undefined && report[0] === 0x01 && report.length >= 64) this.usb = true;
      const s = parseSonyReport(info.family, report, deadZone);
      if (s && !stateEqual(s, this.last)) {
        this.last = s;
        onState(s);
      }
    });
    this.dev.on('error', (err: Error) => this.end(err));
  }

  get state(): ControllerState {
    return this.last;
  }

  /** Returns whether the pad got the rumble (false before its first report or on a write error). */
  rumble(strong: number, weak: number): boolean {
    if (this.usb === undefined) return false; // no report seen yet: bus unknown
    const report = rumbleReport(this.info.family, this.usb, strong, weak, this.outputSeq++);
    if (!report || this.closed) return false;
    try {
      this.dev.write(Buffer.from(report));
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.dev.close();
    } catch {
      // already gone
    }
  }

  private end(err?: Error): void {
    if (this.closed) return;
    this.close();
    this.onClose(err);
  }
}
