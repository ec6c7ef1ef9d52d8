/**
 * Network faults for the simulator's outgoing AV datagrams (`--loss P --reorder P --dup P
 * --jitter MS`), sans-I/O and seeded so a run can be repeated exactly.
 *
 * A Machine (src/proto-stack/machine.ts) between the console session and the socket: handle()
 * each AV datagram with its frame/unit numbers, send what pollTransmit() gives (in delivery
 * order), handleTimeout() at pollTimeout() for what is held back; each drop is an event (and
 * stays in `drops`).
 *
 * Every datagram is, independently: dropped with probability `loss` (logged with its frame and
 * unit numbers), otherwise delayed by a uniform 0..jitterMs, held back until after the next
 * datagram with probability `reorder`, and sent twice with probability `dup`. With every option 0
 * a datagram is ready at once, so the order is kept. Only AV packets should go through here:
 * Takion control traffic has its own resend logic and is not what the loss statistics are about.
 *
 * `fecOutcome(drops)` turns the drop log into the frames FEC can and cannot rebuild: a video frame
 * survives iff no more of its units were dropped than it has FEC units.
 */
import type { AvMeta } from '../proto-stack/avpacket.js';
import { UsageError } from '../proto-stack/errors.js';
import { type Machine, Queue } from '../proto-stack/machine.js';

export interface DropRecord extends AvMeta {
  /** When the datagram was handed in. */
  t: number;
}

export interface FaultOptions {
  /** Probability 0..1 that a datagram is dropped. */
  loss?: number;
  /** Probability 0..1 that a datagram is held back and sent after the next one. */
  reorder?: number;
  /** Probability 0..1 that a datagram is sent twice. */
  dup?: number;
  /** Extra delay, uniform in 0..jitterMs, per datagram (datagrams may overtake each other). */
  jitterMs?: number;
  /** PRNG seed (any integer); the same seed and input give the same faults. */
  seed?: number;
  /** Oldest drop records are forgotten beyond this many (a long run must not grow without bound). */
  maxDropLog?: number;
}

export interface FaultStats {
  pushed: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  reordered: number;
}

/** A held-back datagram is released after this long even if no later one comes. */
const REORDER_HOLD_MS = 10;

interface Queued {
  due: number;
  seq: number;
  bytes: Uint8Array;
}

function probability(name: string, v: number | undefined): number {
  const p = v ?? 0;
  if (!(p >= 0 && p <= 1)) throw new UsageError(`--${name} must be a probability between 0 and 1, got ${v}`);
  return p;
}

export class FaultInjector implements Machine<{ bytes: Uint8Array; meta: AvMeta }, DropRecord, Uint8Array> {
  readonly drops: DropRecord[] = [];
  private readonly dropEvents = new Queue<DropRecord>();
  private readonly ready = new Queue<Uint8Array>();
  readonly stats: FaultStats = { pushed: 0, delivered: 0, dropped: 0, duplicated: 0, reordered: 0 };

  private readonly loss: number;
  private readonly reorder: number;
  private readonly dup: number;
  private readonly jitterMs: number;
  private readonly maxDropLog: number;
  private state: number;
  /** Sorted by (due, seq). */
  private queue: Queued[] = [];
  private held: Queued[] = [];
  private seq = 0;

  constructor(opts: FaultOptions = {}) {
    this.loss = probability('loss', opts.loss);
    this.reorder = probability('reorder', opts.reorder);
    this.dup = probability('dup', opts.dup);
    const j = opts.jitterMs ?? 0;
    if (!(j >= 0 && j <= 10_000)) throw new UsageError(`--jitter must be 0..10000 ms, got ${opts.jitterMs}`);
    this.jitterMs = j;
    this.maxDropLog = opts.maxDropLog ?? 100_000;
    // a zero state would make the generator stick at zero
    this.state = (opts.seed ?? 1) >>> 0 || 0x9e3779b9;
  }

  /** True when every fault is off: every datagram is ready as soon as it is handed in. */
  get passThrough(): boolean {
    return this.loss === 0 && this.reorder === 0 && this.dup === 0 && this.jitterMs === 0;
  }

