import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toBase64, toHex } from '../../../src/proto-stack/bytes.js';
import { AuthError, ParseError, RptuiError } from '../../../src/proto-stack/errors.js';
import {
  DATA_TYPES,
  decapsulate,
  decapsulateSalsa,
  decodeDataMessage,
  encapsulateSalsa,
  encodeDataMessage,
} from '../../../src/proto-stack/pcoip/data.js';
import { makeScs1Token, parsePcoipToken, xorKey } from '../../../src/proto-stack/pcoip/scs1.js';

// The eSTREAM Salsa20/12 keystream for the 256-bit key 80 00..00 and IV 0 (see salsa20.test.ts for
// its sources). A packet built by XOR with it is independent of our cipher code.
const KAT_KEY = fromHex('80'.padEnd(64, '0'));
const KAT_STREAM = fromHex(
  'AFE411ED1C4E07E4D0CDE3B33E31EC190FA4CC796A58BAFB848EAD8D07D02CD2D4B6F9F30CB0B57007E3733895CC8D1060107975ACAEEB689B6CF614AB64A3D6',
);
const xor = (a: Uint8Array, b: Uint8Array) => a.map((x, i) => x ^ b[i]);

describe('Salsa20/12 packet', () => {
  it('decrypts a packet built from the known keystream (spi, serial, iv, DEADBEEF trailer)', () => {
    const message = fromHex('0c000000002a' + 'aabbccdd'); // HDA, serial_no 42, 4-byte body
    const pt = concatBytes(message, fromHex('deadbeef'));
    const packet = concatBytes(fromHex('00001234' + '00000000' + '0000000000000000'), xor(pt, KAT_STREAM));
    const p = decapsulateSalsa(packet, KAT_KEY);
    expect(p.spi).toBe(0x1234);
    expect(p.serial).toBe(0);
    expect(toHex(p.message)).toBe(toHex(message));
    expect(p.warnings).toEqual([]);
    const m = decodeDataMessage(p.message);
    expect(m).toMatchObject({ type: 12, typeName: 'HDA', serialNo: 42 });
    expect(toHex(m.body)).toBe('aabbccdd');
    expect(
      toHex(encapsulateSalsa(message, { key: KAT_KEY, spi: 0x1234, serial: 0, iv: new Uint8Array(8) })),
    ).toBe(toHex(packet));
  });

  it('round-trips random messages', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ maxLength: 300 }),
        (key, iv, spi, serial, message) => {
          const p = decapsulateSalsa(encapsulateSalsa(message, { key, iv, spi, serial }), key);
          expect(p).toMatchObject({ spi, serial });
          expect(toHex(p.message)).toBe(toHex(message));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a wrong key is an AuthError; a byte-swapped trailer is accepted with a warning', () => {
    const key = fromHex('01'.repeat(32));
    const packet = encapsulateSalsa(fromHex('020000000001'), {
      key,
      spi: 1,
      serial: 1,
      iv: new Uint8Array(8),
    });
    expect(() => decapsulateSalsa(packet, fromHex('02'.repeat(32)))).toThrow(AuthError);
    const swapped = concatBytes(
      fromHex('00000001000000020000000000000000'),
      xor(fromHex('0200000000efbeadde'), KAT_STREAM),
    );
    const p = decapsulateSalsa(swapped, KAT_KEY);
    expect(p.warnings.join()).toMatch(/little-endian/);
    expect(toHex(p.message)).toBe('0200000000');
  });

  it('short packets, wrong key sizes and AES encapsulations are typed errors', () => {
    expect(() => decapsulateSalsa(new Uint8Array(10), KAT_KEY)).toThrow(ParseError);
    expect(() => decapsulateSalsa(new Uint8Array(19), KAT_KEY)).toThrow(/too short for the 4-byte DEADBEEF/);
    expect(() => decapsulateSalsa(new Uint8Array(40), new Uint8Array(16))).toThrow(/32 bytes/);
    expect(() => decapsulate(new Uint8Array(40), KAT_KEY, 'aes-128-gcm')).toThrow(
      /AES-128 encapsulation is undocumented/,
    );
    expect(() => decapsulate(new Uint8Array(40), KAT_KEY, 'aes-256-gcm')).toThrow(ParseError);
  });

  it('fuzz: random packets and keys give a result or a typed error', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 120 }),
        fc.uint8Array({ minLength: 30, maxLength: 34 }),
        (packet, key) => {
          try {
            decapsulateSalsa(packet, key);
          } catch (e) {
            expect(e).toBeInstanceOf(RptuiError);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('data message header', () => {
  it('names the document types and warns on others', () => {
    expect(Object.keys(DATA_TYPES).map(Number)).toEqual([2, 6, 8, 9, 10, 12]);
    expect(decodeDataMessage(fromHex('020102030005ff'))).toMatchObject({
      type: 2,
      typeName: 'IMG',
      serialNo: 5,
      warnings: [],
    });
    expect(toHex(decodeDataMessage(fromHex('020102030005ff')).unknown)).toBe('010203');
    expect(decodeDataMessage(fromHex('080000000100')).typeName).toBe('DDC');
    expect(decodeDataMessage(fromHex('630000000000')).warnings.join()).toMatch(
      /type 99 is not in the document/,
    );
  });

  it('round-trips and rejects truncated headers', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 6, maxLength: 64 }), (b) => {
        expect(toHex(encodeDataMessage(decodeDataMessage(b)))).toBe(toHex(b));
      }),
    );
    for (let n = 0; n < 6; n++) expect(() => decodeDataMessage(new Uint8Array(n))).toThrow(ParseError);
  });
});

