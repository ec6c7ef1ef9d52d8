import { describe, expect, it } from 'vitest';
import { seq16Add, seq16Gt, seq16Lt, seq32Add, seq32Gt, seq32Lt } from '../../src/proto-stack/seqnum.js';
import { loadVectors } from '../helpers/vectors.js';

const v = loadVectors('seqnum');

describe('seqnum (seqnum.json)', () => {
  for (const c of v.cases) {
    it(`${c.bits}-bit ${c.op}(${c.a}, ${c.b}) = ${c.expected}`, () => {
      const fn = c.bits === 16 ? (c.op === 'gt' ? seq16Gt : seq16Lt) : c.op === 'gt' ? seq32Gt : seq32Lt;
      expect(fn(c.a, c.b)).toBe(c.expected);
    });
  }

  it('loop properties over every 16-bit value', () => {
    expect(v.loop_properties_16bit).toHaveLength(8);
    let checks = 0;
    for (let a = 0; a <= 0xffff; a++) {
      const a1 = seq16Add(a, 1);
      const afff = seq16Add(a, 0xfff);
      if (!seq16Gt(a1, a) || seq16Gt(a, a1) || !seq16Lt(a, a1) || seq16Lt(a1, a))
        throw new Error(`+1 at ${a}`);
      if (!seq16Gt(afff, a) || seq16Gt(a, afff) || !seq16Lt(a, afff) || seq16Lt(afff, a))
        throw new Error(`+0xfff at ${a}`);
      checks += 8;
    }
    expect(checks).toBe(8 * 65536);
  });

  it('32-bit wraps and equal values', () => {
    expect(seq32Gt(seq32Add(0xffffffff, 1), 0xffffffff)).toBe(true);
    expect(seq32Add(0xffffffff, 2)).toBe(1);
    expect(seq32Gt(5, 5)).toBe(false);
    expect(seq32Lt(5, 5)).toBe(false);
    // exactly half apart: neither
    expect(seq32Gt(0x80000000, 0)).toBe(false);
    expect(seq32Lt(0x80000000, 0)).toBe(false);
  });
});
