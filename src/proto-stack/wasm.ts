/**
 * A minimal WebAssembly binary encoder for the few hand-written hot loops of the receive path
 * (gkcrypt-wasm.ts: GMAC and decryption, fec.ts: Reed-Solomon decoding). Function bodies are written as opcode arrays
 * next to the code that uses them; this file only knows the opcodes used there and how to wrap
 * bodies into a module that exports its functions and one memory ("mem").
 * Binary format: WebAssembly Core Specification 2.0, §5 (plus the 128-bit SIMD opcodes).
 */

export const I32 = 0x7f;
export const I64 = 0x7e;
export const V128 = 0x7b;
/** Block type of a block/loop that leaves nothing on the stack. */
export const VOID = 0x40;
export const PAGE = 1 << 16;

export const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  brIf: 0x0d,
  call: 0x10,
  drop: 0x1a,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i64Load: 0x29,
  i32Load8U: 0x2d,
  i32Store: 0x36,
  i64Store: 0x37,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32Ne: 0x47,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i64Eqz: 0x50,
  i64LtU: 0x54,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  i64Add: 0x7c,
  i64Or: 0x84,
  i64Xor: 0x85,
  i64Shl: 0x86,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
  i64ExtendI32U: 0xad,
  /** Prefix of the SIMD opcodes below (each is 0xfd, LEB128 sub-opcode). */
  simd: 0xfd,
} as const;

/** SIMD sub-opcodes (all < 128, so one byte each after op.simd). */
export const simd = {
  v128Load: 0,
  v128Store: 11,
  /** Followed by 16 lane indices (0-15 first operand, 16-31 second). */
  i8x16Shuffle: 13,
  i8x16Swizzle: 14,
  i8x16Splat: 15,
  /** Followed by the lane index. */
  i8x16ExtractLaneU: 22,
  i8x16ReplaceLane: 23,
  v128And: 78,
  v128Or: 80,
  v128Xor: 81,
  i8x16Shl: 107,
  i8x16ShrU: 109,
} as const;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 for the small constants used here (|n| < 2^31). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
/** i64.load / i64.store with alignment hint 8 and a constant offset. */
export const load64 = (offset: number): number[] => [op.i64Load, 3, ...uleb(offset)];
export const store64 = (offset: number): number[] => [op.i64Store, 3, ...uleb(offset)];
/** i32.load / i32.store with alignment hint 4, i32.load8_u, and a constant offset. */
export const load32 = (offset: number): number[] => [op.i32Load, 2, ...uleb(offset)];
export const store32 = (offset: number): number[] => [op.i32Store, 2, ...uleb(offset)];
export const load8 = (offset: number): number[] => [op.i32Load8U, 0, ...uleb(offset)];
/** v128.load / v128.store with alignment hint 16 and a constant offset. */
export const load128 = (offset: number): number[] => [op.simd, simd.v128Load, 4, ...uleb(offset)];
export const store128 = (offset: number): number[] => [op.simd, simd.v128Store, 4, ...uleb(offset)];
export const get = (i: number): number[] => [op.localGet, i];
export const set = (i: number): number[] => [op.localSet, i];
export const tee = (i: number): number[] => [op.localTee, i];
export const i32c = (n: number): number[] => [op.i32Const, ...sleb(n)];

export interface WasmFunction {
  name: string;
  params: number[];
  /** Result types (none when absent). */
  results?: number[];
  /** Local declarations (vec of count, type) followed by the code, ending with op.end. */
  body: number[];
}

/**
 * A module of functions, exported by name (call them by index in order), and one exported memory
 * "mem". `name` goes into the module's name section with the function names, so profiles and
 * stack traces say "name.function" instead of "wasm-function[3]".
 */
export function wasmModule(m: { name: string; functions: WasmFunction[]; pages: number }): Uint8Array {
  const fs = m.functions;
  const types = vec(
    fs.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...vec((f.results ?? []).map((r) => [r]))]),
  );
  const funcs = vec(fs.map((_, i) => [i]));
  const memory = vec([[0x00, ...uleb(m.pages)]]);
  const exports = vec([...fs.map((f, i) => [...name(f.name), 0x00, i]), [...name('mem'), 0x02, 0]]);
  const bodies = fs.map((f) => [...uleb(f.body.length), ...f.body]);
  const functionNames = vec(fs.map((f, i) => [...uleb(i), ...name(`${m.name}.${f.name}`)]));
  const names = [...name('name'), ...section(0, name(m.name)), ...section(1, functionNames)];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, types),
    ...section(3, funcs),
    ...section(5, memory),
    ...section(7, exports),
    ...section(10, vec(bodies)),
    ...section(0, names),
  ]);
}

export interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}

// the WebAssembly global as far as used here (tsconfig's lib has no WebAssembly types)
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export const compileWasm = (bytes: Uint8Array): object => new wasm.Module(bytes);
export const instantiateWasm = (module: object): unknown => new wasm.Instance(module).exports;
