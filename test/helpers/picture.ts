// Checking a picture drawn in a terminal against the simulator's clip: the clip's first frame
// decoded by ffmpeg, the six colour bars of ffmpeg's testsrc2 as regions (fractions of the
// picture, clear of the moving line, checker square and counters), and readers for what a
// terminal shows: a tmux capture with colours (`capture-pane -p -e -N`) or a screenshot.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './vectors.js';

export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

const frames = new Map<string, RgbImage>();

/** Frame `index` of a committed clip as RGB, decoded by the system ffmpeg. */
export function clipFrame(file = 'testsrc-720p60.h264', index = 0): RgbImage {
  const key = `${file}#${index}`;
  const cached = frames.get(key);
  if (cached) return cached;
  const path = join(repoRoot, 'test/fixtures/media', file);
  const probe = execFileSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', path],
    { encoding: 'utf8' },
  );
  const [width, height] = probe.trim().split(',').map(Number);
  const data = execFileSync(
    'ffmpeg',
    ['-v', 'error', '-i', path, '-vf', `select=eq(n\\,${index})`, '-vsync', '0', '-frames:v', '1'].concat([
      '-pix_fmt',
      'rgb24',
      '-f',
      'rawvideo',
      'pipe:1',
    ]),
    { maxBuffer: 64 << 20 },
  );
  const img = { width, height, data: new Uint8Array(data) };
  frames.set(key, img);
  return img;
}

