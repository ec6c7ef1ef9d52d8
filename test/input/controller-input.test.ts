import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ControllerInput, mergeStates } from '../../src/input/controller-input.js';
import { parseKeymap } from '../../src/input/keymap.js';
import { KITTY_DISABLE, KITTY_ENABLE, KITTY_QUERY } from '../../src/input/kitty.js';
import {
  type ControllerState,
  IDLE_STATE,
  isPressed,
  withButton,
  withStick,
  withTrigger,
} from '../../src/proto-stack/controller.js';
import { decodeFeedbackHistory } from '../../src/proto-stack/feedback.js';
import { FeedbackSender } from '../../src/proto-stack/feedbacksender.js';
import { transmitsFor } from '../helpers/machine.js';

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
  const states: { at: number; state: ControllerState }[] = [];
  let exits = 0;
  const input = new ControllerInput({
    keymap: map,
    input: tty,
    output: { write: (s: string) => written.push(s) },
    onState: (state) => states.push({ at: performance.now(), state }),
    onExit: () => exits++,
    pads: false,
  });
  return { tty, written, states, input, exits: () => exits };
}

describe('controller input (terminal, real timers)', () => {
  it('hands over the press in the same callback as the key and the timed release later', async () => {
    const { tty, written, states, input } = setup();
    await input.start();
    expect(tty.raw).toEqual([true]);
    expect(written).toEqual([KITTY_QUERY]);
    tty.type('\x1b[?1;2c'); // a terminal without the kitty protocol
    const t0 = performance.now();
    tty.type(' ');
    // synchronous: the state exists before type() returns (no timer in between), and the
    // session's FeedbackSender turns it into a history packet at once
    expect(states).toHaveLength(1);
    expect(isPressed(states[0].state, 'cross')).toBe(true);
    const out = transmitsFor(new FeedbackSender(false, 0), states[0].state, 0);
    expect(decodeFeedbackHistory(out[0].payload)).toEqual([{ kind: 'button', button: 'cross', state: 255 }]);
    await sleep(150);
    expect(states).toHaveLength(2);
    expect(isPressed(states[1].state, 'cross')).toBe(false);
    // held for initialHoldMs (60), not released early
    expect(states[1].at - t0).toBeGreaterThanOrEqual(59);
    // the next key is handed over in the same callback too (its cost: npm run bench -- input)
    tty.type(' ');
    expect(states).toHaveLength(3);
    // stopping releases what is held and restores the terminal
    input.stop();
    expect(states[3].state).toBe(IDLE_STATE);
    expect(tty.raw).toEqual([true, false]);
  });

  it('with the kitty protocol: enable, real release, disable on stop, exit hotkey', async () => {
    const { tty, written, states, input, exits } = setup();
    await input.start();
    tty.type('\x1b[?0u\x1b[?62;c');
    expect(written).toEqual([KITTY_QUERY, KITTY_ENABLE]);
    tty.type('\x1b[119u'); // w down
    expect(input.state.leftY).toBe(-32768);
    await sleep(100); // no timed release with real key-up events
    expect(input.state.leftY).toBe(-32768);
    tty.type('\x1b[119;1:3u'); // w up
    expect(input.state.leftY).toBe(0);
    tty.type('\x1b[113;5u'); // ctrl+q
    expect(exits()).toBe(1);
    input.stop();
    expect(written.at(-1)).toBe(KITTY_DISABLE);
    expect(states.map((s) => s.state.leftY)).toEqual([-32768, 0]);
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
