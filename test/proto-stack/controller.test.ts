import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BUTTONS,
  diffState,
  feedbackStateEqual,
  IDLE_STATE,
  isControl,
  isPressed,
  pressedButtons,
  stateEqual,
  withButton,
  withStick,
  withTouch,
  withTrigger,
} from '../../src/proto-stack/controller.js';

describe('controller state', () => {
  it('is unchanged (same object) when nothing changes, new otherwise', () => {
    expect(withButton(IDLE_STATE, 'cross', false)).toBe(IDLE_STATE);
    expect(withTrigger(IDLE_STATE, 'l2', 0)).toBe(IDLE_STATE);
    expect(withStick(IDLE_STATE, 'left', 0, 0)).toBe(IDLE_STATE);
    const s = withButton(IDLE_STATE, 'ps', true);
    expect(s).not.toBe(IDLE_STATE);
    expect(IDLE_STATE.buttons).toBe(0);
    expect(isPressed(s, 'ps')).toBe(true);
  });

  it('clamps sticks, triggers and touch coordinates', () => {
    const s = withTouch(withTrigger(withStick(IDLE_STATE, 'right', 1e9, -1e9), 'r2', 300), 1, {
      id: 200,
      x: 5000,
      y: -3,
    });
    expect([s.rightX, s.rightY, s.r2]).toEqual([32767, -32768, 255]);
    expect(s.touches[1]).toEqual({ id: 200 & 0x7f, x: 1919, y: 0 });
  });

  it('diff: a finger replacing another in one slot lifts the old one and puts the new one down', () => {
    const a = withTouch(IDLE_STATE, 0, { id: 1, x: 10, y: 10 });
    const b = withTouch(a, 0, { id: 2, x: 20, y: 30 });
    expect(diffState(a, b)).toEqual([
      { kind: 'touch', down: false, pointerId: 1, x: 10, y: 10 },
      { kind: 'touch', down: true, pointerId: 2, x: 20, y: 30 },
    ]);
    expect(diffState(b, withTouch(b, 0, { id: 2, x: 21, y: 30 }))).toEqual([
      { kind: 'touch', down: true, pointerId: 2, x: 21, y: 30 },
    ]);
  });

  it('diff produces exactly the changed buttons, in reference bit order (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (x, y) => {
        const a = { ...IDLE_STATE, buttons: x };
        const b = { ...IDLE_STATE, buttons: y };
        const ev = diffState(a, b);
        const changed = BUTTONS.filter((_, i) => ((x ^ y) >> i) & 1);
        expect(ev.map((e) => (e.kind === 'button' ? e.button : '')).sort()).toEqual([...changed].sort());
        // releases first
        const firstPress = ev.findIndex((e) => e.kind === 'button' && e.state === 255);
        if (firstPress >= 0)
          expect(ev.slice(firstPress).every((e) => e.kind === 'button' && e.state === 255)).toBe(true);
      }),
    );
  });

  it('equality helpers and control names', () => {
    const s = withStick(IDLE_STATE, 'left', 1, 0);
    expect(feedbackStateEqual(s, IDLE_STATE)).toBe(false);
    expect(feedbackStateEqual(withButton(IDLE_STATE, 'l1', true), IDLE_STATE)).toBe(true);
    expect(stateEqual(withButton(IDLE_STATE, 'l1', true), IDLE_STATE)).toBe(false);
    expect(pressedButtons(withButton(withButton(IDLE_STATE, 'r3', true), 'cross', true))).toEqual([
      'cross',
      'r3',
    ]);
    expect(isControl('left_stick_up')).toBe(true);
    expect(isControl('start')).toBe(false);
  });
});
