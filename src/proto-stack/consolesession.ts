/**
 * The console's side of a stream session (docs/protocol.md §12), as machines:
 *
 * - ConsoleGate: the two HTTP requests on TCP 9295. A session-init request from a paired client
 *   (RP-Registkey) gets a nonce, anyone else the refusal a console sends; a ctrl request must
 *   authenticate (RP-Auth under the session keys of a nonce handed to that address) and gets the
 *   answer carrying RP-Server-Type. Only one session at a time ("in use" otherwise).
 * - ConsoleSession (a Machine, machine.ts): everything after the accepted ctrl request, the mirror
 *   of ClientSession: the ctrl channel (SESSION_ID in a later write, heartbeats, login PIN,
 *   keyboard), Takion in the console role, the stream connection (BIG -> BANG -> STREAMINFO), the
 *   AV source's packets keyed, encrypted and tagged in one order, feedback decoded to controller
 *   events, congestion reports, and what a console sends on its own (CONNECTIONQUALITY every
 *   second; rumble and the on-screen keyboard when asked to).
 *
 * The simulator (src/simulator/stream.ts) drives both: it owns the sockets, the timer, the
 * network fault injection and the event log; the in-memory tests drive the same machines.
 */
import { randomBytes } from 'node:crypto';
import type { AvMeta } from './avpacket.js';
import { fromHex } from './bytes.js';
import { parseCongestion } from './congestion.js';
import { CTRL, CtrlConsole, type CtrlConsoleEvent } from './ctrl.js';
import { AuthError, ParseError, RptuiError } from './errors.js';
import { type ControllerLogEvent, FeedbackConsoleDecoder } from './feedback.js';
import type { GkCrypt } from './gkcrypt.js';
import type { ParsedLaunchSpec } from './launchspec.js';
import { earliest, type Machine, Queue } from './machine.js';
import { REASON } from './reason.js';
import { RpCrypt } from './rpcrypt.js';
import { SENKUSHA_PORT, SenkushaConsole, type SenkushaConsoleEvent } from './senkusha.js';
import {
  type CtrlRequestInfo,
  formatCtrlResponse,
  formatSessionInitRefusal,
  formatSessionInitResponse,
  parseCtrlRequest,
  parseSessionInitRequest,
  registKeyBytes,
  SERVER_TYPE,
} from './session.js';
import {
  type BigPayload,
  CHANNEL,
  type ConnectionQuality,
  StreamConnectionConsole,
  type StreamConsoleEvent,
  type StreamInfo,
  type TakionMessage,
} from './streamconnection.js';
import { DataType, TAKION_PORT, TakionEndpoint, type TakionEvent, TakionType } from './takion.js';
import { isPs5, type Target } from './target.js';

// ------------------------------------------------------------------------------------------------
// ConsoleGate: session init and ctrl request
// ------------------------------------------------------------------------------------------------

/** What the gate needs of a registered client. */
export interface PairedKeys {
  /** RegistKey hex text, as RP-Registkey carries it. */
  registKey: string;
  /** RP-Key ("morning"), 16 bytes hex. */
  morning: string;
}

/**
 * What the gate decided. `bytes` is the answer: write it, then end the connection ('accepted':
 * keep it open, the ctrl channel runs on it).
 */
export type GateAnswer<T> =
  | { kind: 'nonce'; client: T; rpVersion: string; registKey: string; bytes: Uint8Array }
  | {
      kind: 'refused';
      reason: 'malformed' | 'rp-version' | 'not-paired' | 'in-use' | 'auth';
      code: number;
      message: string;
      bytes: Uint8Array;
    }
  | { kind: 'accepted'; client: T; info: CtrlRequestInfo<T>; serverType: number; bytes: Uint8Array }
  /** An incomplete ctrl request: drop the connection. */
  | { kind: 'incomplete' };

interface Pending<T> {
  address: string;
  target: Target;
  crypt: RpCrypt;
  client: T;
  registKey: Uint8Array;
  expires: number;
}

/** A nonce handed out at session init is good for this long (the ctrl request follows at once). */
export const NONCE_TTL_MS = 10_000;

export class ConsoleGate<T extends PairedKeys> {
  private pending: Pending<T>[] = [];

