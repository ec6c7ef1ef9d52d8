/**
 * AES-128 (FIPS-197) for the WebAssembly GMAC of gkcrypt-wasm.ts, which encrypts one block per
 * packet (E(K, J0)) and one per key (H = E(K, 0)): the key schedule, and the S-box and the
 * classic 32-bit round tables (SubBytes + ShiftRows + MixColumns as four 256-entry word tables),
 * computed at load from the field arithmetic (not transcribed). node:crypto stays the choice for
 * the bulk key stream; for single blocks its per-call cost dominates (ecb.update(16 bytes)
 * ~1 us against ~50 ns in WebAssembly).
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
