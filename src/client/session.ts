/**
 * RemotePlaySession: the driver of one ClientSession (src/proto-stack/clientsession.ts), the
 * machine that runs every protocol layer. This file holds only what a machine cannot: the TCP
 * connections and UDP sockets its transmits name, one timer armed from pollTimeout(), the Opus
 * decoder (WASM, asynchronous), and the EventEmitter API of src/common/session-api.ts that
 * `rptui connect`, the TUI and the tests use.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { type Socket, connect as tcpConnect } from 'node:net';
import { toNetworkError } from '../common/net.js';
import type { RemotePlaySessionApi, SessionEvents } from '../common/session-api.js';
import { AvAudioDecoder } from '../media/opus.js';
import type { AudioHeader } from '../proto-stack/audio.js';
import {
  type ClientEvent,
  ClientSession,
  type ClientSessionOptions,
  type ClientTransmit,
  type CloseReason,
  type SessionState,
  type SessionStats,
  type TcpConn,
} from '../proto-stack/clientsession.js';
import type { ControllerState } from '../proto-stack/controller.js';
import { NetworkError, type RptuiError } from '../proto-stack/errors.js';
import { TAKION_PORT } from '../proto-stack/takion.js';
import type { Profile } from './profiles.js';

export interface RemotePlaySessionOptions extends ClientSessionOptions {
  /** Local address for the UDP and TCP sockets (default: chosen by the OS). */
  localAddress?: string;
  /** Milliseconds clock; default Date.now. */
  clock?: () => number;
}

/** Options for a profile, with what the command line may override. */
export function sessionOptionsFromProfile(
  p: Profile,
  o: Partial<Omit<RemotePlaySessionOptions, 'host' | 'target' | 'registKey' | 'rpKey'>> = {},
): RemotePlaySessionOptions {
  return {
    host: p.host,
    target: p.target,
    registKey: p.registKey,
    rpKey: p.rpKey,
    resolution: p.settings.resolution,
    fps: p.settings.fps,
    bitrateKbps: p.settings.bitrate === 'auto' ? undefined : p.settings.bitrate,
    ...o,
  };
}

/** Bytes of UDP receive buffer asked for (see growReceiveBuffer). */
const UDP_RECEIVE_BUFFER = 4 * 1024 * 1024;

/** A socket that is still connecting holds what was sent meanwhile. */
interface UdpPort {
  sock: UdpSocket;
  ready: boolean;
  queue: Uint8Array[];
}

export class RemotePlaySession implements RemotePlaySessionApi {
  private readonly opts: RemotePlaySessionOptions;
  private readonly machine: ClientSession;
  private readonly emitter = new EventEmitter();
  private readonly now: () => number;
  private readonly tcp = new Map<TcpConn, Socket>();
  private readonly udp = new Map<number, UdpPort>();
  private warnedUdp = false;
  private timer: NodeJS.Timeout | undefined;
  private wakeAt: number | undefined;
  private servicing = false;
  /** Opus -> PCM, only while someone listens to 'audio'. */
  private audioDecoder: AvAudioDecoder | undefined;

  private startSettle: { resolve: () => void; reject: (e: RptuiError) => void } | undefined;
  private readonly startPromise: Promise<void>;
  private readonly closedPromise: Promise<CloseReason>;
  private resolveClosed!: (r: CloseReason) => void;

  constructor(opts: RemotePlaySessionOptions) {
    this.opts = opts;
    this.now = opts.clock ?? Date.now;
    this.machine = new ClientSession(opts);
    this.startPromise = new Promise<void>((resolve, reject) => {
      this.startSettle = { resolve, reject };
    });
    this.startPromise.catch(() => {}); // observed through start(); never an unhandled rejection
    this.closedPromise = new Promise((r) => {
      this.resolveClosed = r;
    });
  }

  get state(): SessionState {
    return this.machine.state;
  }

  get stats(): SessionStats {
    return this.machine.stats(this.now());
  }

  /** Heartbeats seen from the console (ctrl + protobuf), for logs and tests. */
  get heartbeats(): { ctrlReceived: number; streamReceived: number } {
    return this.machine.heartbeats;
  }

  /** Why the session closed, once it has. */
  get closeInfo(): CloseReason | undefined {
    return this.machine.closeInfo;
  }

  /** Resolves with the reason once the session is closed (whoever closed it). */
  closed(): Promise<CloseReason> {
    return this.closedPromise;
  }

  on<E extends keyof SessionEvents>(event: E, listener: SessionEvents[E]): this {
    this.emitter.on(event, listener as (...a: unknown[]) => void);
    return this;
  }

  off<E extends keyof SessionEvents>(event: E, listener: SessionEvents[E]): this {
    this.emitter.off(event, listener as (...a: unknown[]) => void);
    return this;
  }

  private emit<E extends keyof SessionEvents>(event: E, ...args: Parameters<SessionEvents[E]>): void {
    this.emitter.emit(event, ...args);
  }