  constructor(
    private readonly opts: {
      target: Target;
      /** A PS4 Pro says so in RP-Server-Type. */
      pro?: boolean;
      random?: (n: number) => Uint8Array;
    },
  ) {}

  /** A session-init request head from `address`; `busy`: a session is streaming. */
  sessionInit(
    head: Uint8Array,
    address: string,
    paired: readonly T[],
    busy: boolean,
    now: number,
  ): GateAnswer<T> {
    let req: ReturnType<typeof parseSessionInitRequest>;
    try {
      req = parseSessionInitRequest(head);
    } catch (e) {
      if (!(e instanceof RptuiError)) throw e;
      return this.refuse(this.opts.target, 'malformed', REASON.unknown, e.message);
    }
    if (!req) return this.refuse(this.opts.target, 'malformed', REASON.unknown, 'incomplete request');
    if (isPs5(req.target) !== isPs5(this.opts.target))
      return this.refuse(this.opts.target, 'rp-version', REASON.rpVersion, `RP-Version ${req.rpVersion}`);
    const key = req.registKeyText;
    const client = paired.find((p) => p.registKey.toLowerCase() === key);
    if (!client)
      return this.refuse(req.target, 'not-paired', REASON.invalidPsnId, 'RP-Registkey of no paired client');
    if (busy) return this.refuse(req.target, 'in-use', REASON.inUse, 'another client is streaming');
    const nonce = (this.opts.random ?? ((n) => new Uint8Array(randomBytes(n))))(16);
    this.pending = this.pending.filter((p) => p.expires > now && p.address !== address);
    this.pending.push({
      address,
      target: req.target,
      crypt: RpCrypt.forSession(req.target, nonce, fromHex(client.morning)),
      client,
      registKey: registKeyBytes(client.registKey),
      expires: now + NONCE_TTL_MS,
    });
    return {
      kind: 'nonce',
      client,
      rpVersion: req.rpVersion,
      registKey: key,
      bytes: formatSessionInitResponse(nonce),
    };
  }

  /** A ctrl request head from `address`. On 'accepted' the bytes are the answer; SESSION_ID follows later. */
  ctrlRequest(head: Uint8Array, address: string, busy: boolean, now: number): GateAnswer<T> {
    const candidates = (target: Target) =>
      this.pending
        .filter((p) => p.address === address && p.target === target && p.expires > now)
        .map((p) => ({ crypt: p.crypt, registKey: p.registKey, client: p }));
    let info: CtrlRequestInfo<Pending<T>> | null;
    try {
      info = parseCtrlRequest(head, candidates);
    } catch (e) {
      if (!(e instanceof RptuiError)) throw e;
      const auth = e instanceof AuthError;
      return this.refuse(
        this.opts.target,
        auth ? 'auth' : 'malformed',
        auth ? REASON.invalidPsnId : REASON.unknown,
        e.message,
      );
    }
    if (!info) return { kind: 'incomplete' };
    if (busy) return this.refuse(this.opts.target, 'in-use', REASON.inUse, 'another client is streaming');
    const pending = info.client;
    this.pending = this.pending.filter((p) => p !== pending);
    const serverType = isPs5(info.target)
      ? SERVER_TYPE.ps5
      : this.opts.pro
        ? SERVER_TYPE.ps4Pro
        : SERVER_TYPE.ps4;
    return {
      kind: 'accepted',
      client: pending.client,
      info: { ...info, client: pending.client },
      serverType,
      bytes: formatCtrlResponse(info.crypt, serverType),
    };
  }

  private refuse(
    target: Target,
    reason: Extract<GateAnswer<T>, { kind: 'refused' }>['reason'],
    code: number,
    message: string,
  ): GateAnswer<T> {
    return { kind: 'refused', reason, code, message, bytes: formatSessionInitRefusal(code, target) };
  }
}

// ------------------------------------------------------------------------------------------------
// The AV source a console session streams from
// ------------------------------------------------------------------------------------------------

/** One AV packet to send: `size` payload bytes need key positions; build() makes the datagram. */
export interface AvSend extends AvMeta {
  /** Video: the frame is a key frame (all of its packets say so). Audio: false. */
  keyframe: boolean;
  /** Which clip frame this packet carries: the access unit (video) or Opus packet (audio) index. */
  clipFrame: number;
  /** Payload length: what TakionEndpoint.allocKeyPos() reserves. */
  size: number;
  /**
   * The datagram with key_pos = keyPos (low 32 bits), the payload encrypted with `crypt` at
   * keyPos + 16 (plaintext without crypt) and a zero GMAC for sendRaw() to fill in.
   */
  build(keyPos: number, crypt: GkCrypt | undefined): Uint8Array;
}

