import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandKey } from '../../src/proto-stack/aes128.js';
import { fromHex, toHex } from '../../src/proto-stack/bytes.js';
import {
  counterAdd,
  counterBlocks,
  GkCrypt,
  GMAC_KEY_REFRESH_KEY_POS,
  genGmacKey,
} from '../../src/proto-stack/gkcrypt.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

/** The reference: node:crypto's AES-128-GCM over AAD = data, no plaintext, first 4 tag bytes. */
function nodeGmac(key: Uint8Array, iv: Uint8Array, data: Uint8Array): string {
  const c = createCipheriv('aes-128-gcm', key, iv);
  c.setAAD(data);
  c.final();
  return toHex(c.getAuthTag().subarray(0, 4));
}

describe('GMAC (WebAssembly GHASH + AES, gkcrypt-wasm.ts) against node:crypto AES-GCM', () => {
  it('equals AES-128-GCM for random keys, IVs, packets and key positions', () => {
    fc.assert(
      fc.property(
        bytes(16),
        bytes(16),
        bytes(16),
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.integer({ min: 0, max: GMAC_KEY_REFRESH_KEY_POS }),
        (gmacCurrent, gmacBase, iv, data, keyPos) => {
          const g = GkCrypt.fromKeys({ index: 3, keyBase: new Uint8Array(16), iv, gmacBase, gmacCurrent });
          const gcmIv = counterAdd(iv, Math.floor(keyPos / 16));
          expect(toHex(g.gmac(data, keyPos))).toBe(nodeGmac(gmacCurrent, gcmIv, data));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('equals AES-128-GCM when iv + key_pos / 16 carries out of the low 64 bits', () => {
    fc.assert(
      fc.property(
        bytes(16),
        bytes(8),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ minLength: 0, maxLength: 1500 }),
        fc.integer({ min: 0, max: GMAC_KEY_REFRESH_KEY_POS }),
        (gmacCurrent, high, low0, data, keyPos) => {
          // the low 64 bits all ones but byte 0: adding keyPos / 16 wraps them
          const iv = new Uint8Array(16).fill(0xff);
          iv[0] = low0;
          iv.set(high, 8);
          const g = GkCrypt.fromKeys({ index: 3, keyBase: new Uint8Array(16), iv, gmacBase: gmacCurrent });
          const gcmIv = counterAdd(iv, Math.floor(keyPos / 16));
          expect(toHex(g.gmac(data, keyPos))).toBe(nodeGmac(gmacCurrent, gcmIv, data));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('follows key refreshes forward and back (older packets, index 0 after a refresh)', () => {
    fc.assert(
      fc.property(
        bytes(16),
        bytes(16),
        bytes(16),
        fc.uint8Array({ minLength: 1, maxLength: 1500 }),
        fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { minLength: 1, maxLength: 12 }),
        (gmacCurrent, gmacBase, iv, data, positions) => {
          const g = GkCrypt.fromKeys({ index: 2, keyBase: new Uint8Array(16), iv, gmacBase, gmacCurrent });
          let highest = 0;
          for (const keyPos of positions) {
            const index = Math.floor((keyPos > 0 ? keyPos - 1 : 0) / GMAC_KEY_REFRESH_KEY_POS);
            highest = Math.max(highest, index);
            // index 0 uses the hand-set current key until a refresh, the base key after one
            const key = index > 0 ? genGmacKey(index, gmacBase, iv) : highest > 0 ? gmacBase : gmacCurrent;
            const want = nodeGmac(key, counterAdd(iv, Math.floor(keyPos / 16)), data);
            expect(toHex(g.gmac(data, keyPos)), `key_pos ${keyPos}`).toBe(want);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('gmacWord with zeroed fields equals gmac of a copy with those fields zeroed, data untouched', () => {
    const g = new GkCrypt(3, new Uint8Array(16).fill(7), new Uint8Array(32).fill(1));
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 200 }),
        fc.integer({ min: -1, max: 210 }),
        fc.integer({ min: -1, max: 210 }),
        fc.integer({ min: 0, max: 2 ** 45 }),
        (data, a, b, keyPos) => {
          const before = toHex(data);
          const copy = data.slice();
          if (a >= 0) copy.fill(0, a, a + 4);
          if (b >= 0) copy.fill(0, b, b + 4);
          const t = g.gmacWord(data, keyPos, a, b);
          expect(t.toString(16).padStart(8, '0')).toBe(toHex(g.gmac(copy, keyPos)));
          expect(toHex(data)).toBe(before);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('handles packets larger than the module memory first holds', () => {
    const g = new GkCrypt(3, new Uint8Array(16).fill(7), new Uint8Array(32).fill(1));
    const big = new Uint8Array(200_000).map((_, i) => i * 13);
    const key = new Uint8Array(16).fill(5);
    const f = GkCrypt.fromKeys({ index: 3, keyBase: g.keyBase, iv: g.iv, gmacBase: key });
    expect(toHex(f.gmac(big, 4096))).toBe(nodeGmac(key, counterAdd(g.iv, 256), big));
    expect(toHex(f.gmac(big.subarray(0, 100), 4096))).toBe(
      nodeGmac(key, counterAdd(g.iv, 256), big.subarray(0, 100)),
    );
  });
});

describe('AES-128 key schedule (the WebAssembly AES blocks are checked through the tags above)', () => {
  it('expands the FIPS-197 appendix A.1 key', () => {
    const rk = new Int32Array(44);
    expandKey(fromHex('2b7e151628aed2a6abf7158809cf4f3c'), rk);
    const hex = (i: number) => (rk[i] >>> 0).toString(16).padStart(8, '0');
    expect([hex(4), hex(5), hex(23), hex(43)]).toEqual(['a0fafe17', '88542cb1', '11f915bc', 'b6630ca6']);
  });
});

describe('counterBlocks', () => {
  it('block i is iv + first + i (little-endian), carries included, aligned or not', () => {
    fc.assert(
      fc.property(
        bytes(16),
        fc.constantFrom(0, 0xff, 0xfe),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 0, max: 3 }),
        (iv, fill, first, blocks, shift) => {
          // low bytes near all-ones make the counter carry into the upper words
          if (fill !== 0) iv.fill(fill, 0, 9);
          const out = counterBlocks(iv, first, blocks, new Uint8Array(blocks * 16 + shift).subarray(shift));
          for (let i = 0; i < blocks; i++)
            expect(toHex(out.subarray(16 * i, 16 * i + 16))).toBe(toHex(counterAdd(iv, first + i)));
        },
      ),
      { numRuns: 300 },
    );
  });
});
