/**
 * The simulator's test knobs on a stream session: console behaviours a test needs and no
 * well-behaved console shows on its own. None of them is on unless asked for.
 *
 * - `hold` (`simulate --hold STEP`): a slow console. The session request or the ctrl request is
 *   answered HOLD_MS[step] late (never, if the client left meanwhile); with `bang`, what the client
 *   sends after the Takion handshake (BIG first) goes in late, so BANG comes late.
 * - `tamperAfter: N` flips one bit (in the GMAC field) of the Nth datagram sent after the client
 *   acknowledged STREAMINFO: a test of the client's GMAC check (drop that packet, carry on).
 * - `floodPps: N` adds N forged video datagrams a second from the console's address (copies of
 *   real ones with a wrong tag and random packet numbers): an attacker who can spoof the console.
 */
import { randomBytes } from 'node:crypto';
import type { ConsoleEvent } from '../proto-stack/consolesession.js';
import { baseType, gmacOffset, TakionType } from '../proto-stack/takion.js';
import type { ConsoleHost, HttpExchange, Remote } from './host.js';

export const HOLD_STEPS = ['session-init', 'ctrl', 'bang'] as const;
export type HoldStep = (typeof HOLD_STEPS)[number];
/**
 * How long --hold keeps each step waiting. BANG comes within the second a client that is closing
 * waits for it (so its DISCONNECT can be tagged), after half of it: a test's signal may land up to
 * 500 ms into the hold and BANG may still come 500 ms late on a loaded machine.
 */
export const HOLD_MS: Record<HoldStep, number> = { 'session-init': 1500, ctrl: 1500, bang: 500 };

export interface StreamFaultOptions {
  /** A slow console: this step is answered only after HOLD_MS[step]. */
  hold?: HoldStep;
  /** Flip one bit in the Nth datagram (1-based) sent after the client acknowledged STREAMINFO. */
  tamperAfter?: number;
  /** Forged video datagrams a second, from STREAMINFOACK on. */
  floodPps?: number;
}

/**
 * --hold for an HTTP request: true when `step` is held (logged as "held"); `answer` then runs
 * HOLD_MS[step] later, unless the client closed the connection meanwhile.
 */
export function holdRequest(
  sim: ConsoleHost,
  o: StreamFaultOptions,
  step: HoldStep,
  x: HttpExchange,
  answer: () => void,
): boolean {
  if (o.hold !== step) return false;
  const from = x.remote.address;
  const ms = HOLD_MS[step];
  sim.events.emit('held', { step, from, ms }, `${step} request from ${from} held for ${ms} ms`);
  let gone = false;
  x.socket.once('close', () => {
    gone = true;
  });
  sim.later(ms, () => {
    if (!gone && !x.socket.destroyed) answer();
    else sim.events.emit('held', { step, from, gone: true }, `  the client of the held ${step} request left`);
  });
  return true;
}

/** What SessionFaults needs of its session's driver. */
export interface FaultedSession {
  readonly remote: Remote;
  readonly ended: boolean;
  /** Sends a datagram to the client's Takion port as it is (forged ones); false before it is known. */
  sendTakion(d: Uint8Array): boolean;
  /** Feeds a datagram that was held back. */
  release(d: Uint8Array, from: Remote): void;
}

/** One session's tampering, flooding and holding of BIG. */
export class SessionFaults {
  tampered = 0;
  flooded = 0;
  /** Datagrams sent since the client acknowledged STREAMINFO. */
  private sentAfterHandshake: number | undefined;
  /** The last real video datagram, the template of forged ones. */
  private lastVideo: Uint8Array | undefined;
  private holding: Array<{ d: Uint8Array; from: Remote }> | undefined;

  constructor(
    private readonly sim: ConsoleHost,
    private readonly o: StreamFaultOptions,
    private readonly session: FaultedSession,
  ) {}

  onEvent(e: ConsoleEvent): void {
    // The handshake is over once the client acknowledged STREAMINFO: every packet either side
    // still has in flight was sent under crypt, so a tampered one can only hurt its receiver.
    if (
      e.type === 'streamReceived' &&
      e.message.type === 'streamInfoAck' &&
      this.sentAfterHandshake === undefined
    ) {
      this.sentAfterHandshake = 0;
      if (this.o.floodPps) this.flood(this.o.floodPps);
    }
    if (e.type === 'takionConnected' && this.o.hold === 'bang') this.holdBig();
  }

  /** An incoming Takion datagram: true when it is held back (released later, in order). */
  hold(d: Uint8Array, from: Remote): boolean {
    if (!this.holding) return false;
    this.holding.push({ d, from });
    if (this.holding.length === 1) this.startHold(this.holding);
    return true;
  }

  /** An outgoing Takion datagram as it goes out: tampered with, when it is the one. */
  outgoing(d: Uint8Array): Uint8Array {
    if (this.sentAfterHandshake === undefined) return d;
    if (baseType(d) === TakionType.Video) this.lastVideo = d;
    this.sentAfterHandshake++;
    if (this.sentAfterHandshake !== this.o.tamperAfter) return d;
    // A copy (the original may still sit in the resend queue). The flipped bit is in the GMAC
    // field: the packet still parses, so only the tag check can catch it.
    const bytes = d.slice();
    bytes[gmacOffset(baseType(bytes)) ?? bytes.length - 1] ^= 0x01;
    this.tampered++;
    this.sim.events.emit(
      'stream',
      { dir: 'out', action: 'tampered', packet: this.sentAfterHandshake, bytes: bytes.length },
      `  tampered with datagram #${this.sentAfterHandshake} after the handshake (one bit flipped)`,
    );
    return bytes;
  }

  /** From the Takion handshake on, what the client sends is kept back (BIG first). */
  private holdBig(): void {
    this.holding = [];
  }

  /**
   * The hold runs from the first datagram kept back (BIG), not from the handshake: once "held" is
   * logged the client has sent BIG (so it has a stream to disconnect), and BANG comes HOLD_MS
   * after BIG came.
   */
  private startHold(held: Array<{ d: Uint8Array; from: Remote }>): void {
    const ms = HOLD_MS.bang;
    this.sim.events.emit(
      'held',
      { step: 'bang', from: this.session.remote.address, ms },
      `BIG held for ${ms} ms`,
    );
    this.sim.later(ms, () => {
      this.holding = undefined;
      for (const h of held) this.session.release(h.d, h.from);
    });
  }

  /** Every 10 ms, a hundredth of `pps` forged datagrams, until the session ends. */
  private flood(pps: number): void {
    const gmacAt = gmacOffset(TakionType.Video) as number;
    const tick = () => {
      if (this.session.ended) return;
      const template = this.lastVideo;
      if (template)
        for (let i = 0; i < Math.max(1, Math.round(pps / 100)); i++) {
          const forged = template.slice();
          forged.set(randomBytes(4), gmacAt); // a wrong tag...
          forged.set(randomBytes(2), 1); // ...on a packet number of its own
          if (this.session.sendTakion(forged)) this.flooded++;
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
}