/**
 * The console's encoder: what a session streams once the client acknowledged STREAMINFO. A
 * Machine without input: handleTimeout(now) makes due packets ready, pollTransmit() hands them
 * out in send order. The simulator's MediaStreamer plays committed clips through this.
 */
export interface ConsoleAvSource extends Machine<never, never, AvSend> {
  readonly width: number;
  readonly height: number;
  /** STREAMINFO video_header (SPS/PPS, VPS too for HEVC) and audio_header. */
  readonly videoHeader: Uint8Array;
  readonly audioHeader: Uint8Array;
  /** The schedule starts over at `now` (the client acknowledged STREAMINFO). */
  start(now: number): void;
  /**
   * CORRUPTFRAME (`lostEnd` = its end) or IDRREQUEST: `restart` (the next frame is a key frame),
   * `pending` (an earlier request already made it so) or `held` (a key frame left moments ago).
   */
  requestKeyframe(now: number, lostEnd?: number): 'restart' | 'pending' | 'held';
  /** Next wire frame index and clip position, for the log. */
  readonly position: { nextFrameIndex: number; clipFrame: number };
  stats(): Record<string, number>;
}

// ------------------------------------------------------------------------------------------------
// ConsoleSession
// ------------------------------------------------------------------------------------------------

export type ConsoleInput =
  | { type: 'ctrlData'; bytes: Uint8Array }
  | { type: 'ctrlClosed' }
  | { type: 'udp'; port: number; bytes: Uint8Array };

export type ConsoleTransmit =
  | { type: 'ctrl'; bytes: Uint8Array }
  | { type: 'ctrlClose' }
  /** `av`: an AV packet (what network faults apply to), with the numbers a drop log needs. */
  | { type: 'udp'; port: number; bytes: Uint8Array; av?: AvMeta };

export interface ConsoleSessionCounts {
  feedbackState: number;
  feedbackHistory: number;
  congestion: number;
  heartbeatsIn: number;
  ctrlHeartbeatsIn: number;
  rumble: number;
  connectionQuality: number;
}

export interface ConsoleSessionStats extends ConsoleSessionCounts {
  gmacFailures: number;
  datagramsIn: number;
  datagramsOut: number;
  retransmits: number;
  av?: Record<string, number>;
}

export type ConsoleEvent =
  | { type: 'ctrlSent'; message: 'SESSION_ID' | 'LOGIN_PIN_REQ' | 'KEYBOARD_OPEN'; sessionId?: string }
  | { type: 'ctrlReceived'; name: string; msgType: number; detail?: Record<string, unknown> }
  | { type: 'ctrlWarning'; message: string }
  /** What the client's Senkusha probe on UDP 9297 did. */
  | { type: 'senkusha'; event: SenkushaConsoleEvent }
  | { type: 'takionConnected' }
  | { type: 'takionWarning'; message: string }
  | { type: 'big'; big: BigPayload; launchSpec: ParsedLaunchSpec }
  | { type: 'bangRefused'; error: RptuiError }
  | { type: 'streamInfoSent'; streamInfo: StreamInfo }
  /** Every protobuf message from the client. STREAMINFOACK starts the AV. */
  | { type: 'streamReceived'; channel: number; message: TakionMessage }
  | { type: 'dataReceived'; channel: number; dataType: number; bytes: number }
  | { type: 'streamWarning'; message: string }
  | { type: 'controller'; event: ControllerLogEvent }
  | {
      type: 'keyframe';
      request: string;
      outcome: 'restart' | 'pending' | 'held';
      nextFrameIndex: number;
      clipFrame: number;
    }
  /** An AV packet went out at this key position (in send order). */
  | { type: 'avSent'; send: AvSend; keyPos: number }
  | { type: 'rumbleSent'; left: number; right: number }
  | { type: 'qualitySent'; quality: ConnectionQuality }
  | { type: 'stats'; final: boolean; stats: ConsoleSessionStats }
  /** The session is over (the last event). */
  | { type: 'ended'; reason: string };

