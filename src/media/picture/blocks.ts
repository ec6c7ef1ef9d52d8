/**
 * Pictures made of text cells, for terminals without graphics (and tmux): `blocks` draws two
 * pixels per cell with the upper half block ▀ (foreground = upper pixel, background = lower),
 * in 24-bit colour or the xterm 256-colour palette; `ascii` draws one pixel per cell as a
 * character of matching brightness, without colour.
 *
 * Both remember what each cell shows and write only the cells that changed (a cell whose colours
 * moved by less than `tolerance` counts as unchanged, so decoder noise costs nothing), moving the
 * cursor over the rest. The frame loop works on typed arrays and a reused TermBuffer.
 */
import type { RgbFrame } from './frame.js';
import type { TermBuffer } from './termbuf.js';

export type BlockColors = 'truecolor' | '256';

/** Sum of the three channel differences below which a cell is left as it is. */
export const DEFAULT_TOLERANCE = 12;

const UPPER_HALF = new Uint8Array([0xe2, 0x96, 0x80]); // ▀
const SGR_RESET = new Uint8Array(Buffer.from('\x1b[0m'));
const CSI = new Uint8Array([0x1b, 0x5b]);

/** Levels of the 6x6x6 colour cube of the xterm 256-colour palette. */
const CUBE_LEVELS = [0, 95, 135, 175, 215, 255];
const CUBE_INDEX = new Uint8Array(256);
for (let v = 0; v < 256; v++) CUBE_INDEX[v] = v < 48 ? 0 : v < 115 ? 1 : Math.floor((v - 35) / 40);

/** The xterm 256-colour index nearest to an RGB colour (cube 16..231 or grey ramp 232..255). */
export function xterm256(r: number, g: number, b: number): number {
  const ri = CUBE_INDEX[r];
  const gi = CUBE_INDEX[g];
  const bi = CUBE_INDEX[b];
  const cr = CUBE_LEVELS[ri] - r;
  const cg = CUBE_LEVELS[gi] - g;
  const cb = CUBE_LEVELS[bi] - b;
  const cubeDist = cr * cr + cg * cg + cb * cb;
  const avg = Math.floor((r + g + b) / 3);
  const gray = avg > 238 ? 23 : avg < 8 ? 0 : Math.min(23, Math.round((avg - 8) / 10));
  const gv = 8 + 10 * gray;
  const gDist = (gv - r) * (gv - r) + (gv - g) * (gv - g) + (gv - b) * (gv - b);
  return gDist < cubeDist ? 232 + gray : 16 + 36 * ri + 6 * gi + bi;
}

/** The RGB value of an xterm 256-colour index from 16 up (tests, and the 16 base colours are not used). */
export function xterm256Rgb(index: number): [number, number, number] {
  if (index >= 232) {
    const v = 8 + 10 * (index - 232);
    return [v, v, v];
  }
  const i = index - 16;
  return [CUBE_LEVELS[Math.floor(i / 36)], CUBE_LEVELS[Math.floor(i / 6) % 6], CUBE_LEVELS[i % 6]];
}

/** Where a picture's top-left cell is on the terminal (0-based). */
export interface CellOrigin {
  row: number;
  col: number;
}

/** Shared by both encoders: cursor tracking over the cells written in one frame. */
abstract class CellEncoder {
  /** Cursor position after the last cell written this frame; -1 = unknown. */
  protected curRow = -1;
  protected curCol = -1;

  constructor(
    readonly cols: number,
    readonly rows: number,
  ) {}

  /** Forget what the terminal shows: the next frame redraws every cell. */
  abstract invalidate(): void;

  /** Moves the cursor to (row, col), as cheaply as it can. */
  protected goTo(out: TermBuffer, row: number, col: number): void {
    if (row === this.curRow && col === this.curCol) return;
    if (row === this.curRow && col > this.curCol && this.curCol >= 0) {
      out.bytes(CSI);
      const n = col - this.curCol;
      if (n > 1) out.dec(n);
      out.byte(0x43); // CUF
    } else out.moveTo(row, col);
    this.curRow = row;
    this.curCol = col;
  }
}

/** Half-block cells: `frame` must be cols x (rows * 2) pixels. */
export class BlocksEncoder extends CellEncoder {
  /** What each cell shows: 0xRRGGBB (truecolor) or a palette index; -1 unknown. */
  private readonly top: Int32Array;
  private readonly bottom: Int32Array;
  private fg = -1;
  private bg = -1;

  constructor(
    cols: number,
    rows: number,
    private readonly colors: BlockColors = 'truecolor',
    private readonly tolerance = DEFAULT_TOLERANCE,
  ) {
    super(cols, rows);
    this.top = new Int32Array(cols * rows).fill(-1);
    this.bottom = new Int32Array(cols * rows).fill(-1);
  }

  invalidate(): void {
    this.top.fill(-1);
    this.bottom.fill(-1);
  }

