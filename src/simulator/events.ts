/**
 * The simulator's event log. Every event goes to listeners (in-process users such as `rptui
 * demo`), optionally to a JSON-lines file (one object per line, written synchronously so lines
 * never interleave and a test reading the file sees them in order), and as one human-readable
 * line to `print`.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../proto-stack/errors.js';

export type SimEventName =
  | 'listening' // all sockets are bound
  | 'request' // a datagram or HTTP request arrived
  | 'answer' // the simulator replied
  | 'refusal' // the simulator refused (wrong PIN, unknown credential, malformed input)
  | 'ignored' // a request a console would not answer (e.g. registration search while in standby)
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

/** `text` is the human-readable line of the event, when it has one. */
export type SimEventListener = (e: SimEvent, text: string | undefined) => void;

export class EventLog {
  private readonly listeners = new Set<SimEventListener>();

  /** `jsonPath` is truncated first, so a reader never sees a previous run's events. */
  constructor(
    private readonly opts: { jsonPath?: string; print?: (line: string) => void; now?: () => number } = {},
  ) {
    if (opts.jsonPath) {
      try {
        writeFileSync(opts.jsonPath, '');
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
    if (this.opts.jsonPath) appendFileSync(this.opts.jsonPath, `${JSON.stringify(e)}\n`);
    if (text !== undefined) this.opts.print?.(text);
    for (const l of this.listeners) l(e, text);
    return e;
  }
}
