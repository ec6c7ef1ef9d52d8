// What terminals answer to PROBE_QUERY (recorded here from Debian's xterm 379, with and without
// -ti vt340, kitty 0.26.5 under Xvfb and tmux 3.3a), read by ProbeParser in any chunking, with
// typed keys kept aside; and the mode each terminal gets.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cellSize,
  choosePictureMode,
  PROBE_QUERY,
  ProbeParser,
  parsePictureMode,
  type TerminalAnswers,
} from '../../../src/media/picture/caps.js';
import { KITTY_GRAPHICS_QUERY } from '../../../src/media/picture/graphics.js';
import { UsageError } from '../../../src/proto-stack/errors.js';

const ANSWERS = {
  vt340:
    '\x1b[?1;0;1024S\x1b[?2;0;480;312S\x1b[?2;0;1000;1000S\x1bP1$r0;48:2::1:2:3m\x1b\\\x1b[?63;1;2;4;6;9;15;16;22;28c',
  xterm: '\x1b[?1;3S\x1b[?2;3S\x1b[?2;3S\x1bP1$r0;48:2::1:2:3m\x1b\\\x1b[?64;1;2;6;9;15;16;17;18;21;22;28c',
  kitty: '\x1b_Gi=1919972352;OK\x1b\\\x1b[6;18;9t\x1b[4;486;792t\x1bP1$r48:2:1:2:3m\x1b\\\x1b[?62;c',
  tmux: '\x1b[?1;2c',
};

function parse(text: string, chunks: number[] = [text.length]): ProbeParser {
  const p = new ProbeParser();
  const bytes = Buffer.from(text, 'latin1');
  let at = 0;
  for (const n of chunks) {
    p.feed(bytes.subarray(at, at + n));
    at += n;
  }
  if (at < bytes.length) p.feed(bytes.subarray(at));
  return p;
}

