/**
 * Two TakionEndpoints (client and console) wired back to back in memory with a test clock.
 * Datagrams travel with zero latency through an optional `filter` per direction that may drop,
 * duplicate, mutate or hold them (return [] to drop; hold by stashing and `inject` later).
 * Events of both sides accumulate in `events.client` / `events.console`.
 */
import { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import { drainEvents, drainTransmits } from '../../src/proto-stack/machine.js';
import {
  TakionEndpoint,
  type TakionEndpointOptions,
  type TakionEvent,
} from '../../src/proto-stack/takion.js';

export type Dir = 'c2s' | 's2c';

/** Fires the endpoint's due timers and takes everything it wants sent. */
export function step(ep: TakionEndpoint, now: number): Uint8Array[] {
  ep.handleTimeout(now);
  return drainTransmits(ep);
}
export type Filter = (d: Uint8Array, dir: Dir) => Uint8Array[];

export class TakionPair {
  now = 1000;
  readonly client: TakionEndpoint;
  readonly console: TakionEndpoint;
  readonly events: { client: TakionEvent[]; console: TakionEvent[] } = { client: [], console: [] };
  /** Every datagram that left each side (before the filter). */
  readonly sent: { c2s: Uint8Array[]; s2c: Uint8Array[] } = { c2s: [], s2c: [] };
  filter: Filter | undefined;
  /** When false, the console neither receives nor polls (it "vanished"). */
  consoleAlive = true;

  constructor(
    opts: { client?: Partial<TakionEndpointOptions>; console?: Partial<TakionEndpointOptions> } = {},
  ) {
    this.client = new TakionEndpoint({ role: 'client', now: this.now, ...opts.client });
    this.console = new TakionEndpoint({ role: 'console', now: this.now, ...opts.console });
  }

  /** Client INIT and the whole handshake. */
  connect(): void {
    this.client.connect(this.now);
    this.pump();
  }

  /** Both directions' gkcrypt from one handshake key and secret, as BIG/BANG would give them. */
  setCrypt(handshakeKey = new Uint8Array(16).fill(0x11), secret = new Uint8Array(32).fill(0x22)): void {
    this.client.setCrypt(new GkCrypt(2, handshakeKey, secret), new GkCrypt(3, handshakeKey, secret));
    this.console.setCrypt(new GkCrypt(3, handshakeKey, secret), new GkCrypt(2, handshakeKey, secret));
  }

  inject(dir: Dir, d: Uint8Array): void {
    const to = dir === 'c2s' ? this.console : this.client;
    if (dir === 'c2s' && !this.consoleAlive) return;
    to.handle(d, this.now);
    this.collect();
  }

  private collect(): void {
    this.events.client.push(...drainEvents(this.client));
    this.events.console.push(...drainEvents(this.console));
  }

  /** Polls both sides and delivers until nothing moves. */
  pump(): void {
    for (let round = 0; round < 10_000; round++) {
      const c2s = step(this.client, this.now);
      const s2c = this.consoleAlive ? step(this.console, this.now) : [];
      this.collect();
      if (c2s.length === 0 && s2c.length === 0) return;
      for (const d of c2s) {
        this.sent.c2s.push(d);
        for (const x of this.filter ? this.filter(d, 'c2s') : [d]) this.inject('c2s', x);
      }
      for (const d of s2c) {
        this.sent.s2c.push(d);
        for (const x of this.filter ? this.filter(d, 's2c') : [d]) this.inject('s2c', x);
      }
    }
    throw new Error('takion pair did not settle after 10000 rounds');
  }

  /** Moves the clock forward in steps of at most `step` ms (stopping at every wakeup), pumping each time. */
  advance(ms: number, step = 10): void {
    const end = this.now + ms;
    while (this.now < end) {
      const wakeups = [
        this.client.pollTimeout(),
        this.consoleAlive ? this.console.pollTimeout() : undefined,
      ].filter((t): t is number => t !== undefined && t > this.now);
      this.now = Math.min(end, this.now + step, ...wakeups);
      this.pump();
    }
  }

  messages(side: 'client' | 'console'): Extract<TakionEvent, { type: 'message' }>[] {
    return this.events[side].filter(
      (e): e is Extract<TakionEvent, { type: 'message' }> => e.type === 'message',
    );
  }
}
