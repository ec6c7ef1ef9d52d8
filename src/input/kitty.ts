/**
 * The kitty keyboard protocol (https://sw.kovidgoyal.net/kitty/keyboard-protocol/), spoken by
 * kitty, WezTerm, foot, Ghostty, recent Alacritty and others. With it the terminal reports real
 * press, repeat and release events, which a game pad needs; without it we only see key presses
 * and auto-repeats and must guess releases (see keyboard.ts).
 *
 * Detection: write KITTY_QUERY; a terminal that supports the protocol answers `CSI ? flags u`
 * before its answer to the primary device attributes request (`CSI ? ... c`), which every
 * terminal sends. Enable with KITTY_ENABLE, and always write KITTY_DISABLE on exit.
 */

/** 1 disambiguate escape codes | 2 report event types | 8 report all keys as escape codes. */
export const KITTY_FLAGS = 1 | 2 | 8;
export const KITTY_QUERY = '\x1b[?u\x1b[c';
/** Pushes our flags on the terminal's stack, so KITTY_DISABLE restores whatever was there. */
export const KITTY_ENABLE = `\x1b[>${KITTY_FLAGS}u`;
export const KITTY_DISABLE = '\x1b[<u';

export type KeyEventType = 'press' | 'repeat' | 'release';

export interface Modifiers {
  shift: boolean;
  alt: boolean;
  ctrl: boolean;
  super: boolean;
}

export const NO_MODS: Modifiers = Object.freeze({ shift: false, alt: false, ctrl: false, super: false });

/** xterm / kitty modifier parameter: 1 + bit set (shift 1, alt 2, ctrl 4, super 8; locks ignored). */
export function decodeModifiers(param: number): Modifiers {
  const bits = Number.isFinite(param) && param > 0 ? param - 1 : 0;
  return { shift: (bits & 1) !== 0, alt: (bits & 2) !== 0, ctrl: (bits & 4) !== 0, super: (bits & 8) !== 0 };
}

export function decodeEventType(n: number | undefined): KeyEventType {
  return n === 2 ? 'repeat' : n === 3 ? 'release' : 'press';
}

/** Names of non-text keys in CSI-u form (code point -> key name). */
const CSI_U_NAMES: ReadonlyMap<number, string> = new Map([
  [9, 'tab'],
  [13, 'enter'],
  [27, 'escape'],
  [32, 'space'],
  [127, 'backspace'],
  [57358, 'caps_lock'],
  [57399, 'kp_0'],
  [57400, 'kp_1'],
  [57401, 'kp_2'],
  [57402, 'kp_3'],
  [57403, 'kp_4'],
  [57404, 'kp_5'],
  [57405, 'kp_6'],
  [57406, 'kp_7'],
  [57407, 'kp_8'],
  [57408, 'kp_9'],
  [57409, 'kp_decimal'],
  [57410, 'kp_divide'],
  [57411, 'kp_multiply'],
  [57412, 'kp_subtract'],
  [57413, 'kp_add'],
  [57414, 'kp_enter'],
  [57415, 'kp_equal'],
  [57441, 'left_shift'],
  [57442, 'left_ctrl'],
  [57443, 'left_alt'],
  [57444, 'left_super'],
  [57447, 'right_shift'],
  [57448, 'right_ctrl'],
  [57449, 'right_alt'],
  [57450, 'right_super'],
]);

/** `CSI number ~` keys (legacy xterm and kitty agree on these). */
export const TILDE_KEYS: ReadonlyMap<number, string> = new Map([
  [1, 'home'],
  [2, 'insert'],
  [3, 'delete'],
  [4, 'end'],
  [5, 'pageup'],
  [6, 'pagedown'],
  [7, 'home'],
  [8, 'end'],
  [11, 'f1'],
  [12, 'f2'],
  [13, 'f3'],
  [14, 'f4'],
  [15, 'f5'],
  [17, 'f6'],
  [18, 'f7'],
  [19, 'f8'],
  [20, 'f9'],
  [21, 'f10'],
  [23, 'f11'],
  [24, 'f12'],
]);

/** `CSI 1;mods X` and `SS3 X` letter finals. */
export const LETTER_KEYS: ReadonlyMap<string, string> = new Map([
  ['A', 'up'],
  ['B', 'down'],
  ['C', 'right'],
  ['D', 'left'],
  ['H', 'home'],
  ['F', 'end'],
  ['E', 'kp_5'],
  ['P', 'f1'],
  ['Q', 'f2'],
  ['R', 'f3'],
  ['S', 'f4'],
]);

/** Key name for a kitty CSI-u code point (lower-case base key), or undefined if unprintable. */
export function csiUKeyName(code: number): string | undefined {
  const named = CSI_U_NAMES.get(code);
  if (named) return named;
  if (code < 0x21 || code === 0x7f || code > 0x10ffff || (code >= 0xe000 && code <= 0xf8ff)) return undefined;
  if (code >= 57344 && code <= 63743) return undefined;
  return String.fromCodePoint(code).toLowerCase();
}

/**
 * Splits CSI parameters `a:b;c:d;e` into numbers (missing = undefined). Kitty uses ':' for
 * sub-fields (key:shifted:base, mods:event) and ';' between fields.
 */
export function splitCsiParams(params: string): (number | undefined)[][] {
  return params.split(';').map((field) =>
    field.split(':').map((s) => {
      if (s === '') return undefined;
      const n = Number.parseInt(s, 10);
      return Number.isFinite(n) ? n : undefined;
    }),
  );
}
