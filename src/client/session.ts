/**
 * RemotePlaySession: the stream session driver (PROTOCOL timeline steps 4-15). It owns the
 * sockets and the clock and drives the sans-I/O machines of src/proto-stack:
 *
 *   session init (TCP 9295, one request, RP-Version retry rule)
 *   -> ctrl request whose socket stays open (CtrlClient: heartbeats, login PIN, keyboard, SESSION_ID)
 *   -> Takion on UDP 9296 (TakionEndpoint) carrying the stream connection (StreamConnectionClient:
 *      BIG / BANG / STREAMINFO / HEARTBEAT / DISCONNECT), then AV, feedback and congestion packets.
 *
 * Every timer comes from the machines' nextWakeup(): after each input (socket data, API call,
 * timer) `service()` polls every machine, writes what they return and arms one timeout for the
 * earliest wakeup. Nothing here parses or formats protocol bytes itself.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { type Socket, connect as tcpConnect } from 'node:net';
import { hintFor, tcpExchange, toNetworkError } from '../common/net.js';
import type {
  CloseReason,
  RemotePlaySessionApi,
  SessionEvents,
  SessionState,
  SessionStats,
  StreamInfo,
} from '../common/session-api.js';
import { type ControllerState, IDLE_STATE } from '../input/controller-state.js';
import { type FeedbackOutput, FeedbackSender } from '../input/feedback-sender.js';
import { type AudioHeader, parseAudioHeader } from '../proto-stack/audio.js';
import { fromHex } from '../proto-stack/bytes.js';
import { formatCongestion } from '../proto-stack/congestion.js';
import { CtrlClient, type CtrlClientEvent } from '../proto-stack/ctrl.js';
import { ConsoleRefusedError, NetworkError, RptuiError, UsageError } from '../proto-stack/errors.js';
import { formatFeedbackPacket } from '../proto-stack/feedback.js';
import {
  type FpsPreset,
  type ResolutionPreset,
  type VideoCodec,
  videoProfile,
} from '../proto-stack/launchspec.js';
import { REASON } from '../proto-stack/reason.js';
import { RpCrypt } from '../proto-stack/rpcrypt.js';
import {
  decideSessionInitRetry,
  formatCtrlRequest,
  formatSessionInitRequest,
  parseCtrlResponse,
  parseSessionInitResponse,
  registKeyBytes,
  SESSION_INIT_MAX_ATTEMPTS,
  SESSION_PORT,
  streamingTypeFor,
} from '../proto-stack/session.js';
import {
  type StreamClientEvent,
  StreamConnectionClient,
  type StreamInfo as WireStreamInfo,
} from '../proto-stack/streamconnection.js';
import { TakionEndpoint, type TakionEvent } from '../proto-stack/takion.js';
import { isPs5, type Target } from '../proto-stack/target.js';
import { AvAudioDecoder, type AvOutput, AvReceiver } from './av-receiver.js';
import type { Profile } from './profiles.js';

export const TAKION_PORT = 9296;
/** PROTOCOL §10.4: ctrl connect/expect. */
const CTRL_CONNECT_TIMEOUT_MS = 5000;
const SESSION_INIT_TIMEOUT_MS = 5000;
/** PROTOCOL §9: congestion report cadence. */
export const CONGESTION_INTERVAL_MS = 200;
/** session-api.ts: stats every 500 ms while streaming. */
export const STATS_INTERVAL_MS = 500;
/** Between GOTO_BED (ctrl) and DISCONNECT (Takion) in standby(). */
const GOTO_BED_GRACE_MS = 200;
/** How long a clean disconnect waits for the console to acknowledge DISCONNECT. */
const DISCONNECT_ACK_WAIT_MS = 500;
/** Without AV packets the MTU probe (Senkusha) has nothing to measure; the reference's fallback. */
const FALLBACK_MTU = 1454;
const FALLBACK_RTT_MS = 1;

