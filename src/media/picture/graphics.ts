/**
 * The two image protocols that take a compressed file and scale it into a cell rectangle:
 *
 * - kitty graphics (kitty, WezTerm, Ghostty, Konsole): `ESC _ G keys ; base64 ESC \`, the payload
 *   in chunks of 4096 characters (m=1 on all but the last). Frames alternate between two image
 *   ids: the new one is placed over the old one, then the old one is deleted, so the picture never
 *   flickers to empty. q=2 keeps the terminal from answering on stdin; C=1 keeps the cursor still.
 * - iTerm2 inline images (iTerm2, WezTerm, mintty, VS Code): `ESC ] 1337 ; File=... : base64 BEL`.
 */
import { toBase64 } from '../../proto-stack/bytes.js';
import type { TermBuffer } from './termbuf.js';

const CHUNK = 4096;

/** Image ids rptui uses (two, alternating), and the one the capability query uses. */
export const KITTY_IDS = [0x72707401, 0x72707402] as const;
export const KITTY_QUERY_ID = 0x72707400;

/** Asks whether the terminal takes kitty graphics: a 1x1 image, "query only" (answered `OK`). */
export const KITTY_GRAPHICS_QUERY = `\x1b_Gi=${KITTY_QUERY_ID},s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\`;

export interface CellBox {
  cols: number;
  rows: number;
}

/** Transmits `png` as image `id` and shows it scaled into `box` at the cursor. */
export function kittyImage(png: Uint8Array, id: number, box: CellBox, out: TermBuffer): void {
  const b64 = toBase64(png);
  for (let at = 0; at < b64.length || at === 0; at += CHUNK) {
    const more = at + CHUNK < b64.length ? 1 : 0;
    out.text('\x1b_G');
    if (at === 0) out.text(`a=T,f=100,t=d,i=${id},q=2,C=1,c=${box.cols},r=${box.rows},m=${more};`);
    else out.text(`m=${more};`);
    out.text(b64.slice(at, at + CHUNK));
    out.text('\x1b\\');
  }
}

/** Deletes image `id` and its placements, freeing its data in the terminal. */
export function kittyDelete(id: number, out: TermBuffer): void {
  out.text(`\x1b_Ga=d,d=I,i=${id},q=2\x1b\\`);
}

/** Shows `png` stretched over `box` at the cursor (the picture was already fitted to the box). */
export function itermImage(png: Uint8Array, box: CellBox, out: TermBuffer): void {
  out.text(
    `\x1b]1337;File=inline=1;size=${png.length};width=${box.cols};height=${box.rows};preserveAspectRatio=0;doNotMoveCursor=1:`,
  );
  out.text(toBase64(png));
  out.byte(0x07);
}
