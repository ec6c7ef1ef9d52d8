/**
 * Senkusha (docs/protocol.md §10.1): the RTT / MTU probe a client runs against the console's UDP
 * port 9297 before the stream, as two sans-I/O machines (machine.ts) over an unencrypted
 * TakionEndpoint. AV packets use the v7 layout (avpacket.ts).
 *
 *   SenkushaClient   Takion handshake -> TAKIONPROTOCOLREQUEST [9] -> ACK -> BIG (version 9, empty
 *                    strings) -> BANG -> echo on (wait for its DATA_ACK) -> 10 pings -> echo off
 *                    -> MTU in: binary search 1454..576 with MTU_COMMANDs answered by VIDEO packets
 *                    -> MTU out: CLIENT_MTU_COMMAND id 1, the console's id 1, padded pings
 *                    -> CLIENT_MTU_COMMAND id 2 -> DISCONNECT. One final event: 'done' with the
 *                    measurements or 'failed' with the fallback the stream should use instead.
 *   SenkushaConsole  the console's side: answers all of that, echoes pings, sends MTU answers of
 *                    exactly the asked size, and can emulate a path MTU for tests and the simulator.
 *
 * The order of steps, channels, timeouts, packet layouts and pong matching follow chiaki-ng
 * (lib/src/senkusha.c); pyremoteplay's StreamTest (pyremoteplay/stream.py) confirms the ping
 * layout and shows the console's MTU reports. Where they differ, the comments say which we chose.
 */
import { randomBytes } from 'node:crypto';
import { type AvPacket, formatAvPacket, parseAvPacket } from './avpacket.js';
import { view } from './bytes.js';
import { NetworkError, ParseError, type RptuiError, UsageError } from './errors.js';
import { earliest, type Machine, Queue } from './machine.js';
import {
  CHANNEL,
  DISCONNECT_REASON_CLIENT,
  decodeTakionMessage,
  encodeTakionMessage,
  type SenkushaPayload,
  type TakionMessage,
} from './streamconnection.js';
import { DataType, TakionEndpoint, type TakionEvent, type TakionStats } from './takion.js';

/** The console's UDP port for the probe. */
export const SENKUSHA_PORT = 9297;
/** Senkusha commands travel on channel 8; the protocol request, BIG and DISCONNECT on channel 1. */
export const SENKUSHA_CHANNEL = 8;
/** SenkushaPayload.Command values (proto/takion.proto). */
export const SENKUSHA_COMMAND = { echo: 0, mtu: 1, bandwidth: 3, clientMtu: 4 } as const;
/** What the stream uses when the probe fails (chiaki's session.c fallback). */
export const SENKUSHA_FALLBACK = { rttMs: 1, mtuIn: 1454, mtuOut: 1454 } as const;
/** The MTU search range (IP packet sizes). */
export const SENKUSHA_MTU_MIN = 576;
export const SENKUSHA_MTU_MAX = 1454;
/** IPv4 + UDP headers: an MTU counts the IP packet, the datagram we build is 28 bytes smaller. */
export const IP_UDP_OVERHEAD = 28;
/** Size of an RTT ping datagram. */
export const SENKUSHA_PING_SIZE = 0x224;
/** Default whole-probe budget of SenkushaClient (see SenkushaClientOptions.deadlineMs). */
export const SENKUSHA_DEADLINE_MS = 5000;

/** The Takion version the probe asks for and names in BIG (both PS4 and PS5, as chiaki does). */
const PROBE_VERSION = 9;
const PING_COUNT = 10;
const PING_CODEC = 0xff;
/** Written as units_total - 1 = 0x7ff. */
const PING_UNITS_TOTAL = 0x800;
/** Every ping of both tests is frame ("test index") 0. */
const PING_FRAME = 0;
/** v7 audio header; the ping tag sits 4 bytes into the data. */
const V7_AUDIO_HEADER = 18;
const V7_VIDEO_HEADER = 21;
const TAG_OFFSET = 4;
const PONG_TIMEOUT_MS = 1000;
/** Wait for each handshake answer, acknowledgement and the console's CLIENT_MTU_COMMAND. */
const STEP_TIMEOUT_MS = 5000;
const MTU_TRIES = 3;
const MTU_TIMEOUT_MIN_MS = 5;
const MTU_TIMEOUT_MAX_MS = 500;

const defaultTag = (): number => randomBytes(4).readUInt32BE(0);