export interface RemotePlaySessionOptions {
  /** Console address (IPv4 literal or name). */
  host: string;
  target: Target;
  /** RegistKey as stored in the profile (hex). */
  registKey: string;
  /** RP-Key ("morning") as stored in the profile (16 bytes hex). */
  rpKey: string;
  resolution?: ResolutionPreset;
  fps?: FpsPreset;
  /** kbit/s; default: the preset's bitrate. */
  bitrateKbps?: number;
  /** PS5 only; PS4 always streams H.264. */
  codec?: VideoCodec;
  hdr?: boolean;
  /** Announce a DualSense (PS5) instead of a DualShock 4. */
  dualSense?: boolean;
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

const emptyStats = (): SessionStats => ({
  video: { frames: 0, recovered: 0, lost: 0, fps: 0, kbps: 0 },
  audio: { frames: 0, lost: 0 },
  packets: { received: 0, lost: 0, gmacFailures: 0 },
  rttMs: 0,
  rumble: 0,
  uptimeMs: 0,
});

/** RP-Server-Type byte 0 -> the name in StreamInfo. */
function serverTypeName(t: number | undefined, target: Target): StreamInfo['serverType'] {
  if (t === 2 || (t === undefined && isPs5(target))) return 'PS5';
  return t === 1 ? 'PS4 Pro' : 'PS4';
}

/** A refusal at session init usually means the pairing is gone; say how to fix that too. */
function explainRefusal(e: ConsoleRefusedError, what: string): ConsoleRefusedError {
  const code = e.reason !== undefined ? ` (RP-Application-Reason ${e.reason.toString(16)})` : '';
  if (e.reason === REASON.invalidPsnId)
    return new ConsoleRefusedError(`${what}: it does not recognise this profile's pairing keys${code}`, {
      reason: e.reason,
      hint: 'the console forgot this device, or the profile was registered with another console: pair again (rptui register --help)',
    });
  return new ConsoleRefusedError(`${what}: ${e.message}${code}`, {
    reason: e.reason,
    hint: `${e.hint ? `${e.hint}; ` : ''}if this profile's keys are no longer registered with the console, pair again: rptui register --help`,
  });
}

export class RemotePlaySession implements RemotePlaySessionApi {
  private readonly opts: RemotePlaySessionOptions;
  private readonly emitter = new EventEmitter();
  private readonly now: () => number;
  private readonly ps5: boolean;
  private st: SessionState = 'idle';
  private target: Target;
  private readonly codec: VideoCodec;
  private readonly profile: { width: number; height: number; maxFps: number; bitrateKbps: number };

  private ctrlSock: Socket | undefined;
  private ctrl: CtrlClient | undefined;
  private rpcrypt: RpCrypt | undefined;
  private serverType: number | undefined;
  private udp: UdpSocket | undefined;
  private takion: TakionEndpoint | undefined;
  private stream: StreamConnectionClient | undefined;
  private feedback: FeedbackSender | undefined;
  private controller: ControllerState = IDLE_STATE;
  /** AV receive path, from STREAMINFO on. */
  private av: AvReceiver | undefined;
  /** Opus -> PCM, only while someone listens to 'audio' (the decoder is WASM). */
  private audioDecoder: AvAudioDecoder | undefined;
  private rumbleCount = 0;

  private timer: NodeJS.Timeout | undefined;
  private wakeAt: number | undefined;
  private nextCongestion: number | undefined;
  private nextStats: number | undefined;
  private streamingSince: number | undefined;
  /** Send times of our DATA messages by the TSN of their last piece, for the RTT estimate. */
  private readonly sentAt = new Map<number, number>();
  private rtt: number | undefined;
  private disconnectTsn: number | undefined;
  private disconnectDone: (() => void) | undefined;
  private servicing = false;

  private startSettle: { resolve: () => void; reject: (e: RptuiError) => void } | undefined;
  private readonly startPromise: Promise<void>;
  private closeReason: CloseReason | undefined;
  private readonly closedPromise: Promise<CloseReason>;
  private resolveClosed!: (r: CloseReason) => void;
  private lastStats: SessionStats = emptyStats();

  /** Heartbeats seen from the console (ctrl + protobuf) and sent by us (protobuf), for logs/tests. */
  readonly heartbeats = { ctrlReceived: 0, streamReceived: 0 };

