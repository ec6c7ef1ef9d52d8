/**
 * Video FEC: systematic Reed-Solomon with a Cauchy coding matrix over GF(2^8), polynomial 0x11d
 * (PROTOCOL §7). FEC unit i (0 <= i < m) = sum over source units j of C[i][j] * source_j with
 * C[i][j] = 1 / (i XOR (m + j)) — the "original" Cauchy construction with w = 8 that the console
 * uses. All units of one frame have the same (zero-padded) size.
 *
 * Speed: one 64 KiB table holds the product of every coefficient with every byte, so the inner
 * loop is a table lookup + XOR per byte (`dst[i] ^= row[src[i]]`).
 */
import { ParseError } from '../errors.js';

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
  const coding = cauchyMatrix(k, m);
  const isMissing = new Uint8Array(k);
  for (const j of missing) isMissing[j] = 1;
  const known = units.map((u, j) => (u !== undefined && (j >= k || !isMissing[j]) ? lane(u) : undefined));
  const syndromes = rows.map((unit) => {
    const row = (unit - k) * k;
    const syn = lane((units[unit] as Uint8Array).slice());
    for (let j = 0; j < k; j++) if (!isMissing[j]) mulAdd(syn, known[j] as Lane, coding[row + j]);
    return syn;
  });
  const a = new Uint8Array(e * e);
  rows.forEach((unit, r) => {
    missing.forEach((j, c) => {
      a[r * e + c] = coding[(unit - k) * k + j];
    });
  });
  const inv = invert(a, e);
  const out = units.slice(0, k) as Uint8Array[];
  missing.forEach((j, r) => {
    const unit = lane(new Uint8Array(size));
    for (let c = 0; c < e; c++) {
      const f = inv[r * e + c];
      if (f !== 0) mulAdd(unit, syndromes[c], f);
    }
    out[j] = unit.b;
  });
  return out;
}
