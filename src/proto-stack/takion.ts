/**
 * Takion: the SCTP-like UDP transport of a Remote Play stream (docs/protocol.md §4).
 *
 * Part 1 is the packet codec: base types, where each type carries its GMAC tag and key_pos,
 * the GMAC rules, and the CONTROL packet with its chunks (INIT, INIT_ACK, COOKIE, COOKIE_ACK,
 * DATA incl. continuation pieces, DATA_ACK).
 *
 * Part 2 is TakionEndpoint, a sans-I/O state machine for either side (client or console):
 * bytes and the current time go in, datagrams to send and events come out. See its doc comment
 * for the calling convention.
 */
import { randomBytes } from 'node:crypto';
import { bytesEqual, concatBytes, view } from './bytes.js';
import { NetworkError, ParseError, RptuiError, UsageError } from './errors.js';
import { type GkCrypt, GMAC_SIZE } from './gkcrypt.js';
import { KeyState } from './keystate.js';
import { type Machine, Queue } from './machine.js';
import { ReorderQueue } from './reorderqueue.js';
import { seq32Add, seq32Lt } from './seqnum.js';

// ---------------------------------------------------------------------------------------------
// Part 1: codec

/** Low nibble of byte 0 of every datagram. */
export enum TakionType {
  Control = 0,
  FeedbackHistory = 1,
  Video = 2,
  Audio = 3,
  Handshake = 4,
  Congestion = 5,
  FeedbackState = 6,
  ClientInfo = 8,
}

export const baseType = (packet: Uint8Array): number => packet[0] & 0x0f;

/** Offset of the 4-byte GMAC tag in a packet of base type t, if that type carries one. */
export function gmacOffset(t: TakionType): number | undefined {
  switch (t) {
    case TakionType.Control:
      return 5;
    case TakionType.FeedbackHistory:
    case TakionType.FeedbackState:
      return 8;
    case TakionType.Video:
    case TakionType.Audio:
      return 10;
    case TakionType.Congestion:
      return 7;
    default:
      return undefined;
  }
}

/** Offset of the 32-bit (low half) key_pos field in a packet of base type t, if any. */
export function keyPosOffset(t: TakionType): number | undefined {
  switch (t) {
    case TakionType.Control:
      return 9;
    case TakionType.FeedbackHistory:
    case TakionType.FeedbackState:
      return 4;
    case TakionType.Video:
    case TakionType.Audio:
      return 14;
    case TakionType.Congestion:
      return 11;
    default:
      return undefined;
  }
}

/** CONTROL and CONGESTION tag their packet with the key_pos field zeroed; the others keep it. */
const zeroesKeyPos = (t: number): boolean => t === TakionType.Control || t === TakionType.Congestion;

/** By base type (the low nibble of byte 0): offset of the GMAC tag, of key_pos (-1: none). */
const MAC_AT = new Int8Array(16).fill(-1);
const KEY_POS_AT = new Int8Array(16).fill(-1);
for (let t = 0; t < 16; t++) {
  const mac = gmacOffset(t);
  const kp = keyPosOffset(t);
  if (mac !== undefined && kp !== undefined) {
    MAC_AT[t] = mac;
    KEY_POS_AT[t] = kp;
  }
}

/** The packet's base type, if it carries a tag and key_pos and is long enough for both; else -1. */
function taggedType(packet: Uint8Array): number {
  if (packet.length < 1) return -1;
  const t = packet[0] & 0x0f;
  const mac = MAC_AT[t];
  if (mac < 0 || packet.length < Math.max(mac, KEY_POS_AT[t]) + GMAC_SIZE) return -1;
  return t;
}

const u32 = (b: Uint8Array, o: number): number =>
  ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/** Reads the 32-bit key_pos field of a packet (undefined if its type has none or it is too short). */
export function readKeyPosLow(packet: Uint8Array): number | undefined {
  const t = taggedType(packet);
  return t < 0 ? undefined : u32(packet, KEY_POS_AT[t]);
}

/**
 * Writes key_pos (low 32 bits) into its field, then the GMAC of the whole packet at that key_pos
 * (GMAC field zeroed; for CONTROL/CONGESTION the key_pos field is zeroed too while tagging).
 */
export function applyGmac(packet: Uint8Array, crypt: GkCrypt, keyPos: number): void {
  const t = taggedType(packet);
  if (t < 0)
    throw new UsageError(
      `takion: cannot tag a packet of base type ${packet[0] & 0x0f} / ${packet.length} bytes`,
    );
  const dv = view(packet);
  const mac = MAC_AT[t];
  const kp = KEY_POS_AT[t];
  packet.fill(0, mac, mac + GMAC_SIZE);
  dv.setUint32(kp, zeroesKeyPos(t) ? 0 : keyPos % 0x1_0000_0000);
  const tag = crypt.gmac(packet, keyPos);
  dv.setUint32(kp, keyPos % 0x1_0000_0000);
  packet.set(tag, mac);
}

/** True iff the packet's tag is the GMAC at keyPos (the full 64-bit position). Never modifies packet. */
export function verifyGmac(packet: Uint8Array, crypt: GkCrypt, keyPos: number): boolean {
  const t = taggedType(packet);
  return t >= 0 && verifyTagged(packet, t, crypt, keyPos);
}

/** verifyGmac for a packet of taggedType t. */
function verifyTagged(packet: Uint8Array, t: number, crypt: GkCrypt, keyPos: number): boolean {
  // the tag is computed over the packet in place, the zeroed fields only in the hash input
  const mac = MAC_AT[t];
  return crypt.gmacWord(packet, keyPos, mac, zeroesKeyPos(t) ? KEY_POS_AT[t] : -1) === u32(packet, mac);
}

