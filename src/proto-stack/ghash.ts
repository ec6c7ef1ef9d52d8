/**
 * The 4-byte GMAC of a Takion packet (docs/protocol.md §6) in one small hand-assembled
 * WebAssembly module: tag = first 4 bytes of E(K, J0) xor GHASH(H, AAD), with J0 = GHASH(H,
 * IV || [128]_64) for the packet's 16-byte IV, every per-key value cached. One call per packet
 * from JS: copy the packet in, get the tag back.
 *
 * GHASH (NIST SP 800-38D §6.4): multiplication by a fixed H through one 256-entry table per byte
 * position (16 x 256 x 16 bytes = 64 KiB per power of H): X * H = xor over i of T_i[X_i], where
 * T_i[b] is the product of H with byte b at position i. Entries are 16-byte vectors in GCM byte
 * order, so no byte swapping anywhere. Blocks go two at a time with H^2 and H (aggregated:
 * Y' = (Y xor X1) * H^2 xor X2 * H): the two halves do not wait for each other, where one block
 * at a time waits ~30 cycles per block for the previous product. Measured (bench/gkcrypt.ts,
 * 1400-byte packets, 2026-12-04): ~0.85 us per packet against ~1.3 us for one-block-per-step
 * tables with i64 halves; 4-bit tables (L1-resident, twice the lookups) and 4-block steps
 * measured slower: past two blocks the loop is bound by the table loads leaving L1.
 * A key's tables are built here too (the single-bit entries by shifting, the rest as xors of
 * two entries: tables are linear in b), ~3 us, paid every ~33 packets (GMAC key refresh).
 *
 * E(K, J0) is one AES-128 block with 32-bit T-tables (aes128.ts's, as little-endian words).
 *
 * Memory: SLOTS x (H^2 table, H table), the AES tables, SLOTS round keys, then a few 16-byte
 * blocks and the packet (with one zero block in front of it when its block count is odd).
 */

import { AES_TABLES, Aes128 } from './aes128.js';
import {
  compileWasm,
  get,
  I32,
  I64,
  i32c,
  instantiateWasm,
  load8,
  load32,
  load64,
  load128,
  op,
  PAGE,
  set,
  simd,
  store32,
  store64,
  store128,
  tee,
  uleb,
  V128,
  VOID,
  vec,
  type WasmMemory,
  wasmModule,
} from './wasm.js';

/** Key slots per instance: the current GMAC key and one older one (reordered packets). */
export const GHASH_SLOTS = 2;
const TABLE = 1 << 16;
/** A slot: the H^2 table, then the H table. */
const SLOT_BYTES = 2 * TABLE;
const AES_ADDR = GHASH_SLOTS * SLOT_BYTES;
const SBOX_ADDR = AES_ADDR + 4 * 1024;
const RK_ADDR = SBOX_ADDR + 256;
const RK_BYTES = 176;
/** The GkCrypt iv the packet IVs are counted from. */
const IV_BASE_ADDR = RK_ADDR + GHASH_SLOTS * RK_BYTES;
/** The packet's IV block, then the length block [0]_64 || [128]_64: J0's GHASH input. */
const IV_ADDR = IV_BASE_ADDR + 16;
const E_ADDR = IV_ADDR + 32;
const Y_ADDR = E_ADDR + 16;
/** A zero block, then H: the GHASH input that yields H^2 (and the AES input for H). */
const H_ADDR = Y_ADDR + 16;
/** The packet; the block before it is zeroed when the padded input has an odd block count. */
const DATA_ADDR = H_ADDR + 48;

const x = (sub: number, ...imm: number[]): number[] => [op.simd, sub, ...imm];
const zero128 = (): number[] => [...i32c(0), ...x(simd.i8x16Splat)];
const unaligned128 = (offset: number): number[] => [op.simd, simd.v128Store, 0, ...uleb(offset)];

/** The byte-swapped value of the i32 local l (WebAssembly has no bswap). */
function bswap32(l: number): number[] {
  return [
    ...get(l),
    ...i32c(24),
    op.i32Shl,
    ...get(l),
    ...i32c(0xff00),
    op.i32And,
    ...i32c(8),
    op.i32Shl,
    op.i32Or,
    ...get(l),
    ...i32c(8),
    op.i32ShrU,
    ...i32c(0xff00),
    op.i32And,
    op.i32Or,
    ...get(l),
    ...i32c(24),
    op.i32ShrU,
    op.i32Or,
  ];
}