/** A v7 AUDIO ping of `size` bytes: zero data but for the tag at data + 4. */
function pingPacket(size: number, unitIndex: number, tag: number): Uint8Array {
  const data = new Uint8Array(size - V7_AUDIO_HEADER);
  view(data).setUint32(TAG_OFFSET, tag >>> 0);
  return formatAvPacket(
    {
      isVideo: false,
      version: 7,
      packetIndex: 0,
      frameIndex: PING_FRAME,
      unitIndex,
      unitsTotal: PING_UNITS_TOTAL,
      fecUnits: 0,
      codec: PING_CODEC,
      keyPos: 0,
    },
    data,
  );
}

const pingTag = (p: AvPacket): number => view(p.data).getUint32(TAG_OFFSET);

/** Decodes a protobuf DATA message; undefined (and counted) when it is malformed. */
function decodeMessage(payload: Uint8Array, stats: { malformed: number }): TakionMessage | undefined {
  try {
    return decodeTakionMessage(payload);
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    stats.malformed++;
    return undefined;
  }
}

function parseV7(bytes: Uint8Array, stats: { malformed: number }): AvPacket | undefined {
  try {
    return parseAvPacket(bytes, 7);
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    stats.malformed++;
    return undefined;
  }
}

function sendProto(takion: TakionEndpoint, channel: number, m: TakionMessage, now: number): number {
  return takion.sendMessage(channel, DataType.Protobuf, encodeTakionMessage(m), now);
}

function sendAv(takion: TakionEndpoint, packet: Uint8Array): void {
  takion.sendRaw(packet, takion.allocKeyPos(packet.length));
}

// ------------------------------------------------------------------------------------------------
// Client
// ------------------------------------------------------------------------------------------------

export interface SenkushaResult {
  /** Mean round trip of the answered pings, in milliseconds of the caller's clock. */
  rttMs: number;
  /** Largest IP packet that reached us (the launch spec's `mtu`). */
  mtuIn: number;
  /** Largest IP packet that reached the console. */
  mtuOut: number;
}

export type SenkushaFailure =
  | 'cancelled' // close() before the probe finished
  | 'deadline' // the whole-probe budget ran out
  | 'timeout' // one step got no answer (the error says which)
  | 'handshake' // Takion handshake refused
  | 'disconnected' // the console sent DISCONNECT
  | 'noPong'; // not a single ping came back

export type SenkushaProgress =
  | { step: 'connected' }
  | { step: 'bang' }
  | { step: 'rtt'; rttMs: number; pongs: number; pings: number }
  | { step: 'mtuIn'; mtuIn: number }
  | { step: 'mtuOut'; mtuOut: number };

export type SenkushaClientEvent =
  | ({ type: 'progress' } & SenkushaProgress)
  | ({ type: 'done' } & SenkushaResult)
  /** The values to use instead are SENKUSHA_FALLBACK, carried along for convenience. */
  | ({ type: 'failed'; reason: SenkushaFailure; error: RptuiError } & SenkushaResult);

export type SenkushaClientState =
  | 'idle'
  | 'connect'
  | 'protocol'
  | 'bang'
  | 'echoOn'
  | 'rtt'
  | 'echoOff'
  | 'mtuIn'
  | 'clientMtu'
  | 'mtuOut'
  | 'finish'
  | 'done'
  | 'failed';

export interface SenkushaClientOptions {
  /**
   * Whole-probe budget from start(), in ms (default SENKUSHA_DEADLINE_MS). When it runs out the
   * probe fails with 'deadline', except while waiting for the last acknowledgement, when the
   * measurements are complete and reported as 'done'.
   */
  deadlineMs?: number;
  /** The random u32 tag of each ping (default: crypto random). */
  pingTag?: () => number;
  /** Random bytes for the Takion tag (TakionEndpoint's `random`). */
  random?: (n: number) => Uint8Array;
}

export interface SenkushaClientStats {
  pings: number;
  pongs: number;
  mtuRequests: number;
  mtuAnswers: number;
  /** AV packets that answered nothing we were waiting for (late, wrong index or tag). */
  stray: number;
  /** Datagrams or messages that did not parse. */
  malformed: number;
  /** Messages that made no sense at that point (ignored). */
  unexpected: number;
}

interface Search {
  min: number;
  max: number;
  cur: number;
  attempt: number;
}

