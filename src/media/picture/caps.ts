/**
 * What the terminal can draw, from its answers to a few queries and from the environment
 * (sans-I/O: probe.ts does the writing and reading).
 *
 * PROBE_QUERY asks, in this order: the kitty graphics query, the cell size in pixels (CSI 16 t)
 * and the text area in pixels (CSI 14 t), XTSMGRAPHICS for the sixel colour registers, the sixel
 * area and its maximum, DECRQSS of a 24-bit background colour (does the terminal keep it?), and
 * last the primary device attributes (DA1), which every terminal answers, in order: once the DA1
 * answer is in, so is everything else the terminal was going to say. DA1 parameter 4 is sixel.
 */
import { UsageError } from '../../proto-stack/errors.js';
import type { BlockColors } from './blocks.js';
import { KITTY_GRAPHICS_QUERY, KITTY_QUERY_ID } from './graphics.js';

export const PICTURE_MODES = ['kitty', 'sixel', 'iterm', 'blocks', 'ascii'] as const;
export type PictureMode = (typeof PICTURE_MODES)[number];

/** Parses a --picture value. */
export function parsePictureMode(text: string): PictureMode | 'auto' {
  const s = text.trim().toLowerCase();
  if (s === 'auto' || (PICTURE_MODES as readonly string[]).includes(s)) return s as PictureMode | 'auto';
  throw new UsageError(
    `--picture "${text}" is not a picture mode`,
    `Use ${PICTURE_MODES.join(', ')} or auto (ask the terminal)`,
  );
}

export interface PixelSize {
  width: number;
  height: number;
}

/** What a terminal said. Absent fields: no answer. */
export interface TerminalAnswers {
  kittyGraphics?: boolean;
  /** DA1 parameters (`CSI ? 64 ; 4 ; ... c`). */
  deviceAttributes?: number[];
  colorRegisters?: number;
  /** XTSMGRAPHICS: the sixel area now (xterm: the text area) and the largest it allows. */
  sixelArea?: PixelSize;
  sixelMaxArea?: PixelSize;
  cellPixels?: PixelSize;
  textAreaPixels?: PixelSize;
  /** DECRQSS said the 24-bit colour was kept (true) or changed/refused (false). */
  truecolor?: boolean;
}

const TRUECOLOR_PROBE = '\x1b[48;2;1;2;3m\x1bP$qm\x1b\\\x1b[0m';

export const PROBE_QUERY =
  KITTY_GRAPHICS_QUERY +
  '\x1b[16t\x1b[14t' +
  '\x1b[?1;1;0S\x1b[?2;1;0S\x1b[?2;4;0S' +
  TRUECOLOR_PROBE +
  '\x1b[c';

const ESC = 0x1b;
/** An answer longer than this is not one (a stray ESC followed by typing). */
const MAX_ANSWER = 512;

/**
 * Reads a terminal's answers to PROBE_QUERY out of stdin bytes. Bytes that are no answer (keys
 * typed meanwhile) are kept in order for rest(), to be handed back to stdin.
 */
export class ProbeParser {
  readonly answers: TerminalAnswers = {};
  /** The DA1 answer came: nothing more will. */
  done = false;
  private pending: number[] = [];
  private readonly other: number[] = [];
  private geometryAnswers = 0;

  feed(bytes: Uint8Array): void {
    for (const b of bytes) this.pending.push(b);
    let i = 0;
    while (i < this.pending.length) {
      if (this.pending[i] !== ESC) {
        this.other.push(this.pending[i++]);
        continue;
      }
      const end = this.sequenceEnd(i);
      if (end < 0) {
        if (this.pending.length - i > MAX_ANSWER) {
          this.other.push(this.pending[i++]);
          continue;
        }
        break; // wait for the rest
      }
      const seq = this.pending.slice(i, end);
      if (!this.answer(seq)) for (const b of seq) this.other.push(b);
      i = end;
    }
    this.pending = this.pending.slice(i);
  }

  /** Bytes that were not answers, plus an unfinished sequence if the terminal stopped mid-way. */
  rest(): Uint8Array {
    return new Uint8Array([...this.other, ...this.pending]);
  }

  /** One past the end of the sequence starting at `i` (an ESC), or -1 if incomplete. */
  private sequenceEnd(i: number): number {
    const p = this.pending;
    if (i + 1 >= p.length) return -1;
    const kind = p[i + 1];
    if (kind === 0x5b /* [ */) {
      for (let j = i + 2; j < p.length; j++) if (p[j] >= 0x40 && p[j] <= 0x7e) return j + 1;
      return -1;
    }
    if (kind === 0x5f /* _ APC */ || kind === 0x50 /* P DCS */) {
      for (let j = i + 2; j + 1 < p.length; j++) if (p[j] === ESC && p[j + 1] === 0x5c) return j + 2;
      return -1;
    }
    return i + 2; // ESC + a key: alt+key, not ours
  }

