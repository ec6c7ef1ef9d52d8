/**
 * Where picture bytes go. A terminal over SSH can take the bytes more slowly than the picture
 * makes them, and Node writes to a terminal on stdout synchronously: a big frame would stall the
 * event loop, and with it the session. TtyWriter opens the terminal (/dev/tty) a second time, in
 * non-blocking mode, and writes what the terminal takes now; the rest waits in a queue that the
 * picture sink keeps to about one frame (it draws the newest frame only when the queue is empty).
 *
 * Everything drawn while the picture is up must go through the same writer: a partial write
 * followed by someone else's output would cut an escape sequence in two.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { RptuiError } from '../../proto-stack/errors.js';

export interface PictureOutput {
  /** Queues bytes for the terminal (the output owns them now); `done` once all were written. Never blocks. */
  write(bytes: Uint8Array, done?: () => void): void;
  /** Bytes queued and not yet taken by the terminal. */
  readonly pending: number;
  /** Calls `cb` once when nothing is pending (now, if nothing is). */
  onDrain(cb: () => void): void;
  /** The terminal went away (hung up): writes are dropped. */
  readonly gone: boolean;
  /** Part of a queued write already went out: the terminal is inside an escape sequence. */
  readonly midSequence?: boolean;
  close(): void;
}

/** errno codes that mean "no room now, try again". */
const AGAIN = new Set(['EAGAIN', 'EWOULDBLOCK']);
const MAX_RETRY_MS = 16;

interface Queued {
  bytes: Uint8Array;
  done: (() => void) | undefined;
}

export class TtyWriter implements PictureOutput {
  private readonly queue: Queued[] = [];
  private offset = 0;
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = 1;
  private drains: Array<() => void> = [];
  private dead = false;
  private closed = false;

  private constructor(
    private readonly fd: number,
    private readonly onGone: (err: NodeJS.ErrnoException) => void,
  ) {}

  /** Opens the controlling terminal. Throws a media error when there is none. */
  static open(path = '/dev/tty', onGone: (err: NodeJS.ErrnoException) => void = () => {}): TtyWriter {
    try {
      return new TtyWriter(
        openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY),
        onGone,
      );
    } catch (e) {
      throw new RptuiError(
        'media',
        `cannot open the terminal (${path}): ${(e as NodeJS.ErrnoException).code}`,
        {
          hint: 'The terminal picture needs a terminal: run rptui in one (not from a service or with setsid)',
          cause: e,
        },
      );
    }
  }

  get pending(): number {
    return this.queued;
  }

  get gone(): boolean {
    return this.dead;
  }

  write(bytes: Uint8Array, done?: () => void): void {
    if (this.dead || this.closed || bytes.length === 0) {
      done?.();
      return;
    }
    this.queue.push({ bytes, done });
    this.queued += bytes.length;
    if (this.timer === undefined) this.flush();
  }

  onDrain(cb: () => void): void {
    if (this.queued === 0) cb();
    else this.drains.push(cb);
  }

  private flush(): void {
    this.timer = undefined;
    while (this.queue.length > 0) {
      const head = this.queue[0];
      let n: number;
      try {
        n = writeSync(this.fd, head.bytes, this.offset, head.bytes.length - this.offset);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (AGAIN.has(err.code ?? '')) {
          // the terminal is behind: look again soon, a little later each time it is still full
          this.timer = setTimeout(() => this.flush(), this.retryMs);
          this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
          return;
        }
        this.hangUp(err);
        return;
      }
      this.retryMs = 1;
      this.offset += n;
      this.queued -= n;
      if (this.offset < head.bytes.length) continue;
      this.queue.shift();
      this.offset = 0;
      head.done?.();
    }
    const drains = this.drains;
    this.drains = [];
    for (const cb of drains) cb();
  }

  private hangUp(err: NodeJS.ErrnoException): void {
    this.dead = true;
    this.dropQueue();
    this.onGone(err);
  }

  private dropQueue(): void {
    const q = this.queue.splice(0);
    this.queued = 0;
    this.offset = 0;
    for (const item of q) item.done?.();
    const drains = this.drains;
    this.drains = [];
    for (const cb of drains) cb();
  }

  get midSequence(): boolean {
    return this.offset > 0;
  }

  /** Stops writing (whatever is still queued is dropped) and closes the descriptor. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dropQueue();
    try {
      closeSync(this.fd);
    } catch {
      // already gone
    }
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes `text` to the terminal now, synchronously (the exit path, where nothing asynchronous
 * runs any more): retries for up to `budgetMs` while the terminal is full, then gives up.
 */
export function writeTerminalNow(text: string, path = '/dev/tty', budgetMs = 300): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return;
  }
  try {
    const bytes = Buffer.from(text, 'latin1');
    const deadline = Date.now() + budgetMs;
    for (let at = 0; at < bytes.length; ) {
      try {
        at += writeSync(fd, bytes, at, bytes.length - at);
      } catch (e) {
        if (!AGAIN.has((e as NodeJS.ErrnoException).code ?? '') || Date.now() > deadline) return;
        Atomics.wait(sleeper, 0, 0, 2);
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** A PictureOutput over a plain write function (blessed's output, a test buffer): no queue of its own. */
export class CallbackOutput implements PictureOutput {
  readonly pending = 0;
  readonly gone = false;
  constructor(private readonly sink: (bytes: Uint8Array) => void) {}
  write(bytes: Uint8Array, done?: () => void): void {
    this.sink(bytes);
    done?.();
  }
  onDrain(cb: () => void): void {
    cb();
  }
  close(): void {}
}