  constructor(opts: RemotePlaySessionOptions) {
    this.opts = opts;
    this.now = opts.clock ?? Date.now;
    this.target = opts.target;
    this.ps5 = isPs5(opts.target);
    // PS4 consoles stream H.264 only (PROTOCOL §10.3)
    this.codec = this.ps5 ? (opts.codec ?? 'h264') : 'h264';
    const p = videoProfile(opts.resolution ?? '720p', opts.fps ?? 60);
    this.profile = { ...p, bitrateKbps: opts.bitrateKbps ?? p.bitrateKbps };
    if (!/^(?:[0-9a-fA-F]{2}){1,16}$/.test(opts.registKey))
      throw new UsageError(
        'the RegistKey must be 1 to 16 bytes of hex',
        'check the profile (rptui profiles show)',
      );
    if (!/^[0-9a-fA-F]{32}$/.test(opts.rpKey)) throw new UsageError('the RP-Key must be 16 bytes of hex');
    this.startPromise = new Promise<void>((resolve, reject) => {
      this.startSettle = { resolve, reject };
    });
    this.startPromise.catch(() => {}); // observed through start(); never an unhandled rejection
    this.closedPromise = new Promise((r) => {
      this.resolveClosed = r;
    });
  }

  get state(): SessionState {
    return this.st;
  }

  get stats(): SessionStats {
    if (this.st !== 'closed') this.lastStats = this.computeStats();
    return this.lastStats;
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

  private setState(s: SessionState): void {
    if (this.st === s) return;
    this.st = s;
    this.emit('state', s);
  }

  // ----------------------------------------------------------------------------------------------
  // Start-up: session init and ctrl request are request/answer exchanges; everything after the
  // ctrl answer is driven by service().

  async start(): Promise<void> {
    if (this.st !== 'idle') throw new UsageError(`start() called in state ${this.st}`);
    try {
      this.setState('requesting');
      const nonce = await this.requestSession();
      if (this.isClosed()) return this.startPromise;
      const crypt = RpCrypt.forSession(this.target, nonce, fromHex(this.opts.rpKey));
      this.setState('ctrl');
      await this.openUdp();
      if (this.isClosed()) return this.startPromise;
      await this.openCtrl(crypt);
    } catch (e) {
      this.finish({ code: 'error', message: errorMessage(e), error: asRptuiError(e) });
    }
    return this.startPromise;
  }

  /** A method, not a field read, so TS does not narrow `st` across calls that change it. */
  private isFinished(): boolean {
    return this.st === 'closed';
  }

  private isClosed(): boolean {
    return this.st === 'closing' || this.st === 'closed';
  }

  private async requestSession(): Promise<Uint8Array> {
    for (let attempt = 1; ; attempt++) {
      const raw = await tcpExchange({
        host: this.opts.host,
        port: SESSION_PORT,
        request: formatSessionInitRequest({
          target: this.target,
          host: this.opts.host,
          registKeyText: this.opts.registKey,
        }),
        connectTimeoutMs: SESSION_INIT_TIMEOUT_MS,
        responseTimeoutMs: SESSION_INIT_TIMEOUT_MS,
        complete: (b) => {
          try {
            return parseSessionInitResponse(b) !== null;
          } catch {
            return true; // malformed: stop reading, the parse below reports it
          }
        },
        what: 'session request',
      });
      const r = parseSessionInitResponse(raw);
      if (!r)
        throw new NetworkError('session request: the console closed the connection without an answer', {
          hint: hintFor(undefined, this.opts.host),
        });
      if (r.ok) return r.nonce;
      const d = decideSessionInitRetry(this.target, r, attempt);
      if (!d.retry || attempt >= SESSION_INIT_MAX_ATTEMPTS)
        throw explainRefusal(d.retry ? r.error : d.error, 'the console refused the session');
      this.target = d.target;
    }
  }

  private async openUdp(): Promise<void> {
    const sock = createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => reject(toNetworkError(err, 'stream: cannot open a UDP socket'));
      sock.once('error', fail);
      sock.bind({ address: this.opts.localAddress, port: 0 }, () => {
        sock.connect(TAKION_PORT, this.opts.host, () => {
          sock.off('error', fail);
          resolve();
        });
      });
    });
    // A connected UDP socket reports ICMP "port unreachable" as an error: the console's silence
    // is judged by Takion's timeout, so such errors are only worth a warning.
    let warned = false;
    sock.on('error', (err) => {
      if (!warned) this.emit('warning', `UDP ${TAKION_PORT}: ${err.message}`);
      warned = true;
    });
    sock.on('message', (msg) => this.onDatagram(new Uint8Array(msg)));
    if (this.isClosed()) {
      sock.close(); // disconnect() came while the socket was being opened
      return;
    }
    this.udp = sock;
  }

