/**
 * Video FEC: systematic Reed-Solomon with a Cauchy coding matrix over GF(2^8), polynomial 0x11d
 * (docs/protocol.md §7). FEC unit i (0 <= i < m) = sum over source units j of C[i][j] * source_j with
 * C[i][j] = 1 / (i XOR (m + j)) — the "original" Cauchy construction with w = 8 that the console
 * uses. All units of one frame have the same (zero-padded) size.
 *
 * Speed: encoding (the simulator's side) uses one 64 KiB table holding the product of every
 * coefficient with every byte, four lookups per 32-bit word. Decoding (the receive path) runs in
 * a small WebAssembly SIMD module, 16 bytes per step (see "decoding in WebAssembly SIMD" below):
 * it took FEC from ~11 % to ~3 % of bench/receive.ts's profile.
 */
import { ParseError } from './errors.js';
import {
  compileWasm,
  get,
  I32,
  i32c,
  instantiateWasm,
  load128,
  op,
  PAGE,
  set,
  simd,
  store128,
  tee,
  V128,
  VOID,
  vec,
  type WasmMemory,
  wasmModule,
} from './wasm.js';

/** Fewer than k units of a frame survived (or the unit set is malformed): the frame is lost. */
export class FecError extends ParseError {
  constructor(message: string) {
    super('fec', message);
  }
}

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  // Doubled so exp[log a + log b] needs no modulo.
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255];
}

export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[LOG[a] + LOG[b]];
}

export function gfInv(a: number): number {
  if (a === 0) throw new FecError('division by zero in GF(256)');
  return EXP[255 - LOG[a]];
}

/** MUL[c * 256 + x] = c * x. */
const MUL = new Uint8Array(256 * 256);
for (let c = 1; c < 256; c++) for (let x = 1; x < 256; x++) MUL[c * 256 + x] = EXP[LOG[c] + LOG[x]];

/** Cauchy coding matrix, m rows of k coefficients, row-major. */
export function cauchyMatrix(k: number, m: number): Uint8Array {
  checkShape(k, m);
  const mat = new Uint8Array(m * k);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) mat[i * k + j] = gfInv(i ^ (m + j));
  return mat;
}

function checkShape(k: number, m: number): void {
  if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || m < 1 || k + m > 256)
    throw new FecError(`unsupported code shape k=${k} m=${m} (need k >= 1, m >= 1, k + m <= 256)`);
}

/** A unit with its 32-bit word view (when 4-byte aligned), made once per unit, not per use. */
interface Lane {
  b: Uint8Array;
  w: Uint32Array | undefined;
}

function lane(b: Uint8Array): Lane {
  return {
    b,
    w: (b.byteOffset & 3) === 0 ? new Uint32Array(b.buffer, b.byteOffset, b.length >> 2) : undefined,
  };
}

/**
 * dst ^= c * src. On aligned units the loop works on 32-bit words (four table lookups, one load
 * and one store per word), 2-3x faster than byte by byte; byte lanes are independent, so host
 * endianness does not matter.
 */
function mulAdd(dst: Lane, src: Lane, c: number): void {
  const d = dst.b;
  const s = src.b;
  const n = d.length;
  let i = 0;
  const base = c << 8;
  const d32 = dst.w;
  const s32 = src.w;
  if (d32 && s32) {
    const words = d32.length;
    if (c === 1) for (let w = 0; w < words; w++) d32[w] ^= s32[w];
    else
      for (let w = 0; w < words; w++) {
        const x = s32[w];
        d32[w] ^=
          MUL[base | (x & 0xff)] |
          (MUL[base | ((x >>> 8) & 0xff)] << 8) |
          (MUL[base | ((x >>> 16) & 0xff)] << 16) |
          (MUL[base | (x >>> 24)] << 24);
      }
    i = words << 2;
  }
  for (; i < n; i++) d[i] ^= MUL[base | s[i]];
}

/** The m FEC units for k equal-size source units. */
export function fecEncode(sources: Uint8Array[], m: number): Uint8Array[] {
  const k = sources.length;
  checkShape(k, m);
  const size = sources[0].length;
  for (const s of sources) if (s.length !== size) throw new FecError('source units differ in size');
  const mat = cauchyMatrix(k, m);
  const src = sources.map(lane);
  const out: Uint8Array[] = [];
  for (let i = 0; i < m; i++) {
    const unit = lane(new Uint8Array(size));
    for (let j = 0; j < k; j++) mulAdd(unit, src[j], mat[i * k + j]);
    out.push(unit.b);
  }
  return out;
}

