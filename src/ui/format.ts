/** Pure text helpers of the TUI (tested without a terminal). */

const BLOCKS = '▁▂▃▄▅▆▇█';

/**
 * A one-line bar graph of the last `width` values, scaled to `max` (default: the largest value,
 * at least 1). Missing history on the left is blank, so the newest sample is always rightmost.
 */
export function sparkline(values: readonly number[], width: number, max?: number): string {
  if (width <= 0) return '';
  const tail = values.slice(-width);
  const top = Math.max(max ?? 0, ...tail.map((v) => (Number.isFinite(v) ? v : 0)), 1e-9);
  const bars = tail.map((v) => {
    if (!Number.isFinite(v) || v <= 0) return ' ';
    // level k covers (k/8, (k+1)/8] of the top: the top value is always a full block
    const i = Math.max(0, Math.min(BLOCKS.length - 1, Math.ceil((v / top) * BLOCKS.length) - 1));
    return BLOCKS[i];
  });
  return ' '.repeat(width - bars.length) + bars.join('');
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
