import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/proto-stack/bytes.js';
import { AuthError, ParseError } from '../../src/proto-stack/errors.js';
import {
  compressQuat,
  decodeFeedbackHistory,
  decodeFeedbackState,
  decompressQuat,
  describeControllerEvent,
  describeStickChanges,
  encodeFeedbackHistory,
  encodeFeedbackState,
  encodeHistoryEvent,
  type FeedbackCrypt,
  type FeedbackHistoryEvent,
  FeedbackHistoryReceiver,
  formatFeedbackPacket,
  type HistoryButton,
  IDLE_MOTION,
  parseFeedbackPacket,
} from '../../src/proto-stack/feedback.js';
import { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import { verifyGmac } from '../../src/proto-stack/takion.js';
import { packetsFor } from '../helpers/feedback.js';
import { typedOnly } from '../helpers/fuzz.js';
import { tick, transmitsFor } from '../helpers/machine.js';
import { loadVectors, vectorCase } from '../helpers/vectors.js';

const gen = loadVectors('generated_chiaki');

/** Reference button names -> ours. */
const REF_NAMES: Record<string, HistoryButton> = {
  CROSS: 'cross',
  MOON: 'circle',
  BOX: 'square',
  PYRAMID: 'triangle',
  DPAD_LEFT: 'dpad_left',
  DPAD_RIGHT: 'dpad_right',
  DPAD_UP: 'dpad_up',
  DPAD_DOWN: 'dpad_down',
  L1: 'l1',
  R1: 'r1',
  L2: 'l2',
  R2: 'r2',
  L3: 'l3',
  R3: 'r3',
  OPTIONS: 'options',
  SHARE: 'share',
  TOUCHPAD: 'touchpad',
  PS: 'ps',
};

describe('feedback state (generated_chiaki.json feedback_state)', () => {
  const v = gen.feedback_state;
  const fields = {
    gyro: v.input.gyro,
    accel: v.input.accel,
    orientation: v.input.orient_xyzw,
    leftX: v.input.left[0],
    leftY: v.input.left[1],
    rightX: v.input.right[0],
    rightY: v.input.right[1],
  };

  it('encodes v9 (PS4, 25 bytes) and v12 (PS5, 28 bytes) byte-exact', () => {
    expect(toHex(encodeFeedbackState(fields, false))).toBe(v.v9);
    expect(toHex(encodeFeedbackState(fields, true))).toBe(v.v12);
  });

  it('encodes the idle state byte-exact', () => {
    const idle = { ...IDLE_MOTION, leftX: 0, leftY: 0, rightX: 0, rightY: 0 };
    expect(toHex(encodeFeedbackState(idle, false))).toBe(v.v9_idle);
  });

  it('decodes back to the inputs within quantisation', () => {
    for (const [hex, ps5] of [
      [v.v9, false],
      [v.v12, true],
    ] as const) {
      const d = decodeFeedbackState(fromHex(hex));
      expect(d.ps5).toBe(ps5);
      expect([d.leftX, d.leftY, d.rightX, d.rightY]).toEqual([1234, -32768, 32767, -1]);
      for (let i = 0; i < 3; i++) {
        expect(d.gyro[i]).toBeCloseTo(v.input.gyro[i], 2);
        expect(d.accel[i]).toBeCloseTo(v.input.accel[i], 3);
      }
      // The inputs are not a unit quaternion; the decoder rebuilds the largest component from the
      // other three, so compare those three only.
      for (const i of [0, 2, 3])
        expect(Math.abs(d.orientation[i] - v.input.orient_xyzw[i])).toBeLessThan(0.003);
      expect(d.orientation[1]).toBeLessThan(0);
    }
  });

  it('quaternion compression round-trips unit quaternions (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 }),
        (raw) => {
          const n = Math.hypot(...raw);
          fc.pre(n > 0.1);
          const q = raw.map((x) => x / n) as [number, number, number, number];
          const back = decompressQuat(compressQuat(q));
          // q and -q are the same rotation.
          const dot = Math.abs(q.reduce((s, x, i) => s + x * back[i], 0));
          expect(dot).toBeGreaterThan(0.999);
        },
      ),
    );
  });

  it('rejects wrong sizes and markers with ParseError', () => {
    expect(() => decodeFeedbackState(new Uint8Array(24))).toThrow(ParseError);
    expect(() => decodeFeedbackState(new Uint8Array(25))).toThrow(/not 0xa0/);
  });
});

