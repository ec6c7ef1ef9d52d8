import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import type { Socket } from 'node:net';
import { hintFor } from '../common/net.js';
import {
  type ConsoleEvent,
  ConsoleGate,
  ConsoleSession,
  type ConsoleSessionOptions,
  type ConsoleTransmit,
} from '../proto-stack/consolesession.js';
import { CTRL } from '../proto-stack/ctrl.js';
import { Ecdh } from '../proto-stack/ecdh.js';
import { NetworkError } from '../proto-stack/errors.js';
import { formatHttpRequest, type HttpRequestHead } from '../proto-stack/http.js';
import { SENKUSHA_PORT } from '../proto-stack/senkusha.js';
import { ctrlPath, sessionInitPath } from '../proto-stack/session.js';
import { TAKION_PORT } from '../proto-stack/takion.js';
import { isPs5 } from '../proto-stack/target.js';
import type { PairedClient } from './console-state.js';
import type { FaultOptions } from './faults.js';
import type { ConsoleHost, HttpExchange, Remote } from './host.js';
import { findMediaDir } from './media-streamer.js';
import { logConsoleEvent, logCtrlAnswer, logSessionInit } from './session-log.js';
import { AvNetwork, clipSource } from './stream-av.js';
import { holdRequest, SessionFaults, type StreamFaultOptions } from './stream-faults.js';

export interface StreamServiceOptions
  extends Pick<
      ConsoleSessionOptions,
      'loginPin' | 'statsIntervalMs' | 'qualityIntervalMs' | 'rumbleEveryMs' | 'keyboardAfterMs'
    >,
    StreamFaultOptions {
  /** Network faults on AV datagrams (control traffic is never touched). */
  faults?: FaultOptions;
  /** Where the clips are (default: the package's test/fixtures/media). */
  mediaDir?: string;
  /** Say in RP-Server-Type that this PS4 is a Pro. */
  pro?: boolean;
  /** Stream at most this video bitrate, whatever the launch spec asks. */
  bitrateCapKbps?: number;
  /** Log every AV datagram with its key_pos (`av-sent`). */
  logDatagrams?: boolean;
  /** Senkusha: datagrams larger than this path MTU are lost (to try the MTU search). */
  pathMtu?: number;
  /** No Senkusha listener: UDP 9297 stays closed, as on a console that does not answer it. */
  noSenkusha?: boolean;
}

/** The head as bytes again, for the parsers that validate a whole request. */
function headBytes(head: HttpRequestHead): Uint8Array {
  return formatHttpRequest(`${head.method} ${head.path} HTTP/1.1`, head.rawHeaders);
}

/** Registers the session-init and ctrl routes and binds UDP 9296 and 9297 on the simulator's address. */
export async function startStreamService(sim: ConsoleHost, opts: StreamServiceOptions = {}): Promise<void> {
  // The first secp256k1 key pair costs ~150 ms (the library builds its tables): pay it now, not
  // while a client's BIG waits for its ack and gets resent (unverifiable once crypt is on).
  Ecdh.generate();
  // a missing clip directory fails here, at start, not when the first client streams
  const service = new StreamService(sim, { ...opts, mediaDir: opts.mediaDir ?? findMediaDir() });
  sim.route(sessionInitPath(sim.target), (x) => service.sessionInit(x));
  sim.route(ctrlPath(sim.target), (x) => service.ctrlRequest(x));
  // Our own sockets rather than sim.udp(): the session sends on them at any time, not only as
  // answers. UDP 9297 answers the client's Senkusha probe.
  for (const port of opts.noSenkusha ? [TAKION_PORT] : [TAKION_PORT, SENKUSHA_PORT]) {
    const sock = await bindUdp(sim, port);
    sock.on('message', (msg, rinfo) =>
      service.datagram(new Uint8Array(msg), { address: rinfo.address, port: rinfo.port }, port),
    );
    service.udp.set(port, sock);
  }
  const off = sim.events.on((e) => {
    if (e.event !== 'stopped') return;
    off();
    service.stop();
    for (const sock of service.udp.values()) sock.close();
  });
}

async function bindUdp(sim: ConsoleHost, port: number): Promise<DgramSocket> {
  const sock = createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      reject(
        new NetworkError(`cannot bind UDP ${port} on ${sim.host}: ${code ?? err.message}`, {
          hint: hintFor(code, sim.host),
          cause: err,
        }),
      );
    });
    sock.bind({ address: sim.host, port, exclusive: true }, () => resolve());
  });
  sock.removeAllListeners('error');
  sock.on('error', (err) => sim.events.emit('error', { port, message: err.message }));
  return sock;
}

