/**
 * ClientSession: one Remote Play stream session, client side, as one Machine (machine.ts) that
 * composes every layer (docs/protocol.md timeline steps 4-15):
 *
 *   session init (TCP 9295, one request per connection, RP-Version retry rule)
 *   -> ctrl request on a second connection that stays open (CtrlClient: heartbeats, login PIN,
 *      keyboard, SESSION_ID)
 *   -> Takion on UDP 9296 (TakionEndpoint) carrying the stream connection
 *      (StreamConnectionClient: BIG / BANG / STREAMINFO / HEARTBEAT / DISCONNECT)
 *   -> AV receive (AvReceiver), feedback (FeedbackSender) and congestion reports.
 *
 * The driver (src/client/session.ts) owns two TCP connections named 'init' and 'ctrl' and one UDP
 * socket per console port: it opens, writes and closes them as the transmits say and feeds back
 * what they deliver. Everything else — parsing, crypto, order of steps, timers, statistics —
 * happens here, so the in-memory tests run exactly what a real session runs.
 */
import { type AudioHeader, parseAudioHeader } from './audio.js';
import { type AvOutput, AvReceiver } from './avreceiver.js';
import { fromHex } from './bytes.js';
import { formatCongestion } from './congestion.js';
import type { ControllerState } from './controller.js';
import { CtrlClient, type CtrlClientEvent } from './ctrl.js';
import { ConsoleRefusedError, NetworkError, ParseError, RptuiError, UsageError } from './errors.js';
import { encodeFeedbackPacket, FEEDBACK_KEY_POS_EXTRA } from './feedback.js';
import { FeedbackSender } from './feedbacksender.js';
import { type FpsPreset, type ResolutionPreset, type VideoCodec, videoProfile } from './launchspec.js';
import { earliest, type Machine, Queue } from './machine.js';
import { REASON } from './reason.js';
import { RpCrypt } from './rpcrypt.js';
import { SENKUSHA_FALLBACK, SENKUSHA_PORT, SenkushaClient, type SenkushaClientEvent } from './senkusha.js';
import {
  type CtrlRequest,
  decideSessionInitRetry,
  formatCtrlRequest,
  formatSessionInitRequest,
  parseCtrlResponse,
  parseSessionInitResponse,
  registKeyBytes,
  SERVER_TYPE,
  SESSION_INIT_MAX_ATTEMPTS,
  SESSION_PORT,
  streamingTypeFor,
} from './session.js';
import {
  isBangMessage,
  type StreamClientEvent,
  StreamConnectionClient,
  type StreamInfo as WireStreamInfo,
} from './streamconnection.js';
import { DataType, TAKION_PORT, TakionEndpoint, type TakionEvent } from './takion.js';
import { isPs5, type Target } from './target.js';

// ------------------------------------------------------------------------------------------------
// What the session reports (the types of src/common/session-api.ts)
// ------------------------------------------------------------------------------------------------

export type SessionState =
  | 'idle'
  | 'waking' // console in standby: WAKEUP sent, waiting for it to come up (the driver's step)
  | 'requesting' // session init (RP-Nonce)
  | 'ctrl' // ctrl request + waiting for the session id
  | 'probing' // Senkusha: RTT and MTU on UDP 9297
  | 'takion' // Takion INIT/COOKIE handshake
  | 'handshake' // BIG/BANG/STREAMINFO
  | 'streaming'
  | 'closing'
  | 'closed';

export interface StreamInfo {
  width: number;
  height: number;
  fps: number;
  codec: 'h264' | 'h265';
  bitrateKbps: number;
  audio: { sampleRate: number; channels: number; frameSize: number };
  /** Console generation and what it called itself in RP-Server-Type. */
  serverType: 'PS4' | 'PS4 Pro' | 'PS5';
}

export interface SessionStats {
  /** skipped: frames that arrived whole but were dropped waiting for a key frame after a loss. */
  video: { frames: number; recovered: number; lost: number; skipped: number; fps: number; kbps: number };
  audio: { frames: number; lost: number };
  /**
   * Datagrams: received = those that authenticated; lost = AV units the congestion reports count
   * as lost; malformed = did not parse; forged = failed the GMAC or the tag check (dropped).
   */
  packets: { received: number; lost: number; malformed: number; forged: number };
  /** Round trip of our stream messages (their acks); Senkusha's measurement until there is one. */
  rttMs: number;
  /** What Senkusha measured before the stream (`measured: false`: the fallback values were used). */
  probe: { measured: boolean; rttMs: number; mtu: number };
  /** Rumble messages from the console (counted when no pad can play them). */
  rumble: number;
  /** Milliseconds since the stream started. */
  uptimeMs: number;
}

