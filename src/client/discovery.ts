/**
 * Finding consoles: SRCH datagrams to the PS4 (987) and PS5 (9302) discovery ports, broadcast on
 * the LAN or unicast to one host, resent every second until the deadline (UDP may drop one).
 * Answers come back to our ephemeral port from the console's address.
 */
import { isIPv4 } from 'node:net';
import { UdpEndpoint } from '../common/net.js';
import {
  DDP_CLIENT_PORTS,
  DDP_PORT_PS4,
  DDP_PORT_PS5,
  type DdpHost,
  formatDdpRequest,
  parseDdpResponse,
} from '../proto-stack/discovery.js';
import { ParseError } from '../proto-stack/errors.js';
import type { ConsoleKind } from '../proto-stack/target.js';

export interface FoundConsole extends DdpHost {
  /** Address the answer came from (use it to connect). */
  address: string;
}

export const ddpPort = (kind: ConsoleKind): number => (kind === 'PS5' ? DDP_PORT_PS5 : DDP_PORT_PS4);

export const BROADCAST_ADDRESS = '255.255.255.255';
const RESEND_MS = 1000;

export interface DiscoverOptions {
  /** Unicast to this host; broadcast on the LAN when absent. */
  host?: string;
  timeoutMs: number;
  /** Which console kinds to ask (default both). */
  kinds?: ConsoleKind[];
  /** Called once per console as it answers. */
  onFound?: (c: FoundConsole) => void;
}

/** Loopback destinations are reached from a loopback socket; everything else from any address. */
const localAddressFor = (host: string | undefined): string =>
  host && isIPv4(host) && host.startsWith('127.') ? '127.0.0.1' : '0.0.0.0';

/**
 * Every console that answered before the deadline. Unicast returns as soon as the host
 * answered. When a unicast host answers only with bytes that are not a discovery reply, the
 * ParseError is thrown (the user asked that host, and it is not a console).
 */
export async function discover(opts: DiscoverOptions): Promise<FoundConsole[]> {
  const kinds = opts.kinds ?? ['PS4', 'PS5'];
  const ep = await UdpEndpoint.open({
    address: localAddressFor(opts.host),
    broadcast: opts.host === undefined,
    ports: DDP_CLIENT_PORTS,
    what: 'discovery',
  });
  const dest = opts.host ?? BROADCAST_ADDRESS;
  const found = new Map<string, FoundConsole>();
  let garbage: ParseError | undefined;
  try {
    const deadline = Date.now() + opts.timeoutMs;
    let nextSend = 0;
    for (;;) {
      const now = Date.now();
      if (now >= deadline) break;
      if (now >= nextSend) {
        for (const kind of kinds) {
          await ep.send(formatDdpRequest('SRCH', { ps5: kind === 'PS5' }), ddpPort(kind), dest);
        }
        nextSend = now + RESEND_MS;
      }
      const d = await ep.receive(Math.min(deadline, nextSend) - Date.now());
      if (!d) continue;
      if (opts.host && isIPv4(opts.host) && d.address !== opts.host) continue;
      let host: DdpHost;
      try {
        host = parseDdpResponse(d.data);
      } catch (err) {
        if (err instanceof ParseError) {
          garbage = err;
          continue;
        }
        throw err;
      }
      const key = `${d.address}/${host.hostId}`;
      const isNew = !found.has(key);
      const c = { ...host, address: d.address };
      found.set(key, c);
      if (isNew) opts.onFound?.(c);
      if (opts.host) break;
    }
  } finally {
    ep.close();
  }
  if (found.size === 0 && garbage && opts.host) {
    throw new ParseError(
      'discovery',
      `${opts.host} answered, but not with a console's discovery reply (${garbage.message})`,
      {
        hint: 'check the address: is it really a PlayStation?',
      },
    );
  }
  return [...found.values()];
}

/** The console at `host`, or undefined when it did not answer within `timeoutMs`. */
export async function probe(
  host: string,
  timeoutMs: number,
  kinds?: ConsoleKind[],
): Promise<FoundConsole | undefined> {
  return (await discover({ host, timeoutMs, kinds }))[0];
}