export enum ChunkType {
  Data = 0x00,
  Init = 0x01,
  InitAck = 0x02,
  DataAck = 0x03,
  Cookie = 0x0a,
  CookieAck = 0x0b,
}

/** The console's UDP port for Takion (docs/protocol.md, Ports). */
export const TAKION_PORT = 9296;

/** Well-known data_type values of DATA chunks (docs/protocol.md §4, §8). */
export const DataType = { Protobuf: 0, Rumble: 7, PadInfo: 9, TriggerEffects: 11 } as const;

export const CONTROL_HEADER_SIZE = 17; // type, tag, gmac, key_pos, chunk type/flags/length
export const A_RWND = 0x19000;
export const OUTBOUND_STREAMS = 100;
export const INBOUND_STREAMS = 100;
export const COOKIE_SIZE = 32;
/** chunk_flags bit of the last (or only) piece of a DATA message. */
export const DATA_FLAG_LAST = 1;
const DATA_HEADER_SIZE = 8; // tsn u32, channel u16, zero u16

export interface InitChunk {
  type: 'init';
  tag: number;
  aRwnd: number;
  outStreams: number;
  inStreams: number;
  initialTsn: number;
}
export interface InitAckChunk extends Omit<InitChunk, 'type'> {
  type: 'initAck';
  cookie: Uint8Array;
}
export interface CookieChunk {
  type: 'cookie';
  cookie: Uint8Array;
}
export interface CookieAckChunk {
  type: 'cookieAck';
}
/**
 * A DATA chunk. `body` is everything after the 8-byte data header: for the first (or only) piece
 * of a message body[0] is the data_type and the rest data; continuation pieces are data only.
 * Only the receiver's reassembly state can tell the two apart (see dataChunk / dataContChunk).
 */
export interface DataChunk {
  type: 'data';
  tsn: number;
  channel: number;
  body: Uint8Array;
}
export interface DataAckChunk {
  type: 'dataAck';
  cumulativeTsn: number;
  aRwnd: number;
  gapAckBlocks: number;
  dupTsns: number;
}
export type Chunk = InitChunk | InitAckChunk | CookieChunk | CookieAckChunk | DataChunk | DataAckChunk;

export interface ControlHeader {
  /** The receiver's tag (0 in INIT). */
  tag: number;
  /** Low 32 bits of the sender's key_pos (0 before crypt). */
  keyPos?: number;
  /** Raw 4-byte tag; normally left zero and filled by applyGmac. */
  gmac?: Uint8Array;
  /** chunk_flags (DATA_FLAG_LAST on DATA). */
  flags?: number;
}

export interface ControlPacket {
  tag: number;
  gmac: Uint8Array;
  keyPos: number;
  flags: number;
  chunk: Chunk;
}

export function dataChunk(tsn: number, channel: number, dataType: number, data: Uint8Array): DataChunk {
  const body = new Uint8Array(1 + data.length);
  body[0] = dataType;
  body.set(data, 1);
  return { type: 'data', tsn, channel, body };
}

export function dataContChunk(tsn: number, channel: number, data: Uint8Array): DataChunk {
  return { type: 'data', tsn, channel, body: data };
}

function chunkTypeOf(c: Chunk): ChunkType {
  switch (c.type) {
    case 'init':
      return ChunkType.Init;
    case 'initAck':
      return ChunkType.InitAck;
    case 'cookie':
      return ChunkType.Cookie;
    case 'cookieAck':
      return ChunkType.CookieAck;
    case 'data':
      return ChunkType.Data;
    case 'dataAck':
      return ChunkType.DataAck;
  }
}

function chunkPayloadSize(c: Chunk): number {
  switch (c.type) {
    case 'init':
      return 16;
    case 'initAck':
      return 16 + COOKIE_SIZE;
    case 'cookie':
      return COOKIE_SIZE;
    case 'cookieAck':
      return 0;
    case 'data':
      return DATA_HEADER_SIZE + c.body.length;
    case 'dataAck':
      return 12;
  }
}

/** Builds a CONTROL datagram (untagged; run applyGmac on it once crypt is on). */
export function encodeControl(h: ControlHeader, chunk: Chunk): Uint8Array {
  const size = chunkPayloadSize(chunk);
  if (size + 4 > 0xffff) throw new UsageError(`takion: chunk of ${size} bytes does not fit a control packet`);
  if ((chunk.type === 'initAck' || chunk.type === 'cookie') && chunk.cookie.length !== COOKIE_SIZE)
    throw new UsageError(`takion: cookie must be ${COOKIE_SIZE} bytes`);
  const p = new Uint8Array(CONTROL_HEADER_SIZE + size);
  const dv = view(p);
  p[0] = TakionType.Control;
  dv.setUint32(1, h.tag >>> 0);
  if (h.gmac) p.set(h.gmac.subarray(0, GMAC_SIZE), 5);
  dv.setUint32(9, (h.keyPos ?? 0) >>> 0);
  p[13] = chunkTypeOf(chunk);
  p[14] = h.flags ?? 0;
  dv.setUint16(15, size + 4);
  const o = CONTROL_HEADER_SIZE;
  switch (chunk.type) {
    case 'init':
    case 'initAck':
      dv.setUint32(o, chunk.tag >>> 0);
      dv.setUint32(o + 4, chunk.aRwnd >>> 0);
      dv.setUint16(o + 8, chunk.outStreams);
      dv.setUint16(o + 10, chunk.inStreams);
      dv.setUint32(o + 12, chunk.initialTsn >>> 0);
      if (chunk.type === 'initAck') p.set(chunk.cookie, o + 16);
      break;
    case 'cookie':
      p.set(chunk.cookie, o);
      break;
    case 'cookieAck':
      break;
    case 'data':
      dv.setUint32(o, chunk.tsn >>> 0);
      dv.setUint16(o + 4, chunk.channel);
      dv.setUint16(o + 6, 0);
      p.set(chunk.body, o + DATA_HEADER_SIZE);
      break;
    case 'dataAck':
      dv.setUint32(o, chunk.cumulativeTsn >>> 0);
      dv.setUint32(o + 4, chunk.aRwnd >>> 0);
      dv.setUint16(o + 8, chunk.gapAckBlocks);
      dv.setUint16(o + 10, chunk.dupTsns);
      break;
  }
  return p;
}

