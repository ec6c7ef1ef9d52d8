/**
 * A simulated PS4/PS5: one object that owns every socket of the console, all bound to ONE given
 * address (loopback unless explicitly allowed otherwise), an event log and a persisted state.
 *
 * Protocol layers plug in as handlers: UDP ports get a datagram handler (`udp`), and the TCP 9295
 * service is an HTTP router (`route`) that hands a complete request plus the socket to the
 * handler, so later layers (session init, ctrl channel that keeps the socket) add routes without
 * touching this file's socket code.
 */
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { createServer, isIPv4, type Server, type Socket } from 'node:net';
import { hintFor } from '../common/net.js';
import { concatBytes } from '../proto-stack/bytes.js';
import { DDP_PORT_PS4, DDP_PORT_PS5 } from '../proto-stack/discovery.js';
import { NetworkError, ParseError, type RptuiError, UsageError } from '../proto-stack/errors.js';
import { formatHttpResponse, readHttpRequest } from '../proto-stack/http.js';
import { REGIST_PORT } from '../proto-stack/regist.js';
import { type ConsoleKind, type Target, targetFromDiscovery } from '../proto-stack/target.js';
import { ConsoleState } from './console-state.js';
import { ddpHandler } from './discovery.js';
import { EventLog } from './events.js';
import type { ConsoleHost, HttpRoute, Power, Remote, SimulatorOptions, UdpHandler } from './host.js';
import { registRoutes, registSearchHandler } from './regist.js';

export type { SimulatorOptions } from './host.js';

/**
 * Addresses the simulator accepts: a literal IPv4 address, never a wildcard or broadcast, and
 * loopback unless `allowLan`. Returns a warning to show for LAN addresses.
 */
export function checkSimulatorAddress(host: string, allowLan: boolean): string | undefined {
  if (!isIPv4(host))
    throw new UsageError(`--host must be an IPv4 address, got "${host}"`, 'e.g. --host 127.0.0.2');
  if (host === '0.0.0.0' || host === '255.255.255.255' || host.endsWith('.255')) {
    throw new UsageError(
      `the simulator binds one specific address, not ${host}`,
      'use a loopback address such as 127.0.0.2',
    );
  }
  if (host.startsWith('127.')) return undefined;
  if (!allowLan) {
    throw new UsageError(
      `${host} is not a loopback address: the simulator would be reachable from your network`,
      'use 127.0.0.2 (or another 127.x.y.z), or add --allow-lan if you really mean it',
    );
  }
  return `warning: the simulated console on ${host} is reachable from your network (--allow-lan); it is not a secure service`;
}

const CONNECTION_IDLE_MS = 10_000;

export class SimulatedConsole implements ConsoleHost {
  readonly events: EventLog;
  readonly target: Target;
  readonly ddpPort: number;
  power: Power;
  private readonly udpSockets = new Map<number, DgramSocket>();
  private readonly routes = new Map<string, HttpRoute>();
  private readonly connections = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private tcp: Server | undefined;
  private stopped = false;

  private constructor(
    readonly opts: SimulatorOptions,
    readonly state: ConsoleState,
    events: EventLog,
  ) {
    this.events = events;
    this.power = opts.standby ? 'standby' : 'ready';
    this.target = targetFromDiscovery(opts.kind === 'PS5', state.data.systemVersion);
    this.ddpPort = opts.kind === 'PS5' ? DDP_PORT_PS5 : DDP_PORT_PS4;
  }

  get host(): string {
    return this.opts.host;
  }
  get kind(): ConsoleKind {
    return this.opts.kind;
  }
  get pin(): string {
    return this.opts.pin;
  }

  /** Validates the options, loads the state, binds every socket, then emits `listening`. */
  static async start(opts: SimulatorOptions): Promise<SimulatedConsole> {
    if (!/^\d{8}$/.test(opts.pin)) throw new UsageError(`--pin must be 8 digits, got "${opts.pin}"`);
    if (opts.systemVersion !== undefined && !/^\d{8}$/.test(opts.systemVersion)) {
      throw new UsageError(
        `--system-version must be 8 digits like 12020001 (firmware 12.02), got "${opts.systemVersion}"`,
      );
    }
    const warning = checkSimulatorAddress(opts.host, opts.allowLan ?? false);
    if (warning) opts.print?.(warning);
    const state = await ConsoleState.open(opts.statePath, {
      kind: opts.kind,
      nickname: opts.nickname,
      systemVersion: opts.systemVersion,
    });
    const sim = new SimulatedConsole(
      opts,
      state,
      new EventLog({ jsonPath: opts.eventsPath, print: opts.print, debug: opts.debug }),
    );
    try {
      await sim.udp(sim.ddpPort, ddpHandler(sim));
      await sim.udp(REGIST_PORT, registSearchHandler(sim));
      for (const [path, route] of registRoutes(sim)) sim.route(path, route);
      await sim.listenTcp(REGIST_PORT);
    } catch (err) {
      await sim.stop();
      throw err;
    }
    sim.events.emit(
      'listening',
      {
        host: opts.host,
        kind: opts.kind,
        hostId: state.data.hostId,
        nickname: state.data.nickname,
        power: sim.power,
        pin: opts.pin,
        ports: { ddp: sim.ddpPort, regist: REGIST_PORT },
      },
      `simulated ${opts.kind} "${state.data.nickname}" (host-id ${state.data.hostId}) on ${opts.host}: ${sim.power}, ` +
        `discovery UDP ${sim.ddpPort}, registration UDP/TCP ${REGIST_PORT}, PIN ${opts.pin}`,
    );
    return sim;
  }