export interface ConsoleSessionOptions {
  target: Target;
  /** The session's RpCrypt (the accepted ctrl request's). */
  crypt: RpCrypt;
  /** The client's first ctrl counter (CtrlRequestInfo.clientCounter). */
  remoteCounter: number;
  now: number;
  /** What BIG's launch spec asks -> the AV source to stream (and STREAMINFO to describe). */
  avSource: (spec: ParsedLaunchSpec, now: number) => ConsoleAvSource;
  /** The console user has this 4-digit login passcode: ask for it before the session id. */
  loginPin?: string;
  /** `stats` events this often while streaming (default 1000 ms). */
  statsIntervalMs?: number;
  /** CONNECTIONQUALITY period while streaming (default 1000 ms). */
  qualityIntervalMs?: number;
  /** Send a rumble message this often while streaming (on, off, on, ...). */
  rumbleEveryMs?: number;
  /** Open the on-screen keyboard this long after streaming started. */
  keyboardAfterMs?: number;
  /** The loss figure of CONNECTIONQUALITY: AV datagrams the network dropped so far. */
  droppedSoFar?: () => number;
  /** The console's first Takion DATA TSN (default: its tag; nothing makes a console use that). */
  takionInitialTsn?: number;
  /** Senkusha: datagrams larger than this path MTU (IP size) are lost, both ways. */
  pathMtu?: number;
}

export const CONSOLE_STATS_INTERVAL_MS = 1000;
export const CONSOLE_QUALITY_INTERVAL_MS = 1000;
/** The "on" half of the simulated rumble: strong left motor, weak right one. */
const RUMBLE_ON = { left: 0xc0, right: 0x40 } as const;

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

export class ConsoleSession implements Machine<ConsoleInput, ConsoleEvent, ConsoleTransmit> {
  private readonly opts: ConsoleSessionOptions;
  private readonly out = new Queue<ConsoleTransmit>();
  private readonly events = new Queue<ConsoleEvent>();
  private readonly ctrl: CtrlConsole;
  private takion: TakionEndpoint | undefined;
  private senkusha: SenkushaConsole | undefined;
  private stream: StreamConnectionConsole | undefined;
  private av: ConsoleAvSource | undefined;
  private avStarted = false;
  private spec: ParsedLaunchSpec | undefined;
  private readonly feedback = new FeedbackConsoleDecoder();
  private nextStats: number | undefined;
  private nextQuality: number | undefined;
  private nextRumble: number | undefined;
  private rumbleSent = 0;
  private keyboardAt: number | undefined;
  private droppedAtLastQuality = 0;
  private done = false;
  private pumping = false;
  private readonly counts: ConsoleSessionCounts = {
    feedbackState: 0,
    feedbackHistory: 0,
    congestion: 0,
    heartbeatsIn: 0,
    ctrlHeartbeatsIn: 0,
    rumble: 0,
    connectionQuality: 0,
  };

  constructor(opts: ConsoleSessionOptions) {
    this.opts = opts;
    this.ctrl = new CtrlConsole({
      target: opts.target,
      crypt: opts.crypt,
      remoteCounter: opts.remoteCounter,
      now: opts.now,
      loginPin: opts.loginPin,
    });
  }

  get ended(): boolean {
    return this.done;
  }

  get sessionId(): string {
    return this.ctrl.sessionId;
  }

  // ----------------------------------------------------------------------------------------------
  // Machine interface

  handle(input: ConsoleInput, now: number): void {
    if (this.done) return;
    switch (input.type) {
      case 'ctrlData':
        try {
          this.ctrl.handle(input.bytes, now);
        } catch (e) {
          if (!(e instanceof ParseError)) throw e;
          this.events.push({ type: 'ctrlWarning', message: e.message });
          this.end('ctrl stream out of sync');
          return;
        }
        break;
      case 'ctrlClosed':
        this.end('the client closed the ctrl connection');
        return;
      case 'udp':
        if (input.port === SENKUSHA_PORT) {
          this.senkusha ??= new SenkushaConsole({ now, pathMtu: this.opts.pathMtu });
          this.senkusha.handle(input.bytes, now);
          break;
        }
        if (input.port !== TAKION_PORT) return;
        this.takion ??= new TakionEndpoint({ role: 'console', now, initialTsn: this.opts.takionInitialTsn });
        this.takion.handle(input.bytes, now);
        break;
    }
    this.pump(now);
  }

