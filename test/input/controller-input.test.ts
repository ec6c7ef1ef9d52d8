import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ControllerInput, mergeStates } from '../../src/input/controller-input.js';
import {
  IDLE_STATE,
  isPressed,
  withButton,
  withStick,
  withTrigger,
} from '../../src/input/controller-state.js';
import type { FeedbackOutput } from '../../src/input/feedback-sender.js';
import { parseKeymap } from '../../src/input/keymap.js';
import { KITTY_DISABLE, KITTY_ENABLE, KITTY_QUERY } from '../../src/input/kitty.js';
import { decodeFeedbackHistory } from '../../src/proto-stack/feedback.js';

class FakeTty extends EventEmitter {
  raw: boolean[] = [];
  setRawMode(r: boolean) {
    this.raw.push(r);
  }
  type(s: string) {
    this.emit('data', Buffer.from(s, 'utf8'));
  }
}

const map = parseKeymap(
  { keys: { space: 'cross', w: 'left_stick_up' }, initialHoldMs: 60, releaseTimeoutMs: 30 },
  'test.json',
  'test',
);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup() {
  const tty = new FakeTty();
  const written: string[] = [];
  const sent: { at: number; out: FeedbackOutput[] }[] = [];
  let exits = 0;
  const input = new ControllerInput({
    keymap: map,
    ps5: false,
    input: tty,
    output: { write: (s: string) => written.push(s) },
    send: (out) => sent.push({ at: performance.now(), out }),
    onExit: () => exits++,
    pads: false,
  });
  return { tty, written, sent, input, exits: () => exits };
}

describe('controller input (terminal + feedback, real timers)', () => {
  it('sends the press in the same callback as the key, the timed release later, keep-alives every 200 ms', async () => {
    const { tty, written, sent, input } = setup();
    await input.start();
    expect(tty.raw).toEqual([true]);
    expect(written).toEqual([KITTY_QUERY]);
    tty.type('\x1b[?1;2c'); // a terminal without the kitty protocol
    const t0 = performance.now();
    tty.type(' ');
    // synchronous: the history packet exists before type() returns (no timer in between)
    expect(sent).toHaveLength(1);
    expect(decodeFeedbackHistory(sent[0].out[0].payload)).toEqual([
      { kind: 'button', button: 'cross', state: 255 },
    ]);
    await sleep(150);
    const release = sent.find((s, i) => i > 0 && s.out.some((o) => o.type === 'history'));
    expect(release).toBeDefined();
    // held for initialHoldMs (60), not released early
    expect(release!.at - t0).toBeGreaterThanOrEqual(59);
    await sleep(250);
    expect(sent.some((s) => s.out.some((o) => o.type === 'state'))).toBe(true);
    // warmed up, a key costs microseconds (the bound is generous for a loaded machine)
    const n = sent.length;
    const t1 = performance.now();
    tty.type(' ');
    expect(sent).toHaveLength(n + 1);
    expect(sent[n].at - t1).toBeLessThan(5);
    // stopping releases what is held
    const final = input.stop();
    expect(final.map((o) => decodeFeedbackHistory(o.payload)[0])).toEqual([
      { kind: 'button', button: 'cross', state: 0 },
    ]);
    expect(tty.raw).toEqual([true, false]);
  });

  it('with the kitty protocol: enable, real release, disable on stop, exit hotkey', async () => {
    const { tty, written, sent, input, exits } = setup();
    await input.start();
    tty.type('\x1b[?0u\x1b[?62;c');
    expect(written).toEqual([KITTY_QUERY, KITTY_ENABLE]);
    tty.type('\x1b[119u'); // w down
    expect(input.state.leftY).toBe(-32768);
    await sleep(100); // no timed release with real key-up events
    expect(input.state.leftY).toBe(-32768);
    tty.type('\x1b[113;5u'); // ctrl+q
    expect(exits()).toBe(1);
    const final = input.stop();
    expect(final.map((o) => o.type)).toEqual(['state']); // stick back to centre
    expect(written.at(-1)).toBe(KITTY_DISABLE);
    expect(sent.length).toBeGreaterThanOrEqual(1);
  });
});

describe('mergeStates', () => {
  it('ORs buttons, takes the larger trigger, the pad stick unless centred', () => {
    const kb = withStick(withTrigger(withButton(IDLE_STATE, 'cross', true), 'l2', 255), 'left', 0, -32768);
    const pad = withStick(withTrigger(withButton(IDLE_STATE, 'circle', true), 'l2', 10), 'right', 500, 0);
    const m = mergeStates(kb, pad);
    expect(isPressed(m, 'cross') && isPressed(m, 'circle')).toBe(true);
    expect(m.l2).toBe(255);
    expect([m.leftX, m.leftY, m.rightX]).toEqual([0, -32768, 500]);
    expect(mergeStates(kb, IDLE_STATE)).toBe(kb);
  });
});