  /** Writes the cells that changed; returns how many. */
  encode(frame: RgbFrame, at: CellOrigin, out: TermBuffer): number {
    const { cols, rows } = this;
    if (frame.width !== cols || frame.height < rows * 2)
      throw new RangeError(`blocks: a ${cols}x${rows} picture needs ${cols}x${rows * 2} pixels`);
    const px = frame.data;
    const stride = cols * 3;
    const truecolor = this.colors === 'truecolor';
    this.curRow = -1;
    this.curCol = -1;
    this.fg = -1;
    this.bg = -1;
    let drawn = 0;
    for (let row = 0; row < rows; row++) {
      let p = row * 2 * stride;
      for (let col = 0; col < cols; col++, p += 3) {
        const q = p + stride;
        let t: number;
        let b: number;
        if (truecolor) {
          t = (px[p] << 16) | (px[p + 1] << 8) | px[p + 2];
          b = (px[q] << 16) | (px[q + 1] << 8) | px[q + 2];
          if (this.close(t, b)) b = t;
        } else {
          t = xterm256(px[p], px[p + 1], px[p + 2]);
          b = xterm256(px[q], px[q + 1], px[q + 2]);
        }
        const i = row * cols + col;
        if (this.same(t, this.top[i]) && this.same(b, this.bottom[i])) continue;
        this.top[i] = t;
        this.bottom[i] = b;
        if (drawn === 0) out.bytes(SGR_RESET); // no attribute left over from other output
        this.goTo(out, at.row + row, at.col + col);
        if (t === b) {
          // one colour: a space on that background
          if (this.bg !== t) this.sgr(out, -1, t);
          out.byte(0x20);
        } else {
          this.sgr(out, this.fg === t ? -1 : t, this.bg === b ? -1 : b);
          out.bytes(UPPER_HALF);
        }
        this.curCol++;
        drawn++;
      }
    }
    if (drawn > 0) out.bytes(SGR_RESET);
    return drawn;
  }

  private same(now: number, shown: number): boolean {
    if (shown < 0) return false;
    return this.colors === 'truecolor' ? this.close(now, shown) : now === shown;
  }

  private close(a: number, b: number): boolean {
    const d =
      Math.abs(((a >> 16) & 0xff) - ((b >> 16) & 0xff)) +
      Math.abs(((a >> 8) & 0xff) - ((b >> 8) & 0xff)) +
      Math.abs((a & 0xff) - (b & 0xff));
    return d <= this.tolerance;
  }

  /** Sets the foreground and/or background (-1: leave it). */
  private sgr(out: TermBuffer, fg: number, bg: number): void {
    if (fg < 0 && bg < 0) return;
    out.bytes(CSI);
    if (fg >= 0) {
      this.color(out, 38, fg);
      this.fg = fg;
    }
    if (bg >= 0) {
      if (fg >= 0) out.byte(0x3b);
      this.color(out, 48, bg);
      this.bg = bg;
    }
    out.byte(0x6d); // m
  }

  private color(out: TermBuffer, base: 38 | 48, c: number): void {
    out.dec(base);
    if (this.colors === 'truecolor') {
      out.text(';2;');
      out.dec((c >> 16) & 0xff);
      out.byte(0x3b);
      out.dec((c >> 8) & 0xff);
      out.byte(0x3b);
      out.dec(c & 0xff);
    } else {
      out.text(';5;');
      out.dec(c);
    }
  }
}

/** Dark to bright. */
const RAMP = new Uint8Array(Buffer.from(' .:-=+*#%@'));

/** Characters by brightness: `frame` must be cols x rows pixels. */
export class AsciiEncoder extends CellEncoder {
  private readonly shown: Int16Array;

  constructor(cols: number, rows: number) {
    super(cols, rows);
    this.shown = new Int16Array(cols * rows).fill(-1);
  }

  invalidate(): void {
    this.shown.fill(-1);
  }

  encode(frame: RgbFrame, at: CellOrigin, out: TermBuffer): number {
    const { cols, rows } = this;
    if (frame.width !== cols || frame.height < rows)
      throw new RangeError(`ascii: a ${cols}x${rows} picture needs ${cols}x${rows} pixels`);
    const px = frame.data;
    this.curRow = -1;
    this.curCol = -1;
    let drawn = 0;
    for (let i = 0, p = 0; i < cols * rows; i++, p += 3) {
      // Rec. 601 luma in 0..255, then the ramp step
      const y = (px[p] * 77 + px[p + 1] * 150 + px[p + 2] * 29) >> 8;
      const ch = RAMP[Math.min(RAMP.length - 1, Math.floor((y * RAMP.length) / 256))];
      if (this.shown[i] === ch) continue;
      this.shown[i] = ch;
      const row = Math.floor(i / cols);
      this.goTo(out, at.row + row, at.col + i - row * cols);
      out.byte(ch);
      this.curCol++;
      drawn++;
    }
    return drawn;
  }
}