export type ConsoleMessage =
  | { type: 'loginPinRequest' } // the console user has a passcode: answer with sendLoginPin
  | { type: 'loginResult'; ok: boolean }
  | { type: 'keyboardOpen'; text: string }
  | { type: 'keyboardText'; text: string }
  | { type: 'keyboardClosed' }
  | { type: 'rumble'; left: number; right: number }
  | { type: 'displayBlocked'; blocked: boolean } // protected content on screen
  | { type: 'connectionQuality'; targetBitrateKbps: number; rttMs: number; loss: number };

export type CloseReason =
  | { code: 'user'; message: string } // disconnect() or standby()
  | { code: 'console-lost'; message: string } // silence beyond the timeout
  | { code: 'console-disconnected'; message: string } // DISCONNECT from the console
  | { code: 'error'; message: string; error: RptuiError };

export interface VideoFrameEvent {
  index: number;
  /** Annex-B access unit; the first frame and profile switches carry SPS/PPS(/VPS) in front. */
  bytes: Uint8Array;
  keyframe: boolean;
  recovered: boolean;
}

// ------------------------------------------------------------------------------------------------
// The machine's inputs, transmits and events
// ------------------------------------------------------------------------------------------------

/** The two TCP connections of a session, both to SESSION_PORT. */
export type TcpConn = 'init' | 'ctrl';

export type ClientInput =
  | { type: 'tcpConnected'; conn: TcpConn }
  | { type: 'tcpData'; conn: TcpConn; bytes: Uint8Array }
  /** The connection ended; `error` when it failed (the driver types socket errors). */
  | { type: 'tcpClosed'; conn: TcpConn; error?: RptuiError }
  /** A datagram from the console's UDP `port`. */
  | { type: 'udp'; port: number; bytes: Uint8Array }
  /** Sending to or receiving from UDP `port` failed (e.g. ICMP port unreachable). */
  | { type: 'udpError'; port: number; error: RptuiError };

export type ClientTransmit =
  /** Connect to the console's `port` and write `bytes` once connected. */
  | { type: 'tcpOpen'; conn: TcpConn; port: number; bytes: Uint8Array }
  | { type: 'tcpSend'; conn: TcpConn; bytes: Uint8Array }
  /** graceful: end() after what was written (a GOTO_BED must still arrive), else destroy. */
  | { type: 'tcpClose'; conn: TcpConn; graceful: boolean }
  | { type: 'udp'; port: number; bytes: Uint8Array };

export type ClientEvent =
  | { type: 'state'; state: SessionState }
  | { type: 'streamInfo'; info: StreamInfo; audioHeader: AudioHeader }
  | { type: 'video'; frame: VideoFrameEvent }
  /** Opus packets and gaps for the audio decoder, and PS5 haptics PCM. */
  | Extract<AvOutput, { type: 'opus' | 'opusLost' | 'haptics' }>
  | { type: 'console'; message: ConsoleMessage }
  /** Every STATS_INTERVAL_MS while streaming, and once when closed. */
  | { type: 'stats'; stats: SessionStats }
  /** Worth a log line; the session goes on. */
  | { type: 'warning'; message: string }
  | { type: 'closed'; reason: CloseReason };

export interface ClientSessionOptions {
  /** Console address as the HTTP Host headers name it. */
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
  /** Run Senkusha, the RTT/MTU probe on UDP 9297, before the stream (default true). */
  senkusha?: boolean;
  /** How long Senkusha may take before the fallback values are used (default 2000 ms). */
  senkushaDeadlineMs?: number;
}

/** A console that does not answer Senkusha costs at most this long before the stream starts. */
export const SENKUSHA_BUDGET_MS = 2000;

/** docs/protocol.md §10.4: how long a session-init or ctrl connection may take to answer. */
export const SESSION_INIT_TIMEOUT_MS = 5000;
export const CTRL_CONNECT_TIMEOUT_MS = 5000;
/** docs/protocol.md §9: congestion report cadence. */
export const CONGESTION_INTERVAL_MS = 200;
export const STATS_INTERVAL_MS = 500;
/** Between GOTO_BED (ctrl) and DISCONNECT (Takion) in standby(). */
export const GOTO_BED_GRACE_MS = 200;
/** How long a disconnect during the stream handshake waits for BANG to send a verifiable DISCONNECT. */
export const BANG_WAIT_MS = 1000;
/** How long a clean disconnect waits for the console to acknowledge DISCONNECT. */
export const DISCONNECT_ACK_WAIT_MS = 500;
/** An HTTP answer larger than this is not an answer. */
const MAX_HTTP_HEAD = 64 * 1024;

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

export class ClientSession implements Machine<ClientInput, ClientEvent, ClientTransmit> {
  private readonly opts: ClientSessionOptions;
  private readonly ps5: boolean;
  private readonly codec: VideoCodec;
  private profile: { width: number; height: number; maxFps: number; bitrateKbps: number };
  private readonly out = new Queue<ClientTransmit>();
  private readonly events = new Queue<ClientEvent>();
  private st: SessionState = 'idle';
  private target: Target;

