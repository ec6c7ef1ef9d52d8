import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyState } from '../../src/proto-stack/keystate.js';
import { loadVectors } from '../helpers/vectors.js';

const v = loadVectors('keystate');

describe('KeyState (keystate.json)', () => {
  for (const c of v.cases) {
    it(c.name, () => {
      const ks = new KeyState();
      ks.commit(c.initial_prev);
      for (const step of c.steps) expect(ks.requestPos(step.low32, c.commit)).toBe(step.expected_key_pos);
      expect(ks.current).toBe(c.commit ? c.steps.at(-1).expected_key_pos : c.initial_prev);
    });
  }

  it('steps back across a 2^32 boundary only when the high half allows it', () => {
    const ks = new KeyState();
    ks.commit(0x1_0000_0010);
    expect(ks.requestPos(0xfffffff0, false)).toBe(0xfffffff0);
    const fresh = new KeyState();
    expect(fresh.requestPos(0xfffffff0, false)).toBe(0xfffffff0);
  });

  it('recovers any position within 2^31 of the last committed one from its low 32 bits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }),
        (prev, delta) => {
          const target = prev + delta;
          if (target < 0) return;
          const ks = new KeyState();
          ks.commit(prev);
          expect(ks.requestPos(target % 2 ** 32, false)).toBe(target);
          expect(ks.current).toBe(prev);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
