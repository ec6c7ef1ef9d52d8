/**
 * The simulated console's stream service: the driver of ConsoleGate and ConsoleSession
 * (src/proto-stack/consolesession.ts) on the simulator's one address — the session-init and ctrl
 * routes of TCP 9295, UDP 9296, one timer, the AV network faults and the event log. The machines
 * decide everything a console decides; this file only carries bytes and writes log lines.
 *
 * - `tamperAfter: N` flips one bit (in the GMAC field) of the Nth datagram sent after the client
 *   acknowledged STREAMINFO: a test of the client's GMAC check (drop that packet, carry on).
 * - `floodPps: N` adds N forged video datagrams a second from the console's address (copies of
 *   real ones with a wrong tag and random packet numbers): an attacker who can spoof the console.
 * - Every message received is logged, feedback decoded to controller events, and a `stats` event
 *   with `gmacFailures` goes out every second and when the session ends.
 */
import { randomBytes } from 'node:crypto';
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
import { baseType, gmacOffset, TAKION_PORT, TakionType } from '../proto-stack/takion.js';
import { isPs5 } from '../proto-stack/target.js';
import type { PairedClient } from './console-state.js';
import type { FaultOptions } from './faults.js';
import type { ConsoleHost, HttpExchange, Remote } from './host.js';
import { findMediaDir } from './media-streamer.js';
import { logConsoleEvent } from './session-log.js';
import { AvNetwork, clipSource } from './stream-av.js';

export interface StreamServiceOptions
  extends Pick<
    ConsoleSessionOptions,
    'loginPin' | 'statsIntervalMs' | 'qualityIntervalMs' | 'rumbleEveryMs' | 'keyboardAfterMs'
  > {
  /** Network faults on AV datagrams (control traffic is never touched). */
  faults?: FaultOptions;
  /** Where the clips are (default: the package's test/fixtures/media). */
  mediaDir?: string;
  /** Flip one bit in the Nth datagram (1-based) sent after the client acknowledged STREAMINFO. */
  tamperAfter?: number;
  /** Forged video datagrams a second, from STREAMINFOACK on. */
  floodPps?: number;
  /** Say in RP-Server-Type that this PS4 is a Pro. */
  pro?: boolean;
  /** Stream at most this video bitrate, whatever the launch spec asks. */
  bitrateCapKbps?: number;
  /** Log every AV datagram with its key_pos (`av-sent`). */
  logDatagrams?: boolean;
  /** Senkusha: datagrams larger than this path MTU are lost (to try the MTU search). */
  pathMtu?: number;
  /** A slow console (tests): this step is answered only after HOLD_MS[step]. */
  hold?: HoldStep;
  /** No Senkusha listener: UDP 9297 stays closed, as on a console that does not answer it. */
  noSenkusha?: boolean;
}

export const HOLD_STEPS = ['session-init', 'ctrl', 'bang'] as const;
export type HoldStep = (typeof HOLD_STEPS)[number];
/**
 * How long --hold keeps each step waiting. BANG comes within the second a client that is closing
 * waits for it (so its DISCONNECT can be tagged).
 */
