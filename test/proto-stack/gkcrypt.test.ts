import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual, fromHex, toHex } from '../../src/proto-stack/bytes.js';
import { counterAdd, GkCrypt, genGmacKey } from '../../src/proto-stack/gkcrypt.js';
import { KeyState } from '../../src/proto-stack/keystate.js';
import { loadVectors } from '../helpers/vectors.js';

const gk = loadVectors('gkcrypt');
const pyrp = loadVectors('pyrp_crypt');
const takion = loadVectors('takion');
const byName = (v: { cases: { name: string }[] }, name: string) => {
  const c = v.cases.find((x) => x.name === name);
  if (!c) throw new Error(`vector case ${name} missing`);
  // biome-ignore lint/suspicious/noExplicitAny: free-form vector JSON
  return c as any;
};

describe('gkcrypt (gkcrypt.json)', () => {
  it('key_stream: key_base, iv and raw key stream (low and above 2^32)', () => {
    const c = byName(gk, 'key_stream');
    const g = new GkCrypt(c.inputs.index, fromHex(c.inputs.handshake_key), fromHex(c.inputs.ecdh_secret));
    expect(toHex(g.keyBase)).toBe(c.expected.key_base);
    expect(toHex(g.iv)).toBe(c.expected.iv);
    expect(g.index).toBe(c.inputs.index);
    for (const ks of c.expected.key_streams)
      expect(toHex(g.keyStream(ks.key_pos, ks.length))).toBe(ks.key_stream);
  });

  it('en_decrypt at unaligned and high key_pos', () => {
    const c = byName(gk, 'en_decrypt');
    const g = new GkCrypt(c.inputs.index, fromHex(c.inputs.handshake_key), fromHex(c.inputs.ecdh_secret));
    expect(toHex(g.keyBase)).toBe(c.expected.key_base);
    expect(toHex(g.iv)).toBe(c.expected.iv);
    const pt = fromHex(c.inputs.plaintext);
    for (const ct of c.expected.ciphertexts) {
      expect(toHex(g.crypt(pt, ct.key_pos))).toBe(ct.ciphertext);
      expect(toHex(g.crypt(fromHex(ct.ciphertext), ct.key_pos))).toBe(c.inputs.plaintext);
    }
  });

  for (const name of ['gmac', 'gmac_split']) {
    it(`${name}: tags with hand-set GMAC state (refresh from an all-zero base)`, () => {
      const c = byName(gk, name);
      const buf = fromHex(c.inputs.buf);
      expect(buf.length).toBe(c.inputs.buf_length);
      for (const t of c.expected.tags) {
        // fresh state per tag, as the reference test re-initialises it
        const g = GkCrypt.fromKeys({
          index: 0,
          keyBase: new Uint8Array(16),
          iv: fromHex(c.inputs.iv),
          gmacBase: fromHex(c.inputs.key_gmac_base),
          gmacCurrent: fromHex(c.inputs.gmac_key_current),
        });
        expect(toHex(g.gmac(buf, t.key_pos))).toBe(t.gmac);
      }
    });
  }

  it('gen_gmac_key for index 1', () => {
    const c = byName(gk, 'gen_gmac_key');
    expect(toHex(genGmacKey(c.inputs.index, fromHex(c.inputs.base_key), fromHex(c.inputs.iv)))).toBe(
      c.expected.key,
    );
  });

  it('gmac_multiple_of_key_refresh: key_pos exactly 156 * 45000', () => {
    const c = byName(gk, 'gmac_multiple_of_key_refresh');
    const g = new GkCrypt(c.inputs.index, fromHex(c.inputs.handshake_key), fromHex(c.inputs.ecdh_secret));
    const buf = fromHex(c.inputs.buf);
    expect(buf.length).toBe(c.inputs.buf_length);
    expect(toHex(g.gmac(buf, c.inputs.key_pos))).toBe(c.expected.gmac);
    // an older position afterwards still derives its own key (cache does not go backwards wrongly)
    const older = g.gmac(buf, 1000);
    const fresh = new GkCrypt(c.inputs.index, fromHex(c.inputs.handshake_key), fromHex(c.inputs.ecdh_secret));
    expect(toHex(older)).toBe(toHex(fresh.gmac(buf, 1000)));
    expect(toHex(g.gmac(buf, c.inputs.key_pos))).toBe(c.expected.gmac);
  });
});