/**
 * k(start, end): Y = GHASH steps over the blocks [start, end) (an even count) from the Y at
 * Y_ADDR, with the tables of the slot at `base` (a constant: one function per slot).
 * Locals: 0 p, 1 end, 2 y, 3 t, 4-7 accumulators (v128).
 */
function kernelBody(base: number): number[] {
  const [P, END, Y, T] = [0, 1, 2, 3];
  const ACC = [4, 5, 6, 7];
  const c: number[] = [...i32c(0), ...load128(Y_ADDR), ...set(Y)];
  c.push(op.block, VOID, ...get(P), ...get(END), op.i32GeU, op.brIf, 0, op.loop, VOID);
  c.push(...get(Y), ...get(P), ...load128(0), ...x(simd.v128Xor), ...set(T));
  let n = 0;
  for (let half = 0; half < 2; half++) {
    for (let j = 0; j < 16; j++) {
      // (Y xor X1) byte j from the vector, X2 byte j from memory
      if (half === 0) c.push(...get(T), ...x(simd.i8x16ExtractLaneU, j));
      else c.push(...get(P), ...load8(16 + j));
      c.push(...i32c(4), op.i32Shl);
      c.push(...load128(base + half * TABLE + j * 4096));
      const acc = ACC[n % 4];
      if (n >= 4) c.push(...get(acc), ...x(simd.v128Xor));
      c.push(...set(acc));
      n++;
    }
  }
  c.push(...get(ACC[0]), ...get(ACC[1]), ...x(simd.v128Xor), ...get(ACC[2]), ...get(ACC[3]));
  c.push(...x(simd.v128Xor), ...x(simd.v128Xor), ...set(Y));
  c.push(...get(P), ...i32c(32), op.i32Add, ...tee(P), ...get(END), op.i32LtU, op.brIf, 0, op.end, op.end);
  c.push(...i32c(0), ...get(Y), ...store128(Y_ADDR), op.end);
  return [...vec([[6, V128]]), ...c];
}

/**
 * aes(rk, in, out): out = AES-128(in) with the round keys at rk (little-endian words of the
 * schedule). Locals: 0 rk, 1 in, 2 out, 3-6 s0..s3, 7-10 t0..t3.
 */
function aesBody(): number[] {
  const [RK, IN, OUT] = [0, 1, 2];
  const S = [3, 4, 5, 6];
  const T = [7, 8, 9, 10];
  const c: number[] = [];
  for (let i = 0; i < 4; i++)
    c.push(...get(IN), ...load32(4 * i), ...get(RK), ...load32(4 * i), op.i32Xor, ...set(S[i]));
  // byte k of column word w, as a table offset (k * 8 bits; * 4 bytes per entry)
  const index = (w: number, k: number, scale: number): number[] =>
    k === 0
      ? [...get(w), ...i32c(0xff), op.i32And, ...(scale ? [...i32c(scale), op.i32Shl] : [])]
      : [...get(w), ...i32c(8 * k - scale), op.i32ShrU, ...i32c(0xff << scale), op.i32And];
  for (let r = 1; r < 10; r++) {
    for (let col = 0; col < 4; col++) {
      for (let k = 0; k < 4; k++) {
        const w = S[(col + k) % 4];
        if (k === 3) c.push(...get(w), ...i32c(22), op.i32ShrU, ...i32c(0x3fc), op.i32And);
        else c.push(...index(w, k, 2));
        c.push(...load32(AES_ADDR + k * 1024));
        if (k > 0) c.push(op.i32Xor);
      }
      c.push(...get(RK), ...load32(16 * r + 4 * col), op.i32Xor, ...set(T[col]));
    }
    for (let i = 0; i < 4; i++) c.push(...get(T[i]), ...set(S[i]));
  }
  for (let col = 0; col < 4; col++) {
    c.push(...get(OUT));
    for (let k = 0; k < 4; k++) {
      const w = S[(col + k) % 4];
      if (k === 3) c.push(...get(w), ...i32c(24), op.i32ShrU);
      else c.push(...index(w, k, 0));
      c.push(...load8(SBOX_ADDR));
      if (k > 0) c.push(...i32c(8 * k), op.i32Shl, op.i32Or);
    }
    c.push(...get(RK), ...load32(160 + 4 * col), op.i32Xor, ...store32(4 * col));
  }
  c.push(op.end);
  return [...vec([[8, I32]]), ...c];
}

