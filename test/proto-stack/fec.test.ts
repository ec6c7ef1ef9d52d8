import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual, fromHex, toHex } from '../../src/proto-stack/bytes.js';
import { ParseError } from '../../src/proto-stack/errors.js';
import { cauchyMatrix, FecError, fecDecode, fecEncode, gfInv, gfMul } from '../../src/proto-stack/fec.js';
import { loadVectors } from '../helpers/vectors.js';

interface FecCase {
  id: number;
  k: number;
  m: number;
  unit_size: number;
  erasures: number[];
  units: string[];
}

/** Units of a vector case, each zero-padded to unit_size (short source units are stored short). */
function caseUnits(c: FecCase): Uint8Array[] {
  return c.units.map((h) => {
    const u = new Uint8Array(c.unit_size);
    u.set(fromHex(h).subarray(0, c.unit_size));
    return u;
  });
}

function decodeWith(c: FecCase, erasures: number[]): Uint8Array[] {
  const units: (Uint8Array | undefined)[] = caseUnits(c);
  for (const e of erasures) units[e] = undefined;
  return fecDecode(units, c.k, c.m);
}

describe('GF(2^8) / 0x11d', () => {
  it('multiplies and inverts consistently', () => {
    expect(gfMul(2, 0x80)).toBe(0x1d); // x * x^7 = x^8 = poly remainder
    for (let a = 1; a < 256; a++) expect(gfMul(a, gfInv(a))).toBe(1);
  });
  it('builds the Cauchy matrix 1 / (i ^ (m + j))', () => {
    const mat = cauchyMatrix(2, 1);
    expect([...mat]).toEqual([gfInv(1), gfInv(2)]);
    expect(mat[0]).toBe(1);
  });
});

describe('fec.json (real PS4 frames)', () => {
  const v = loadVectors('fec');
  const cases = v.cases as FecCase[];
  it('has 64 cases', () => expect(cases.length).toBe(64));
  for (const c of cases) {
    it(`case ${c.id}: k=${c.k} m=${c.m} erasures ${c.erasures.join(',')}`, () => {
      const orig = caseUnits(c);
      const out = decodeWith(c, c.erasures);
      expect(out.length).toBe(c.k);
      for (let j = 0; j < c.k; j++) expect(toHex(out[j])).toBe(toHex(orig[j]));
      // Encoding the sources reproduces every FEC unit that the capture did not lose.
      const fec = fecEncode(orig.slice(0, c.k), c.m);
      for (let i = 0; i < c.m; i++) {
        if (c.erasures.includes(c.k + i)) continue;
        expect(bytesEqual(fec[i], orig[c.k + i])).toBe(true);
      }
    });
  }
});

describe('pyrp_fec.json', () => {
  const v = loadVectors('pyrp_fec');
  const cases = v.cases as FecCase[];
  it('decodes the listed erasures', () => {
    for (const c of cases) {
      const orig = caseUnits(c);
      const out = decodeWith(c, c.erasures);
      for (let j = 0; j < c.k; j++) expect(bytesEqual(out[j], orig[j])).toBe(true);
    }
  });
  it('case 0: every single source erasure', () => {
    const c = cases[0];
    const orig = caseUnits(c);
    for (let e = 0; e < c.k; e++) {
      const out = decodeWith(c, [e]);
      expect(bytesEqual(out[e], orig[e])).toBe(true);
    }
  });
  it('case 1: every ordered pair of distinct source erasures', () => {
    const c = cases[1];
    const orig = caseUnits(c);
    let checked = 0;
    for (let a = 0; a < c.k; a++)
      for (let b = 0; b < c.k; b++) {
        if (a === b) continue;
        const out = decodeWith(c, [a, b]);
        expect(bytesEqual(out[a], orig[a]) && bytesEqual(out[b], orig[b])).toBe(true);
        checked++;
      }
    expect(checked).toBe(c.k * (c.k - 1));
  });
});

describe('round trip', () => {
  it('recovers any k of k + m units', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 64 }),
        fc.infiniteStream(fc.boolean()),
        fc.integer(),
        (k, m, size, drops, seed) => {
          let s = seed >>> 0;
          const src = Array.from({ length: k }, () =>
            Uint8Array.from({ length: size }, () => {
              s = (Math.imul(s, 1103515245) + 12345) >>> 0;
              return s >>> 24;
            }),
          );
          const all: (Uint8Array | undefined)[] = [...src, ...fecEncode(src, m)];
          let lost = 0;
          const it = drops[Symbol.iterator]();
          for (let i = 0; i < k + m && lost < m; i++) {
            if (it.next().value) {
              all[i] = undefined;
              lost++;
            }
          }
          const out = fecDecode(all, k, m);
          for (let j = 0; j < k; j++) expect(bytesEqual(out[j], src[j])).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
  it('throws a typed FecError when fewer than k units survive', () => {
    const src = [new Uint8Array(8).fill(1), new Uint8Array(8).fill(2), new Uint8Array(8).fill(3)];
    const all: (Uint8Array | undefined)[] = [...src, ...fecEncode(src, 1)];
    all[0] = undefined;
    all[2] = undefined;
    expect(() => fecDecode(all, 3, 1)).toThrow(FecError);
    expect(() => fecDecode(all, 3, 1)).toThrow(ParseError);
    expect(() => fecDecode([src[0]], 3, 1)).toThrow(FecError);
    expect(() => fecDecode([undefined, src[1], new Uint8Array(4)], 2, 1)).toThrow(/bytes/);
    expect(() => fecEncode(src, 254)).toThrow(FecError);
  });
});