/** The C reference's key_pos field of a pyrp_crypt case (the one that is not pyremoteplay's). */
const referenceKeyPos = (inputs: Record<string, unknown>) =>
  Object.entries(inputs).find(([k]) => k.endsWith('_key_pos') && !k.startsWith('pyremoteplay'))?.[1];

describe('gkcrypt (pyrp_crypt.json)', () => {
  it('get_gmac_key', () => {
    const c = byName(pyrp, 'get_gmac_key');
    expect(toHex(genGmacKey(c.inputs.index, fromHex(c.inputs.base_key), fromHex(c.inputs.base_iv)))).toBe(
      c.expected.key,
    );
  });

  it('gmac_local_remote: control packet tags of index 2 and 3', () => {
    const c = byName(pyrp, 'gmac_local_remote');
    const hk = fromHex(c.inputs.handshake_key);
    const secret = fromHex(c.inputs.secret);
    expect(c.expected.tags).toHaveLength(6);
    for (const t of c.expected.tags) {
      const g = new GkCrypt(t.cipher_index, hk, secret);
      expect(toHex(g.gmac(fromHex(t.data), t.key_pos)), `index ${t.cipher_index} key_pos ${t.key_pos}`).toBe(
        t.gmac,
      );
    }
  });

  it('encrypt_decrypt_index42 (their key_pos P = our P + 16)', () => {
    const c = byName(pyrp, 'encrypt_decrypt_index42');
    const g = new GkCrypt(c.inputs.index, fromHex(c.inputs.handshake_key), fromHex(c.inputs.secret));
    expect(toHex(g.keyBase)).toBe(c.expected.key_base);
    expect(toHex(g.iv)).toBe(c.expected.iv);
    const ourKeyPos = c.inputs.pyremoteplay_key_pos + 16;
    expect(referenceKeyPos(c.inputs)).toBe(ourKeyPos);
    expect(toHex(g.crypt(fromHex(c.inputs.plaintext), ourKeyPos))).toBe(c.expected.ciphertext);
  });

  it('encrypt_feedback_state_local', () => {
    const c = byName(pyrp, 'encrypt_feedback_state_local');
    const g = new GkCrypt(c.inputs.index, fromHex(c.inputs.handshake_key), fromHex(c.inputs.secret));
    expect(referenceKeyPos(c.inputs)).toBe(c.inputs.pyremoteplay_key_pos + 16);
    expect(toHex(g.crypt(fromHex(c.inputs.plaintext), c.inputs.pyremoteplay_key_pos + 16))).toBe(
      c.expected.ciphertext,
    );
  });
});

describe('gkcrypt (takion.json real_video_v9 decryption)', () => {
  it('decrypts all 24 real packets at key_pos + 16 (index 3)', () => {
    const c = byName(takion, 'real_video_v9');
    const g = new GkCrypt(c.inputs.index, fromHex(c.inputs.handshake_key), fromHex(c.inputs.ecdh_secret));
    const ks = new KeyState();
    expect(c.expected.packets).toHaveLength(24);
    for (const p of c.expected.packets) {
      const pkt = fromHex(p.packet);
      const low = new DataView(pkt.buffer).getUint32(14);
      const keyPos = ks.requestPos(low, true);
      expect(keyPos).toBe(p.derived.key_pos);
      const off = p.derived.data_offset;
      const data = pkt.subarray(off, off + p.data_size);
      expect(toHex(g.crypt(data, keyPos + 16)), `packet ${p.index}`).toBe(p.decrypted_data);
    }
  });
});

