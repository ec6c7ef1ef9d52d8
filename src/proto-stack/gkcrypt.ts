/**
 * gkcrypt: the stream cipher and packet MAC of a Takion session (docs/protocol.md §6).
 *
 * One instance per direction: index 2 = client->console ("local"), 3 = console->client
 * ("remote"). key_base || iv = HMAC-SHA256(secret, 01 index 00 handshake_key 01 00). The key
 * stream is AES-128-ECB(key_base, iv + block) where "+" is a little-endian 128-bit add, so
 * stock AES-CTR (big-endian counter) does not fit: we build the counter blocks by hand.
 *
 * Why two backends: the key stream is bulk AES-ECB, where node:crypto is an order of magnitude
 * faster than @noble/ciphers. The per-packet GMAC is not: node:crypto needs a new AES-GCM cipher
 * object per packet, and that per-call cost dominated the receive path. So a tag is computed as
 * E(K, J0) xor GHASH(H, AAD) with everything per key cached, in one call into a small WebAssembly
 * module (gkcrypt-wasm.ts, which says how its tables were chosen); decrypt() xors a received
 * payload there too, on the copy made for its tag, from a window of key stream that one ECB call
 * fills. Figures: `npm run bench -- gkcrypt` (README "Performance" says what each bench measures).
 */
import { type Cipher, createCipheriv, createHash, createHmac, hash } from 'node:crypto';
import { UsageError } from './errors.js';
import { GkCryptWasm, GMAC_SLOTS, KEY_STREAM_WINDOW } from './gkcrypt-wasm.js';

export const GKCRYPT_BLOCK = 16;
export const GMAC_SIZE = 4;
/** A new GMAC key is derived every this many key positions ... */
export const GMAC_KEY_REFRESH_KEY_POS = 45000;
/** ... from the gmac base and iv + index * this. */
export const GMAC_KEY_REFRESH_IV_OFFSET = 44910;

const TWO32 = 0x1_0000_0000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

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

/**
 * The counter blocks iv + first, iv + first + 1, ... (LE adds) that the key stream encrypts,
 * written to `out` (a new array when absent; at least blocks * 16 bytes).
 */
export function counterBlocks(
  iv: Uint8Array,
  first: number,
  blocks: number,
  out: Uint8Array = new Uint8Array(blocks * GKCRYPT_BLOCK),
): Uint8Array {
  counterAdd(iv, first, out);
  const end = blocks * GKCRYPT_BLOCK;
  if (LITTLE_ENDIAN && out.byteOffset % 4 === 0) {
    // native words are the little-endian words here: 4 word stores per block (byte stores
    // measured ~8x slower)
    const u = new Int32Array(out.buffer, out.byteOffset, end >>> 2);
    let w0 = u[0];
    let w1 = u[1];
    let w2 = u[2];
    let w3 = u[3];
    for (let q = 4; q < end >>> 2; q += 4) {
      w0 = (w0 + 1) | 0;
      if (w0 === 0) {
        w1 = (w1 + 1) | 0;
        if (w1 === 0) {
          w2 = (w2 + 1) | 0;
          if (w2 === 0) w3 = (w3 + 1) | 0;
        }
      }
      u[q] = w0;
      u[q + 1] = w1;
      u[q + 2] = w2;
      u[q + 3] = w3;
    }
    return out;
  }
  for (let o = GKCRYPT_BLOCK; o < end; o += GKCRYPT_BLOCK) {
    let carry = 1;
    for (let i = 0; i < 16; i++) {
      const r = out[o - GKCRYPT_BLOCK + i] + carry;
      out[o + i] = r;
      carry = r >>> 8;
    }
  }
  return out;
}

function fold(h: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = h[i] ^ h[i + 16];
  return out;
}

/** GMAC key for refresh index n > 0: fold(SHA-256(gmacBase || (iv + n * 44910))). */
export function genGmacKey(n: number, gmacBase: Uint8Array, iv: Uint8Array): Uint8Array {
  // one-shot hash(): a received stream refreshes every ~32 packets, and the createHash() chain
  // cost 2.5x as much (~12 against ~5 us)
  const msg = new Uint8Array(gmacBase.length + 16);
  msg.set(gmacBase);
  counterAdd(iv, n * GMAC_KEY_REFRESH_IV_OFFSET, msg.subarray(gmacBase.length));
  return fold(hash('sha256', msg, 'buffer'));
}