/**
 * The client's probe. `start(now)` opens Takion on the driver's socket to SENKUSHA_PORT; feed it
 * every datagram from that port with handle(); it reports 'progress' events and exactly one
 * 'done' or 'failed', after which it is inert (the DISCONNECT it queued is still to be sent).
 */
export class SenkushaClient implements Machine<Uint8Array, SenkushaClientEvent, Uint8Array> {
  readonly stats: SenkushaClientStats = {
    pings: 0,
    pongs: 0,
    mtuRequests: 0,
    mtuAnswers: 0,
    stray: 0,
    malformed: 0,
    unexpected: 0,
  };
  private readonly deadlineMs: number;
  private readonly newTag: () => number;
  private readonly random: ((n: number) => Uint8Array) | undefined;
  private takion: TakionEndpoint | undefined;
  private st: SenkushaClientState = 'idle';
  private readonly out = new Queue<Uint8Array>();
  private readonly events = new Queue<SenkushaClientEvent>();
  private deadline: number | undefined;
  private waitUntil: number | undefined;
  /** The DATA chunk whose acknowledgement we wait for (echo on/off, final CLIENT_MTU_COMMAND). */
  private ackTsn: number | undefined;
  /** The ping waiting for its pong. */
  private ping: { unit: number; tag: number; sentAt: number } | undefined;
  private pingIndex = 0;
  private rttSum = 0;
  private rttPongs = 0;
  private rttMs = 0;
  private mtuTimeout = MTU_TIMEOUT_MAX_MS;
  private mtuRequestId = 0;
  private search: Search = {
    min: SENKUSHA_MTU_MIN,
    max: SENKUSHA_MTU_MAX,
    cur: SENKUSHA_MTU_MAX,
    attempt: 0,
  };
  private mtuIn = 0;
  private mtuOut = 0;

  constructor(opts: SenkushaClientOptions = {}) {
    this.deadlineMs = opts.deadlineMs ?? SENKUSHA_DEADLINE_MS;
    if (!(this.deadlineMs > 0) || !Number.isFinite(this.deadlineMs))
      throw new UsageError(`Senkusha deadline must be a positive number of ms, got ${opts.deadlineMs}`);
    this.newTag = opts.pingTag ?? defaultTag;
    this.random = opts.random;
  }

  get state(): SenkushaClientState {
    return this.st;
  }

  get takionStats(): TakionStats | undefined {
    return this.takion?.stats;
  }

  private get finished(): boolean {
    return this.st === 'done' || this.st === 'failed';
  }

  /** Sends the Takion INIT; the deadline starts now. */
  start(now: number): void {
    if (this.st !== 'idle') return;
    this.takion = new TakionEndpoint({
      role: 'client',
      now,
      encrypted: false,
      random: this.random,
      // the probe's own timeouts decide (as in chiaki); Takion's silence limit only past the deadline
      peerTimeoutMs: this.deadlineMs + 1,
    });
    this.takion.connect(now);
    this.st = 'connect';
    this.deadline = now + this.deadlineMs;
    this.waitUntil = now + STEP_TIMEOUT_MS;
    this.flush(now);
  }

  /** Ends the probe early: 'failed' with reason 'cancelled' (or the driver's own error). */
  close(now: number, error?: RptuiError): void {
    if (this.finished) return;
    this.fail('cancelled', error ?? new NetworkError('Senkusha probe cancelled'), now);
    this.flush(now);
  }

  handle(bytes: Uint8Array, now: number): void {
    if (!this.takion || this.finished) return;
    this.takion.handle(bytes, now);
    this.flush(now);
  }

  handleTimeout(now: number): void {
    if (!this.takion || this.finished) return;
    this.takion.handleTimeout(now);
    this.flush(now);
    if (this.finished) return;
    if (this.deadline !== undefined && now >= this.deadline) {
      if (this.st === 'finish') this.finishProbe(now);
      else
        this.fail(
          'deadline',
          new NetworkError(`Senkusha probe did not finish within ${this.deadlineMs} ms (at ${this.st})`),
          now,
        );
    } else if (this.waitUntil !== undefined && now >= this.waitUntil) this.stepTimeout(now);
    this.flush(now);
  }

  pollTimeout(): number | undefined {
    if (!this.takion || this.finished) return undefined;
    return earliest(this.deadline, this.waitUntil, this.takion.pollTimeout());
  }

  pollTransmit(): Uint8Array | undefined {
    return this.out.shift();
  }

  pollEvent(): SenkushaClientEvent | undefined {
    return this.events.shift();
  }

