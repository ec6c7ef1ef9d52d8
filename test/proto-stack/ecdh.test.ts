import { createHmac, randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/proto-stack/bytes.js';
import { Ecdh } from '../../src/proto-stack/ecdh.js';
import { AuthError, ParseError } from '../../src/proto-stack/errors.js';
import { loadVectors, vectorCase } from '../helpers/vectors.js';

const gk = loadVectors('gkcrypt');
const pyrp = loadVectors('pyrp_crypt');

describe('Ecdh', () => {
  it('gkcrypt.json ecdh_secp256k1: public key, signature, secret', () => {
    const c = vectorCase(gk, 'ecdh_secp256k1');
    const hk = fromHex(c.inputs.handshake_key);
    const e = Ecdh.fromPrivateKey(fromHex(c.inputs.local_private_key));
    expect(toHex(e.publicKey)).toBe(c.expected.local_public_key);
    expect(toHex(e.sign(hk))).toBe(c.expected.local_public_key_sig);
    const secret = e.sharedSecret(
      fromHex(c.inputs.remote_public_key),
      fromHex(c.inputs.remote_public_key_sig),
      hk,
    );
    expect(toHex(secret)).toBe(c.expected.secret);
  });

  it('pyrp_crypt.json ecdh: same values, remote signature valid', () => {
    const c = vectorCase(pyrp, 'ecdh');
    const hk = fromHex(c.inputs.handshake_key);
    const e = Ecdh.fromPrivateKey(fromHex(c.inputs.private_key));
    expect(toHex(e.publicKey)).toBe(c.expected.public_key);
    expect(toHex(e.sign(hk))).toBe(c.expected.public_sig);
    expect(c.expected.remote_sig_valid).toBe(true);
    expect(toHex(e.sharedSecret(fromHex(c.inputs.remote_key), fromHex(c.inputs.remote_sig), hk))).toBe(
      c.expected.secret,
    );
  });

  it('two fresh key pairs agree; a wrong signature is an AuthError; a bad point a ParseError', () => {
    const hk = new Uint8Array(16).fill(3);
    const a = Ecdh.generate();
    const b = Ecdh.generate();
    expect(a.publicKey).toHaveLength(65);
    const s1 = a.sharedSecret(b.publicKey, b.sign(hk), hk);
    const s2 = b.sharedSecret(a.publicKey, a.sign(hk), hk);
    expect(toHex(s1)).toBe(toHex(s2));
    expect(s1).toHaveLength(32);
    const bad = b.sign(hk);
    bad[0] ^= 1;
    expect(() => a.sharedSecret(b.publicKey, bad, hk)).toThrow(AuthError);
    expect(() => a.sharedSecret(b.publicKey, b.sign(new Uint8Array(16)), hk)).toThrow(AuthError);
    const notOnCurve = b.publicKey.slice();
    notOnCurve[64] ^= 1;
    // the signature covers the key, so a flipped key bit is an AuthError first
    expect(() => a.sharedSecret(notOnCurve, b.sign(hk), hk)).toThrow(AuthError);
    // correctly signed garbage gets past the signature and is rejected by the curve check
    const sigOverBad = new Uint8Array(createHmac('sha256', hk).update(notOnCurve).digest());
    expect(() => a.sharedSecret(notOnCurve, sigOverBad, hk)).toThrow(ParseError);
    const short = b.publicKey.subarray(0, 33);
    const sigOverShort = new Uint8Array(createHmac('sha256', hk).update(short).digest());
    expect(() => a.sharedSecret(short, sigOverShort, hk)).toThrow(ParseError);
  });

  it('agrees with an independent implementation (@noble/curves), shared X coordinates with a leading zero byte included', () => {
    const hk = new Uint8Array(16).fill(9);
    let checked = 0;
    let leadingZero = 0;
    const peer = Ecdh.generate();
    const peerSig = peer.sign(hk);
    // node-only agreements are cheap; ~1 in 256 X coordinates starts with a zero byte (3000
    // tries miss one with a chance of ~1e-5), and those, with the first 50 of all, are also
    // computed by @noble/curves
    for (let i = 0; i < 3000; i++) {
      const priv = randomBytes(32);
      priv[0] &= 0x7f; // below the group order
      const ours = Ecdh.fromPrivateKey(priv);
      const shared = ours.sharedSecret(peer.publicKey, peerSig, hk);
      expect(shared).toHaveLength(32);
      if (shared[0] !== 0 && i >= 50) continue;
      if (shared[0] === 0) leadingZero++;
      checked++;
      expect(toHex(peer.sharedSecret(ours.publicKey, ours.sign(hk), hk))).toBe(toHex(shared));
      expect(toHex(ours.publicKey)).toBe(toHex(secp256k1.getPublicKey(priv, false)));
      expect(toHex(shared)).toBe(toHex(secp256k1.getSharedSecret(priv, peer.publicKey, true).slice(1)));
    }
    expect(leadingZero).toBeGreaterThan(0);
    expect(checked).toBeGreaterThan(50);
  });

  it('refuses private keys that are not secp256k1 scalars', () => {
    const n = fromHex('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
    for (const k of [new Uint8Array(32), n, new Uint8Array(31).fill(1), new Uint8Array(33).fill(1)])
      expect(() => Ecdh.fromPrivateKey(k)).toThrow(/valid secp256k1 scalar/);
  });

  it('fuzz: arbitrary peer keys and signatures give only AuthError / ParseError', () => {
    const me = Ecdh.generate();
    const hk = new Uint8Array(16).fill(9);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), fc.boolean(), (key, signIt) => {
        if (signIt && key.length) key[0] = 4;
        const sig = signIt
          ? new Uint8Array(createHmac('sha256', hk).update(key).digest())
          : key.subarray(0, 32);
        try {
          expect(me.sharedSecret(key, sig, hk)).toHaveLength(32);
        } catch (e) {
          expect(e instanceof AuthError || e instanceof ParseError).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