class StreamService {
  readonly udp = new Map<number, DgramSocket>();
  private readonly gate: ConsoleGate<PairedClient>;
  private active: ActiveSession | undefined;

  constructor(
    readonly sim: ConsoleHost,
    readonly opts: StreamServiceOptions,
  ) {
    this.gate = new ConsoleGate({ target: sim.target, pro: opts.pro });
  }

  private get busy(): boolean {
    return this.active !== undefined && !this.active.ended;
  }

  sessionInit(x: HttpExchange): void {
    if (holdRequest(this.sim, this.opts, 'session-init', x, () => this.answerSessionInit(x))) return;
    this.answerSessionInit(x);
  }

  private answerSessionInit(x: HttpExchange): void {
    const from = x.remote.address;
    const paired = this.sim.state.data.paired;
    const o = this.gate.sessionInit(headBytes(x.head), from, paired, this.busy, Date.now());
    logSessionInit(this.sim.events, from, o, this.sim.opts.debug === true);
    if (o.kind !== 'incomplete') x.socket.end(o.bytes);
  }

  ctrlRequest(x: HttpExchange): void {
    if (holdRequest(this.sim, this.opts, 'ctrl', x, () => this.answerCtrl(x))) return;
    this.answerCtrl(x);
  }

  private answerCtrl(x: HttpExchange): void {
    const from = x.remote.address;
    this.sim.events.emit('request', { proto: 'ctrl', from }, `ctrl request from ${from}`);
    const o = this.gate.ctrlRequest(headBytes(x.head), from, this.busy, Date.now());
    logCtrlAnswer(this.sim.events, from, o);
    if (o.kind === 'incomplete') x.socket.destroy();
    else if (o.kind === 'refused') x.socket.end(o.bytes);
    else if (o.kind === 'accepted') {
      // The answer goes out alone: SESSION_ID follows in a later write (docs/protocol.md §12).
      x.socket.write(o.bytes);
      this.active = new ActiveSession(this, x, o.info);
    }
  }

  datagram(d: Uint8Array, from: Remote, port: number): void {
    const s = this.active;
    if (!s || s.ended || from.address !== s.remote.address) {
      this.sim.events.emit(
        'ignored',
        { proto: 'takion', from: `${from.address}:${from.port}`, reason: 'no-session' },
        `Takion datagram from ${from.address}:${from.port} without a session, ignored`,
      );
      return;
    }
    s.datagram(d, from, port);
  }

  stop(): void {
    this.active?.stop('simulator stopped');
  }
}

/** One client's session: the ConsoleSession machine with its sockets, timer and log. */
class ActiveSession {
  readonly remote: Remote;
  private readonly sim: ConsoleHost;
  private readonly machine: ConsoleSession;
  private readonly socket: Socket;
  private readonly network: AvNetwork;
  /** The client's address per console port (Takion, Senkusha): the first datagram's sender. */
  private readonly peers = new Map<number, Remote>();
  private timerGeneration = 0;
  private wakeAt: number | undefined;
  private readonly faults: SessionFaults;
  private servicing = false;

  constructor(
    private readonly owner: StreamService,
    x: HttpExchange,
    info: { target: number; crypt: ConsoleSessionOptions['crypt']; clientCounter: number },
  ) {
    const session = this;
    this.sim = owner.sim;
    this.remote = x.remote;
    this.socket = x.socket;
    const o = owner.opts;
    this.network = new AvNetwork(o.faults, this.sim.events);
    this.faults = new SessionFaults(this.sim, o, {
      remote: this.remote,
      get ended() {
        return session.ended;
      },
      sendTakion: (d) => this.send(TAKION_PORT, d),
      release: (d, from) => this.datagram(d, from, TAKION_PORT),
    });
    const target = info.target as ConsoleSessionOptions['target'];
    this.machine = new ConsoleSession({
      target,
      crypt: info.crypt,
      remoteCounter: info.clientCounter,
      now: Date.now(),
      loginPin: o.loginPin,
      statsIntervalMs: o.statsIntervalMs,
      qualityIntervalMs: o.qualityIntervalMs,
      rumbleEveryMs: o.rumbleEveryMs,
      keyboardAfterMs: o.keyboardAfterMs,
      avSource: (spec, now) => clipSource(spec, target, this.sim.events, o, now),
      droppedSoFar: () => this.network.dropped,
      pathMtu: o.pathMtu,
    });
    x.socket.on('data', (chunk: Buffer) => this.feed({ type: 'ctrlData', bytes: new Uint8Array(chunk) }));
    x.socket.on('close', () => this.feed({ type: 'ctrlClosed' }));
    x.socket.on('error', () => x.socket.destroy());
    this.sim.events.emit(
      'session',
      { state: 'started', from: x.remote.address, kind: isPs5(target) ? 'PS5' : 'PS4' },
      `session started with ${x.remote.address}`,
    );
    if (x.rest.length) this.feed({ type: 'ctrlData', bytes: x.rest });
    else this.service();
  }

