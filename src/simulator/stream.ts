/**
 * The simulated console's stream service (PROTOCOL §3, §4, §5, §12): session init and the ctrl
 * connection on TCP 9295, Takion on UDP 9296, all on the simulator's one address, driven by the
 * same sans-I/O machines the client uses, in their console role.
 *
 * - session init: only a paired client's RP-Registkey gets a nonce; anyone else gets the refusal
 *   a console sends (RP-Application-Reason); a second client while one streams is "in use".
 * - ctrl: RP-Auth must decrypt to that client's RegistKey under the session keys; the answer
 *   carries RP-Server-Type; SESSION_ID follows in a later write; heartbeats both ways.
 * - Takion: handshake, BIG -> BANG -> crypt -> STREAMINFO (the SPS/PPS of the fixture clip for
 *   the requested resolution and codec, and its audio header), protobuf heartbeats; every client
 *   packet is GMAC-verified by TakionEndpoint and failures are counted. Every message received is
 *   logged, feedback decoded to controller events, and a `stats` event with `gmacFailures` goes
 *   out every second and when the session ends.
 * - AV: once the client acknowledged STREAMINFO the clip streams (stream-av.ts), through the fault
 *   injector when `faults` is set; CORRUPTFRAME and IDRREQUEST restart it from a key frame.
 * - While streaming: CONNECTIONQUALITY every second (target bitrate from the launch spec, its rtt,
 *   the AV datagrams the fault injector dropped since the last one); with `rumbleEveryMs` a rumble
 *   DATA message (type 7) that alternates on and off; with `keyboardAfterMs` the on-screen
 *   keyboard opens once, and the client's text changes and close are logged as `keyboard` events.
 * - `tamperAfter: N` flips one bit (in the GMAC field) of the Nth datagram sent after the client
 *   acknowledged STREAMINFO: a test of the client's GMAC check (drop that packet, carry on).
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import type { Socket } from 'node:net';
import { hintFor } from '../common/net.js';
import { fromHex } from '../proto-stack/bytes.js';
import { parseCongestion } from '../proto-stack/congestion.js';
import { CTRL, CtrlConsole, type CtrlConsoleEvent } from '../proto-stack/ctrl.js';
import { Ecdh } from '../proto-stack/ecdh.js';
import { AuthError, NetworkError, ParseError, RptuiError } from '../proto-stack/errors.js';
import { FeedbackConsoleDecoder } from '../proto-stack/feedback.js';
import { formatHttpRequest, type HttpRequestHead } from '../proto-stack/http.js';
import type { ParsedLaunchSpec } from '../proto-stack/launchspec.js';
import { REASON } from '../proto-stack/reason.js';
import { RpCrypt } from '../proto-stack/rpcrypt.js';
import {
  ctrlPath,
  formatCtrlResponse,
  formatSessionInitRefusal,
  formatSessionInitResponse,
  parseCtrlRequest,
  parseSessionInitRequest,
  registKeyBytes,
  SERVER_TYPE,
  sessionInitPath,
} from '../proto-stack/session.js';
import {
  CHANNEL,
  StreamConnectionConsole,
  type StreamConsoleEvent,
  type StreamInfo,
  type TakionMessage,
} from '../proto-stack/streamconnection.js';
import { baseType, gmacOffset, TakionEndpoint, type TakionEvent, TakionType } from '../proto-stack/takion.js';
import { isPs5, type Target } from '../proto-stack/target.js';
import type { PairedClient } from './console-state.js';
import type { HttpExchange, Remote, SimulatedConsole } from './index.js';
import { findMediaDir } from './media-streamer.js';
import { ConsoleAv, type ConsoleAvOptions } from './stream-av.js';

export const TAKION_PORT = 9296;
/** A nonce handed out at session init is good for this long (the ctrl request follows at once). */
const NONCE_TTL_MS = 10_000;
export const SIM_STATS_INTERVAL_MS = 1000;
export const SIM_QUALITY_INTERVAL_MS = 1000;
/** Takion DATA type of a rumble message (PROTOCOL §8): payload `[0, left, right]`. */
const DATA_TYPE_RUMBLE = 7;
/** The "on" half of the simulated rumble: strong left motor, weak right one. */
const RUMBLE_ON = { left: 0xc0, right: 0x40 } as const;

