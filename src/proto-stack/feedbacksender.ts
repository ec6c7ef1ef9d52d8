/**
 * When to send feedback packets (sans-I/O). A controller change produces its packets at once —
 * nothing waits for a timer — and the state packet is repeated at least every 200 ms so the
 * console knows the pad is alive. History packets carry the new events (newest first) plus up to
 * 4 older ones repeated, so a lost datagram does not lose a press or release.
 *
 * The caller (the client session) owns key_pos and crypto: it turns each FeedbackOutput into a
 * datagram with feedbackPackets.
 */

import {
  type ControllerState,
  diffState,
  feedbackStateEqual,
  IDLE_STATE,
  stateEqual,
  TOUCH_MAX_Y,
  toFeedbackState,
} from './controller.js';
import {
  encodeFeedbackHistory,
  encodeFeedbackState,
  FEEDBACK_HISTORY_MAX_EVENTS,
  FEEDBACK_HISTORY_RESEND_EVENTS,
  type FeedbackHistoryEvent,
  type FeedbackType,
} from './feedback.js';
import { type Machine, Queue } from './machine.js';

export const FEEDBACK_STATE_INTERVAL_MS = 200;

export interface FeedbackOutput {
  type: FeedbackType;
  seq: number;
  payload: Uint8Array;
}

/** Everything the cadence depends on besides the clock; immutable, returned anew by each step. */
export interface FeedbackContext {
  readonly ps5: boolean;
  /** The state the console last saw (history is recorded against it). */
  readonly state: ControllerState;
  /** State last put into a FEEDBACK_STATE packet. */
  readonly sentState: ControllerState;
  readonly stateSeq: number;
  readonly historySeq: number;
  /** Events kept for repetition, newest first. */
  readonly history: readonly FeedbackHistoryEvent[];
}

export function initialFeedbackContext(ps5: boolean): FeedbackContext {
  return { ps5, state: IDLE_STATE, sentState: IDLE_STATE, stateSeq: 0, historySeq: 0, history: [] };
}

/**
 * Pure: the packets one controller change causes, and the context afterwards. A history packet
 * when buttons/triggers/touches changed; a state packet when sticks or motion changed.
 */
export function feedbackForChange(
  ctx: FeedbackContext,
  next: ControllerState,
): { outputs: FeedbackOutput[]; ctx: FeedbackContext } {
  if (stateEqual(ctx.state, next)) return { outputs: [], ctx };
  const outputs: FeedbackOutput[] = [];
  let { stateSeq, historySeq, history, sentState } = ctx;
  if (!feedbackStateEqual(sentState, next)) {
    outputs.push({
      type: 'state',
      seq: stateSeq,
      payload: encodeFeedbackState(toFeedbackState(next), ctx.ps5),
    });
    stateSeq = (stateSeq + 1) & 0xffff;
    sentState = next;
  }
  const events = diffState(ctx.state, next).map((e) => (ctx.ps5 && e.kind === 'touch' ? toPs5Touch(e) : e));
  if (events.length > 0) {
    // The reference pushes each event to the front of a 16-slot ring: newest first.
    const all = [...events.reverse(), ...history].slice(0, FEEDBACK_HISTORY_MAX_EVENTS);
    outputs.push({ type: 'history', seq: historySeq, payload: encodeFeedbackHistory(all) });
    historySeq = (historySeq + 1) & 0xffff;
    history = all.slice(0, FEEDBACK_HISTORY_RESEND_EVENTS);
  }
  return { outputs, ctx: { ...ctx, state: next, sentState, stateSeq, historySeq, history } };
}

/** A PS5 reads touch positions on the DualSense pad's 1919 x 1079 grid, a PS4 on 1920 x 942. */
const PS5_TOUCH_MAX_X = 1918;
const PS5_TOUCH_MAX_Y = 1078;

function toPs5Touch(e: Extract<FeedbackHistoryEvent, { kind: 'touch' }>): FeedbackHistoryEvent {
  return {
    ...e,
    x: Math.min(PS5_TOUCH_MAX_X, e.x),
    y: Math.min(PS5_TOUCH_MAX_Y, Math.round((e.y * PS5_TOUCH_MAX_Y) / TOUCH_MAX_Y)),
  };
}

/** Pure: the periodic state packet. */
export function feedbackKeepalive(ctx: FeedbackContext): { output: FeedbackOutput; ctx: FeedbackContext } {
  const output: FeedbackOutput = {
    type: 'state',
    seq: ctx.stateSeq,
    payload: encodeFeedbackState(toFeedbackState(ctx.state), ctx.ps5),
  };
  return { output, ctx: { ...ctx, sentState: ctx.state, stateSeq: (ctx.stateSeq + 1) & 0xffff } };
}

/**
 * The cadence as a Machine (machine.ts): handle() every controller state (a change is sent at
 * once), handleTimeout() at pollTimeout() for the keep-alive; transmits are the packets to send.
 */
export class FeedbackSender implements Machine<ControllerState, never, FeedbackOutput> {
  private ctx: FeedbackContext;
  private lastStateAt: number;
  private readonly out = new Queue<FeedbackOutput>();

  constructor(
    ps5: boolean,
    now: number,
    private readonly intervalMs = FEEDBACK_STATE_INTERVAL_MS,
  ) {
    this.ctx = initialFeedbackContext(ps5);
    this.lastStateAt = now;
  }

  get state(): ControllerState {
    return this.ctx.state;
  }

  /** A new controller state: its packets are queued at once (none if nothing changed). */
  handle(state: ControllerState, now: number): void {
    const r = feedbackForChange(this.ctx, state);
    this.ctx = r.ctx;
    if (r.outputs.some((o) => o.type === 'state')) this.lastStateAt = now;
    for (const o of r.outputs) this.out.push(o);
  }

  /** The keep-alive state packet once 200 ms passed without one. */
  handleTimeout(now: number): void {
    if (now - this.lastStateAt < this.intervalMs) return;
    const r = feedbackKeepalive(this.ctx);
    this.ctx = r.ctx;
    this.lastStateAt = now;
    this.out.push(r.output);
  }

  pollTransmit(): FeedbackOutput | undefined {
    return this.out.shift();
  }

  pollEvent(): undefined {
    return undefined;
  }

  pollTimeout(): number {
    return this.lastStateAt + this.intervalMs;
  }
}
