/**
 * node-gamepad backend, a last resort for pads the other backends do not read (it is built on
 * node-hid too). The library is fragile, so it is fenced in:
 * - it calls process.exit(0) when it meets a controller type it has no profile for, or when a
 *   vendor has no plugged-in product: we only ever construct it with an explicit
 *   "vendor/product" type whose profile file exists, for a device node-hid lists right now;
 * - it has no DualSense or Xbox profile, and its button decoding compares whole bytes, so two
 *   face buttons held together on a DualShock 4 read as neither. The node-hid backend is
 *   preferred for Sony pads; this one serves the DualShock 3 and the Logitech pads it knows.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  type ButtonName,
  type ControllerState,
  IDLE_STATE,
  withButton,
  withStick,
  withTrigger,
} from '../../proto-stack/controller.js';
import {
  applyStick,
  BYTE_STICK,
  DEFAULT_DEAD_ZONE,
  optionalLoadFailure,
  type PadFamily,
  unitAxis,
} from './mapping.js';

type Target = ButtonName | 'l2' | 'r2';

/** Profile type -> node-gamepad control name -> our control. Only these types are ever opened. */
export const NODE_GAMEPAD_MAPPINGS: Record<string, Record<string, Target>> = {
  'ps4/dualshock4': {
    x: 'cross',
    circle: 'circle',
    square: 'square',
    triangle: 'triangle',
    dpadUp: 'dpad_up',
    dpadDown: 'dpad_down',
    dpadLeft: 'dpad_left',
    dpadRight: 'dpad_right',
    l1: 'l1',
    r1: 'r1',
    l2: 'l2',
    r2: 'r2',
    l3: 'l3',
    r3: 'r3',
    options: 'options',
    share: 'share',
    psx: 'ps',
    touch: 'touchpad',
  },
  'ps3/dualshock3': {
    x: 'cross',
    circle: 'circle',
    square: 'square',
    triangle: 'triangle',
    dpadUp: 'dpad_up',
    dpadDown: 'dpad_down',
    dpadLeft: 'dpad_left',
    dpadRight: 'dpad_right',
    l1: 'l1',
    r1: 'r1',
    l2: 'l2',
    r2: 'r2',
    l3: 'l3',
    r3: 'r3',
    start: 'options',
    select: 'share',
    psx: 'ps',
  },
  'logitech/gamepadf710': {
    A: 'cross',
    B: 'circle',
    X: 'square',
    Y: 'triangle',
    LB: 'l1',
    RB: 'r1',
    LT: 'l2',
    RT: 'r2',
    back: 'share',
    start: 'options',
  },
  'logitech/rumblepad2': {
    '2': 'cross',
    '3': 'circle',
    '1': 'square',
    '4': 'triangle',
    dpadUp: 'dpad_up',
    dpadDown: 'dpad_down',
    dpadLeft: 'dpad_left',
    dpadRight: 'dpad_right',
    l1: 'l1',
    r1: 'r1',
    l2: 'l2',
    r2: 'r2',
    l3: 'l3',
    r3: 'r3',
    start: 'options',
    select: 'share',
  },
};

export interface NodeGamepadInfo {
  /** node-gamepad profile, e.g. "ps4/dualshock4". */
  type: string;
  name: string;
  vendorId: number;
  productId: number;
  family: PadFamily;
}

interface GamepadInstance {
  connect(): GamepadInstance;
  disconnect(): void;
  on(event: string, f: (data?: { x: number; y: number }) => void): void;
}
type GamepadCtor = new (type: string) => GamepadInstance;

export type NodeGamepadLoad =
  | { ok: true; Gamepad: GamepadCtor; profiles: Map<string, { vendorId: number; productId: number }> }
  | { ok: false; reason: string };

let loaded: Promise<NodeGamepadLoad> | undefined;