export interface StreamServiceOptions extends ConsoleAvOptions {
  /** Flip one bit in the Nth datagram (1-based) sent after the client acknowledged STREAMINFO. */
  tamperAfter?: number;
  statsIntervalMs?: number;
  /** The console user has this 4-digit login passcode: ask for it before the session id. */
  loginPin?: string;
  /** CONNECTIONQUALITY period while streaming (default 1000 ms). */
  qualityIntervalMs?: number;
  /** Send a rumble message this often while streaming (on, off, on, ...). */
  rumbleEveryMs?: number;
  /** Open the on-screen keyboard this long after streaming started. */
  keyboardAfterMs?: number;
}

interface PendingSession {
  address: string;
  target: Target;
  crypt: RpCrypt;
  client: PairedClient;
  registKey: Uint8Array;
  expires: number;
}

/** Upper-case protobuf message names as the protocol map writes them. */
export function messageName(m: TakionMessage): string {
  switch (m.type) {
    case 'other':
      return `TYPE_${m.payloadType}`;
    case 'streamInfo':
      return 'STREAMINFO';
    case 'streamInfoAck':
      return 'STREAMINFOACK';
    case 'corruptFrame':
      return 'CORRUPTFRAME';
    case 'idrRequest':
      return 'IDRREQUEST';
    case 'controllerConnection':
      return 'CONTROLLERCONNECTION';
    case 'connectionQuality':
      return 'CONNECTIONQUALITY';
    case 'takionProtocolRequest':
      return 'TAKIONPROTOCOLREQUEST';
    case 'takionProtocolRequestAck':
      return 'TAKIONPROTOCOLREQUESTACK';
    default:
      return m.type.toUpperCase();
  }
}

/** The parts of a message worth a log field. */
function messageDetail(m: TakionMessage): Record<string, unknown> {
  switch (m.type) {
    case 'disconnect':
      return { reason: m.reason };
    case 'corruptFrame':
      return { start: m.start, end: m.end };
    case 'controllerConnection':
      return { connected: m.connected, controllerType: m.controllerType };
    case 'streamInfo':
      return {
        resolutions: m.streamInfo.resolutions.length,
        audioHeaderBytes: m.streamInfo.audioHeader.length,
      };
    default:
      return {};
  }
}

/** The head as bytes again, for the parsers that validate a whole request. */
function headBytes(head: HttpRequestHead): Uint8Array {
  return formatHttpRequest(`${head.method} ${head.path} HTTP/1.1`, head.rawHeaders);
}