describe('feedback history events (generated_chiaki.json feedback_history_events)', () => {
  const cases = gen.feedback_history_events as Array<Record<string, string | number>>;

  it('has every button and the touchpad in the vector file', () => {
    const buttons = new Set(cases.filter((c) => c.button).map((c) => REF_NAMES[c.button as string]));
    expect(buttons.size).toBe(18);
    expect(cases.filter((c) => c.touch).length).toBe(2);
  });

  it.each(cases.map((c) => [JSON.stringify(c), c] as const))('encodes %s', (_, c) => {
    const e: FeedbackHistoryEvent = c.button
      ? { kind: 'button', button: REF_NAMES[c.button as string], state: c.state as number }
      : {
          kind: 'touch',
          down: c.touch === 'down',
          pointerId: c.pointer_id as number,
          x: c.x as number,
          y: c.y as number,
        };
    expect(toHex(encodeHistoryEvent(e))).toBe(c.event);
    // Console side: decoding gives the event back (two-byte buttons only know pressed/released,
    // pointer ids are 7 bits).
    const [d] = decodeFeedbackHistory(fromHex(c.event as string));
    if (e.kind === 'button') {
      const analog =
        ['l2', 'r2', 'cross', 'circle', 'square', 'triangle', 'l1', 'r1'].includes(e.button) ||
        e.button.startsWith('dpad');
      expect(d).toEqual({ ...e, state: analog ? e.state : e.state ? 255 : 0 });
    } else {
      expect(d).toEqual({ ...e, pointerId: e.pointerId & 0x7f });
    }
  });

  it('a payload of several events decodes in order', () => {
    const events: FeedbackHistoryEvent[] = [
      { kind: 'button', button: 'cross', state: 255 },
      { kind: 'touch', down: true, pointerId: 3, x: 100, y: 900 },
      { kind: 'button', button: 'options', state: 0 },
    ];
    expect(decodeFeedbackHistory(encodeFeedbackHistory(events))).toEqual(events);
  });

  it('reads the three-byte form of OPTIONS/SHARE/PS/L3/R3/TOUCHPAD some clients send (80 id state)', () => {
    // pyremoteplay's FeedbackEvent packs every button as 80 id state, id + 0x20 when pressed
    const payload = fromHex('80acff' + '8088ff' + '808c00' + 'd00306490a' + '80b1ff' + '809100');
    expect(decodeFeedbackHistory(payload)).toEqual([
      { kind: 'button', button: 'options', state: 255, threeByte: true },
      { kind: 'button', button: 'cross', state: 255 },
      { kind: 'button', button: 'options', state: 0, threeByte: true },
      { kind: 'touch', down: true, pointerId: 3, x: 100, y: 0x90a },
      { kind: 'button', button: 'touchpad', state: 255, threeByte: true },
      { kind: 'button', button: 'touchpad', state: 0, threeByte: true },
    ]);
    // the two-byte form, and both mixed, still read as before
    expect(decodeFeedbackHistory(fromHex('80ac808c8088ff'))).toEqual([
      { kind: 'button', button: 'options', state: 255 },
      { kind: 'button', button: 'options', state: 0 },
      { kind: 'button', button: 'cross', state: 255 },
    ]);
    expect(describeControllerEvent(decodeFeedbackHistory(fromHex('80aeff'))[0])).toEqual({
      type: 'controller',
      button: 'ps',
      pressed: true,
      threeByte: true,
    });
  });

  it('rejects unknown ids and truncation with ParseError', () => {
    expect(() => decodeFeedbackHistory(fromHex('8099'))).toThrow(/unknown button id 0x99/);
    expect(() => decodeFeedbackHistory(fromHex('8088'))).toThrow(ParseError);
    expect(() => decodeFeedbackHistory(fromHex('d00512'))).toThrow(ParseError);
    expect(() => decodeFeedbackHistory(fromHex('42'))).toThrow(/unknown history event type 0x42/);
  });
});