  // session init and ctrl request
  private attempt = 0;
  private httpBuf: Uint8Array[] = [];
  private httpLen = 0;
  private deadline: { at: number; error: () => RptuiError } | undefined;
  private rpcrypt: RpCrypt | undefined;
  private ctrlRequest: CtrlRequest | undefined;
  private serverType: number | undefined;

  private ctrl: CtrlClient | undefined;
  private senkusha: SenkushaClient | undefined;
  private probe: { measured: boolean; rttMs: number; mtuIn: number; mtuOut: number } | undefined;
  private sessionId: string | undefined;
  private takion: TakionEndpoint | undefined;
  private stream: StreamConnectionClient | undefined;
  private feedback: FeedbackSender | undefined;
  private av: AvReceiver | undefined;
  private controller: ControllerState | undefined;
  private rumbleCount = 0;
  private nextCongestion: number | undefined;
  private nextStats: number | undefined;
  private streamingSince: number | undefined;
  /** Send times of our DATA messages by the TSN of their last piece, for the RTT estimate. */
  private readonly sentAt = new Map<number, number>();
  private rtt: number | undefined;
  private standbyAt: number | undefined;
  private disconnect:
    | { tsn: number | undefined; until: number; message: string; afterBang: boolean }
    | undefined;
  private closeReason: CloseReason | undefined;
  private finalStats: SessionStats | undefined;
  private pumping = false;

  /** Heartbeats seen from the console (ctrl + protobuf), for logs and tests. */
  readonly heartbeats = { ctrlReceived: 0, streamReceived: 0 };

  constructor(opts: ClientSessionOptions) {
    this.opts = opts;
    this.target = opts.target;
    this.ps5 = isPs5(opts.target);
    // PS4 consoles stream H.264 only (docs/protocol.md §10.3)
    this.codec = this.ps5 ? (opts.codec ?? 'h264') : 'h264';
    const p = videoProfile(opts.resolution ?? '720p', opts.fps ?? 60);
    this.profile = { ...p, bitrateKbps: opts.bitrateKbps ?? p.bitrateKbps };
    if (!/^(?:[0-9a-fA-F]{2}){1,16}$/.test(opts.registKey))
      throw new UsageError(
        'the RegistKey must be 1 to 16 bytes of hex',
        'check the profile (rptui profiles show)',
      );
    if (!/^[0-9a-fA-F]{32}$/.test(opts.rpKey)) throw new UsageError('the RP-Key must be 16 bytes of hex');
  }

  get state(): SessionState {
    return this.st;
  }

  get closeInfo(): CloseReason | undefined {
    return this.closeReason;
  }

  get isClosed(): boolean {
    return this.st === 'closed';
  }

  // ----------------------------------------------------------------------------------------------
  // Machine interface

  pollTransmit(): ClientTransmit | undefined {
    return this.out.shift();
  }

