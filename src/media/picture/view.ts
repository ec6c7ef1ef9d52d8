/**
 * A picture in a rectangle of terminal cells: where it goes (fitted to the video's aspect,
 * centred), what size the decoder must make it, and the bytes that draw one frame there in the
 * chosen mode, or take it away again. It writes nothing itself: the sink paces and writes.
 */
import { AsciiEncoder, type BlockColors, BlocksEncoder, type CellOrigin } from './blocks.js';
import type { PictureMode, PixelSize } from './caps.js';
import type { RgbFrame } from './frame.js';
import { itermImage, KITTY_IDS, kittyDelete, kittyImage } from './graphics.js';
import { encodePng } from './png.js';
import { SixelEncoder } from './sixel.js';
import { TermBuffer } from './termbuf.js';

/** Cells of the terminal, 0-based. */
export interface CellRect {
  left: number;
  top: number;
  cols: number;
  rows: number;
}

export interface PictureLayout {
  /** The top-left cell and the cells covered. */
  at: CellOrigin;
  cols: number;
  rows: number;
  /** The pixels the decoder makes. */
  width: number;
  height: number;
}

/** Smallest picture worth sending as an image (pixels on its longer side). */
const MIN_IMAGE = 48;

/**
 * Fits a picture of `aspect` (width / height) into `rect`. Text modes use the cells themselves
 * as pixels (blocks: two per cell, one above the other); image modes use the cell size in pixels
 * and `scale` (< 1: a smaller image for the byte budget; kitty and iTerm2 stretch it back over the
 * cells, a sixel image is drawn as it is, centred). `maxArea` caps a sixel image.
 */
export function layoutPicture(
  mode: PictureMode,
  rect: CellRect,
  cell: PixelSize,
  aspect: number,
  scale = 1,
  maxArea?: PixelSize,
): PictureLayout | undefined {
  if (rect.cols < 1 || rect.rows < 1 || !(aspect > 0)) return undefined;
  // the rectangle in device pixels, and the largest picture of this aspect inside it
  const areaW = rect.cols * cell.width;
  const areaH = rect.rows * cell.height;
  const fitW = Math.min(areaW, areaH * aspect);
  const fitH = Math.min(areaH, areaW / aspect);
  const clampCells = (v: number, max: number) => Math.max(1, Math.min(max, Math.round(v)));
  let cols = clampCells(fitW / cell.width, rect.cols);
  let rows = clampCells(fitH / cell.height, rect.rows);
  let width: number;
  let height: number;
  switch (mode) {
    case 'blocks':
      width = cols;
      height = rows * 2;
      break;
    case 'ascii':
      width = cols;
      height = rows;
      break;
    case 'sixel': {
      let w = fitW * scale;
      let h = fitH * scale;
      if (maxArea) {
        const k = Math.min(1, maxArea.width / w, maxArea.height / h);
        w *= k;
        h *= k;
      }
      // whole bands of 6 rows, never taller than the cells it may cover
      width = Math.max(6, Math.floor(w));
      height = Math.max(6, Math.floor(Math.min(h, areaH) / 6) * 6);
      cols = Math.min(rect.cols, Math.ceil(width / cell.width));
      rows = Math.min(rect.rows, Math.ceil(height / cell.height));
      break;
    }
    default: {
      // kitty, iterm: the terminal stretches the image over cols x rows cells
      const k = Math.max(scale, MIN_IMAGE / Math.max(cols * cell.width, rows * cell.height));
      width = Math.max(2, Math.round(cols * cell.width * Math.min(1, k)));
      height = Math.max(2, Math.round(rows * cell.height * Math.min(1, k)));
    }
  }
  return {
    at: {
      row: rect.top + Math.floor((rect.rows - rows) / 2),
      col: rect.left + Math.floor((rect.cols - cols) / 2),
    },
    cols,
    rows,
    width,
    height,
  };
}

export interface PictureViewOptions {
  mode: PictureMode;
  colors: BlockColors;
  /** One cell in pixels (image modes). */
  cell: PixelSize;
  /** Sixel colour registers (default 256) and largest image. */
  colorRegisters?: number;
  sixelMaxArea?: PixelSize;
  /**
   * Save and restore the cursor (and attributes) around each frame: for a host such as blessed
   * that remembers where it left the cursor.
   */
  keepCursor?: boolean;
}

const SAVE_CURSOR = '\x1b7';
const RESTORE_CURSOR = '\x1b8';