  /** xorshift32 -> [0, 1). Enough quality for fault dice, and tiny. */
  private random(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 0x1_0000_0000;
  }

  handle(input: { bytes: Uint8Array; meta: AvMeta }, now: number): void {
    const { bytes: datagram, meta } = input;
    this.stats.pushed++;
    if (this.loss > 0 && this.random() < this.loss) {
      const d: DropRecord = {
        kind: meta.kind,
        frameIndex: meta.frameIndex,
        unitIndex: meta.unitIndex,
        unitsTotal: meta.unitsTotal,
        fecUnits: meta.fecUnits,
        t: now,
      };
      this.stats.dropped++;
      this.drops.push(d);
      if (this.drops.length > this.maxDropLog) this.drops.splice(0, this.drops.length - this.maxDropLog);
      this.dropEvents.push(d);
      return;
    }
    const due = now + (this.jitterMs > 0 ? this.random() * this.jitterMs : 0);
    const copies = this.dup > 0 && this.random() < this.dup ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    const reorder = this.reorder > 0 && this.random() < this.reorder;
    const items: Queued[] = [];
    for (let i = 0; i < copies; i++) items.push({ due, seq: this.seq++, bytes: datagram });
    if (reorder) {
      this.stats.reordered++;
      // released behind the next datagram, or on its own after REORDER_HOLD_MS
      for (const q of items) q.due = due + REORDER_HOLD_MS;
      this.held.push(...items);
      return;
    }
    for (const q of items) this.insert(q);
    if (this.held.length > 0) {
      // the held ones now go right behind this datagram
      for (const h of this.held) {
        h.due = due;
        h.seq = this.seq++;
        this.insert(h);
      }
      this.held = [];
    }
    this.release(now);
  }

  private insert(q: Queued): void {
    const a = this.queue;
    let i = a.length;
    while (i > 0 && (a[i - 1].due > q.due || (a[i - 1].due === q.due && a[i - 1].seq > q.seq))) i--;
    a.splice(i, 0, q);
  }

  /** Makes the datagrams due at `now` ready, in the order they should go out. */
  handleTimeout(now: number): void {
    if (this.held.length > 0 && this.held[0].due <= now) {
      for (const h of this.held) this.insert(h);
      this.held = [];
    }
    this.release(now);
  }

  private release(now: number): void {
    let n = 0;
    while (n < this.queue.length && this.queue[n].due <= now) n++;
    if (n === 0) return;
    for (const q of this.queue.splice(0, n)) this.ready.push(q.bytes);
    this.stats.delivered += n;
  }

  pollTransmit(): Uint8Array | undefined {
    return this.ready.shift();
  }

  /** A dropped datagram, right when it was dropped. */
  pollEvent(): DropRecord | undefined {
    return this.dropEvents.shift();
  }

  pollTimeout(): number | undefined {
    let t = this.queue.length > 0 ? this.queue[0].due : undefined;
    if (this.held.length > 0 && (t === undefined || this.held[0].due < t)) t = this.held[0].due;
    return t;
  }
}

export interface FrameFecOutcome {
  frameIndex: number;
  dropped: number;
  fecUnits: number;
  unitsTotal: number;
  /** dropped <= fecUnits: FEC (or the units themselves) rebuild the frame. */
  recoverable: boolean;
}

/**
 * Per video frame that lost units: whether FEC can rebuild it. Frames absent from the result lost
 * nothing. Keyed by wire frame index, so feed it the drops of less than 65536 frames.
 */
export function fecOutcome(drops: readonly DropRecord[]): Map<number, FrameFecOutcome> {
  const out = new Map<number, FrameFecOutcome>();
  for (const d of drops) {
    if (d.kind !== 'video') continue;
    let o = out.get(d.frameIndex);
    if (!o) {
      o = {
        frameIndex: d.frameIndex,
        dropped: 0,
        fecUnits: d.fecUnits,
        unitsTotal: d.unitsTotal,
        recoverable: true,
      };
      out.set(d.frameIndex, o);
    }
    o.dropped++;
    o.recoverable = o.dropped <= o.fecUnits;
  }
  return out;
}
