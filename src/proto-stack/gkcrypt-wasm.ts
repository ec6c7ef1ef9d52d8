/**
 * The per-packet work of a receiving GkCrypt (gkcrypt.ts, docs/protocol.md §6) in one small
 * hand-assembled WebAssembly module, so a datagram is copied in once, tagged, decrypted in place
 * and copied out once:
 *
 *   tag      4-byte GMAC = first 4 bytes of E(K, J0) xor GHASH(H, AAD), J0 = GHASH(H, IV ||
 *            [128]_64) for the packet's 16-byte IV; every per-key value cached, one call from JS.
 *   decrypt  the payload xor a window of pre-generated key stream, 16 bytes per step; for the
 *            packet tagged last, on the copy made for the tag.
 *   ctr      the counter blocks (iv + n, little-endian adds) node:crypto's AES-ECB encrypts into
 *            the next window: one ECB call per ~45 full-size packets.
 *
 * GHASH (NIST SP 800-38D §6.4): multiplication by a fixed H through one 16-entry table per
 * nibble position (32 x 16 x 16 bytes = 8 KiB per power of H): X * H = xor over i of T_i[X_i],
 * T_i[v] the product of H with nibble v at position i. Entries are 16-byte vectors in GCM byte
 * order, so nothing is byte-swapped. Blocks go two at a time with H^2 and H (aggregated:
 * Y' = (Y xor X1) * H^2 xor X2 * H), so the two halves' 32 lookups each do not wait for each
 * other. Measured (2026-12-04, Node 20, 1400-byte packets, shared EPYC): per-byte tables (64 KiB
 * per power) hash faster in a hot loop (0.86 against 1.25 us per packet) but not in a live
 * session, where the tables are no longer in L1/L2 when the next datagram comes: median tag
 * 5.2 us there against 2.6 us for these 16 KiB; a per-byte H table beside a per-nibble H^2 one
 * (72 KiB) tags 7 % faster in a loop but lost as much again in bench/receive.ts to building it
 * at each key refresh. One block per step waits ~30 cycles per block for the previous product;
 * four per step measured no better than two. A tag of 1400 bytes now: ~1.1 us in a loop.
 * A key's tables are built here too (single-bit entries by shifting, the rest as xors: tables
 * are linear in v), paid every ~33 packets (GMAC key refresh every 45000 key positions).
 *
 * E(K, J0) and H = E(K, 0) are AES-128 blocks with 32-bit T-tables (aes128.ts's, read as
 * little-endian words).
 *
 * Memory: the key slots' tables, the AES tables and round keys, a few 16-byte blocks; at 64 KiB
 * the counter blocks, at 128 KiB the key stream window, then the packet (one zero block in front
 * of it for an odd block count; the memory grows for larger packets, and only this module keeps
 * views of it).
 */

import { AES_TABLES, expandKey } from './aes128.js';
import { uninitialized } from './bytes.js';
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
export const GMAC_SLOTS = 2;
/** Key stream bytes per window. */
export const KEY_STREAM_WINDOW = 1 << 16;
/** Bytes of one GHASH table: 32 nibble positions x 16 entries x 16 bytes. */
const TABLE = 32 * 16 * 16;
/** A slot: the H^2 table, then the H table. */
const SLOT_BYTES = 2 * TABLE;
const AES_ADDR = GMAC_SLOTS * SLOT_BYTES;
const SBOX_ADDR = AES_ADDR + 4 * 1024;
const RK_ADDR = SBOX_ADDR + 256;
const RK_BYTES = 176;
/** The GkCrypt iv that packet IVs and key stream counters count from. */
const IV_BASE_ADDR = RK_ADDR + GMAC_SLOTS * RK_BYTES;
/** The packet's IV block, then the length block [0]_64 || [128]_64: J0's GHASH input. */
const IV_ADDR = IV_BASE_ADDR + 16;
const E_ADDR = IV_ADDR + 32;
const Y_ADDR = E_ADDR + 16;
/** A zero block, then H: the GHASH input that yields H^2 (and the AES input for H). */
const H_ADDR = Y_ADDR + 16;
/** Where the GHASH loop stores each partial sum, only so that it is computed there (see kernelBody). */
const SINK_ADDR = H_ADDR + 32;
/** The GHASH loop's Y xor X1, whose bytes index the H^2 table. */
const YX_ADDR = SINK_ADDR + 16;
const CTR_ADDR = 1 << 16;
const WINDOW_ADDR = CTR_ADDR + KEY_STREAM_WINDOW;
/** The packet, after a block zeroed for inputs with an odd block count (GHASH goes two at a time). */
const DATA_ADDR = WINDOW_ADDR + KEY_STREAM_WINDOW + 16;
/** Room after a packet: its padding and length block, and the 16-byte steps' overrun. */
const DATA_SLACK = 48;

