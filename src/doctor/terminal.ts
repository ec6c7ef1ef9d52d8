/**
 * What the terminal can do, asked of the terminal itself: the kitty keyboard protocol (real key
 * releases), kitty graphics and sixel (a picture inside the terminal). Each query is one a
 * terminal that does not know it ignores; the primary device attributes request at the end is
 * answered by every terminal, so its answer marks the end of the replies.
 */
import { KITTY_QUERY } from '../input/kitty.js';

/** A 1x1 RGB image query (a=q: answer only, show nothing), id 31. */
const KITTY_GRAPHICS_QUERY = '\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\';
/** Graphics first, then the keyboard query, which ends with the device attributes request. */
export const TERMINAL_QUERY = KITTY_GRAPHICS_QUERY + KITTY_QUERY;

export interface TerminalAnswers {
  /** The device attributes answer came (the terminal answered at all). */
  answered: boolean;
  kittyKeyboard: boolean;
  kittyGraphics: boolean;
  sixel: boolean;
}

const DA1_RE = /\x1b\[\?([\d;]*)c/;

/** Reads the replies to TERMINAL_QUERY out of whatever the terminal sent back. */
export function parseTerminalAnswers(text: string): TerminalAnswers {
  const da1 = DA1_RE.exec(text);
  return {
    answered: da1 !== null,
    kittyKeyboard: /\x1b\[\?\d+u/.test(text),
    kittyGraphics: /\x1b_Gi=31;OK\x1b\\/.test(text),
    sixel: da1?.[1].split(';').includes('4') ?? false,
  };
}

/**
 * Sends TERMINAL_QUERY to the process's terminal and collects the replies until the device
 * attributes answer or `timeoutMs`. Undefined when stdin or stdout is not a terminal.
 */
export function queryTerminal(timeoutMs = 1000): Promise<string | undefined> {
  const input = process.stdin;
  const output = process.stdout;
  if (!input.isTTY || !output.isTTY) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let text = '';
    const done = () => {
      clearTimeout(timer);
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      resolve(text);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (DA1_RE.test(text)) done();
    };
    const timer = setTimeout(done, timeoutMs);
    input.setRawMode(true);
    input.on('data', onData);
    input.resume();
    output.write(TERMINAL_QUERY);
  });
}