/** Registers the session-init and ctrl routes and binds UDP 9296 on the simulator's address. */
export async function startStreamService(
  sim: SimulatedConsole,
  opts: StreamServiceOptions = {},
): Promise<void> {
  // The first secp256k1 key pair costs ~150 ms (the library builds its tables): pay it now, not
  // while a client's BIG waits for its ack and gets resent (unverifiable once crypt is on).
  Ecdh.generate();
  // a missing clip directory fails here, at start, not when the first client streams
  const service = new StreamService(sim, { ...opts, mediaDir: opts.mediaDir ?? findMediaDir() });
  sim.route(sessionInitPath(sim.target), (x) => service.sessionInit(x));
  sim.route(ctrlPath(sim.target), (x) => service.ctrlRequest(x));
  // Our own socket rather than sim.udp(): the session sends on it at any time, not only as answers.
  const sock = createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', (err) =>
      reject(
        new NetworkError(
          `cannot bind UDP ${TAKION_PORT} on ${sim.host}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
          {
            hint: hintFor((err as NodeJS.ErrnoException).code, sim.host),
            cause: err,
          },
        ),
      ),
    );
    sock.bind({ address: sim.host, port: TAKION_PORT, exclusive: true }, () => resolve());
  });
  sock.removeAllListeners('error');
  sock.on('error', (err) => sim.events.emit('error', { port: TAKION_PORT, message: err.message }));
  sock.on('message', (msg, rinfo) =>
    service.datagram(new Uint8Array(msg), { address: rinfo.address, port: rinfo.port }),
  );
  service.udp = sock;
  const off = sim.events.on((e) => {
    if (e.event !== 'stopped') return;
    off();
    service.stop();
    sock.close();
  });
}

class StreamService {
  udp: DgramSocket | undefined;
  private pending: PendingSession[] = [];
  private active: ConsoleSession | undefined;

  constructor(
    readonly sim: SimulatedConsole,
    readonly opts: StreamServiceOptions,
  ) {}

  private refuseInit(x: HttpExchange, target: Target, reason: string, code: number, message: string): void {
    this.sim.events.emit(
      'refusal',
      { proto: 'session-init', from: x.remote.address, reason, code: code.toString(16), message },
      `  -> session refused (${reason}): RP-Application-Reason ${code.toString(16)}`,
    );
    x.socket.end(formatSessionInitRefusal(code, target));
  }

  sessionInit(x: HttpExchange): void {
    const ev = this.sim.events;
    let req: ReturnType<typeof parseSessionInitRequest>;
    try {
      req = parseSessionInitRequest(headBytes(x.head));
    } catch (e) {
      if (!(e instanceof RptuiError)) throw e;
      ev.emit(
        'request',
        { proto: 'session-init', from: x.remote.address },
        `session request from ${x.remote.address}`,
      );
      this.refuseInit(x, this.sim.target, 'malformed', REASON.unknown, e.message);
      return;
    }
    if (!req) {
      this.refuseInit(x, this.sim.target, 'malformed', REASON.unknown, 'incomplete request');
      return;
    }
    ev.emit(
      'request',
      {
        proto: 'session-init',
        from: x.remote.address,
        registKey: req.registKeyText,
        rpVersion: req.rpVersion,
      },
      `session request from ${x.remote.address} (RP-Version ${req.rpVersion}, RegistKey ${req.registKeyText})`,
    );
    if (isPs5(req.target) !== isPs5(this.sim.target)) {
      this.refuseInit(x, this.sim.target, 'rp-version', REASON.rpVersion, `RP-Version ${req.rpVersion}`);
      return;
    }
    const client = this.sim.state.data.paired.find((p) => p.registKey.toLowerCase() === req.registKeyText);
    if (!client) {
      this.refuseInit(x, req.target, 'not-paired', REASON.invalidPsnId, 'RP-Registkey of no paired client');
      return;
    }
    if (this.active && !this.active.ended) {
      this.refuseInit(x, req.target, 'in-use', REASON.inUse, 'another client is streaming');
      return;
    }
    const nonce = new Uint8Array(randomBytes(16));
    const now = Date.now();
    this.pending = this.pending.filter((p) => p.expires > now && p.address !== x.remote.address);
    this.pending.push({
      address: x.remote.address,
      target: req.target,
      crypt: RpCrypt.forSession(req.target, nonce, fromHex(client.morning)),
      client,
      registKey: registKeyBytes(client.registKey),
      expires: now + NONCE_TTL_MS,
    });
    x.socket.end(formatSessionInitResponse(nonce));
    ev.emit(
      'answer',
      { proto: 'session-init', to: x.remote.address, accountId: client.accountId },
      `  -> nonce for paired account ${client.accountId}`,
    );
  }

  ctrlRequest(x: HttpExchange): void {
    const ev = this.sim.events;
    ev.emit('request', { proto: 'ctrl', from: x.remote.address }, `ctrl request from ${x.remote.address}`);
    const now = Date.now();
    const candidates = (target: Target) =>
      this.pending
        .filter((p) => p.address === x.remote.address && p.target === target && p.expires > now)
        .map((p) => ({ crypt: p.crypt, registKey: p.registKey, client: p }));
    let info: ReturnType<typeof parseCtrlRequest<PendingSession>>;
    try {
      info = parseCtrlRequest(headBytes(x.head), candidates);
    } catch (e) {
      if (!(e instanceof RptuiError)) throw e;
      const reason = e instanceof AuthError ? 'auth' : 'malformed';
      const code = e instanceof AuthError ? REASON.invalidPsnId : REASON.unknown;
      ev.emit(
        'refusal',
        { proto: 'ctrl', from: x.remote.address, reason, code: code.toString(16), message: e.message },
        `  -> ctrl refused (${reason}): ${e.message}`,
      );
      x.socket.end(formatSessionInitRefusal(code, this.sim.target));
      return;
    }
    if (!info) {
      x.socket.destroy();
      return;
    }
    if (this.active && !this.active.ended) {
      ev.emit(
        'refusal',
        { proto: 'ctrl', from: x.remote.address, reason: 'in-use' },
        '  -> ctrl refused: in use',
      );
      x.socket.end(formatSessionInitRefusal(REASON.inUse, this.sim.target));
      return;
    }
    const pending = info.client;
    this.pending = this.pending.filter((p) => p !== pending);
    const serverType = isPs5(info.target) ? SERVER_TYPE.ps5 : SERVER_TYPE.ps4;
    // The answer goes out alone: SESSION_ID follows in a later write (PROTOCOL §12).
    x.socket.write(formatCtrlResponse(info.crypt, serverType));
    ev.emit(
      'answer',
      {
        proto: 'ctrl',
        to: x.remote.address,
        serverType,
        osType: info.osType,
        streamingType: info.streamingType,
        accountId: pending.client.accountId,
      },
      `  -> ctrl open for account ${pending.client.accountId} (${info.osType})`,
    );
    this.active = new ConsoleSession(this, {
      socket: x.socket,
      remote: x.remote,
      target: info.target,
      crypt: info.crypt,
      remoteCounter: info.clientCounter,
      rest: x.rest,
    });
  }

  datagram(d: Uint8Array, from: Remote): void {
    const s = this.active;
    if (!s || s.ended || from.address !== s.remote.address) {
      this.sim.events.emit(
        'ignored',
        { proto: 'takion', from: `${from.address}:${from.port}`, reason: 'no-session' },
        `Takion datagram from ${from.address}:${from.port} without a session, ignored`,
      );
      return;
    }
    s.datagram(d, from);
  }

  stop(): void {
    this.active?.end('simulator stopped');
  }
}

interface SessionParams {
  socket: Socket;
  remote: Remote;
  target: Target;
  crypt: RpCrypt;
  remoteCounter: number;
  rest: Uint8Array;
}

/** One client's session: ctrl + Takion + stream connection, with their timers. */
class ConsoleSession {
  ended = false;
  readonly remote: Remote;
  private readonly sim: SimulatedConsole;
  private readonly ctrl: CtrlConsole;
  private readonly socket: Socket;
  private readonly target: Target;
  private readonly crypt: RpCrypt;
  private takion: TakionEndpoint | undefined;
  private stream: StreamConnectionConsole | undefined;
  private av: ConsoleAv | undefined;
  private udpPeer: Remote | undefined;
  private timerGeneration = 0;
  private wakeAt: number | undefined;
  private nextStats: number | undefined;
  private sentAfterHandshake: number | undefined;
  private spec: ParsedLaunchSpec | undefined;
  private nextQuality: number | undefined;
  private nextRumble: number | undefined;
  private rumbleSent = 0;
  private keyboardAt: number | undefined;
  /** AV datagrams dropped by the fault injector at the last CONNECTIONQUALITY. */
  private droppedAtLastQuality = 0;
  private servicing = false;
  private readonly feedback = new FeedbackConsoleDecoder();
  private readonly counts = {
    feedbackState: 0,
    feedbackHistory: 0,
    congestion: 0,
    heartbeatsIn: 0,
    ctrlHeartbeatsIn: 0,
    tampered: 0,
    rumble: 0,
    connectionQuality: 0,
  };

  constructor(
    private readonly owner: StreamService,
    p: SessionParams,
  ) {
    this.sim = owner.sim;
    this.remote = p.remote;
    this.socket = p.socket;
    this.target = p.target;
    this.crypt = p.crypt;
    this.ctrl = new CtrlConsole({
      target: p.target,
      crypt: p.crypt,
      remoteCounter: p.remoteCounter,
      now: Date.now(),
      loginPin: owner.opts.loginPin,
    });
    p.socket.on('data', (chunk: Buffer) => this.ctrlData(new Uint8Array(chunk)));
    p.socket.on('close', () => this.end('the client closed the ctrl connection'));
    p.socket.on('error', () => p.socket.destroy());
    this.sim.events.emit(
      'session',
      { state: 'started', from: p.remote.address, kind: isPs5(p.target) ? 'PS5' : 'PS4' },
      `session started with ${p.remote.address}`,
    );
    if (p.rest.length) this.ctrlData(p.rest);
    else this.service();
  }

  private ctrlData(bytes: Uint8Array): void {
    try {
      this.ctrl.feed(bytes, Date.now());
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      this.sim.events.emit('ctrl', { dir: 'in', warning: e.message }, `  ctrl: ${e.message}`);
      this.end('ctrl stream out of sync');
      return;
    }
    this.service();
  }

  datagram(d: Uint8Array, from: Remote): void {
    if (this.ended) return;
    const now = Date.now();
    if (!this.takion) {
      this.udpPeer = from;
      this.takion = new TakionEndpoint({ role: 'console', now });
    } else if (this.udpPeer && from.port !== this.udpPeer.port) {
      this.sim.events.emit('ignored', {
        proto: 'takion',
        from: `${from.address}:${from.port}`,
        reason: 'other-port',
      });
      return;
    }
    this.takion.handleDatagram(d, now);
    this.service();
  }

  private service(): void {
    if (this.ended || this.servicing) return;
    this.servicing = true;
    try {
      const now = Date.now();
      for (let round = 0; round < 32 && !this.ended; round++) if (!this.serviceOnce(now)) break;
      if (!this.ended) this.arm();
    } finally {
      this.servicing = false;
    }
  }

  private serviceOnce(now: number): boolean {
    let moved = false;
    const c = this.ctrl.poll(now);
    for (const b of c.send) this.socket.write(b);
    if (c.send.length || c.events.length) moved = true;
    for (const e of c.events) this.onCtrlEvent(e);
    if (this.ended) return false;
    const t = this.takion;
    if (!t) return moved;
    const evs = t.drainEvents();
    if (evs.length) moved = true;
    for (const e of evs) this.onTakionEvent(e, now);
    if (this.ended) return false;
    if (this.consoleMessages(t, now)) moved = true;
    if (this.stream) {
      const r = this.stream.poll(now);
      if (r.out.length || r.events.length) moved = true;
      for (const o of r.out) {
        if (t.state !== 'connected') break;
        if (o.kind === 'crypt') {
          t.setCrypt(o.local, o.remote);
          this.feedback.setCrypt(o.remote);
        } else t.sendMessage(o.channel, o.dataType, o.payload, now);
      }
      for (const e of r.events) this.onStreamEvent(e, now);
      if (this.ended) return false;
    }
    if (this.av?.pump(t, now, (d) => this.send(d))) moved = true;
    if (this.nextStats !== undefined && now >= this.nextStats) {
      this.nextStats = Math.max(
        this.nextStats + (this.owner.opts.statsIntervalMs ?? SIM_STATS_INTERVAL_MS),
        now + 1,
      );
      this.emitStats(false);
    }
    const out = t.poll(now);
    if (out.length) moved = true;
    for (const d of out) this.send(d);
    return moved;
  }

  /** Starts the timed console->client messages once the client acknowledged STREAMINFO. */
  private startConsoleMessages(now: number): void {
    if (this.nextQuality !== undefined) return; // a resent STREAMINFOACK
    const o = this.owner.opts;
    this.nextQuality = now + (o.qualityIntervalMs ?? SIM_QUALITY_INTERVAL_MS);
    if (o.rumbleEveryMs !== undefined) this.nextRumble = now + o.rumbleEveryMs;
    if (o.keyboardAfterMs !== undefined) this.keyboardAt = now + o.keyboardAfterMs;
  }

  /** CONNECTIONQUALITY, rumble and the keyboard, when due. True when something was sent. */
  private consoleMessages(t: TakionEndpoint, now: number): boolean {
    if (t.state !== 'connected') return false;
    const o = this.owner.opts;
    let moved = false;
    if (this.nextQuality !== undefined && now >= this.nextQuality && this.stream) {
      const interval = o.qualityIntervalMs ?? SIM_QUALITY_INTERVAL_MS;
      this.nextQuality = Math.max(this.nextQuality + interval, now + 1);
      this.sendQuality(this.stream);
      moved = true;
    }
    if (this.nextRumble !== undefined && o.rumbleEveryMs !== undefined && now >= this.nextRumble) {
      this.nextRumble = Math.max(this.nextRumble + o.rumbleEveryMs, now + 1);
      const on = this.rumbleSent++ % 2 === 0;
      const { left, right } = on ? RUMBLE_ON : { left: 0, right: 0 };
      t.sendMessage(CHANNEL.default, DATA_TYPE_RUMBLE, new Uint8Array([0, left, right]), now);
      this.counts.rumble++;
      this.sim.events.emit('rumble', { dir: 'out', left, right }, `  rumble -> left ${left} right ${right}`);
      moved = true;
    }
    if (this.keyboardAt !== undefined && now >= this.keyboardAt) {
      this.keyboardAt = undefined;
      this.ctrl.openKeyboard('');
      this.sim.events.emit('keyboard', { dir: 'out', action: 'open', text: '' }, '  ctrl -> KEYBOARD_OPEN');
      moved = true;
    }
    return moved;
  }

  /**
   * Units as a console sends them (a captured PS5 message): target bitrate in bit/s, rtt in ms
   * (a double), loss a count (uint64): here the AV datagrams the fault injector dropped since the
   * last report. The rtt is the client's own estimate from its launch spec.
   */
  private sendQuality(stream: StreamConnectionConsole): void {
    const dropped = this.av?.stats().dropped ?? 0;
    const q = {
      targetBitrate: (this.spec?.bitrateKbps ?? 0) * 1000,
      upstreamBitrate: 0,
      upstreamLoss: 0,
      rtt: this.spec?.rtt ?? 0,
      loss: dropped - this.droppedAtLastQuality,
    };
    this.droppedAtLastQuality = dropped;
    stream.sendConnectionQuality(q);
    this.counts.connectionQuality++;
    this.sim.events.emit('stream', { dir: 'out', message: 'CONNECTIONQUALITY', ...q });
  }

  private send(d: Uint8Array): void {
    const peer = this.udpPeer;
    const sock = this.owner.udp;
    if (!peer || !sock) return;
    let bytes = d;
    if (this.sentAfterHandshake !== undefined) {
      this.sentAfterHandshake++;
      if (this.sentAfterHandshake === this.owner.opts.tamperAfter) {
        // A copy (the original may still sit in the resend queue). The flipped bit is in the GMAC
        // field: the packet still parses, so only the tag check can catch it.
        bytes = d.slice();
        bytes[gmacOffset(baseType(bytes)) ?? bytes.length - 1] ^= 0x01;
        this.counts.tampered++;
        this.sim.events.emit(
          'stream',
          { dir: 'out', action: 'tampered', packet: this.sentAfterHandshake, bytes: bytes.length },
          `  tampered with datagram #${this.sentAfterHandshake} after the handshake (one bit flipped)`,
        );
      }
    }
    sock.send(bytes, peer.port, peer.address);
  }

  private arm(): void {
    let t: number | undefined;
    const min = (x: number | undefined) => {
      if (x !== undefined) t = t === undefined ? x : Math.min(t, x);
    };
    min(this.ctrl.nextWakeup());
    min(this.takion?.nextWakeup());
    min(this.stream?.nextWakeup());
    min(this.av?.nextWakeup());
    min(this.nextStats);
    min(this.nextQuality);
    min(this.nextRumble);
    min(this.keyboardAt);
    if (t === undefined || t === this.wakeAt) return;
    this.wakeAt = t;
    const generation = ++this.timerGeneration;
    this.sim.later(Math.max(0, t - Date.now()), () => {
      if (generation !== this.timerGeneration) return;
      this.wakeAt = undefined;
      this.service();
    });
  }

  private onCtrlEvent(e: CtrlConsoleEvent): void {
    const ev = this.sim.events;
    switch (e.type) {
      case 'sessionIdSent':
        ev.emit(
          'ctrl',
          { dir: 'out', message: 'SESSION_ID', sessionId: e.sessionId },
          '  ctrl -> SESSION_ID',
        );
        return;
      case 'loginPinRequested':
        ev.emit('ctrl', { dir: 'out', message: 'LOGIN_PIN_REQ' }, '  ctrl -> LOGIN_PIN_REQ');
        return;
      case 'received':
        if (e.name === 'HEARTBEAT_REP') this.counts.ctrlHeartbeatsIn++;
        if (e.msgType === CTRL.KEYBOARD_TEXT_CHANGE_REQ)
          ev.emit(
            'keyboard',
            { dir: 'in', action: 'text', text: e.detail?.text },
            `  keyboard <- text ${JSON.stringify(e.detail?.text)}`,
          );
        else if (e.msgType === CTRL.KEYBOARD_CLOSE_REQ)
          ev.emit(
            'keyboard',
            { dir: 'in', action: 'close', accepted: e.detail?.accepted },
            `  keyboard <- ${e.detail?.accepted ? 'accept' : 'reject'}`,
          );
        ev.emit(
          'ctrl',
          { dir: 'in', message: e.name, ...(e.detail ?? {}) },
          e.msgType === CTRL.GOTO_BED ? '  ctrl <- GOTO_BED: going to rest mode' : undefined,
        );
        // rest mode: discovery says standby and only a paired client's WAKEUP brings it back
        if (e.msgType === CTRL.GOTO_BED) this.sim.power = 'standby';
        return;
      case 'warning':
        ev.emit('ctrl', { dir: 'in', warning: e.message }, `  ctrl: ${e.message}`);
        return;
      case 'clientLost':
        this.end(`client silent for ${e.silentMs} ms on ctrl`);
        return;
    }
  }

  private onTakionEvent(e: TakionEvent, now: number): void {
    const ev = this.sim.events;
    switch (e.type) {
      case 'connected':
        ev.emit(
          'takion',
          { state: 'connected', from: `${this.udpPeer?.address}:${this.udpPeer?.port}` },
          '  Takion connected',
        );
        this.stream = new StreamConnectionConsole({
          target: this.target,
          sessionId: this.ctrl.sessionId,
          rpcrypt: this.crypt,
          streamInfo: (spec) => this.streamInfo(spec, now),
          now,
        });
        return;
      case 'message':
        this.stream?.handleMessage({ channel: e.channel, dataType: e.dataType, payload: e.payload }, now);
        return;
      case 'packet':
        this.stream?.noteClientActivity(now);
        this.onClientPacket(e.packetType, e.bytes);
        return;
      case 'acked':
      case 'av':
        this.stream?.noteClientActivity(now);
        return;
      case 'lost':
        this.end(e.error.message);
        return;
      case 'error':
        ev.emit('takion', { warning: e.error.message }, `  Takion: ${e.error.message}`);
        if (this.takion?.state === 'closed') this.end(e.error.message);
        return;
    }
  }

  /** STREAMINFO describes the clip that will stream: its size, parameter sets and audio header. */
  private streamInfo(spec: ParsedLaunchSpec, now: number): StreamInfo {
    const av = new ConsoleAv(spec, this.target, this.sim.events, this.owner.opts, now);
    this.av = av;
    this.spec = spec;
    const ms = av.streamer;
    return {
      resolutions: [{ width: ms.width, height: ms.height, videoHeader: ms.videoHeader }],
      audioHeader: ms.audioHeader,
      startTimeout: 10,
      afkTimeout: 3600,
      afkTimeoutDisconnect: 1,
      congestionControlInterval: 200,
    };
  }

  private onClientPacket(type: TakionType, bytes: Uint8Array): void {
    const ev = this.sim.events;
    try {
      if (type === TakionType.Congestion) {
        parseCongestion(bytes);
        this.counts.congestion++;
        return;
      }
      if (type !== TakionType.FeedbackState && type !== TakionType.FeedbackHistory) return;
      if (type === TakionType.FeedbackState) this.counts.feedbackState++;
      else this.counts.feedbackHistory++;
      const first = this.feedback.state === undefined;
      for (const c of this.feedback.accept(bytes)) {
        // the idle pad's first state is no event worth a line
        if (first && 'stick' in c && c.x === 0 && c.y === 0) continue;
        ev.emit('controller', { ...c }, `  controller ${JSON.stringify(c)}`);
      }
    } catch (e) {
      if (!(e instanceof ParseError || e instanceof AuthError)) throw e;
      ev.emit('stream', { dir: 'in', warning: e.message }, `  ${e.message}`);
    }
  }

  private onStreamEvent(e: StreamConsoleEvent, now: number): void {
    const ev = this.sim.events;
    switch (e.type) {
      case 'big':
        ev.emit(
          'stream',
          {
            dir: 'in',
            message: 'BIG',
            clientVersion: e.big.clientVersion,
            width: e.launchSpec.width,
            height: e.launchSpec.height,
            fps: e.launchSpec.maxFps,
            bitrateKbps: e.launchSpec.bitrateKbps,
            codec: e.launchSpec.codec,
          },
          `  stream <- BIG ${e.launchSpec.width}x${e.launchSpec.height}@${e.launchSpec.maxFps} ${e.launchSpec.bitrateKbps} kbps`,
        );
        ev.emit('stream', { dir: 'out', message: 'BANG' }, '  stream -> BANG');
        return;
      case 'rejected':
        ev.emit(
          'stream',
          { dir: 'out', message: 'BANG', rejected: e.error.message },
          `  stream -> BANG (refused: ${e.error.message})`,
        );
        return;
      case 'streamInfoSent': {
        const r = e.streamInfo.resolutions[0];
        ev.emit(
          'stream',
          { dir: 'out', message: 'STREAMINFO', width: r?.width, height: r?.height },
          `  stream -> STREAMINFO ${r?.width}x${r?.height}`,
        );
        this.nextStats = Date.now() + (this.owner.opts.statsIntervalMs ?? SIM_STATS_INTERVAL_MS);
        return;
      }
      case 'received': {
        if (e.message.type === 'big') return; // logged with its launch spec above
        if (e.message.type === 'heartbeat') this.counts.heartbeatsIn++;
        // The handshake is over once the client acknowledged STREAMINFO: every packet either side
        // still has in flight was sent under crypt, so a tampered one can only hurt its receiver.
        if (e.message.type === 'streamInfoAck') {
          this.sentAfterHandshake ??= 0;
          this.av?.start(now);
          this.startConsoleMessages(now);
        }
        const name = messageName(e.message);
        ev.emit(
          'stream',
          { dir: 'in', message: name, channel: e.channel, ...messageDetail(e.message) },
          e.message.type === 'heartbeat' ? undefined : `  stream <- ${name}`,
        );
        if (e.message.type === 'corruptFrame' || e.message.type === 'idrRequest')
          this.av?.keyframeRequest(name, Date.now());
        return;
      }
      case 'disconnected':
        this.end(`client disconnected ("${e.reason}")`);
        return;
      case 'data':
        ev.emit('stream', {
          dir: 'in',
          message: 'DATA',
          channel: e.channel,
          dataType: e.dataType,
          bytes: e.payload.length,
        });
        return;
      case 'warning':
        ev.emit('stream', { dir: 'in', warning: e.error.message }, `  stream: ${e.error.message}`);
        return;
      case 'clientLost':
        this.end(`client silent for ${e.silentMs} ms`);
        return;
    }
  }

  private emitStats(final: boolean): void {
    const t = this.takion?.stats;
    this.sim.events.emit(
      'stats',
      {
        final,
        gmacFailures: t?.gmacFailures ?? 0,
        datagramsIn: t?.datagramsIn ?? 0,
        datagramsOut: t?.datagramsOut ?? 0,
        retransmits: t?.retransmits ?? 0,
        ...this.counts,
        ...(this.av ? { av: this.av.stats() } : {}),
      },
      final
        ? `  session stats: ${t?.gmacFailures ?? 0} GMAC failures, ${t?.datagramsIn ?? 0} datagrams in`
        : undefined,
    );
  }

  /** Ends the session (idempotent): final stats, then ctrl and Takion closed. */
  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.timerGeneration++;
    this.emitStats(true);
    // one last poll so the DATA_ACK of a DISCONNECT goes out before the endpoint closes
    if (this.takion?.state === 'connected') for (const d of this.takion.poll(Date.now())) this.send(d);
    this.takion?.close();
    this.socket.removeAllListeners('close');
    this.socket.destroy();
    this.sim.events.emit('session', { state: 'ended', reason }, `session ended: ${reason}`);
  }
}