/** Inverts a k x k matrix in place-copy by Gauss-Jordan elimination; throws when singular. */
function invert(a: Uint8Array, k: number): Uint8Array {
  const inv = new Uint8Array(k * k);
  for (let i = 0; i < k; i++) inv[i * k + i] = 1;
  for (let col = 0; col < k; col++) {
    let pivot = col;
    while (pivot < k && a[pivot * k + col] === 0) pivot++;
    if (pivot === k) throw new FecError('decoding matrix is singular');
    if (pivot !== col) {
      for (let j = 0; j < k; j++) {
        let t = a[col * k + j];
        a[col * k + j] = a[pivot * k + j];
        a[pivot * k + j] = t;
        t = inv[col * k + j];
        inv[col * k + j] = inv[pivot * k + j];
        inv[pivot * k + j] = t;
      }
    }
    const f = gfInv(a[col * k + col]);
    if (f !== 1) {
      for (let j = 0; j < k; j++) {
        a[col * k + j] = gfMul(a[col * k + j], f);
        inv[col * k + j] = gfMul(inv[col * k + j], f);
      }
    }
    for (let r = 0; r < k; r++) {
      const g = a[r * k + col];
      if (r === col || g === 0) continue;
      for (let j = 0; j < k; j++) {
        a[r * k + j] ^= gfMul(g, a[col * k + j]);
        inv[r * k + j] ^= gfMul(g, inv[col * k + j]);
      }
    }
  }
  return inv;
}

/**
 * Restores the k source units from `units` (k source then m FEC units; undefined = lost).
 * Present source units are returned as given (not copied); recovered ones are new arrays.
 * Throws FecError when fewer than k units survive or the surviving units differ in size.
 */
export function fecDecode(units: (Uint8Array | undefined)[], k: number, m: number): Uint8Array[] {
  checkShape(k, m);
  if (units.length !== k + m) throw new FecError(`expected ${k + m} unit slots, got ${units.length}`);
  const survivors: number[] = [];
  let size = -1;
  for (let i = 0; i < k + m && survivors.length < k; i++) {
    const u = units[i];
    if (u === undefined) continue;
    if (size < 0) size = u.length;
    else if (u.length !== size) throw new FecError(`unit ${i} is ${u.length} bytes, expected ${size}`);
    survivors.push(i);
  }
  if (survivors.length < k)
    throw new FecError(
      `only ${survivors.length} of ${k + m} units arrived, ${k} needed to rebuild the frame`,
    );
  const missing: number[] = [];
  for (let j = 0; j < k; j++) if (units[j] === undefined) missing.push(j);
  if (missing.length === 0) return units.slice(0, k) as Uint8Array[];

  // With e source units missing, take e surviving FEC rows. Their syndromes (FEC unit minus the
  // known sources' contribution) equal C[rows][missing] * missing, an e x e system: only that
  // small matrix is inverted, so the cost is ~e * k unit operations plus O(e^3) field math.
  const e = missing.length;
  const rows = survivors.filter((u) => u >= k).slice(0, e);
  // the coding matrix's entries as needed: C[i][j] = 1 / (i XOR (m + j)), never 0 (i < m)
  const coef = (unit: number, j: number) => gfInv((unit - k) ^ (m + j));
  const isMissing = new Uint8Array(k);
  for (const j of missing) isMissing[j] = 1;
  const a = new Uint8Array(e * e);
  for (let r = 0; r < e; r++) for (let c = 0; c < e; c++) a[r * e + c] = coef(rows[r], missing[c]);
  const inv = invert(a, e);
  const out = units.slice(0, k) as Uint8Array[];
  if (size === 0) {
    for (const j of missing) out[j] = new Uint8Array(0);
    return out;
  }
  const w = simdWorkspace();
  // unit slots: k sources (the missing ones left as they are: their coefficient is 0), then
  // e syndromes, then e outputs
  const stride = (size + 15) & ~15;
  const mem = w.room(UNITS_ADDR + (k + 2 * e) * stride);
  const syn = UNITS_ADDR + k * stride;
  const dst = syn + e * stride;
  for (let j = 0; j < k; j++) if (!isMissing[j]) mem.set(units[j] as Uint8Array, UNITS_ADDR + j * stride);
  for (let r = 0; r < e; r++) {
    for (let j = 0; j < k; j++) mem[COEF_ADDR + j] = isMissing[j] ? 0 : coef(rows[r], j);
    mem.set(units[rows[r]] as Uint8Array, syn + r * stride);
    w.ex.mulAddRows(syn + r * stride, UNITS_ADDR, stride, k, COEF_ADDR, stride);
  }
  mem.fill(0, dst, dst + e * stride);
  for (let r = 0; r < e; r++) {
    for (let c = 0; c < e; c++) mem[COEF_ADDR + c] = inv[r * e + c];
    w.ex.mulAddRows(dst + r * stride, syn, stride, e, COEF_ADDR, stride);
    out[missing[r]] = mem.slice(dst + r * stride, dst + r * stride + size);
  }
  return out;
}

// --- decoding in WebAssembly SIMD ---
//
// c * x for every byte x of a 16-byte vector is two 16-entry lookups (i8x16.swizzle), one for
// each nibble: c * x = c * (x & 15) xor c * (x & 0xf0), GF multiplication being linear. The 256
// coefficients' nibble tables (32 bytes each) sit at address 0. Measured against the 32-bit-word
// table loop (mulAdd above, which encoding keeps), 1400-byte units, CPU time, 2026-11-22:
// k=30 m=3, 3 lost: 160-280 us -> 18-27 us per frame; k=60 m=6, 6 lost: 740-760 -> 68-117 us.