export class PictureView {
  private current: PictureLayout | undefined;
  private blocks: BlocksEncoder | AsciiEncoder | undefined;
  private sixel: SixelEncoder | undefined;
  /** The kitty image on screen, and which of the two ids comes next. */
  private kittyShown: number | undefined;
  private kittyNext = 0;
  private readonly buf = new TermBuffer();

  constructor(readonly o: PictureViewOptions) {}

  get mode(): PictureMode {
    return this.o.mode;
  }

  get layout(): PictureLayout | undefined {
    return this.current;
  }

  /**
   * Lays the picture out in `rect`. Returns true when the decoder must make another size (or
   * the first one). The next frame redraws everything.
   */
  configure(rect: CellRect, aspect: number, scale = 1): boolean {
    const o = this.o;
    const next = layoutPicture(o.mode, rect, o.cell, aspect, scale, o.sixelMaxArea);
    const prev = this.current;
    this.current = next;
    const resized = next?.width !== prev?.width || next?.height !== prev?.height;
    if (next && (resized || next.cols !== prev?.cols || next.rows !== prev?.rows)) {
      if (o.mode === 'blocks') this.blocks = new BlocksEncoder(next.cols, next.rows, o.colors);
      else if (o.mode === 'ascii') this.blocks = new AsciiEncoder(next.cols, next.rows);
    }
    if (o.mode === 'sixel') this.sixel ??= new SixelEncoder(o.colorRegisters ?? 256);
    this.invalidate();
    return resized;
  }

  /** Forget what the terminal shows (it was cleared or drawn over): the next frame draws every cell. */
  invalidate(): void {
    this.blocks?.invalidate();
  }

  /**
   * The bytes that draw `frame` (empty: nothing changed, or the frame has another size than the
   * layout, from before a resize). `frame` may be reused as soon as this returns; the promise
   * settles later only for kitty and iTerm2 (PNG compression).
   */
  render(frame: RgbFrame): Promise<Uint8Array> {
    const l = this.current;
    if (!l || frame.width !== l.width || frame.height !== l.height) return Promise.resolve(new Uint8Array(0));
    const out = this.buf;
    out.reset();
    if (this.o.keepCursor) out.text(SAVE_CURSOR);
    const start = out.length;
    switch (this.o.mode) {
      case 'blocks':
      case 'ascii':
        (this.blocks as BlocksEncoder).encode(frame, l.at, out);
        break;
      case 'sixel':
        out.moveTo(l.at.row, l.at.col);
        this.sixel!.encode(frame, out);
        break;
      case 'kitty':
      case 'iterm':
        return encodePng(frame).then((png) => this.image(png, l));
    }
    if (out.length === start) return Promise.resolve(new Uint8Array(0));
    if (this.o.keepCursor) out.text(RESTORE_CURSOR);
    return Promise.resolve(out.take());
  }

  private image(png: Uint8Array, l: PictureLayout): Uint8Array {
    const out = this.buf;
    out.reset();
    if (this.o.keepCursor) out.text(SAVE_CURSOR);
    out.moveTo(l.at.row, l.at.col);
    if (this.o.mode === 'kitty') {
      // the new image over the old one, then the old one away: never an empty frame
      const id = KITTY_IDS[this.kittyNext];
      this.kittyNext ^= 1;
      kittyImage(png, id, l, out);
      if (this.kittyShown !== undefined && this.kittyShown !== id) kittyDelete(this.kittyShown, out);
      this.kittyShown = id;
    } else itermImage(png, l, out);
    if (this.o.keepCursor) out.text(RESTORE_CURSOR);
    return out.take();
  }

  /**
   * The bytes that take the picture away: kitty images are deleted, and the cells of `rect`
   * (default: the picture's) are blanked, which also covers sixel and iTerm2 images; with
   * `cells` false only the kitty images go (the host already drew over the cells).
   */
  clear(rect?: CellRect, cells = true): Uint8Array {
    const out = this.buf;
    out.reset();
    if (this.o.keepCursor) out.text(SAVE_CURSOR);
    for (const id of KITTY_IDS) if (this.o.mode === 'kitty') kittyDelete(id, out);
    this.kittyShown = undefined;
    const l = this.current;
    const r = rect ?? (l && { left: l.at.col, top: l.at.row, cols: l.cols, rows: l.rows });
    if (r && cells) {
      out.text('\x1b[0m');
      for (let row = 0; row < r.rows; row++) {
        out.moveTo(r.top + row, r.left);
        out.text(`\x1b[${r.cols}X`); // ECH: erase in place, the cursor stays
      }
    }
    if (this.o.keepCursor) out.text(RESTORE_CURSOR);
    this.invalidate();
    return out.take();
  }
}
