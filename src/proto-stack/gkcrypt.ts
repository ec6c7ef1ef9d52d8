/**
 * gkcrypt: the stream cipher and packet MAC of a Takion session (PROTOCOL §6).
 *
 * One instance per direction: index 2 = client->console ("local"), 3 = console->client
 * ("remote"). key_base || iv = HMAC-SHA256(secret, 01 index 00 handshake_key 01 00). The key
 * stream is AES-128-ECB(key_base, iv + block) where "+" is a little-endian 128-bit add, so
 * stock AES-CTR (big-endian counter) does not fit: we build the counter blocks by hand.
 *
 * Backend choice, measured with `npm run bench` (bench/gkcrypt.ts; Node 20.20, shared 2-core box
 * under load ~2.5, three runs, 2026-11-21):
 *   key stream, 64 KiB chunks:   node:crypto 470-845 MB/s   @noble/ciphers 36-44 MB/s  (13-19x)
 *   key stream, 1400 B chunks:   node:crypto 211-237 MB/s   @noble/ciphers 26-34 MB/s  (6-8x)
 *   4-byte GMAC over 1400 B:     node:crypto 102-113k tags/s @noble/ciphers 8-9k tags/s (12x)
 * A fourth run under heavier load gave 182 / 91 MB/s and 45k tags/s for node:crypto against
 * 13 / 8 MB/s and 2k tags/s for noble (load ~11): absolute figures swing with the load, the ratio
 * stays above 6x. node:crypto wins both paths by about an order of magnitude, so it is used
 * for both (noble also refuses to reuse a cipher object, so every call pays its key schedule).
 */
import { type Cipher, createCipheriv, createHash, createHmac } from 'node:crypto';
import { UsageError } from '../errors.js';

export const GKCRYPT_BLOCK = 16;
export const GMAC_SIZE = 4;
/** A new GMAC key is derived every this many key positions ... */
export const GMAC_KEY_REFRESH_KEY_POS = 45000;
/** ... from the gmac base and iv + index * this. */
export const GMAC_KEY_REFRESH_IV_OFFSET = 44910;

const TWO32 = 0x1_0000_0000;

/** out = base + n as little-endian 128-bit integers (mod 2^128); n is a non-negative safe integer. */
export function counterAdd(base: Uint8Array, n: number, out: Uint8Array = new Uint8Array(16)): Uint8Array {
  const lo = n % TWO32;
  const hi = Math.floor(n / TWO32);
  let carry = 0;
  for (let i = 0; i < 16; i++) {
    const add = i < 4 ? (lo >>> (8 * i)) & 0xff : i < 8 ? (hi >>> (8 * (i - 4))) & 0xff : 0;
    const r = base[i] + add + carry;
    out[i] = r & 0xff;
    carry = r >>> 8;
  }
  return out;
}

/** The counter blocks iv + first, iv + first + 1, ... (LE adds) that the key stream encrypts. */
export function counterBlocks(iv: Uint8Array, first: number, blocks: number): Uint8Array {
  const ctr = new Uint8Array(blocks * GKCRYPT_BLOCK);
  const dv = new DataView(ctr.buffer);
  const sv = new DataView(counterAdd(iv, first).buffer);
  let w0 = sv.getUint32(0, true);
  let w1 = sv.getUint32(4, true);
  let w2 = sv.getUint32(8, true);
  let w3 = sv.getUint32(12, true);
  for (let o = 0; o < ctr.length; o += GKCRYPT_BLOCK) {
    dv.setUint32(o, w0, true);
    dv.setUint32(o + 4, w1, true);
    dv.setUint32(o + 8, w2, true);
    dv.setUint32(o + 12, w3, true);
    w0 = (w0 + 1) >>> 0;
    if (w0 === 0) {
      w1 = (w1 + 1) >>> 0;
      if (w1 === 0) {
        w2 = (w2 + 1) >>> 0;
        if (w2 === 0) w3 = (w3 + 1) >>> 0;
      }
    }
  }
  return ctr;
}

function fold(h: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = h[i] ^ h[i + 16];
  return out;
}

/** GMAC key for refresh index n > 0: fold(SHA-256(gmacBase || (iv + n * 44910))). */
export function genGmacKey(n: number, gmacBase: Uint8Array, iv: Uint8Array): Uint8Array {
  const h = createHash('sha256')
    .update(gmacBase)
    .update(counterAdd(iv, n * GMAC_KEY_REFRESH_IV_OFFSET))
    .digest();
  return fold(h);
}

function checkPos(keyPos: number, what: string): void {
  if (!Number.isSafeInteger(keyPos) || keyPos < 0)
    throw new UsageError(`gkcrypt: ${what} must be a non-negative integer, got ${keyPos}`);
}