  get ended(): boolean {
    return this.machine.ended;
  }

  datagram(d: Uint8Array, from: Remote, port: number): void {
    if (this.ended) return;
    if (port === TAKION_PORT && this.faults.hold(d, from)) return;
    const peer = this.peers.get(port);
    if (!peer) this.peers.set(port, from);
    else if (from.port !== peer.port) {
      this.sim.events.emit('ignored', {
        proto: 'takion',
        from: `${from.address}:${from.port}`,
        reason: 'other-port',
      });
      return;
    }
    this.feed({ type: 'udp', port, bytes: d });
  }

  stop(reason: string): void {
    this.machine.stop(reason, Date.now());
    this.service();
  }

  private feed(input: Parameters<ConsoleSession['handle']>[0]): void {
    this.machine.handle(input, Date.now());
    this.service();
  }

  private service(): void {
    if (this.servicing) return;
    this.servicing = true;
    try {
      const m = this.machine;
      const now = Date.now();
      for (;;) {
        const t = m.pollTransmit();
        if (t) {
          this.transmit(t, now);
          continue;
        }
        const e = m.pollEvent();
        if (!e) break;
        this.onEvent(e);
      }
      if (!m.ended) this.arm();
    } finally {
      this.servicing = false;
    }
  }

  private arm(): void {
    const t = [this.machine.pollTimeout(), this.network.pollTimeout()].reduce<number | undefined>(
      (a, b) => (b === undefined ? a : a === undefined ? b : Math.min(a, b)),
      undefined,
    );
    if (t === undefined || t === this.wakeAt) return;
    this.wakeAt = t;
    const generation = ++this.timerGeneration;
    this.sim.later(Math.max(0, t - Date.now()), () => {
      if (generation !== this.timerGeneration) return;
      this.wakeAt = undefined;
      const now = Date.now();
      this.network.handleTimeout(now, (d) => this.sendUdp(TAKION_PORT, d));
      this.machine.handleTimeout(now);
      this.service();
    });
  }

  private transmit(t: ConsoleTransmit, now: number): void {
    switch (t.type) {
      case 'ctrl':
        this.socket.write(t.bytes);
        return;
      case 'ctrlClose':
        this.timerGeneration++;
        this.socket.removeAllListeners('close');
        this.socket.destroy();
        return;
      case 'udp':
        if (t.av) this.network.push(t.bytes, t.av, now, (d) => this.sendUdp(t.port, d));
        else this.sendUdp(t.port, t.bytes);
        return;
    }
  }

  private sendUdp(port: number, d: Uint8Array): void {
    this.send(port, port === TAKION_PORT ? this.faults.outgoing(d) : d);
  }

  /** To the client's address on that port, once its first datagram told it. */
  private send(port: number, d: Uint8Array): boolean {
    const peer = this.peers.get(port);
    const sock = this.owner.udp.get(port);
    if (!peer || !sock) return false;
    sock.send(d, peer.port, peer.address);
    return true;
  }

  private onEvent(e: ConsoleEvent): void {
    // rest mode: discovery says standby and only a paired client's WAKEUP brings it back
    if (e.type === 'ctrlReceived' && e.msgType === CTRL.GOTO_BED) this.sim.power = 'standby';
    this.faults.onEvent(e);
    if (e.type === 'ended') this.timerGeneration++;
    logConsoleEvent(this.sim.events, e, {
      peer: this.peers.get(TAKION_PORT),
      tampered: () => this.faults.tampered,
      flooded: () => this.faults.flooded,
      network: () => this.network.stats(),
      logDatagrams: this.owner.opts.logDatagrams,
    });
  }
}
