// Sixel images of known pixels, read back by a small sixel decoder written here from the format
// (DEC's DCS q: raster attributes, colour definitions in percent, runs, $ and -), exactly as a
// terminal would paint them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RgbFrame } from '../../../src/media/picture/frame.js';
import { SixelEncoder, sixelLevels } from '../../../src/media/picture/sixel.js';
import { TermBuffer } from '../../../src/media/picture/termbuf.js';

type Rgb = [number, number, number];

/** Paints a sixel image; pixels never painted stay undefined, `paints` counts the paints per pixel. */
function decodeSixel(s: string): {
  width: number;
  height: number;
  px: (Rgb | undefined)[];
  paints: number[];
} {
  const m = /^\x1bP([0-9;]*)q([\s\S]*)\x1b\\$/.exec(s);
  if (!m) throw new Error('not a sixel DCS');
  const body = m[2];
  const raster = /^"(\d+);(\d+);(\d+);(\d+)/.exec(body);
  if (!raster) throw new Error('no raster attributes');
  const width = Number(raster[3]);
  const height = Number(raster[4]);
  const px: (Rgb | undefined)[] = new Array(width * height).fill(undefined);
  const paints: number[] = new Array(width * height).fill(0);
  const palette = new Map<number, Rgb>();
  let color: Rgb = [0, 0, 0];
  let x = 0;
  let band = 0;
  const put = (ch: number, n: number) => {
    const bits = ch - 0x3f;
    for (let k = 0; k < n; k++, x++)
      for (let r = 0; r < 6; r++) {
        const y = band * 6 + r;
        if (bits & (1 << r)) {
          if (x >= width || y >= height) throw new Error(`pixel ${x},${y} outside ${width}x${height}`);
          px[y * width + x] = color;
          paints[y * width + x]++;
        }
      }
  };
  for (let i = raster[0].length; i < body.length; ) {
    const c = body[i];
    if (c === '#') {
      const d = /^#(\d+)(?:;2;(\d+);(\d+);(\d+))?/.exec(body.slice(i))!;
      const n = Number(d[1]);
      if (d[2] !== undefined) {
        const pct = (v: string) => Math.round((Number(v) * 255) / 100);
        palette.set(n, [pct(d[2]), pct(d[3]), pct(d[4])]);
      } else {
        const p = palette.get(n);
        if (!p) throw new Error(`colour ${n} used before it was defined`);
        color = p;
      }
      i += d[0].length;
    } else if (c === '!') {
      const r = /^!(\d+)(.)/.exec(body.slice(i))!;
      put(r[2].charCodeAt(0), Number(r[1]));
      i += r[0].length;
    } else if (c === '$') {
      x = 0;
      i++;
    } else if (c === '-') {
      x = 0;
      band++;
      i++;
    } else {
      put(c.charCodeAt(0), 1);
      i++;
    }
  }
  return { width, height, px, paints };
}

function frame(width: number, height: number, pixel: (x: number, y: number) => Rgb): RgbFrame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * 3);
  return { width, height, data };
}

function encode(enc: SixelEncoder, f: RgbFrame): string {
  const out = new TermBuffer();
  enc.encode(f, out);
  return Buffer.from(out.view()).toString('latin1');
}