const x = (sub: number, ...imm: number[]): number[] => [op.simd, sub, ...imm];
const zero128 = (): number[] => [...i32c(0), ...x(simd.i8x16Splat)];
/** v128.store without the alignment hint. */
const storeUnaligned128 = (offset: number): number[] => [op.simd, simd.v128Store, 0, ...uleb(offset)];

/** The byte-swapped value of the i32 local l (WebAssembly has no bswap). */
function bswap32(l: number): number[] {
  const byteAt = (shl: number, mask: number, shr: number): number[] => [
    ...get(l),
    ...(shr ? [...i32c(shr), op.i32ShrU] : [...i32c(shl), op.i32Shl]),
    ...(mask ? [...i32c(mask), op.i32And] : []),
  ];
  return [
    ...byteAt(24, 0, 0),
    ...byteAt(8, 0xff0000, 0),
    op.i32Or,
    ...byteAt(0, 0xff00, 8),
    op.i32Or,
    ...byteAt(0, 0, 24),
    op.i32Or,
  ];
}

/**
 * k(start, end): GHASH steps over the blocks [start, end) (an even count) from the Y at Y_ADDR,
 * with the tables of the slot at `base` (a constant: one function per slot). Locals: 0 p, 1 end,
 * 2 y, 3-6 accumulators (v128), 7 byte.
 *
 * Every partial sum is also stored to SINK_ADDR: without a use there, V8's optimizing compiler
 * schedules all 64 loads of a step first and the xors last, and spills most loaded vectors to the
 * stack; the stores (one cheap instruction each) pin each xor to its load. Measured: a 1400-byte
 * tag 1.17 us against 1.33 us without them.
 */
function kernelBody(base: number): number[] {
  const [P, END, Y, B] = [0, 1, 2, 7];
  const ACC = [3, 4, 5, 6];
  const c: number[] = [...i32c(0), ...load128(Y_ADDR), ...set(Y)];
  c.push(op.block, VOID, ...get(P), ...get(END), op.i32GeU, op.brIf, 0, op.loop, VOID);
  // Y xor X1 goes through memory: a byte load each is cheaper than a lane extract (measured
  // ~2 % per tag)
  c.push(...i32c(0), ...get(Y), ...get(P), ...load128(0), ...x(simd.v128Xor), ...store128(YX_ADDR));
  let n = 0;
  const lookup = (index: number[], offset: number) => {
    c.push(...get(B), ...index, ...load128(offset));
    if (n >= 4) c.push(...get(ACC[n % 4]), ...x(simd.v128Xor));
    c.push(...set(ACC[n % 4]), ...i32c(0), ...get(ACC[n % 4]), ...store128(SINK_ADDR));
    n++;
  };
  for (let half = 0; half < 2; half++) {
    const table = base + half * TABLE;
    for (let j = 0; j < 16; j++) {
      // byte j of (Y xor X1) or of X2, read from memory; its high nibble is position 2j
      if (half === 0) c.push(...i32c(0), ...load8(YX_ADDR + j), ...set(B));
      else c.push(...get(P), ...load8(16 + j), ...set(B));
      lookup([...i32c(0xf0), op.i32And], table + 2 * j * 256);
      lookup([...i32c(0x0f), op.i32And, ...i32c(4), op.i32Shl], table + (2 * j + 1) * 256);
    }
  }
  c.push(...get(ACC[0]), ...get(ACC[1]), ...x(simd.v128Xor), ...get(ACC[2]), ...get(ACC[3]));
  c.push(...x(simd.v128Xor), ...x(simd.v128Xor), ...set(Y));
  c.push(...get(P), ...i32c(32), op.i32Add, ...tee(P), ...get(END), op.i32LtU, op.brIf, 0, op.end, op.end);
  c.push(...i32c(0), ...get(Y), ...store128(Y_ADDR), op.end);
  return [
    ...vec([
      [5, V128],
      [1, I32],
    ]),
    ...c,
  ];
}

