import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  combinePadDevices,
  EvdevMotionState,
  EvdevPad,
  EvdevPadState,
  EvdevTouchpadState,
  encodeInputEvents,
  evdevProfile,
  hasCapability,
  InputEventParser,
  inputEventSize,
  listEvdevPads,
} from '../../src/input/gamepad/evdev.js';
import { applyStick, applyTrigger, hat8ToDpad, padFamily } from '../../src/input/gamepad/mapping.js';
import { type ControllerState, IDLE_STATE, pressedButtons } from '../../src/proto-stack/controller.js';
import { useHarness } from '../helpers/cli.js';
import { repoRoot } from '../helpers/vectors.js';

const h = useHarness();

const fixture = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(join(repoRoot, 'test', 'fixtures', 'evdev', name)));

function replay(
  bytes: Uint8Array,
  family: 'dualshock4' | 'xbox',
  product: number,
  size: 16 | 24 = 24,
  chunk = 7,
) {
  const parser = new InputEventParser(size);
  const pad = new EvdevPadState(evdevProfile(family, product));
  const states: ControllerState[] = [];
  // odd chunk sizes: events straddle reads
  for (let i = 0; i < bytes.length; i += chunk)
    for (const ev of parser.feed(bytes.subarray(i, i + chunk))) {
      const s = pad.apply(ev);
      if (s) states.push(s);
    }
  return states;
}

const summary = (s: ControllerState) => ({
  buttons: pressedButtons(s),
  l2: s.l2,
  r2: s.r2,
  left: [s.leftX, s.leftY],
  right: [s.rightX, s.rightY],
});
const idle = { buttons: [], l2: 0, r2: 0, left: [0, 0], right: [0, 0] };

