/**
 * Game pads: discovery across the three backends, choice of the pad to play with, hot-plug by
 * polling, and rumble routing. Preference per pad: Sony pads through node-hid (motion, touch,
 * rumble) when it can open them, else evdev; other pads through evdev (Linux), else node-gamepad.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { type ControllerState, IDLE_STATE } from '../../proto-stack/controller.js';
import { BUS_BLUETOOTH, BUS_USB, type EvdevDeviceInfo, EvdevPad, listEvdevPads } from './evdev.js';
import { HidPad, type HidPadInfo, listHidPads, loadNodeHid } from './hid.js';
import { DEFAULT_DEAD_ZONE, type PadFamily } from './mapping.js';
import {
  listNodeGamepadPads,
  loadNodeGamepad,
  type NodeGamepadInfo,
  NodeGamepadPad,
} from './node-gamepad.js';

export type BackendName = 'hid' | 'evdev' | 'node-gamepad';

export interface PadInfo {
  /** backend:path (or backend:type), stable while the pad stays plugged in. */
  id: string;
  backend: BackendName;
  name: string;
  family: PadFamily;
  vendorId: number;
  productId: number;
  /** Device path (/dev/input/eventN, hidraw path) or node-gamepad profile. */
  path: string;
  /** False when the device exists but we lack permission to read it. */
  readable: boolean;
  /** Whether this backend can drive the pad's motors. */
  rumble: boolean;
  /** evdev: the pad's touchpad and motion-sensor devices, when it has them. */
  touchpad?: string;
  motion?: string;
  /** evdev: the Sony pad's hidraw node (rumble) and its bus (3 = USB, 5 = Bluetooth). */
  hidraw?: string;
  bustype?: number;
}

export interface BackendStatus {
  backend: BackendName;
  available: boolean;
  /** Why not, or what it covers. */
  detail: string;
}

export interface Discovery {
  pads: PadInfo[];
  backends: BackendStatus[];
}

export interface DiscoverOptions {
  platform?: NodeJS.Platform;
  sysRoot?: string;
  devRoot?: string;
}

/** USB vendor / product id as printed by lsusb. */
export const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