  /** Handles what Takion reported, then takes what it wants sent (DATA_ACKs are built on poll). */
  private flush(now: number): void {
    const t = this.takion;
    if (!t) return;
    for (let e = t.pollEvent(); e !== undefined; e = t.pollEvent()) if (!this.finished) this.onTakion(e, now);
    for (let d = t.pollTransmit(); d !== undefined; d = t.pollTransmit()) this.out.push(d);
  }

  private onTakion(e: TakionEvent, now: number): void {
    switch (e.type) {
      case 'connected':
        if (this.st !== 'connect') return;
        this.events.push({ type: 'progress', step: 'connected' });
        this.proto({ type: 'takionProtocolRequest', versions: [PROBE_VERSION] }, CHANNEL.default, now);
        this.expect('protocol', now + STEP_TIMEOUT_MS);
        return;
      case 'message': {
        if (e.dataType !== DataType.Protobuf) {
          this.stats.unexpected++;
          return;
        }
        const m = decodeMessage(e.payload, this.stats);
        if (m) this.onMessage(m, now);
        return;
      }
      case 'acked':
        if (e.tsn === this.ackTsn) this.onAcked(now);
        return;
      case 'av':
        this.onAv(e.bytes, now);
        return;
      case 'packet':
        this.stats.unexpected++;
        return;
      case 'lost':
        this.fail('timeout', e.error, now);
        return;
      case 'error':
        // a chunk given up after all resends leaves the connection open: the step's timeout decides
        if (this.takion?.state === 'closed') this.fail('handshake', e.error, now);
        return;
    }
  }

  private onMessage(m: TakionMessage, now: number): void {
    if (m.type === 'disconnect') {
      this.fail(
        'disconnected',
        new NetworkError(`the console ended the Senkusha probe${m.reason ? ` (${m.reason})` : ''}`),
        now,
      );
      return;
    }
    if (this.st === 'protocol' && m.type === 'takionProtocolRequestAck') {
      // chiaki sends the strings empty (pyremoteplay: version 7 and the session id); a console
      // needs nothing from them here
      this.proto(
        {
          type: 'big',
          big: {
            clientVersion: PROBE_VERSION,
            sessionKey: '',
            launchSpec: '',
            encryptedKey: new Uint8Array(0),
          },
        },
        CHANNEL.default,
        now,
      );
      this.expect('bang', now + STEP_TIMEOUT_MS);
      return;
    }
    if (this.st === 'bang' && m.type === 'bang') {
      // The accepted flags are not checked, as in chiaki: it names version 9 to PS5s too and
      // goes on whatever they say; a console that will not play answers no pings.
      this.events.push({ type: 'progress', step: 'bang' });
      this.ackTsn = this.command({ command: SENKUSHA_COMMAND.echo, echo: { state: true } }, now);
      this.expect('echoOn', now + STEP_TIMEOUT_MS);
      return;
    }
    if (m.type === 'senkusha') {
      const s = m.senkusha;
      if (this.st === 'clientMtu' && s.command === SENKUSHA_COMMAND.clientMtu && s.clientMtu?.id === 1) {
        this.st = 'mtuOut';
        this.search = { min: SENKUSHA_MTU_MIN, max: SENKUSHA_MTU_MAX, cur: this.mtuIn, attempt: 0 };
        this.sendMtuPing(now);
        return;
      }
      // The console reports each MTU_COMMAND it served (pyremoteplay reads these) and answers each
      // CLIENT_MTU_COMMAND; like chiaki we act only on the one above.
      if (s.command === SENKUSHA_COMMAND.mtu || s.command === SENKUSHA_COMMAND.clientMtu) return;
    }
    this.stats.unexpected++;
  }

  private onAcked(now: number): void {
    this.ackTsn = undefined;
    switch (this.st) {
      case 'echoOn':
        this.st = 'rtt';
        this.pingIndex = 0;
        this.sendRttPing(now);
        return;
      case 'echoOff':
        this.startMtuIn(now);
        return;
      case 'finish':
        this.finishProbe(now);
        return;
    }
  }