export const HOLD_MS: Record<HoldStep, number> = { 'session-init': 1500, ctrl: 1500, bang: 800 };

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
    if (this.held('session-init', x, () => this.answerSessionInit(x))) return;
    this.answerSessionInit(x);
  }

  /**
   * --hold: the request waits HOLD_MS[step] before it is answered (logged as "held"); a client that
   * gives up meanwhile closes the connection, and nothing is answered.
   */
  private held(step: HoldStep, x: HttpExchange, answer: () => void): boolean {
    if (this.opts.hold !== step) return false;
    const from = x.remote.address;
    const ms = HOLD_MS[step];
    this.sim.events.emit('held', { step, from, ms }, `${step} request from ${from} held for ${ms} ms`);
    let gone = false;
    x.socket.once('close', () => {
      gone = true;
    });
    this.sim.later(ms, () => {
      if (gone || x.socket.destroyed) {
        this.sim.events.emit(
          'held',
          { step, from, gone: true },
          `  the client of the held ${step} request left`,
        );
        return;
      }
      answer();
    });
    return true;
  }

  private answerSessionInit(x: HttpExchange): void {
    const ev = this.sim.events;
    const from = x.remote.address;
    const o = this.gate.sessionInit(
      headBytes(x.head),
      from,
      this.sim.state.data.paired,
      this.busy,
      Date.now(),
    );
    if (o.kind === 'nonce') {
      ev.emit(
        'request',
        { proto: 'session-init', from, registKey: o.registKey, rpVersion: o.rpVersion },
        `session request from ${from} (RP-Version ${o.rpVersion}${this.sim.opts.debug ? `, RegistKey ${o.registKey}` : ''})`,
      );
      ev.emit(
        'answer',
        { proto: 'session-init', to: from, accountId: o.client.accountId },
        `  -> nonce for paired account ${o.client.accountId}`,
      );
    } else {
      ev.emit('request', { proto: 'session-init', from }, `session request from ${from}`);
      if (o.kind === 'refused')
        ev.emit(
          'refusal',
          { proto: 'session-init', from, reason: o.reason, code: o.code.toString(16), message: o.message },
          `  -> session refused (${o.reason}): RP-Application-Reason ${o.code.toString(16)}`,
        );
    }
    if (o.kind !== 'incomplete') x.socket.end(o.bytes);
  }

  ctrlRequest(x: HttpExchange): void {
    if (this.held('ctrl', x, () => this.answerCtrl(x))) return;
    this.answerCtrl(x);
  }

  private answerCtrl(x: HttpExchange): void {
    const ev = this.sim.events;
    const from = x.remote.address;
    ev.emit('request', { proto: 'ctrl', from }, `ctrl request from ${from}`);
    const o = this.gate.ctrlRequest(headBytes(x.head), from, this.busy, Date.now());
    if (o.kind === 'incomplete') {
      x.socket.destroy();
      return;
    }
    if (o.kind === 'refused') {
      ev.emit(
        'refusal',
        { proto: 'ctrl', from, reason: o.reason, code: o.code.toString(16), message: o.message },
        o.reason === 'in-use' ? '  -> ctrl refused: in use' : `  -> ctrl refused (${o.reason}): ${o.message}`,
      );
      x.socket.end(o.bytes);
      return;
    }
    if (o.kind !== 'accepted') return;
    // The answer goes out alone: SESSION_ID follows in a later write (docs/protocol.md §12).
    x.socket.write(o.bytes);
    ev.emit(
      'answer',
      {
        proto: 'ctrl',
        to: from,
        serverType: o.serverType,
        osType: o.info.osType,
        streamingType: o.info.streamingType,
        accountId: o.client.accountId,
      },
      `  -> ctrl open for account ${o.client.accountId} (${o.info.osType})`,
    );
    this.active = new ActiveSession(this, x, o.info);
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
  /** Datagrams sent since the client acknowledged STREAMINFO (for tamperAfter). */
  private sentAfterHandshake: number | undefined;
  private tampered = 0;
  /** The last real video datagram, the template of forged ones. */
  private lastVideo: Uint8Array | undefined;
  private flooded = 0;
  private servicing = false;
  /** --hold bang: the client's datagrams kept back meanwhile. */
  private holding: Array<{ d: Uint8Array; from: Remote }> | undefined;

  constructor(
    private readonly owner: StreamService,
    x: HttpExchange,
    info: { target: number; crypt: ConsoleSessionOptions['crypt']; clientCounter: number },
  ) {
    this.sim = owner.sim;
    this.remote = x.remote;
    this.socket = x.socket;
    const o = owner.opts;
    this.network = new AvNetwork(o.faults, this.sim.events);
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
    if (this.holding && port === TAKION_PORT) {
      this.holding.push({ d, from });
      return;
    }
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

  /**
   * --hold bang: what the client sends after the Takion handshake (BIG first) waits HOLD_MS.bang, then
   * goes in, in order: BANG comes late, as from a console that takes its time.
   */
  private holdBig(): void {
    const held: Array<{ d: Uint8Array; from: Remote }> = [];
    this.holding = held;
    const ms = HOLD_MS.bang;
    this.sim.events.emit('held', { step: 'bang', from: this.remote.address, ms }, `BIG held for ${ms} ms`);
    this.sim.later(ms, () => {
      this.holding = undefined;
      for (const h of held) this.datagram(h.d, h.from, TAKION_PORT);
    });
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
    const peer = this.peers.get(port);
    const sock = this.owner.udp.get(port);
    if (!peer || !sock) return;
    let bytes = d;
    if (port === TAKION_PORT && this.sentAfterHandshake !== undefined) {
      if (baseType(d) === TakionType.Video) this.lastVideo = d;
      this.sentAfterHandshake++;
      if (this.sentAfterHandshake === this.owner.opts.tamperAfter) {
        // A copy (the original may still sit in the resend queue). The flipped bit is in the GMAC
        // field: the packet still parses, so only the tag check can catch it.
        bytes = d.slice();
        bytes[gmacOffset(baseType(bytes)) ?? bytes.length - 1] ^= 0x01;
        this.tampered++;
        this.sim.events.emit(
          'stream',
          { dir: 'out', action: 'tampered', packet: this.sentAfterHandshake, bytes: bytes.length },
          `  tampered with datagram #${this.sentAfterHandshake} after the handshake (one bit flipped)`,
        );
      }
    }
    sock.send(bytes, peer.port, peer.address);
  }

  /** Every 10 ms, a hundredth of `pps` forged datagrams, until the session ends. */
  private flood(pps: number): void {
    const tick = () => {
      if (this.ended) return;
      const template = this.lastVideo;
      const sock = this.owner.udp.get(TAKION_PORT);
      const peer = this.peers.get(TAKION_PORT);
      if (template && sock && peer) {
        const gmacAt = gmacOffset(TakionType.Video) as number;
        for (let i = 0; i < Math.max(1, Math.round(pps / 100)); i++) {
          const forged = template.slice();
          forged.set(randomBytes(4), gmacAt); // a wrong tag...
          forged.set(randomBytes(2), 1); // ...on a packet number of its own
          sock.send(forged, peer.port, peer.address);
          this.flooded++;
        }
      }
      this.sim.later(10, tick);
    };
    this.sim.events.emit(
      'stream',
      { dir: 'out', action: 'flood', pps },
      `  flooding the client with ${pps} forged datagrams/s`,
    );
    tick();
  }

  private onEvent(e: ConsoleEvent): void {
    // rest mode: discovery says standby and only a paired client's WAKEUP brings it back
    if (e.type === 'ctrlReceived' && e.msgType === CTRL.GOTO_BED) this.sim.power = 'standby';
    // The handshake is over once the client acknowledged STREAMINFO: every packet either side
    // still has in flight was sent under crypt, so a tampered one can only hurt its receiver.
    if (
      e.type === 'streamReceived' &&
      e.message.type === 'streamInfoAck' &&
      this.sentAfterHandshake === undefined
    ) {
      this.sentAfterHandshake = 0;
      if (this.owner.opts.floodPps) this.flood(this.owner.opts.floodPps);
    }
    if (e.type === 'takionConnected' && this.owner.opts.hold === 'bang') this.holdBig();
    if (e.type === 'ended') this.timerGeneration++;
    logConsoleEvent(this.sim.events, e, {
      peer: this.peers.get(TAKION_PORT),
      tampered: () => this.tampered,
      flooded: () => this.flooded,
      network: () => this.network.stats(),
      logDatagrams: this.owner.opts.logDatagrams,
    });
  }
}
