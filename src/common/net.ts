/**
 * Small promise helpers around node:dgram and node:net. Every wait has a deadline, and every
 * socket failure becomes a NetworkError whose hint says what the user can check.
 */
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { connect } from 'node:net';
import { concatBytes } from '../proto-stack/bytes.js';
import { NetworkError } from '../proto-stack/errors.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Hint for a socket error code, in terms of what the user can do. */
export function hintFor(code: string | undefined, host?: string): string {
  const h = host ?? 'the console';
  switch (code) {
    case 'ECONNREFUSED':
      return `${h} is up but nothing listens on that port: is Remote Play enabled on the console, and is it awake?`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to ${h}: check the address and that this machine is on the same network`;
    case 'EADDRNOTAVAIL':
      return 'that address is not on any interface of this machine (on macOS add loopback aliases: sudo ifconfig lo0 alias 127.0.0.2)';
    case 'EADDRINUSE':
      return 'another program (another rptui simulate?) already uses that address and port';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied: ports below 1024 (PS4 discovery uses 987) need root, or sysctl net.ipv4.ip_unprivileged_port_start=0; broadcasts may be blocked by a firewall';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${h}: use the console's IP address (rptui discover lists it)`;
    default:
      return `check that ${h} is on, on the same network, and that no firewall blocks UDP 987/9302 and TCP/UDP 9295`;
  }
}

export function toNetworkError(err: unknown, what: string, host?: string): NetworkError {
  if (err instanceof NetworkError) return err;
  const e = err as NodeJS.ErrnoException;
  return new NetworkError(`${what}: ${e.code ?? e.message}`, { hint: hintFor(e.code, host), cause: err });
}

export interface Datagram {
  data: Uint8Array;
  address: string;
  port: number;
}

/** A UDP socket with a receive queue: `receive(ms)` resolves with the next datagram or undefined. */
export class UdpEndpoint {
  private readonly queue: Datagram[] = [];
  private waiter: ((d: Datagram | undefined) => void) | undefined;
  private failure: NetworkError | undefined;
  private failed: ((e: NetworkError) => void) | undefined;
  private closed = false;

  private constructor(
    private readonly sock: DgramSocket,
    private readonly what: string,
  ) {
    sock.on('message', (msg, rinfo) => {
      const d = { data: new Uint8Array(msg), address: rinfo.address, port: rinfo.port };
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(d);
      } else if (this.queue.length < 1024) this.queue.push(d);
    });
    sock.on('error', (err) => {
      this.failure = toNetworkError(err, what);
      this.failed?.(this.failure);
    });
  }

  /** Binds to `address:port` (defaults: any address, an ephemeral port). */
  static async open(opts: {
    address?: string;
    /** Ports to try in order (the first free one); any port when none is free or none given. */
    ports?: readonly number[];
    broadcast?: boolean;
    what: string;
  }): Promise<UdpEndpoint> {
    const bind = (port: number) =>
      new Promise<DgramSocket>((resolve, reject) => {
        const sock = createSocket({ type: 'udp4', reuseAddr: false });
        sock.once('error', (err) => {
          sock.close();
          reject(err);
        });
        sock.bind({ address: opts.address ?? '0.0.0.0', port, exclusive: true }, () => {
          sock.removeAllListeners('error');
          resolve(sock);
        });
      });
    for (const port of opts.ports ?? []) {
      try {
        const sock = await bind(port);
        if (opts.broadcast) sock.setBroadcast(true);
        return new UdpEndpoint(sock, opts.what);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' && code !== 'EACCES')
          throw toNetworkError(err, `${opts.what}: cannot open a UDP socket`, opts.address);
      }
    }
    try {
      const sock = await bind(0);
      if (opts.broadcast) sock.setBroadcast(true);
      return new UdpEndpoint(sock, opts.what);
    } catch (err) {
      throw toNetworkError(err, `${opts.what}: cannot open a UDP socket`, opts.address);
    }
  }

  get localPort(): number {
    return this.sock.address().port;
  }

  send(data: Uint8Array, port: number, address: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sock.send(data, port, address, (err) => {
        if (err) reject(toNetworkError(err, `${this.what}: cannot send to ${address}:${port}`, address));
        else resolve();
      });
    });
  }

  /** The next datagram, or undefined after `timeoutMs`. Rejects if the socket failed. */
  receive(timeoutMs: number): Promise<Datagram | undefined> {
    if (this.failure) return Promise.reject(this.failure);
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed || timeoutMs <= 0) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.failed = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = (d) => {
        clearTimeout(timer);
        this.failed = undefined;
        resolve(d);
      };
      this.failed = (e) => {
        clearTimeout(timer);
        this.waiter = undefined;
        reject(e);
      };
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.waiter?.(undefined);
    this.waiter = undefined;
    try {
      this.sock.close();
    } catch {
      // already closed by an error
    }
  }
}

/**
 * One TCP request/response: connect, write `request`, read until `complete(received)` says the
 * answer is whole (or throws: it is malformed) or the peer closes. Every phase has its own
 * deadline.
 */
export async function tcpExchange(opts: {
  host: string;
  port: number;
  request: Uint8Array;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  complete: (received: Uint8Array) => boolean;
  what: string;
  maxBytes?: number;
}): Promise<Uint8Array> {
  const { host, port, what } = opts;
  const max = opts.maxBytes ?? 1 << 20;
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: Error | undefined, data?: Uint8Array) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(data as Uint8Array);
    };
    let timer = setTimeout(
      () =>
        finish(
          new NetworkError(
            `${what}: ${host}:${port} did not accept a connection within ${opts.connectTimeoutMs} ms`,
            {
              hint: hintFor(undefined, host),
            },
          ),
        ),
      opts.connectTimeoutMs,
    );
    sock.on('connect', () => {
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          finish(
            new NetworkError(`${what}: ${host}:${port} did not answer within ${opts.responseTimeoutMs} ms`, {
              hint: 'the console accepted the connection but sent no (complete) answer; try again, or check that it is not busy installing an update',
            }),
          ),
        opts.responseTimeoutMs,
      );
      sock.write(opts.request);
    });
    sock.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      const all = concatBytes(...chunks);
      if (size > max) finish(new NetworkError(`${what}: ${host}:${port} sent more than ${max} bytes`));
      else {
        let done: boolean;
        try {
          done = opts.complete(all);
        } catch {
          // Malformed already: stop reading and let the caller's parser report it.
          done = true;
        }
        if (done) finish(undefined, all);
      }
    });
    sock.on('end', () => finish(undefined, concatBytes(...chunks)));
    sock.on('error', (err) => finish(toNetworkError(err, `${what}: ${host}:${port}`, host)));
  });
}