  private onAv(bytes: Uint8Array, now: number): void {
    const p = parseV7(bytes, this.stats);
    if (!p) return;
    if (this.st === 'rtt' || this.st === 'mtuOut') {
      // chiaki's match: an AUDIO packet with the ping's frame and unit index and its tag at data + 4
      const ping = this.ping;
      if (
        !ping ||
        p.isVideo ||
        p.frameIndex !== PING_FRAME ||
        p.unitIndex !== ping.unit ||
        p.data.length < TAG_OFFSET + 4 ||
        pingTag(p) !== ping.tag
      ) {
        this.stats.stray++;
        return;
      }
      this.ping = undefined;
      this.stats.pongs++;
      if (this.st === 'rtt') {
        this.rttSum += now - ping.sentAt;
        this.rttPongs++;
        this.nextRttPing(now);
      } else this.searchStep(true, now);
      return;
    }
    // MTU in: a VIDEO packet whose frame index is the request id. Like chiaki we do not check its
    // size (pyremoteplay counts length + 28 as the MTU reached): a console answering shorter would
    // only make us optimistic, and insisting could fail against firmware that pads differently.
    if (this.st === 'mtuIn' && p.isVideo && p.frameIndex === (this.mtuRequestId & 0xffff)) {
      this.stats.mtuAnswers++;
      this.searchStep(true, now);
      return;
    }
    this.stats.stray++;
  }

  private stepTimeout(now: number): void {
    switch (this.st) {
      case 'rtt':
        this.ping = undefined;
        this.nextRttPing(now); // a lost ping or pong only costs its sample
        return;
      case 'mtuIn':
      case 'mtuOut':
        this.search.attempt++;
        if (this.search.attempt < MTU_TRIES) this.sendMtuProbe(now);
        else this.searchStep(false, now);
        return;
      case 'finish':
        this.finishProbe(now); // the measurements are complete; the console ends on DISCONNECT anyway
        return;
      default:
        this.fail(
          'timeout',
          new NetworkError(`Senkusha: ${this.waitingFor()} within ${STEP_TIMEOUT_MS / 1000} s`),
          now,
        );
    }
  }

  private waitingFor(): string {
    switch (this.st) {
      case 'connect':
        return `no answer from the console on UDP ${SENKUSHA_PORT}`;
      case 'protocol':
        return 'no TAKIONPROTOCOLREQUESTACK';
      case 'bang':
        return 'no BANG';
      case 'clientMtu':
        return 'the console did not answer the client MTU command';
      default:
        return 'the console did not acknowledge the echo command';
    }
  }

  private sendRttPing(now: number): void {
    this.sendPing(SENKUSHA_PING_SIZE, this.pingIndex, now);
    this.waitUntil = now + PONG_TIMEOUT_MS;
  }

  private nextRttPing(now: number): void {
    this.pingIndex++;
    if (this.pingIndex < PING_COUNT) {
      this.sendRttPing(now);
      return;
    }
    this.waitUntil = undefined;
    if (this.rttPongs === 0) {
      // chiaki turns echo off first; the answer is 'failed' either way and DISCONNECT ends the echo
      this.fail('noPong', new NetworkError(`Senkusha: none of ${PING_COUNT} pings came back`), now);
      return;
    }
    this.rttMs = this.rttSum / this.rttPongs;
    this.events.push({
      type: 'progress',
      step: 'rtt',
      rttMs: this.rttMs,
      pongs: this.rttPongs,
      pings: PING_COUNT,
    });
    this.ackTsn = this.command({ command: SENKUSHA_COMMAND.echo, echo: { state: false } }, now);
    this.expect('echoOff', now + STEP_TIMEOUT_MS);
  }

  private startMtuIn(now: number): void {
    // chiaki: 5 x RTT in whole ms, within 5..500
    this.mtuTimeout = Math.min(MTU_TIMEOUT_MAX_MS, Math.max(MTU_TIMEOUT_MIN_MS, Math.floor(this.rttMs * 5)));
    this.st = 'mtuIn';
    this.search = { min: SENKUSHA_MTU_MIN, max: SENKUSHA_MTU_MAX, cur: SENKUSHA_MTU_MAX, attempt: 0 };
    this.sendMtuProbe(now);
  }

  private sendMtuProbe(now: number): void {
    if (this.st === 'mtuIn') {
      // a fresh id per try, so a late answer to an earlier try is not taken for this one
      this.mtuRequestId++;
      this.stats.mtuRequests++;
      this.command(
        { command: SENKUSHA_COMMAND.mtu, mtu: { id: this.mtuRequestId, mtuReq: this.search.cur, num: 1 } },
        now,
      );
      this.waitUntil = now + this.mtuTimeout;
    } else this.sendMtuPing(now);
  }