/**
 * aes(rk, in, out): out = AES-128(in) with the round keys at rk (the schedule's words stored
 * big-endian, read little-endian, as the tables). Locals: 0 rk, 1 in, 2 out, 3-6 s, 7-10 t.
 */
function aesBody(): number[] {
  const [RK, IN, OUT] = [0, 1, 2];
  const S = [3, 4, 5, 6];
  const T = [7, 8, 9, 10];
  const c: number[] = [];
  for (let i = 0; i < 4; i++)
    c.push(...get(IN), ...load32(4 * i), ...get(RK), ...load32(4 * i), op.i32Xor, ...set(S[i]));
  // byte k of a column word times `scale` (a byte offset into a table of 1- or 4-byte entries)
  const index = (w: number, k: number, scale: number): number[] => {
    if (k === 0) return [...get(w), ...i32c(0xff), op.i32And, ...(scale > 1 ? [...i32c(2), op.i32Shl] : [])];
    const shift = 8 * k - (scale > 1 ? 2 : 0);
    if (k === 3 && scale === 1) return [...get(w), ...i32c(shift), op.i32ShrU];
    return [...get(w), ...i32c(shift), op.i32ShrU, ...i32c(0xff * scale), op.i32And];
  };
  for (let r = 1; r < 10; r++) {
    for (let col = 0; col < 4; col++) {
      for (let k = 0; k < 4; k++) {
        c.push(...index(S[(col + k) % 4], k, 4), ...load32(AES_ADDR + k * 1024));
        if (k > 0) c.push(op.i32Xor);
      }
      c.push(...get(RK), ...load32(16 * r + 4 * col), op.i32Xor, ...set(T[col]));
    }
    for (let i = 0; i < 4; i++) c.push(...get(T[i]), ...set(S[i]));
  }
  // last round: S-box bytes, no MixColumns
  for (let col = 0; col < 4; col++) {
    c.push(...get(OUT));
    for (let k = 0; k < 4; k++) {
      c.push(...index(S[(col + k) % 4], k, 1), ...load8(SBOX_ADDR));
      if (k > 0) c.push(...i32c(8 * k), op.i32Shl, op.i32Or);
    }
    c.push(...get(RK), ...load32(160 + 4 * col), op.i32Xor, ...store32(4 * col));
  }
  c.push(op.end);
  return [...vec([[8, I32]]), ...c];
}

/**
 * bits(table, v): a table's single-bit entries, H' * x^k for k = 0..127 with H' the block at v:
 * position k / 4, nibble value 8 >> (k % 4) (GCM numbers bits from the most significant end).
 * Multiplying by x shifts the block right by one bit and folds the bit shifted out back in as
 * 0xe1 in byte 0. Locals: 0 table, 1 v, 2 row, 3 value, 4 zero (v128).
 */