/** A stand-in crypt with a recognisable key stream and tag, for the packet layout tests. */
const fakeCrypt: FeedbackCrypt = {
  crypt: (data, keyPos) => data.map((b, i) => b ^ ((keyPos + i) & 0xff)),
  gmac: (data, keyPos) => {
    let h = keyPos >>> 0;
    for (const b of data) h = (Math.imul(h, 31) + b) >>> 0;
    return Uint8Array.of(h >>> 24, h >>> 16, h >>> 8, h);
  },
};

describe('feedback packets', () => {
  const payload = fromHex(gen.feedback_state.v9_idle);

  it('without crypt: header with zero key_pos and gmac, plain payload', () => {
    const p = formatFeedbackPacket('state', 0x1234, payload, undefined, 0);
    expect(toHex(p.subarray(0, 12))).toBe('061234000000000000000000');
    expect(toHex(p.subarray(12))).toBe(gen.feedback_state.v9_idle);
    const h = formatFeedbackPacket('history', 7, fromHex('8088ff'), undefined, 0);
    expect(toHex(h)).toBe('010007000000000000000000' + '8088ff');
  });

  it('with crypt: payload encrypted at key_pos + 16, tag over the packet with key_pos kept', () => {
    const keyPos = 0x01020304;
    const p = formatFeedbackPacket('state', 1, payload, fakeCrypt, keyPos);
    expect(toHex(p.subarray(4, 8))).toBe('01020304');
    expect(toHex(p.subarray(12))).toBe(toHex(fakeCrypt.crypt(payload, keyPos + 16)));
    const zeroed = p.slice();
    zeroed.fill(0, 8, 12);
    expect(toHex(p.subarray(8, 12))).toBe(toHex(fakeCrypt.gmac(zeroed, keyPos)));
    const parsed = parseFeedbackPacket(p, fakeCrypt);
    expect(parsed).toMatchObject({ type: 'state', seq: 1, keyPos });
    expect(toHex(parsed.payload)).toBe(toHex(payload));
  });

  it('the console side rejects a tampered packet with AuthError', () => {
    const p = formatFeedbackPacket('history', 9, fromHex('8088ff'), fakeCrypt, 64);
    p[p.length - 1] ^= 1;
    expect(() => parseFeedbackPacket(p, fakeCrypt)).toThrow(AuthError);
    expect(() => parseFeedbackPacket(fromHex('05000000'))).toThrow(/not a feedback packet/);
  });

  it('pyrp_crypt.json encrypt_feedback_state_local with the real gkcrypt; tag agrees with takion', () => {
    const c = vectorCase(loadVectors('pyrp_crypt'), 'encrypt_feedback_state_local');
    const crypt = new GkCrypt(c.inputs.index, fromHex(c.inputs.handshake_key), fromHex(c.inputs.secret));
    // The vector's key position counts the +16 block in (its key stream starts at 163 + 16 = 179),
    // so it is exactly the key_pos our header carries.
    const keyPos = c.inputs.pyremoteplay_key_pos;
    expect(keyPos).toBe(163);
    const p = formatFeedbackPacket('state', 0, fromHex(c.inputs.plaintext), crypt, keyPos);
    expect(toHex(p.subarray(12))).toBe(c.expected.ciphertext);
    expect(toHex(p.subarray(4, 8))).toBe('000000a3');
    // the takion layer's own rule for FEEDBACK types accepts our tag
    expect(verifyGmac(p, crypt, keyPos)).toBe(true);
    const parsed = parseFeedbackPacket(p, crypt);
    expect(toHex(parsed.payload)).toBe(c.inputs.plaintext);
  });
});