describe('SCS1 token', () => {
  const server = Uint8Array.from({ length: 32 }, (_, i) => i);
  const client = Uint8Array.from({ length: 32 }, (_, i) => 0xff - i);

  it('splits the document layout: [4..47] server mask, [48..91] client mask, [92..] tag', () => {
    const token = makeScs1Token(server, client, 'CONNECTION-TAG-0001');
    expect(token.length).toBe(92 + 19);
    expect(token.slice(4, 48)).toBe(toBase64(server));
    const t = parsePcoipToken(token);
    expect(t.obfuscated).toBe(true);
    expect(toHex(t.serverKeyXor!)).toBe(toHex(server));
    expect(toHex(t.clientKeyXor!)).toBe(toHex(client));
    expect(t.connectionTag).toBe('CONNECTION-TAG-0001');
    expect(t.warnings).toEqual([]);
  });

  it('uses other tokens verbatim, including short SCS1 ones', () => {
    expect(parsePcoipToken('plain-token')).toMatchObject({ obfuscated: false, connectionTag: 'plain-token' });
    const short = `SCS1${'A'.repeat(99)}`; // 103 characters
    const t = parsePcoipToken(short);
    expect(t).toMatchObject({ obfuscated: false, connectionTag: short });
    expect(t.warnings.join()).toMatch(/shorter|< 104/);
  });

  it('de-obfuscates keys by XOR and refuses bad masks', () => {
    const key = fromHex('00112233445566778899aabbccddeeff');
    expect(toHex(xorKey(xorKey(key, server), server))).toBe(toHex(key));
    expect(toHex(xorKey(key, server))).toBe('00102030405060708090a0b0c0d0e0f0');
    expect(() => xorKey(new Uint8Array(33), server)).toThrow(ParseError);
    expect(() => parsePcoipToken(`SCS1${'!'.repeat(88)}tagtagtagtag`)).toThrow(ParseError);
  });

  it('fuzz: any string gives a token or a ParseError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 140 }), fc.boolean(), (s, prefix) => {
        const token = prefix ? `SCS1${s}` : s;
        try {
          const t = parsePcoipToken(token);
          expect(typeof t.connectionTag).toBe('string');
        } catch (e) {
          expect(e).toBeInstanceOf(ParseError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
