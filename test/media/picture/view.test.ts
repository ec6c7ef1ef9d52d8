// Where the picture goes in a rectangle of cells, at what size the decoder makes it, and the bytes
// a view writes for a frame or to take the picture away.
import { describe, expect, it } from 'vitest';
import type { RgbFrame } from '../../../src/media/picture/frame.js';
import { KITTY_IDS } from '../../../src/media/picture/graphics.js';
import { layoutPicture, PictureView } from '../../../src/media/picture/view.js';

const HD = 16 / 9;
const CELL = { width: 8, height: 16 };

describe('layoutPicture', () => {
  it('blocks fill an 80x24 terminal above its status line: 80x23 cells, 80x46 pixels', () => {
    expect(layoutPicture('blocks', { left: 0, top: 0, cols: 80, rows: 23 }, CELL, HD)).toEqual({
      at: { row: 0, col: 0 },
      cols: 80,
      rows: 23,
      width: 80,
      height: 46,
    });
  });

  it('blocks in 200x60: the full width, centred vertically', () => {
    expect(layoutPicture('blocks', { left: 0, top: 0, cols: 200, rows: 59 }, CELL, HD)).toEqual({
      at: { row: 1, col: 0 },
      cols: 200,
      rows: 56,
      width: 200,
      height: 112,
    });
  });

  it('a tall, narrow rectangle: full width, centred, the aspect kept', () => {
    const l = layoutPicture('ascii', { left: 5, top: 2, cols: 20, rows: 40 }, CELL, HD)!;
    expect(l).toMatchObject({ cols: 20, rows: 6, width: 20, height: 6 });
    expect(l.at).toEqual({ row: 2 + 17, col: 5 });
  });

  it('sixel: real pixels from the cell size, whole bands of 6 rows, centred when scaled down', () => {
    const rect = { left: 0, top: 0, cols: 110, rows: 29 };
    expect(layoutPicture('sixel', rect, { width: 6, height: 13 }, HD)).toEqual({
      at: { row: 0, col: 0 },
      cols: 110,
      rows: 29,
      width: 660,
      height: 366,
    });
    expect(layoutPicture('sixel', rect, { width: 6, height: 13 }, HD, 0.5)).toEqual({
      at: { row: 7, col: 27 },
      cols: 55,
      rows: 14,
      width: 330,
      height: 180,
    });
  });

  it('sixel: never larger than the terminal allows', () => {
    const l = layoutPicture(
      'sixel',
      { left: 0, top: 0, cols: 300, rows: 79 },
      { width: 6, height: 13 },
      HD,
      1,
      {
        width: 1000,
        height: 1000,
      },
    )!;
    expect(l.width).toBe(1000);
    expect(l.height).toBe(558);
    expect(l.height % 6).toBe(0);
  });

  it('kitty and iTerm2: the cells stay, the image shrinks with the scale (the terminal stretches it)', () => {
    const rect = { left: 0, top: 0, cols: 88, rows: 26 };
    const cell = { width: 9, height: 18 };
    expect(layoutPicture('kitty', rect, cell, HD)).toMatchObject({
      cols: 88,
      rows: 25,
      width: 792,
      height: 450,
    });
    expect(layoutPicture('iterm', rect, cell, HD, 0.5)).toMatchObject({
      cols: 88,
      rows: 25,
      width: 396,
      height: 225,
    });
    // never below a usable size
    expect(layoutPicture('kitty', rect, cell, HD, 0.01)!.width).toBeGreaterThanOrEqual(48);
  });

  it('nothing for an empty rectangle or a bad aspect', () => {
    expect(layoutPicture('blocks', { left: 0, top: 0, cols: 0, rows: 10 }, CELL, HD)).toBeUndefined();
    expect(
      layoutPicture('blocks', { left: 0, top: 0, cols: 10, rows: 10 }, CELL, Number.NaN),
    ).toBeUndefined();
    expect(layoutPicture('blocks', { left: 0, top: 0, cols: 1, rows: 1 }, CELL, HD)).toMatchObject({
      cols: 1,
      rows: 1,
    });
  });
});

const solid = (width: number, height: number, rgb: number[]): RgbFrame => {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  return { width, height, data };
};
const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');

describe('PictureView', () => {
  const rect = { left: 2, top: 1, cols: 16, rows: 5 };

  it('says when the decoder needs another size, and draws only frames of the layout size', async () => {
    const v = new PictureView({ mode: 'blocks', colors: 'truecolor', cell: CELL });
    expect(v.configure(rect, HD)).toBe(true);
    expect(v.layout).toMatchObject({ width: 16, height: 10 });
    expect(v.configure({ ...rect, left: 0 }, HD)).toBe(false); // moved: same size
    expect((await v.render(solid(8, 4, [255, 0, 0]))).length).toBe(0); // a frame from before a resize
    const bytes = await v.render(solid(16, 10, [255, 0, 0]));
    expect(latin1(bytes)).toContain('\x1b[48;2;255;0;0m');
    expect((await v.render(solid(16, 10, [255, 0, 0]))).length).toBe(0); // nothing changed
    v.invalidate();
    expect((await v.render(solid(16, 10, [255, 0, 0]))).length).toBe(bytes.length);
  });

  it('keeps the host cursor: save before, restore after', async () => {
    const v = new PictureView({ mode: 'sixel', colors: 'truecolor', cell: CELL, keepCursor: true });
    v.configure(rect, HD);
    const l = v.layout!;
    const s = latin1(await v.render(solid(l.width, l.height, [0, 0, 255])));
    expect(s.startsWith(`\x1b7\x1b[${l.at.row + 1};${l.at.col + 1}H\x1bP`)).toBe(true);
    expect(s.endsWith('\x1b\\\x1b8')).toBe(true);
  });

  it('kitty: each frame a new image over the old one, then the old one deleted; clear() deletes both ids', async () => {
    const v = new PictureView({ mode: 'kitty', colors: 'truecolor', cell: CELL });
    v.configure(rect, HD);
    const l = v.layout!;
    const f = solid(l.width, l.height, [0, 255, 0]);
    const first = latin1(await v.render(f));
    expect(first).toContain(`i=${KITTY_IDS[0]},`);
    expect(first).not.toContain('a=d');
    const second = latin1(await v.render(f));
    expect(second.indexOf(`i=${KITTY_IDS[1]},`)).toBeLessThan(second.indexOf(`a=d,d=I,i=${KITTY_IDS[0]}`));
    const cleared = latin1(v.clear());
    for (const id of KITTY_IDS) expect(cleared).toContain(`a=d,d=I,i=${id}`);
  });

  it('clear() erases the picture cells in place (ECH), row by row', () => {
    const v = new PictureView({ mode: 'blocks', colors: 'truecolor', cell: CELL });
    v.configure(rect, HD);
    const l = v.layout!;
    const s = latin1(v.clear());
    expect(s.match(/\x1b\[\d+;\d+H\x1b\[\d+X/g)).toHaveLength(l.rows);
    expect(s).toContain(`\x1b[${l.at.row + 1};${l.at.col + 1}H\x1b[${l.cols}X`);
    expect(latin1(v.clear({ left: 0, top: 0, cols: 3, rows: 2 }))).toBe(
      '\x1b[0m\x1b[1;1H\x1b[3X\x1b[2;1H\x1b[3X',
    );
  });
});