describe('sixel', () => {
  it('fits the colour cube to the terminal registers', () => {
    expect(sixelLevels(1024)).toEqual([6, 7, 6]);
    expect(sixelLevels(256)).toEqual([6, 7, 6]);
    expect(sixelLevels(64)).toEqual([4, 4, 4]);
    expect(sixelLevels(16)).toEqual([2, 3, 2]);
    expect(new SixelEncoder(16).colors).toBeLessThanOrEqual(16);
    expect(new SixelEncoder(256).colors).toBe(252);
  });

  it('paints every pixel of a 4-colour picture in its exact colour (primaries are on the cube)', () => {
    const enc = new SixelEncoder(256);
    const colors: Rgb[] = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [255, 255, 255],
    ];
    // 13 x 14 pixels: a partial last band, quadrants of colour
    const f = frame(13, 14, (x, y) => colors[(x < 6 ? 0 : 1) + (y < 7 ? 0 : 2)]);
    const s = encode(enc, f);
    expect(s.startsWith('\x1bP9;1;0q"1;1;13;14')).toBe(true);
    const img = decodeSixel(s);
    expect(img.width).toBe(13);
    expect(img.height).toBe(14);
    for (let y = 0; y < 14; y++)
      for (let x = 0; x < 13; x++)
        expect(img.px[y * 13 + x], `${x},${y}`).toEqual(colors[(x < 6 ? 0 : 1) + (y < 7 ? 0 : 2)]);
    // only the colours used are defined
    expect(s.match(/#\d+;2;/g)).toHaveLength(4);
  });

  it('codes runs: a flat 100-pixel row is one repeat per colour and band', () => {
    const s = encode(
      new SixelEncoder(),
      frame(100, 6, () => [255, 0, 0]),
    );
    expect(s).toMatch(/"1;1;100;6#\d+;2;100;0;0#\d+!100~\x1b\\$/);
  });

  it('quantises to the nearest level of each channel', () => {
    const enc = new SixelEncoder(256);
    const f = frame(
      3,
      1,
      (x) =>
        [
          [20, 20, 20],
          [130, 100, 200],
          [250, 240, 10],
        ][x] as Rgb,
    );
    const img = decodeSixel(encode(enc, f));
    const [nr, ng, nb] = enc.levels;
    const near = (v: number, n: number) => Math.round((Math.round((v * (n - 1)) / 255) * 255) / (n - 1));
    for (let x = 0; x < 3; x++) {
      const p = f.data.subarray(x * 3, x * 3 + 3);
      const got = img.px[x]!;
      // percent rounding in the format costs up to ~1.3 of 255
      expect(Math.abs(got[0] - near(p[0], nr))).toBeLessThanOrEqual(2);
      expect(Math.abs(got[1] - near(p[1], ng))).toBeLessThanOrEqual(2);
      expect(Math.abs(got[2] - near(p[2], nb))).toBeLessThanOrEqual(2);
    }
  });

  it('paints every pixel exactly once per image, in its quantised colour, for any picture (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 0xffffff }), { minLength: 400, maxLength: 400 }),
        fc.constantFrom(16, 64, 256),
        (w, h, colors, registers) => {
          const enc = new SixelEncoder(registers);
          const f = frame(w, h, (x, y) => {
            const c = colors[y * w + x];
            return [c >> 16, (c >> 8) & 0xff, c & 0xff];
          });
          const img = decodeSixel(encode(enc, f));
          expect(img.paints.every((n) => n === 1)).toBe(true);
          for (let i = 0; i < w * h; i++) {
            const got = img.px[i];
            expect(got).toBeDefined();
            const expected = enc.paletteRgb(paletteIndex(enc, f.data, i));
            for (let c = 0; c < 3; c++) expect(Math.abs(got![c] - expected[c])).toBeLessThanOrEqual(2);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reuses its buffers across frames of different sizes', () => {
    const enc = new SixelEncoder();
    const a = decodeSixel(
      encode(
        enc,
        frame(40, 30, () => [0, 0, 255]),
      ),
    );
    const b = decodeSixel(
      encode(
        enc,
        frame(7, 5, () => [255, 255, 0]),
      ),
    );
    expect(a.px.every((p) => p?.join() === '0,0,255')).toBe(true);
    expect(b.px.every((p) => p?.join() === '255,255,0')).toBe(true);
  });
});

/** The palette index the encoder must pick for pixel i: nearest level per channel. */
function paletteIndex(enc: SixelEncoder, data: Uint8Array, i: number): number {
  const [nr, ng, nb] = enc.levels;
  const lv = (v: number, n: number) => Math.round((v * (n - 1)) / 255);
  return (lv(data[i * 3], nr) * ng + lv(data[i * 3 + 1], ng)) * nb + lv(data[i * 3 + 2], nb);
}