/** Loads node-gamepad and reads its profile files (vendor/product ids); never throws. */
export function loadNodeGamepad(): Promise<NodeGamepadLoad> {
  loaded ??= (async (): Promise<NodeGamepadLoad> => {
    try {
      // The package has no type declarations; a non-literal specifier keeps tsc from looking.
      const specifier = 'node-gamepad';
      const mod = (await import(specifier)) as { default?: GamepadCtor };
      const Gamepad = mod.default;
      if (typeof Gamepad !== 'function') return { ok: false, reason: 'node-gamepad has an unexpected API' };
      const root = join(dirname(createRequire(import.meta.url).resolve('node-gamepad')), 'controllers');
      const profiles = new Map<string, { vendorId: number; productId: number }>();
      for (const type of Object.keys(NODE_GAMEPAD_MAPPINGS)) {
        const file = join(root, `${type}.json`);
        if (!existsSync(file)) continue;
        const json = JSON.parse(readFileSync(file, 'utf8')) as { vendorID?: unknown; productID?: unknown };
        if (typeof json.vendorID === 'number' && typeof json.productID === 'number')
          profiles.set(type, { vendorId: json.vendorID, productId: json.productID });
      }
      if (profiles.size === 0) {
        const found = existsSync(root) ? readdirSync(root).join(', ') : 'none';
        return { ok: false, reason: `node-gamepad has none of the profiles we map (it has: ${found})` };
      }
      return { ok: true, Gamepad, profiles };
    } catch (e) {
      return { ok: false, reason: optionalLoadFailure('node-gamepad', e) };
    }
  })();
  return loaded;
}

/** Devices (from node-hid's list) that node-gamepad has a profile for and we have a mapping for. */
export function listNodeGamepadPads(
  load: Extract<NodeGamepadLoad, { ok: true }>,
  devices: readonly { vendorId: number; productId: number; product?: string }[],
): NodeGamepadInfo[] {
  const out: NodeGamepadInfo[] = [];
  for (const [type, ids] of load.profiles) {
    const d = devices.find((x) => x.vendorId === ids.vendorId && x.productId === ids.productId);
    if (!d) continue;
    out.push({
      type,
      name: d.product || type,
      vendorId: ids.vendorId,
      productId: ids.productId,
      family: type === 'ps4/dualshock4' ? 'dualshock4' : 'generic',
    });
  }
  return out;
}

/** Folds node-gamepad events into controller states (pure apart from holding the state). */
export class NodeGamepadState {
  private s: ControllerState = IDLE_STATE;
  constructor(
    readonly type: string,
    private readonly deadZone = DEFAULT_DEAD_ZONE,
  ) {}

  get state(): ControllerState {
    return this.s;
  }

  /** `name:press`, `name:release` or `left|right:move` with {x, y} in 0..255. */
  apply(event: string, data?: { x: number; y: number }): ControllerState | undefined {
    const [name, action] = event.split(':');
    const before = this.s;
    if (action === 'move' && data && (name === 'left' || name === 'right')) {
      const [x, y] = applyStick(unitAxis(data.x, BYTE_STICK), unitAxis(data.y, BYTE_STICK), this.deadZone);
      this.s = withStick(this.s, name, x, y);
    } else if (action === 'press' || action === 'release') {
      const target = NODE_GAMEPAD_MAPPINGS[this.type]?.[name];
      if (!target) return undefined;
      const down = action === 'press';
      this.s =
        target === 'l2' || target === 'r2'
          ? withTrigger(this.s, target, down ? 255 : 0)
          : withButton(this.s, target, down);
    }
    return this.s === before ? undefined : this.s;
  }
}

/** Events node-gamepad emits for a profile we map. */
export function nodeGamepadEvents(type: string): string[] {
  const names = Object.keys(NODE_GAMEPAD_MAPPINGS[type] ?? {});
  return [...names.flatMap((n) => [`${n}:press`, `${n}:release`]), 'left:move', 'right:move'];
}

export class NodeGamepadPad {
  private readonly pad: GamepadInstance;
  private readonly folded: NodeGamepadState;
  private closed = false;

  constructor(
    load: Extract<NodeGamepadLoad, { ok: true }>,
    readonly info: NodeGamepadInfo,
    onState: (s: ControllerState) => void,
    onClose: (err?: Error) => void,
    deadZone = DEFAULT_DEAD_ZONE,
  ) {
    if (!NODE_GAMEPAD_MAPPINGS[info.type] || !load.profiles.has(info.type))
      throw new Error(`refusing to hand node-gamepad an unknown type "${info.type}"`);
    this.folded = new NodeGamepadState(info.type, deadZone);
    this.pad = new load.Gamepad(info.type);
    for (const ev of nodeGamepadEvents(info.type)) {
      this.pad.on(ev, (data) => {
        const s = this.folded.apply(ev, data);
        if (s) onState(s);
      });
    }
    this.pad.connect();
    // The library leaves its HID handle without an error listener, so an unplug would throw from
    // an event emitter; catch it here and report the pad as gone.
    const usb = (this.pad as unknown as { _usb?: { on(e: 'error', f: (err: Error) => void): void } })._usb;
    usb?.on('error', (err) => {
      if (this.closed) return;
      this.close();
      onClose(err);
    });
  }

  get state(): ControllerState {
    return this.folded.state;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.pad.disconnect();
    } catch {
      // already gone
    }
  }
}
