// Output shared by the commands that print data.
import { toHex } from '../proto-stack/bytes.js';

/** Writes `text` and a newline to stdout. */
export const print = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

/** Indented JSON for --json output: bigints as decimal strings, byte arrays as hex. */
export function jsonText(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? toHex(x) : x),
    2,
  );
}
