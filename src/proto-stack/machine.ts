/**
 * The one interface of every state machine in src/proto-stack (modelled on quinn-proto's
 * Connection): no sockets, timers or clocks inside, the caller owns all three.
 *
 *   machine.handle(input, now)        a datagram, a chunk of a byte stream, a message, a unit...
 *   machine.pollTransmit()            what to send next (until undefined), in order
 *   machine.pollEvent()               what happened (until undefined), in order
 *   machine.pollTimeout()             when to call handleTimeout next (absolute ms), or undefined
 *   machine.handleTimeout(now)        time passed; timers that are due fire
 *
 * After any call that feeds the machine (handle, handleTimeout, a command method), the driver
 * drains pollEvent() and pollTransmit() and re-arms its one timer from pollTimeout(). Machines that
 * never send anything return undefined from pollTransmit() (the shape stays the same for all).
 * `now` is milliseconds on whatever monotonic clock the driver uses; machines only compare times.
 * See docs/architecture.md.
 */
export interface Machine<In, Ev, Tx = never> {
  handle(input: In, now: number): void;
  pollTransmit(): Tx | undefined;
  pollEvent(): Ev | undefined;
  pollTimeout(): number | undefined;
  handleTimeout(now: number): void;
}

/**
 * A FIFO queue for machine outputs: a ring buffer that grows by doubling, so the hot path (one
 * event per AV datagram) allocates nothing once it reached its working size.
 */
export class Queue<T> {
  private buf: (T | undefined)[] = new Array(16);
  private head = 0;
  private n = 0;

  get length(): number {
    return this.n;
  }

  push(item: T): void {
    if (this.n === this.buf.length) this.grow();
    this.buf[(this.head + this.n) & (this.buf.length - 1)] = item;
    this.n++;
  }

  shift(): T | undefined {
    if (this.n === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.n--;
    return item;
  }

  /** The oldest item without removing it. */
  peek(): T | undefined {
    return this.n === 0 ? undefined : this.buf[this.head];
  }

  clear(): void {
    while (this.n > 0) this.shift();
  }

  private grow(): void {
    const old = this.buf;
    const next: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.n; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.buf = next;
    this.head = 0;
  }
}

/** Everything a machine has queued, for tests and simple drivers (not the per-datagram path). */
export function drainEvents<E>(m: { pollEvent(): E | undefined }): E[] {
  const out: E[] = [];
  for (let e = m.pollEvent(); e !== undefined; e = m.pollEvent()) out.push(e);
  return out;
}

export function drainTransmits<T>(m: { pollTransmit(): T | undefined }): T[] {
  const out: T[] = [];
  for (let t = m.pollTransmit(); t !== undefined; t = m.pollTransmit()) out.push(t);
  return out;
}

/** The earliest of several optional deadlines. */
export function earliest(...times: (number | undefined)[]): number | undefined {
  let t: number | undefined;
  for (const x of times) if (x !== undefined && (t === undefined || x < t)) t = x;
  return t;
}
