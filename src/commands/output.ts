// Output shared by the commands that print data. Everything printed passes through here or
// formatTable, so text from consoles and files reaches the terminal made safe (src/text.ts).
import { toHex } from '../proto-stack/bytes.js';
import { safeJson, safeLines } from '../proto-stack/text.js';

/** Writes `text` (each line made terminal-safe) and a newline to stdout. */
export const print = (text: string): void => {
  process.stdout.write(`${safeLines(text)}\n`);
};

/** Indented JSON for --json output: bigints as decimal strings, byte arrays as hex, terminal-safe. */
export function jsonText(v: unknown): string {
  return safeJson(
    JSON.stringify(
      v,
      (_k, x) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? toHex(x) : x),
      2,
    ),
  );
}

/** Writes `v` as jsonText and a newline to stdout. */
export const printJson = (v: unknown): void => {
  process.stdout.write(`${jsonText(v)}\n`);
};
