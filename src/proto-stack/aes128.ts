/**
 * AES-128 (FIPS-197) encryption of single blocks in plain JS, for the one block per packet a
 * GMAC needs (E(K, J0)) and the one per key (H = E(K, 0)). node:crypto stays the choice for the
 * bulk key stream; for one 16-byte block its per-call cost dominates: measured here (Node 20,
 * loaded 2-core box, 2026-11-22) ecb.update(16 bytes) 2.2 us and createCipheriv 5.5-8.6 us,
 * against well under 1 us for encryptBlock below (bench/gkcrypt.ts prints both).
 *
 * Classic 32-bit table implementation: SubBytes + ShiftRows + MixColumns as four 256-entry
 * word tables. The tables are computed at load from the field arithmetic (not transcribed).
 */

const SBOX = new Uint8Array(256);
const T0 = new Int32Array(256);
const T1 = new Int32Array(256);
const T2 = new Int32Array(256);
const T3 = new Int32Array(256);
/** The S-box and the four round tables (big-endian words), for the WASM copy in gkcrypt-wasm.ts. */
export const AES_TABLES: { sbox: Uint8Array; t: readonly Int32Array[] } = { sbox: SBOX, t: [T0, T1, T2, T3] };

{
  // walk the multiplicative group with generator 3: p = 3^i and q = 3^-i, so q = p^-1
  const rotl8 = (x: number, n: number) => ((x << n) | (x >>> (8 - n))) & 0xff;
  let p = 1;
  let q = 1;
  do {
    p = p ^ ((p << 1) & 0xff) ^ (p & 0x80 ? 0x1b : 0);
    q ^= q << 1;
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    SBOX[p] = q ^ rotl8(q, 1) ^ rotl8(q, 2) ^ rotl8(q, 3) ^ rotl8(q, 4) ^ 0x63;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let x = 0; x < 256; x++) {
    const s = SBOX[x];
    const s2 = ((s << 1) ^ (s & 0x80 ? 0x1b : 0)) & 0xff;
    // column (2s, s, s, 3s), big-endian; the other tables are its byte rotations
    const t = (s2 << 24) | (s << 16) | (s << 8) | (s2 ^ s);
    T0[x] = t;
    T1[x] = (t >>> 8) | (t << 24);
    T2[x] = (t >>> 16) | (t << 16);
    T3[x] = (t >>> 24) | (t << 8);
  }
}

/** The 44 round-key words (big-endian) of an AES-128 key, into rk. */
export function expandKey(key: Uint8Array, rk: Int32Array): void {
  for (let i = 0; i < 4; i++)
    rk[i] = (key[4 * i] << 24) | (key[4 * i + 1] << 16) | (key[4 * i + 2] << 8) | key[4 * i + 3];
  let rcon = 1;
  for (let i = 4; i < 44; i++) {
    let t = rk[i - 1];
    if (i % 4 === 0) {
      // RotWord, SubWord, Rcon
      t =
        ((SBOX[(t >>> 16) & 0xff] << 24) |
          (SBOX[(t >>> 8) & 0xff] << 16) |
          (SBOX[t & 0xff] << 8) |
          SBOX[t >>> 24]) ^
        (rcon << 24);
      rcon = ((rcon << 1) ^ (rcon & 0x80 ? 0x1b : 0)) & 0xff;
    }
    rk[i] = rk[i - 4] ^ t;
  }
}

/** An AES-128 key schedule; encryptBlock works on big-endian 32-bit words. */
export class Aes128 {
  private readonly rk = new Int32Array(44);
  /** The last block's output words (encryptBlock's result). */
  readonly out = new Int32Array(4);

  constructor(key: Uint8Array) {
    expandKey(key, this.rk);
  }

  /** Encrypts the block (w0, w1, w2, w3) (big-endian words) into this.out. */
  encryptBlock(w0: number, w1: number, w2: number, w3: number): Int32Array {
    const rk = this.rk;
    let s0 = w0 ^ rk[0];
    let s1 = w1 ^ rk[1];
    let s2 = w2 ^ rk[2];
    let s3 = w3 ^ rk[3];
    let k = 4;
    for (let r = 1; r < 10; r++, k += 4) {
      const t0 = T0[s0 >>> 24] ^ T1[(s1 >>> 16) & 0xff] ^ T2[(s2 >>> 8) & 0xff] ^ T3[s3 & 0xff] ^ rk[k];
      const t1 = T0[s1 >>> 24] ^ T1[(s2 >>> 16) & 0xff] ^ T2[(s3 >>> 8) & 0xff] ^ T3[s0 & 0xff] ^ rk[k + 1];
      const t2 = T0[s2 >>> 24] ^ T1[(s3 >>> 16) & 0xff] ^ T2[(s0 >>> 8) & 0xff] ^ T3[s1 & 0xff] ^ rk[k + 2];
      const t3 = T0[s3 >>> 24] ^ T1[(s0 >>> 16) & 0xff] ^ T2[(s1 >>> 8) & 0xff] ^ T3[s2 & 0xff] ^ rk[k + 3];
      s0 = t0;
      s1 = t1;
      s2 = t2;
      s3 = t3;
    }
    // last round: no MixColumns
    const o = this.out;
    o[0] =
      ((SBOX[s0 >>> 24] << 24) |
        (SBOX[(s1 >>> 16) & 0xff] << 16) |
        (SBOX[(s2 >>> 8) & 0xff] << 8) |
        SBOX[s3 & 0xff]) ^
      rk[40];
    o[1] =
      ((SBOX[s1 >>> 24] << 24) |
        (SBOX[(s2 >>> 16) & 0xff] << 16) |
        (SBOX[(s3 >>> 8) & 0xff] << 8) |
        SBOX[s0 & 0xff]) ^
      rk[41];
    o[2] =
      ((SBOX[s2 >>> 24] << 24) |
        (SBOX[(s3 >>> 16) & 0xff] << 16) |
        (SBOX[(s0 >>> 8) & 0xff] << 8) |
        SBOX[s1 & 0xff]) ^
      rk[42];
    o[3] =
      ((SBOX[s3 >>> 24] << 24) |
        (SBOX[(s0 >>> 16) & 0xff] << 16) |
        (SBOX[(s1 >>> 8) & 0xff] << 8) |
        SBOX[s2 & 0xff]) ^
      rk[43];
    return o;
  }
}
