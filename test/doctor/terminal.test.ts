// The replies a terminal sends to rptui doctor's query, as real terminals answer it, and fuzz.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTerminalAnswers, TERMINAL_QUERY } from '../../src/doctor/terminal.js';

describe('terminal answers', () => {
  it('reads kitty (keyboard flags, graphics OK), xterm with sixel, and a plain terminal', () => {
    expect(parseTerminalAnswers('\x1b_Gi=31;OK\x1b\\\x1b[?0u\x1b[?62;22c')).toEqual({
      answered: true,
      kittyKeyboard: true,
      kittyGraphics: true,
      sixel: false,
    });
    expect(parseTerminalAnswers('\x1b[?63;1;2;4;6;9;15;22c')).toEqual({
      answered: true,
      kittyKeyboard: false,
      kittyGraphics: false,
      sixel: true,
    });
    // a graphics error reply is not support; the DA1 answer of a VT100 says nothing of sixel
    expect(parseTerminalAnswers('\x1b_Gi=31;ENOTSUPPORTED:x\x1b\\\x1b[?1;2c')).toMatchObject({
      answered: true,
      kittyGraphics: false,
      sixel: false,
    });
    expect(parseTerminalAnswers('')).toEqual({
      answered: false,
      kittyKeyboard: false,
      kittyGraphics: false,
      sixel: false,
    });
    // the query echoed back (no terminal behind the pipe) is no answer
    expect(parseTerminalAnswers(TERMINAL_QUERY).answered).toBe(false);
  });

  it('never throws, and says answered only with a device attributes reply in the text (fuzz)', () => {
    const piece = fc.oneof(
      fc.string(),
      fc.constantFrom('\x1b[?62;4c', '\x1b[?1u', '\x1b_Gi=31;OK\x1b\\', '\x1b[', '\x1b_G'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (parts) => {
        const text = parts.join('');
        const a = parseTerminalAnswers(text);
        expect(a.answered).toBe(/\x1b\[\?[\d;]*c/.test(text));
        if (a.sixel) expect(a.answered).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