function canAccess(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** Finds pads on every backend; never throws (a broken backend shows up in `backends`). */
export async function discoverPads(opts: DiscoverOptions = {}): Promise<Discovery> {
  const platform = opts.platform ?? process.platform;
  const pads: PadInfo[] = [];
  const backends: BackendStatus[] = [];

  const hid = await loadNodeHid();
  let hidDevices: { vendorId: number; productId: number; product?: string }[] = [];
  if (hid.ok) {
    try {
      hidDevices = hid.hid.devices();
      for (const p of listHidPads(hid.hid)) pads.push(hidPadInfo(p));
      backends.push({
        backend: 'hid',
        available: true,
        detail: 'DualShock 4 / DualSense with motion, touchpad, rumble',
      });
    } catch (e) {
      backends.push({
        backend: 'hid',
        available: false,
        detail: `node-hid cannot list devices: ${(e as Error).message}`,
      });
    }
  } else {
    backends.push({ backend: 'hid', available: false, detail: hid.reason });
  }

  const devRoot = opts.devRoot ?? '/dev/input';
  if (platform !== 'linux') {
    backends.push({ backend: 'evdev', available: false, detail: `Linux only (this is ${platform})` });
  } else if (!existsSync(devRoot)) {
    backends.push({ backend: 'evdev', available: false, detail: `${devRoot} does not exist` });
  } else {
    const found = listEvdevPads(opts.sysRoot, devRoot);
    for (const d of found) pads.push(evdevPadInfo(d));
    const denied = found.filter((d) => !canAccess(d.path, constants.R_OK)).length;
    backends.push({
      backend: 'evdev',
      available: true,
      detail:
        'reads /dev/input/event* (pads, their touchpad and motion devices); rumble only for Sony pads with a writable /dev/hidraw* (FF_RUMBLE needs an ioctl Node cannot make)' +
        (denied ? `; ${denied} pad(s) not readable: add your user to the "input" group` : ''),
    });
  }

  const ng = await loadNodeGamepad();
  if (!ng.ok) backends.push({ backend: 'node-gamepad', available: false, detail: ng.reason });
  else if (!hid.ok)
    backends.push({ backend: 'node-gamepad', available: false, detail: 'needs node-hid to find devices' });
  else {
    for (const p of listNodeGamepadPads(ng, hidDevices)) pads.push(nodeGamepadPadInfo(p));
    backends.push({
      backend: 'node-gamepad',
      available: true,
      detail: `only its own profiles: ${[...ng.profiles.keys()].join(', ')}`,
    });
  }
  return { pads, backends };
}

function hidPadInfo(p: HidPadInfo): PadInfo {
  return { id: `hid:${p.path}`, backend: 'hid', ...p, readable: true, rumble: true };
}

function evdevPadInfo(d: EvdevDeviceInfo): PadInfo {
  return {
    id: `evdev:${d.path}`,
    backend: 'evdev',
    name: d.name,
    family: d.family,
    vendorId: d.vendorId,
    productId: d.productId,
    path: d.path,
    readable: canAccess(d.path, constants.R_OK),
    rumble:
      d.hidraw !== undefined &&
      (d.bustype === BUS_USB || d.bustype === BUS_BLUETOOTH) &&
      canAccess(d.hidraw, constants.W_OK),
    bustype: d.bustype,
    ...(d.touchpad ? { touchpad: d.touchpad } : {}),
    ...(d.motion ? { motion: d.motion } : {}),
    ...(d.hidraw ? { hidraw: d.hidraw } : {}),
  };
}

function nodeGamepadPadInfo(p: NodeGamepadInfo): PadInfo {
  return {
    id: `node-gamepad:${p.type}`,
    backend: 'node-gamepad',
    name: p.name,
    family: p.family,
    vendorId: p.vendorId,
    productId: p.productId,
    path: p.type,
    readable: true,
    rumble: false,
  };
}

/** Lower is better. */
export function padPreference(p: PadInfo): number {
  const sony = p.family === 'dualshock4' || p.family === 'dualsense';
  const order: BackendName[] = sony ? ['hid', 'evdev', 'node-gamepad'] : ['evdev', 'node-gamepad', 'hid'];
  return order.indexOf(p.backend) + (p.readable ? 0 : 10);
}

export const describePad = (p: PadInfo): string =>
  `${p.name} (${hex4(p.vendorId)}:${hex4(p.productId)}, ${p.family}) via ${p.backend} at ${p.path}`;

interface OpenPad {
  readonly state: ControllerState;
  close(): void;
  rumble?(strong: number, weak: number): boolean;
}

export interface PadManagerStats {
  connects: number;
  disconnects: number;
  rumbleDelivered: number;
  /** Rumble the console sent while no pad could play it (no pad, evdev, Bluetooth). */
  rumbleUndelivered: number;
}

export interface PadManagerOptions {
  deadZone?: number;
  pollMs?: number;
  /** Replaces discovery (tests). */
  discover?: () => Promise<Discovery>;
  /** Replaces opening (tests). */
  open?: (
    pad: PadInfo,
    onState: (s: ControllerState) => void,
    onClose: (err?: Error) => void,
  ) => Promise<OpenPad>;
  /** Called when the active pad changes (undefined = none). */
  onPadChange?: (pad: PadInfo | undefined, reason?: string) => void;
}

/** Plays with one pad at a time; picks the next one when it goes away. */
export class PadManager {
  readonly stats: PadManagerStats = { connects: 0, disconnects: 0, rumbleDelivered: 0, rumbleUndelivered: 0 };
  private activePad: { info: PadInfo; handle: OpenPad } | undefined;
  private readonly failed = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private stopped = false;

  constructor(
    private readonly onState: (s: ControllerState, pad: PadInfo) => void,
    private readonly opts: PadManagerOptions = {},
  ) {}

  get active(): PadInfo | undefined {
    return this.activePad?.info;
  }

  /** First discovery now, then every pollMs (default 1 s) while no pad is active. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.activePad?.handle.close();
    this.activePad = undefined;
  }

  /** Console rumble (data_type 7): strong = left motor, weak = right; 0..255. */
  rumble(strong: number, weak: number): void {
    const ok = this.activePad?.handle.rumble?.(strong, weak) ?? false;
    if (ok) this.stats.rumbleDelivered++;
    else this.stats.rumbleUndelivered++;
  }

  /** One hot-plug step: discover, drop failures of vanished devices, open the best pad. */
  async poll(): Promise<void> {
    if (this.polling || this.stopped || this.activePad) return;
    this.polling = true;
    try {
      const { pads } = await (this.opts.discover ?? discoverPads)();
      const present = new Set(pads.map((p) => p.id));
      for (const id of this.failed) if (!present.has(id)) this.failed.delete(id);
      const candidates = pads
        .filter((p) => p.readable && !this.failed.has(p.id))
        .sort((a, b) => padPreference(a) - padPreference(b));
      for (const info of candidates) {
        if (this.stopped || this.activePad) break;
        try {
          const open = this.opts.open ?? ((i, s, c) => openPad(i, s, c, this.opts.deadZone));
          const handle = await open(
            info,
            (s) => {
              if (this.activePad?.info.id === info.id) this.onState(s, info);
            },
            (err) => this.lost(info, err),
          );
          if (this.stopped) {
            handle.close();
            break;
          }
          this.activePad = { info, handle };
          this.stats.connects++;
          this.opts.onPadChange?.(info);
        } catch (e) {
          this.failed.add(info.id);
          this.opts.onPadChange?.(undefined, `cannot open ${describePad(info)}: ${(e as Error).message}`);
        }
      }
    } finally {
      this.polling = false;
    }
  }

  private lost(info: PadInfo, err?: Error): void {
    if (this.activePad?.info.id !== info.id) return;
    this.activePad = undefined;
    this.stats.disconnects++;
    // the console must not keep seeing buttons held by a pad that is gone
    this.onState(IDLE_STATE, info);
    this.opts.onPadChange?.(
      undefined,
      err ? `${info.name} disconnected: ${err.message}` : `${info.name} disconnected`,
    );
  }
}

async function openPad(
  info: PadInfo,
  onState: (s: ControllerState) => void,
  onClose: (err?: Error) => void,
  deadZone = DEFAULT_DEAD_ZONE,
): Promise<OpenPad> {
  if (info.backend === 'evdev') {
    return new EvdevPad(
      {
        path: info.path,
        name: info.name,
        vendorId: info.vendorId,
        productId: info.productId,
        bustype: info.bustype ?? 0,
        family: info.family,
        touchpad: info.touchpad,
        motion: info.motion,
        hidraw: info.hidraw,
      },
      onState,
      onClose,
      deadZone,
    );
  }
  if (info.backend === 'hid') {
    const hid = await loadNodeHid();
    if (!hid.ok) throw new Error(hid.reason);
    return new HidPad(hid.hid, { ...info }, onState, onClose, deadZone);
  }
  const ng = await loadNodeGamepad();
  if (!ng.ok) throw new Error(ng.reason);
  return new NodeGamepadPad(
    ng,
    {
      type: info.path,
      name: info.name,
      vendorId: info.vendorId,
      productId: info.productId,
      family: info.family,
    },
    onState,
    onClose,
    deadZone,
  );
}
