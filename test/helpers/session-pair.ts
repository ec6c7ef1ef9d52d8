/**
 * A whole stream session in memory with a test clock (quinn-proto's tests/util.rs Pair, for
 * Remote Play): a ClientSession on one side, ConsoleGate + ConsoleSession on the other, the same
 * machines src/client/session.ts and src/simulator/stream.ts drive. TCP is a reliable in-order
 * byte pipe; the console's AV datagrams cross the simulator's AvNetwork (its --loss/--reorder/
 * --dup/--jitter faults), and every UDP datagram an optional `filter` per direction (drop,
 * duplicate, mutate) on the Takion port; `vanish()` makes the console stop hearing and saying anything. The
 * console's events are also written to `simLog` the way `rptui simulate` logs them.
 *
 *   const p = new SessionPair({ target: 1000100 });
 *   p.client.start(p.now); p.drive();        // session init, ctrl, Takion, BIG/BANG/STREAMINFO
 *   p.advance(5000);                         // 5 s of stream time, timers fired in order
 */
import {
  type ClientEvent,
  ClientSession,
  type ClientSessionOptions,
  type ClientTransmit,
} from '../../src/proto-stack/clientsession.js';
import {
  type ConsoleAvSource,
  type ConsoleEvent,
  ConsoleGate,
  ConsoleSession,
  type ConsoleSessionOptions,
  type PairedKeys,
} from '../../src/proto-stack/consolesession.js';
import type { ParsedLaunchSpec } from '../../src/proto-stack/launchspec.js';
import { SENKUSHA_PORT } from '../../src/proto-stack/senkusha.js';
import { TAKION_PORT } from '../../src/proto-stack/takion.js';
import type { Target } from '../../src/proto-stack/target.js';
import { EventLog, type SimEvent } from '../../src/simulator/events.js';
import type { FaultOptions } from '../../src/simulator/faults.js';
import { logConsoleEvent } from '../../src/simulator/session-log.js';
import { AvNetwork, clipSource } from '../../src/simulator/stream-av.js';

export type Dir = 'c2s' | 's2c';

export const PAIRED = {
  registKey: '6532343566653135',
  morning: '00112233445566778899aabbccddeeff',
  accountId: 'test-account',
};

export interface SessionPairOptions {
  target: Target;
  client?: Partial<ClientSessionOptions>;
  console?: Partial<Omit<ConsoleSessionOptions, 'target' | 'crypt' | 'remoteCounter' | 'now'>>;
  /** The console's clients (default: PAIRED only). */
  paired?: (PairedKeys & { accountId: string })[];
  /** Default: the simulator's fixture clips. */
  avSource?: (spec: ParsedLaunchSpec, now: number) => ConsoleAvSource;
  /** Network faults on the console's AV datagrams. */
  faults?: FaultOptions;
  /** A PS4 Pro (RP-Server-Type 1). */
  pro?: boolean;
  /** Nothing listens on the console's Senkusha port (datagrams to it vanish). */
  noSenkushaListener?: boolean;
}

export class SessionPair {
  now = 10_000;
  readonly client: ClientSession;
  readonly gate: ConsoleGate<PairedKeys & { accountId: string }>;
  console: ConsoleSession | undefined;
  readonly clientEvents: (ClientEvent & { at: number })[] = [];
  readonly consoleEvents: (ConsoleEvent & { at: number })[] = [];
  /** The console's side as the simulator logs it (events, clip, drops). */
  readonly simLog: SimEvent[] = [];
  readonly network: AvNetwork;
  private readonly log = new EventLog();
  /** Every UDP datagram that left each side (before the filter). */
  readonly sent: { c2s: Uint8Array[]; s2c: Uint8Array[] } = { c2s: [], s2c: [] };
  filter: ((d: Uint8Array, dir: Dir) => Uint8Array[]) | undefined;
  /** Sees each client event as the driver would (and may call the client's commands). */
  onClientEvent: ((e: ClientEvent) => void) | undefined;
  consoleAlive = true;
  private readonly opts: SessionPairOptions;
  private readonly paired: (PairedKeys & { accountId: string })[];
  /** Request bytes of the client's open HTTP connections, until the console answers. */
  private readonly http = new Map<'init' | 'ctrl', Uint8Array[]>();

  constructor(opts: SessionPairOptions) {
    this.opts = opts;
    this.paired = opts.paired ?? [PAIRED];
    this.client = new ClientSession({
      host: '10.0.0.2',
      target: opts.target,
      registKey: PAIRED.registKey,
      rpKey: PAIRED.morning,
      ...opts.client,
    });
    this.gate = new ConsoleGate({ target: opts.target, pro: opts.pro });
    this.log.on((e) => this.simLog.push(e));
    this.network = new AvNetwork(opts.faults, this.log);
  }

