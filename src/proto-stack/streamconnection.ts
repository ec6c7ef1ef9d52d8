/**
 * Stream connection (docs/protocol.md §5): the protobuf conversation carried in Takion DATA messages.
 * Typed encode/decode of TakionMessage, and sans-I/O state machines for both roles that sit
 * above a message transport (TakionEndpoint): they take delivered `{channel, dataType, payload}`
 * messages plus the time, and return, in order, the messages to send and the moment to switch on
 * stream crypto. Order matters: BANG itself travels without GMAC, everything after it with.
 *
 * Client: BIG -> (BANG) -> crypt -> (STREAMINFO, possibly arriving before BANG was handled) ->
 * STREAMINFOACK on channel 9, CONTROLLERCONNECTION, mic STREAMINFO -> HEARTBEAT every second.
 * Console: checks BIG (session id, launch spec under the session rpcrypt, ECDH signature) ->
 * BANG -> crypt -> STREAMINFO for the requested resolution -> HEARTBEAT every second.
 */
import { randomBytes } from 'node:crypto';
import type protobuf from 'protobufjs';
import { ByteWriter, bytesEqual } from './bytes.js';
import { Ecdh } from './ecdh.js';
import { AuthError, ConsoleRefusedError, NetworkError, ParseError, RptuiError } from './errors.js';
import { GkCrypt } from './gkcrypt.js';
import {
  decodeLaunchSpec,
  encodeLaunchSpec,
  formatLaunchSpec,
  type LaunchSpecParams,
  type ParsedLaunchSpec,
  parseLaunchSpec,
} from './launchspec.js';
import { type Machine, Queue } from './machine.js';
import { decodeProto, encodeProto, takionType } from './protobuf.js';
import type { RpCrypt } from './rpcrypt.js';
import { DataType } from './takion.js';
import { isPs5, type Target } from './target.js';

/** Channels the reference uses: most messages on 1, loss reports on 2, STREAMINFOACK on 9. */
export const CHANNEL = { default: 1, loss: 2, streamInfoAck: 9 } as const;

/** tkproto.TakionMessage.PayloadType numbers used here. */
export const PAYLOAD_TYPE = {
  BIG: 0,
  BANG: 1,
  HEARTBEAT: 3,
  CORRUPTFRAME: 5,
  DISCONNECT: 8,
  SENKUSHA: 12,
  STREAMINFO: 13,
  STREAMINFOACK: 14,
  CONNECTIONQUALITY: 16,
  CONTROLLERCONNECTION: 21,
  IDRREQUEST: 25,
  TAKIONPROTOCOLREQUEST: 31,
  TAKIONPROTOCOLREQUESTACK: 32,
} as const;

export const CONTROLLER_TYPE = { dualshock4: 2, dualsense: 6 } as const;

/** BIG client_version = the Takion version: 9 for PS4, 12 for PS5. */
export const takionVersion = (target: Target): number => (isPs5(target) ? 12 : 9);

export const AUDIO_HEADER_SIZE = 14;
/** The client's microphone format: 1 channel, 16 bit, 48000 Hz, 480 samples per frame. */
export const MIC_AUDIO_HEADER = new ByteWriter(AUDIO_HEADER_SIZE)
  .u8(1)
  .u8(16)
  .u32(48000)
  .u32(480)
  .u32(1)
  .finish();

export const DISCONNECT_REASON_CLIENT = 'Client Disconnecting';
export const DISCONNECT_REASON_SERVER = 'Server shutting down';

// ------------------------------------------------------------------------------------------------
// Typed messages
// ------------------------------------------------------------------------------------------------

export interface BigPayload {
  clientVersion: number;
  sessionKey: string;
  launchSpec: string;
  encryptedKey: Uint8Array;
  ecdhPubKey?: Uint8Array;
  ecdhSig?: Uint8Array;
}

export interface BangPayload {
  serverVersion: number;
  token: number;
  encryptedKeyAccepted: boolean;
  versionAccepted: boolean;
  sessionKey: string;
  serverVersionString?: string;
  ecdhPubKey?: Uint8Array;
  ecdhSig?: Uint8Array;
}

export interface Resolution {
  width: number;
  height: number;
  /** Annex-B parameter sets (SPS/PPS, + VPS for HEVC) for the decoder. */
  videoHeader: Uint8Array;
}

export interface StreamInfo {
  resolutions: Resolution[];
  audioHeader: Uint8Array;
  startTimeout?: number;
  afkTimeout?: number;
  afkTimeoutDisconnect?: number;
  congestionControlInterval?: number;
}

export interface ConnectionQuality {
  targetBitrate?: number;
  upstreamBitrate?: number;
  upstreamLoss?: number;
  disableUpstreamAudio?: boolean;
  rtt?: number;
  loss?: number;
}

