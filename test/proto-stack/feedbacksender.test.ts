import { describe, expect, it } from 'vitest';
import { KeyboardController } from '../../src/input/keyboard.js';
import { loadKeymap } from '../../src/input/keymap.js';
import { toHex } from '../../src/proto-stack/bytes.js';
import {
  IDLE_STATE,
  withButton,
  withStick,
  withTouch,
  withTrigger,
} from '../../src/proto-stack/controller.js';
import {
  decodeFeedbackHistory,
  decodeFeedbackState,
  parseFeedbackPacket,
} from '../../src/proto-stack/feedback.js';
import {
  FeedbackSender,
  feedbackForChange,
  initialFeedbackContext,
} from '../../src/proto-stack/feedbacksender.js';
import { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import { packetsFor } from '../helpers/feedback.js';
import { tick, transmitsFor } from '../helpers/machine.js';

const hist = (payload: Uint8Array) =>
  decodeFeedbackHistory(payload).map((e) => (e.kind === 'button' ? `${e.button}:${e.state}` : `touch`));

describe('feedback cadence', () => {
  it('a button change gives one history packet at once, a stick change one state packet', () => {
    const s = new FeedbackSender(false, 1000);
    const out = transmitsFor(s, withButton(IDLE_STATE, 'cross', true), 1000.5);
    expect(out.map((o) => [o.type, o.seq])).toEqual([['history', 0]]);
    expect(toHex(out[0].payload)).toBe('8088ff');
    const out2 = transmitsFor(s, withStick(s.state, 'left', 0, -32768), 1001);
    expect(out2.map((o) => [o.type, o.seq])).toEqual([['state', 0]]);
    expect(decodeFeedbackState(out2[0].payload).leftY).toBe(-32768);
    expect(transmitsFor(s, s.state, 1002)).toEqual([]);
  });

  it('history repeats the newest 4 events, newest first', () => {
    const s = new FeedbackSender(true, 0);
    let st = IDLE_STATE;
    const payloads: string[][] = [];
    for (const [b, p] of [
      ['cross', true],
      ['cross', false],
      ['circle', true],
      ['square', true],
      ['triangle', true],
      ['circle', false],
    ] as const) {
      st = withButton(st, b, p);
      payloads.push(hist(transmitsFor(s, st, 0)[0].payload));
    }
    expect(payloads[1]).toEqual(['cross:0', 'cross:255']);
    expect(payloads[5]).toEqual(['circle:0', 'triangle:255', 'square:255', 'circle:255', 'cross:0']);
  });

  it('events of one change follow the reference order: releases, touches, presses, L2, R2', () => {
    let prev = withButton(withTouch(IDLE_STATE, 0, { id: 1, x: 10, y: 20 }), 'touchpad', true);
    prev = withButton(prev, 'options', false);
    const next = withTrigger(
      withButton(withButton(withTouch(prev, 0, null), 'touchpad', false), 'cross', true),
      'r2',
      200,
    );
    const { outputs } = feedbackForChange(
      { ...initialFeedbackContext(false), state: prev, sentState: prev },
      next,
    );
    // newest first on the wire
    expect(hist(outputs[0].payload)).toEqual(['r2:200', 'cross:255', 'touch', 'touchpad:0']);
  });

  it('touch positions go out on the DualShock 4 grid to a PS4 and on the DualSense grid to a PS5', () => {
    const touch = withTouch(IDLE_STATE, 0, { id: 4, x: 1919, y: 941 });
    const ps4 = feedbackForChange(initialFeedbackContext(false), touch).outputs[0];
    const ps5 = feedbackForChange(initialFeedbackContext(true), touch).outputs[0];
    expect(decodeFeedbackHistory(ps4.payload)).toEqual([
      { kind: 'touch', down: true, pointerId: 4, x: 1919, y: 941 },
    ]);
    expect(decodeFeedbackHistory(ps5.payload)).toEqual([
      { kind: 'touch', down: true, pointerId: 4, x: 1918, y: 1078 },
    ]);
  });

  it('keeps the state alive every 200 ms and wakes up exactly then', () => {
    const s = new FeedbackSender(false, 0);
    expect(s.pollTimeout()).toBe(200);
    expect(tick(s, 199).out).toEqual([]);
    const out = tick(s, 200).out;
    expect(out.map((o) => [o.type, o.seq])).toEqual([['state', 0]]);
    transmitsFor(s, withStick(s.state, 'right', 100, 0), 250);
    expect(s.pollTimeout()).toBe(450);
    expect(tick(s, 449).out).toEqual([]);
    expect(tick(s, 450).out[0].seq).toBe(2);
  });

  it('formats datagrams and advances key_pos by payload + 16 per packet', () => {
    const s = new FeedbackSender(false, 0);
    const outs = transmitsFor(s, withStick(withButton(IDLE_STATE, 'ps', true), 'left', 5, 5), 0);
    const crypt = { crypt: (d: Uint8Array) => d.slice(), gmac: () => Uint8Array.of(1, 2, 3, 4) };
    let keyPos = 100;
    const packets = packetsFor(outs, crypt, (n) => {
      const at = keyPos;
      keyPos += n;
      return at;
    });
    expect(packets.map((p) => parseFeedbackPacket(p).keyPos)).toEqual([100, 141]);
    expect(keyPos).toBe(141 + 2 + 16);
    expect(packetsFor(outs, undefined, () => 1).map((p) => parseFeedbackPacket(p).keyPos)).toEqual([0, 0]);
  });

  it('key bytes -> one encrypted, tagged datagram per key event (its cost: npm run bench -- input)', () => {
    const kb = new KeyboardController(loadKeymap('default', { RPTUI_CONFIG_DIR: '/nonexistent' }));
    kb.feed(Buffer.from('\x1b[?0u\x1b[?62;c'), 0); // kitty protocol on: every event is real
    const sender = new FeedbackSender(true, 0);
    const crypt = new GkCrypt(2, new Uint8Array(16).fill(1), new Uint8Array(32).fill(2));
    let keyPos = 0;
    const alloc = (n: number) => {
      const k = keyPos;
      keyPos += n;
      return k;
    };
    const keys = ['\x1b[32u', '\x1b[32;1:3u', '\x1b[119u', '\x1b[119;1:3u'].map((k) => Buffer.from(k));
    let sent = 0;
    for (let i = 0; i < 400; i++) {
      const u = kb.feed(keys[i % 4], i);
      sent += packetsFor(transmitsFor(sender, u.state, i), crypt, alloc).length;
    }
    expect(sent).toBe(400); // one packet per key event
  });
});
