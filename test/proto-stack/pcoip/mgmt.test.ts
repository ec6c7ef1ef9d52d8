import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ascii, fromHex, toHex } from '../../../src/proto-stack/bytes.js';
import { ParseError } from '../../../src/proto-stack/errors.js';
import {
  CHUNKS,
  decodeMgmt,
  decodeMgmtStream,
  encodeMgmt,
  MENC_NAMES,
  MTYP_NAMES,
  mgmtChunk,
  PSEC_NAMES,
  SSIG_NAMES,
} from '../../../src/proto-stack/pcoip/mgmt.js';
import { typedOnly } from '../../helpers/fuzz.js';

const msg = (...chunks: Parameters<typeof encodeMgmt>[0]) => decodeMgmt(encodeMgmt(chunks));

describe('MGMT wire layout (big-endian, FourCC in reading order)', () => {
  it('decodes a hand-written Invite byte for byte', () => {
    // u64 size = 24; "ssig" size 4 value 0; "psec" size 4 value 3
    const bytes = fromHex(
      '0000000000000018' + '73736967' + '00000004' + '00000000' + '70736563' + '00000004' + '00000003',
    );
    const m = decodeMgmt(bytes);
    expect(m.length).toBe(32);
    expect(m.purpose).toBe(0);
    expect(m.purposeName).toBe('Invite');
    expect(m.chunks.map((c) => c.tag)).toEqual(['ssig', 'psec']);
    expect(m.chunks[1].value).toMatchObject({ kind: 'int', value: 3, name: 'Salsa20-256-round12' });
    expect(m.warnings).toEqual([]);
    expect(toHex(encodeMgmt(m.chunks))).toBe(toHex(bytes));
  });

  it('encodes typed chunks to the documented sizes', () => {
    expect(toHex(encodeMgmt([mgmtChunk('ssig', 6), mgmtChunk('cprt', 4172), mgmtChunk('pclr', true)]))).toBe(
      '000000000000001f' +
        '7373696700000004' +
        '00000006' +
        '6370727400000002' +
        '104c' +
        '70636c7200000001' +
        '01',
    );
  });
});