  private sendMtuPing(now: number): void {
    // MTU out pings are numbered by try; the fresh tag tells them apart
    this.sendPing(this.search.cur - IP_UDP_OVERHEAD, this.search.attempt, now);
    this.waitUntil = now + this.mtuTimeout;
  }

  /**
   * chiaki's search: `min` is known to pass (576 is assumed), `max` known to fail or the top;
   * each size gets 3 tries, then the middle is next, until max - min <= 1. The result is min.
   */
  private searchStep(passed: boolean, now: number): void {
    const s = this.search;
    if (passed) s.min = s.cur;
    else s.max = s.cur;
    s.cur = s.min + Math.floor((s.max - s.min) / 2);
    s.attempt = 0;
    if (s.max - s.min > 1) {
      this.sendMtuProbe(now);
      return;
    }
    this.waitUntil = undefined;
    this.ping = undefined;
    if (this.st === 'mtuIn') {
      this.mtuIn = s.min;
      this.events.push({ type: 'progress', step: 'mtuIn', mtuIn: this.mtuIn });
      this.command(
        {
          command: SENKUSHA_COMMAND.clientMtu,
          clientMtu: { id: 1, state: true, mtuReq: this.mtuIn, mtuDown: this.mtuIn },
        },
        now,
      );
      this.expect('clientMtu', now + STEP_TIMEOUT_MS);
      return;
    }
    this.mtuOut = s.min;
    this.events.push({ type: 'progress', step: 'mtuOut', mtuOut: this.mtuOut });
    this.ackTsn = this.command(
      {
        command: SENKUSHA_COMMAND.clientMtu,
        clientMtu: { id: 2, state: false, mtuReq: s.max, mtuDown: this.mtuIn },
      },
      now,
    );
    this.expect('finish', now + STEP_TIMEOUT_MS);
  }

  private sendPing(size: number, unit: number, now: number): void {
    const tag = this.newTag() >>> 0;
    sendAv(this.takion as TakionEndpoint, pingPacket(size, unit, tag));
    this.ping = { unit, tag, sentAt: now };
    this.stats.pings++;
  }

  private expect(st: SenkushaClientState, until: number): void {
    this.st = st;
    this.waitUntil = until;
  }

  private proto(m: TakionMessage, channel: number, now: number): number {
    return sendProto(this.takion as TakionEndpoint, channel, m, now);
  }

  private command(s: SenkushaPayload, now: number): number {
    return this.proto({ type: 'senkusha', senkusha: s }, SENKUSHA_CHANNEL, now);
  }

  private disconnect(now: number): void {
    if (this.takion?.state === 'connected')
      this.proto({ type: 'disconnect', reason: DISCONNECT_REASON_CLIENT }, CHANNEL.default, now);
  }

  private finishProbe(now: number): void {
    this.disconnect(now);
    this.end('done');
    this.events.push({ type: 'done', rttMs: this.rttMs, mtuIn: this.mtuIn, mtuOut: this.mtuOut });
  }

  /**
   * Any failure: the caller streams with SENKUSHA_FALLBACK. We say DISCONNECT whenever Takion is
   * up (chiaki only after BANG; before it the console has nothing to free, but it does no harm).
   */
  private fail(reason: SenkushaFailure, error: RptuiError, now: number): void {
    this.disconnect(now);
    this.end('failed');
    this.events.push({ type: 'failed', reason, error, ...SENKUSHA_FALLBACK });
  }

  private end(st: 'done' | 'failed'): void {
    this.st = st;
    this.waitUntil = undefined;
    this.deadline = undefined;
    this.ackTsn = undefined;
    this.ping = undefined;
    // queued datagrams (the DISCONNECT) stay in Takion's outbox for the next flush
    this.takion?.close();
  }
}

// ------------------------------------------------------------------------------------------------
// Console
// ------------------------------------------------------------------------------------------------

/** Takion versions our console speaks: 9 as negotiated, 7 (pyremoteplay names it in BIG). */
const CONSOLE_VERSIONS = [PROBE_VERSION, 7];
/** Answers a console can send: the video header plus a byte, up to an Ethernet frame. */
const MTU_ANSWER_MIN = IP_UDP_OVERHEAD + V7_VIDEO_HEADER + 1;
const MTU_ANSWER_MAX = 1500;
/** Packets per MTU_COMMAND we serve (chiaki asks for 1). */
const MTU_ANSWER_MAX_NUM = 16;

