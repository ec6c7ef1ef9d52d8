/**
 * RFC 1982 serial-number comparison for 16- and 32-bit sequence numbers (Takion TSNs, AV packet
 * indices, key_pos low halves). Values exactly half the space apart are neither greater nor less,
 * as in the reference.
 */

function gt(a: number, b: number, half: number): boolean {
  if (a === b) return false;
  return (a < b && b - a > half) || (a > b && a - b < half);
}

function lt(a: number, b: number, half: number): boolean {
  if (a === b) return false;
  return (a < b && b - a < half) || (a > b && a - b > half);
}

const HALF16 = 0x8000;
const HALF32 = 0x80000000;

export const seq16Gt = (a: number, b: number): boolean => gt(a & 0xffff, b & 0xffff, HALF16);
export const seq16Lt = (a: number, b: number): boolean => lt(a & 0xffff, b & 0xffff, HALF16);
export const seq32Gt = (a: number, b: number): boolean => gt(a >>> 0, b >>> 0, HALF32);
export const seq32Lt = (a: number, b: number): boolean => lt(a >>> 0, b >>> 0, HALF32);
export const seq16Add = (a: number, n: number): number => (a + n) & 0xffff;
export const seq32Add = (a: number, n: number): number => (a + n) >>> 0;
