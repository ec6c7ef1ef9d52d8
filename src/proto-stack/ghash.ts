/**
 * GHASH (the authenticator half of AES-GCM, NIST SP 800-38D §6.4) in a small hand-assembled
 * WebAssembly module, so the 4-byte GMAC of every received packet (docs/protocol.md §6) costs no
 * per-packet cipher object: gkcrypt computes tag = E(K, J0) xor GHASH(H, AAD) itself, with the
 * per-key H and tables cached.
 *
 * Method: multiplication by a fixed H with one 256-entry table per byte position (16 x 256 x
 * 16 bytes = 64 KiB per key): X * H = xor over i of T_i[X_i], where T_i[b] is the product of H
 * with the byte b placed at position i. No shifts or reductions per block: 16 lookups and xors.
 * Entries are kept in GCM byte order and loaded as little-endian i64 pairs, which is the same
 * byte order as a block loaded straight from memory, so no byte swapping is needed anywhere.
 * The tables are linear in b: JS writes the 128 single-bit entries (H * x^k), the module fills
 * the other entries as T[v] = T[v & (v - 1)] xor T[v & -v].
 * Measured against 4-bit tables (32 x 16 entries, 8 KiB, twice the lookups): a 1400-byte tag
 * took 2.5-2.9 us here against 3.7-4.3 us (CPU time, Node 20, 2026-11-22), key refreshes
 * included, so the larger tables win despite their ~20 us build per GMAC key. A SIMD variant
 * (v128 entries, lane extracts: a third of the instructions) measured the same: the table
 * lookups (L2, the tables exceed L1), not the instruction count, bound the loop.
 *
 * Memory: SLOTS tables of 64 KiB each, then the 16-byte GHASH state Y, then an input area.
 */

import {
  compileWasm,
  get,
  I32,
  I64,
  i32c,
  instantiateWasm,
  load64,
  op,
  PAGE,
  set,
  sleb,
  store64,
  tee,
  VOID,
  vec,
  type WasmMemory,
  wasmModule,
} from './wasm.js';

const TABLE_BYTES = 1 << 16;
/** Table slots per instance: the current GMAC key and one older one (reordered packets). */
export const GHASH_SLOTS = 2;
const Y_ADDR = GHASH_SLOTS * TABLE_BYTES;
/** J0 as gmac() leaves it. */
const J0_ADDR = Y_ADDR + 16;
/** The IV block and its length block. */
const IV_ADDR = Y_ADDR + 32;
/** The AAD, padded, and its length block. */
const IN_ADDR = Y_ADDR + 64;

/**
 * ghash(table, p, end): Y = (Y xor block) * H for each 16-byte block in [p, end), with H's
 * tables at `table`. Locals: 0 table, 1 p, 2 end, 3 ya, 4 yb, 5 xa, 6 xb, 7 za, 8 zb, 9 a.
 */
function ghashBody(): number[] {
  const [TB, P, END, YA, YB, XA, XB, ZA, ZB, A] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const code: number[] = [];
  code.push(...i32c(0), ...load64(Y_ADDR), ...set(YA), ...i32c(0), ...load64(Y_ADDR + 8), ...set(YB));
  code.push(op.block, VOID, ...get(P), ...get(END), op.i32GeU, op.brIf, 0);
  code.push(op.loop, VOID);
  code.push(...get(P), ...load64(0), ...get(YA), op.i64Xor, ...set(XA));
  code.push(...get(P), ...load64(8), ...get(YB), op.i64Xor, ...set(XB));
  for (let i = 0; i < 16; i++) {
    const x = i < 8 ? XA : XB;
    const shift = (i % 8) * 8;
    // a = table + (byte i of X) * 16; the position's table is the load offset i * 4096
    code.push(...get(x));
    if (shift) code.push(op.i64Const, ...sleb(shift), op.i64ShrU);
    code.push(
      op.i32WrapI64,
      ...i32c(0xff),
      op.i32And,
      ...i32c(4),
      op.i32Shl,
      ...get(TB),
      op.i32Or,
      ...tee(A),
    );
    if (i === 0) {
      code.push(...load64(0), ...set(ZA), ...get(A), ...load64(8), ...set(ZB));
    } else {
      code.push(...load64(i * 4096), ...get(ZA), op.i64Xor, ...set(ZA));
      code.push(...get(A), ...load64(i * 4096 + 8), ...get(ZB), op.i64Xor, ...set(ZB));
    }
  }
  code.push(...get(ZA), ...set(YA), ...get(ZB), ...set(YB));
  code.push(...get(P), ...i32c(16), op.i32Add, ...tee(P), ...get(END), op.i32LtU, op.brIf, 0);
  code.push(op.end, op.end);
  code.push(...i32c(0), ...get(YA), ...store64(Y_ADDR), ...i32c(0), ...get(YB), ...store64(Y_ADDR + 8));
  code.push(op.end);
  return [
    ...vec([
      [6, I64],
      [1, I32],
    ]),
    ...code,
  ];
}

