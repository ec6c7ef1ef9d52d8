// Parser fuzz tests: inputs that stay close to valid messages (so parsing gets past the first
// check and the deeper paths are exercised too), and the "only typed errors" check.
import fc from 'fast-check';
import { RptuiError } from '../../src/proto-stack/errors.js';

/** One of `seeds` with up to `maxEdits` bytes overwritten, then cut to a random length (0..all). */
export function mutatedBytes(seeds: Uint8Array[], maxEdits: number): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: maxEdits }),
      fc.nat(),
    )
    .map(([base, edits, cut]) => {
      const b = Uint8Array.from(base);
      for (const [pos, val] of edits) b[pos % b.length] = val;
      return b.subarray(0, cut % (b.length + 1));
    });
}

/**
 * Runs `f`: true when it returns, false when it throws a typed error (`allowed`, RptuiError by
 * default); anything else (a RangeError from an unchecked read, say) is rethrown and fails the
 * property.
 */
export function typedOnly(
  f: () => unknown,
  allowed: abstract new (...args: never[]) => Error = RptuiError,
): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (!(e instanceof allowed)) throw e;
    return false;
  }
}
