import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSonyReport, rumbleReport } from '../../src/input/gamepad/hid.js';
import { discoverPads, type PadInfo, PadManager, padPreference } from '../../src/input/gamepad/index.js';
import {
  NODE_GAMEPAD_MAPPINGS,
  NodeGamepadState,
  nodeGamepadEvents,
} from '../../src/input/gamepad/node-gamepad.js';
import {
  type ControllerState,
  IDLE_STATE,
  isPressed,
  pressedButtons,
  withButton,
} from '../../src/proto-stack/controller.js';

/** DS4 USB report 0x01 (64 bytes) built field by field from the documented layout. */
function ds4Usb(f: {
  lx?: number;
  ly?: number;
  b0?: number;
  b1?: number;
  b2?: number;
  l2?: number;
  r2?: number;
  touch?: number[];
}) {
  const r = new Uint8Array(64);
  r[0] = 0x01;
  r[1] = f.lx ?? 128;
  r[2] = f.ly ?? 128;
  r[3] = 128;
  r[4] = 128;
  r[5] = f.b0 ?? 0x08; // hat centred
  r[6] = f.b1 ?? 0;
  r[7] = f.b2 ?? 0;
  r[8] = f.l2 ?? 0;
  r[9] = f.r2 ?? 0;
  const dv = new DataView(r.buffer);
  dv.setInt16(13, 1024, true); // gyro x: 1 deg/s
  dv.setInt16(21, 8192, true); // accel y: 1 g
  r[35] = 0x80; // finger 1 absent
  r[39] = 0x80; // finger 2 absent
  if (f.touch) r.set(f.touch, 35);
  return r;
}