export interface SenkushaConsoleOptions {
  now: number;
  /**
   * Emulated path MTU: datagrams whose IP packet (length + 28) is larger are lost, both ways,
   * as on a path that does not fragment. Default: no limit.
   */
  pathMtu?: number;
  /** Random bytes for the Takion tag and cookie. */
  random?: (n: number) => Uint8Array;
}

export type SenkushaConsoleEvent =
  | { type: 'connected' }
  | { type: 'big'; clientVersion: number; accepted: boolean }
  | { type: 'echo'; on: boolean }
  | { type: 'mtuRequest'; id: number; mtuReq: number; num: number }
  | { type: 'clientMtu'; id: number; on: boolean; mtuReq: number; mtuDown: number | undefined }
  /** The probe ended with the client's DISCONNECT; the console listens for the next one. */
  | { type: 'disconnected'; reason: string }
  /** The client went silent; the console listens for the next probe. */
  | { type: 'lost'; error: NetworkError };

export interface SenkushaConsoleStats {
  /** Probes that reached the Takion handshake. */
  probes: number;
  echoed: number;
  mtuAnswers: number;
  /** Datagrams the emulated path MTU swallowed (both ways). */
  pathDropped: number;
  /** Well-formed input a console does not act on at that point. */
  ignored: number;
  /** Datagrams or messages that did not parse. */
  malformed: number;
}

/**
 * The console's UDP 9297 listener: serves one probe at a time, and a new one once the last
 * ended (DISCONNECT or silence). Garbage and out-of-turn input is counted, never thrown.
 */
export class SenkushaConsole implements Machine<Uint8Array, SenkushaConsoleEvent, Uint8Array> {
  readonly stats: SenkushaConsoleStats = {
    probes: 0,
    echoed: 0,
    mtuAnswers: 0,
    pathDropped: 0,
    ignored: 0,
    malformed: 0,
  };
  private readonly opts: SenkushaConsoleOptions;
  private takion: TakionEndpoint;
  private closed = false;
  private banged = false;
  private echo = false;
  private clientMtu = false;
  private videoPacketIndex = 0;
  private readonly out = new Queue<Uint8Array>();
  private readonly events = new Queue<SenkushaConsoleEvent>();

  constructor(opts: SenkushaConsoleOptions) {
    this.opts = opts;
    this.takion = this.listen(opts.now);
  }

  get takionStats(): TakionStats {
    return this.takion.stats;
  }

  private listen(now: number): TakionEndpoint {
    this.banged = false;
    this.echo = false;
    this.clientMtu = false;
    return new TakionEndpoint({ role: 'console', now, encrypted: false, random: this.opts.random });
  }

  private lostOnPath(d: Uint8Array): boolean {
    const limit = this.opts.pathMtu;
    if (limit === undefined || d.length + IP_UDP_OVERHEAD <= limit) return false;
    this.stats.pathDropped++;
    return true;
  }

  /** Stops listening for good. */
  close(): void {
    this.closed = true;
    this.takion.close();
  }

  handle(bytes: Uint8Array, now: number): void {
    if (this.closed || this.lostOnPath(bytes)) return;
    if (this.takion.state === 'closed') this.takion = this.listen(now);
    this.takion.handle(bytes, now);
    this.flush(now);
  }

  handleTimeout(now: number): void {
    if (this.closed) return;
    this.takion.handleTimeout(now);
    this.flush(now);
  }

  pollTimeout(): number | undefined {
    return this.closed ? undefined : this.takion.pollTimeout();
  }

  pollTransmit(): Uint8Array | undefined {
    return this.out.shift();
  }

  pollEvent(): SenkushaConsoleEvent | undefined {
    return this.events.shift();
  }

  private flush(now: number): void {
    const t = this.takion;
    for (let e = t.pollEvent(); e !== undefined; e = t.pollEvent()) this.onTakion(e, now);
    this.moveTransmits();
  }

  private moveTransmits(): void {
    const t = this.takion;
    for (let d = t.pollTransmit(); d !== undefined; d = t.pollTransmit())
      if (!this.lostOnPath(d)) this.out.push(d);
  }

  private onTakion(e: TakionEvent, now: number): void {
    switch (e.type) {
      case 'connected':
        this.stats.probes++;
        this.events.push({ type: 'connected' });
        return;
      case 'message': {
        if (e.dataType !== DataType.Protobuf) {
          this.stats.ignored++;
          return;
        }
        const m = decodeMessage(e.payload, this.stats);
        if (m) this.onMessage(m, now);
        return;
      }
      case 'av':
        this.onAv(e.bytes);
        return;
      case 'packet':
        this.stats.ignored++;
        return;
      case 'lost':
        this.events.push({ type: 'lost', error: e.error });
        return;
      case 'acked':
      case 'error': // a reply given up after all resends: the client's timeouts handle it
        return;
    }
  }