export interface SenkushaPayload {
  command: number;
  echo?: { state: boolean };
  mtu?: { id: number; mtuReq: number; mtuSent?: number; num?: number; sendDelay?: number; delta?: number };
  clientMtu?: { id: number; mtuReq: number; state: boolean; mtuDown?: number };
}

export type TakionMessage =
  | { type: 'big'; big: BigPayload }
  | { type: 'bang'; bang: BangPayload }
  | { type: 'streamInfo'; streamInfo: StreamInfo }
  | { type: 'streamInfoAck' }
  | { type: 'heartbeat' }
  | { type: 'disconnect'; reason: string }
  | { type: 'corruptFrame'; start: number; end: number }
  | { type: 'idrRequest' }
  | { type: 'controllerConnection'; connected?: boolean; controllerType?: number; controllerId?: number }
  | { type: 'connectionQuality'; quality: ConnectionQuality }
  | { type: 'takionProtocolRequest'; versions: number[] }
  | { type: 'takionProtocolRequestAck'; version?: number }
  | { type: 'senkusha'; senkusha: SenkushaPayload }
  /** A payload type this client does not act on; decoded only far enough to be named. */
  | { type: 'other'; payloadType: number };

let envelope: protobuf.Type | undefined;
const msgType = (): protobuf.Type => {
  envelope ??= takionType('TakionMessage');
  return envelope;
};