  // ----------------------------------------------------------------------------------------------
  // Commands: each goes to the machine, then the machine's output is carried out.

  start(): Promise<void> {
    this.machine.start(this.now());
    this.service();
    return this.startPromise;
  }

  setController(state: ControllerState): void {
    this.machine.setController(state, this.now());
    this.service();
  }

  sendLoginPin(pin: string): void {
    this.machine.sendLoginPin(pin, this.now());
    this.service();
  }

  keyboardSetText(text: string): void {
    this.machine.keyboardSetText(text, this.now());
    this.service();
  }

  keyboardAccept(): void {
    this.machine.keyboardAccept(this.now());
    this.service();
  }

  keyboardReject(): void {
    this.machine.keyboardReject(this.now());
    this.service();
  }

  requestIdr(): void {
    this.machine.requestIdr(this.now());
    this.service();
  }

  /** Puts the console in rest mode (GOTO_BED), then disconnects. */
  async standby(): Promise<void> {
    this.machine.standby(this.now());
    this.service();
    await this.closedPromise;
  }

  /** Clean shutdown: DISCONNECT on Takion (waits briefly for its ack), then closes everything. */
  async disconnect(message = 'disconnected by the user'): Promise<void> {
    this.machine.close(this.now(), message);
    this.service();
    await this.closedPromise;
  }

  // ----------------------------------------------------------------------------------------------
  // The pump: transmits to sockets, events to listeners, one timer.

  /**
   * Carries out what the machine queued: transmits first (a reply goes out before anything is
   * drawn), then events; a listener's command (say, sendLoginPin from a 'console' listener) queues
   * more, which this loop picks up. Then re-arms the timer.
   */
  private service(): void {
    if (this.servicing) return;
    this.servicing = true;
    try {
      const m = this.machine;
      for (;;) {
        const t = m.pollTransmit();
        if (t) {
          this.transmit(t);
          continue;
        }
        const e = m.pollEvent();
        if (!e) break;
        this.dispatch(e);
      }
      if (!m.isClosed) this.arm();
    } finally {
      this.servicing = false;
    }
  }

  private dispatch(e: ClientEvent): void {
    switch (e.type) {
      case 'state':
        this.emit('state', e.state);
        if (e.state === 'streaming') {
          this.startSettle?.resolve();
          this.startSettle = undefined;
        }
        return;
      case 'streamInfo':
        if (this.emitter.listenerCount('audio') > 0) this.openAudioDecoder(e.audioHeader);
        this.emit('streamInfo', e.info);
        return;
      case 'video':
        this.emit('video', e.frame);
        return;
      case 'opus':
      case 'opusLost': {
        const pcm = this.audioDecoder?.pcm(e);
        if (pcm) this.emit('audio', pcm);
        return;
      }
      case 'haptics':
        return; // DualSense haptics need a pad that plays them
      case 'console':
        this.emit('console', e.message);
        return;
      case 'stats':
        this.emit('stats', e.stats);
        return;
      case 'warning':
        this.emit('warning', e.message);
        return;
      case 'closed':
        this.closedDown(e.reason);
        return;
    }
  }