/**
 * fill(table): completes a table whose single-bit entries are set. Locals: 0 table, 1 pos
 * (position's table), 2 v, 3 d.
 */
function fillBody(): number[] {
  const [TB, POS, V, D] = [0, 1, 2, 3];
  const code: number[] = [];
  code.push(...get(TB), ...set(POS));
  code.push(op.loop, VOID, ...i32c(1), ...set(V));
  code.push(op.loop, VOID);
  // d = pos + v * 16; T[v] = T[v & (v - 1)] ^ T[v & -v], both halves
  code.push(...get(POS), ...get(V), ...i32c(4), op.i32Shl, op.i32Add, ...set(D));
  for (const half of [0, 8]) {
    code.push(...get(D));
    code.push(...get(POS), ...get(V), ...get(V), ...i32c(1), op.i32Sub, op.i32And, ...i32c(4), op.i32Shl);
    code.push(op.i32Add, ...load64(half));
    code.push(...get(POS), ...get(V), ...i32c(0), ...get(V), op.i32Sub, op.i32And, ...i32c(4), op.i32Shl);
    code.push(op.i32Add, ...load64(half), op.i64Xor, ...store64(half));
  }
  code.push(...get(V), ...i32c(1), op.i32Add, ...tee(V), ...i32c(256), op.i32Ne, op.brIf, 0, op.end);
  code.push(...get(POS), ...i32c(4096), op.i32Add, ...tee(POS), ...get(TB), ...i32c(TABLE_BYTES), op.i32Add);
  code.push(op.i32LtU, op.brIf, 0, op.end, op.end);
  return [...vec([[3, I32]]), ...code];
}

/**
 * gmac(table, p, end): J0 = GHASH(the 32 bytes at IV_ADDR) to J0_ADDR, then Y = GHASH([p, end)),
 * both from Y = 0: the two hashes of a tag in one call from JS.
 */
function gmacBody(): number[] {
  const [TB, P, END] = [0, 1, 2];
  const zeroY = [
    ...i32c(0),
    op.i64Const,
    0,
    ...store64(Y_ADDR),
    ...i32c(0),
    op.i64Const,
    0,
    ...store64(Y_ADDR + 8),
  ];
  const code: number[] = [...zeroY];
  code.push(...get(TB), ...i32c(IV_ADDR), ...i32c(IV_ADDR + 32), op.call, 0);
  code.push(...i32c(0), ...i32c(0), ...load64(Y_ADDR), ...store64(J0_ADDR));
  code.push(...i32c(0), ...i32c(0), ...load64(Y_ADDR + 8), ...store64(J0_ADDR + 8));
  code.push(...zeroY, ...get(TB), ...get(P), ...get(END), op.call, 0, op.end);
  return [...vec([]), ...code];
}

function buildModule(): Uint8Array {
  return wasmModule({
    functions: [
      { name: 'ghash', params: [I32, I32, I32], body: ghashBody() }, // ghash(table, p, end)
      { name: 'fill', params: [I32], body: fillBody() }, // fill(table)
      { name: 'gmac', params: [I32, I32, I32], body: gmacBody() }, // gmac(table, p, end)
    ],
    pages: Math.ceil((IN_ADDR + 2048) / PAGE),
  });
}

let compiled: object | undefined;

interface GhashExports {
  fill(table: number): void;
  gmac(table: number, p: number, end: number): void;
  mem: WasmMemory;
}

/**
 * GHASH_SLOTS key tables and the GHASH state, for GCM with a 16-byte IV and no ciphertext (a
 * GMAC). Usage: setKey(slot, H); then per message gmac(slot, IV, data).
 */
export class Ghash {
  private readonly ex: GhashExports;
  private bytes: Uint8Array;
  private dv: DataView;
  /** J0 of the last gmac() call, as big-endian words. */
  readonly words = new Int32Array(4);