/** Drops undefined fields so protobufjs leaves optional fields off the wire. */
function defined(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

function wireObject(m: TakionMessage): Record<string, unknown> {
  switch (m.type) {
    case 'big':
      return {
        type: PAYLOAD_TYPE.BIG,
        big_payload: defined({
          client_version: m.big.clientVersion,
          session_key: m.big.sessionKey,
          launch_spec: m.big.launchSpec,
          encrypted_key: m.big.encryptedKey,
          ecdh_pub_key: m.big.ecdhPubKey,
          ecdh_sig: m.big.ecdhSig,
        }),
      };
    case 'bang':
      return {
        type: PAYLOAD_TYPE.BANG,
        bang_payload: defined({
          server_version: m.bang.serverVersion,
          token: m.bang.token,
          encrypted_key_accepted: m.bang.encryptedKeyAccepted,
          version_accepted: m.bang.versionAccepted,
          session_key: m.bang.sessionKey,
          server_version_string: m.bang.serverVersionString,
          ecdh_pub_key: m.bang.ecdhPubKey,
          ecdh_sig: m.bang.ecdhSig,
        }),
      };
    case 'streamInfo': {
      const s = m.streamInfo;
      return {
        type: PAYLOAD_TYPE.STREAMINFO,
        stream_info_payload: defined({
          resolution: s.resolutions.map((r) => ({
            width: r.width,
            height: r.height,
            video_header: r.videoHeader,
          })),
          audio_header: s.audioHeader,
          start_timeout: s.startTimeout,
          afk_timeout: s.afkTimeout,
          afk_timeout_disconnect: s.afkTimeoutDisconnect,
          congestion_control_interval: s.congestionControlInterval,
        }),
      };
    }
    case 'streamInfoAck':
      return { type: PAYLOAD_TYPE.STREAMINFOACK };
    case 'heartbeat':
      return { type: PAYLOAD_TYPE.HEARTBEAT };
    case 'idrRequest':
      return { type: PAYLOAD_TYPE.IDRREQUEST };
    case 'disconnect':
      return { type: PAYLOAD_TYPE.DISCONNECT, disconnect_payload: { reason: m.reason } };
    case 'corruptFrame':
      return { type: PAYLOAD_TYPE.CORRUPTFRAME, corrupt_payload: { start: m.start, end: m.end } };
    case 'controllerConnection':
      return {
        type: PAYLOAD_TYPE.CONTROLLERCONNECTION,
        controller_connection_payload: defined({
          controller_id: m.controllerId,
          connected: m.connected,
          controller_type: m.controllerType,
        }),
      };
    case 'connectionQuality': {
      const q = m.quality;
      return {
        type: PAYLOAD_TYPE.CONNECTIONQUALITY,
        connection_quality_payload: defined({
          target_bitrate: q.targetBitrate,
          upstream_bitrate: q.upstreamBitrate,
          upstream_loss: q.upstreamLoss,
          disable_upstream_audio: q.disableUpstreamAudio,
          rtt: q.rtt,
          loss: q.loss,
        }),
      };
    }
    case 'takionProtocolRequest':
      return {
        type: PAYLOAD_TYPE.TAKIONPROTOCOLREQUEST,
        takion_protocol_request: { supported_takion_versions: m.versions },
      };
    case 'takionProtocolRequestAck':
      return {
        type: PAYLOAD_TYPE.TAKIONPROTOCOLREQUESTACK,
        takion_protocol_request_ack: defined({ takion_protocol_version: m.version }),
      };
    case 'senkusha': {
      const s = m.senkusha;
      return {
        type: PAYLOAD_TYPE.SENKUSHA,
        senkusha_payload: defined({
          command: s.command,
          echo_command: s.echo,
          mtu_command: s.mtu
            ? defined({
                id: s.mtu.id,
                mtu_req: s.mtu.mtuReq,
                mtu_sent: s.mtu.mtuSent,
                num: s.mtu.num,
                send_delay: s.mtu.sendDelay,
                delta: s.mtu.delta,
              })
            : undefined,
          client_mtu_command: s.clientMtu
            ? defined({
                id: s.clientMtu.id,
                mtu_req: s.clientMtu.mtuReq,
                state: s.clientMtu.state,
                mtu_down: s.clientMtu.mtuDown,
              })
            : undefined,
        }),
      };
    }
    case 'other':
      return { type: m.payloadType };
  }
}

export function encodeTakionMessage(m: TakionMessage): Uint8Array {
  return encodeProto(msgType(), wireObject(m));
}

// Decoded protobufjs objects are loosely typed and carry defaults on their prototype: these helpers
// read own (present) fields only.
type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (typeof v === 'object' && v !== null ? (v as Obj) : undefined);
const has = (o: Obj, k: string): boolean => Object.hasOwn(o, k) && o[k] !== undefined && o[k] !== null;
const num = (o: Obj, k: string): number | undefined => (has(o, k) ? Number(o[k]) : undefined);
const bool = (o: Obj, k: string): boolean | undefined => (has(o, k) ? Boolean(o[k]) : undefined);
const bytes = (o: Obj, k: string): Uint8Array | undefined =>
  has(o, k) && o[k] instanceof Uint8Array ? Uint8Array.from(o[k] as Uint8Array) : undefined;
const str = (o: Obj, k: string): string | undefined => (has(o, k) ? String(o[k]) : undefined);
/** uint64 fields come back as a Long when the long package is present. */
function longNumber(o: Obj, k: string): number | undefined {
  if (!has(o, k)) return undefined;
  const v = o[k] as { toNumber?: () => number };
  return typeof v.toNumber === 'function' ? v.toNumber() : Number(v);
}

function payload(m: Obj, field: string, what: string): Obj {
  const p = obj(m[field]);
  if (!p || !has(m, field)) throw new ParseError('protobuf', `${what} message without its payload`);
  return p;
}

/** Decodes one TakionMessage; ParseError for anything malformed (never another error type). */
export function decodeTakionMessage(buf: Uint8Array): TakionMessage {
  const m = decodeProto(msgType(), buf) as unknown as Obj;
  const t = Number(m.type);
  switch (t) {
    case PAYLOAD_TYPE.BIG: {
      const p = payload(m, 'big_payload', 'BIG');
      return {
        type: 'big',
        big: {
          clientVersion: Number(p.client_version),
          sessionKey: String(p.session_key),
          launchSpec: String(p.launch_spec),
          encryptedKey: bytes(p, 'encrypted_key') ?? new Uint8Array(0),
          ecdhPubKey: bytes(p, 'ecdh_pub_key'),
          ecdhSig: bytes(p, 'ecdh_sig'),
        },
      };
    }
    case PAYLOAD_TYPE.BANG: {
      const p = payload(m, 'bang_payload', 'BANG');
      return {
        type: 'bang',
        bang: {
          serverVersion: Number(p.server_version),
          token: Number(p.token),
          encryptedKeyAccepted: Boolean(p.encrypted_key_accepted),
          versionAccepted: Boolean(p.version_accepted),
          sessionKey: String(p.session_key),
          serverVersionString: str(p, 'server_version_string'),
          ecdhPubKey: bytes(p, 'ecdh_pub_key'),
          ecdhSig: bytes(p, 'ecdh_sig'),
        },
      };
    }
    case PAYLOAD_TYPE.STREAMINFO: {
      const p = payload(m, 'stream_info_payload', 'STREAMINFO');
      const res = Array.isArray(p.resolution) ? p.resolution : [];
      return {
        type: 'streamInfo',
        streamInfo: {
          resolutions: res.map((r) => {
            const o = obj(r) ?? {};
            return {
              width: Number(o.width),
              height: Number(o.height),
              videoHeader: bytes(o, 'video_header') ?? new Uint8Array(0),
            };
          }),
          audioHeader: bytes(p, 'audio_header') ?? new Uint8Array(0),
          startTimeout: num(p, 'start_timeout'),
          afkTimeout: num(p, 'afk_timeout'),
          afkTimeoutDisconnect: num(p, 'afk_timeout_disconnect'),
          congestionControlInterval: num(p, 'congestion_control_interval'),
        },
      };
    }
    case PAYLOAD_TYPE.STREAMINFOACK:
      return { type: 'streamInfoAck' };
    case PAYLOAD_TYPE.HEARTBEAT:
      return { type: 'heartbeat' };
    case PAYLOAD_TYPE.IDRREQUEST:
      return { type: 'idrRequest' };
    case PAYLOAD_TYPE.DISCONNECT: {
      // A DISCONNECT without its payload still means "gone"; the reason is then unknown.
      const p = obj(m.disconnect_payload);
      return { type: 'disconnect', reason: p ? String(p.reason) : '' };
    }
    case PAYLOAD_TYPE.CORRUPTFRAME: {
      const p = payload(m, 'corrupt_payload', 'CORRUPTFRAME');
      return { type: 'corruptFrame', start: Number(p.start), end: Number(p.end) };
    }
    case PAYLOAD_TYPE.CONTROLLERCONNECTION: {
      const p = obj(m.controller_connection_payload) ?? {};
      return {
        type: 'controllerConnection',
        connected: bool(p, 'connected'),
        controllerType: num(p, 'controller_type'),
        controllerId: num(p, 'controller_id'),
      };
    }
    case PAYLOAD_TYPE.CONNECTIONQUALITY: {
      const p = obj(m.connection_quality_payload) ?? {};
      return {
        type: 'connectionQuality',
        quality: defined({
          targetBitrate: num(p, 'target_bitrate'),
          upstreamBitrate: num(p, 'upstream_bitrate'),
          upstreamLoss: num(p, 'upstream_loss'),
          disableUpstreamAudio: bool(p, 'disable_upstream_audio'),
          rtt: num(p, 'rtt'),
          loss: longNumber(p, 'loss'),
        }) as ConnectionQuality,
      };
    }
    case PAYLOAD_TYPE.TAKIONPROTOCOLREQUEST: {
      const p = obj(m.takion_protocol_request) ?? {};
      const v = Array.isArray(p.supported_takion_versions) ? p.supported_takion_versions : [];
      return { type: 'takionProtocolRequest', versions: v.map(Number) };
    }
    case PAYLOAD_TYPE.TAKIONPROTOCOLREQUESTACK: {
      const p = obj(m.takion_protocol_request_ack) ?? {};
      return { type: 'takionProtocolRequestAck', version: num(p, 'takion_protocol_version') };
    }
    case PAYLOAD_TYPE.SENKUSHA: {
      const p = payload(m, 'senkusha_payload', 'SENKUSHA');
      const echo = obj(p.echo_command);
      const mtu = obj(p.mtu_command);
      const cm = obj(p.client_mtu_command);
      return {
        type: 'senkusha',
        senkusha: defined({
          command: Number(p.command),
          echo: echo && has(p, 'echo_command') ? { state: Boolean(echo.state) } : undefined,
          mtu:
            mtu && has(p, 'mtu_command')
              ? (defined({
                  id: Number(mtu.id),
                  mtuReq: Number(mtu.mtu_req),
                  mtuSent: num(mtu, 'mtu_sent'),
                  num: num(mtu, 'num'),
                  sendDelay: num(mtu, 'send_delay'),
                  delta: num(mtu, 'delta'),
                }) as SenkushaPayload['mtu'])
              : undefined,
          clientMtu:
            cm && has(p, 'client_mtu_command')
              ? (defined({
                  id: Number(cm.id),
                  mtuReq: Number(cm.mtu_req),
                  state: Boolean(cm.state),
                  mtuDown: num(cm, 'mtu_down'),
                }) as SenkushaPayload['clientMtu'])
              : undefined,
        }) as unknown as SenkushaPayload,
      };
    }
    default:
      return { type: 'other', payloadType: t };
  }
}

// ------------------------------------------------------------------------------------------------
// Shared state-machine plumbing
// ------------------------------------------------------------------------------------------------

/** A message as the transport delivers it or is asked to send it. */
export interface StreamMessage {
  channel: number;
  dataType: number;
  payload: Uint8Array;
}

/** What to do, in this order: send a message, or switch the transport's crypt on. */
export type StreamOutput =
  | ({ kind: 'message' } & StreamMessage)
  | { kind: 'crypt'; local: GkCrypt; remote: GkCrypt };

export const STREAM_EXPECT_TIMEOUT_MS = 5000;
export const STREAM_HEARTBEAT_INTERVAL_MS = 1000;
export const STREAM_CLIENT_TIMEOUT_MS = 5000;

abstract class StreamBase<E> {
  protected readonly out = new Queue<StreamOutput>();
  protected readonly events = new Queue<E>();

  pollTransmit(): StreamOutput | undefined {
    return this.out.shift();
  }

  pollEvent(): E | undefined {
    return this.events.shift();
  }

  protected send(m: TakionMessage, channel: number = CHANNEL.default): void {
    this.out.push({
      kind: 'message',
      channel,
      dataType: DataType.Protobuf,
      payload: encodeTakionMessage(m),
    });
  }
}

/**
 * The protobuf message a DATA chunk carries, or undefined once the chunk is reported instead:
 * other data types go up raw as 'data' (feedback payloads), undecodable protobuf as a 'warning'.
 */
function decodeOrReport(
  m: StreamMessage,
  report: (
    e:
      | { type: 'data'; channel: number; dataType: number; payload: Uint8Array }
      | { type: 'warning'; error: ParseError },
  ) => void,
): TakionMessage | undefined {
  if (m.dataType !== DataType.Protobuf) {
    report({ type: 'data', channel: m.channel, dataType: m.dataType, payload: m.payload });
    return undefined;
  }
  try {
    return decodeTakionMessage(m.payload);
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    report({ type: 'warning', error: e });
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------
// Client role
// ------------------------------------------------------------------------------------------------

export type StreamClientEvent =
  | { type: 'bang'; bang: BangPayload }
  | { type: 'streamInfo'; streamInfo: StreamInfo }
  /** STREAMINFO handled and answered: AV can flow (the reference's CONNECTED). */
  | { type: 'connected' }
  | { type: 'heartbeat' }
  | { type: 'connectionQuality'; quality: ConnectionQuality }
  /** The console ended the stream; the connection is closed. */
  | { type: 'disconnected'; reason: string }
  /** DATA that is not protobuf (rumble, pad info, trigger effects) for the feedback layer. */
  | { type: 'data'; channel: number; dataType: number; payload: Uint8Array }
  /** Any other protobuf message. */
  | { type: 'message'; message: TakionMessage }
  /** An undecodable message, dropped. */
  | { type: 'warning'; error: ParseError }
  /** Fatal: timeout, refusal or authentication failure; the connection is closed. */
  | { type: 'error'; error: RptuiError };

export type StreamClientState = 'idle' | 'expectBang' | 'expectStreamInfo' | 'running' | 'closed';

export interface StreamConnectionClientOptions {
  target: Target;
  /** From the ctrl SESSION_ID (or its fallback). */
  sessionId: string;
  /** The session RpCrypt: masks the launch spec. */
  rpcrypt: RpCrypt;
  /** Resolution, fps, bitrate, MTU, RTT, codec of the launch spec. */
  launch: Omit<LaunchSpecParams, 'target' | 'handshakeKey'>;
  /** 16 random bytes; generated when absent. */
  handshakeKey?: Uint8Array;
  /** Generated when absent. */
  ecdh?: Ecdh;
  /** Announce a DualSense instead of a DualShock 4. */
  dualSense?: boolean;
  expectTimeoutMs?: number;
  heartbeatIntervalMs?: number;
}

export class StreamConnectionClient
  extends StreamBase<StreamClientEvent>
  implements Machine<StreamMessage, StreamClientEvent, StreamOutput>
{
  readonly handshakeKey: Uint8Array;
  readonly ecdh: Ecdh;
  readonly launchSpecJson: string;
  private readonly opts: StreamConnectionClientOptions;
  private st: StreamClientState = 'idle';
  private deadline: number | undefined;
  private nextHeartbeat: number | undefined;
  private earlyStreamInfo: StreamInfo | undefined;

  constructor(opts: StreamConnectionClientOptions) {
    super();
    this.opts = opts;
    this.handshakeKey = opts.handshakeKey ?? new Uint8Array(randomBytes(16));
    this.ecdh = opts.ecdh ?? Ecdh.generate();
    this.launchSpecJson = formatLaunchSpec({
      ...opts.launch,
      target: opts.target,
      handshakeKey: this.handshakeKey,
    });
  }

  get state(): StreamClientState {
    return this.st;
  }

  /** Call once the transport is connected: sends BIG. */
  start(now: number): void {
    if (this.st !== 'idle') return;
    this.send({
      type: 'big',
      big: {
        clientVersion: takionVersion(this.opts.target),
        sessionKey: this.opts.sessionId,
        launchSpec: encodeLaunchSpec(this.launchSpecJson, this.opts.rpcrypt),
        encryptedKey: new Uint8Array(4),
        ecdhPubKey: this.ecdh.publicKey,
        ecdhSig: this.ecdh.sign(this.handshakeKey),
      },
    });
    this.st = 'expectBang';
    this.deadline = now + this.expectTimeout;
  }

  private get expectTimeout(): number {
    return this.opts.expectTimeoutMs ?? STREAM_EXPECT_TIMEOUT_MS;
  }

  handle(m: StreamMessage, now: number): void {
    if (this.st === 'closed') return;
    const msg = decodeOrReport(m, (e) => this.events.push(e));
    if (!msg) return;
    if (msg.type === 'disconnect') {
      this.st = 'closed';
      this.events.push({ type: 'disconnected', reason: msg.reason });
      return;
    }
    switch (this.st) {
      case 'expectBang':
        if (msg.type === 'bang') this.onBang(msg.bang, now);
        else if (msg.type === 'streamInfo') this.earlyStreamInfo ??= msg.streamInfo;
        else this.events.push({ type: 'message', message: msg });
        return;
      case 'expectStreamInfo':
        if (msg.type === 'streamInfo') this.onStreamInfo(msg.streamInfo, now);
        else this.events.push({ type: 'message', message: msg });
        return;
      default:
        if (msg.type === 'heartbeat') this.events.push({ type: 'heartbeat' });
        else if (msg.type === 'connectionQuality')
          this.events.push({ type: 'connectionQuality', quality: msg.quality });
        else this.events.push({ type: 'message', message: msg });
    }
  }

  handleTimeout(now: number): void {
    if (
      this.deadline !== undefined &&
      now >= this.deadline &&
      (this.st === 'expectBang' || this.st === 'expectStreamInfo')
    ) {
      const secs = Math.round(this.expectTimeout / 1000);
      this.fail(
        this.st === 'expectBang'
          ? new NetworkError(`the console did not answer the stream request (no BANG within ${secs} s)`, {
              hint: 'the console may have dropped the session; check that it is awake and reachable on UDP 9296, then reconnect',
            })
          : new NetworkError(`the console accepted the stream but sent no stream info within ${secs} s`, {
              hint: 'reconnect; if it keeps happening, try a lower resolution or another codec',
            }),
      );
    }
    if (this.st === 'running' && this.nextHeartbeat !== undefined && now >= this.nextHeartbeat) {
      this.send({ type: 'heartbeat' });
      this.nextHeartbeat = Math.max(this.nextHeartbeat + this.heartbeatInterval, now + 1);
    }
  }

  pollTimeout(): number | undefined {
    if (this.st === 'expectBang' || this.st === 'expectStreamInfo') return this.deadline;
    if (this.st === 'running') return this.nextHeartbeat;
    return undefined;
  }

  private get heartbeatInterval(): number {
    return this.opts.heartbeatIntervalMs ?? STREAM_HEARTBEAT_INTERVAL_MS;
  }

  /** Report frames start..end as lost (channel 2). */
  corruptFrame(start: number, end: number): void {
    if (this.st !== 'running') return;
    this.send({ type: 'corruptFrame', start: start & 0xffff, end: end & 0xffff }, CHANNEL.loss);
  }

  /** Ask for a key frame (channel 2). */
  idrRequest(): void {
    if (this.st !== 'running') return;
    this.send({ type: 'idrRequest' }, CHANNEL.loss);
  }

  /** Clean shutdown: DISCONNECT, then closed. */
  disconnect(reason = DISCONNECT_REASON_CLIENT): void {
    if (this.st === 'closed' || this.st === 'idle') {
      this.st = 'closed';
      return;
    }
    this.send({ type: 'disconnect', reason });
    this.st = 'closed';
  }

  private fail(error: RptuiError): void {
    // like the reference, leave with a DISCONNECT so the console frees the session at once
    this.send({ type: 'disconnect', reason: DISCONNECT_REASON_CLIENT });
    this.st = 'closed';
    this.deadline = undefined;
    this.events.push({ type: 'error', error });
  }

  private onBang(bang: BangPayload, now: number): void {
    if (!bang.versionAccepted || !bang.encryptedKeyAccepted) {
      const what = bang.versionAccepted ? 'its session key' : 'its protocol version';
      this.fail(
        new ConsoleRefusedError(`the console refused the stream request (it did not accept ${what})`, {
          hint: 'reconnect; if it persists, re-register the console (rptui register) and check its firmware',
        }),
      );
      return;
    }
    if (!bang.ecdhPubKey || !bang.ecdhSig) {
      this.fail(new ParseError('streamconnection', 'BANG without the console ECDH public key or signature'));
      return;
    }
    let secret: Uint8Array;
    try {
      secret = this.ecdh.sharedSecret(bang.ecdhPubKey, bang.ecdhSig, this.handshakeKey);
    } catch (e) {
      if (e instanceof AuthError || e instanceof ParseError) {
        this.fail(e);
        return;
      }
      throw e;
    }
    this.out.push({
      kind: 'crypt',
      local: new GkCrypt(2, this.handshakeKey, secret),
      remote: new GkCrypt(3, this.handshakeKey, secret),
    });
    this.events.push({ type: 'bang', bang });
    this.st = 'expectStreamInfo';
    this.deadline = now + this.expectTimeout;
    const early = this.earlyStreamInfo;
    this.earlyStreamInfo = undefined;
    if (early) this.onStreamInfo(early, now);
  }

  private onStreamInfo(info: StreamInfo, now: number): void {
    if (info.audioHeader.length !== AUDIO_HEADER_SIZE) {
      this.fail(
        new ParseError(
          'streamconnection',
          `STREAMINFO audio header is ${info.audioHeader.length} bytes, expected ${AUDIO_HEADER_SIZE}`,
        ),
      );
      return;
    }
    this.events.push({ type: 'streamInfo', streamInfo: info });
    this.send({ type: 'streamInfoAck' }, CHANNEL.streamInfoAck);
    this.send({
      type: 'controllerConnection',
      connected: true,
      controllerType: this.opts.dualSense ? CONTROLLER_TYPE.dualsense : CONTROLLER_TYPE.dualshock4,
    });
    this.send({ type: 'streamInfo', streamInfo: { resolutions: [], audioHeader: MIC_AUDIO_HEADER } });
    this.st = 'running';
    this.deadline = undefined;
    this.nextHeartbeat = now + this.heartbeatInterval;
    this.events.push({ type: 'connected' });
  }
}

// ------------------------------------------------------------------------------------------------
// Console role (simulator)
// ------------------------------------------------------------------------------------------------

export type StreamConsoleEvent =
  /** BIG accepted; the client's launch spec as read. */
  | { type: 'big'; big: BigPayload; launchSpec: ParsedLaunchSpec }
  /** BIG refused (a BANG with a false flag was sent); the connection is closed. */
  | { type: 'rejected'; error: RptuiError }
  | { type: 'streamInfoSent'; streamInfo: StreamInfo }
  /** Every protobuf message from the client, for the log (HEARTBEAT, DISCONNECT, CORRUPTFRAME ...). */
  | { type: 'received'; channel: number; message: TakionMessage }
  /** The client said DISCONNECT; the connection is closed. */
  | { type: 'disconnected'; reason: string }
  | { type: 'data'; channel: number; dataType: number; payload: Uint8Array }
  | { type: 'warning'; error: ParseError }
  /** The client went silent; the connection is closed. */
  | { type: 'clientLost'; silentMs: number };

export type StreamConsoleState = 'expectBig' | 'running' | 'closed';

export interface StreamConnectionConsoleOptions {
  target: Target;
  /** The id the ctrl channel handed out. */
  sessionId: string;
  /** The session RpCrypt: unmasks the launch spec. */
  rpcrypt: RpCrypt;
  /** STREAMINFO for what the launch spec asks (video headers from the simulator's media). */
  streamInfo: (spec: ParsedLaunchSpec) => StreamInfo;
  ecdh?: Ecdh;
  now: number;
  /** A console takes any session key (a client may use a stand-in); true makes the check strict. */
  strictSessionId?: boolean;
  heartbeatIntervalMs?: number;
  clientTimeoutMs?: number;
}

export class StreamConnectionConsole
  extends StreamBase<StreamConsoleEvent>
  implements Machine<StreamMessage, StreamConsoleEvent, StreamOutput>
{
  readonly ecdh: Ecdh;
  private readonly opts: StreamConnectionConsoleOptions;
  private st: StreamConsoleState = 'expectBig';
  private lastHeard: number;
  private nextHeartbeat: number | undefined;
  /** What the accepted launch spec asked for. */
  launchSpec: ParsedLaunchSpec | undefined;

  constructor(opts: StreamConnectionConsoleOptions) {
    super();
    this.opts = opts;
    this.ecdh = opts.ecdh ?? Ecdh.generate();
    this.lastHeard = opts.now;
  }

  get state(): StreamConsoleState {
    return this.st;
  }

  handle(m: StreamMessage, now: number): void {
    if (this.st === 'closed') return;
    this.lastHeard = now;
    const msg = decodeOrReport(m, (e) => this.events.push(e));
    if (!msg) return;
    this.events.push({ type: 'received', channel: m.channel, message: msg });
    if (msg.type === 'disconnect') {
      this.st = 'closed';
      this.events.push({ type: 'disconnected', reason: msg.reason });
      return;
    }
    if (msg.type === 'big' && this.st === 'expectBig') this.onBig(msg.big, now);
  }

  /** Other client traffic (feedback, acks) proves it is alive. */
  noteClientActivity(now: number): void {
    if (now > this.lastHeard) this.lastHeard = now;
  }

  handleTimeout(now: number): void {
    if (this.st === 'running') {
      const timeout = this.opts.clientTimeoutMs ?? STREAM_CLIENT_TIMEOUT_MS;
      if (now - this.lastHeard >= timeout) {
        this.st = 'closed';
        this.events.push({ type: 'clientLost', silentMs: now - this.lastHeard });
      } else if (this.nextHeartbeat !== undefined && now >= this.nextHeartbeat) {
        this.send({ type: 'heartbeat' });
        this.nextHeartbeat = Math.max(this.nextHeartbeat + this.heartbeatInterval, now + 1);
      }
    }
  }

  pollTimeout(): number | undefined {
    if (this.st !== 'running' || this.nextHeartbeat === undefined) return undefined;
    return Math.min(
      this.nextHeartbeat,
      this.lastHeard + (this.opts.clientTimeoutMs ?? STREAM_CLIENT_TIMEOUT_MS),
    );
  }

  /** Ends the stream from the console side. */
  disconnect(reason = DISCONNECT_REASON_SERVER): void {
    if (this.st === 'closed') return;
    this.send({ type: 'disconnect', reason });
    this.st = 'closed';
  }

  /** Sends CONNECTIONQUALITY (what a console reports periodically). */
  sendConnectionQuality(q: ConnectionQuality): void {
    if (this.st === 'running') this.send({ type: 'connectionQuality', quality: q });
  }

  private get heartbeatInterval(): number {
    return this.opts.heartbeatIntervalMs ?? STREAM_HEARTBEAT_INTERVAL_MS;
  }

  private reject(big: BigPayload, versionOk: boolean, error: RptuiError): void {
    this.send({
      type: 'bang',
      bang: {
        serverVersion: big.clientVersion,
        token: 0,
        encryptedKeyAccepted: false,
        versionAccepted: versionOk,
        sessionKey: '',
      },
    });
    this.st = 'closed';
    this.events.push({ type: 'rejected', error });
  }

  private onBig(big: BigPayload, now: number): void {
    const want = takionVersion(this.opts.target);
    if (big.clientVersion !== want) {
      this.reject(
        big,
        false,
        new ConsoleRefusedError(`BIG client_version ${big.clientVersion}, this console speaks ${want}`),
      );
      return;
    }
    if (this.opts.strictSessionId && big.sessionKey !== this.opts.sessionId) {
      this.reject(big, true, new AuthError('BIG carries a session key this console did not hand out'));
      return;
    }
    let spec: ParsedLaunchSpec;
    let secret: Uint8Array;
    try {
      spec = parseLaunchSpec(decodeLaunchSpec(big.launchSpec, this.opts.rpcrypt));
      if (!big.ecdhPubKey || !big.ecdhSig)
        throw new ParseError('streamconnection', 'BIG without ECDH public key or signature');
      secret = this.ecdh.sharedSecret(big.ecdhPubKey, big.ecdhSig, spec.handshakeKey);
    } catch (e) {
      if (e instanceof ParseError || e instanceof AuthError) {
        this.reject(big, true, e);
        return;
      }
      throw e;
    }
    if (!bytesEqual(big.encryptedKey, new Uint8Array(4)))
      this.events.push({
        type: 'warning',
        error: new ParseError('streamconnection', 'BIG encrypted_key is not 4 zero bytes'),
      });
    this.launchSpec = spec;
    this.events.push({ type: 'big', big, launchSpec: spec });
    this.send({
      type: 'bang',
      bang: {
        serverVersion: want,
        token: 0,
        encryptedKeyAccepted: true,
        versionAccepted: true,
        sessionKey: this.opts.sessionId,
        ecdhPubKey: this.ecdh.publicKey,
        ecdhSig: this.ecdh.sign(spec.handshakeKey),
      },
    });
    this.out.push({
      kind: 'crypt',
      local: new GkCrypt(3, spec.handshakeKey, secret),
      remote: new GkCrypt(2, spec.handshakeKey, secret),
    });
    const info = this.opts.streamInfo(spec);
    this.send({ type: 'streamInfo', streamInfo: info });
    this.events.push({ type: 'streamInfoSent', streamInfo: info });
    this.st = 'running';
    this.lastHeard = now;
    this.nextHeartbeat = now + this.heartbeatInterval;
  }
}

/**
 * Whether a DATA message is BANG, judged by its content (TakionEndpoint's isFirstMessage: the
 * console's first message, wherever its TSNs start).
 */
export function isBangMessage(dataType: number, payload: Uint8Array): boolean {
  if (dataType !== DataType.Protobuf) return false;
  try {
    return decodeTakionMessage(payload).type === 'bang';
  } catch (e) {
    if (e instanceof RptuiError) return false;
    throw e;
  }
}