/** Parses a CONTROL datagram; anything malformed is a ParseError('takion', ...). */
export function parseControl(bytes: Uint8Array): ControlPacket {
  if (bytes.length < CONTROL_HEADER_SIZE)
    throw new ParseError(
      'takion',
      `control packet of ${bytes.length} bytes is shorter than its 17-byte header`,
    );
  if (baseType(bytes) !== TakionType.Control)
    throw new ParseError('takion', `base type ${baseType(bytes)} is not a control packet`);
  const dv = view(bytes);
  const tag = dv.getUint32(1);
  const gmac = bytes.slice(5, 9);
  const keyPos = dv.getUint32(9);
  const ct = bytes[13];
  const flags = bytes[14];
  const chunkLen = dv.getUint16(15);
  if (chunkLen < 4 || bytes.length !== chunkLen + 13)
    throw new ParseError('takion', `chunk length ${chunkLen} does not match a ${bytes.length}-byte packet`);
  const pl = bytes.subarray(CONTROL_HEADER_SIZE);
  const pv = view(pl);
  const need = (n: number, what: string) => {
    if (pl.length !== n)
      throw new ParseError('takion', `${what} chunk payload is ${pl.length} bytes, expected ${n}`);
  };
  let chunk: Chunk;
  switch (ct) {
    case ChunkType.Init:
    case ChunkType.InitAck: {
      need(ct === ChunkType.Init ? 16 : 16 + COOKIE_SIZE, ct === ChunkType.Init ? 'INIT' : 'INIT_ACK');
      const fields = {
        tag: pv.getUint32(0),
        aRwnd: pv.getUint32(4),
        outStreams: pv.getUint16(8),
        inStreams: pv.getUint16(10),
        initialTsn: pv.getUint32(12),
      };
      chunk =
        ct === ChunkType.Init
          ? { type: 'init', ...fields }
          : { type: 'initAck', ...fields, cookie: pl.slice(16, 16 + COOKIE_SIZE) };
      break;
    }
    case ChunkType.Cookie:
      need(COOKIE_SIZE, 'COOKIE');
      chunk = { type: 'cookie', cookie: pl.slice() };
      break;
    case ChunkType.CookieAck:
      need(0, 'COOKIE_ACK');
      chunk = { type: 'cookieAck' };
      break;
    case ChunkType.Data:
      if (pl.length < DATA_HEADER_SIZE)
        throw new ParseError(
          'takion',
          `DATA chunk payload of ${pl.length} bytes is shorter than its 8-byte header`,
        );
      chunk = {
        type: 'data',
        tsn: pv.getUint32(0),
        channel: pv.getUint16(4),
        body: pl.slice(DATA_HEADER_SIZE),
      };
      break;
    case ChunkType.DataAck: {
      if (pl.length < 12)
        throw new ParseError('takion', `DATA_ACK chunk payload is ${pl.length} bytes, expected 12`);
      const gapAckBlocks = pv.getUint16(8);
      const dupTsns = pv.getUint16(10);
      need(12 + 4 * (gapAckBlocks + dupTsns), 'DATA_ACK');
      chunk = {
        type: 'dataAck',
        cumulativeTsn: pv.getUint32(0),
        aRwnd: pv.getUint32(4),
        gapAckBlocks,
        dupTsns,
      };
      break;
    }
    default:
      throw new ParseError('takion', `unknown chunk type 0x${ct.toString(16)}`);
  }
  return { tag, gmac, keyPos, flags, chunk };
}

// ---------------------------------------------------------------------------------------------
// Part 2: TakionEndpoint

export type TakionRole = 'client' | 'console';
export type TakionState =
  | 'idle'
  | 'initSent'
  | 'cookieSent'
  | 'listening'
  | 'initAckSent'
  | 'connected'
  | 'closed';

export interface TakionEndpointOptions {
  role: TakionRole;
  /** Our tag; random non-zero if absent. */
  tag?: number;
  /** Our first DATA TSN, announced in INIT / INIT_ACK (default: the tag, as consoles do). */
  initialTsn?: number;
  /**
   * Client: recognises the peer's first message (BANG) by its content. The receive window then
   * starts at that chunk's TSN, whatever the INIT_ACK announced: nothing promises that a
   * console's first TSN equals its tag. Chunks that arrive before it wait (up to 32). Without
   * this the window starts at the peer's tag, as the reference assumes.
   */
  isFirstMessage?: (dataType: number, data: Uint8Array) => boolean;
  now: number;
  /** Path MTU (min of in and out); sets the DATA piece sizes. Default 1454. */
  mtu?: number;
  random?: (n: number) => Uint8Array;
  /**
   * Peer silence after which 'lost' fires. Default: client 4000 ms (rptui's choice), console
   * 5000 ms (docs/protocol.md §12).
   */
  peerTimeoutMs?: number;
  /**
   * true (default): a crypt session follows, so non-control packets arriving before setCrypt
   * are held (up to 32) and verified once it is set. false (Senkusha): no crypt, AV passes as is.
   */
  encrypted?: boolean;
}