function checkPos(keyPos: number, what: string): void {
  if (!Number.isSafeInteger(keyPos) || keyPos < 0)
    throw new UsageError(`gkcrypt: ${what} must be a non-negative integer, got ${keyPos}`);
}

interface GkKeys {
  index: number;
  keyBase: Uint8Array;
  iv: Uint8Array;
  gmacBase: Uint8Array;
  gmacCurrent: Uint8Array;
}

export class GkCrypt {
  // every field is set in init() (fromKeys() makes an instance without the constructor)
  readonly index!: number;
  readonly keyBase!: Uint8Array;
  readonly iv!: Uint8Array;
  private gmacBase!: Uint8Array;
  private gmacCurrent!: Uint8Array;
  private gmacIndex!: number;
  private ecb!: Cipher;
  private wasm!: GkCryptWasm | undefined;
  /** Which key each GkCryptWasm slot holds (see gmacKey). */
  private slotLabels!: (number | undefined)[];
  private lastSlot!: number;
  /** Counter blocks for keyStream(), reused (the cipher's output is a fresh buffer). */
  private ctr!: Uint8Array;
  /** decrypt()'s key stream window: its first position and length (in GkCryptWasm). */
  private windowBase!: number;
  private windowLength!: number;

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
    const keyBase = new Uint8Array(h.subarray(0, 16));
    const iv = new Uint8Array(h.subarray(16, 32));
    const gmacBase = fold(createHash('sha256').update(keyBase).update(iv).digest());
    this.init({ index, keyBase, iv, gmacBase, gmacCurrent: gmacBase });
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
    c.init({
      index: k.index,
      keyBase: k.keyBase.slice(),
      iv: k.iv.slice(),
      gmacBase: k.gmacBase.slice(),
      gmacCurrent: (k.gmacCurrent ?? k.gmacBase).slice(),
    });
    return c;
  }

  private init(k: GkKeys): void {
    const w = this as { -readonly [K in 'index' | 'keyBase' | 'iv']: GkCrypt[K] };
    w.index = k.index;
    w.keyBase = k.keyBase;
    w.iv = k.iv;
    this.gmacBase = k.gmacBase;
    this.gmacCurrent = k.gmacCurrent;
    this.gmacIndex = 0;
    this.ecb = createCipheriv('aes-128-ecb', k.keyBase, null).setAutoPadding(false);
    this.wasm = undefined;
    this.slotLabels = [];
    this.lastSlot = 0;
    this.ctr = new Uint8Array(0);
    this.windowBase = 0;
    this.windowLength = 0;
  }

  /** Created on the first tag or decrypt(): an instance that only encrypts needs neither. */
  private get engine(): GkCryptWasm {
    this.wasm ??= new GkCryptWasm(this.iv);
    return this.wasm;
  }

  /**
   * Builds what checking and decrypting received packets needs (a WebAssembly module, ~10-30 ms
   * the first time in a process) now rather than on the first packet.
   */
  prepareReceive(): void {
    this.wasm ??= new GkCryptWasm(this.iv);
  }

  /** Raw key stream bytes covering positions keyPos .. keyPos + length - 1. */
  keyStream(keyPos: number, length: number): Uint8Array {
    checkPos(keyPos, 'key_pos');
    if (length <= 0) return new Uint8Array(0);
    const skip = keyPos % GKCRYPT_BLOCK;
    const blocks = Math.ceil((skip + length) / GKCRYPT_BLOCK);
    if (this.ctr.length < blocks * GKCRYPT_BLOCK) this.ctr = new Uint8Array(blocks * GKCRYPT_BLOCK);
    const ctr = counterBlocks(this.iv, Math.floor(keyPos / GKCRYPT_BLOCK), blocks, this.ctr);
    const ks = this.ecb.update(ctr.subarray(0, blocks * GKCRYPT_BLOCK));
    return new Uint8Array(ks.buffer, ks.byteOffset + skip, length);
  }

  /** Encrypts = decrypts: XOR with the key stream starting at keyPos (AV/feedback callers pass key_pos + 16). */
  crypt(data: Uint8Array, keyPos: number): Uint8Array {
    const ks = this.keyStream(keyPos, data.length);
    const out = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = data[i] ^ ks[i];
    return out;
  }

  /**
   * data[from..] XOR the key stream from position `pos` (= crypt(data.subarray(from), pos), for a
   * receiver): the result is a view of an arena, never reused; data is left as it is. Positions
   * that only grow (AV payloads) are served from a window of key stream one AES-ECB call fills for
   * ~45 full-size packets; data that is the array gmacWord() checked last is decrypted on the copy
   * made for its tag (as the packet was then), so a datagram goes into WebAssembly memory once.
   */
  decrypt(data: Uint8Array, pos: number, from = 0): Uint8Array {
    checkPos(pos, 'key_pos');
    const len = data.length - from;
    const at = pos - this.windowBase;
    if (at >= 0 && at + len <= this.windowLength) return this.engine.decrypt(data, from, at);
    if (at >= 0 && len + (pos % GKCRYPT_BLOCK) <= KEY_STREAM_WINDOW) {
      // ahead of the window: the next one starts at this packet
      const first = Math.floor(pos / GKCRYPT_BLOCK);
      const e = this.engine;
      e.setWindow(this.ecb.update(e.counters(first, KEY_STREAM_WINDOW / GKCRYPT_BLOCK)));
      this.windowBase = first * GKCRYPT_BLOCK;
      this.windowLength = KEY_STREAM_WINDOW;
      return e.decrypt(data, from, pos - this.windowBase);
    }
    // behind the window (reordered) or larger than one: a key stream of its own
    const ks = this.keyStream(pos, len);
    for (let i = 0; i < len; i++) ks[i] ^= data[from + i];
    return ks;
  }

  /** 4-byte tag: AES-128-GCM(gmac key for keyPos, IV = iv + keyPos/16, AAD = data, no plaintext). */
  gmac(data: Uint8Array, keyPos: number): Uint8Array {
    const t = this.gmacWord(data, keyPos);
    return new Uint8Array([t >>> 24, (t >>> 16) & 0xff, (t >>> 8) & 0xff, t & 0xff]);
  }

  /**
   * The 4-byte tag of gmac() as a big-endian u32, computed as if the 4 bytes at zeroAt and at
   * zeroAt2 (each when >= 0) were zero: a received packet is checked in place, with its GMAC
   * (and key_pos) field zeroed only in the hash input. No copy of data, no cipher object.
   */
  gmacWord(data: Uint8Array, keyPos: number, zeroAt = -1, zeroAt2 = -1): number {
    checkPos(keyPos, 'key_pos');
    const keyIndex = Math.floor((keyPos > 0 ? keyPos - 1 : 0) / GMAC_KEY_REFRESH_KEY_POS);
    // which key: the cached current one, a newer one (becomes current), or an older one
    let label: number;
    if (keyIndex > this.gmacIndex) {
      this.gmacCurrent = genGmacKey(keyIndex, this.gmacBase, this.iv);
      this.gmacIndex = keyIndex;
      label = keyIndex;
    } else if (keyIndex < this.gmacIndex) label = keyIndex === 0 ? -1 : keyIndex;
    else label = keyIndex;
    const slot = this.gmacKey(label);
    // IV = iv + keyPos/16 (little-endian 128-bit add)
    return this.engine.tag(slot, data, Math.floor(keyPos / GKCRYPT_BLOCK), zeroAt, zeroAt2);
  }

  /**
   * The GkCryptWasm slot holding a GMAC key, by label: refresh index n for the key gmacCurrent held at
   * index n, -1 for gmacBase used by an older packet of index 0. Two slots: the current key and
   * the one before it (packets reordered across a refresh).
   */
  private gmacKey(label: number): number {
    const labels = this.slotLabels;
    for (let i = 0; i < GMAC_SLOTS; i++) {
      if (labels[i] === label) {
        this.lastSlot = i;
        return i;
      }
    }
    const key =
      label === this.gmacIndex
        ? this.gmacCurrent
        : label === -1
          ? this.gmacBase
          : genGmacKey(label, this.gmacBase, this.iv);
    // replace the slot not used last
    const slot = (this.lastSlot + 1) % GMAC_SLOTS;
    this.engine.setKey(slot, key);
    labels[slot] = label;
    this.lastSlot = slot;
    return slot;
  }
}