  pollEvent(): ClientEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): number | undefined {
    if (this.st === 'closed') return undefined;
    const streaming = this.st === 'streaming';
    return earliest(
      this.deadline?.at,
      this.ctrl?.pollTimeout(),
      this.senkusha?.pollTimeout(),
      this.takion?.pollTimeout(),
      this.stream?.pollTimeout(),
      streaming ? this.feedback?.pollTimeout() : undefined,
      streaming ? this.av?.pollTimeout() : undefined,
      streaming ? this.nextCongestion : undefined,
      streaming ? this.nextStats : undefined,
      this.standbyAt,
      this.disconnect?.until,
    );
  }

  handleTimeout(now: number): void {
    if (this.st === 'closed') return;
    this.guard(() => {
      if (this.deadline && now >= this.deadline.at) {
        const err = this.deadline.error();
        this.finish({ code: 'error', message: err.message, error: err }, now);
        return;
      }
      if (this.disconnect && now >= this.disconnect.until) {
        this.finish({ code: 'user', message: this.disconnect.message }, now);
        return;
      }
      if (this.standbyAt !== undefined && now >= this.standbyAt) {
        this.standbyAt = undefined;
        this.startDisconnect(now, 'standby requested (console goes to rest mode)');
      }
      this.ctrl?.handleTimeout(now);
      this.senkusha?.handleTimeout(now);
      this.takion?.handleTimeout(now);
      this.stream?.handleTimeout(now);
      if (this.st === 'streaming') {
        this.feedback?.handleTimeout(now);
        this.av?.handleTimeout(now);
        if (this.nextCongestion !== undefined && now >= this.nextCongestion) {
          this.sendCongestion(now);
          this.nextCongestion = Math.max(this.nextCongestion + CONGESTION_INTERVAL_MS, now + 1);
        }
        if (this.nextStats !== undefined && now >= this.nextStats) {
          this.nextStats = Math.max(this.nextStats + STATS_INTERVAL_MS, now + 1);
          this.events.push({ type: 'stats', stats: this.stats(now) });
        }
      }
    }, now);
  }

  handle(input: ClientInput, now: number): void {
    if (this.st === 'closed') return;
    if (input.type === 'udp' && input.port === TAKION_PORT && this.st === 'streaming' && !this.pumping) {
      this.streamDatagram(input.bytes, now);
      return;
    }
    this.guard(() => {
      switch (input.type) {
        case 'udp':
          if (input.port === TAKION_PORT) this.takion?.handle(input.bytes, now);
          else if (input.port === SENKUSHA_PORT) this.senkusha?.handle(input.bytes, now);
          return;
        case 'udpError':
          // a console without a Senkusha listener answers ICMP "port unreachable": no need to wait
          if (input.port === SENKUSHA_PORT) this.senkusha?.close(now, input.error);
          return;
        case 'tcpConnected':
          // the connect timeout becomes the answer timeout
          if (this.deadline && input.conn === this.httpConn())
            this.deadline.at =
              now + (input.conn === 'init' ? SESSION_INIT_TIMEOUT_MS : CTRL_CONNECT_TIMEOUT_MS);
          return;
        case 'tcpData':
          this.tcpData(input.conn, input.bytes, now);
          return;
        case 'tcpClosed':
          this.tcpClosed(input.conn, input.error, now);
          return;
      }
    }, now);
  }

  // ----------------------------------------------------------------------------------------------
  // Commands

  /** Sends the session request. */
  start(now: number): void {
    if (this.st !== 'idle') throw new UsageError(`start() called in state ${this.st}`);
    this.guard(() => this.requestSession(now), now);
  }

  setController(state: ControllerState, now: number): void {
    this.controller = state;
    if (this.st !== 'streaming' || !this.feedback) return;
    this.guard(() => this.feedback?.handle(state, now), now);
  }

  sendLoginPin(pin: string, now: number): void {
    if (!/^\d{4}$/.test(pin)) throw new UsageError('the login passcode is 4 digits');
    this.guard(() => this.ctrl?.sendLoginPin(pin, now), now);
  }

  keyboardSetText(text: string, now: number): void {
    this.guard(() => this.ctrl?.keyboardSetText(text), now);
  }

  keyboardAccept(now: number): void {
    this.guard(() => this.ctrl?.keyboardAccept(), now);
  }

  keyboardReject(now: number): void {
    this.guard(() => this.ctrl?.keyboardReject(), now);
  }

  requestIdr(now: number): void {
    this.guard(() => this.stream?.idrRequest(), now);
  }

  /** GOTO_BED on ctrl, then (after a grace period, so it is read first) a clean disconnect. */
  standby(now: number): void {
    if (this.st === 'closed' || this.st === 'closing') return;
    this.guard(() => {
      this.ctrl?.standby();
      this.standbyAt = now + GOTO_BED_GRACE_MS;
    }, now);
  }

  /** Clean shutdown: DISCONNECT on Takion (closes once acknowledged or after a short wait). */
  close(now: number, message = 'disconnected by the user'): void {
    if (this.st === 'closed' || this.st === 'closing') return;
    this.guard(() => this.startDisconnect(now, message), now);
  }

  /** Ends at once with this reason (the driver's own failures). */
  abort(reason: CloseReason, now: number): void {
    this.finish(reason, now);
    this.pump(now);
  }

  stats(now: number): SessionStats {
    if (this.finalStats) return this.finalStats;
    const av = this.av?.stats(now);
    const v = av?.video;
    const t = this.takion?.stats;
    return {
      video: {
        frames: v?.frames ?? 0,
        recovered: v?.recovered ?? 0,
        lost: v?.lost ?? 0,
        skipped: v?.skipped ?? 0,
        fps: v?.fps ?? 0,
        kbps: v?.kbps ?? 0,
      },
      audio: { frames: av?.audio.frames ?? 0, lost: av?.audio.lost ?? 0 },
      packets: {
        received: t?.accepted ?? 0,
        lost: av?.packets.lost ?? 0,
        malformed: (t?.malformed ?? 0) + (av?.packets.malformed ?? 0),
        forged: (t?.gmacFailures ?? 0) + (t?.tagMismatches ?? 0),
      },
      rttMs: Math.round((this.rtt ?? (this.probe?.measured ? this.probe.rttMs : 0)) * 10) / 10,
      probe: {
        measured: this.probe?.measured ?? false,
        rttMs: this.probe?.rttMs ?? 0,
        mtu: this.probe ? Math.min(this.probe.mtuIn, this.probe.mtuOut) : 0,
      },
      rumble: this.rumbleCount,
      uptimeMs: this.streamingSince === undefined ? 0 : now - this.streamingSince,
    };
  }

  // ----------------------------------------------------------------------------------------------
  // Internals

  /** Runs a step, turns a typed error into the end of the session, then moves every layer. */
  private guard(step: () => void, now: number): void {
    try {
      step();
    } catch (e) {
      if (!(e instanceof RptuiError)) throw e;
      this.finish({ code: 'error', message: e.message, error: e }, now);
    }
    this.pump(now);
  }

  private setState(s: SessionState): void {
    if (this.st === s) return;
    this.st = s;
    this.events.push({ type: 'state', state: s });
  }

  private httpConn(): TcpConn | undefined {
    if (this.st === 'requesting') return 'init';
    if (this.st === 'ctrl' && !this.ctrl) return 'ctrl';
    return undefined;
  }

  private requestSession(now: number): void {
    this.setState('requesting');
    this.attempt++;
    this.httpBuf = [];
    this.httpLen = 0;
    this.deadline = {
      at: now + SESSION_INIT_TIMEOUT_MS,
      error: () =>
        new NetworkError(
          `session request: no answer from ${this.opts.host} within ${SESSION_INIT_TIMEOUT_MS / 1000} s`,
          {
            hint: 'check that the console is on (not in rest mode), on this network and reachable on TCP 9295',
          },
        ),
    };
    this.out.push({
      type: 'tcpOpen',
      conn: 'init',
      port: SESSION_PORT,
      bytes: formatSessionInitRequest({
        target: this.target,
        host: this.opts.host,
        registKeyText: this.opts.registKey,
      }),
    });
  }

  private openCtrl(nonce: Uint8Array, now: number): void {
    const crypt = RpCrypt.forSession(this.target, nonce, fromHex(this.opts.rpKey));
    this.rpcrypt = crypt;
    this.setState('ctrl');
    this.httpBuf = [];
    this.httpLen = 0;
    this.ctrlRequest = formatCtrlRequest({
      target: this.target,
      host: this.opts.host,
      crypt,
      registKey: registKeyBytes(this.opts.registKey),
      streamingType: streamingTypeFor(this.codec, this.opts.hdr),
    });
    this.deadline = {
      at: now + CTRL_CONNECT_TIMEOUT_MS,
      error: () =>
        new NetworkError(`ctrl: the console did not answer within ${CTRL_CONNECT_TIMEOUT_MS / 1000} s`, {
          hint: 'check that the console is on and reachable on TCP 9295, then reconnect',
        }),
    };
    this.out.push({ type: 'tcpOpen', conn: 'ctrl', port: SESSION_PORT, bytes: this.ctrlRequest.bytes });
  }

  /** The HTTP answer so far, as one array. */
  private httpAppend(bytes: Uint8Array): Uint8Array {
    this.httpBuf.push(bytes);
    this.httpLen += bytes.length;
    if (this.httpLen > MAX_HTTP_HEAD)
      throw new ParseError('http', `the console's answer is larger than ${MAX_HTTP_HEAD / 1024} KiB`);
    if (this.httpBuf.length === 1) return bytes;
    const all = new Uint8Array(this.httpLen);
    let at = 0;
    for (const b of this.httpBuf) {
      all.set(b, at);
      at += b.length;
    }
    this.httpBuf = [all];
    return all;
  }

  private tcpData(conn: TcpConn, bytes: Uint8Array, now: number): void {
    if (conn === 'ctrl' && this.ctrl) {
      this.ctrl.handle(bytes, now); // a ctrl stream out of sync throws ParseError: the session ends
      return;
    }
    if (conn !== this.httpConn()) return;
    const all = this.httpAppend(bytes);
    if (conn === 'init') {
      const r = parseSessionInitResponse(all);
      if (!r) return;
      this.deadline = undefined;
      this.out.push({ type: 'tcpClose', conn: 'init', graceful: false });
      if (r.ok) {
        this.openCtrl(r.nonce, now);
        return;
      }
      const d = decideSessionInitRetry(this.target, r, this.attempt);
      if (!d.retry || this.attempt >= SESSION_INIT_MAX_ATTEMPTS)
        throw explainRefusal(d.retry ? r.error : d.error, 'the console refused the session');
      this.target = d.target;
      this.requestSession(now);
      return;
    }
    let response: ReturnType<typeof parseCtrlResponse>;
    try {
      response = parseCtrlResponse(all, this.rpcrypt as RpCrypt);
    } catch (e) {
      if (e instanceof ConsoleRefusedError)
        throw explainRefusal(e, 'the console refused the ctrl connection');
      throw e;
    }
    if (!response) return;
    this.deadline = undefined;
    this.serverType = response.serverType;
    if (response.serverType === SERVER_TYPE.ps4 && this.profile.height === 1080) {
      // a plain PS4 serves at most 720p (a PS4 Pro says 1 here): ask for what it can stream
      const p = videoProfile('720p', this.profile.maxFps === 30 ? 30 : 60);
      this.profile = { ...p, bitrateKbps: this.opts.bitrateKbps ?? p.bitrateKbps };
      this.warn('the console is a PS4, not a PS4 Pro: streaming 720p instead of 1080p');
    }
    if (response.prohibit)
      this.events.push({ type: 'console', message: { type: 'displayBlocked', blocked: true } });
    this.ctrl = new CtrlClient({
      target: this.target,
      crypt: this.rpcrypt as RpCrypt,
      remoteCounter: response.remoteCounter,
      localCounter: this.ctrlRequest?.localCounter,
      now,
      dualSense: this.opts.dualSense,
    });
    const rest = all.subarray(response.headerLength);
    this.httpBuf = [];
    if (rest.length) this.ctrl.handle(rest, now);
  }

  private tcpClosed(conn: TcpConn, error: RptuiError | undefined, now: number): void {
    if (conn === 'init' && this.httpConn() === 'init') {
      throw (
        error ??
        new NetworkError('session request: the console closed the connection without an answer', {
          hint: 'check that Remote Play is enabled on the console, then reconnect',
        })
      );
    }
    if (conn !== 'ctrl' || this.st === 'closing') return;
    if (!this.ctrl)
      throw error ?? new NetworkError('ctrl: the console closed the connection without an answer');
    const why = error
      ? `ctrl connection failed (${error.message})`
      : 'the console closed the ctrl connection';
    this.finish({ code: 'console-lost', message: `console lost: ${why}` }, now);
  }

  /**
   * A stream datagram while streaming, nearly always video or audio: Takion checks it, AvReceiver
   * takes it, frames and Opus packets become events. Only when something else happened (a
   * message, a loss report to send, an error) do all layers move (pump): the general path polls
   * every layer twice per datagram, ~20 calls for nothing.
   */
  private streamDatagram(bytes: Uint8Array, now: number): void {
    const t = this.takion as TakionEndpoint;
    const av = this.av;
    let other = false;
    try {
      t.handle(bytes, now);
      for (let e = t.pollEvent(); e; e = t.pollEvent()) {
        if (e.type === 'av' && av) {
          this.ctrl?.noteConsoleActivity(now);
          av.handle(e, now);
        } else {
          other = true;
          this.onTakionEvent(e, now);
        }
      }
      if (av)
        for (let o = av.pollEvent(); o; o = av.pollEvent()) {
          if (o.type !== 'frame' && o.type !== 'opus' && o.type !== 'opusLost') other = true;
          this.onAvOutput(o);
        }
    } catch (e) {
      if (!(e instanceof RptuiError)) throw e;
      this.finish({ code: 'error', message: e.message, error: e }, now);
      other = true;
    }
    // an AV datagram queues no transmit; anything else (a message's ack, a loss report) pumps
    if (other) this.pump(now);
  }

  /** Moves every layer until nothing moves: events handled, messages and datagrams queued. */
  private pump(now: number): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let round = 0; round < 64; round++) {
        let moved = false;
        const ctrl = this.ctrl;
        if (ctrl) {
          for (let b = ctrl.pollTransmit(); b; b = ctrl.pollTransmit()) {
            moved = true;
            this.out.push({ type: 'tcpSend', conn: 'ctrl', bytes: b });
          }
          for (let e = ctrl.pollEvent(); e; e = ctrl.pollEvent()) {
            moved = true;
            this.onCtrlEvent(e, now);
          }
        }
        const probe = this.senkusha;
        if (probe) {
          for (let d = probe.pollTransmit(); d; d = probe.pollTransmit()) {
            moved = true;
            this.out.push({ type: 'udp', port: SENKUSHA_PORT, bytes: d });
          }
          for (let e = probe.pollEvent(); e; e = probe.pollEvent()) {
            moved = true;
            this.onProbeEvent(e, now);
          }
        }
        const t = this.takion;
        if (t) {
          for (let e = t.pollEvent(); e; e = t.pollEvent()) {
            moved = true;
            this.onTakionEvent(e, now);
          }
        }
        const s = this.stream;
        if (s && t) {
          for (let o = s.pollTransmit(); o; o = s.pollTransmit()) {
            moved = true;
            if (t.state !== 'connected') continue;
            if (o.kind === 'crypt') t.setCrypt(o.local, o.remote);
            else {
              const tsn = t.sendMessage(o.channel, o.dataType, o.payload, now);
              // RTT from steady-state messages only: handshake acks wait for the console's ECDH work
              if (this.st === 'streaming') {
                if (this.sentAt.size >= 64) this.sentAt.clear(); // acks for abandoned chunks never come
                this.sentAt.set(tsn, now);
              }
              if (this.disconnect && this.disconnect.tsn === undefined) this.disconnect.tsn = tsn;
            }
          }
          for (let e = s.pollEvent(); e; e = s.pollEvent()) {
            moved = true;
            this.onStreamEvent(e, now);
          }
        }
        const av = this.av;
        if (av) {
          for (let o = av.pollEvent(); o; o = av.pollEvent()) {
            moved = true;
            this.onAvOutput(o);
          }
        }
        const fb = this.feedback;
        if (fb && t?.state === 'connected') {
          for (let o = fb.pollTransmit(); o; o = fb.pollTransmit()) {
            moved = true;
            const kp = t.allocKeyPos(o.payload.length + FEEDBACK_KEY_POS_EXTRA);
            t.sendRaw(encodeFeedbackPacket(o.type, o.seq, o.payload, t.localCrypt, kp), kp);
          }
        }
        if (t) {
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

  private onCtrlEvent(e: CtrlClientEvent, now: number): void {
    switch (e.type) {
      case 'sessionId':
        if (e.fallback) this.warn('the console sent no usable session id; using a stand-in');
        this.sessionId = e.sessionId;
        if (this.opts.senkusha === false) this.startTakion(now);
        else this.startProbe(now);
        return;
      case 'heartbeat':
        this.heartbeats.ctrlReceived++;
        return;
      case 'loginPinRequest':
        if (e.incorrect) this.console({ type: 'loginResult', ok: false });
        this.console({ type: 'loginPinRequest' });
        return;
      case 'loginSuccess':
        this.console({ type: 'loginResult', ok: true });
        return;
      case 'keyboardOpen':
        this.console({ type: 'keyboardOpen', text: e.text });
        return;
      case 'keyboardTextChange':
        this.console({ type: 'keyboardText', text: e.text });
        return;
      case 'keyboardCloseRemote':
        this.console({ type: 'keyboardClosed' });
        return;
      case 'display':
        this.console({ type: 'displayBlocked', blocked: !e.canDisplay });
        return;
      case 'warning':
        this.warn(`ctrl: ${e.message}`);
        return;
      case 'unknown':
        return;
      case 'lost':
        this.finish({ code: 'console-lost', message: e.error.message }, now);
        return;
    }
  }

  /** Senkusha (docs/protocol.md §10.1) before the stream: its RTT and MTU go into the launch spec. */
  private startProbe(now: number): void {
    if (this.senkusha || this.takion) return;
    this.setState('probing');
    this.senkusha = new SenkushaClient({ deadlineMs: this.opts.senkushaDeadlineMs ?? SENKUSHA_BUDGET_MS });
    this.senkusha.start(now);
  }

  private onProbeEvent(e: SenkushaClientEvent, now: number): void {
    if (e.type === 'progress') return;
    this.probe = { measured: e.type === 'done', rttMs: e.rttMs, mtuIn: e.mtuIn, mtuOut: e.mtuOut };
    if (e.type === 'failed')
      this.warn(
        `no RTT/MTU measurement (${e.error.message}); streaming with MTU ${e.mtuIn} and RTT ${e.rttMs} ms`,
      );
    this.startTakion(now);
  }

  private startTakion(now: number): void {
    if (this.takion || !this.rpcrypt || this.sessionId === undefined) return;
    const probe = this.probe ?? { ...SENKUSHA_FALLBACK, measured: false };
    this.setState('takion');
    this.takion = new TakionEndpoint({
      role: 'client',
      now,
      // the reference cuts messages for the smaller direction and announces the incoming MTU
      mtu: Math.min(probe.mtuIn, probe.mtuOut),
      isFirstMessage: isBangMessage,
    });
    this.stream = new StreamConnectionClient({
      target: this.target,
      sessionId: this.sessionId,
      rpcrypt: this.rpcrypt,
      launch: {
        width: this.profile.width,
        height: this.profile.height,
        maxFps: this.profile.maxFps,
        bitrateKbps: this.profile.bitrateKbps,
        mtu: probe.mtuIn,
        // whole milliseconds; a LAN's fraction of one is sent as 1, what the fallback says too
        rtt: Math.max(1, Math.round(probe.rttMs)),
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
        this.stream?.handle({ channel: e.channel, dataType: e.dataType, payload: e.payload }, now);
        return;
      case 'acked': {
        const sent = this.sentAt.get(e.tsn);
        if (sent !== undefined) {
          this.sentAt.delete(e.tsn);
          const sample = now - sent;
          this.rtt = this.rtt === undefined ? sample : this.rtt * 0.875 + sample * 0.125;
        }
        if (this.disconnect && e.tsn === this.disconnect.tsn)
          this.finish({ code: 'user', message: this.disconnect.message }, now);
        return;
      }
      case 'av':
        this.ctrl?.noteConsoleActivity(now);
        this.av?.handle(e, now);
        return;
      case 'packet':
        return; // feedback / congestion only travel towards the console
      case 'lost':
        this.finish(
          { code: 'console-lost', message: e.error.message.replace(/^Console lost/, 'console lost') },
          now,
        );
        return;
      case 'error':
        if (this.takion?.state === 'closed')
          this.finish({ code: 'error', message: e.error.message, error: e.error }, now);
        else this.warn(e.error.message);
        return;
    }
  }

  private onStreamEvent(e: StreamClientEvent, now: number): void {
    switch (e.type) {
      case 'bang': {
        const d = this.disconnect;
        if (d?.afterBang) {
          // crypt is on now (the stream switched it before this event): the DISCONNECT is tagged
          d.afterBang = false;
          d.until = now + DISCONNECT_ACK_WAIT_MS;
          this.stream?.disconnect();
        }
        return;
      }
      case 'streamInfo':
        this.onStreamInfo(e.streamInfo, now);
        return;
      case 'connected':
        if (this.st === 'closing') return; // a disconnect asked for during the handshake goes on
        this.streamingSince = now;
        this.nextCongestion = now + CONGESTION_INTERVAL_MS;
        this.nextStats = now + STATS_INTERVAL_MS;
        this.feedback = new FeedbackSender(this.ps5, now);
        this.setState('streaming');
        if (this.controller) this.feedback.handle(this.controller, now);
        return;
      case 'heartbeat':
        this.heartbeats.streamReceived++;
        return;
      case 'connectionQuality':
        this.console({
          type: 'connectionQuality',
          // a console sends bit/s (a captured PS5 message: 14563000 for a 15 Mbit/s stream)
          targetBitrateKbps: Math.round((e.quality.targetBitrate ?? 0) / 1000),
          rttMs: e.quality.rtt ?? 0,
          loss: e.quality.loss ?? 0,
        });
        return;
      case 'disconnected':
        this.finish(
          {
            code: 'console-disconnected',
            message: `the console ended the stream${e.reason ? ` ("${e.reason}")` : ''}`,
          },
          now,
        );
        return;
      case 'data':
        if (e.dataType === DataType.Rumble && e.payload.length >= 3) {
          this.rumbleCount++;
          this.console({ type: 'rumble', left: e.payload[1], right: e.payload[2] });
        }
        return;
      case 'message':
        return;
      case 'warning':
        this.warn(e.error.message);
        return;
      case 'error':
        this.finish({ code: 'error', message: e.error.message, error: e.error }, now);
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
    this.events.push({
      type: 'streamInfo',
      audioHeader: h,
      info: {
        width: res?.width ?? this.profile.width,
        height: res?.height ?? this.profile.height,
        fps: this.profile.maxFps,
        codec: this.codec,
        bitrateKbps: this.profile.bitrateKbps,
        audio: { channels: h.channels, sampleRate: h.rate, frameSize: h.frameSize },
        serverType: serverTypeName(this.serverType, this.target),
      },
    });
  }

  private onAvOutput(o: AvOutput): void {
    switch (o.type) {
      case 'frame':
        this.events.push({
          type: 'video',
          frame: { index: o.index, bytes: o.bytes, keyframe: o.keyframe, recovered: o.recovered },
        });
        return;
      case 'corrupt':
        this.stream?.corruptFrame(o.start, o.end);
        return;
      case 'idr':
        this.stream?.idrRequest();
        return;
      default:
        this.events.push(o);
    }
  }

  private sendCongestion(now: number): void {
    const t = this.takion;
    if (t?.state !== 'connected') return;
    const { received, lost } = this.av?.takeCongestion(now) ?? { received: 0, lost: 0 };
    const keyPos = t.allocKeyPos(15);
    t.sendRaw(formatCongestion({ received, lost, keyPos }), keyPos);
  }

  /**
   * A DISCONNECT the console can verify, then the end. Between BIG and BANG the console may have
   * switched its crypt on already, so an untagged DISCONNECT would be dropped as forged: wait for
   * BANG (a moment), send it tagged then; without BANG, closing the ctrl connection tells the
   * console. Before Takion there is no stream to disconnect: the ctrl connection closes.
   */
  private startDisconnect(now: number, message: string): void {
    const stream = this.stream;
    if (stream && this.takion?.state === 'connected') {
      this.setState('closing');
      if (stream.state === 'expectBang') {
        this.disconnect = { tsn: undefined, until: now + BANG_WAIT_MS, message, afterBang: true };
        return;
      }
      this.disconnect = { tsn: undefined, until: now + DISCONNECT_ACK_WAIT_MS, message, afterBang: false };
      stream.disconnect();
      return;
    }
    this.finish({ code: 'user', message }, now);
  }

  private console(message: ConsoleMessage): void {
    this.events.push({ type: 'console', message });
  }

  private warn(message: string): void {
    this.events.push({ type: 'warning', message });
  }

  private finish(reason: CloseReason, now: number): void {
    if (this.st === 'closed') return;
    this.finalStats = this.stats(now);
    // what the endpoint still has queued (the DISCONNECT, its acks) goes out before it closes
    const t = this.takion;
    if (t)
      for (let d = t.pollTransmit(); d; d = t.pollTransmit())
        this.out.push({ type: 'udp', port: TAKION_PORT, bytes: d });
    t?.close();
    this.senkusha?.close(now);
    const conn = this.httpConn();
    if (conn === 'init') this.out.push({ type: 'tcpClose', conn: 'init', graceful: false });
    if (this.ctrl || conn === 'ctrl')
      this.out.push({ type: 'tcpClose', conn: 'ctrl', graceful: reason.code === 'user' });
    this.deadline = undefined;
    this.standbyAt = undefined;
    this.disconnect = undefined;
    this.closeReason = reason;
    this.setState('closed');
    this.events.push({ type: 'stats', stats: this.finalStats });
    this.events.push({ type: 'closed', reason });
  }
}