export type TakionEvent =
  | { type: 'connected' }
  /** A whole message, reassembled from its pieces, delivered in TSN order. */
  | { type: 'message'; channel: number; dataType: number; payload: Uint8Array; tsn: number }
  /** The peer acknowledged our DATA chunk with this TSN. */
  | { type: 'acked'; tsn: number }
  /** An authenticated (not decrypted) VIDEO/AUDIO packet; keyPos is the extended 64-bit position. */
  | { type: 'av'; packetType: TakionType.Video | TakionType.Audio; bytes: Uint8Array; keyPos: number }
  /** Another authenticated non-control packet (feedback, congestion: what a console receives). */
  | { type: 'packet'; packetType: TakionType; bytes: Uint8Array; keyPos: number }
  /** No valid traffic from the peer for peerTimeoutMs; the endpoint is closed. */
  | { type: 'lost'; error: NetworkError }
  /** Handshake failure (endpoint closed) or a data chunk given up after all resends (session goes on). */
  | { type: 'error'; error: RptuiError };

export interface TakionStats {
  datagramsIn: number;
  /** Datagrams that passed the tag check (all well-formed ones before crypt is on). */
  accepted: number;
  datagramsOut: number;
  /** Packets whose tag did not verify (dropped). */
  gmacFailures: number;
  /** Control packets carrying someone else's tag (dropped). */
  tagMismatches: number;
  /** Datagrams that did not parse (dropped). */
  malformed: number;
  /** Well-formed packets that made no sense in the current state or of an unhandled type (dropped). */
  unexpected: number;
  /** DATA chunks received again (dropped; answered with a DATA_ACK if already delivered). */
  duplicates: number;
  /** DATA chunks the reorder queue could not hold (too far ahead; the peer resends). */
  overflow: number;
  /** Our DATA chunks sent again after 200 ms without an ack. */
  retransmits: number;
  /** Our DATA chunks given up after 25 resends. */
  abandoned: number;
}

const EXPECT_TIMEOUT_MS = 5000;
/**
 * How far a packet's key_pos may be from the last authenticated one: more than 5 s of a 50 Mbit/s
 * stream (the peer is "lost" after 4-5 s of silence anyway). A flood of forged packets with random
 * positions is dropped before its GMAC is computed.
 */
const KEY_POS_WINDOW = 32 * 1024 * 1024;
const HANDSHAKE_TRIES = 3;
const RESEND_MS = 200;
const RESEND_TRIES = 25;
const MAX_IN_FLIGHT = 16;
const REORDER_SIZE_EXP = 4;
const POSTPONE_MAX = 32;
/** A reassembled message larger than this is garbage (BIG is a few KiB). */
const MAX_MESSAGE = 1 << 20;
const DATA_ACK_SIZE = CONTROL_HEADER_SIZE + 12;
const DEFAULT_MTU = 1454;
/** The reference's allowance for IP/UDP overhead when cutting a message (docs/protocol.md §4). */
const MTU_OVERHEAD = 50;

interface Received {
  flags: number;
  tsn: number;
  channel: number;
  body: Uint8Array;
  /** The raw datagram, kept to re-verify it if crypt is switched on while it waits. */
  packet: Uint8Array;
}

interface Piece {
  tsn: number;
  flags: number;
  chunk: DataChunk;
  dataLen: number;
}

interface InFlight {
  tsn: number;
  bytes: Uint8Array;
  lastSent: number;
  tries: number;
}

/**
 * One side of a Takion connection: a Machine (machine.ts) whose input is a received datagram and
 * whose transmits are datagrams. Malformed, forged or unexpected input never throws: it is
 * dropped and counted in `stats`. Act on the events of one datagram before feeding the next.
 *
 * DATA_ACKs are built by pollTransmit(), not by handle(): so a setCrypt() made while handling the
 * BANG message already covers the ack of BANG, which the console (crypt on since it sent BANG)
 * verifies.
 *
 * Client: `connect(now)` sends INIT, then COOKIE; 'connected' fires on COOKIE_ACK.
 * Console: waits for INIT, answers INIT_ACK with a random cookie, 'connected' fires on COOKIE.
 * After `setCrypt(local, remote)` every outgoing packet is tagged at its own key_pos and every
 * incoming packet with a GMAC field is verified (failures counted in stats.gmacFailures).
 * AV and feedback senders get a key_pos from `allocKeyPos(size)`, encrypt at key_pos + 16 with
 * `localCrypt`, and hand the packet to `sendRaw(packet, keyPos)`, which writes key_pos and the tag.
 */
export class TakionEndpoint implements Machine<Uint8Array, TakionEvent, Uint8Array> {
  readonly role: TakionRole;
  readonly mtu: number;
  readonly stats: TakionStats = {
    datagramsIn: 0,
    accepted: 0,
    datagramsOut: 0,
    gmacFailures: 0,
    tagMismatches: 0,
    malformed: 0,
    unexpected: 0,
    duplicates: 0,
    overflow: 0,
    retransmits: 0,
    abandoned: 0,
  };

  private st: TakionState;
  private readonly random: (n: number) => Uint8Array;
  private readonly peerTimeoutMs: number;
  private readonly encrypted: boolean;
  private readonly tagLocal: number;
  private tagRemote = 0;
  private tsnLocal: number;
  private keyPosLocal = 0;
  private local: GkCrypt | undefined;
  private remote: GkCrypt | undefined;
  private readonly keyState = new KeyState();
  private lastPeer: number;