/** Coefficients of one mulAddRows call. */
const COEF_ADDR = 256 * 32;
/** Unit slots start here (16-byte aligned). */
const UNITS_ADDR = COEF_ADDR + 256;

/**
 * mulAddRows(dst, src, stride, count, coefs, n): for t < count,
 * dst[0..n) ^= coefs[t] * src_t[0..n) where src_t = src + t * stride; n a multiple of 16, > 0.
 * Locals: 0 dst, 1 src, 2 stride, 3 count, 4 coefs, 5 n, 6 lo, 7 hi, 8 mask, 9 s (v128),
 * 10 d, 11 p, 12 end, 13 t, 14 tab (i32).
 */
function mulAddRowsBody(): number[] {
  const [DST, SRC, STRIDE, COUNT, COEFS, N, LO, HI, MASK, S, D, P, END, T, TAB] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
  ];
  const x = (sub: number) => [op.simd, sub];
  const c: number[] = [];
  c.push(...i32c(15), ...x(simd.i8x16Splat), ...set(MASK));
  c.push(...get(DST), ...get(N), op.i32Add, ...set(END));
  c.push(...i32c(0), ...set(T));
  c.push(op.block, VOID, ...get(COUNT), op.i32Eqz, op.brIf, 0);
  c.push(op.loop, VOID);
  // this row's nibble tables
  c.push(...get(COEFS), ...get(T), op.i32Add, op.i32Load8U, 0, 0, ...i32c(5), op.i32Shl, ...tee(TAB));
  c.push(...load128(0), ...set(LO), ...get(TAB), ...load128(16), ...set(HI));
  c.push(...get(DST), ...set(D), ...get(SRC), ...get(T), ...get(STRIDE), op.i32Mul, op.i32Add, ...set(P));
  c.push(op.loop, VOID);
  // *d = *d ^ swizzle(lo, s & 15) ^ swizzle(hi, s >> 4)
  c.push(...get(D), ...get(D), ...load128(0));
  c.push(
    ...get(LO),
    ...get(P),
    ...load128(0),
    ...tee(S),
    ...get(MASK),
    ...x(simd.v128And),
    ...x(simd.i8x16Swizzle),
  );
  c.push(...get(HI), ...get(S), ...i32c(4), ...x(simd.i8x16ShrU), ...x(simd.i8x16Swizzle));
  c.push(...x(simd.v128Xor), ...x(simd.v128Xor), ...store128(0));
  c.push(...get(P), ...i32c(16), op.i32Add, ...set(P));
  c.push(...get(D), ...i32c(16), op.i32Add, ...tee(D), ...get(END), op.i32LtU, op.brIf, 0, op.end);
  c.push(...get(T), ...i32c(1), op.i32Add, ...tee(T), ...get(COUNT), op.i32LtU, op.brIf, 0, op.end);
  c.push(op.end, op.end);
  return [
    ...vec([
      [4, V128],
      [5, I32],
    ]),
    ...c,
  ];
}

interface SimdExports {
  mulAddRows(dst: number, src: number, stride: number, count: number, coefs: number, n: number): void;
  mem: WasmMemory;
}

class SimdWorkspace {
  readonly ex: SimdExports;
  private bytes: Uint8Array;

  constructor() {
    const bytes = wasmModule({
      name: 'fec',
      functions: [{ name: 'mulAddRows', params: [I32, I32, I32, I32, I32, I32], body: mulAddRowsBody() }],
      pages: 1,
    });
    this.ex = instantiateWasm(compileWasm(bytes)) as SimdExports;
    this.bytes = new Uint8Array(this.ex.mem.buffer);
    for (let cf = 0; cf < 256; cf++)
      for (let v = 0; v < 16; v++) {
        this.bytes[cf * 32 + v] = MUL[(cf << 8) | v];
        this.bytes[cf * 32 + 16 + v] = MUL[(cf << 8) | (v << 4)];
      }
  }

  /** The memory, grown to at least n bytes (views of it go stale when it grows). */
  room(n: number): Uint8Array {
    const have = this.ex.mem.buffer.byteLength;
    if (n > have) this.ex.mem.grow(Math.ceil((n - have) / PAGE));
    if (this.bytes.buffer !== this.ex.mem.buffer) this.bytes = new Uint8Array(this.ex.mem.buffer);
    return this.bytes;
  }
}

let workspace: SimdWorkspace | undefined;
const simdWorkspace = (): SimdWorkspace => {
  workspace ??= new SimdWorkspace();
  return workspace;
};

/**
 * Builds the decoder's WebAssembly module (a few ms, once per process) now: a receiver calls it
 * when the stream starts, so the first lost unit is not also the slowest.
 */
export function prepareFecDecoder(): void {
  simdWorkspace();
}