describe('gkcrypt properties', () => {
  it('counterAdd is a little-endian add with carry through all 16 bytes', () => {
    const base = new Uint8Array(16).fill(0xff);
    expect(toHex(counterAdd(base, 1))).toBe('00'.repeat(16));
    const b2 = new Uint8Array(16);
    b2[0] = 0xff;
    expect(toHex(counterAdd(b2, 0x1_0000_0001))).toBe(`000100000100${'00'.repeat(10)}`);
  });

  it('key stream at p is the tail of the key stream at any earlier p', () => {
    const g = new GkCrypt(2, new Uint8Array(16).fill(7), new Uint8Array(32).fill(9));
    fc.assert(
      fc.property(
        fc.nat({ max: 1 << 20 }),
        fc.nat({ max: 100 }),
        fc.integer({ min: 1, max: 300 }),
        (p, d, n) => {
          const whole = g.keyStream(p, d + n);
          expect(toHex(g.keyStream(p + d, n))).toBe(toHex(whole.subarray(d)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects negative or fractional key positions with a typed error', () => {
    const g = new GkCrypt(2, new Uint8Array(16), new Uint8Array(32));
    expect(() => g.keyStream(-1, 4)).toThrow(/key_pos/);
    expect(() => g.gmac(new Uint8Array(4), 1.5)).toThrow(/key_pos/);
  });
});

describe('GkCrypt.decrypt (receive path: key stream window, decryption on the tagged copy)', () => {
  it('equals crypt() for growing, repeated and reordered positions of any alignment and size', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            // mostly the next packet's position, as a stream goes; sometimes a jump back or ahead
            step: fc.oneof(
              { arbitrary: fc.constant(undefined), weight: 4 },
              { arbitrary: fc.integer({ min: -3000, max: 70_000 }), weight: 1 },
            ),
            len: fc.noBias(fc.integer({ min: 0, max: 1500 })),
            big: fc.boolean(),
            tagged: fc.boolean(),
          }),
          { minLength: 80, maxLength: 150 },
        ),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (ops, start) => {
          const crypt = new GkCrypt(3, new Uint8Array(16).fill(9), new Uint8Array(32).fill(4));
          let pos = start;
          let last = 0;
          const earlier: { got: Uint8Array; want: Uint8Array }[] = [];
          for (const { step, len: small, big, tagged } of ops) {
            pos = Math.max(0, pos + (step ?? last));
            // now and then one larger than the window (65536 bytes)
            const len = big && small > 1400 ? 70_000 : small;
            const packet = new Uint8Array(len + 21).map((_, i) => i * 31 + len);
            const data = packet.subarray(21);
            const before = data.slice();
            // as a receiver does: the packet's tag checked first, its payload then decrypted from
            // the copy made for the tag; or a payload of its own
            if (tagged) crypt.gmacWord(packet, Math.max(0, pos - 16), 10);
            const got = tagged ? crypt.decrypt(packet, pos, 21) : crypt.decrypt(data, pos);
            const want = crypt.crypt(data, pos);
            expect(bytesEqual(got, want)).toBe(true);
            expect(bytesEqual(data, before)).toBe(true);
            earlier.push({ got, want });
            last = len;
          }
          // outputs are views of arenas: later packets must not disturb them
          for (const e of earlier) expect(bytesEqual(e.got, e.want)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('decrypts a part of the packet tagged last, of an earlier one, twice, or across a zeroed tag field', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 20, maxLength: 1500 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 19 }),
        fc.integer({ min: -1, max: 19 }),
        fc.constantFrom('last', 'earlier', 'twice'),
        (packet, keyPos, from, zero2, how) => {
          const crypt = new GkCrypt(3, new Uint8Array(16).fill(2), new Uint8Array(32).fill(6));
          const before = packet.slice();
          crypt.gmacWord(packet, keyPos, 10, zero2);
          // another packet in the same buffer tagged after it
          if (how === 'earlier') crypt.gmacWord(packet.subarray(1), keyPos + 1, 10);
          const want = crypt.crypt(packet.subarray(from), keyPos + 16 + from);
          expect(bytesEqual(crypt.decrypt(packet, keyPos + 16 + from, from), want)).toBe(true);
          if (how === 'twice')
            expect(bytesEqual(crypt.decrypt(packet, keyPos + 16 + from, from), want)).toBe(true);
          expect(bytesEqual(packet, before)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