/**
 * bits(table, v): the single-bit entries of a table, H' * x^k for k = 0..127 with H' the block at
 * v: position k / 8, byte value 0x80 >> (k % 8) (GCM numbers bits from the most significant
 * end). Multiplying by x shifts the block right by one bit and folds the bit shifted out back in
 * as 0xe1 in byte 0. Locals: 0 table, 1 v, 2 row, 3 value, 4 zero (v128).
 */
function bitsBody(): number[] {
  const [TB, V, ROW, VAL, Z] = [0, 1, 2, 3, 4];
  const c: number[] = [...zero128(), ...set(Z), ...get(V), ...load128(0), ...set(VAL)];
  c.push(...get(TB), ...set(ROW), op.loop, VOID);
  for (let j = 0; j < 8; j++) {
    c.push(...get(ROW), ...get(VAL), ...store128((0x80 >> j) * 16));
    // each byte's own bits move right; byte i - 1's lowest bit becomes byte i's highest
    c.push(...get(VAL), ...i32c(1), ...x(simd.i8x16ShrU));
    c.push(
      ...get(VAL),
      ...get(Z),
      ...x(simd.i8x16Shuffle, 16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14),
    );
    c.push(...i32c(7), ...x(simd.i8x16Shl), ...x(simd.v128Or));
    c.push(...get(Z), ...i32c(0), ...get(VAL), ...x(simd.i8x16ExtractLaneU, 15), ...i32c(1), op.i32And);
    c.push(
      op.i32Sub,
      ...i32c(0xe1),
      op.i32And,
      ...x(simd.i8x16ReplaceLane, 0),
      ...x(simd.v128Xor),
      ...set(VAL),
    );
  }
  c.push(...get(ROW), ...i32c(4096), op.i32Add, ...tee(ROW), ...get(TB), ...i32c(TABLE), op.i32Add);
  c.push(op.i32LtU, op.brIf, 0, op.end, op.end);
  return [
    ...vec([
      [1, I32],
      [2, V128],
    ]),
    ...c,
  ];
}

/**
 * fill(table): the other entries from the single-bit ones, T[v] = T[p] xor T[v - p] for the
 * highest bit p of v, row by row. Locals: 0 table (the row), 1 T[p] (v128).
 */
function fillBody(): number[] {
  const [ROW, TP] = [0, 1];
  const c: number[] = [...get(ROW), ...i32c(TABLE), op.i32Add, ...set(2), op.loop, VOID];
  for (let p = 2; p < 256; p <<= 1) {
    c.push(...get(ROW), ...load128(p * 16), ...set(TP));
    for (let v = p + 1; v < 2 * p; v++)
      c.push(
        ...get(ROW),
        ...get(TP),
        ...get(ROW),
        ...load128((v - p) * 16),
        ...x(simd.v128Xor),
        ...store128(v * 16),
      );
  }
  c.push(
    ...get(ROW),
    ...i32c(4096),
    op.i32Add,
    ...tee(ROW),
    ...get(2),
    op.i32LtU,
    op.brIf,
    0,
    op.end,
    op.end,
  );
  return [
    ...vec([
      [1, V128],
      [1, I32],
    ]),
    ...c,
  ];
}

// function indices, in the order buildModule lists them
const F_KERNEL = [0, 1];
const F_AES = 2;
const F_BITS = 3;
const F_FILL = 4;