describe('MGMT tables: every known chunk', () => {
  it('names every ssig, psec and mtyp value from the document', () => {
    for (const [v, name] of Object.entries(SSIG_NAMES))
      expect(msg(mgmtChunk('ssig', Number(v))).purposeName).toBe(name);
    for (const [v, name] of Object.entries(PSEC_NAMES))
      expect(msg(mgmtChunk('ssig', 0), mgmtChunk('psec', Number(v))).chunks[1].value).toMatchObject({ name });
    expect(SSIG_NAMES[7]).toBe('Pong');
    expect(PSEC_NAMES[3]).toBe('Salsa20-256-round12');
    expect(Object.values(MTYP_NAMES)).toEqual(['USB', 'Audio', 'Video', 'DDC', 'KMP', 'VChan']);
  });

  it('names media encodings after the preceding mtyp', () => {
    const audio = [
      'ADPCM 48000 Hz stereo',
      'ADPCM 8000 Hz mono',
      'ADPCM 16000 Hz mono',
      'PCM 16-bit LE 48000 Hz stereo',
      'PCM 16-bit LE 48000 Hz mono',
    ];
    audio.forEach((name, i) => {
      const m = msg(mgmtChunk('ssig', 0), mgmtChunk('mtyp', 1), mgmtChunk('menc', i + 1));
      expect(m.chunks[2].value).toMatchObject({ kind: 'int', value: i + 1, name });
      expect(m.warnings).toEqual([]);
    });
    const usb = msg(mgmtChunk('ssig', 0), mgmtChunk('mtyp', 0), mgmtChunk('menc', 3));
    expect(usb.chunks[2].value).toMatchObject({ name: 'URB' });
    const video = msg(mgmtChunk('ssig', 0), mgmtChunk('mtyp', 2), mgmtChunk('menc', 2));
    expect(video.chunks[2].value).toMatchObject({ name: 'Video 3' });
    // DDC, KMP and VChan always use encoding 0
    for (const t of [3, 4, 5]) {
      expect(MENC_NAMES[t][0]).toBeDefined();
      const bad = msg(mgmtChunk('ssig', 0), mgmtChunk('mtyp', t), mgmtChunk('menc', 1));
      expect(bad.warnings.join()).toMatch(/not in the document's table/);
    }
  });

  it('round-trips a typed value for every chunk in the tables', () => {
    const sample: Record<string, Parameters<typeof mgmtChunk>[1]> = {
      u32: 123456,
      id32: 0xdeadbeef,
      u16: 4172,
      enum: 1,
      bool32: true,
      bool8: true,
      text: 'host.example',
      mac: '00:11:22:33:44:55',
      list: [0, 1],
      records3: 'a1b2c3d4e5f6',
      xy16: [64, 32],
      menc: 1,
    };
    const mediaOf: Record<number, number> = {};
    for (const [tag, def] of Object.entries(CHUNKS)) {
      let input = sample[def.type];
      if (def.type === 'bytes') input = '5a'.repeat(typeof def.len === 'number' ? def.len : 3);
      const chunks = tag === 'ssig' ? [] : [mgmtChunk('ssig', 0)];
      if (def.media !== undefined || tag === 'menc') chunks.push(mgmtChunk('mtyp', def.media ?? 1));
      chunks.push(mgmtChunk(tag, input));
      const bytes = encodeMgmt(chunks);
      const m = decodeMgmt(bytes);
      const c = m.chunks.at(-1)!;
      expect(c.tag).toBe(tag);
      expect(c.name).toBe(def.name);
      expect(c.value, tag).toBeDefined();
      expect(m.warnings, tag).toEqual([]);
      expect(toHex(encodeMgmt(m.chunks))).toBe(toHex(bytes));
      mediaOf[def.media ?? -1] = (mediaOf[def.media ?? -1] ?? 0) + 1;
    }
    // the document's table sizes: 27 general + mtyp/menc/menb, then per media (usb 3, audio 3, video 12,
    // ddc 1, kmp 9, vchan 2)
    expect(mediaOf).toEqual({ '-1': 30, 0: 3, 1: 3, 2: 12, 3: 1, 4: 9, 5: 2 });
  });

  it('decodes typed values', () => {
    const m = msg(
      mgmtChunk('ssig', 1),
      mgmtChunk('cmac', '00:11:22:aa:bb:cc'),
      mgmtChunk('penc', [0, 1]),
      mgmtChunk('pcap', [2]),
      mgmtChunk('pprf', '010203040506'),
      mgmtChunk('plnk', 90_000_000),
      mgmtChunk('mtyp', 4),
      mgmtChunk('kmps', [128, 64]),
      mgmtChunk('kmpb', [0, 5]),
    );
    const v = Object.fromEntries(m.chunks.map((c) => [c.tag, c.value]));
    expect(v.cmac).toMatchObject({ kind: 'text', value: '00:11:22:aa:bb:cc' });
    expect(v.penc).toMatchObject({ kind: 'list', values: [0, 1], names: ['pcoip_data_1', 'pcoip_data_2'] });
    expect(v.pcap).toMatchObject({ names: ['TCP'] });
    expect(v.pprf).toMatchObject({ kind: 'records', records: ['010203', '040506'] });
    expect(v.plnk).toMatchObject({ kind: 'int', value: 90_000_000 });
    expect(v.kmps).toMatchObject({ kind: 'xy', x: 128, y: 64 });
    expect(v.kmpb).toMatchObject({ names: ['alpha', 'compressed xor'] });
    expect(m.purposeName).toBe('Invite Ok');
  });
});

describe('MGMT input that does not fit', () => {
  it('keeps unknown chunks and re-encodes them unchanged', () => {
    const bytes = encodeMgmt([
      mgmtChunk('ssig', 3),
      { tag: 'qqqq', data: fromHex('00ff10') },
      { tag: 'x\x00\x01y', data: new Uint8Array() },
    ]);
    const m = decodeMgmt(bytes);
    expect(m.chunks[1].tag).toBe('qqqq');
    expect(m.chunks[1].name).toBeUndefined();
    expect(m.chunks[1].value).toBeUndefined();
    expect(toHex(m.chunks[1].data)).toBe('00ff10');
    expect(m.warnings.join()).toMatch(/not a FourCC/);
    expect(toHex(encodeMgmt(m.chunks))).toBe(toHex(bytes));
  });

  it('keeps a known chunk with the wrong size raw, with a warning', () => {
    const bytes = encodeMgmt([mgmtChunk('ssig', 0), { tag: 'psec', data: fromHex('03') }]);
    const m = decodeMgmt(bytes);
    expect(m.chunks[1].value).toBeUndefined();
    expect(m.warnings.join()).toMatch(/psec: 1 bytes, the document says 4/);
    expect(toHex(encodeMgmt(m.chunks))).toBe(toHex(bytes));
  });

  it('warns when the first chunk is not ssig, on unknown values and misplaced media chunks', () => {
    const m = msg(mgmtChunk('psec', 9), mgmtChunk('audi', true), mgmtChunk('pclr', true));
    expect(m.purpose).toBeUndefined();
    const w = m.warnings.join('\n');
    expect(w).toMatch(/first chunk is "psec"/);
    expect(w).toMatch(/value 9 is not in the document's table/);
    expect(w).toMatch(/audi belongs to Audio media but appears before any mtyp/);
    expect(msg().warnings.join()).toMatch(/no chunks/);
  });

  it('a chunk size larger than the message is a ParseError', () => {
    const bytes = fromHex('000000000000000c' + '73736967' + 'ffffffff' + '00000000');
    expect(() => decodeMgmt(bytes)).toThrow(ParseError);
    expect(() => decodeMgmt(bytes)).toThrow(/says 4294967295 bytes but only 4 are left/);
  });

  it('a header size larger than the input is a ParseError, with a hint when little-endian fits', () => {
    const le = fromHex('0c00000000000000' + '73736967' + '00000004' + '00000000');
    try {
      decodeMgmt(le);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ParseError);
      expect((e as ParseError).hint).toMatch(/little-endian the size would be 12/);
    }
    expect(() => decodeMgmt(fromHex('ffffffffffffffff'))).toThrow(ParseError);
    expect(() => decodeMgmt(fromHex('00000000'))).toThrow(/truncated header/);
  });

  it('splits back-to-back messages', () => {
    const a = encodeMgmt([mgmtChunk('ssig', 6)]);
    const b = encodeMgmt([mgmtChunk('ssig', 7)]);
    const both = new Uint8Array([...a, ...b]);
    expect(decodeMgmtStream(both).map((m) => m.purposeName)).toEqual(['Ping', 'Pong']);
    expect(() => decodeMgmtStream(both.subarray(0, both.length - 1))).toThrow(/offset 20/);
    expect(() => decodeMgmtStream(new Uint8Array())).toThrow(ParseError);
  });

  it('mgmtChunk refuses values its chunk cannot hold', () => {
    expect(() => mgmtChunk('ssig', 'x')).toThrow(ParseError);
    expect(() => mgmtChunk('nope', 1)).toThrow(ParseError);
    expect(() => mgmtChunk('cmac', '00:11')).toThrow(ParseError);
    expect(() => encodeMgmt([{ tag: 'toolong', data: new Uint8Array() }])).toThrow(ParseError);
  });
});

describe('MGMT fuzz: only typed errors, and a decoded message re-encodes to the same bytes', () => {
  const valid = encodeMgmt([
    mgmtChunk('ssig', 0),
    mgmtChunk('psec', 3),
    mgmtChunk('s12k', '11'.repeat(32)),
    mgmtChunk('mtyp', 2),
    mgmtChunk('menc', 1),
    mgmtChunk('vidn', 2),
    { tag: 'zzzz', data: fromHex('0102') },
  ]);

  const check = (bytes: Uint8Array): void => {
    typedOnly(() => {
      const ms = decodeMgmtStream(bytes);
      expect(toHex(new Uint8Array(ms.flatMap((m) => [...encodeMgmt(m.chunks)])))).toBe(toHex(bytes));
    }, ParseError);
  };

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 2000 });
  });

  it('random chunk lists with lying sizes', () => {
    const chunk = fc.record({
      tag: fc.constantFrom(...Object.keys(CHUNKS), 'zzzz'),
      size: fc.oneof(fc.integer({ min: 0, max: 80 }), fc.constant(0xffffffff)),
      data: fc.uint8Array({ maxLength: 80 }),
    });
    fc.assert(
      fc.property(
        fc.array(chunk, { maxLength: 8 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.boolean(),
        (cs, size, lie) => {
          const body = cs.flatMap((c) => {
            const h = new Uint8Array(8);
            h.set(ascii(c.tag));
            new DataView(h.buffer).setUint32(4, c.size);
            return [...h, ...c.data];
          });
          const head = new Uint8Array(8);
          new DataView(head.buffer).setBigUint64(0, lie ? size : BigInt(body.length));
          check(new Uint8Array([...head, ...body]));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('truncations and byte mutations of a valid message', () => {
    for (let n = 0; n <= valid.length; n++) check(valid.subarray(0, n));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }), (i, v) => {
        const b = valid.slice();
        b[i] = v;
        check(b);
      }),
      { numRuns: 1000 },
    );
  });

  it('a huge chunk count decodes in bounded time', () => {
    const body = new Uint8Array(8 * 50_000); // 50 000 empty chunks with tag 00000000
    const head = new Uint8Array(8);
    new DataView(head.buffer).setBigUint64(0, BigInt(body.length));
    const t0 = performance.now();
    const m = decodeMgmt(new Uint8Array([...head, ...body]));
    expect(m.chunks.length).toBe(50_000);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
