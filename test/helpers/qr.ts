// Reads a QR code back from terminal text, as a phone's camera would from the screen: the
// half-block rows (light modules drawn, dark ones blank; see src/ui/qr.ts) become a bitmap that
// the `qr` package's decoder scans.
import { decodeQR } from 'qr/decode.js';

const LIGHT_TOP = new Set(['█', '▀']);
const LIGHT_BOTTOM = new Set(['█', '▄']);
const ROW_RE = /[█▀▄][█▀▄ ]{19,}[█▀▄]/;

/**
 * The text of the first QR code in `screen` (lines of terminal text). The code is the longest
 * run of consecutive lines with a block-character row starting in the same column.
 */
export function decodeTerminalQr(screen: string): string {
  const lines = screen.split('\n');
  let best: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = ROW_RE.exec(lines[i]);
    if (!m) continue;
    const col = m.index;
    const width = m[0].length;
    const rows: string[] = [];
    for (let j = i; j < lines.length; j++) {
      const row = [...lines[j]].slice(col, col + width).join('');
      if (!/^[█▀▄ ]+$/.test(row) || !/[█▀▄]/.test(row)) break;
      rows.push(row.padEnd(width));
    }
    if (rows.length > best.length) best = rows;
  }
  if (best.length < 10) throw new Error(`no QR code on the screen:\n${screen}`);
  const scale = 4;
  const margin = 8; // modules of extra light margin, as the page around a printed code
  const modulesW = best[0].length + 2 * margin;
  const modulesH = best.length * 2 + 2 * margin;
  const width = modulesW * scale;
  const height = modulesH * scale;
  const data = new Uint8Array(width * height * 3).fill(255);
  best.forEach((row, r) => {
    [...row].forEach((ch, c) => {
      for (const [half, light] of [
        [0, LIGHT_TOP.has(ch)],
        [1, LIGHT_BOTTOM.has(ch)],
      ] as const) {
        if (light) continue;
        const y0 = (margin + r * 2 + half) * scale;
        const x0 = (margin + c) * scale;
        for (let y = y0; y < y0 + scale; y++)
          data.fill(0, (y * width + x0) * 3, (y * width + x0 + scale) * 3);
      }
    });
  });
  return decodeQR({ width, height, data }, { format: 'RGB' });
}