/** setKey_s(): H = E(K, 0) with slot s's round keys, then its H and H^2 tables. */
function setKeyBody(slot: number): number[] {
  const base = slot * SLOT_BYTES;
  const c: number[] = [];
  c.push(...i32c(RK_ADDR + slot * RK_BYTES), ...i32c(H_ADDR), ...i32c(H_ADDR + 16), op.call, F_AES);
  c.push(...i32c(base + TABLE), ...i32c(H_ADDR + 16), op.call, F_BITS);
  c.push(...i32c(base + TABLE), op.call, F_FILL);
  // H^2 = (0 xor 0) * H^2 xor H * H: the H^2 table's zero entries are never written
  c.push(...i32c(0), ...zero128(), ...store128(Y_ADDR));
  c.push(...i32c(H_ADDR), ...i32c(H_ADDR + 32), op.call, F_KERNEL[slot]);
  c.push(...i32c(base), ...i32c(Y_ADDR), op.call, F_BITS, ...i32c(base), op.call, F_FILL, op.end);
  return [...vec([]), ...c];
}

/**
 * tag_s(len, nLo, nHi): the tag (big-endian u32) of the len-byte packet at DATA_ADDR with IV =
 * iv + n (little-endian 128-bit add), n = nHi * 2^32 + nLo. Locals: 0 len, 1 nLo, 2 nHi,
 * 3 padded, 4 t, 5 n (i64), 6 lo (i64).
 */
function tagBody(slot: number): number[] {
  const [LEN, NLO, NHI, PADDED, TT, N, LO] = [0, 1, 2, 3, 4, 5, 6];
  const c: number[] = [];
  // IV = iv + n
  c.push(
    ...get(NLO),
    op.i64ExtendI32U,
    ...get(NHI),
    op.i64ExtendI32U,
    op.i64Const,
    32,
    op.i64Shl,
    op.i64Or,
    ...set(N),
  );
  c.push(
    ...i32c(0),
    ...i32c(0),
    ...load64(IV_BASE_ADDR),
    ...get(N),
    op.i64Add,
    ...tee(LO),
    ...store64(IV_ADDR),
  );
  c.push(...i32c(0), ...i32c(0), ...load64(IV_BASE_ADDR + 8), ...get(LO), ...get(N), op.i64LtU);
  c.push(op.i64ExtendI32U, op.i64Add, ...store64(IV_ADDR + 8));
  // J0 = GHASH(IV, length block); E = E(K, J0)
  c.push(...i32c(0), ...zero128(), ...store128(Y_ADDR));
  c.push(...i32c(IV_ADDR), ...i32c(IV_ADDR + 32), op.call, F_KERNEL[slot]);
  c.push(...i32c(RK_ADDR + slot * RK_BYTES), ...i32c(Y_ADDR), ...i32c(E_ADDR), op.call, F_AES);
  // the packet zero-padded to 16 bytes, its length block ([bits]_64 || [0]_64), a zero block in front
  c.push(...get(LEN), ...i32c(15), op.i32Add, ...i32c(-16), op.i32And, ...set(PADDED));
  c.push(...get(LEN), ...zero128(), ...unaligned128(DATA_ADDR));
  c.push(...get(PADDED), ...zero128(), ...store128(DATA_ADDR));
  c.push(
    ...get(LEN),
    ...i32c(3),
    op.i32Shl,
    ...set(TT),
    ...get(PADDED),
    ...bswap32(TT),
    ...store32(DATA_ADDR + 4),
  );
  c.push(...i32c(0), ...zero128(), ...store128(DATA_ADDR - 16));
  c.push(...i32c(0), ...zero128(), ...store128(Y_ADDR));
  // start 16 bytes early when (padded / 16 + 1) is odd, i.e. padded / 16 even
  c.push(
    ...i32c(DATA_ADDR),
    ...get(PADDED),
    ...i32c(4),
    op.i32ShrU,
    ...i32c(1),
    op.i32And,
    ...i32c(4),
    op.i32Shl,
  );
  c.push(...i32c(16), op.i32Xor, op.i32Sub);
  c.push(...get(PADDED), ...i32c(DATA_ADDR + 16), op.i32Add, op.call, F_KERNEL[slot]);
  c.push(
    ...i32c(0),
    ...load32(E_ADDR),
    ...i32c(0),
    ...load32(Y_ADDR),
    op.i32Xor,
    ...set(TT),
    ...bswap32(TT),
    op.end,
  );
  return [
    ...vec([
      [2, I32],
      [2, I64],
    ]),
    ...c,
  ];
}