  constructor() {
    compiled ??= compileWasm(buildModule());
    this.ex = instantiateWasm(compiled) as GhashExports;
    this.bytes = new Uint8Array(this.ex.mem.buffer);
    this.dv = new DataView(this.ex.mem.buffer);
  }

  /** Builds slot's tables for the hash key H = E(K, 0^128), given as big-endian words. */
  setKey(slot: number, h0: number, h1: number, h2: number, h3: number): void {
    const base = slot * TABLE_BYTES;
    const dv = this.dv;
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    // every entry but T_i[0] is written below; those stay zero from the module's start
    // H * x^k for k = 0..127 goes to position k / 8, byte value 0x80 >> (k % 8) (GCM numbers
    // bits from the most significant end); multiplying by x is a right shift with reduction
    for (let k = 0; k < 128; k++) {
      const at = base + (k >>> 3) * 4096 + (0x80 >>> (k & 7)) * 16;
      dv.setInt32(at, a, false);
      dv.setInt32(at + 4, b, false);
      dv.setInt32(at + 8, c, false);
      dv.setInt32(at + 12, d, false);
      const carry = d & 1;
      d = (d >>> 1) | (c << 31);
      c = (c >>> 1) | (b << 31);
      b = (b >>> 1) | (a << 31);
      a = (a >>> 1) ^ (carry ? 0xe1000000 : 0);
    }
    this.ex.fill(base);
  }

  /**
   * The two GHASHes of a GMAC with a 16-byte IV (big-endian words w0..w3) and AAD = data:
   * J0 = GHASH(IV || 0^64 || [128]_64), left as big-endian words in this.words; and the result,
   * the first 4 bytes (big-endian u32) of GHASH(data zero-padded || [bits(data)]_64 || 0^64),
   * computed as if data's 4 bytes at zeroAt and at zeroAt2 (each when >= 0) were zero. Copies
   * data into the module; never modifies it.
   */
  gmac(
    slot: number,
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    data: Uint8Array,
    zeroAt = -1,
    zeroAt2 = -1,
  ): number {
    const len = data.length;
    const padded = (len + 15) & ~15;
    this.room(padded + 16);
    const m = this.bytes;
    const dv = this.dv;
    dv.setInt32(IV_ADDR, w0, false);
    dv.setInt32(IV_ADDR + 4, w1, false);
    dv.setInt32(IV_ADDR + 8, w2, false);
    dv.setInt32(IV_ADDR + 12, w3, false);
    dv.setInt32(IV_ADDR + 16, 0, false);
    dv.setInt32(IV_ADDR + 20, 0, false);
    dv.setInt32(IV_ADDR + 24, 0, false);
    dv.setInt32(IV_ADDR + 28, 128, false);
    m.set(data, IN_ADDR);
    // short ranges zeroed in loops: the fill() calls took as many profile samples as the copy
    for (let i = IN_ADDR + len; i < IN_ADDR + padded + 16; i++) m[i] = 0;
    if (zeroAt >= 0) for (let i = zeroAt; i < zeroAt + 4 && i < len; i++) m[IN_ADDR + i] = 0;
    if (zeroAt2 >= 0) for (let i = zeroAt2; i < zeroAt2 + 4 && i < len; i++) m[IN_ADDR + i] = 0;
    const bits = len * 8;
    dv.setUint32(IN_ADDR + padded, Math.floor(bits / 0x1_0000_0000), false);
    dv.setUint32(IN_ADDR + padded + 4, bits >>> 0, false);
    this.ex.gmac(slot * TABLE_BYTES, IN_ADDR, IN_ADDR + padded + 16);
    const w = this.words;
    w[0] = dv.getInt32(J0_ADDR, false);
    w[1] = dv.getInt32(J0_ADDR + 4, false);
    w[2] = dv.getInt32(J0_ADDR + 8, false);
    w[3] = dv.getInt32(J0_ADDR + 12, false);
    return dv.getUint32(Y_ADDR, false);
  }

  private room(n: number): void {
    const need = IN_ADDR + n;
    const have = this.ex.mem.buffer.byteLength;
    if (need <= have) return;
    this.ex.mem.grow(Math.ceil((need - have) / PAGE));
    this.bytes = new Uint8Array(this.ex.mem.buffer);
    this.dv = new DataView(this.ex.mem.buffer);
  }
}
