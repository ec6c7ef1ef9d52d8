/** Pure text helpers of the TUI (tested without a terminal). */

const BLOCKS = '▁▂▃▄▅▆▇█';

/**
 * A bar graph of the last `width` values, `rows` lines tall (top line first), scaled to `max`
 * (default: the largest value). Missing history on the left is blank, so the newest sample is
 * always rightmost; any value above zero shows at least the lowest bar.
 */
export function barGraph(values: readonly number[], width: number, rows = 1, max?: number): string[] {
  if (width <= 0 || rows <= 0) return Array.from({ length: Math.max(0, rows) }, () => '');
  const tail = values.slice(-width).map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
  const top = Math.max(max ?? 0, ...tail, 1e-9);
  const steps = BLOCKS.length * rows;
  // level k of `steps` covers (k-1, k] / steps of the top: the top value fills every row
  const levels = tail.map((v) => (v > 0 ? Math.max(1, Math.min(steps, Math.ceil((v / top) * steps))) : 0));
  const pad = ' '.repeat(width - tail.length);
  const out: string[] = [];
  for (let r = rows - 1; r >= 0; r--) {
    const line = levels.map((l) => {
      const fill = Math.min(BLOCKS.length, Math.max(0, l - r * BLOCKS.length));
      return fill === 0 ? ' ' : BLOCKS[fill - 1];
    });
    out.push(pad + line.join(''));
  }
  return out;
}

/** A one-line bar graph (see barGraph). */
export function sparkline(values: readonly number[], width: number, max?: number): string {
  return barGraph(values, width, 1, max)[0];
}

export function formatKbps(kbps: number): string {
  if (!Number.isFinite(kbps) || kbps <= 0) return '0 kbit/s';
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${Math.round(kbps)} kbit/s`;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0');
  return `${h ? `${h}:` : ''}${mm}:${String(sec).padStart(2, '0')}`;
}

/** Cuts or pads `text` to exactly `width` columns (ASCII-width text; longer names get an ellipsis). */
export function fitText(text: string, width: number): string {
  if (width <= 0) return '';
  const chars = [...text];
  if (chars.length <= width) return text + ' '.repeat(width - chars.length);
  return width === 1 ? '…' : `${chars.slice(0, width - 1).join('')}…`;
}

/**
 * `text` broken at spaces into lines of at most `width` columns (a word longer than a line is
 * cut). The first line keeps its spacing; continuation lines start under the last aligned column
 * (text after two or more spaces) that begins on the first line, else at the text's indentation
 * plus `hang` columns.
 */
export function wrapText(text: string, width: number, hang = 0): string[] {
  const w = Math.max(1, width);
  const len = (t: string) => [...t].length;
  if (len(text) <= w) return [text];
  let column = -1;
  for (const m of text.matchAll(/ {2,}(?=\S)/g)) {
    const c = (m.index ?? 0) + m[0].length;
    if (m.index !== 0 && c <= w - 8) column = c; // (leading spaces are indentation, not a column)
  }
  const lead = len(/^ */.exec(text)?.[0] ?? '');
  const indent = ' '.repeat(column >= 0 ? column : Math.min(lead + hang, w - 1));
  const out: string[] = [];
  let line = '';
  for (const token of text.match(/ *\S+/g) ?? []) {
    if (line.trim() !== '' && len(line) + len(token) > w) {
      out.push(line);
      line = indent;
    }
    line += line.trim() === '' && out.length > 0 ? token.trimStart() : token;
    while (len(line) > w) {
      const chars = [...line];
      out.push(chars.slice(0, w).join(''));
      line = indent + chars.slice(w).join('');
    }
  }
  if (line.trim() !== '') out.push(line);
  return out;
}

/** Values of a ring of samples: push, keep the last `size`. */
export class History {
  private readonly data: number[] = [];
  constructor(readonly size: number) {}
  push(v: number): void {
    this.data.push(Number.isFinite(v) ? v : 0);
    if (this.data.length > this.size) this.data.shift();
  }
  get values(): readonly number[] {
    return this.data;
  }
  get last(): number {
    return this.data.length ? this.data[this.data.length - 1] : 0;
  }
  clear(): void {
    this.data.length = 0;
  }
}