  /** Moves bytes both ways until neither side has anything left to send or report. */
  drive(): void {
    for (let round = 0; round < 100_000; round++) {
      let moved = false;
      for (let t = this.client.pollTransmit(); t; t = this.client.pollTransmit()) {
        moved = true;
        this.fromClient(t);
      }
      for (let e = this.client.pollEvent(); e; e = this.client.pollEvent()) {
        moved = true;
        this.clientEvents.push({ ...e, at: this.now });
        this.onClientEvent?.(e);
      }
      const c = this.console;
      if (c && this.consoleAlive) {
        for (let t = c.pollTransmit(); t; t = c.pollTransmit()) {
          moved = true;
          if (t.type === 'ctrl')
            this.client.handle({ type: 'tcpData', conn: 'ctrl', bytes: t.bytes }, this.now);
          else if (t.type === 'ctrlClose') this.client.handle({ type: 'tcpClosed', conn: 'ctrl' }, this.now);
          else if (t.av) this.network.push(t.bytes, t.av, this.now, (d) => this.toClient(t.port, d));
          else this.toClient(t.port, t.bytes);
        }
        for (let e = c.pollEvent(); e; e = c.pollEvent()) {
          moved = true;
          this.consoleEvents.push({ ...e, at: this.now });
          logConsoleEvent(this.log, e, {
            peer: undefined,
            tampered: () => 0,
            network: () => this.network.stats(),
          });
        }
      }
      if (!moved) return;
    }
    throw new Error('the session pair did not settle');
  }

  /** Moves the clock forward, stopping at every timeout of either side (and every `step` ms). */
  advance(ms: number, step = 50): void {
    const end = this.now + ms;
    this.drive();
    while (this.now < end) {
      const due = [
        this.client.pollTimeout(),
        this.consoleAlive ? this.console?.pollTimeout() : undefined,
        this.network.pollTimeout(),
      ].filter((t): t is number => t !== undefined && t > this.now);
      this.now = Math.min(end, this.now + step, ...due);
      this.network.handleTimeout(this.now, (d) => this.toClient(TAKION_PORT, d));
      this.client.handleTimeout(this.now);
      if (this.consoleAlive) this.console?.handleTimeout(this.now);
      this.drive();
    }
  }

  /** The console neither hears nor says anything from now on. */
  vanish(): void {
    this.consoleAlive = false;
  }

  clientOf<T extends ClientEvent['type']>(type: T): (Extract<ClientEvent, { type: T }> & { at: number })[] {
    return this.clientEvents.filter((e) => e.type === type) as unknown as (Extract<
      ClientEvent,
      { type: T }
    > & {
      at: number;
    })[];
  }

  consoleOf<T extends ConsoleEvent['type']>(
    type: T,
  ): (Extract<ConsoleEvent, { type: T }> & { at: number })[] {
    return this.consoleEvents.filter((e) => e.type === type) as unknown as (Extract<
      ConsoleEvent,
      { type: T }
    > & {
      at: number;
    })[];
  }

  private fromClient(t: ClientTransmit): void {
    switch (t.type) {
      case 'tcpOpen':
        this.http.set(t.conn, [t.bytes]);
        this.client.handle({ type: 'tcpConnected', conn: t.conn }, this.now);
        this.answerHttp(t.conn);
        return;
      case 'tcpSend':
        if (t.conn === 'ctrl' && this.console) {
          if (this.consoleAlive) this.console.handle({ type: 'ctrlData', bytes: t.bytes }, this.now);
        } else this.http.get(t.conn)?.push(t.bytes);
        return;
      case 'tcpClose':
        this.http.delete(t.conn);
        if (t.conn === 'ctrl' && this.consoleAlive) this.console?.handle({ type: 'ctrlClosed' }, this.now);
        return;
      case 'udp':
        this.toConsole(t.port, t.bytes);
        return;
    }
  }

  private answerHttp(conn: 'init' | 'ctrl'): void {
    if (!this.consoleAlive) return;
    const parts = this.http.get(conn) ?? [];
    const head = Buffer.concat(parts);
    if (conn === 'init') {
      const a = this.gate.sessionInit(head, '10.0.0.3', this.paired, this.busy, this.now);
      if (a.kind !== 'incomplete') this.client.handle({ type: 'tcpData', conn, bytes: a.bytes }, this.now);
      return;
    }
    const a = this.gate.ctrlRequest(head, '10.0.0.3', this.busy, this.now);
    if (a.kind === 'incomplete') return;
    this.client.handle({ type: 'tcpData', conn, bytes: a.bytes }, this.now);
    if (a.kind !== 'accepted') return;
    this.console = new ConsoleSession({
      target: a.info.target,
      crypt: a.info.crypt,
      remoteCounter: a.info.clientCounter,
      now: this.now,
      avSource: this.opts.avSource ?? ((spec, now) => clipSource(spec, a.info.target, this.log, {}, now)),
      droppedSoFar: () => this.network.dropped,
      ...this.opts.console,
    });
  }

  private get busy(): boolean {
    return this.console !== undefined && !this.console.ended;
  }

  private toConsole(port: number, d: Uint8Array): void {
    if (port === TAKION_PORT) this.sent.c2s.push(d);
    if (!this.consoleAlive || (port === SENKUSHA_PORT && this.opts.noSenkushaListener)) return;
    for (const x of this.filter ? this.filter(d, 'c2s') : [d])
      this.console?.handle({ type: 'udp', port, bytes: x }, this.now);
  }

  private toClient(port: number, d: Uint8Array): void {
    if (port === TAKION_PORT) this.sent.s2c.push(d);
    for (const x of this.filter ? this.filter(d, 's2c') : [d])
      this.client.handle({ type: 'udp', port, bytes: x }, this.now);
  }
}
