/**
 * Text that came from the network or a file, made safe for a terminal. A console's name, a
 * header quoted in an error or a profile field can hold control characters: C0 and C1 controls
 * (ESC and U+009B start escape sequences), DEL, and the invisible Unicode controls that reorder
 * or break lines (bidi overrides, isolates and marks, line and paragraph separators). Each becomes
 * a visible escape such as \x1b or \u202e; every other character, printable Unicode included, is
 * kept. Backslashes are not escaped, so the result is ASCII-safe text that makes no difference
 * when made safe again: every layer (errors, CLI, TUI, logs) can apply it without double escapes.
 */

/** Everything a terminal may act on rather than show. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same minus C0: JSON.stringify already escapes those. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const hex = (c: string, width: number) => c.charCodeAt(0).toString(16).padStart(width, '0');

/** One line of text with every unsafe character escaped (newlines and tabs too). */
export function safeText(text: string): string {
  return text.replace(UNSAFE, (c) => (c.charCodeAt(0) < 0x100 ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`));
}

/** Lines of text: each line made safe, the line breaks kept. */
export function safeLines(text: string): string {
  return text.split('\n').map(safeText).join('\n');
}

/** `text` with every unsafe character replaced by `by` (e.g. a default file or profile name). */
export function replaceUnsafe(text: string, by: string): string {
  return text.replace(UNSAFE, by);
}

/**
 * JSON text (from JSON.stringify) with DEL, C1 and the Unicode controls written as \u escapes:
 * the same JSON value, and nothing in it a terminal acts on.
 */
export function safeJson(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (c) => `\\u${hex(c, 4)}`);
}