  /** Adds an HTTP route on TCP 9295 (exact path match). */
  route(path: string, handler: HttpRoute): void {
    this.routes.set(path, handler);
  }

  /** Binds a UDP port on the console's address and answers each datagram with `handler`. */
  async udp(port: number, handler: UdpHandler): Promise<void> {
    const sock = createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', (err) => reject(bindError(err, this.host, `UDP ${port}`)));
      sock.bind({ address: this.host, port, exclusive: true }, () => resolve());
    });
    sock.removeAllListeners('error');
    sock.on('error', (err) =>
      this.events.emit('error', { port, message: err.message }, `UDP ${port}: ${err.message}`),
    );
    sock.on('message', (msg, rinfo) => {
      void (async () => {
        const from = { address: rinfo.address, port: rinfo.port };
        try {
          const answer = await handler(new Uint8Array(msg), from);
          if (answer && !this.stopped) sock.send(answer, from.port, from.address);
        } catch (err) {
          this.internalError(err, `UDP ${port}`);
        }
      })();
    });
    this.udpSockets.set(port, sock);
  }

  /** Runs `fn` after `ms` unless the simulator stops first. */
  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  /** Leaves standby (after the boot time); no-op when already on. */
  wakeUp(by: Remote): void {
    if (this.power === 'ready') return;
    this.later(this.opts.bootMs ?? 1000, () => {
      if (this.power === 'ready') return;
      this.power = 'ready';
      this.events.emit('wake', { from: by.address }, `woke up (requested by ${by.address})`);
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.connections) c.destroy();
    for (const s of this.udpSockets.values()) s.close();
    this.udpSockets.clear();
    if (this.tcp) await new Promise<void>((r) => this.tcp?.close(() => r()));
    this.events.emit('stopped', {}, 'stopped');
  }

  private async listenTcp(port: number): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(bindError(err, this.host, `TCP ${port}`)));
      server.listen({ host: this.host, port, exclusive: true }, () => resolve());
    });
    server.removeAllListeners('error');
    server.on('error', (err) =>
      this.events.emit('error', { port, message: err.message }, `TCP ${port}: ${err.message}`),
    );
    this.tcp = server;
  }

  /** Reads one complete HTTP request, then hands the socket to the matching route. */
  private accept(socket: Socket): void {
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => socket.destroy());
    const remote = { address: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0 };
    if (this.power === 'standby') {
      // A resting console does not serve TCP 9295.
      this.events.emit(
        'ignored',
        { proto: 'tcp', from: remote.address, reason: 'standby' },
        `TCP from ${remote.address} ignored: in standby`,
      );
      socket.destroy();
      return;
    }
    socket.setTimeout(CONNECTION_IDLE_MS, () => socket.destroy());
    let buf: Uint8Array = new Uint8Array(0);
    const onData = (chunk: Buffer) => {
      buf = concatBytes(buf, chunk);
      let req: ReturnType<typeof readHttpRequest>;
      try {
        req = readHttpRequest(buf);
      } catch (err) {
        socket.off('data', onData);
        const message = err instanceof ParseError ? err.message : String(err);
        this.events.emit(
          'refusal',
          { proto: 'tcp', from: remote.address, reason: 'malformed', message },
          `TCP from ${remote.address}: malformed request (${message})`,
        );
        socket.end(
          formatHttpResponse(400, 'Bad Request', [
            ['Connection', 'close'],
            ['Content-Length', '0'],
          ]),
        );
        return;
      }
      if (!req) return;
      socket.off('data', onData);
      socket.setTimeout(0);
      const route = this.routes.get(req.head.path);
      if (!route) {
        this.events.emit(
          'refusal',
          { proto: 'tcp', from: remote.address, path: req.head.path, reason: 'not-found' },
          `TCP from ${remote.address}: ${req.head.method} ${req.head.path}: no such service`,
        );
        socket.end(
          formatHttpResponse(404, 'Not Found', [
            ['Connection', 'close'],
            ['Content-Length', '0'],
          ]),
        );
        return;
      }
      // then(): a route that throws synchronously is reported like one that rejects.
      Promise.resolve()
        .then(() => route({ ...req, socket, remote }))
        .catch((e) => {
          this.internalError(e, req.head.path);
          socket.destroy();
        });
    };
    socket.on('data', onData);
  }

  private internalError(err: unknown, where: string): void {
    const message = err instanceof Error ? err.message : String(err);
    this.events.emit('error', { where, message }, `${where}: internal error: ${message}`);
  }
}

function bindError(err: Error, host: string, what: string): RptuiError {
  const code = (err as NodeJS.ErrnoException).code;
  return new NetworkError(`cannot bind ${what} on ${host}: ${code ?? err.message}`, {
    hint: hintFor(code, host),
    cause: err,
  });
}