  // handshake
  private hsPacket: Uint8Array | undefined;
  private hsDeadline: number | undefined;
  private hsTries = 0;
  private cookie: Uint8Array | undefined;

  // data
  private dataQueue: ReorderQueue<Received> | undefined;
  private readonly isFirstMessage: TakionEndpointOptions['isFirstMessage'];
  /** DATA that came before the first message was recognised (isFirstMessage). */
  private early: Received[] = [];
  private partial: { channel: number; dataType: number; parts: Uint8Array[]; size: number } | undefined;
  private readonly pending: Piece[] = [];
  private readonly inFlight: InFlight[] = [];
  private postponed: { bytes: Uint8Array; now: number }[] = [];

  /** Cumulative TSN to acknowledge at the next poll. */
  private ackDue: number | undefined;
  private readonly outbox = new Queue<Uint8Array>();
  private readonly events = new Queue<TakionEvent>();

  constructor(opts: TakionEndpointOptions) {
    this.role = opts.role;
    this.mtu = opts.mtu ?? DEFAULT_MTU;
    if (!Number.isInteger(this.mtu) || this.mtu < 128 || this.mtu > 0xffff)
      throw new UsageError(`takion: MTU ${opts.mtu} out of range (128..65535)`);
    this.random = opts.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.peerTimeoutMs = opts.peerTimeoutMs ?? (opts.role === 'client' ? 4000 : 5000);
    this.encrypted = opts.encrypted ?? true;
    this.tagLocal = opts.tag !== undefined ? opts.tag >>> 0 : this.randomTag();
    if (this.tagLocal === 0) throw new UsageError('takion: tag must not be 0');
    this.tsnLocal = opts.initialTsn !== undefined ? opts.initialTsn >>> 0 : this.tagLocal;
    this.isFirstMessage = opts.isFirstMessage;
    this.lastPeer = opts.now;
    this.st = opts.role === 'client' ? 'idle' : 'listening';
  }

  get state(): TakionState {
    return this.st;
  }
  get localTag(): number {
    return this.tagLocal;
  }
  get remoteTag(): number {
    return this.tagRemote;
  }
  get localCrypt(): GkCrypt | undefined {
    return this.local;
  }
  get remoteCrypt(): GkCrypt | undefined {
    return this.remote;
  }
  /** Our DATA chunks sent but not yet acknowledged (at most 16). */
  get inFlightCount(): number {
    return this.inFlight.length;
  }
  /** Message pieces waiting for a free in-flight slot. */
  get pendingCount(): number {
    return this.pending.length;
  }

  private randomTag(): number {
    for (;;) {
      const t = view(this.random(4)).getUint32(0);
      if (t !== 0) return t;
    }
  }

  /** Client only: start the handshake (INIT). */
  connect(now: number): void {
    if (this.role !== 'client') throw new UsageError('takion: only the client role connects');
    if (this.st !== 'idle') throw new UsageError(`takion: connect() in state ${this.st}`);
    const init = encodeControl(
      { tag: 0 },
      {
        type: 'init',
        tag: this.tagLocal,
        aRwnd: A_RWND,
        outStreams: OUTBOUND_STREAMS,
        inStreams: INBOUND_STREAMS,
        initialTsn: this.tsnLocal,
      },
    );
    this.startHandshakeStep('initSent', init, now);
  }

  private startHandshakeStep(state: TakionState, packet: Uint8Array, now: number): void {
    this.st = state;
    this.hsPacket = packet;
    this.hsTries = 1;
    this.hsDeadline = now + EXPECT_TIMEOUT_MS;
    this.push(packet);
  }

  /** Switches crypt on: from now on everything we send is tagged and everything we get is verified. */
  setCrypt(local: GkCrypt, remote: GkCrypt): void {
    this.local = local;
    this.remote = remote;
    // the tag check's module is built now, not when the stream's first packets arrive
    remote.prepareReceive();
    // DATA that arrived before crypt and still waits for a gap: check it now, as it is delivered later
    const q = this.dataQueue;
    if (q) {
      for (let i = 0; i < q.count; i++) {
        const e = q.peek(i);
        if (e && !this.authenticate(e.item.packet)) q.dropAt(i);
      }
    }
    const held = this.postponed;
    this.postponed = [];
    for (const p of held) this.receive(p.bytes, p.now);
  }

  /**
   * Reserves key positions for a packet we send: returns the key_pos to write (and to encrypt at
   * key_pos + 16) and advances ours by size + size % 16, as the reference does. 0 before crypt.
   */
  allocKeyPos(size: number): number {
    if (!this.local) return 0;
    const kp = this.keyPosLocal;
    this.keyPosLocal += size + (size % 16);
    return kp;
  }

  /**
   * Sends a non-DATA packet (AV, feedback, congestion) built by the caller: writes keyPos into its
   * key_pos field and, with crypt on, its GMAC. Payload encryption is the caller's job.
   */
  sendRaw(packet: Uint8Array, keyPos: number): void {
    if (this.st !== 'connected') throw new UsageError(`takion: sendRaw() in state ${this.st}`);
    const t = taggedType(packet);
    if (this.local) applyGmac(packet, this.local, keyPos);
    else if (t >= 0) view(packet).setUint32(KEY_POS_AT[t], keyPos % 0x1_0000_0000);
    this.push(packet);
  }