  private async openCtrl(crypt: RpCrypt): Promise<void> {
    const req = formatCtrlRequest({
      target: this.target,
      host: this.opts.host,
      crypt,
      registKey: registKeyBytes(this.opts.registKey),
      streamingType: streamingTypeFor(this.codec, this.opts.hdr),
    });
    const { sock, response, rest } = await new Promise<{
      sock: Socket;
      response: NonNullable<ReturnType<typeof parseCtrlResponse>>;
      rest: Uint8Array;
    }>((resolve, reject) => {
      const sock = tcpConnect({
        host: this.opts.host,
        port: SESSION_PORT,
        localAddress: this.opts.localAddress,
      });
      let buf = Buffer.alloc(0);
      let settled = false;
      const done = (err: RptuiError | undefined, v?: Parameters<typeof resolve>[0]) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.off('data', onData);
        if (err) {
          sock.destroy();
          reject(err);
        } else resolve(v as Parameters<typeof resolve>[0]);
      };
      const timer = setTimeout(
        () =>
          done(
            new NetworkError(`ctrl: the console did not answer within ${CTRL_CONNECT_TIMEOUT_MS / 1000} s`, {
              hint: hintFor(undefined, this.opts.host),
            }),
          ),
        CTRL_CONNECT_TIMEOUT_MS,
      );
      const onData = (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        try {
          const r = parseCtrlResponse(new Uint8Array(buf), crypt);
          if (r) done(undefined, { sock, response: r, rest: new Uint8Array(buf.subarray(r.headerLength)) });
        } catch (e) {
          done(
            e instanceof ConsoleRefusedError
              ? explainRefusal(e, 'the console refused the ctrl connection')
              : asRptuiError(e),
          );
        }
      };
      sock.on('data', onData);
      sock.once('connect', () => sock.write(req.bytes));
      sock.on('error', (err) => done(toNetworkError(err, 'ctrl connection', this.opts.host)));
      sock.on('close', () =>
        done(new NetworkError('ctrl: the console closed the connection without an answer')),
      );
    });
    if (this.isClosed()) {
      sock.destroy();
      return;
    }
    this.serverType = response.serverType;
    if (response.prohibit) this.emit('console', { type: 'displayBlocked', blocked: true });
    const now = this.now();
    this.ctrl = new CtrlClient({
      target: this.target,
      crypt,
      remoteCounter: response.remoteCounter,
      localCounter: req.localCounter,
      now,
      dualSense: this.opts.dualSense,
    });
    this.ctrlSock = sock;
    this.rpcrypt = crypt;
    sock.removeAllListeners('close');
    sock.removeAllListeners('error');
    sock.on('data', (chunk: Buffer) => {
      try {
        this.ctrl?.feed(new Uint8Array(chunk), this.now());
      } catch (e) {
        // a ctrl stream out of sync cannot recover: end the session with the typed error
        this.finish({ code: 'error', message: errorMessage(e), error: asRptuiError(e) });
        return;
      }
      this.service();
    });
    sock.on('error', (err) =>
      this.ctrlGone(`ctrl connection failed (${(err as NodeJS.ErrnoException).code ?? err.message})`),
    );
    sock.on('close', () => this.ctrlGone('the console closed the ctrl connection'));
    if (rest.length) this.ctrl.feed(rest, now); // a ParseError here rejects start()
    this.service();
  }

  private ctrlGone(why: string): void {
    if (this.isClosed()) return;
    this.finish({
      code: 'console-lost',
      message: `console lost: ${why}`,
    });
  }

  // ----------------------------------------------------------------------------------------------
  // The pump

  private onDatagram(d: Uint8Array): void {
    if (!this.takion) return;
    this.takion.handleDatagram(d, this.now());
    this.service();
  }

  /** Polls every machine until nothing moves, sends what they return, arms the next timer. */
  private service(): void {
    if (this.st === 'closed' || this.servicing) return;
    this.servicing = true;
    try {
      const now = this.now();
      for (let round = 0; round < 32; round++) {
        if (!this.serviceOnce(now) || this.isFinished()) break;
      }
      if (!this.isFinished()) this.arm();
    } catch (e) {
      this.finish({ code: 'error', message: errorMessage(e), error: asRptuiError(e) });
    } finally {
      this.servicing = false;
    }
  }

  private serviceOnce(now: number): boolean {
    let moved = false;
    if (this.ctrl) {
      const r = this.ctrl.poll(now);
      for (const b of r.send) this.ctrlSock?.write(b);
      if (r.send.length || r.events.length) moved = true;
      for (const e of r.events) this.onCtrlEvent(e, now);
      if (this.st === 'closed') return false;
    }
    if (this.takion) {
      const events = this.takion.drainEvents();
      if (events.length) moved = true;
      for (const e of events) this.onTakionEvent(e, now);
      if (this.st === 'closed') return false;
    }
    if (this.stream) {
      const r = this.stream.poll(now);
      if (r.out.length || r.events.length) moved = true;
      for (const o of r.out) {
        if (this.takion?.state !== 'connected') break;
        if (o.kind === 'crypt') this.takion.setCrypt(o.local, o.remote);
        else {
          const tsn = this.takion.sendMessage(o.channel, o.dataType, o.payload, now);
          // RTT from steady-state messages only: handshake acks wait for the console's ECDH work
          if (this.st === 'streaming') {
            if (this.sentAt.size >= 64) this.sentAt.clear(); // acks for abandoned chunks never come
            this.sentAt.set(tsn, now);
          }
          if (this.disconnectTsn === -1) this.disconnectTsn = tsn;
        }
      }
      for (const e of r.events) this.onStreamEvent(e, now);
      if (this.st === 'closed') return false;
    }
    if (this.st === 'streaming' && this.takion?.state === 'connected') {
      if (this.av) for (const o of this.av.tick(now)) this.onAvOutput(o);
      if (this.feedback) this.sendFeedback(this.feedback.tick(now));
      if (this.nextCongestion !== undefined && now >= this.nextCongestion) {
        this.sendCongestion();
        this.nextCongestion = Math.max(this.nextCongestion + CONGESTION_INTERVAL_MS, now + 1);
      }
      if (this.nextStats !== undefined && now >= this.nextStats) {
        this.nextStats = Math.max(this.nextStats + STATS_INTERVAL_MS, now + 1);
        this.emit('stats', this.stats);
      }
    }
    if (this.takion) {
      const out = this.takion.poll(now);
      if (out.length) moved = true;
      for (const d of out) this.udp?.send(d);
      const events = this.takion.drainEvents();
      if (events.length) moved = true;
      for (const e of events) this.onTakionEvent(e, now);
    }
    return moved;
  }

  private arm(): void {
    let t: number | undefined;
    const min = (x: number | undefined) => {
      if (x !== undefined) t = t === undefined ? x : Math.min(t, x);
    };
    min(this.ctrl?.nextWakeup());
    min(this.takion?.nextWakeup());
    min(this.stream?.nextWakeup());
    if (this.st === 'streaming') {
      min(this.feedback?.nextWakeup());
      min(this.av?.nextWakeup());
      min(this.nextCongestion);
      min(this.nextStats);
    }
    if (t === this.wakeAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.wakeAt = t;
    if (t === undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.wakeAt = undefined;
        this.service();
      },
      Math.max(0, t - this.now()),
    );
  }

  // ----------------------------------------------------------------------------------------------
  // Events of the machines

  private onCtrlEvent(e: CtrlClientEvent, now: number): void {
    switch (e.type) {
      case 'sessionId':
        if (e.fallback) this.emit('warning', 'the console sent no usable session id; using a stand-in');
        this.startTakion(e.sessionId, now);
        return;
      case 'heartbeat':
        this.heartbeats.ctrlReceived++;
        return;
      case 'loginPinRequest':
        if (e.incorrect) this.emit('console', { type: 'loginResult', ok: false });
        this.emit('console', { type: 'loginPinRequest' });
        return;
      case 'loginSuccess':
        this.emit('console', { type: 'loginResult', ok: true });
        return;
      case 'keyboardOpen':
        this.emit('console', { type: 'keyboardOpen', text: e.text });
        return;
      case 'keyboardTextChange':
        this.emit('console', { type: 'keyboardText', text: e.text });
        return;
      case 'keyboardCloseRemote':
        this.emit('console', { type: 'keyboardClosed' });
        return;
      case 'display':
        this.emit('console', { type: 'displayBlocked', blocked: !e.canDisplay });
        return;
      case 'warning':
        this.emit('warning', `ctrl: ${e.message}`);
        return;
      case 'unknown':
        return;
      case 'lost':
        this.finish({ code: 'console-lost', message: e.error.message });
        return;
    }
  }

  private startTakion(sessionId: string, now: number): void {
    if (this.takion || !this.rpcrypt) return;
    this.setState('takion');
    this.takion = new TakionEndpoint({ role: 'client', now, mtu: FALLBACK_MTU });
    this.stream = new StreamConnectionClient({
      target: this.target,
      sessionId,
      rpcrypt: this.rpcrypt,
      launch: {
        width: this.profile.width,
        height: this.profile.height,
        maxFps: this.profile.maxFps,
        bitrateKbps: this.profile.bitrateKbps,
        mtu: FALLBACK_MTU,
        rtt: FALLBACK_RTT_MS,
        codec: this.ps5 ? this.codec : undefined,
        hdr: this.ps5 && this.codec === 'h265' ? this.opts.hdr : undefined,
      },
      dualSense: this.opts.dualSense,
    });
    this.takion.connect(now);
  }

  private onTakionEvent(e: TakionEvent, now: number): void {
    switch (e.type) {
      case 'connected':
        this.setState('handshake');
        this.stream?.start(now);
        return;
      case 'message':
        this.ctrl?.noteConsoleActivity(now);
        this.stream?.handleMessage({ channel: e.channel, dataType: e.dataType, payload: e.payload }, now);
        return;
      case 'acked': {
        const sent = this.sentAt.get(e.tsn);
        if (sent !== undefined) {
          this.sentAt.delete(e.tsn);
          const sample = now - sent;
          this.rtt = this.rtt === undefined ? sample : this.rtt * 0.875 + sample * 0.125;
        }
        if (e.tsn === this.disconnectTsn) this.disconnectDone?.();
        return;
      }
      case 'av':
        this.ctrl?.noteConsoleActivity(now);
        if (this.av) for (const o of this.av.handleAv(e, now)) this.onAvOutput(o);
        return;
      case 'packet':
        return; // feedback / congestion only travel towards the console
      case 'lost':
        this.finish({
          code: 'console-lost',
          message: e.error.message.replace(/^Console lost/, 'console lost'),
        });
        return;
      case 'error':
        if (this.takion?.state === 'closed')
          this.finish({ code: 'error', message: e.error.message, error: e.error });
        else this.emit('warning', e.error.message);
        return;
    }
  }

  private onStreamEvent(e: StreamClientEvent, now: number): void {
    switch (e.type) {
      case 'bang':
        return;
      case 'streamInfo':
        this.onStreamInfo(e.streamInfo, now);
        return;
      case 'connected':
        this.streamingSince = now;
        this.nextCongestion = now + CONGESTION_INTERVAL_MS;
        this.nextStats = now + STATS_INTERVAL_MS;
        this.feedback = new FeedbackSender(this.ps5, now);
        this.setState('streaming');
        this.sendFeedback(this.feedback.update(this.controller, now));
        this.startSettle?.resolve();
        this.startSettle = undefined;
        return;
      case 'heartbeat':
        this.heartbeats.streamReceived++;
        return;
      case 'connectionQuality':
        this.emit('console', {
          type: 'connectionQuality',
          // a console sends bit/s (a captured PS5 message: 14563000 for a 15 Mbit/s stream)
          targetBitrateKbps: Math.round((e.quality.targetBitrate ?? 0) / 1000),
          rttMs: e.quality.rtt ?? 0,
          loss: e.quality.loss ?? 0,
        });
        return;
      case 'disconnected':
        this.finish({
          code: 'console-disconnected',
          message: `the console ended the stream${e.reason ? ` ("${e.reason}")` : ''}`,
        });
        return;
      case 'data':
        if (e.dataType === 7 && e.payload.length >= 3) {
          this.rumbleCount++;
          this.emit('console', { type: 'rumble', left: e.payload[1], right: e.payload[2] });
        }
        return;
      case 'message':
        return;
      case 'warning':
        this.emit('warning', e.error.message);
        return;
      case 'error':
        this.finish({ code: 'error', message: e.error.message, error: e.error });
        return;
    }
  }

  private onStreamInfo(info: WireStreamInfo, now: number): void {
    const a = info.audioHeader;
    const h = parseAudioHeader(a);
    const res = info.resolutions[0];
    // the stream connection checked the 14-byte audio header; BANG (and crypt) came first
    this.av = new AvReceiver({
      version: this.ps5 ? 12 : 9,
      videoHeaders: info.resolutions.map((r) => r.videoHeader),
      audioHeader: a,
      remoteCrypt: this.takion?.remoteCrypt,
      codec: this.codec,
      now,
    });
    if (this.emitter.listenerCount('audio') > 0) this.openAudioDecoder(h);
    this.emit('streamInfo', {
      width: res?.width ?? this.profile.width,
      height: res?.height ?? this.profile.height,
      fps: this.profile.maxFps,
      codec: this.codec,
      bitrateKbps: this.profile.bitrateKbps,
      audio: { channels: h.channels, sampleRate: h.rate, frameSize: h.frameSize },
      serverType: serverTypeName(this.serverType, this.target),
    });
  }

  private openAudioDecoder(h: AudioHeader): void {
    AvAudioDecoder.create(h)
      .then((d) => {
        if (this.isClosed()) d.free();
        else this.audioDecoder = d;
      })
      .catch((e: unknown) => this.emit('warning', `audio: ${errorMessage(e)}`));
  }

  private onAvOutput(o: AvOutput): void {
    switch (o.type) {
      case 'frame':
        this.emit('video', { index: o.index, bytes: o.bytes, keyframe: o.keyframe, recovered: o.recovered });
        return;
      case 'opus':
      case 'opusLost': {
        const pcm = this.audioDecoder?.pcm(o);
        if (pcm) this.emit('audio', pcm);
        return;
      }
      case 'haptics':
        return; // DualSense haptics need a pad that plays them
      case 'corrupt':
        this.stream?.corruptFrame(o.start, o.end);
        return;
      case 'idr':
        this.stream?.idrRequest();
        return;
    }
  }

  private sendFeedback(outputs: FeedbackOutput[]): void {
    const t = this.takion;
    if (t?.state !== 'connected') return;
    for (const o of outputs) {
      const keyPos = t.allocKeyPos(o.payload.length + 16);
      t.sendRaw(formatFeedbackPacket(o.type, o.seq, o.payload, t.localCrypt, keyPos), keyPos);
    }
  }

  private sendCongestion(): void {
    const t = this.takion;
    if (t?.state !== 'connected') return;
    const { received, lost } = this.av?.takeCongestion() ?? { received: 0, lost: 0 };
    const keyPos = t.allocKeyPos(15);
    t.sendRaw(formatCongestion({ received, lost, keyPos }), keyPos);
  }

  private computeStats(): SessionStats {
    const now = this.now();
    const av = this.av?.stats(now);
    const v = av?.video;
    const t = this.takion?.stats;
    return {
      video: {
        frames: v?.frames ?? 0,
        recovered: v?.recovered ?? 0,
        lost: v?.lost ?? 0,
        fps: v?.fps ?? 0,
        kbps: v?.kbps ?? 0,
      },
      audio: { frames: av?.audio.frames ?? 0, lost: av?.audio.lost ?? 0 },
      packets: {
        // every datagram that reached us; lost = AV units the congestion report counts as lost
        received: t?.datagramsIn ?? 0,
        lost: av?.packets.lost ?? 0,
        gmacFailures: t?.gmacFailures ?? 0,
      },
      rttMs: this.rtt === undefined ? 0 : Math.round(this.rtt * 10) / 10,
      rumble: this.rumbleCount,
      uptimeMs: this.streamingSince === undefined ? 0 : now - this.streamingSince,
    };
  }

  // ----------------------------------------------------------------------------------------------
  // Commands

  setController(state: ControllerState): void {
    this.controller = state;
    if (this.st !== 'streaming' || !this.feedback) return;
    this.sendFeedback(this.feedback.update(state, this.now()));
    this.service();
  }

  sendLoginPin(pin: string): void {
    if (!/^\d{4}$/.test(pin)) throw new UsageError('the login passcode is 4 digits');
    this.ctrl?.sendLoginPin(pin, this.now());
    this.service();
  }

  keyboardSetText(text: string): void {
    this.ctrl?.keyboardSetText(text);
    this.service();
  }

  keyboardAccept(): void {
    this.ctrl?.keyboardAccept();
    this.service();
  }

  keyboardReject(): void {
    this.ctrl?.keyboardReject();
    this.service();
  }

  requestIdr(): void {
    this.stream?.idrRequest();
    this.service();
  }

  async standby(): Promise<void> {
    this.ctrl?.standby();
    this.service();
    // GOTO_BED travels on TCP, DISCONNECT on UDP: give the console a moment to read the first
    // before the second ends the session (it may drop the ctrl connection then).
    const sock = this.ctrlSock;
    if (sock && !sock.destroyed) await new Promise<void>((r) => sock.write(new Uint8Array(0), () => r()));
    await new Promise((r) => setTimeout(r, GOTO_BED_GRACE_MS));
    await this.disconnect('standby requested (console goes to rest mode)');
  }

  /** Clean shutdown: DISCONNECT on Takion (waits briefly for its ack), then closes everything. */
  async disconnect(message = 'disconnected by the user'): Promise<void> {
    if (this.st === 'closed') return;
    if (this.st === 'closing') {
      await this.closedPromise;
      return;
    }
    if (this.stream && this.takion?.state === 'connected') {
      this.setState('closing');
      const acked = new Promise<void>((resolve) => {
        this.disconnectDone = resolve;
        setTimeout(resolve, DISCONNECT_ACK_WAIT_MS);
      });
      this.disconnectTsn = -1; // the next message sent is the DISCONNECT
      this.stream.disconnect();
      this.service();
      await acked;
    }
    this.finish({ code: 'user', message });
  }

  private finish(reason: CloseReason): void {
    if (this.st === 'closed') return;
    this.lastStats = this.computeStats();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.takion?.close();
    this.ctrlSock?.removeAllListeners('close');
    this.ctrlSock?.removeAllListeners('data');
    const sock = this.ctrlSock;
    sock?.on('error', () => {});
    if (sock && reason.code === 'user') {
      // end(), not destroy(): a GOTO_BED written just before must still reach the console
      sock.end();
      setTimeout(() => sock.destroy(), 1000).unref();
    } else sock?.destroy();
    try {
      this.udp?.close();
    } catch {
      // already closed
    }
    this.udp = undefined;
    this.audioDecoder?.free();
    this.audioDecoder = undefined;
    this.closeReason = reason;
    this.setState('closed');
    this.emit('stats', this.lastStats);
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

  /** Why the session closed, once it has. */
  get closeInfo(): CloseReason | undefined {
    return this.closeReason;
  }
}

function asRptuiError(e: unknown): RptuiError {
  if (e instanceof RptuiError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  return new RptuiError('internal', err.message, { cause: err });
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
