// Half-block and ASCII pictures on known pixels: the exact bytes for a tiny frame, only changed
// cells redrawn, the tolerance, the 256-colour palette, and a round trip through a tmux-style
// reading of the output for random frames.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AsciiEncoder, BlocksEncoder, xterm256, xterm256Rgb } from '../../../src/media/picture/blocks.js';
import type { RgbFrame } from '../../../src/media/picture/frame.js';
import { TermBuffer } from '../../../src/media/picture/termbuf.js';
import { CellScreen, cellsImage } from '../../helpers/picture.js';

type Rgb = [number, number, number];

function frame(width: number, height: number, pixel: (x: number, y: number) => Rgb): RgbFrame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * 3);
  return { width, height, data };
}

const text = (out: TermBuffer) => Buffer.from(out.view()).toString('utf8');
const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];
const GREEN: Rgb = [0, 255, 0];

describe('blocks, 24-bit colour', () => {
  it('draws a 2x1 picture (2x2 pixels) as two half blocks, with one reset in front and one at the end', () => {
    const enc = new BlocksEncoder(2, 1);
    const out = new TermBuffer();
    // column 0: red over blue; column 1: green over green (one colour: a space on green)
    const f = frame(2, 2, (x, y) => (x === 0 ? (y === 0 ? RED : BLUE) : GREEN));
    expect(enc.encode(f, { row: 3, col: 5 }, out)).toBe(2);
    expect(text(out)).toBe('\x1b[0m\x1b[4;6H\x1b[38;2;255;0;0;48;2;0;0;255m▀\x1b[48;2;0;255;0m \x1b[0m');
  });

  it('redraws only the cells that changed, moving the cursor over the rest', () => {
    const enc = new BlocksEncoder(6, 2);
    const out = new TermBuffer();
    const a = frame(6, 4, () => RED);
    enc.encode(a, { row: 0, col: 0 }, out);
    out.reset();
    expect(enc.encode(a, { row: 0, col: 0 }, out)).toBe(0);
    expect(out.length).toBe(0);
    // two cells on the second row change: pixels (1,2) and (4,3)
    const b = frame(6, 4, (x, y) => ((x === 1 && y === 2) || (x === 4 && y === 3) ? BLUE : RED));
    out.reset();
    expect(enc.encode(b, { row: 10, col: 20 }, out)).toBe(2);
    expect(text(out)).toBe(
      '\x1b[0m\x1b[12;22H\x1b[38;2;0;0;255;48;2;255;0;0m▀\x1b[2C\x1b[38;2;255;0;0;48;2;0;0;255m▀\x1b[0m',
    );
  });

  it('leaves a cell alone while its colours move less than the tolerance, and redraws all after invalidate()', () => {
    const enc = new BlocksEncoder(1, 1, 'truecolor', 12);
    const out = new TermBuffer();
    const draw = (rgb: Rgb) =>
      enc.encode(
        frame(1, 2, () => rgb),
        { row: 0, col: 0 },
        out,
      );
    expect(draw([100, 100, 100])).toBe(1);
    expect(draw([104, 96, 104])).toBe(0); // 4 + 4 + 4 = 12: within
    expect(draw([110, 100, 110])).toBe(1); // 10 + 0 + 10 = 20 from what is shown
    expect(draw([110, 100, 110])).toBe(0);
    enc.invalidate();
    expect(draw([110, 100, 110])).toBe(1);
  });

  it('refuses a frame of the wrong size', () => {
    expect(() =>
      new BlocksEncoder(4, 2).encode(
        frame(4, 3, () => RED),
        { row: 0, col: 0 },
        new TermBuffer(),
      ),
    ).toThrow(/4x4 pixels/);
  });

  it('what a terminal shows after any sequence of frames is the last frame (fuzz)', () => {
    const px = fc.tuple(
      fc.constantFrom(0, 64, 200, 255),
      fc.constantFrom(0, 128, 255),
      fc.constantFrom(0, 255),
    );
    const frames = fc.array(fc.array(px, { minLength: 4 * 6, maxLength: 4 * 6 }), {
      minLength: 1,
      maxLength: 5,
    });
    fc.assert(
      fc.property(frames, (seq) => {
        const enc = new BlocksEncoder(4, 3, 'truecolor', 0);
        const screen = new CellScreen(10, 6);
        const out = new TermBuffer();
        for (const pixels of seq) {
          out.reset();
          enc.encode(
            frame(4, 6, (x, y) => pixels[y * 4 + x] as Rgb),
            { row: 2, col: 3 },
            out,
          );
          screen.play(text(out));
        }
        const last = seq[seq.length - 1];
        for (let r = 0; r < 3; r++)
          for (let c = 0; c < 4; c++) {
            const [top, bottom] = screen.cell(3 + c, 2 + r);
            expect(top).toBe((last[r * 2 * 4 + c] as Rgb).join(','));
            expect(bottom).toBe((last[(r * 2 + 1) * 4 + c] as Rgb).join(','));
          }
      }),
      { numRuns: 200 },
    );
  });

  it('reads back through the tmux capture reader the tests use', () => {
    const enc = new BlocksEncoder(3, 2);
    const out = new TermBuffer();
    const f = frame(3, 4, (x, y) => [x * 100, y * 60, 255 - x * 100]);
    enc.encode(f, { row: 0, col: 0 }, out);
    const img = cellsImage(
      text(out).replace(/\x1b\[\d+;\d+H/g, (m) => (m === '\x1b[1;1H' ? '' : '\n')),
      3,
      2,
    );
    expect([...img.data]).toEqual([...f.data]);
  });
});

describe('blocks, 256 colours', () => {
  it('maps to the xterm palette: cube corners, greys, and back', () => {
    expect(xterm256(0, 0, 0)).toBe(16);
    expect(xterm256(255, 0, 0)).toBe(196);
    expect(xterm256(0, 255, 0)).toBe(46);
    expect(xterm256(0, 0, 255)).toBe(21);
    expect(xterm256(255, 255, 255)).toBe(231);
    expect(xterm256(128, 128, 128)).toBe(244);
    expect(xterm256(95, 135, 175)).toBe(16 + 36 + 2 * 6 + 3);
    for (let i = 16; i < 256; i++) expect(xterm256(...xterm256Rgb(i))).toBe(i);
  });

  it('writes palette indexes and compares them exactly', () => {
    const enc = new BlocksEncoder(1, 1, '256');
    const out = new TermBuffer();
    enc.encode(
      frame(1, 2, (_, y) => (y === 0 ? RED : BLUE)),
      { row: 0, col: 0 },
      out,
    );
    expect(text(out)).toBe('\x1b[0m\x1b[1;1H\x1b[38;5;196;48;5;21m▀\x1b[0m');
    out.reset();
    expect(
      enc.encode(
        frame(1, 2, (_, y) => (y === 0 ? [250, 5, 0] : [0, 0, 250])),
        { row: 0, col: 0 },
        out,
      ),
    ).toBe(0);
  });
});

describe('ascii', () => {
  it('draws brightness as characters, no colour, and only the changed cells', () => {
    const enc = new AsciiEncoder(4, 1);
    const out = new TermBuffer();
    const grey = (v: number): Rgb => [v, v, v];
    // ramp " .:-=+*#%@": 10 steps over 0..255
    enc.encode(
      frame(4, 1, (x) => grey([0, 128, 200, 255][x])),
      { row: 0, col: 0 },
      out,
    );
    expect(text(out)).toBe('\x1b[1;1H +#@');
    out.reset();
    enc.encode(
      frame(4, 1, (x) => grey([0, 128, 255, 255][x])),
      { row: 0, col: 0 },
      out,
    );
    expect(text(out)).toBe('\x1b[1;3H@');
  });
});

describe('TermBuffer', () => {
  it('writes decimals of any size and grows as needed', () => {
    const out = new TermBuffer(4);
    for (const n of [0, 7, 42, 999, 1000, 1001, 65535, 1234567]) {
      out.reset();
      out.dec(n);
      expect(Buffer.from(out.view()).toString()).toBe(String(n));
    }
    out.reset();
    out.text('x'.repeat(100));
    out.moveTo(9, 119);
    expect(Buffer.from(out.take()).toString()).toBe(`${'x'.repeat(100)}\x1b[10;120H`);
  });
});