  /**
   * Queues a message on a channel: cut into DATA + continuation pieces that fit the MTU, one TSN
   * each, sent while fewer than 16 are unacknowledged, resent every 200 ms up to 25 times.
   * Returns the TSN of the last piece (its 'acked' event means the whole message arrived).
   */
  sendMessage(channel: number, dataType: number, payload: Uint8Array, now: number): number {
    if (this.st !== 'connected') throw new UsageError(`takion: sendMessage() in state ${this.st}`);
    const room = this.mtu - MTU_OVERHEAD;
    const firstCap = room - CONTROL_HEADER_SIZE - DATA_HEADER_SIZE - 1;
    const contCap = room - CONTROL_HEADER_SIZE - DATA_HEADER_SIZE;
    let off = 0;
    let first = true;
    let tsn = this.tsnLocal;
    do {
      const cap = first ? firstCap : contCap;
      const data = payload.subarray(off, Math.min(payload.length, off + cap));
      off += data.length;
      tsn = this.tsnLocal;
      this.tsnLocal = seq32Add(this.tsnLocal, 1);
      const chunk = first ? dataChunk(tsn, channel, dataType, data) : dataContChunk(tsn, channel, data);
      this.pending.push({
        tsn,
        flags: off >= payload.length ? DATA_FLAG_LAST : 0,
        chunk,
        dataLen: data.length,
      });
      first = false;
    } while (off < payload.length);
    this.flushPending(now);
    return tsn;
  }

  private flushPending(now: number): void {
    while (this.inFlight.length < MAX_IN_FLIGHT && this.pending.length > 0) {
      const p = this.pending.shift() as Piece;
      const keyPos = this.allocKeyPos(p.dataLen);
      const bytes = encodeControl({ tag: this.tagRemote, keyPos, flags: p.flags }, p.chunk);
      if (this.local) applyGmac(bytes, this.local, keyPos);
      this.inFlight.push({ tsn: p.tsn, bytes, lastSent: now, tries: 0 });
      this.push(bytes);
    }
  }

  /** Stops the endpoint; nothing is sent or reported afterwards. */
  close(): void {
    this.st = 'closed';
    this.pending.length = 0;
    this.inFlight.length = 0;
    this.postponed = [];
    this.hsDeadline = undefined;
  }

  /** Runs the timers: handshake retries, resends, peer silence. */
  handleTimeout(now: number): void {
    if (this.st !== 'closed') this.runTimers(now);
  }

  /** The next datagram to send (a due DATA_ACK is built here, see the class comment). */
  pollTransmit(): Uint8Array | undefined {
    if (this.st !== 'closed' && this.ackDue !== undefined) this.sendDataAck(this.ackDue);
    return this.outbox.shift();
  }

  /** When handleTimeout next has work to do, or undefined when closed (or idle with nothing pending). */
  pollTimeout(): number | undefined {
    if (this.st === 'closed') return undefined;
    let t: number | undefined = this.hsDeadline;
    const min = (x: number) => {
      t = t === undefined ? x : Math.min(t, x);
    };
    if (this.st === 'connected') min(this.lastPeer + this.peerTimeoutMs);
    for (const f of this.inFlight) min(f.lastSent + RESEND_MS);
    return t;
  }

  pollEvent(): TakionEvent | undefined {
    return this.events.shift();
  }

  private push(bytes: Uint8Array): void {
    this.outbox.push(bytes);
    this.stats.datagramsOut++;
  }

  private emit(e: TakionEvent): void {
    this.events.push(e);
  }

  private fail(error: RptuiError): void {
    this.emit({ type: 'error', error });
    this.close();
  }

  private runTimers(now: number): void {
    if (this.hsDeadline !== undefined && now >= this.hsDeadline && this.hsPacket) {
      if (this.hsTries >= HANDSHAKE_TRIES) {
        const what = this.st === 'initSent' ? 'INIT_ACK' : 'COOKIE_ACK';
        this.fail(
          new NetworkError(
            `Takion handshake failed: no ${what} from the console after ${HANDSHAKE_TRIES} tries`,
            {
              hint: 'Check that the console is on, reachable on UDP port 9296, and not streaming to someone else.',
            },
          ),
        );
        return;
      }
      this.hsTries++;
      this.hsDeadline = now + EXPECT_TIMEOUT_MS;
      this.push(this.hsPacket);
    }
    if (this.st !== 'connected') return;
    if (now - this.lastPeer >= this.peerTimeoutMs) {
      const peer = this.role === 'client' ? 'console' : 'client';
      this.emit({
        type: 'lost',
        error: new NetworkError(
          `${peer === 'console' ? 'Console' : 'Client'} lost: no stream traffic for ${((now - this.lastPeer) / 1000).toFixed(1)} s`,
          {
            hint: peer === 'console' ? 'The console may have gone to sleep or left the network.' : undefined,
          },
        ),
      });
      this.close();
      return;
    }
    for (let i = 0; i < this.inFlight.length; i++) {
      const f = this.inFlight[i];
      if (now - f.lastSent < RESEND_MS) continue;
      if (f.tries >= RESEND_TRIES) {
        this.inFlight.splice(i--, 1);
        this.stats.abandoned++;
        this.emit({
          type: 'error',
          error: new NetworkError(`Takion gave up on data chunk ${f.tsn} after ${RESEND_TRIES} resends`, {
            hint: 'The network is dropping most packets; the stream will probably stall.',
          }),
        });
        continue;
      }
      f.tries++;
      f.lastSent = now;
      this.stats.retransmits++;
      this.push(f.bytes);
    }
    this.flushPending(now);
  }

  /** Feeds one received datagram. Never throws on bad input: drops and counts it instead. */
  handle(bytes: Uint8Array, now: number): void {
    this.stats.datagramsIn++;
    if (this.st === 'closed') return;
    try {
      this.receive(bytes, now);
    } catch (e) {
      if (!(e instanceof RptuiError)) throw e;
      this.stats.malformed++;
    }
  }

