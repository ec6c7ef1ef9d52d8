import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParseError, RptuiError } from '../../src/proto-stack/errors.js';
import { replaceUnsafe, safeJson, safeLines, safeText } from '../../src/proto-stack/text.js';

/** Every character a terminal may act on: C0, DEL, C1, bidi controls, line/paragraph separators. */
const UNSAFE = [
  ...Array.from({ length: 0x20 }, (_, i) => i),
  ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i),
  0x061c,
  0x200e,
  0x200f,
  0x2028,
  0x2029,
  0x202a,
  0x202b,
  0x202c,
  0x202d,
  0x202e,
  0x2066,
  0x2067,
  0x2068,
  0x2069,
].map((c) => String.fromCharCode(c));
const UNSAFE_RE = new RegExp(
  `[${UNSAFE.map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}]`,
);

describe('safeText', () => {
  it('escapes C0, DEL, C1 and the bidi controls, and keeps everything else', () => {
    expect(safeText('a\x1b[2Jb')).toBe('a\\x1b[2Jb');
    expect(safeText('x\u009b31my')).toBe('x\\x9b31my');
    expect(safeText('evil\u202egnp.exe')).toBe('evil\\u202egnp.exe');
    expect(safeText('tab\tnew\nline\r\x7f')).toBe('tab\\x09new\\x0aline\\x0d\\x7f');
    expect(safeText('Wohnzimmer PS5 ✓ 日本 🎮')).toBe('Wohnzimmer PS5 ✓ 日本 🎮');
    for (const c of UNSAFE) expect(safeText(c)).toMatch(/^\\(x[0-9a-f]{2}|u[0-9a-f]{4})$/);
  });

  it('leaves nothing unsafe, and making it safe twice changes nothing', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
        const once = safeText(s);
        expect(once).not.toMatch(UNSAFE_RE);
        expect(safeText(once)).toBe(once);
      }),
      { numRuns: 500 },
    );
  });

  it('safeLines keeps line breaks, replaceUnsafe substitutes', () => {
    expect(safeLines('a\u009b\nb\u202e')).toBe('a\\x9b\nb\\u202e');
    expect(replaceUnsafe('a\u009bb\u202ec\n', '-')).toBe('a-b-c-');
  });
});

describe('safeJson', () => {
  it('writes what JSON.stringify leaves raw as \\u escapes: same value, nothing unsafe', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
        const json = safeJson(JSON.stringify({ s }));
        expect(json).not.toMatch(UNSAFE_RE);
        expect(JSON.parse(json)).toEqual({ s });
      }),
      { numRuns: 500 },
    );
    expect(safeJson(JSON.stringify('a\u009b\u202e\x7f'))).toBe('"a\\u009b\\u202e\\u007f"');
  });
});

describe('errors quote hostile text safely', () => {
  it('RptuiError message and hint, ParseError included', () => {
    const e = new RptuiError('parse', 'name "\u009b2J"', { hint: 'see \u202e' });
    expect(e.message).toBe('name "\\x9b2J"');
    expect(e.hint).toBe('see \\u202e');
    expect(new ParseError('http', 'bad line "\x1b]0;x\x07"').message).toBe('http: bad line "\\x1b]0;x\\x07"');
  });
});