  /**
   * One timer for the machine's next deadline. A timer already due no later than that deadline is
   * kept: the peer-silence deadline moves with every datagram, and re-arming for it cost a
   * clearTimeout and a setTimeout per datagram; an early wake-up finds nothing due and arms the
   * next one.
   */
  private arm(): void {
    const t = this.machine.pollTimeout();
    if (this.timer && t !== undefined && this.wakeAt !== undefined && this.wakeAt <= t) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.wakeAt = t;
    if (t === undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.wakeAt = undefined;
        this.machine.handleTimeout(this.now());
        this.service();
      },
      Math.max(0, t - this.now()),
    );
  }

  private feed(input: Parameters<ClientSession['handle']>[0]): void {
    this.machine.handle(input, this.now());
    this.service();
  }

  private transmit(t: ClientTransmit): void {
    switch (t.type) {
      case 'tcpOpen':
        this.openTcp(t.conn, t.port, t.bytes);
        return;
      case 'tcpSend': {
        const sock = this.tcp.get(t.conn);
        if (sock && !sock.destroyed) sock.write(t.bytes);
        return;
      }
      case 'tcpClose': {
        const sock = this.tcp.get(t.conn);
        this.tcp.delete(t.conn);
        if (!sock) return;
        sock.removeAllListeners('data');
        sock.removeAllListeners('close');
        sock.on('error', () => {});
        if (t.graceful) {
          // end(), not destroy(): a GOTO_BED written just before must still reach the console
          sock.end();
          setTimeout(() => sock.destroy(), 1000).unref();
        } else sock.destroy();
        return;
      }
      case 'udp':
        this.sendUdp(t.port, t.bytes);
        return;
    }
  }

  private openTcp(conn: TcpConn, port: number, first: Uint8Array): void {
    const what = conn === 'init' ? 'session request' : 'ctrl connection';
    const sock = tcpConnect({ host: this.opts.host, port, localAddress: this.opts.localAddress });
    this.tcp.set(conn, sock);
    let reported = false;
    const gone = (error?: RptuiError) => {
      if (reported || this.tcp.get(conn) !== sock) return;
      reported = true;
      this.tcp.delete(conn);
      sock.destroy();
      this.feed({ type: 'tcpClosed', conn, error });
    };
    sock.once('connect', () => {
      sock.write(first);
      this.feed({ type: 'tcpConnected', conn });
    });
    sock.on('data', (chunk: Buffer) => this.feed({ type: 'tcpData', conn, bytes: new Uint8Array(chunk) }));
    sock.on('error', (err) => gone(toNetworkError(err, what, this.opts.host)));
    sock.on('close', () => gone());
  }

  private sendUdp(port: number, bytes: Uint8Array): void {
    let p = this.udp.get(port);
    if (!p) {
      const sock = createSocket({ type: 'udp4' });
      const entry: UdpPort = { sock, ready: false, queue: [] };
      p = entry;
      this.udp.set(port, entry);
      sock.on('error', (err) => {
        if (!entry.ready) {
          const e = toNetworkError(err, `stream: cannot open a UDP socket to port ${port}`, this.opts.host);
          this.machine.abort({ code: 'error', message: e.message, error: e }, this.now());
          this.service();
          return;
        }
        // A connected UDP socket reports ICMP "port unreachable" as an error. Senkusha takes it as
        // "no probe here" at once; the stream's silence is judged by the machine's timeouts, so
        // there it is only worth a warning.
        this.feed({ type: 'udpError', port, error: toNetworkError(err, `UDP ${port}`, this.opts.host) });
        if (port === TAKION_PORT && !this.warnedUdp) this.emit('warning', `UDP ${port}: ${err.message}`);
        if (port === TAKION_PORT) this.warnedUdp = true;
      });
      // node hands out a fresh Buffer per datagram: a view of it, not a copy
      sock.on('message', (msg) =>
        this.feed({ type: 'udp', port, bytes: new Uint8Array(msg.buffer, msg.byteOffset, msg.length) }),
      );
      sock.bind({ address: this.opts.localAddress, port: 0 }, () => {
        this.growReceiveBuffer(sock);
        sock.connect(port, this.opts.host, () => {
          entry.ready = true;
          for (const d of entry.queue) sock.send(d);
          entry.queue = [];
        });
      });
    }
    if (p.ready) p.sock.send(bytes);
    else p.queue.push(bytes);
  }

  /**
   * A key frame arrives as a burst (at 15 Mbit/s ~200 KB within a frame interval): more than
   * Linux's default 208 KiB socket buffer holds while the event loop is busy for a moment. The
   * kernel caps the request at net.core.rmem_max; say so once when that leaves it small.
   */
  private growReceiveBuffer(sock: UdpSocket): void {
    try {
      sock.setRecvBufferSize(UDP_RECEIVE_BUFFER);
      // Linux reports twice what it grants (the bookkeeping overhead)
      const granted = sock.getRecvBufferSize() / (process.platform === 'linux' ? 2 : 1);
      if (granted < UDP_RECEIVE_BUFFER / 2)
        this.emit(
          'warning',
          `UDP receive buffer is ${Math.round(granted / 1024)} KiB: key frames may overflow it; ` +
            `raise it with: sudo sysctl -w net.core.rmem_max=${UDP_RECEIVE_BUFFER}`,
        );
    } catch {
      // not every platform lets a socket set its buffer; the default then has to do
    }
  }

  private openAudioDecoder(h: AudioHeader): void {
    AvAudioDecoder.create(h)
      .then((d) => {
        if (this.machine.isClosed) d.free();
        else this.audioDecoder = d;
      })
      .catch((e: unknown) => this.emit('warning', `audio: ${e instanceof Error ? e.message : String(e)}`));
  }

  /** The machine closed: release every resource, settle the promises, tell the listeners. */
  private closedDown(reason: CloseReason): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const sock of this.tcp.values()) sock.destroy();
    this.tcp.clear();
    for (const p of this.udp.values()) {
      // after the sends just made (a final DISCONNECT or ack) have left
      setImmediate(() => {
        try {
          p.sock.close();
        } catch {
          // already closed
        }
      });
    }
    this.udp.clear();
    this.audioDecoder?.free();
    this.audioDecoder = undefined;
    if (this.startSettle) {
      const err =
        reason.code === 'error'
          ? reason.error
          : new NetworkError(reason.message, {
              hint: 'the session ended before the stream started; check the console and reconnect',
            });
      this.startSettle.reject(err);
      this.startSettle = undefined;
    }
    this.emit('closed', reason);
    this.resolveClosed(reason);
  }
}