function bitsBody(): number[] {
  const [TB, V, ROW, VAL, Z] = [0, 1, 2, 3, 4];
  const c: number[] = [...zero128(), ...set(Z), ...get(V), ...load128(0), ...set(VAL)];
  c.push(...get(TB), ...set(ROW), op.loop, VOID);
  for (let j = 0; j < 4; j++) {
    c.push(...get(ROW), ...get(VAL), ...store128((8 >> j) * 16));
    // each byte's bits move right; byte i - 1's lowest bit becomes byte i's highest
    c.push(...get(VAL), ...i32c(1), ...x(simd.i8x16ShrU));
    c.push(...get(VAL), ...get(Z), ...x(simd.i8x16Shuffle, 16, ...Array.from({ length: 15 }, (_, i) => i)));
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
  c.push(...get(ROW), ...i32c(256), op.i32Add, ...tee(ROW), ...get(TB), ...i32c(TABLE), op.i32Add);
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
 * highest bit p of v, position by position. Locals: 0 the position's row, 1 T[p], 2 end.
 */
function fillBody(): number[] {
  const [ROW, TP, END] = [0, 1, 2];
  const c: number[] = [...get(ROW), ...i32c(TABLE), op.i32Add, ...set(END), op.loop, VOID];
  for (let p = 2; p < 16; p <<= 1) {
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
  c.push(...get(ROW), ...i32c(256), op.i32Add, ...tee(ROW), ...get(END), op.i32LtU, op.brIf, 0);
  c.push(op.end, op.end);
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
  // H^2 = (0 xor 0) * H^2 xor H * H: entry 0 of a table is never written, it stays zero
  c.push(...i32c(0), ...zero128(), ...store128(Y_ADDR));
  c.push(...i32c(H_ADDR), ...i32c(H_ADDR + 32), op.call, F_KERNEL[slot]);
  c.push(...i32c(base), ...i32c(Y_ADDR), op.call, F_BITS, ...i32c(base), op.call, F_FILL, op.end);
  return [...vec([]), ...c];
}

/** local = nHi * 2^32 + nLo (i64) from the i32 locals nLo, nHi. */
const joinI64 = (lo: number, hi: number, out: number): number[] => [
  ...get(lo),
  op.i64ExtendI32U,
  ...get(hi),
  op.i64ExtendI32U,
  op.i64Const,
  32,
  op.i64Shl,
  op.i64Or,
  ...set(out),
];

/**
 * tag_s(len, nLo, nHi): the tag (big-endian u32) of the len-byte packet at DATA_ADDR with IV =
 * iv + n (little-endian 128-bit add), n = nHi * 2^32 + nLo. Locals: 0 len, 1 nLo, 2 nHi,
 * 3 padded, 4 t, 5 n (i64), 6 lo (i64).
 */
function tagBody(slot: number): number[] {
  const [LEN, NLO, NHI, PADDED, TT, N, LO] = [0, 1, 2, 3, 4, 5, 6];
  const c: number[] = [...joinI64(NLO, NHI, N)];
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
  c.push(...get(LEN), ...zero128(), ...storeUnaligned128(DATA_ADDR));
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
  // start a block early when the block count (padded / 16 + 1) is odd, i.e. padded / 16 is even
  c.push(...i32c(DATA_ADDR), ...get(PADDED), ...i32c(4), op.i32ShrU, ...i32c(1), op.i32And);
  c.push(...i32c(4), op.i32Shl, ...i32c(16), op.i32Xor, op.i32Sub);
  c.push(...get(PADDED), ...i32c(DATA_ADDR + 16), op.i32Add, op.call, F_KERNEL[slot]);
  c.push(...i32c(0), ...load32(E_ADDR), ...i32c(0), ...load32(Y_ADDR), op.i32Xor, ...set(TT));
  c.push(...bswap32(TT), op.end);
  return [
    ...vec([
      [2, I32],
      [2, I64],
    ]),
    ...c,
  ];
}

/**
 * ctr(nLo, nHi, count): count counter blocks iv + n, iv + n + 1, ... at CTR_ADDR.
 * Locals: 0 nLo, 1 nHi, 2 count, 3 p, 4 end, 5 n, 6 lo, 7 hi (i64).
 */
function ctrBody(): number[] {
  const [NLO, NHI, COUNT, P, END, N, LO, HI] = [0, 1, 2, 3, 4, 5, 6, 7];
  const c: number[] = [...joinI64(NLO, NHI, N)];
  c.push(...i32c(0), ...load64(IV_BASE_ADDR), ...get(N), op.i64Add, ...set(LO));
  c.push(...i32c(0), ...load64(IV_BASE_ADDR + 8), ...get(LO), ...get(N), op.i64LtU, op.i64ExtendI32U);
  c.push(op.i64Add, ...set(HI));
  c.push(...i32c(CTR_ADDR), ...set(P), ...get(COUNT), ...i32c(4), op.i32Shl, ...i32c(CTR_ADDR), op.i32Add);
  c.push(...set(END), op.block, VOID, ...get(COUNT), op.i32Eqz, op.brIf, 0, op.loop, VOID);
  c.push(...get(P), ...get(LO), ...store64(0), ...get(P), ...get(HI), ...store64(8));
  // lo + 1, carrying into hi when it wraps to 0
  c.push(...get(HI), ...get(LO), op.i64Const, 1, op.i64Add, ...tee(LO), op.i64Eqz, op.i64ExtendI32U);
  c.push(op.i64Add, ...set(HI));
  c.push(...get(P), ...i32c(16), op.i32Add, ...tee(P), ...get(END), op.i32LtU, op.brIf, 0, op.end, op.end);
  c.push(op.end);
  return [
    ...vec([
      [2, I32],
      [3, I64],
    ]),
    ...c,
  ];
}

/** xor(dst, src, n): dst[0..n) ^= src[0..n), 16 bytes per step (reads and writes up to 15 past n). */
function xorBody(): number[] {
  const [DST, SRC, N, END] = [0, 1, 2, 3];
  const c: number[] = [...get(DST), ...get(N), op.i32Add, ...set(END)];
  c.push(op.block, VOID, ...get(N), op.i32Eqz, op.brIf, 0, op.loop, VOID);
  c.push(...get(DST), ...get(DST), ...load128(0), ...get(SRC), ...load128(0));
  c.push(...x(simd.v128Xor), ...store128(0));
  c.push(...get(SRC), ...i32c(16), op.i32Add, ...set(SRC));
  c.push(...get(DST), ...i32c(16), op.i32Add, ...tee(DST), ...get(END), op.i32LtU, op.brIf, 0);
  c.push(op.end, op.end, op.end);
  return [...vec([[1, I32]]), ...c];
}

function buildModule(): Uint8Array {
  const pair = (name: string, params: number[], body: (slot: number) => number[], results?: number[]) =>
    [0, 1].map((s) => ({ name: `${name}${s}`, params, results, body: body(s) }));
  return wasmModule({
    name: 'gkcrypt',
    functions: [
      ...pair('k', [I32, I32], (s) => kernelBody(s * SLOT_BYTES)),
      { name: 'aes', params: [I32, I32, I32], body: aesBody() },
      { name: 'bits', params: [I32, I32], body: bitsBody() },
      { name: 'fill', params: [I32], body: fillBody() },
      ...pair('setKey', [], setKeyBody),
      ...pair('tag', [I32, I32, I32], tagBody, [I32]),
      { name: 'ctr', params: [I32, I32, I32], body: ctrBody() },
      { name: 'xor', params: [I32, I32, I32], body: xorBody() },
    ],
    pages: Math.ceil((DATA_ADDR + 2048) / PAGE),
  });
}

let compiled: object | undefined;

type TagFn = (len: number, nLo: number, nHi: number) => number;

interface Exports {
  setKey0(): void;
  setKey1(): void;
  tag0: TagFn;
  tag1: TagFn;
  ctr(nLo: number, nHi: number, count: number): void;
  xor(dst: number, src: number, n: number): void;
  mem: WasmMemory;
}

const TWO32 = 0x1_0000_0000;
/** Plaintext is handed out as views of arenas this large (a new one when full). */
const ARENA_BYTES = 1 << 16;

/**
 * The WebAssembly half of a GkCrypt: GMAC_SLOTS tag keys (setKey, tag) and a key stream window
 * (counters, setWindow, decrypt). Positions here are GkCrypt's: window offsets in bytes, counter
 * numbers in 16-byte blocks from iv.
 */
export class GkCryptWasm {
  private readonly ex: Exports;
  private bytes: Uint8Array;
  private readonly setKeys: (() => void)[];
  private readonly tags: TagFn[];
  /** The packet tag() copied in last (the caller's array object), and its zeroed fields. */
  private staged: Uint8Array | undefined;
  private stagedZero = -1;
  private stagedZero2 = -1;
  private arena: Uint8Array = new Uint8Array(0);
  private arenaAt = 0;
  /** setKey()'s key schedule, reused: one is made every ~33 packets. */
  private readonly roundKeys = new Int32Array(44);

  /** iv: the 16 bytes every packet IV and key stream counter is counted from. */
  constructor(iv: Uint8Array) {
    compiled ??= compileWasm(buildModule());
    this.ex = instantiateWasm(compiled) as Exports;
    this.bytes = new Uint8Array(this.ex.mem.buffer);
    this.setKeys = [this.ex.setKey0, this.ex.setKey1];
    this.tags = [this.ex.tag0, this.ex.tag1];
    const dv = new DataView(this.ex.mem.buffer);
    // big-endian words stored as bytes are the little-endian words the module reads
    for (let k = 0; k < 4; k++)
      for (let i = 0; i < 256; i++) dv.setInt32(AES_ADDR + k * 1024 + i * 4, AES_TABLES.t[k][i], false);
    this.bytes.set(AES_TABLES.sbox, SBOX_ADDR);
    this.bytes.set(iv.subarray(0, 16), IV_BASE_ADDR);
    this.bytes[IV_ADDR + 31] = 128;
  }

  /** Makes `key` (16 bytes) the GMAC key of slot. */
  setKey(slot: number, key: Uint8Array): void {
    const rk = this.roundKeys;
    expandKey(key, rk);
    const dv = new DataView(this.ex.mem.buffer);
    const at = RK_ADDR + slot * RK_BYTES;
    for (let i = 0; i < 44; i++) dv.setInt32(at + 4 * i, rk[i], false);
    this.setKeys[slot]();
  }

  /**
   * The 4-byte tag (big-endian u32) of AES-128-GCM with slot's key, IV = iv + n and AAD = data,
   * computed as if data's 4 bytes at zeroAt and at zeroAt2 (each when >= 0) were zero. Copies
   * data into the module (decrypt() may use that copy); never modifies it.
   */
  tag(slot: number, data: Uint8Array, n: number, zeroAt = -1, zeroAt2 = -1): number {
    const m = this.stage(data);
    const len = data.length;
    if (zeroAt >= 0) for (let i = zeroAt; i < zeroAt + 4 && i < len; i++) m[DATA_ADDR + i] = 0;
    if (zeroAt2 >= 0) for (let i = zeroAt2; i < zeroAt2 + 4 && i < len; i++) m[DATA_ADDR + i] = 0;
    this.stagedZero = zeroAt;
    this.stagedZero2 = zeroAt2;
    return this.tags[slot](len, n % TWO32, Math.floor(n / TWO32)) >>> 0;
  }

  /** The counter blocks iv + n .. iv + n + count - 1 (count <= KEY_STREAM_WINDOW / 16), to encrypt. */
  counters(n: number, count: number): Uint8Array {
    this.ex.ctr(n % TWO32, Math.floor(n / TWO32), count);
    return this.bytes.subarray(CTR_ADDR, CTR_ADDR + count * 16);
  }

  /** Makes ks (at most KEY_STREAM_WINDOW bytes) the key stream window. */
  setWindow(ks: Uint8Array): void {
    this.bytes.set(ks, WINDOW_ADDR);
  }

  /**
   * data[from..] xor the window's bytes from offset `at` (at + length <= the window's length), as
   * a view of an arena: stable, never reused. From the copy tag() made when data is the array
   * tagged last and the range misses its zeroed fields; never modifies data.
   */
  decrypt(data: Uint8Array, from: number, at: number): Uint8Array {
    const len = data.length - from;
    let src: number;
    if (
      data === this.staged &&
      !overlaps(from, len, this.stagedZero) &&
      !overlaps(from, len, this.stagedZero2)
    )
      src = DATA_ADDR + from;
    else {
      this.stage(data);
      src = DATA_ADDR + from;
    }
    this.ex.xor(src, WINDOW_ADDR + at, len);
    if (this.arenaAt + len > this.arena.length) {
      // every byte handed out is written first
      this.arena = uninitialized(Math.max(ARENA_BYTES, len));
      this.arenaAt = 0;
    }
    const o = this.arenaAt;
    const out = this.arena.subarray(o, o + len);
    out.set(this.bytes.subarray(src, src + len));
    this.arenaAt = o + len;
    // the staged bytes are plaintext now: no second decrypt from them
    this.staged = undefined;
    return out;
  }

  /** Copies data to DATA_ADDR (growing the memory for a large one) and remembers where it came from. */
  private stage(data: Uint8Array): Uint8Array {
    const len = data.length;
    if (DATA_ADDR + len + DATA_SLACK > this.bytes.length) {
      this.ex.mem.grow(Math.ceil((DATA_ADDR + len + DATA_SLACK - this.bytes.length) / PAGE));
      this.bytes = new Uint8Array(this.ex.mem.buffer);
    }
    this.bytes.set(data, DATA_ADDR);
    this.staged = data;
    this.stagedZero = -1;
    this.stagedZero2 = -1;
    return this.bytes;
  }
}

/** [off, off + len) meets the 4-byte field at `field` (none when field < 0). */
const overlaps = (off: number, len: number, field: number): boolean =>
  field >= 0 && off < field + 4 && field < off + len;
