// The fuzz targets of `npm run fuzz`, briefly, in every test run: each seed is a valid input (so
// mutations start from something that parses deep), and a few hundred fuzzed inputs per target
// give only typed errors.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzBytes, typedOnly } from './fuzz.js';
import { fuzzTargets } from './fuzz-targets.js';

const targets = fuzzTargets();

describe('fuzz targets', () => {
  it('have unique names', () => {
    expect(new Set(targets.map((t) => t.name)).size).toBe(targets.length);
  });

  for (const t of targets) {
    it(`${t.name}: every seed is accepted, fuzzed inputs give only typed errors`, () => {
      expect(t.seeds.length).toBeGreaterThan(0);
      for (const s of t.seeds) t.run(s);
      fc.assert(
        fc.property(fuzzBytes(t.seeds, t.maxLength), (b) => {
          typedOnly(() => t.run(b));
        }),
        { numRuns: 300, seed: 1 },
      );
    });
  }
});