  /** GMAC check with key_pos extension; commits the extended key_pos only when the tag matches. */
  private authenticate(bytes: Uint8Array): boolean {
    if (!this.remote) return true;
    const t = taggedType(bytes);
    if (t < 0) return false;
    const keyPos = this.keyState.requestPos(u32(bytes, KEY_POS_AT[t]), false);
    // A key_pos far from the stream's is forged or from another session: skip the GMAC work.
    if (Math.abs(keyPos - this.keyState.current) > KEY_POS_WINDOW) {
      this.stats.gmacFailures++;
      return false;
    }
    if (!verifyTagged(bytes, t, this.remote, keyPos)) {
      this.stats.gmacFailures++;
      return false;
    }
    this.keyState.commit(keyPos);
    return true;
  }

  private receive(bytes: Uint8Array, now: number): void {
    if (bytes.length === 0) {
      this.stats.malformed++;
      return;
    }
    const t = baseType(bytes);
    if (t === TakionType.Control) {
      this.receiveControl(bytes, now);
      return;
    }
    if (MAC_AT[t] < 0) {
      this.stats.unexpected++;
      return;
    }
    if (taggedType(bytes) < 0) {
      this.stats.malformed++;
      return;
    }
    if (this.st !== 'connected') {
      this.stats.unexpected++;
      return;
    }
    let keyPos: number;
    if (this.remote) {
      if (!this.authenticate(bytes)) return;
      keyPos = this.keyState.current;
    } else if (this.encrypted) {
      if (this.postponed.length < POSTPONE_MAX) this.postponed.push({ bytes, now });
      else this.stats.unexpected++;
      return;
    } else keyPos = readKeyPosLow(bytes) as number;
    this.lastPeer = now;
    this.stats.accepted++;
    if (t === TakionType.Video || t === TakionType.Audio)
      this.emit({ type: 'av', packetType: t, bytes, keyPos });
    else this.emit({ type: 'packet', packetType: t, bytes, keyPos });
  }

  private receiveControl(bytes: Uint8Array, now: number): void {
    const p = parseControl(bytes);
    const c = p.chunk;
    if (c.type === 'init') {
      this.receiveInit(c, now);
      return;
    }
    if (p.tag !== this.tagLocal) {
      this.stats.tagMismatches++;
      return;
    }
    if (!this.authenticate(bytes)) {
      // A resend of a chunk we delivered before crypt came on (BANG whose ack was lost) can never
      // verify; repeating our cumulative ack is harmless and stops the peer resending it.
      const q = this.dataQueue;
      if (c.type === 'data' && this.st === 'connected' && q && seq32Lt(c.tsn, q.begin)) {
        this.ackDue = seq32Add(q.begin, -1);
        // Sent untagged (gmac and key_pos zero) before crypt and resent after it: a late
        // duplicate of a delivered chunk, not a forgery, so not a GMAC failure.
        if (bytes.subarray(5, 13).every((b) => b === 0)) {
          this.stats.gmacFailures--;
          this.stats.duplicates++;
        }
      }
      return;
    }
    this.stats.accepted++;
    switch (c.type) {
      case 'initAck':
        this.receiveInitAck(c, p.flags, now);
        return;
      case 'cookie':
        this.receiveCookie(c, now);
        return;
      case 'cookieAck':
        if (this.role !== 'client' || this.st !== 'cookieSent' || p.flags !== 0) {
          this.stats.unexpected++;
          return;
        }
        this.hsDeadline = undefined;
        this.hsPacket = undefined;
        this.becomeConnected(now);
        return;
      case 'data':
        if (this.st !== 'connected') {
          this.stats.unexpected++;
          return;
        }
        this.lastPeer = now;
        this.receiveData({ flags: p.flags, tsn: c.tsn, channel: c.channel, body: c.body, packet: bytes });
        return;
      case 'dataAck':
        if (this.st !== 'connected') {
          this.stats.unexpected++;
          return;
        }
        this.lastPeer = now;
        this.receiveDataAck(c.cumulativeTsn, now);
        return;
    }
  }

  private becomeConnected(now: number): void {
    this.st = 'connected';
    this.lastPeer = now;
    this.emit({ type: 'connected' });
  }

  private receiveInit(c: InitChunk, now: number): void {
    if (this.role !== 'console' || c.tag === 0 || c.outStreams === 0 || c.inStreams === 0) {
      this.stats.unexpected++;
      return;
    }
    if (this.st === 'initAckSent' && c.tag === this.tagRemote && this.hsPacket) {
      this.push(this.hsPacket); // our INIT_ACK was lost: same answer again
      return;
    }
    if (this.st !== 'listening' && this.st !== 'initAckSent') {
      this.stats.unexpected++;
      return;
    }
    this.tagRemote = c.tag;
    this.dataQueue = this.newDataQueue(c.initialTsn);
    this.cookie = this.random(COOKIE_SIZE);
    this.hsPacket = encodeControl(
      { tag: this.tagRemote },
      {
        type: 'initAck',
        tag: this.tagLocal,
        aRwnd: A_RWND,
        outStreams: OUTBOUND_STREAMS,
        inStreams: INBOUND_STREAMS,
        initialTsn: this.tsnLocal,
        cookie: this.cookie,
      },
    );
    this.st = 'initAckSent';
    this.lastPeer = now;
    this.push(this.hsPacket);
  }

