/**
 * Salsa20 stream cipher (D. J. Bernstein, "Salsa20 specification") with a configurable number of
 * rounds. PCoIP's data channel uses Salsa20/12 with a 256-bit key; @noble/ciphers only exposes the
 * 20-round variant and node:crypto has no Salsa20 at all, so this is a small core of our own.
 * Tests pin it to the eSTREAM Salsa20/12 vectors and to @noble/ciphers at 20 rounds.
 */
import { ParseError } from '../errors.js';

const LAYER = 'salsa20';
// "expand 32-byte k" / "expand 16-byte k" as little-endian words.
const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];
const TAU = [0x61707865, 0x3120646e, 0x79622d36, 0x6b206574];

const rotl = (v: number, c: number): number => (v << c) | (v >>> (32 - c));

/** One 64-byte keystream block: `rounds` rounds (a column and a row round per pass) plus the
 * feed-forward. Unrolled into locals: about 6x faster than indexing an array in a helper. */
function block(input: Uint32Array, rounds: number, out: Uint32Array): void {
  let x0 = input[0],
    x1 = input[1],
    x2 = input[2],
    x3 = input[3];
  let x4 = input[4],
    x5 = input[5],
    x6 = input[6],
    x7 = input[7];
  let x8 = input[8],
    x9 = input[9],
    x10 = input[10],
    x11 = input[11];
  let x12 = input[12],
    x13 = input[13],
    x14 = input[14],
    x15 = input[15];
  for (let i = 0; i < rounds; i += 2) {
    // column round
    x4 ^= rotl((x0 + x12) | 0, 7);
    x8 ^= rotl((x4 + x0) | 0, 9);
    x12 ^= rotl((x8 + x4) | 0, 13);
    x0 ^= rotl((x12 + x8) | 0, 18);
    x9 ^= rotl((x5 + x1) | 0, 7);
    x13 ^= rotl((x9 + x5) | 0, 9);
    x1 ^= rotl((x13 + x9) | 0, 13);
    x5 ^= rotl((x1 + x13) | 0, 18);
    x14 ^= rotl((x10 + x6) | 0, 7);
    x2 ^= rotl((x14 + x10) | 0, 9);
    x6 ^= rotl((x2 + x14) | 0, 13);
    x10 ^= rotl((x6 + x2) | 0, 18);
    x3 ^= rotl((x15 + x11) | 0, 7);
    x7 ^= rotl((x3 + x15) | 0, 9);
    x11 ^= rotl((x7 + x3) | 0, 13);
    x15 ^= rotl((x11 + x7) | 0, 18);
    // row round
    x1 ^= rotl((x0 + x3) | 0, 7);
    x2 ^= rotl((x1 + x0) | 0, 9);
    x3 ^= rotl((x2 + x1) | 0, 13);
    x0 ^= rotl((x3 + x2) | 0, 18);
    x6 ^= rotl((x5 + x4) | 0, 7);
    x7 ^= rotl((x6 + x5) | 0, 9);
    x4 ^= rotl((x7 + x6) | 0, 13);
    x5 ^= rotl((x4 + x7) | 0, 18);
    x11 ^= rotl((x10 + x9) | 0, 7);
    x8 ^= rotl((x11 + x10) | 0, 9);
    x9 ^= rotl((x8 + x11) | 0, 13);
    x10 ^= rotl((x9 + x8) | 0, 18);
    x12 ^= rotl((x15 + x14) | 0, 7);
    x13 ^= rotl((x12 + x15) | 0, 9);
    x14 ^= rotl((x13 + x12) | 0, 13);
    x15 ^= rotl((x14 + x13) | 0, 18);
  }
  const x = [x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15];
  for (let i = 0; i < 16; i++) out[i] = (x[i] + input[i]) | 0;
}

export interface Salsa20Options {
  /** Number of rounds: a positive even number (20 = Salsa20, 12 = Salsa20/12, 8 = Salsa20/8). */
  rounds: number;
  /** First 64-bit block counter (default 0). */
  counter?: bigint;
}

/**
 * XORs `data` with the Salsa20 keystream for `key` (16 or 32 bytes) and the 8-byte `nonce`.
 * Encryption and decryption are the same operation. Returns a new array.
 */
export function salsa20Xor(
  key: Uint8Array,
  nonce: Uint8Array,
  data: Uint8Array,
  opts: Salsa20Options,
): Uint8Array {
  const { rounds } = opts;
  if (!Number.isInteger(rounds) || rounds <= 0 || rounds % 2 !== 0 || rounds > 64)
    throw new ParseError(LAYER, `rounds must be a positive even number, got ${rounds}`);
  if (key.length !== 16 && key.length !== 32)
    throw new ParseError(LAYER, `key must be 16 or 32 bytes, got ${key.length}`);
  if (nonce.length !== 8) throw new ParseError(LAYER, `nonce must be 8 bytes, got ${nonce.length}`);
  const counter = opts.counter ?? 0n;
  if (counter < 0n || counter >= 1n << 64n) throw new ParseError(LAYER, 'counter must fit in 64 bits');

  const le = (b: Uint8Array, o: number): number =>
    (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
  // With a 16-byte key the same 16 bytes fill both key halves and the tau constants are used.
  const k2 = key.length === 32 ? 16 : 0;
  const c = key.length === 32 ? SIGMA : TAU;
  const state = new Uint32Array([
    c[0],
    le(key, 0),
    le(key, 4),
    le(key, 8),
    le(key, 12),
    c[1],
    le(nonce, 0),
    le(nonce, 4),
    Number(counter & 0xffffffffn),
    Number(counter >> 32n),
    c[2],
    le(key, k2),
    le(key, k2 + 4),
    le(key, k2 + 8),
    le(key, k2 + 12),
    c[3],
  ]);

  const out = new Uint8Array(data.length);
  const ks = new Uint32Array(16);
  const ksBytes = new Uint8Array(ks.buffer);
  const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  for (let pos = 0; pos < data.length; pos += 64) {
    block(state, rounds, ks);
    if (!littleEndianHost) for (let i = 0; i < 16; i++) ks[i] = swap32(ks[i]);
    const n = Math.min(64, data.length - pos);
    for (let i = 0; i < n; i++) out[pos + i] = data[pos + i] ^ ksBytes[i];
    // 64-bit block counter in words 8 (low) and 9 (high); wraps like the reference code.
    state[8] = (state[8] + 1) >>> 0;
    if (state[8] === 0) state[9] = (state[9] + 1) >>> 0;
  }
  return out;
}

const swap32 = (v: number): number =>
  ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | ((v >>> 24) & 0xff);

/** `length` bytes of raw keystream (the encryption of zeros), as test vectors publish it. */
export function salsa20Keystream(
  key: Uint8Array,
  nonce: Uint8Array,
  length: number,
  opts: Salsa20Options,
): Uint8Array {
  return salsa20Xor(key, nonce, new Uint8Array(length), opts);
}