export interface Region {
  name: string;
  /** Fractions of the picture. */
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** testsrc2's bars, left to right; each checked near its top and near its bottom. */
const BARS = ['red', 'green', 'yellow', 'blue', 'magenta', 'cyan'];
export const BAR_REGIONS: Region[] = BARS.flatMap((name, i) => {
  const x0 = (i + 0.3) / 6;
  const x1 = (i + 0.7) / 6;
  return [
    { name: `${name} (top)`, x0, x1, y0: 0.12, y1: 0.22 },
    { name: `${name} (bottom)`, x0, x1, y0: 0.9, y1: 0.97 },
  ];
});

/** Median of each channel over a region of `box` in `img` (a thin line crossing it does not count). */
export function regionColor(img: RgbImage, box: Box, r: Region): [number, number, number] {
  const xs = Math.floor(box.x + r.x0 * box.width);
  const xe = Math.max(xs + 1, Math.floor(box.x + r.x1 * box.width));
  const ys = Math.floor(box.y + r.y0 * box.height);
  const ye = Math.max(ys + 1, Math.floor(box.y + r.y1 * box.height));
  const ch: number[][] = [[], [], []];
  for (let y = ys; y < ye; y++)
    for (let x = xs; x < xe; x++)
      for (let c = 0; c < 3; c++) ch[c].push(img.data[(y * img.width + x) * 3 + c]);
  const median = (v: number[]) => v.sort((a, b) => a - b)[v.length >> 1];
  return [median(ch[0]), median(ch[1]), median(ch[2])];
}

export interface RegionResult {
  name: string;
  shown: [number, number, number];
  expected: [number, number, number];
  /** Mean absolute difference per channel, 0..255. */
  error: number;
}

/** Each bar region of `shown` (the picture inside `box`) against the same region of the clip frame. */
export function compareBars(shown: RgbImage, box: Box, reference = clipFrame()): RegionResult[] {
  const whole = { x: 0, y: 0, width: reference.width, height: reference.height };
  return BAR_REGIONS.map((r) => {
    const s = regionColor(shown, box, r);
    const e = regionColor(reference, whole, r);
    const error = (Math.abs(s[0] - e[0]) + Math.abs(s[1] - e[1]) + Math.abs(s[2] - e[2])) / 3;
    return { name: r.name, shown: s, expected: e, error };
  });
}

/** The bounding box of strongly coloured pixels: the colour bars, not text, borders or background. */
export function saturatedBox(img: RgbImage): Box | undefined {
  let x0 = img.width;
  let y0 = img.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) {
      const p = (y * img.width + x) * 3;
      const r = img.data[p];
      const g = img.data[p + 1];
      const b = img.data[p + 2];
      if (Math.max(r, g, b) - Math.min(r, g, b) < 120) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  return x1 < 0 ? undefined : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** The 16 base colours as xterm draws them, for captures that use them. */
const XTERM_16: [number, number, number][] = [
  [0, 0, 0],
  [205, 0, 0],
  [0, 205, 0],
  [205, 205, 0],
  [0, 0, 238],
  [205, 0, 205],
  [0, 205, 205],
  [229, 229, 229],
  [127, 127, 127],
  [255, 0, 0],
  [0, 255, 0],
  [255, 255, 0],
  [92, 92, 255],
  [255, 0, 255],
  [0, 255, 255],
  [255, 255, 255],
];

function color256(n: number): [number, number, number] {
  if (n < 16) return XTERM_16[n];
  if (n >= 232) {
    const v = 8 + 10 * (n - 232);
    return [v, v, v];
  }
  const levels = [0, 95, 135, 175, 215, 255];
  const i = n - 16;
  return [levels[Math.floor(i / 36)], levels[Math.floor(i / 6) % 6], levels[i % 6]];
}

/**
 * A tmux capture with colours (`capture-pane -p -e -N`) as an image of cols x (rows * 2) pixels:
 * a ▀ cell gives its foreground above its background, any other cell its background twice.
 * Default colours come out black.
 */
export function cellsImage(capture: string, cols: number, rows: number): RgbImage {
  const data = new Uint8Array(cols * rows * 2 * 3);
  const lines = capture.split('\n');
  for (let row = 0; row < rows; row++) {
    const line = lines[row] ?? '';
    let fg: [number, number, number] = [0, 0, 0];
    let bg: [number, number, number] = [0, 0, 0];
    let col = 0;
    for (let i = 0; i < line.length && col < cols; ) {
      if (line[i] === '\x1b') {
        const m = /^\x1b\[([0-9;:]*)m/.exec(line.slice(i));
        if (!m) {
          i++;
          continue;
        }
        const ps = m[1].split(/[;:]/).map((s) => (s === '' ? 0 : Number(s)));
        for (let k = 0; k < ps.length; k++) {
          const p = ps[k];
          if (p === 0) {
            fg = [0, 0, 0];
            bg = [0, 0, 0];
          } else if ((p === 38 || p === 48) && ps[k + 1] === 2) {
            const c: [number, number, number] = [ps[k + 2], ps[k + 3], ps[k + 4]];
            if (p === 38) fg = c;
            else bg = c;
            k += 4;
          } else if ((p === 38 || p === 48) && ps[k + 1] === 5) {
            if (p === 38) fg = color256(ps[k + 2]);
            else bg = color256(ps[k + 2]);
            k += 2;
          } else if (p === 39) fg = [0, 0, 0];
          else if (p === 49) bg = [0, 0, 0];
          else if (p >= 30 && p <= 37) fg = XTERM_16[p - 30];
          else if (p >= 40 && p <= 47) bg = XTERM_16[p - 40];
        }
        i += m[0].length;
        continue;
      }
      const ch = String.fromCodePoint(line.codePointAt(i)!);
      i += ch.length;
      const top = ch === '▀' ? fg : bg;
      for (const [half, c] of [
        [0, top],
        [1, bg],
      ] as const) {
        const p = ((row * 2 + half) * cols + col) * 3;
        data[p] = c[0];
        data[p + 1] = c[1];
        data[p + 2] = c[2];
      }
      col++;
    }
  }
  return { width: cols, height: rows * 2, data };
}

/**
 * Terminal emulators with graphics that run under Xvfb, sized for a 640x360 picture above the
 * status line, running the shell command `cmd`: xterm as a VT340 (sixel; 107x30 cells of 6x13
 * pixels: 642x360) and kitty (kitty graphics; 71x21 cells of 9x18 pixels plus its margins: 639x360,
 * on Mesa's software OpenGL, see KITTY_ENV).
 */
export const xtermSixel = (cmd: string): string[] => [
  'xterm',
  '-ti',
  'vt340',
  '-geometry',
  '107x30+0+0',
  '-e',
  'sh',
  '-c',
  cmd,
];
export const kittyWindow = (cmd: string): string[] => [
  'kitty',
  '--config',
  'NONE',
  '-o',
  'remember_window_size=no',
  '-o',
  'initial_window_width=647',
  '-o',
  'initial_window_height=392',
  'sh',
  '-c',
  cmd,
];
export const KITTY_ENV = { LIBGL_ALWAYS_SOFTWARE: '1' };

/** Reads an X screen (or one window) as raw RGB with ImageMagick's import. */
export function screenshot(display: string, window = 'root'): RgbImage {
  const env = { ...process.env, DISPLAY: display };
  const size = execFileSync('xwininfo', window === 'root' ? ['-root'] : ['-id', window], {
    env,
    encoding: 'utf8',
  });
  const width = Number(/Width: (\d+)/.exec(size)?.[1]);
  const height = Number(/Height: (\d+)/.exec(size)?.[1]);
  const data = execFileSync('import', ['-window', window, '-depth', '8', 'rgb:-'], {
    env,
    maxBuffer: 64 << 20,
  });
  return { width, height, data: new Uint8Array(data) };
}

/**
 * Plays blocks / ascii output on a screen of cells, as a terminal would (cursor moves, SGR,
 * characters): enough of a terminal to check that what is drawn is what was asked for.
 */
export class CellScreen {
  readonly fg: string[];
  readonly bg: string[];
  readonly ch: string[];
  constructor(
    readonly cols: number,
    readonly rows: number,
  ) {
    this.fg = new Array(cols * rows).fill('-');
    this.bg = new Array(cols * rows).fill('-');
    this.ch = new Array(cols * rows).fill('?');
  }
  play(s: string): void {
    let row = 0;
    let col = 0;
    let fg = 'd';
    let bg = 'd';
    let saved = { row, col, fg, bg };
    for (let i = 0; i < s.length; ) {
      if (s[i] === '\x1b' && (s[i + 1] === '7' || s[i + 1] === '8')) {
        if (s[i + 1] === '7') saved = { row, col, fg, bg };
        else ({ row, col, fg, bg } = saved);
        i += 2;
        continue;
      }
      const m = /^\x1b\[([0-9;]*)([A-Za-z])/.exec(s.slice(i, i + 64));
      if (m) {
        const ps = m[1] === '' ? [] : m[1].split(';').map(Number);
        if (m[2] === 'H') {
          row = (ps[0] ?? 1) - 1;
          col = (ps[1] ?? 1) - 1;
        } else if (m[2] === 'C') col += ps[0] ?? 1;
        else if (m[2] === 'X')
          for (let k = 0; k < (ps[0] ?? 1); k++) {
            const at = row * this.cols + col + k;
            this.ch[at] = ' ';
            this.fg[at] = fg;
            this.bg[at] = bg;
          }
        else if (m[2] === 'm') {
          for (let k = 0; k < ps.length; k++) {
            if (ps[k] === 0) fg = bg = 'd';
            else if (ps[k] === 38 || ps[k] === 48) {
              const v = ps[k + 1] === 2 ? ps.slice(k + 2, k + 5).join(',') : `#${ps[k + 2]}`;
              if (ps[k] === 38) fg = v;
              else bg = v;
              k += ps[k + 1] === 2 ? 4 : 2;
            }
          }
          if (ps.length === 0) fg = bg = 'd';
        } else throw new Error(`unexpected sequence ${JSON.stringify(m[0])}`);
        i += m[0].length;
        continue;
      }
      const c = String.fromCodePoint(s.codePointAt(i)!);
      i += c.length;
      const at = row * this.cols + col;
      this.ch[at] = c;
      this.fg[at] = fg;
      this.bg[at] = bg;
      col++;
    }
  }
  /** The colours a cell shows, top and bottom ('r,g,b', '#n' for a palette index, 'd' default, '-' never drawn). */
  cell(col: number, row: number): [string, string] {
    const at = row * this.cols + col;
    return this.ch[at] === '▀' ? [this.fg[at], this.bg[at]] : [this.bg[at], this.bg[at]];
  }

  /** The cells as an image, two pixels per cell (unknown colours black), like cellsImage(). */
  image(): RgbImage {
    const data = new Uint8Array(this.cols * this.rows * 2 * 3);
    for (let row = 0; row < this.rows; row++)
      for (let col = 0; col < this.cols; col++)
        this.cell(col, row).forEach((c, half) => {
          const rgb = /^\d+,\d+,\d+$/.test(c) ? c.split(',').map(Number) : [0, 0, 0];
          data.set(rgb, ((row * 2 + half) * this.cols + col) * 3);
        });
    return { width: this.cols, height: this.rows * 2, data };
  }
}