describe('evdev backend on recorded input_event streams', () => {
  it('DualShock 4 (hid-sony): buttons, hat, sticks with dead zone, L2, SYN_DROPPED', () => {
    const states = replay(fixture('dualshock4-usb.events'), 'dualshock4', 0x09cc).map(summary);
    expect(states).toEqual([
      { ...idle, buttons: ['cross'] },
      idle,
      { ...idle, left: [32767, -32768] },
      // right-stick drift (131,124) stays inside the dead zone: no state
      { ...idle, left: [32767, -32768], l2: 255 },
      { ...idle, left: [32767, -32768], l2: 255, buttons: ['dpad_up'] },
      { ...idle, left: [32767, -32768], l2: 255, buttons: ['dpad_right', 'dpad_up'] },
      { ...idle, left: [32767, -32768], l2: 255 },
      { ...idle, left: [32767, -32768], l2: 255, buttons: ['square', 'triangle'] },
      {
        ...idle,
        left: [32767, -32768],
        l2: 255,
        buttons: ['square', 'triangle', 'l3', 'r3', 'options', 'share', 'ps'],
      },
      // circle press was in the frame lost to SYN_DROPPED: discarded
      idle,
    ]);
  });

  it('Xbox One pad (xpad): X/Y swapped to square/triangle, signed sticks, 10-bit triggers', () => {
    const expected = [
      { ...idle, buttons: ['cross'] },
      idle,
      { ...idle, buttons: ['square'] },
      { ...idle, buttons: ['triangle'] },
      { ...idle, buttons: ['triangle'], left: [-32768, 0] },
      { ...idle, buttons: ['triangle'] },
      { ...idle, buttons: ['triangle'], right: [0, 32767] },
      // RT at 512/1023 past the 4 % rest dead zone: (0.5 - 0.04) / 0.96 * 255 = 122
      { ...idle, buttons: ['triangle'], right: [0, 32767], l2: 255, r2: 122 },
      { ...idle, buttons: ['triangle', 'dpad_left'], right: [0, 32767], l2: 255, r2: 122 },
      {
        ...idle,
        buttons: ['triangle', 'dpad_left', 'l1', 'r1', 'options', 'share', 'ps'],
        right: [0, 32767],
        l2: 255,
        r2: 122,
      },
      idle,
    ];
    expect(replay(fixture('xbox-one-usb.events'), 'xbox', 0x02ea).map(summary)).toEqual(expected);
    // 32-bit userland: same stream in 16-byte events
    expect(replay(fixture('xbox-one-usb.events16'), 'xbox', 0x02ea, 16, 5).map(summary)).toEqual(expected);
  });

  it('DualShock 4 touchpad and motion devices merge into the pad state', () => {
    const ev = (type: number, code: number, value: number) => ({ sec: 1, usec: 0, type, code, value });
    const syn = ev(0, 0, 0);
    const tp = new EvdevTouchpadState('dualshock4');
    const touchStream = encodeInputEvents([
      ev(3, 0x2f, 0), // slot 0
      ev(3, 0x39, 17), // tracking id 17
      ev(3, 0x35, 1919),
      ev(3, 0x36, 941),
      ev(1, 0x110, 1), // click
      syn,
      ev(3, 0x2f, 1),
      ev(3, 0x39, 18),
      ev(3, 0x35, 100),
      ev(3, 0x36, 50),
      syn,
      ev(3, 0x2f, 0),
      ev(3, 0x39, -1), // finger 0 lifts
      ev(1, 0x110, 0),
      syn,
      syn, // nothing changed
    ]);
    const changes = new InputEventParser(24).feed(touchStream).filter((e) => tp.apply(e)).length;
    expect(changes).toBe(3);
    expect(tp.state).toEqual({ touches: [null, { id: 18, x: 100, y: 50 }], click: false });

    const motion = new EvdevMotionState();
    for (const e of [ev(3, 0x01, 8192), ev(3, 0x03, 1024), ev(3, 0x05, -2048), syn]) motion.apply(e);
    expect(motion.state.accel).toEqual([0, 1, 0]);
    expect(motion.state.gyro[0]).toBeCloseTo(Math.PI / 180, 9);
    expect(motion.state.gyro[2]).toBeCloseTo((-2 * Math.PI) / 180, 9);

    const clickTp = new EvdevTouchpadState('dualsense');
    for (const e of [ev(3, 0x39, 3), ev(3, 0x35, 10), ev(3, 0x36, 1079), ev(1, 0x110, 1), syn])
      clickTp.apply(e);
    const s = combinePadDevices(IDLE_STATE, clickTp.state, motion.state);
    expect(pressedButtons(s)).toEqual(['touchpad']);
    expect(s.touches[0]).toEqual({ id: 3, x: 10, y: 941 }); // DualSense y scaled to 0..941
    expect(s.accel).toEqual([0, 1, 0]);
  });

  it('EvdevPad reads a device file as a stream (the fixture stands in for /dev/input/eventN)', async () => {
    const states: ControllerState[] = [];
    const path = join(repoRoot, 'test', 'fixtures', 'evdev', 'xbox-one-usb.events');
    await new Promise<void>((resolve, reject) => {
      const pad = new EvdevPad(
        { path, name: 'Xbox', vendorId: 0x045e, productId: 0x02ea, bustype: 3, family: 'xbox' },
        (s) => states.push(s),
        (err) => (err ? reject(err) : resolve()),
      );
      expect(pad.info.family).toBe('xbox');
    });
    expect(states).toHaveLength(11);
    expect(pressedButtons(states[0])).toEqual(['cross']);
  });

  it('rumbles a Sony pad through its hidraw node with a plain write', () => {
    const dir = h.tempDir('rptui-hidraw-');
    const hidraw = join(dir, 'hidraw3');
    writeFileSync(hidraw, '');
    const path = join(repoRoot, 'test', 'fixtures', 'evdev', 'dualshock4-usb.events');
    const info = {
      path,
      name: 'DS4',
      vendorId: 0x054c,
      productId: 0x09cc,
      bustype: 3,
      family: 'dualshock4' as const,
    };
    const usb = new EvdevPad(
      { ...info, hidraw },
      () => {},
      () => {},
    );
    expect(usb.rumble(200, 50)).toBe(true);
    usb.close();
    const written = new Uint8Array(readFileSync(hidraw));
    expect([written.length, written[0], written[1], written[4], written[5]]).toEqual([
      32, 0x05, 0x01, 50, 200,
    ]);
    const bt = new EvdevPad(
      { ...info, bustype: 5, hidraw },
      () => {},
      () => {},
    );
    expect(bt.rumble(1, 1)).toBe(true); // Bluetooth: the 78-byte report with its CRC32
    bt.close();
    expect([...readFileSync(hidraw).subarray(0, 2)]).toEqual([0x11, 0xc0]);
    const none = new EvdevPad(
      info,
      () => {},
      () => {},
    );
    expect(none.rumble(1, 1)).toBe(false);
    none.close();
  });

  it('parses struct fields, including negative values and timestamps', () => {
    const evs = [{ sec: 1700000000, usec: 999999, type: 3, code: 0, value: -32768 }];
    expect(new InputEventParser(24).feed(encodeInputEvents(evs, 24))).toEqual(evs);
    expect(new InputEventParser(16).feed(encodeInputEvents(evs, 16))).toEqual(evs);
    expect(inputEventSize('x64')).toBe(24);
    expect(inputEventSize('arm')).toBe(16);
    expect(inputEventSize('arm64')).toBe(24);
  });

  it('random bytes never throw (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom<16 | 24>(16, 24), (b, size) => {
        const p = new InputEventParser(size);
        const pad = new EvdevPadState(evdevProfile('xbox'));
        for (const ev of p.feed(b)) pad.apply(ev);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('mapping helpers', () => {
  it('dead zones and scaling', () => {
    expect(applyStick(0.1, 0)).toEqual([0, 0]);
    expect(applyStick(1, 0)).toEqual([32767, 0]);
    expect(applyStick(-1, 0)).toEqual([-32768, 0]);
    const [x] = applyStick(0.13, 0);
    expect(x).toBeGreaterThan(0);
    expect(x).toBeLessThan(1000); // no jump at the edge of the dead zone
    expect(applyTrigger(5, { min: 0, max: 255 })).toBe(0);
    expect(applyTrigger(1023, { min: 0, max: 1023 })).toBe(255);
    expect(hat8ToDpad(3)).toEqual({ up: false, right: true, down: true, left: false });
    expect(hat8ToDpad(8)).toEqual({ up: false, right: false, down: false, left: false });
  });

  it('families from ids and names', () => {
    expect(padFamily(0x054c, 0x09cc)).toBe('dualshock4');
    expect(padFamily(0x054c, 0x0ce6)).toBe('dualsense');
    expect(padFamily(0x045e, 0x02ea)).toBe('xbox');
    expect(padFamily(0x2dc8, 0x3106, '8BitDo Pro 2')).toBe('generic');
  });
});

describe('sysfs discovery', () => {
  const root = useHarness('all').tempDir('rptui-sysfs-');
  const device = (event: string, name: string, vendor: string, product: string, keyCaps: string) => {
    const d = join(root, event, 'device');
    mkdirSync(join(d, 'id'), { recursive: true });
    mkdirSync(join(d, 'capabilities'), { recursive: true });
    writeFileSync(join(d, 'name'), `${name}\n`);
    writeFileSync(join(d, 'id', 'vendor'), `${vendor}\n`);
    writeFileSync(join(d, 'id', 'product'), `${product}\n`);
    writeFileSync(join(d, 'id', 'bustype'), '0003\n');
    writeFileSync(join(d, 'capabilities', 'key'), `${keyCaps}\n`);
  };
  // Capability bitmaps in the sysfs format (64-bit words, most significant first): a DS4 main
  // device (BTN_SOUTH.. bits in word 4), its touchpad (BTN_LEFT/BTN_TOUCH, no pad buttons), a
  // keyboard (no word 4 at all) and an Xbox pad.
  device(
    'event3',
    'Sony Interactive Entertainment Wireless Controller',
    '054c',
    '09cc',
    '7fdb000000000000 0 0 0 0',
  );
  device(
    'event4',
    'Sony Interactive Entertainment Wireless Controller Touchpad',
    '054c',
    '09cc',
    '2420 0 0 0 0 10000 0 0 0 0',
  );
  device(
    'event1',
    'AT Translated Set 2 keyboard',
    '0001',
    '0001',
    '402000000 3803078f800d001 feffffdfffefffff fffffffffffffffe',
  );
  device('event10', 'Microsoft X-Box One S pad', '045e', '02ea', '7cdb000000000000 0 0 0 0');
  device('event5', 'Sony Interactive Entertainment Wireless Controller Motion Sensors', '054c', '09cc', '');
  // event3/device/device is the HID device; its hidraw/ lists the raw node
  mkdirSync(join(root, 'event3', 'device', 'device', 'hidraw', 'hidraw3'), { recursive: true });
  mkdirSync(join(root, 'event10', 'device', 'device', 'hidraw', 'hidraw7'), { recursive: true });

  it('lists only game pads, with ids and family', () => {
    const pads = listEvdevPads(root, '/dev/input');
    expect(pads.map((p) => [p.path, p.family, p.vendorId, p.productId])).toEqual([
      ['/dev/input/event3', 'dualshock4', 0x054c, 0x09cc],
      ['/dev/input/event10', 'xbox', 0x045e, 0x02ea],
    ]);
    // the DS4's touchpad and motion devices and its hidraw node travel with it
    expect([pads[0].touchpad, pads[0].motion]).toEqual(['/dev/input/event4', '/dev/input/event5']);
    expect(pads[0].hidraw).toBe('/dev/hidraw3');
    expect(pads[1].hidraw).toBeUndefined();
    expect([pads[1].touchpad, pads[1].motion]).toEqual([undefined, undefined]);
    expect(listEvdevPads(join(root, 'missing'))).toEqual([]);
  });

  it('reads capability bitmaps', () => {
    expect(hasCapability('7fdb000000000000 0 0 0 0', 0x130)).toBe(true);
    expect(hasCapability('7fdb000000000000 0 0 0 0', 0x12f)).toBe(false);
    expect(hasCapability('2420 0 0 0 0 10000 0 0 0 0', 0x130)).toBe(false);
    expect(hasCapability('', 0x130)).toBe(false);
  });
});
