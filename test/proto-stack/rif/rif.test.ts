import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ascii, fromHex, toHex } from '../../../src/proto-stack/bytes.js';
import { ParseError } from '../../../src/proto-stack/errors.js';
import {
  accountText,
  CONTENT_TYPE_NAMES,
  crossCheck,
  detectLicenseKind,
  encodeRidx,
  encodeRif,
  encodeRifa,
  NEVER_EXPIRES,
  parseRidx,
  parseRif,
  parseRifa,
  RIF_TYPES,
  SKU_NAMES,
  validityText,
} from '../../../src/proto-stack/rif/index.js';
import { typedOnly } from '../../helpers/fuzz.js';
import { fakeRif, freeRif, kdsIndex, kdsIndexBad, kdsRifa } from './fixtures.js';

/** A RIF written byte by byte at the document's offsets (big-endian), independent of encodeRif. */
function handWrittenRif(): Uint8Array {
  const b = new Uint8Array(0x400);
  b.set(fromHex('52494600'), 0x000); // "RIF\0"
  b.set(fromHex('0001'), 0x004); // version
  b.set(fromHex('ffff'), 0x006);
  b.set(fromHex('abcdef0102347891'), 0x008); // the document's example account id
  b.set(fromHex('0000000052856400'), 0x010); // start
  b.set(fromHex('7fffffffffffffff'), 0x018); // end: INT64_MAX
  b.set(ascii('IP9100-CUSA00001_00-PLAYROOM00000000'), 0x020);
  b.set(fromHex('0000'), 0x050); // type KDS
  b.set(fromHex('000f'), 0x052); // DRM Local (PS4)
  b.set(fromHex('001b'), 0x054); // PS4AC
  b.set(fromHex('0001'), 0x056); // trial
  b.set(fromHex('00000010'), 0x058);
  b.set(fromHex('00040000'), 0x05c);
  b.fill(0x11, 0x240, 0x260); // disc key
  b.fill(0x22, 0x260, 0x270); // secret IV
  b.fill(0x33, 0x270, 0x300); // encrypted secret
  b.fill(0x44, 0x300, 0x400); // signature
  return b;
}

describe('RIF layout (big-endian, 0x400 bytes)', () => {
  it('reads every documented field at its offset', () => {
    const r = parseRif(handWrittenRif());
    expect(r).toMatchObject({
      version: 1,
      unknown06: 0xffff,
      accountId: 0xabcdef0102347891n,
      startTimestamp: 0x52856400n,
      startDate: '2013-11-15T00:00:00Z',
      endTimestamp: NEVER_EXPIRES,
      endDate: 'never',
      contentId: 'IP9100-CUSA00001_00-PLAYROOM00000000',
      type: 0,
      typeName: 'KDS (NPDRM)',
      drmType: 0x0f,
      drmTypeName: 'Local (PS4)',
      contentType: 0x1b,
      contentTypeName: 'PS4AC',
      skuFlag: 1,
      skuName: 'trial',
      extraFlags: 0x10,
      unknownFlags: 0x40000,
    });
    expect(toHex(r.discKey)).toBe('11'.repeat(32));
    expect(toHex(r.secretIv)).toBe('22'.repeat(16));
    expect(r.encryptedSecret.length).toBe(0x90);
    expect(toHex(r.signature)).toBe('44'.repeat(256));
    expect(validityText(r)).toBe('2013-11-15T00:00:00Z .. never expires');
    expect(accountText(r.accountId)).toBe('0xabcdef0102347891');
    expect(accountText(0n)).toBe('none');
    // a KDS license with a disc key is unusual
    expect(r.warnings.join()).toMatch(/has a disc key/);
  });

  it('re-encodes a parsed RIF byte for byte', () => {
    const b = handWrittenRif();
    expect(toHex(encodeRif(parseRif(b)))).toBe(toHex(b));
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0x3fc, maxLength: 0x3fc }), (rest) => {
        const x = new Uint8Array([0x52, 0x49, 0x46, 0x00, ...rest]);
        expect(toHex(encodeRif(parseRif(x)))).toBe(toHex(x));
      }),
      { numRuns: 200 },
    );
  });
});