describe('console side: history receiver and log lines', () => {
  const ev = (button: HistoryButton, state: number): FeedbackHistoryEvent => ({
    kind: 'button',
    button,
    state,
  });

  it('reports each event once although packets repeat the newest 4', () => {
    const r = new FeedbackHistoryReceiver();
    expect(r.accept(0, [ev('cross', 255)])).toEqual([ev('cross', 255)]);
    expect(r.accept(1, [ev('cross', 0), ev('cross', 255)])).toEqual([ev('cross', 0)]);
    expect(r.accept(2, [ev('cross', 255), ev('cross', 0), ev('cross', 255)])).toEqual([ev('cross', 255)]);
    expect(
      r.accept(3, [ev('circle', 255), ev('cross', 0), ev('cross', 255), ev('cross', 0), ev('cross', 255)]),
    ).toEqual([ev('cross', 0), ev('circle', 255)]);
    // duplicate packet
    expect(r.accept(3, [ev('circle', 255)])).toEqual([]);
  });

  it('after a seq gap every event counts as new, oldest first', () => {
    const r = new FeedbackHistoryReceiver();
    r.accept(10, [ev('cross', 255)]);
    expect(r.accept(13, [ev('square', 255), ev('cross', 0)])).toEqual([ev('cross', 0), ev('square', 255)]);
  });

  it('describes buttons, triggers, touches and sticks as the simulator logs them', () => {
    expect(describeControllerEvent(ev('cross', 255))).toEqual({
      type: 'controller',
      button: 'cross',
      pressed: true,
    });
    expect(describeControllerEvent(ev('options', 0))).toEqual({
      type: 'controller',
      button: 'options',
      pressed: false,
    });
    expect(describeControllerEvent(ev('r2', 128))).toEqual({
      type: 'controller',
      button: 'r2',
      pressed: true,
      value: 128,
    });
    expect(describeControllerEvent({ kind: 'touch', down: true, pointerId: 1, x: 5, y: 6 })).toEqual({
      type: 'controller',
      touch: 'down',
      id: 1,
      x: 5,
      y: 6,
    });
    const s = decodeFeedbackState(fromHex(gen.feedback_state.v9));
    expect(describeStickChanges(undefined, s)).toEqual([
      { type: 'controller', stick: 'left', x: 1234, y: -32768 },
      { type: 'controller', stick: 'right', x: 32767, y: -1 },
    ]);
    expect(describeStickChanges(s, { ...s, rightX: 0 })).toEqual([
      { type: 'controller', stick: 'right', x: 0, y: -1 },
    ]);
  });
});

describe('parsers never throw untyped errors (fuzz)', () => {
  const seeds = [
    formatFeedbackPacket('state', 3, fromHex(gen.feedback_state.v12), fakeCrypt, 32),
    formatFeedbackPacket('history', 3, fromHex('8088ffd00577f3ad80ac808600'), fakeCrypt, 32),
  ];

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        typedOnly(() => parseFeedbackPacket(b));
        typedOnly(() => parseFeedbackPacket(b, fakeCrypt));
        typedOnly(() => decodeFeedbackState(b));
        typedOnly(() => decodeFeedbackHistory(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid packets', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (seed, flips, cut) => {
          const b = seed.slice(0, seed.length - (cut % 4));
          for (const [i, v] of flips) b[i % b.length] = v;
          typedOnly(() => {
            const p = parseFeedbackPacket(b);
            if (p.type === 'state') decodeFeedbackState(p.payload);
            else decodeFeedbackHistory(p.payload);
          });
          typedOnly(() => parseFeedbackPacket(b, fakeCrypt));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('console decoder: datagrams to log lines', () => {
  it('logs presses, releases and stick moves once each, skipping repeats and stale states', async () => {
    const { FeedbackSender } = await import('../../src/proto-stack/feedbacksender.js');
    const { IDLE_STATE, withButton, withStick } = await import('../../src/proto-stack/controller.js');
    const { FeedbackConsoleDecoder } = await import('../../src/proto-stack/feedback.js');
    const sender = new FeedbackSender(true, 0);
    let keyPos = 0;
    const alloc = (n: number) => {
      const k = keyPos;
      keyPos += n;
      return k;
    };
    const decoder = new FeedbackConsoleDecoder(fakeCrypt);
    const log: unknown[] = [];
    const send = (s: typeof IDLE_STATE) => {
      for (const p of packetsFor(transmitsFor(sender, s, 0), fakeCrypt, alloc))
        log.push(...decoder.accept(p));
    };
    let s = withButton(IDLE_STATE, 'cross', true);
    send(s);
    s = withStick(s, 'left', 0, -32768);
    send(s);
    s = withButton(s, 'cross', false);
    send(s);
    const stale = packetsFor(tick(sender, 1000).out, fakeCrypt, alloc)[0];
    log.push(...decoder.accept(stale));
    log.push(...decoder.accept(stale));
    expect(log).toEqual([
      { type: 'controller', button: 'cross', pressed: true },
      { type: 'controller', stick: 'left', x: 0, y: -32768 },
      { type: 'controller', button: 'cross', pressed: false },
    ]);
    expect(decoder.state?.ps5).toBe(true);
  });
});
