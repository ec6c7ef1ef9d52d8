// Parser fuzz tests: inputs that stay close to valid messages (so parsing gets past the first
// check and the deeper paths are exercised too), and the "only typed errors" check.
import fc from 'fast-check';
import { concatBytes } from '../../src/proto-stack/bytes.js';
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

/**
 * One of `seeds` changed by up to `maxEdits` structural edits (a byte overwritten, bytes
 * inserted or deleted, a piece of another seed spliced in), so lengths and offsets move too.
 */
export function editedBytes(seeds: Uint8Array[], maxEdits: number): fc.Arbitrary<Uint8Array> {
  const edit = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }));
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(edit, { minLength: 1, maxLength: maxEdits }))
    .map(([base, edits]) => {
      let b: Uint8Array = Uint8Array.from(base);
      for (const [kind, at, n, val] of edits) {
        const pos = at % (b.length + 1);
        if (kind === 0) {
          if (b.length > 0) b[pos % b.length] = val;
        } else if (kind === 1) {
          b = concatBytes(b.subarray(0, pos), new Uint8Array(1 + (n % 8)).fill(val), b.subarray(pos));
        } else if (kind === 2) {
          b = concatBytes(b.subarray(0, pos), b.subarray(pos + 1 + (n % 16)));
        } else {
          const other = seeds[n % seeds.length];
          const from = val % (other.length + 1);
          b = concatBytes(b.subarray(0, pos), other.subarray(from, from + 1 + (n % 64)), b.subarray(pos));
        }
      }
      return b;
    });
}

/** Fuzz input for a byte parser: random bytes, and seeds overwritten, cut and edited. */
export function fuzzBytes(seeds: Uint8Array[], maxRandomLength: number): fc.Arbitrary<Uint8Array> {
  const random = fc.uint8Array({ maxLength: maxRandomLength });
  if (seeds.length === 0) return random;
  return fc.oneof(
    { arbitrary: random, weight: 1 },
    { arbitrary: mutatedBytes(seeds, 8), weight: 2 },
    { arbitrary: editedBytes(seeds, 4), weight: 2 },
  );
}
