import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter, concatBytes, fromHex, toHex } from '../../src/proto-stack/bytes.js';
import { ParseError } from '../../src/proto-stack/errors.js';

describe('bytes', () => {
  it('round-trips integers through writer and reader', () => {
    const w = new ByteWriter(1)
      .u8(0xab)
      .u16(0x1234)
      .u16le(0x1234)
      .u32(0xdeadbeef)
      .u32le(1)
      .u64(2n ** 63n);
    const b = w.finish();
    expect(toHex(b)).toBe('ab12343412deadbeef010000008000000000000000');
    const r = new ByteReader(b, 't');
    expect([r.u8(), r.u16(), r.u16le(), r.u32(), r.u32le(), r.u64()]).toEqual([
      0xab,
      0x1234,
      0x1234,
      0xdeadbeef,
      1,
      2n ** 63n,
    ]);
    expect(r.remaining).toBe(0);
  });

  it('throws a ParseError naming the layer on truncation', () => {
    const r = new ByteReader(fromHex('0102'), 'demo');
    expect(() => r.u32('length')).toThrow(ParseError);
    expect(() => r.u32('length')).toThrow(/demo: truncated: length needs 4 bytes/);
  });

  it('rejects odd or non-hex strings', () => {
    expect(() => fromHex('abc')).toThrow(ParseError);
    expect(() => fromHex('zz')).toThrow(ParseError);
  });

  it('concat keeps every byte in order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 })), (parts) => {
        expect(toHex(concatBytes(...parts))).toBe(parts.map(toHex).join(''));
      }),
    );
  });
});