export class GkCrypt {
  readonly index: number;
  readonly keyBase: Uint8Array;
  readonly iv: Uint8Array;
  private readonly gmacBase: Uint8Array;
  private gmacCurrent: Uint8Array;
  private gmacIndex = 0;
  private readonly ecb: Cipher;

  constructor(index: number, handshakeKey: Uint8Array, secret: Uint8Array) {
    if (handshakeKey.length !== 16) throw new UsageError('gkcrypt: handshake key must be 16 bytes');
    if (secret.length !== 32) throw new UsageError('gkcrypt: ECDH secret must be 32 bytes');
    const msg = new Uint8Array(21);
    msg[0] = 1;
    msg[1] = index;
    msg[2] = 0;
    msg.set(handshakeKey, 3);
    msg[19] = 1;
    msg[20] = 0;
    const h = createHmac('sha256', secret).update(msg).digest();
    this.index = index;
    this.keyBase = new Uint8Array(h.subarray(0, 16));
    this.iv = new Uint8Array(h.subarray(16, 32));
    this.gmacBase = fold(createHash('sha256').update(this.keyBase).update(this.iv).digest());
    this.gmacCurrent = this.gmacBase;
    this.ecb = createCipheriv('aes-128-ecb', this.keyBase, null).setAutoPadding(false);
  }

  /**
   * An instance with hand-set key material, as the reference's own tests build one: `gmacCurrent`
   * is the key in use for refresh index 0, `gmacBase` the seed for refreshed keys.
   */
  static fromKeys(k: {
    index: number;
    keyBase: Uint8Array;
    iv: Uint8Array;
    gmacBase: Uint8Array;
    gmacCurrent?: Uint8Array;
  }): GkCrypt {
    const c = Object.create(GkCrypt.prototype) as GkCrypt;
    const w = c as unknown as {
      index: number;
      keyBase: Uint8Array;
      iv: Uint8Array;
      gmacBase: Uint8Array;
      gmacCurrent: Uint8Array;
      gmacIndex: number;
      ecb: Cipher;
    };
    w.index = k.index;
    w.keyBase = k.keyBase.slice();
    w.iv = k.iv.slice();
    w.gmacBase = k.gmacBase.slice();
    w.gmacCurrent = (k.gmacCurrent ?? k.gmacBase).slice();
    w.gmacIndex = 0;
    w.ecb = createCipheriv('aes-128-ecb', w.keyBase, null).setAutoPadding(false);
    return c;
  }

  /** Raw key stream bytes covering positions keyPos .. keyPos + length - 1. */
  keyStream(keyPos: number, length: number): Uint8Array {
    checkPos(keyPos, 'key_pos');
    if (length <= 0) return new Uint8Array(0);
    const skip = keyPos % GKCRYPT_BLOCK;
    const blocks = Math.ceil((skip + length) / GKCRYPT_BLOCK);
    const ctr = counterBlocks(this.iv, Math.floor(keyPos / GKCRYPT_BLOCK), blocks);
    const ks = this.ecb.update(ctr);
    return new Uint8Array(ks.buffer, ks.byteOffset + skip, length);
  }

  /** Encrypts = decrypts: XOR with the key stream starting at keyPos (AV/feedback callers pass key_pos + 16). */
  crypt(data: Uint8Array, keyPos: number): Uint8Array {
    const ks = this.keyStream(keyPos, data.length);
    const out = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = data[i] ^ ks[i];
    return out;
  }

  /** 4-byte tag: AES-128-GCM(gmac key for keyPos, IV = iv + keyPos/16, AAD = data, no plaintext). */
  gmac(data: Uint8Array, keyPos: number): Uint8Array {
    checkPos(keyPos, 'key_pos');
    const gcmIv = counterAdd(this.iv, Math.floor(keyPos / GKCRYPT_BLOCK));
    const keyIndex = Math.floor((keyPos > 0 ? keyPos - 1 : 0) / GMAC_KEY_REFRESH_KEY_POS);
    let key = this.gmacCurrent;
    if (keyIndex > this.gmacIndex) {
      // moving forward: make the newer key the cached one
      this.gmacCurrent = genGmacKey(keyIndex, this.gmacBase, this.iv);
      this.gmacIndex = keyIndex;
      key = this.gmacCurrent;
    } else if (keyIndex < this.gmacIndex) {
      // an older (reordered or resent) packet: derive its key without moving the cache back
      key = keyIndex === 0 ? this.gmacBase : genGmacKey(keyIndex, this.gmacBase, this.iv);
    }
    const c = createCipheriv('aes-128-gcm', key, gcmIv);
    c.setAAD(data);
    c.final();
    return new Uint8Array(c.getAuthTag().subarray(0, GMAC_SIZE));
  }
}