describe('RIF tables', () => {
  it('names every type, SKU and content type from the document', () => {
    const types: Record<number, string> = {
      0: 'KDS (NPDRM)',
      1: 'KDS (NPDRM)',
      2: 'KDS (NPDRM)',
      257: 'Isolated ("free")',
      770: 'Isolated ("free")',
      258: 'Disc',
      512: 'Debug ("fake")',
      513: 'Debug ("fake")',
      514: 'Debug ("fake")',
      771: 'unknown (CEX)',
      772: 'unknown (not CEX)',
      773: 'unknown (DEX/TEST)',
    };
    expect(Object.keys(RIF_TYPES).map(Number).sort()).toEqual(Object.keys(types).map(Number).sort());
    for (const [type, name] of Object.entries(types)) {
      const version = RIF_TYPES[Number(type)].versions?.[0] ?? 1;
      expect(parseRif(encodeRif({ type: Number(type), version })).typeName).toBe(name);
    }
    for (const [sku, name] of Object.entries(SKU_NAMES))
      expect(parseRif(encodeRif({ skuFlag: Number(sku) })).skuName).toBe(name);
    expect(SKU_NAMES).toEqual({ 0: 'not bootable', 1: 'trial', 3: 'full game' });
    for (const [ct, name] of Object.entries(CONTENT_TYPE_NAMES))
      expect(parseRif(encodeRif({ contentType: Number(ct) })).contentTypeName).toBe(name);
    expect(CONTENT_TYPE_NAMES[0x1a]).toBe('PS4GD');
    expect(CONTENT_TYPE_NAMES[0x1b]).toBe('PS4AC');
  });

  it('checks the version against the type table (KDS 0x001 is version 2, 0x002 version 3)', () => {
    expect(
      parseRif(
        encodeRif({
          type: 0x001,
          version: 2,
          accountId: 1n,
          contentId: 'EP0001-CUSA09999_00-ABCDEFGHIJKLMNOP',
        }),
      ).warnings,
    ).toEqual(expect.not.arrayContaining([expect.stringMatching(/version/)]));
    expect(parseRif(encodeRif({ type: 0x002, version: 1 })).warnings.join()).toMatch(
      /version 1 does not fit type 0x002/,
    );
  });

  it('warns about what does not fit the document', () => {
    const w = parseRif(
      encodeRif({
        type: 0x777,
        skuFlag: 2,
        contentType: 0x99,
        drmType: 1,
        contentId: 'not a content id',
        startTimestamp: 100n,
        endTimestamp: 50n,
      }),
    ).warnings.join('\n');
    expect(w).toMatch(/type 0x777 is not in the document's type table/);
    expect(w).toMatch(/SKU flag 2 is unknown/);
    expect(w).toMatch(/content type 0x99 is unknown/);
    expect(w).toMatch(/DRM type 0x1 is unknown/);
    expect(w).toMatch(/does not look like/);
    expect(w).toMatch(/end timestamp is before the start/);
    expect(w).toMatch(/signature is all zeros/);
    expect(parseRif(encodeRif({ type: 0 })).warnings.join()).toMatch(/KDS license with no account id/);
  });

  it('shows timestamps that are not dates without crashing', () => {
    const r = parseRif(encodeRif({ startTimestamp: 0xffffffffffffffffn, endTimestamp: 0x8000000000000000n }));
    expect(validityText(r)).toBe('invalid (18446744073709551615) .. invalid (9223372036854775808)');
    expect([r.startDate, r.endDate]).toEqual([null, null]);
    expect(r.warnings.join()).toMatch(/negative as int64/);
  });

  it('recognises the debug fPKG secret IV pattern', () => {
    const r = parseRif(fakeRif());
    expect(r.secretIvFromContentId).toBe(true);
    expect(r.typeName).toBe('Debug ("fake")');
    expect(r.warnings.join()).toMatch(/carries account id/);
    expect(parseRif(freeRif()).secretIvFromContentId).toBe(false);
  });

  it('rejects a wrong magic and truncated input with ParseError', () => {
    expect(() => parseRif(new Uint8Array(0x400))).toThrow(/bad magic/);
    expect(() => parseRif(freeRif().subarray(0, 0x3ff))).toThrow(ParseError);
  });
});

describe('RIFA and RIDX', () => {
  it('reads the RIFA header and its RIFs', () => {
    const a = parseRifa(kdsRifa());
    expect(a.serviceId).toBe('EP0001-CUSA09999_00');
    expect(a.entries.map((e) => [e.offset, e.rif?.contentId])).toEqual([
      [0x400, 'EP0001-CUSA09999_00-SYNTHETICGAME001'],
      [0x800, 'EP0001-CUSA09999_00-SYNTHETICDLC0001'],
    ]);
    expect(a.warnings).toEqual([]);
    expect(toHex(kdsRifa().subarray(0, 8))).toBe('7269666145503030'); // "rifa" "EP00"
  });

  it('reports bad slots, foreign RIFs and a short tail', () => {
    const foreign = encodeRif({ contentId: 'UP0002-CUSA11111_00-OTHERGAME0000001', accountId: 1n });
    const bytes = new Uint8Array([...encodeRifa('EP0001-CUSA09999_00', [foreign, foreign]), 1, 2, 3]);
    bytes.fill(0, 0x800, 0x804); // break the second RIF's magic
    const a = parseRifa(bytes);
    expect(a.entries[1].error).toMatch(/bad magic/);
    const w = a.warnings.join('\n');
    expect(w).toMatch(/is not for service EP0001-CUSA09999_00/);
    expect(w).toMatch(/slot at 0x800/);
    expect(w).toMatch(/3 bytes after the last whole RIF/);
    expect(() => parseRifa(new Uint8Array(0x400))).toThrow(ParseError);
    expect(() => parseRifa(kdsRifa().subarray(0, 0x3ff))).toThrow(ParseError);
  });

  it('reads RIDX little-endian: the document example offset 00 04 00 00 00 00 00 00 is 0x400', () => {
    const x = parseRidx(kdsIndex());
    expect(toHex(kdsIndex().subarray(0, 9))).toBe('786469720200000001'); // "xdir", count 2, version 1
    expect(toHex(kdsIndex().subarray(0x30, 0x38))).toBe('0004000000000000');
    expect(x).toMatchObject({ version: 1, serviceId: 'EP0001-CUSA09999_00', unknown1C: 1 });
    expect(x.entries.map((e) => [e.label, e.rifOffset, e.rifSize])).toEqual([
      ['SYNTHETICGAME001', 0x400n, 0x400n],
      ['SYNTHETICDLC0001', 0x800n, 0x400n],
    ]);
    expect(toHex(encodeRidx(x))).toBe(toHex(kdsIndex()));
  });

  it('cross-checks an index with its RIFA', () => {
    const rifa = parseRifa(kdsRifa());
    expect(crossCheck(parseRidx(kdsIndex()), rifa, kdsRifa().length)).toEqual([]);
    const w = crossCheck(parseRidx(kdsIndexBad()), rifa, kdsRifa().length);
    expect(w).toEqual([
      'entry 0 (SYNTHETICGAME002): label does not match the RIF at 0x400 (EP0001-CUSA09999_00-SYNTHETICGAME001)',
      'entry 1 (SYNTHETICDLC0001): RIF size 0x3f0, a RIF is 0x400',
      'entry 1 (SYNTHETICDLC0001): offset 0x810 is not on a RIF boundary (0x400 + n * 0x400)',
      'RIF at 0x800 (EP0001-CUSA09999_00-SYNTHETICDLC0001) has no index entry',
    ]);
    const odd = encodeRidx({
      serviceId: 'EP0001-CUSA09999_01',
      entries: [
        { label: 'SYNTHETICGAME001', rifOffset: 0x100n },
        { label: 'SYNTHETICGAME001', rifOffset: 0x400n },
        { label: 'SYNTHETICGAME001', rifOffset: 0x400n },
        { label: 'X', rifOffset: 0xc00n },
        { label: 'SYNTHETICDLC0001', rifOffset: 0x0008000000000000n }, // 0x800 written big-endian
      ],
    });
    const w2 = crossCheck(parseRidx(odd), rifa, kdsRifa().length).join('\n');
    expect(w2).toMatch(/service id: index says EP0001-CUSA09999_01, RIFA says EP0001-CUSA09999_00/);
    expect(w2).toMatch(/offset 0x100 points into the RIFA header/);
    expect(w2).toMatch(/offset 0x400 is indexed twice/);
    expect(w2).toMatch(/offset 0xc00 \+ size 0x400 runs past the RIFA end \(0xc00\)\n/);
    expect(w2).toMatch(/read big-endian the offset would be 0x800/);
  });

  it('detects the kind by magic', () => {
    expect(detectLicenseKind(freeRif())).toBe('rif');
    expect(detectLicenseKind(kdsRifa())).toBe('rifa');
    expect(detectLicenseKind(kdsIndex())).toBe('ridx');
    expect(detectLicenseKind(new Uint8Array(2))).toBeUndefined();
  });

  it('a huge entry count is a ParseError, not an allocation', () => {
    const b = kdsIndex().slice();
    b.set(fromHex('ffffffff'), 4);
    expect(() => parseRidx(b)).toThrow(/4294967295 entries need/);
    const v = parseRidx(new Uint8Array([...kdsIndex(), 9]));
    expect(v.warnings.join()).toMatch(/1 bytes after the last of 2 entries/);
  });
});

describe('license fuzz: only ParseError, bounded time', () => {
  const parsers = [parseRif, parseRifa, parseRidx];
  const check = (bytes: Uint8Array): void => {
    for (const p of parsers) typedOnly(() => p(bytes), ParseError);
  };
  it('random bytes, also with each magic in front', () => {
    const magics = [fromHex('52494600'), fromHex('72696661'), fromHex('78646972'), new Uint8Array()];
    fc.assert(
      fc.property(fc.constantFrom(...magics), fc.uint8Array({ maxLength: 2200 }), (m, rest) =>
        check(new Uint8Array([...m, ...rest])),
      ),
      { numRuns: 500 },
    );
  });
  it('truncations and mutations of the fixtures (mutated RIFAs are cross-checked too)', () => {
    const index = parseRidx(kdsIndex());
    for (const f of [freeRif(), kdsRifa(), kdsIndex()]) {
      for (let n = 0; n <= f.length; n += 7) check(f.subarray(0, n));
      fc.assert(
        fc.property(fc.integer({ min: 0, max: f.length - 1 }), fc.integer({ min: 0, max: 255 }), (i, v) => {
          const b = f.slice();
          b[i] = v;
          check(b);
          typedOnly(
            () => expect(Array.isArray(crossCheck(index, parseRifa(b), b.length))).toBe(true),
            ParseError,
          );
        }),
        { numRuns: 300 },
      );
    }
  });
});