function buildModule(): Uint8Array {
  const pair = (name: string, params: number[], body: (slot: number) => number[], results?: number[]) =>
    [0, 1].map((s) => ({ name: `${name}${s}`, params, results, body: body(s) }));
  return wasmModule({
    functions: [
      ...pair('k', [I32, I32], (s) => kernelBody(s * SLOT_BYTES)),
      { name: 'aes', params: [I32, I32, I32], body: aesBody() },
      { name: 'bits', params: [I32, I32], body: bitsBody() },
      { name: 'fill', params: [I32], body: fillBody() },
      ...pair('setKey', [], setKeyBody),
      ...pair('tag', [I32, I32, I32], tagBody, [I32]),
    ],
    pages: Math.ceil((DATA_ADDR + 2048) / PAGE),
  });
}

let compiled: object | undefined;

type TagFn = (len: number, nLo: number, nHi: number) => number;

interface GmacExports {
  setKey0(): void;
  setKey1(): void;
  tag0: TagFn;
  tag1: TagFn;
  mem: WasmMemory;
}

const TWO32 = 0x1_0000_0000;

/**
 * GHASH_SLOTS GMAC keys and the tag computation of GkCrypt: setKey(slot, K) once per key, then
 * tag(slot, packet, n) per packet with IV = iv + n.
 */
export class GmacEngine {
  private readonly ex: GmacExports;
  private bytes: Uint8Array;
  private readonly setKeys: (() => void)[];
  private readonly tags: TagFn[];

  /** iv: the 16 bytes every packet IV is counted from. */
  constructor(iv: Uint8Array) {
    compiled ??= compileWasm(buildModule());
    this.ex = instantiateWasm(compiled) as GmacExports;
    this.bytes = new Uint8Array(this.ex.mem.buffer);
    this.setKeys = [this.ex.setKey0, this.ex.setKey1];
    this.tags = [this.ex.tag0, this.ex.tag1];
    const dv = new DataView(this.ex.mem.buffer);
    // big-endian words stored as bytes = the little-endian words the module reads
    for (let k = 0; k < 4; k++)
      for (let i = 0; i < 256; i++) dv.setInt32(AES_ADDR + k * 1024 + i * 4, AES_TABLES.t[k][i], false);
    this.bytes.set(AES_TABLES.sbox, SBOX_ADDR);
    this.bytes.set(iv.subarray(0, 16), IV_BASE_ADDR);
    dv.setUint8(IV_ADDR + 31, 128);
  }

  /** Makes `key` (16 bytes) the GMAC key of slot. */
  setKey(slot: number, key: Uint8Array): void {
    const rk = new Aes128(key).roundKeys;
    const dv = new DataView(this.ex.mem.buffer);
    const at = RK_ADDR + slot * RK_BYTES;
    for (let i = 0; i < 44; i++) dv.setInt32(at + 4 * i, rk[i], false);
    this.setKeys[slot]();
  }

  /**
   * The 4-byte tag (big-endian u32) of AES-128-GCM with slot's key, IV = iv + n and AAD = data,
   * computed as if data's 4 bytes at zeroAt and at zeroAt2 (each when >= 0) were zero. Copies
   * data into the module; never modifies it.
   */
  tag(slot: number, data: Uint8Array, n: number, zeroAt = -1, zeroAt2 = -1): number {
    const len = data.length;
    if (DATA_ADDR + len + 32 > this.bytes.length) this.grow(len);
    const m = this.bytes;
    m.set(data, DATA_ADDR);
    if (zeroAt >= 0) for (let i = zeroAt; i < zeroAt + 4 && i < len; i++) m[DATA_ADDR + i] = 0;
    if (zeroAt2 >= 0) for (let i = zeroAt2; i < zeroAt2 + 4 && i < len; i++) m[DATA_ADDR + i] = 0;
    return this.tags[slot](len, n % TWO32, Math.floor(n / TWO32)) >>> 0;
  }

  private grow(len: number): void {
    const need = DATA_ADDR + len + 32 - this.ex.mem.buffer.byteLength;
    this.ex.mem.grow(Math.ceil(need / PAGE));
    this.bytes = new Uint8Array(this.ex.mem.buffer);
  }
}
