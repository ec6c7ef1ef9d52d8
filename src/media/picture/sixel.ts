/**
 * Sixel pictures (DEC's bitmap format: xterm -ti vt340, foot, WezTerm, mlterm, Windows Terminal,
 * iTerm2, ...). Each frame is quantised to a fixed colour cube that fits the terminal's colour
 * registers (no per-frame palette search, no dithering: flat areas stay flat, which keeps the
 * run-length coding short) and written as one DCS sequence.
 *
 * The encoder goes through the picture once per band of 6 rows and links, per colour, the
 * columns where that colour appears, so the output for a band costs time in proportion to its
 * pixels, not to pixels x colours.
 */
import type { RgbFrame } from './frame.js';
import type { TermBuffer } from './termbuf.js';

/** Levels per channel (red, green, blue) for a number of colour registers. */
export function sixelLevels(registers: number): [number, number, number] {
  if (registers >= 252) return [6, 7, 6];
  if (registers >= 125) return [5, 5, 5];
  if (registers >= 64) return [4, 4, 4];
  if (registers >= 27) return [3, 3, 3];
  if (registers >= 12) return [2, 3, 2];
  return [2, 2, 2];
}

/** Nearest-level table for one channel: value -> level index. */
function levelTable(levels: number): Uint8Array {
  const t = new Uint8Array(256);
  for (let v = 0; v < 256; v++) t[v] = Math.round((v * (levels - 1)) / 255);
  return t;
}

/** A level index as a sixel colour component (percent). */
const percent = (i: number, levels: number) => Math.round((i * 100) / (levels - 1));

const BAND = 6;

export class SixelEncoder {
  readonly levels: [number, number, number];
  readonly colors: number;
  private readonly lutR: Uint8Array;
  private readonly lutG: Uint8Array;
  private readonly lutB: Uint8Array;
  /** Colour register definitions, `#i;2;r;g;b`, by index. */
  private readonly defs: Uint8Array[];
  private index = new Uint16Array(0);
  private readonly used: Uint8Array;
  private readonly head: Int32Array;
  private readonly tail: Int32Array;
  private readonly bandColors: Uint16Array;
  private entX = new Int32Array(0);
  private entMask = new Uint8Array(0);
  private entNext = new Int32Array(0);

  constructor(registers = 256) {
    this.levels = sixelLevels(registers);
    const [nr, ng, nb] = this.levels;
    this.colors = nr * ng * nb;
    this.lutR = levelTable(nr);
    this.lutG = levelTable(ng);
    this.lutB = levelTable(nb);
    this.defs = [];
    for (let r = 0; r < nr; r++)
      for (let g = 0; g < ng; g++)
        for (let b = 0; b < nb; b++) {
          const i = (r * ng + g) * nb + b;
          this.defs[i] = new Uint8Array(
            Buffer.from(`#${i};2;${percent(r, nr)};${percent(g, ng)};${percent(b, nb)}`),
          );
        }
    this.used = new Uint8Array(this.colors);
    this.head = new Int32Array(this.colors).fill(-1);
    this.tail = new Int32Array(this.colors).fill(-1);
    this.bandColors = new Uint16Array(this.colors);
  }

  /** The RGB value a palette index stands for (tests). */
  paletteRgb(i: number): [number, number, number] {
    const [nr, ng, nb] = this.levels;
    const level = (k: number, n: number) => Math.round((k * 255) / (n - 1));
    return [level(Math.floor(i / (ng * nb)), nr), level(Math.floor(i / nb) % ng, ng), level(i % nb, nb)];
  }

  /** Writes the whole frame as one sixel image at the cursor. */
  encode(frame: RgbFrame, out: TermBuffer): void {
    const { width: w, height: h, data } = frame;
    const n = w * h;
    if (this.index.length < n) this.index = new Uint16Array(n);
    if (this.entX.length < w * BAND) {
      this.entX = new Int32Array(w * BAND);
      this.entMask = new Uint8Array(w * BAND);
      this.entNext = new Int32Array(w * BAND);
    }
    const { index, used, lutR, lutG, lutB } = this;
    const [, ng, nb] = this.levels;
    used.fill(0);
    for (let i = 0, p = 0; i < n; i++, p += 3) {
      const c = (lutR[data[p]] * ng + lutG[data[p + 1]]) * nb + lutB[data[p + 2]];
      index[i] = c;
      used[c] = 1;
    }
    // DCS P1=9 (square pixels) P2=1 (pixels not drawn keep their colour) q, then raster attributes
    out.text('\x1bP9;1;0q"1;1;');
    out.dec(w);
    out.byte(0x3b);
    out.dec(h);
    for (let c = 0; c < this.colors; c++) if (used[c]) out.bytes(this.defs[c]);
    for (let y0 = 0; y0 < h; y0 += BAND) {
      if (y0 > 0) out.byte(0x2d); // '-': next band
      this.band(w, y0, Math.min(BAND, h - y0), out);
    }
    out.text('\x1b\\');
  }

  private band(w: number, y0: number, rows: number, out: TermBuffer): void {
    const { index, head, tail, entX, entMask, entNext, bandColors } = this;
    let entries = 0;
    let count = 0;
    for (let x = 0; x < w; x++) {
      for (let r = 0, i = y0 * w + x; r < rows; r++, i += w) {
        const c = index[i];
        const e = tail[c];
        if (e >= 0 && entX[e] === x) {
          entMask[e] |= 1 << r;
          continue;
        }
        const ne = entries++;
        entX[ne] = x;
        entMask[ne] = 1 << r;
        entNext[ne] = -1;
        if (e >= 0) entNext[e] = ne;
        else {
          head[c] = ne;
          bandColors[count++] = c;
        }
        tail[c] = ne;
      }
    }
    for (let k = 0; k < count; k++) {
      const c = bandColors[k];
      if (k > 0) out.byte(0x24); // '$': back to the start of the band
      out.byte(0x23); // '#'
      out.dec(c);
      let x = 0;
      for (let e = head[c]; e >= 0; ) {
        const start = entX[e];
        const mask = entMask[e];
        let len = 1;
        let next = entNext[e];
        while (next >= 0 && entX[next] === start + len && entMask[next] === mask) {
          len++;
          next = entNext[next];
        }
        if (start > x) run(out, 0x3f, start - x);
        run(out, 0x3f + mask, len);
        x = start + len;
        e = next;
      }
      head[c] = -1;
      tail[c] = -1;
    }
  }
}

/** `n` copies of a sixel character, run-length coded (`!n c`) from 4 on. */
function run(out: TermBuffer, ch: number, n: number): void {
  if (n >= 4) {
    out.byte(0x21);
    out.dec(n);
    out.byte(ch);
  } else for (let i = 0; i < n; i++) out.byte(ch);
}
