/**
 * Asks the terminal what it can draw (PROBE_QUERY), before anything else reads stdin: raw mode
 * for the moment, the answers read and consumed, and whatever else came (keys typed meanwhile)
 * pushed back into stdin for whoever reads it next. Ends when the DA1 answer is in (every
 * terminal answers it, last) or after `timeoutMs` (a terminal that never answers: no answers).
 */
import { PROBE_QUERY, ProbeParser, type TerminalAnswers } from './caps.js';

/** stdin, or a stand-in. */
export interface ProbeInput {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?(raw: boolean): unknown;
  on(event: 'data', f: (chunk: Buffer | string) => void): unknown;
  off(event: 'data', f: (chunk: Buffer | string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
  unshift?(chunk: Buffer): void;
}

export interface ProbeOptions {
  /** Default process.stdin. Not a terminal: no probe, no answers. */
  input?: ProbeInput;
  /** Where the queries go (the terminal). */
  write: (s: string) => void;
  /** Default 1500 ms: an answer crosses SSH twice. */
  timeoutMs?: number;
}

export function probeTerminal(o: ProbeOptions): Promise<TerminalAnswers> {
  const input = o.input ?? process.stdin;
  if (!input.isTTY) return Promise.resolve({});
  const parser = new ProbeParser();
  const wasRaw = input.isRaw === true;
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (timer) clearTimeout(timer);
      input.off('data', onData);
      input.pause();
      try {
        input.setRawMode?.(wasRaw);
      } catch {
        // the terminal went away meanwhile
      }
      const rest = parser.rest();
      if (rest.length > 0) input.unshift?.(Buffer.from(rest));
      resolve(parser.answers);
    };
    const onData = (chunk: Buffer | string) => {
      parser.feed(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
      if (parser.done) finish();
    };
    try {
      input.setRawMode?.(true);
    } catch {
      resolve({});
      return;
    }
    input.on('data', onData);
    input.resume();
    timer = setTimeout(finish, o.timeoutMs ?? 1500);
    o.write(PROBE_QUERY);
  });
}
