import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signInUrl } from '../../src/proto-stack/psn.js';
import { fitQr, qrRows, qrSize } from '../../src/ui/qr.js';
import { decodeTerminalQr } from '../helpers/qr.js';

describe('terminal QR codes', () => {
  it("Sony's sign-in address: 79 columns x 40 rows with a one-module quiet zone, and it scans back", () => {
    const url = signInUrl();
    expect(url.length).toBe(515);
    expect(qrSize(url)).toEqual({ columns: 79, rows: 40 });
    const rows = fitQr(url, 80);
    expect(rows).toHaveLength(40);
    expect(new Set(rows?.map((r) => [...r].length))).toEqual(new Set([79]));
    expect(decodeTerminalQr(rows?.join('\n') ?? '')).toBe(url);
    // an 80-column terminal holds it; 78 columns do not
    expect(fitQr(url, 78)).toBeUndefined();
    // with room, the quiet zone is two modules
    expect(fitQr(url, 81)?.[0]).toHaveLength(81);
    expect(fitQr(url, 81)).toEqual(qrRows(url, 2));
  });

  it('draws light modules: the quiet zone is solid, the finder pattern has its dark ring', () => {
    const rows = qrRows('hello', 1);
    expect([...rows[0]].every((c) => c === '█' || c === '▀')).toBe(true); // top quiet row is light
    expect(rows[0].startsWith('█▀▀▀▀▀▀▀█')).toBe(true); // quiet row over the finder's dark top edge
    expect(rows.every((r) => r.startsWith('█') || r.startsWith('▀'))).toBe(true); // left quiet column
  });

  it('any text that fits a QR code scans back to itself (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 120 }).filter((s) => /^[\x20-\x7e]+$/.test(s)),
        (text) => {
          expect(decodeTerminalQr(qrRows(text, 1).join('\n'))).toBe(text);
        },
      ),
      { numRuns: 25 },
    );
  });
});