  pollTransmit(): ConsoleTransmit | undefined {
    return this.out.shift();
  }

  pollEvent(): ConsoleEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): number | undefined {
    if (this.done) return undefined;
    return earliest(
      this.ctrl.pollTimeout(),
      this.senkusha?.pollTimeout(),
      this.takion?.pollTimeout(),
      this.stream?.pollTimeout(),
      this.avStarted ? this.av?.pollTimeout() : undefined,
      this.nextStats,
      this.nextQuality,
      this.nextRumble,
      this.keyboardAt,
    );
  }

  handleTimeout(now: number): void {
    if (this.done) return;
    this.ctrl.handleTimeout(now);
    this.senkusha?.handleTimeout(now);
    this.takion?.handleTimeout(now);
    this.stream?.handleTimeout(now);
    if (this.avStarted) this.av?.handleTimeout(now);
    this.timedMessages(now);
    if (this.nextStats !== undefined && now >= this.nextStats) {
      this.nextStats = Math.max(
        this.nextStats + (this.opts.statsIntervalMs ?? CONSOLE_STATS_INTERVAL_MS),
        now + 1,
      );
      this.events.push({ type: 'stats', final: false, stats: this.stats() });
    }
    this.pump(now);
  }

  /** Ends the session from the console side (idempotent): DISCONNECT when the stream runs. */
  stop(reason: string, now: number): void {
    if (this.done) return;
    this.stream?.disconnect();
    this.pump(now);
    this.end(reason);
  }

  stats(): ConsoleSessionStats {
    const t = this.takion?.stats;
    return {
      gmacFailures: t?.gmacFailures ?? 0,
      datagramsIn: t?.datagramsIn ?? 0,
      datagramsOut: t?.datagramsOut ?? 0,
      retransmits: t?.retransmits ?? 0,
      ...this.counts,
      ...(this.av ? { av: this.av.stats() } : {}),
    };
  }

  // ----------------------------------------------------------------------------------------------
  // Internals

  private pump(now: number): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let round = 0; round < 64 && !this.done; round++) {
        let moved = false;
        for (let b = this.ctrl.pollTransmit(); b; b = this.ctrl.pollTransmit()) {
          moved = true;
          this.out.push({ type: 'ctrl', bytes: b });
        }
        for (let e = this.ctrl.pollEvent(); e; e = this.ctrl.pollEvent()) {
          moved = true;
          this.onCtrlEvent(e);
        }
        const probe = this.senkusha;
        if (probe) {
          for (let d = probe.pollTransmit(); d; d = probe.pollTransmit()) {
            moved = true;
            this.out.push({ type: 'udp', port: SENKUSHA_PORT, bytes: d });
          }
          for (let e = probe.pollEvent(); e; e = probe.pollEvent()) {
            moved = true;
            this.events.push({ type: 'senkusha', event: e });
          }
        }
        const t = this.takion;
        if (t && !this.done) {
          for (let e = t.pollEvent(); e; e = t.pollEvent()) {
            moved = true;
            this.onTakionEvent(e, now);
          }
          const s = this.stream;
          if (s) {
            for (let o = s.pollTransmit(); o; o = s.pollTransmit()) {
              moved = true;
              if (t.state !== 'connected') continue;
              if (o.kind === 'crypt') {
                t.setCrypt(o.local, o.remote);
                this.feedback.setCrypt(o.remote);
              } else t.sendMessage(o.channel, o.dataType, o.payload, now);
            }
            for (let e = s.pollEvent(); e; e = s.pollEvent()) {
              moved = true;
              this.onStreamEvent(e, now);
            }
          }
          if (this.sendAv(t)) moved = true;
          for (let d = t.pollTransmit(); d; d = t.pollTransmit()) {
            moved = true;
            this.out.push({ type: 'udp', port: TAKION_PORT, bytes: d });
          }
        }
        if (!moved) break;
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The AV source's packets, one at a time: key position, encryption, GMAC, then out. Control
   * packets the endpoint queued meanwhile go first, so datagrams leave in key_pos order.
   */
  private sendAv(t: TakionEndpoint): boolean {
    const av = this.av;
    if (!av || !this.avStarted || t.state !== 'connected') return false;
    let moved = false;
    for (let p = av.pollTransmit(); p; p = av.pollTransmit()) {
      moved = true;
      for (let d = t.pollTransmit(); d; d = t.pollTransmit())
        this.out.push({ type: 'udp', port: TAKION_PORT, bytes: d });
      const kp = t.allocKeyPos(p.size);
      this.events.push({ type: 'avSent', send: p, keyPos: kp });
      const packet = p.build(kp, t.localCrypt);
      t.sendRaw(packet, kp);
      const meta: AvMeta = {
        kind: p.kind,
        frameIndex: p.frameIndex,
        unitIndex: p.unitIndex,
        unitsTotal: p.unitsTotal,
        fecUnits: p.fecUnits,
      };
      for (let d = t.pollTransmit(); d; d = t.pollTransmit())
        this.out.push({ type: 'udp', port: TAKION_PORT, bytes: d, ...(d === packet ? { av: meta } : {}) });
    }
    return moved;
  }

  private timedMessages(now: number): void {
    const t = this.takion;
    if (t?.state !== 'connected') return;
    const o = this.opts;
    if (this.nextQuality !== undefined && now >= this.nextQuality && this.stream) {
      this.nextQuality = Math.max(
        this.nextQuality + (o.qualityIntervalMs ?? CONSOLE_QUALITY_INTERVAL_MS),
        now + 1,
      );
      this.sendQuality(this.stream);
    }
    if (this.nextRumble !== undefined && o.rumbleEveryMs !== undefined && now >= this.nextRumble) {
      this.nextRumble = Math.max(this.nextRumble + o.rumbleEveryMs, now + 1);
      const on = this.rumbleSent++ % 2 === 0;
      const { left, right } = on ? RUMBLE_ON : { left: 0, right: 0 };
      // docs/protocol.md §8: a rumble DATA message is [0, left, right]
      t.sendMessage(CHANNEL.default, DataType.Rumble, new Uint8Array([0, left, right]), now);
      this.counts.rumble++;
      this.events.push({ type: 'rumbleSent', left, right });
    }
    if (this.keyboardAt !== undefined && now >= this.keyboardAt) {
      this.keyboardAt = undefined;
      this.ctrl.openKeyboard('');
      this.events.push({ type: 'ctrlSent', message: 'KEYBOARD_OPEN' });
    }
  }

  /**
   * Units as a console sends them (a captured PS5 message): target bitrate in bit/s, rtt in ms
   * (a double), loss a count (uint64): the AV datagrams the network dropped since the last
   * report. The rtt is the client's own estimate from its launch spec.
   */
  private sendQuality(stream: StreamConnectionConsole): void {
    const dropped = this.opts.droppedSoFar?.() ?? 0;
    const q: ConnectionQuality = {
      targetBitrate: (this.spec?.bitrateKbps ?? 0) * 1000,
      upstreamBitrate: 0,
      upstreamLoss: 0,
      rtt: this.spec?.rtt ?? 0,
      loss: dropped - this.droppedAtLastQuality,
    };
    this.droppedAtLastQuality = dropped;
    stream.sendConnectionQuality(q);
    this.counts.connectionQuality++;
    this.events.push({ type: 'qualitySent', quality: q });
  }

  private onCtrlEvent(e: CtrlConsoleEvent): void {
    switch (e.type) {
      case 'sessionIdSent':
        this.events.push({ type: 'ctrlSent', message: 'SESSION_ID', sessionId: e.sessionId });
        return;
      case 'loginPinRequested':
        this.events.push({ type: 'ctrlSent', message: 'LOGIN_PIN_REQ' });
        return;
      case 'received':
        if (e.msgType === CTRL.HEARTBEAT_REP) this.counts.ctrlHeartbeatsIn++;
        this.events.push({ type: 'ctrlReceived', name: e.name, msgType: e.msgType, detail: e.detail });
        return;
      case 'warning':
        this.events.push({ type: 'ctrlWarning', message: e.message });
        return;
      case 'clientLost':
        this.end(`client silent for ${e.silentMs} ms on ctrl`);
        return;
    }
  }

  private onTakionEvent(e: TakionEvent, now: number): void {
    switch (e.type) {
      case 'connected':
        this.events.push({ type: 'takionConnected' });
        this.stream = new StreamConnectionConsole({
          target: this.opts.target,
          sessionId: this.ctrl.sessionId,
          rpcrypt: this.opts.crypt,
          streamInfo: (spec) => this.streamInfo(spec, now),
          now,
        });
        return;
      case 'message':
        this.stream?.handle({ channel: e.channel, dataType: e.dataType, payload: e.payload }, now);
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
        this.events.push({ type: 'takionWarning', message: e.error.message });
        if (this.takion?.state === 'closed') this.end(e.error.message);
        return;
    }
  }

  /** STREAMINFO describes what will stream: its size, parameter sets and audio header. */
  private streamInfo(spec: ParsedLaunchSpec, now: number): StreamInfo {
    const av = this.opts.avSource(spec, now);
    this.av = av;
    this.spec = spec;
    return {
      resolutions: [{ width: av.width, height: av.height, videoHeader: av.videoHeader }],
      audioHeader: av.audioHeader,
      startTimeout: 10,
      afkTimeout: 3600,
      afkTimeoutDisconnect: 1,
      congestionControlInterval: 200,
    };
  }

  private onClientPacket(type: TakionType, bytes: Uint8Array): void {
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
        this.events.push({ type: 'controller', event: c });
      }
    } catch (e) {
      if (!(e instanceof ParseError || e instanceof AuthError)) throw e;
      this.events.push({ type: 'streamWarning', message: e.message });
    }
  }

  private onStreamEvent(e: StreamConsoleEvent, now: number): void {
    switch (e.type) {
      case 'big':
        this.events.push({ type: 'big', big: e.big, launchSpec: e.launchSpec });
        return;
      case 'rejected':
        this.events.push({ type: 'bangRefused', error: e.error });
        return;
      case 'streamInfoSent':
        this.events.push({ type: 'streamInfoSent', streamInfo: e.streamInfo });
        this.nextStats = now + (this.opts.statsIntervalMs ?? CONSOLE_STATS_INTERVAL_MS);
        return;
      case 'received': {
        const m = e.message;
        if (m.type === 'heartbeat') this.counts.heartbeatsIn++;
        this.events.push({ type: 'streamReceived', channel: e.channel, message: m });
        // AV only once the client acknowledged STREAMINFO (docs/protocol.md §12)
        if (m.type === 'streamInfoAck' && !this.avStarted) {
          this.avStarted = true;
          this.av?.start(now);
          const o = this.opts;
          this.nextQuality = now + (o.qualityIntervalMs ?? CONSOLE_QUALITY_INTERVAL_MS);
          if (o.rumbleEveryMs !== undefined) this.nextRumble = now + o.rumbleEveryMs;
          if (o.keyboardAfterMs !== undefined) this.keyboardAt = now + o.keyboardAfterMs;
        }
        if ((m.type === 'corruptFrame' || m.type === 'idrRequest') && this.av) {
          const outcome = this.av.requestKeyframe(now, m.type === 'corruptFrame' ? m.end : undefined);
          this.events.push({ type: 'keyframe', request: messageName(m), outcome, ...this.av.position });
        }
        return;
      }
      case 'disconnected':
        this.end(`client disconnected ("${e.reason}")`);
        return;
      case 'data':
        this.events.push({
          type: 'dataReceived',
          channel: e.channel,
          dataType: e.dataType,
          bytes: e.payload.length,
        });
        return;
      case 'warning':
        this.events.push({ type: 'streamWarning', message: e.error.message });
        return;
      case 'clientLost':
        this.end(`client silent for ${e.silentMs} ms`);
        return;
    }
  }

  private end(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.events.push({ type: 'stats', final: true, stats: this.stats() });
    // the DATA_ACK of a DISCONNECT (and anything else queued) goes out before the endpoint closes
    const t = this.takion;
    if (t?.state === 'connected') {
      for (let d = t.pollTransmit(); d; d = t.pollTransmit())
        this.out.push({ type: 'udp', port: TAKION_PORT, bytes: d });
    }
    t?.close();
    this.out.push({ type: 'ctrlClose' });
    this.events.push({ type: 'ended', reason });
  }
}