  private onMessage(m: TakionMessage, now: number): void {
    switch (m.type) {
      case 'takionProtocolRequest': {
        if (this.banged) break;
        const version = CONSOLE_VERSIONS.find((v) => m.versions.includes(v));
        sendProto(this.takion, CHANNEL.default, { type: 'takionProtocolRequestAck', version }, now);
        return;
      }
      case 'big': {
        if (this.banged) break;
        const accepted = CONSOLE_VERSIONS.includes(m.big.clientVersion);
        sendProto(
          this.takion,
          CHANNEL.default,
          {
            type: 'bang',
            bang: {
              serverVersion: m.big.clientVersion,
              token: 0,
              encryptedKeyAccepted: true,
              versionAccepted: accepted,
              sessionKey: '',
            },
          },
          now,
        );
        // refused: no commands are served, so the client's pings go unanswered
        this.banged = accepted;
        this.events.push({ type: 'big', clientVersion: m.big.clientVersion, accepted });
        return;
      }
      case 'senkusha':
        if (this.banged && this.onCommand(m.senkusha, now)) return;
        break;
      case 'disconnect':
        this.events.push({ type: 'disconnected', reason: m.reason });
        this.moveTransmits(); // the DATA_ACK of DISCONNECT goes out before the connection closes
        this.takion.close();
        return;
    }
    this.stats.ignored++;
  }

  /** True when the command was served. */
  private onCommand(s: SenkushaPayload, now: number): boolean {
    if (s.command === SENKUSHA_COMMAND.echo && s.echo) {
      this.echo = s.echo.state;
      this.events.push({ type: 'echo', on: this.echo });
      return true;
    }
    if (s.command === SENKUSHA_COMMAND.mtu && s.mtu) {
      const { id, mtuReq } = s.mtu;
      if (mtuReq < MTU_ANSWER_MIN || mtuReq > MTU_ANSWER_MAX) return false;
      const num = Math.min(Math.max(s.mtu.num ?? 1, 1), MTU_ANSWER_MAX_NUM);
      for (let i = 0; i < num; i++) {
        const packet = formatAvPacket(
          {
            isVideo: true,
            version: 7,
            packetIndex: this.videoPacketIndex,
            frameIndex: id & 0xffff,
            unitIndex: i,
            unitsTotal: num,
            fecUnits: 0,
            codec: 0,
            keyPos: 0,
          },
          new Uint8Array(mtuReq - IP_UDP_OVERHEAD - V7_VIDEO_HEADER),
        );
        this.videoPacketIndex = (this.videoPacketIndex + 1) & 0xffff;
        sendAv(this.takion, packet);
        this.stats.mtuAnswers++;
      }
      // the report pyremoteplay reads: what was asked and what was sent
      sendProto(
        this.takion,
        SENKUSHA_CHANNEL,
        {
          type: 'senkusha',
          senkusha: { command: SENKUSHA_COMMAND.mtu, mtu: { id, mtuReq, mtuSent: mtuReq, num } },
        },
        now,
      );
      this.events.push({ type: 'mtuRequest', id, mtuReq, num });
      return true;
    }
    if (s.command === SENKUSHA_COMMAND.clientMtu && s.clientMtu) {
      const c = s.clientMtu;
      this.clientMtu = c.state;
      // the client waits for this echo of its command (chiaki matches the id)
      sendProto(this.takion, SENKUSHA_CHANNEL, { type: 'senkusha', senkusha: s }, now);
      this.events.push({ type: 'clientMtu', id: c.id, on: c.state, mtuReq: c.mtuReq, mtuDown: c.mtuDown });
      return true;
    }
    return false;
  }

  /** Pings come back unchanged while echo or client MTU mode is on. */
  private onAv(bytes: Uint8Array): void {
    const p = parseV7(bytes, this.stats);
    if (!p) return;
    if (!this.banged || !(this.echo || this.clientMtu) || p.isVideo || p.data.length < TAG_OFFSET + 4) {
      this.stats.ignored++;
      return;
    }
    sendAv(this.takion, bytes.slice());
    this.stats.echoed++;
  }
}
