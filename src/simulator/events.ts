/**
 * The simulator's event log. Every event goes to listeners (in-process users such as `rptui
 * demo`), optionally to a JSON-lines file (one object per line, mode 0600, written synchronously
 * so lines never interleave and a test reading the file sees them in order), and as one
 * human-readable line to `print`.
 *
 * Pairing keys a client could use (the fields named in SECRET_FIELDS) reach the file and the
 * listeners only with `debug`; without it they read "<redacted>". Printed lines are made
 * terminal-safe, since they quote what clients sent (names, keyboard text).
 */
import { appendFileSync, closeSync, fchmodSync, openSync } from 'node:fs';
import { ConfigError } from '../proto-stack/errors.js';
import { safeJson, safeLines } from '../proto-stack/text.js';

export type SimEventName =
  | 'listening' // all sockets are bound
  | 'request' // a datagram or HTTP request arrived
  | 'answer' // the simulator replied
  | 'refusal' // the simulator refused (wrong PIN, unknown credential, malformed input)
  | 'ignored' // a request a console would not answer (e.g. registration search while in standby)
  | 'held' // --hold: a step kept waiting, as by a slow console
  | 'wake' // the console left standby
  | 'paired' // a client was registered
  | 'error' // a socket failed
  | 'stopped'
  // stream session (src/simulator/stream.ts)
  | 'session' // a client's stream session started or ended
  | 'ctrl' // a ctrl message sent or received
  | 'takion' // Takion state changes and trouble
  | 'stream' // a stream-connection (protobuf) message sent or received
  | 'controller' // a controller event decoded from feedback
  | 'stats' // periodic and final counters, incl. gmacFailures
  | 'rumble' // a rumble message sent (left/right motor strength)
  | 'keyboard' // on-screen keyboard opened; text changes and close/accept from the client
  | 'senkusha' // the client's RTT/MTU probe on UDP 9297 (echo, MTU requests, its end)
  // AV (src/simulator/stream-av.ts)
  | 'frame-sent' // a video frame's first packet left (with its key_pos)
  | 'av-sent' // any AV datagram left, with its key_pos (only with --log-datagrams)
  | 'drop' // fault injection dropped an AV datagram
  | 'keyframe'; // the client asked for a key frame (CORRUPTFRAME / IDRREQUEST)

export interface SimEvent {
  /** Milliseconds since the Unix epoch. */
  t: number;
  event: SimEventName;
  [key: string]: unknown;
}

/** Event fields that hold pairing keys or credentials. */
export const SECRET_FIELDS = new Set(['registKey', 'morning', 'rpKey', 'credential']);
const REDACTED = '<redacted>';

/** `text` is the human-readable line of the event, when it has one. */
export type SimEventListener = (e: SimEvent, text: string | undefined) => void;

export class EventLog {
  private readonly listeners = new Set<SimEventListener>();

  /**
   * `jsonPath` is truncated first, so a reader never sees a previous run's events. `debug` keeps
   * the SECRET_FIELDS; callers keep keys out of `text` unless debug is on.
   */
  constructor(
    private readonly opts: {
      jsonPath?: string;
      print?: (line: string) => void;
      now?: () => number;
      debug?: boolean;
    } = {},
  ) {
    if (opts.jsonPath) {
      try {
        // 0600 also when the file existed with a wider mode
        const fd = openSync(opts.jsonPath, 'w', 0o600);
        try {
          fchmodSync(fd, 0o600);
        } finally {
          closeSync(fd);
        }
      } catch (err) {
        throw new ConfigError(
          `cannot write the events file ${opts.jsonPath}: ${(err as NodeJS.ErrnoException).code}`,
          {
            hint: 'check that its directory exists and is writable',
            cause: err,
          },
        );
      }
    }
  }

  on(listener: SimEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records an event; `text` is the human-readable line (none = not printed). */
  emit(event: SimEventName, fields: Record<string, unknown>, text?: string): SimEvent {
    const e: SimEvent = { t: (this.opts.now ?? Date.now)(), event, ...fields };
    if (!this.opts.debug) for (const k of Object.keys(e)) if (SECRET_FIELDS.has(k)) e[k] = REDACTED;
    if (this.opts.jsonPath) appendFileSync(this.opts.jsonPath, `${safeJson(JSON.stringify(e))}\n`);
    if (text !== undefined) this.opts.print?.(safeLines(text));
    for (const l of this.listeners) l(e, text);
    return e;
  }
}