  private receiveInitAck(c: InitAckChunk, flags: number, now: number): void {
    if (this.role !== 'client' || flags !== 0) {
      this.stats.unexpected++;
      return;
    }
    if (this.st === 'cookieSent') return; // a repeated INIT_ACK is tolerated, COOKIE is on its way
    if (this.st !== 'initSent') {
      this.stats.unexpected++;
      return;
    }
    if (c.tag === 0) {
      this.fail(new NetworkError('Takion handshake failed: the console answered with tag 0'));
      return;
    }
    if (
      c.outStreams === 0 ||
      c.inStreams === 0 ||
      c.outStreams > INBOUND_STREAMS ||
      c.inStreams < OUTBOUND_STREAMS
    ) {
      this.fail(
        new NetworkError(
          `Takion handshake failed: the console offers ${c.outStreams} out / ${c.inStreams} in streams, we need <= ${INBOUND_STREAMS} / >= ${OUTBOUND_STREAMS}`,
        ),
      );
      return;
    }
    this.tagRemote = c.tag;
    // the reference starts the console's TSNs at its tag, not at the announced initial TSN; with
    // isFirstMessage the window starts where the first message (BANG) actually is
    if (!this.isFirstMessage) this.dataQueue = this.newDataQueue(c.tag);
    const cookie = encodeControl({ tag: this.tagRemote }, { type: 'cookie', cookie: c.cookie });
    this.startHandshakeStep('cookieSent', cookie, now);
  }

  private receiveCookie(c: CookieChunk, now: number): void {
    if (this.role !== 'console' || !this.cookie || !bytesEqual(c.cookie, this.cookie)) {
      this.stats.unexpected++;
      return;
    }
    const ack = encodeControl({ tag: this.tagRemote }, { type: 'cookieAck' });
    if (this.st === 'connected') {
      this.push(ack); // our COOKIE_ACK was lost
      return;
    }
    if (this.st !== 'initAckSent') {
      this.stats.unexpected++;
      return;
    }
    this.hsPacket = undefined;
    this.push(ack);
    this.becomeConnected(now);
    // If this COOKIE_ACK is lost the client only retries COOKIE after its 5 s expect timeout, as
    // long as our silence limit: allow one retry before calling the client lost.
    this.lastPeer = now + EXPECT_TIMEOUT_MS;
  }

  private newDataQueue(begin: number): ReorderQueue<Received> {
    return new ReorderQueue<Received>({ bits: 32, sizeExp: REORDER_SIZE_EXP, begin });
  }

  private receiveData(r: Received): void {
    if (!this.dataQueue) {
      if (r.body.length < 1 || !this.isFirstMessage?.(r.body[0], r.body.subarray(1))) {
        if (this.early.length < POSTPONE_MAX && !this.early.some((e) => e.tsn === r.tsn)) this.early.push(r);
        else this.stats.duplicates++;
        return;
      }
      this.dataQueue = this.newDataQueue(r.tsn);
      const early = this.early;
      this.early = [];
      this.receiveData(r);
      for (const e of early) if (!seq32Lt(e.tsn, r.tsn)) this.receiveData(e);
      return;
    }
    const q = this.dataQueue;
    if (seq32Lt(r.tsn, q.begin)) {
      // delivered already: our DATA_ACK was probably lost, so say it again
      this.stats.duplicates++;
      this.ackDue = seq32Add(q.begin, -1);
      return;
    }
    const index = (r.tsn - q.begin) >>> 0;
    if (index >= q.size) {
      this.stats.overflow++; // beyond the 16-slot window; the peer resends it
      return;
    }
    if (q.peek(index)) {
      this.stats.duplicates++; // waiting in the queue already
      return;
    }
    q.push(r.tsn, r);
    let last: number | undefined;
    for (let e = q.pull(); e; e = q.pull()) {
      last = e.seq;
      this.deliverPiece(e.item);
    }
    if (last !== undefined) this.ackDue = last;
  }

  private deliverPiece(r: Received): void {
    const last = (r.flags & DATA_FLAG_LAST) !== 0;
    if (this.partial) {
      const m = this.partial;
      m.parts.push(r.body);
      m.size += r.body.length;
      if (m.size > MAX_MESSAGE) {
        this.partial = undefined;
        this.stats.malformed++;
        return;
      }
      if (!last) return;
      this.partial = undefined;
      this.emit({
        type: 'message',
        channel: m.channel,
        dataType: m.dataType,
        payload: concatBytes(...m.parts),
        tsn: r.tsn,
      });
      return;
    }
    if (r.body.length < 1) {
      this.stats.malformed++;
      return;
    }
    const dataType = r.body[0];
    const data = r.body.subarray(1);
    if (last) this.emit({ type: 'message', channel: r.channel, dataType, payload: data, tsn: r.tsn });
    else this.partial = { channel: r.channel, dataType, parts: [data], size: data.length };
  }

  private sendDataAck(cumulativeTsn: number): void {
    this.ackDue = undefined;
    const keyPos = this.allocKeyPos(DATA_ACK_SIZE);
    const bytes = encodeControl(
      { tag: this.tagRemote, keyPos },
      { type: 'dataAck', cumulativeTsn, aRwnd: A_RWND, gapAckBlocks: 0, dupTsns: 0 },
    );
    if (this.local) applyGmac(bytes, this.local, keyPos);
    this.push(bytes);
  }

  private receiveDataAck(cumulativeTsn: number, now: number): void {
    for (let i = 0; i < this.inFlight.length; i++) {
      const f = this.inFlight[i];
      if (f.tsn === cumulativeTsn || seq32Lt(f.tsn, cumulativeTsn)) {
        this.inFlight.splice(i--, 1);
        this.emit({ type: 'acked', tsn: f.tsn });
      }
    }
    this.flushPending(now);
  }
}