  private answer(seq: number[]): boolean {
    const text = String.fromCharCode(...seq);
    const a = this.answers;
    if (text.startsWith('\x1b_G')) {
      const m = /^\x1b_G([^;]*);([^\x1b]*)\x1b\\$/.exec(text);
      if (!m?.[1].split(',').includes(`i=${KITTY_QUERY_ID}`)) return false;
      a.kittyGraphics = m[2] === 'OK';
      return true;
    }
    if (text.startsWith('\x1bP')) {
      const m = /^\x1bP([01])\$r([^\x1b]*)\x1b\\$/.exec(text);
      if (!m) return false;
      a.truecolor = m[1] === '1' && /48[:;]2[:;]+1[:;]2[:;]3(?![0-9])/.test(m[2]);
      return true;
    }
    const csi = /^\x1b\[(\??)([0-9;]*)([A-Za-z])$/.exec(text);
    if (!csi) return false;
    const [, q, body, final] = csi;
    const n = body === '' ? [] : body.split(';').map(Number);
    if (q === '?' && final === 'c') {
      a.deviceAttributes = n;
      this.done = true;
      return true;
    }
    if (q === '?' && final === 'S') {
      // XTSMGRAPHICS: Pi ; status (0 = success) ; values
      if (n[0] === 1) {
        if (n[1] === 0 && n[2] > 0) a.colorRegisters = n[2];
      } else if (n[0] === 2) {
        // answers come in query order: the current area, then the maximum
        const which = this.geometryAnswers++ === 0 ? 'sixelArea' : 'sixelMaxArea';
        if (n[1] === 0 && n[2] > 0 && n[3] > 0) a[which] = { width: n[2], height: n[3] };
      } else return false;
      return true;
    }
    if (q === '' && final === 't' && (n[0] === 6 || n[0] === 4) && n[1] > 0 && n[2] > 0) {
      const size = { width: n[2], height: n[1] };
      if (n[0] === 6) a.cellPixels = size;
      else a.textAreaPixels = size;
      return true;
    }
    return false;
  }
}

export interface PictureChoice {
  mode: PictureMode;
  /** For blocks: 24-bit colour or the 256-colour palette. */
  colors: BlockColors;
  /** Why, in a few words (said once when the picture starts). */
  reason: string;
}

const TRUECOLOR_TERMS = /(direct|kitty|alacritty|foot|wezterm|ghostty|iterm|contour|rio)/;
const TRUECOLOR_PROGRAMS = new Set(['iTerm.app', 'WezTerm', 'vscode', 'ghostty', 'Hyper', 'mintty', 'Tabby']);

/** Whether 24-bit colour codes are safe: said by the environment or the terminal, or tmux (which converts). */
function blockColors(env: NodeJS.ProcessEnv, a: TerminalAnswers): BlockColors {
  const colorterm = (env.COLORTERM ?? '').toLowerCase();
  const term = (env.TERM ?? '').toLowerCase();
  if (colorterm === 'truecolor' || colorterm === '24bit' || a.truecolor === true) return 'truecolor';
  if (env.TMUX || term.startsWith('tmux') || term.startsWith('screen')) return 'truecolor';
  if (TRUECOLOR_TERMS.test(term) || TRUECOLOR_PROGRAMS.has(env.TERM_PROGRAM ?? '')) return 'truecolor';
  return '256';
}

/**
 * The picture mode for this terminal: `requested` unless auto; else kitty graphics if the
 * terminal said OK to the query, iTerm2 images where the terminal is iTerm2, WezTerm or mintty
 * ($TERM_PROGRAM, or $LC_TERMINAL, which SSH passes on), sixel if DA1 lists it, ascii on a dumb
 * terminal, and blocks everywhere else.
 */
export function choosePictureMode(
  env: NodeJS.ProcessEnv,
  a: TerminalAnswers,
  requested: PictureMode | 'auto' = 'auto',
): PictureChoice {
  const colors = blockColors(env, a);
  if (requested !== 'auto') return { mode: requested, colors, reason: 'as asked' };
  const program = env.TERM_PROGRAM ?? '';
  const term = (env.TERM ?? '').toLowerCase();
  if (a.kittyGraphics) return { mode: 'kitty', colors, reason: 'the terminal takes kitty graphics' };
  if (program === 'iTerm.app' || env.LC_TERMINAL === 'iTerm2')
    return { mode: 'iterm', colors, reason: 'iTerm2' };
  if (program === 'WezTerm' || program === 'mintty') return { mode: 'iterm', colors, reason: program };
  if (a.deviceAttributes?.includes(4)) return { mode: 'sixel', colors, reason: 'the terminal draws sixel' };
  if (term === 'dumb' || /^vt[12]\d\d/.test(term))
    return { mode: 'ascii', colors, reason: `TERM=${term}: no colour` };
  return {
    mode: 'blocks',
    colors,
    reason:
      colors === 'truecolor'
        ? 'no graphics protocol; 24-bit colour'
        : 'no graphics protocol; 256 colours (set COLORTERM=truecolor if the terminal has 24-bit colour)',
  };
}

/**
 * The size of one cell in pixels: asked directly, else derived from the text area, else a guess:
 * 8x16, but 6x12 for sixel, whose image the terminal does not fit to the cells (too small a guess
 * gives a smaller picture; too large a one, a picture over the status line that scrolls the screen).
 */
export function cellSize(a: TerminalAnswers, cols: number, rows: number, mode?: PictureMode): PixelSize {
  if (a.cellPixels) return a.cellPixels;
  const area = a.textAreaPixels ?? a.sixelArea;
  if (area && cols > 0 && rows > 0) {
    const width = Math.floor(area.width / cols);
    const height = Math.floor(area.height / rows);
    if (width > 0 && height > 0) return { width, height };
  }
  return mode === 'sixel' ? { width: 6, height: 12 } : { width: 8, height: 16 };
}