describe('probe answers', () => {
  it('asks the kitty graphics query first and DA1 last', () => {
    expect(PROBE_QUERY.startsWith(KITTY_GRAPHICS_QUERY)).toBe(true);
    expect(PROBE_QUERY.endsWith('\x1b[c')).toBe(true);
  });

  it('xterm -ti vt340: sixel in DA1, 1024 registers, its text area and largest sixel, 24-bit colour', () => {
    const p = parse(ANSWERS.vt340);
    expect(p.done).toBe(true);
    expect(p.answers).toEqual({
      colorRegisters: 1024,
      sixelArea: { width: 480, height: 312 },
      sixelMaxArea: { width: 1000, height: 1000 },
      truecolor: true,
      deviceAttributes: [63, 1, 2, 4, 6, 9, 15, 16, 22, 28],
    });
    expect([...p.rest()]).toEqual([]);
    // 80x24 cells in 480x312 pixels
    expect(cellSize(p.answers, 80, 24)).toEqual({ width: 6, height: 13 });
  });

  it('xterm as a VT420: no sixel, its refusals consumed, not kept as keys', () => {
    const p = parse(ANSWERS.xterm);
    expect(p.done).toBe(true);
    expect(p.answers.deviceAttributes).not.toContain(4);
    expect(p.answers.colorRegisters).toBeUndefined();
    expect(p.answers.sixelArea).toBeUndefined();
    expect([...p.rest()]).toEqual([]);
  });

  it('kitty: graphics OK, the cell size asked directly', () => {
    const p = parse(ANSWERS.kitty);
    expect(p.answers.kittyGraphics).toBe(true);
    expect(p.answers.cellPixels).toEqual({ width: 9, height: 18 });
    expect(p.answers.textAreaPixels).toEqual({ width: 792, height: 486 });
    expect(cellSize(p.answers, 88, 27)).toEqual({ width: 9, height: 18 });
  });

  it('a kitty error answer, or an answer to another image id, is not "OK"', () => {
    expect(parse('\x1b_Gi=1919972352;ENOTSUPPORTED:no\x1b\\\x1b[?62c').answers.kittyGraphics).toBe(false);
    const other = parse('\x1b_Gi=5;OK\x1b\\\x1b[?62c');
    expect(other.answers.kittyGraphics).toBeUndefined();
    expect(Buffer.from(other.rest()).toString('latin1')).toBe('\x1b_Gi=5;OK\x1b\\');
  });

  it('keeps keys typed during the probe, in order, and waits for a sequence cut in two', () => {
    const p = parse(`w\x1b[A${ANSWERS.tmux.slice(0, 4)}`);
    expect(p.done).toBe(false);
    p.feed(Buffer.from(`${ANSWERS.tmux.slice(4)}q`, 'latin1'));
    expect(p.done).toBe(true);
    expect(p.answers.deviceAttributes).toEqual([1, 2]);
    expect(Buffer.from(p.rest()).toString('latin1')).toBe('w\x1b[Aq');
  });

  it('a DECRQSS answer that changed the colour, or refused, means no 24-bit colour', () => {
    expect(parse('\x1bP1$r0;48;5;16m\x1b\\').answers.truecolor).toBe(false);
    expect(parse('\x1bP0$r\x1b\\').answers.truecolor).toBe(false);
    expect(parse('\x1bP1$r48:2:1:2:30m\x1b\\').answers.truecolor).toBe(false);
  });

  it('reads the same answers however the bytes are split, with keys mixed in between answers (fuzz)', () => {
    const all = Object.values(ANSWERS);
    fc.assert(
      fc.property(
        fc.constantFrom(...all),
        fc.array(fc.integer({ min: 1, max: 20 }), { maxLength: 40 }),
        fc.array(fc.constantFrom('a', ' ', '\r', '\x1b[B', '\x1bx'), { maxLength: 3 }),
        (answer, chunks, keys) => {
          const whole = parse(answer);
          const typed = keys.join('');
          // keys before the answers, then the answers split anyhow
          const p = parse(typed + answer, chunks);
          expect(p.answers).toEqual(whole.answers);
          expect(p.done).toBe(true);
          expect(Buffer.from(p.rest()).toString('latin1')).toBe(typed);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('any bytes: never throws, and what is not an answer comes back (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const p = new ProbeParser();
        p.feed(bytes);
        expect(p.rest().length).toBeLessThanOrEqual(bytes.length);
      }),
      { numRuns: 1000 },
    );
  });

  it('gives up on a lone ESC followed by a long text: those are keys', () => {
    const p = parse(`\x1b[${'1;'.repeat(300)}`);
    expect(p.rest().length).toBeGreaterThan(0);
  });
});

describe('choosing the mode', () => {
  const answers = (k: keyof typeof ANSWERS): TerminalAnswers => parse(ANSWERS[k]).answers;

  it('takes what the terminal said first', () => {
    expect(choosePictureMode({ TERM: 'xterm-kitty' }, answers('kitty')).mode).toBe('kitty');
    expect(choosePictureMode({ TERM: 'xterm' }, answers('vt340')).mode).toBe('sixel');
    const tmux = choosePictureMode({ TERM: 'screen-256color', TMUX: '/tmp/x' }, answers('tmux'));
    expect(tmux).toMatchObject({ mode: 'blocks', colors: 'truecolor' });
  });

  it('iTerm2 by its name, also over SSH (LC_TERMINAL), WezTerm and mintty', () => {
    expect(choosePictureMode({ TERM_PROGRAM: 'iTerm.app' }, {}).mode).toBe('iterm');
    expect(choosePictureMode({ LC_TERMINAL: 'iTerm2', TERM: 'xterm-256color' }, {}).mode).toBe('iterm');
    expect(choosePictureMode({ TERM_PROGRAM: 'WezTerm' }, {}).mode).toBe('iterm');
    expect(choosePictureMode({ TERM_PROGRAM: 'mintty' }, {}).mode).toBe('iterm');
  });

  it('blocks in 24-bit colour where that is known to work, else 256 colours; ascii on a dumb terminal', () => {
    expect(choosePictureMode({ TERM: 'xterm-256color', COLORTERM: 'truecolor' }, {}).colors).toBe(
      'truecolor',
    );
    expect(choosePictureMode({ TERM: 'xterm-256color' }, { truecolor: true }).colors).toBe('truecolor');
    expect(choosePictureMode({ TERM: 'alacritty' }, {}).colors).toBe('truecolor');
    const plain = choosePictureMode({ TERM: 'xterm-256color' }, { deviceAttributes: [62] });
    expect(plain).toMatchObject({ mode: 'blocks', colors: '256' });
    expect(plain.reason).toMatch(/COLORTERM=truecolor/);
    expect(choosePictureMode({ TERM: 'dumb' }, {}).mode).toBe('ascii');
    expect(choosePictureMode({ TERM: 'vt220' }, {}).mode).toBe('ascii');
  });

  it('an explicit mode wins, with the colours still chosen', () => {
    expect(choosePictureMode({ TERM: 'xterm-kitty' }, answers('kitty'), 'blocks')).toEqual({
      mode: 'blocks',
      colors: 'truecolor',
      reason: 'as asked',
    });
  });

  it('parses --picture', () => {
    expect(parsePictureMode(' Sixel ')).toBe('sixel');
    expect(parsePictureMode('auto')).toBe('auto');
    expect(() => parsePictureMode('png')).toThrow(UsageError);
    expect(() => parsePictureMode('png')).toThrow(/not a picture mode/);
  });

  it('guesses 8x16 cells when nothing was said, 6x12 for sixel (smaller is safe)', () => {
    expect(cellSize({}, 80, 24)).toEqual({ width: 8, height: 16 });
    expect(cellSize({}, 80, 24, 'kitty')).toEqual({ width: 8, height: 16 });
    expect(cellSize({}, 80, 24, 'sixel')).toEqual({ width: 6, height: 12 });
    expect(cellSize({ textAreaPixels: { width: 800, height: 480 } }, 100, 24)).toEqual({
      width: 8,
      height: 20,
    });
  });
});
