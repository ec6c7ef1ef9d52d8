/**
 * What the simulator's services (discovery, registration, the stream service) see of the console
 * they run in: its identity, power state, event log and the socket plumbing SimulatedConsole
 * (index.ts) provides. Kept apart so the services and the console do not import each other.
 */
import type { Socket } from 'node:net';
import type { HttpRequestHead } from '../proto-stack/http.js';
import type { ConsoleKind, Target } from '../proto-stack/target.js';
import type { ConsoleState } from './console-state.js';
import type { EventLog } from './events.js';

export type Power = 'ready' | 'standby';

export interface SimulatorOptions {
  /** The only address any socket binds to. */
  host: string;
  kind: ConsoleKind;
  /** The 8-digit registration PIN the "TV" shows. */
  pin: string;
  nickname?: string;
  standby?: boolean;
  /** Paired clients and identity survive restarts here (created when missing). */
  statePath?: string;
  /** One JSON object per line per event. */
  eventsPath?: string;
  systemVersion?: string;
  /** Allow a non-loopback address (the simulator is then reachable from the LAN). */
  allowLan?: boolean;
  /** Human-readable event lines (default: none). */
  print?: (line: string) => void;
  /** How long "booting" takes after a valid WAKEUP. */
  bootMs?: number;
  /** The pairing screen is not open: registrations are refused even with the right PIN. */
  pairingClosed?: boolean;
  /** A slow console: the registration answer leaves this long after the request arrived. */
  registDelayMs?: number;
  /** Log pairing keys too (events file, listeners, printed lines); without it they are left out. */
  debug?: boolean;
}

export interface Remote {
  address: string;
  port: number;
}

export interface HttpExchange {
  head: HttpRequestHead;
  body: Uint8Array;
  /** Bytes that followed the request (e.g. early ctrl messages). */
  rest: Uint8Array;
  /** The connection, now owned by the route: write the answer, then end or keep it. */
  socket: Socket;
  remote: Remote;
}

export type HttpRoute = (x: HttpExchange) => void | Promise<void>;
/** Returns the answer datagram, if any. */
export type UdpHandler = (
  data: Uint8Array,
  from: Remote,
) => Uint8Array | undefined | Promise<Uint8Array | undefined>;

export interface ConsoleHost {
  readonly opts: SimulatorOptions;
  readonly state: ConsoleState;
  readonly events: EventLog;
  readonly target: Target;
  readonly host: string;
  readonly kind: ConsoleKind;
  readonly pin: string;
  power: Power;
  /** Adds an HTTP route on TCP 9295 (exact path match). */
  route(path: string, handler: HttpRoute): void;
  /** Binds a UDP port on the console's address and answers each datagram with `handler`. */
  udp(port: number, handler: UdpHandler): Promise<void>;
  /** Runs `fn` after `ms` unless the simulator stops first. */
  later(ms: number, fn: () => void): void;
  /** Leaves standby (after the boot time); no-op when already on. */
  wakeUp(by: Remote): void;
}