describe('node-hid report parsing', () => {
  it('DualShock 4 USB: face buttons, hat, shoulders, PS and touchpad click, sticks, triggers, motion, touch', () => {
    const s = parseSonyReport(
      'dualshock4',
      ds4Usb({
        lx: 0,
        ly: 255,
        b0: 0x20 | 0x80 | 0x02,
        b1: 0x01 | 0x20 | 0x80,
        b2: 0x03,
        l2: 255,
        r2: 128,
        touch: [0x05, 0x7f, 0xd7, 0x3a],
      }),
    )!;
    expect(pressedButtons(s)).toEqual([
      'cross',
      'triangle',
      'dpad_right',
      'l1',
      'r3',
      'options',
      'touchpad',
      'ps',
    ]);
    expect([s.leftX, s.leftY]).toEqual([-32768, 32767]);
    // 128/255 past the 4 % rest dead zone: (0.502 - 0.04) / 0.96 * 255 = 123
    expect([s.l2, s.r2]).toEqual([255, 123]);
    expect(s.gyro[0]).toBeCloseTo(Math.PI / 180, 6);
    expect(s.accel[1]).toBeCloseTo(1, 6);
    // x = 0x7f | (0xd7 & 0x0f) << 8 = 0x77f = 1919; y = 0xd7 >> 4 | 0x3a << 4 = 941
    expect(s.touches).toEqual([{ id: 5, x: 1919, y: 941 }, null]);
  });

  it('DualShock 4 Bluetooth (0x11) reads the same fields two bytes later', () => {
    const usb = ds4Usb({ b0: 0x40 | 0x06, b2: 0x01, r2: 255 });
    const bt = new Uint8Array(78);
    bt[0] = 0x11;
    bt.set(usb.subarray(1), 3);
    const a = parseSonyReport('dualshock4', usb)!;
    const b = parseSonyReport('dualshock4', bt)!;
    expect(b).toEqual(a);
    expect(pressedButtons(b)).toEqual(['circle', 'dpad_left', 'ps']);
  });

  it('DualSense USB and Bluetooth (0x31), touch y scaled from 1079 to 941', () => {
    const r = new Uint8Array(64);
    r[0] = 0x01;
    r.set([128, 128, 255, 128, 10, 200, 7], 1); // lx ly rx ry l2 r2 seq
    r[8] = 0x10 | 0x04; // square + hat down
    r[9] = 0x10; // create
    r[10] = 0x01; // ps
    r[33] = 0x02; // finger id 2 touching
    r.set([0x00, 0x70 | 0x07, 0x43], 34); // x = 0x700 = 1792, y = 0x437 = 1079
    r[37] = 0x80;
    const s = parseSonyReport('dualsense', r)!;
    expect(pressedButtons(s)).toEqual(['square', 'dpad_down', 'share', 'ps']);
    expect([s.rightX, s.rightY, s.l2]).toEqual([32767, 0, 0]);
    expect(s.r2).toBeGreaterThan(190);
    expect(s.touches).toEqual([{ id: 2, x: 1792, y: 941 }, null]);
    const bt = new Uint8Array(78);
    bt[0] = 0x31;
    bt.set(r.subarray(1), 2);
    expect(parseSonyReport('dualsense', bt)).toEqual(s);
  });

  it('ignores other reports and never throws on random ones (fuzz)', () => {
    expect(parseSonyReport('dualshock4', Uint8Array.of(0x05, 1, 2))).toBeUndefined();
    expect(parseSonyReport('xbox', ds4Usb({}))).toBeUndefined();
    fc.assert(
      fc.property(
        fc.constantFrom('dualshock4' as const, 'dualsense' as const),
        fc.uint8Array({ maxLength: 80 }),
        (fam, b) => {
          parseSonyReport(fam, b);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('builds rumble output reports for USB and for Bluetooth (CRC32 over 0xa2 + report)', () => {
    const ds4 = rumbleReport('dualshock4', true, 200, 50)!;
    expect([ds4.length, ds4[0], ds4[1], ds4[4], ds4[5]]).toEqual([32, 0x05, 0x01, 50, 200]);
    const ds = rumbleReport('dualsense', true, 255, 0)!;
    expect([ds.length, ds[0], ds[1], ds[3], ds[4]]).toEqual([63, 0x02, 0x03, 0, 255]);
    const crcOk = (b: Uint8Array) =>
      crc32(b.subarray(0, 74), crc32(Uint8Array.of(0xa2))) === new DataView(b.buffer).getUint32(74, true);
    const ds4bt = rumbleReport('dualshock4', false, 200, 50)!;
    expect([ds4bt.length, ds4bt[0], ds4bt[1], ds4bt[3], ds4bt[6], ds4bt[7]]).toEqual([
      78, 0x11, 0xc0, 0x01, 50, 200,
    ]);
    expect(crcOk(ds4bt)).toBe(true);
    const dsbt = rumbleReport('dualsense', false, 255, 7, 0x13)!;
    expect([dsbt.length, dsbt[0], dsbt[1], dsbt[2], dsbt[3], dsbt[5], dsbt[6]]).toEqual([
      78, 0x31, 0x30, 0x10, 0x03, 7, 255,
    ]);
    expect(crcOk(dsbt)).toBe(true);
    expect(rumbleReport('xbox', true, 1, 1)).toBeUndefined();
  });
});

describe('node-gamepad event folding', () => {
  it('maps only known profiles and turns press/release/move into states', () => {
    const g = new NodeGamepadState('ps4/dualshock4');
    expect(isPressed(g.apply('x:press')!, 'cross')).toBe(true);
    expect(g.apply('x:press')).toBeUndefined();
    expect(g.apply('l2:press')!.l2).toBe(255);
    const s = g.apply('left:move', { x: 255, y: 0 })!;
    expect([s.leftX, s.leftY]).toEqual([32767, -32768]);
    expect(g.apply('bogus:press')).toBeUndefined();
    expect(isPressed(g.apply('x:release')!, 'cross')).toBe(false);
    expect(nodeGamepadEvents('ps4/dualshock4')).toContain('psx:press');
    expect(Object.keys(NODE_GAMEPAD_MAPPINGS)).not.toContain('snes/tomee');
  });
});

const pad = (over: Partial<PadInfo>): PadInfo => ({
  id: 'evdev:/dev/input/event3',
  backend: 'evdev',
  name: 'Wireless Controller',
  family: 'dualshock4',
  vendorId: 0x054c,
  productId: 0x09cc,
  path: '/dev/input/event3',
  readable: true,
  rumble: false,
  ...over,
});

describe('pad manager', () => {
  it('prefers node-hid for Sony pads, evdev for others, readable ones first', () => {
    const hid = pad({ backend: 'hid', id: 'hid:x' });
    expect(padPreference(hid)).toBeLessThan(padPreference(pad({})));
    expect(padPreference(pad({ family: 'xbox' }))).toBeLessThan(
      padPreference(pad({ family: 'xbox', backend: 'node-gamepad' })),
    );
    expect(padPreference(pad({ readable: false }))).toBeGreaterThan(
      padPreference(pad({ backend: 'node-gamepad' })),
    );
  });

  it('opens the best pad, forwards states, counts rumble, falls back and re-plugs', async () => {
    let pads: PadInfo[] = [
      pad({}),
      pad({ backend: 'hid', id: 'hid:/dev/hidraw0', path: '/dev/hidraw0', rumble: true }),
    ];
    const states: [ControllerState, string][] = [];
    const changes: (string | undefined)[] = [];
    const closers = new Map<string, (err?: Error) => void>();
    const senders = new Map<string, (s: ControllerState) => void>();
    const m = new PadManager((s, p) => states.push([s, p.id]), {
      discover: async () => ({ pads, backends: [] }),
      open: async (info, onState, onClose) => {
        if (info.id === 'hid:/dev/hidraw0' && closers.has('failed-once') === false) {
          closers.set('failed-once', () => {});
          throw new Error('permission denied');
        }
        senders.set(info.id, onState);
        closers.set(info.id, onClose);
        return { state: IDLE_STATE, close() {}, rumble: () => info.backend === 'hid' };
      },
      onPadChange: (p, reason) => changes.push(p?.id ?? reason),
    });
    await m.poll();
    // hid failed to open -> evdev
    expect(m.active?.id).toBe('evdev:/dev/input/event3');
    expect(changes[0]).toMatch(/cannot open .*permission denied/);
    senders.get('evdev:/dev/input/event3')!(withButton(IDLE_STATE, 'cross', true));
    expect(states).toHaveLength(1);
    m.rumble(10, 20);
    expect(m.stats).toMatchObject({ rumbleDelivered: 0, rumbleUndelivered: 1, connects: 1 });
    // unplug: idle state goes out, then the hid device (re-plugged, so no longer failed) is chosen
    closers.get('evdev:/dev/input/event3')!(new Error('ENODEV'));
    expect(states[1]).toEqual([IDLE_STATE, 'evdev:/dev/input/event3']);
    pads = [];
    await m.poll();
    expect(m.active).toBeUndefined();
    pads = [pad({ backend: 'hid', id: 'hid:/dev/hidraw0', path: '/dev/hidraw0', rumble: true })];
    await m.poll();
    expect(m.active?.id).toBe('hid:/dev/hidraw0');
    m.rumble(1, 2);
    expect(m.stats).toMatchObject({ rumbleDelivered: 1, disconnects: 1, connects: 2 });
    m.stop();
    expect(m.active).toBeUndefined();
  });

  it('real discovery never throws and reports every backend', async () => {
    const d = await discoverPads({ sysRoot: '/nonexistent', devRoot: '/nonexistent' });
    expect(d.backends.map((b) => b.backend).sort()).toEqual(['evdev', 'hid', 'node-gamepad']);
    for (const b of d.backends) expect(b.detail.length).toBeGreaterThan(5);
  });
});
