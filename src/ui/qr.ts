/**
 * QR codes as terminal text (the PSN sign-in address, for a phone's camera): two module rows per
 * text row with half blocks, so a code is as tall as it is wide on a usual terminal font. Light
 * modules are the drawn ones and dark ones are blank: drawn in white on black (or the terminal's
 * own light-on-dark colours without colour) the code has the usual dark-on-light polarity.
 */
import encodeQR from 'qr';

const CELL = [' ', '▄', '▀', '█']; // index: top light * 2 + bottom light

let cache: { text: string; modules: boolean[][] } | undefined;

/** true = dark module; no quiet zone. Error correction "low": a screen is not a worn label. */
function modules(text: string): boolean[][] {
  if (cache?.text !== text) {
    // the encoder insists on a border of at least one module: take it off again
    const m = encodeQR(text, 'raw', { ecc: 'low', border: 1 });
    cache = { text, modules: m.slice(1, -1).map((row) => row.slice(1, -1)) };
  }
  return cache.modules;
}

/** The rows of the code with `quiet` light modules around it. */
export function qrRows(text: string, quiet = 2): string[] {
  const m = modules(text);
  const size = m.length + 2 * quiet;
  const light = (y: number, x: number) => {
    const my = y - quiet;
    const mx = x - quiet;
    if (y >= size) return false; // below an odd-height code: outside it
    return my < 0 || mx < 0 || my >= m.length || mx >= m.length || !m[my][mx];
  };
  const rows: string[] = [];
  for (let y = 0; y < size; y += 2) {
    let row = '';
    for (let x = 0; x < size; x++) row += CELL[(light(y, x) ? 2 : 0) + (light(y + 1, x) ? 1 : 0)];
    rows.push(row);
  }
  return rows;
}

/** Columns and rows the code takes with a quiet zone of one module (the least a reader needs). */
export function qrSize(text: string): { columns: number; rows: number } {
  const size = modules(text).length + 2;
  return { columns: size, rows: Math.ceil(size / 2) };
}

/** The code in at most `columns`: a two-module quiet zone when it fits, else one; undefined if too wide. */
export function fitQr(text: string, columns: number): string[] | undefined {
  const { columns: least } = qrSize(text);
  if (least > columns) return undefined;
  return qrRows(text, least + 2 <= columns ? 2 : 1);
}
