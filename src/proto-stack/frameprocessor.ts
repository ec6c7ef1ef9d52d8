/**
 * Video frame assembly (docs/protocol.md §7), a Machine (machine.ts): feed decrypted VIDEO packets in
 * arrival order with the current time; its events are complete Annex-B frames and the
 * CORRUPTFRAME / IDRREQUEST messages the session should send. handleTimeout at pollTimeout()
 * keeps a lost packet from stalling the reorder window.
 *
 * Layers, in order:
 * 1. reorder window by 16-bit packet_index: a gap is waited for at most the reorder wait, or until
 *    packets run `reorderSlots` ahead, then skipped. The wait follows the network (the reference
 *    waits a fixed 16 ms, less than a frame interval, so jitter costs it recoverable frames): it
 *    is 1.5 x the lateness of the latest packets seen recently (how long after a later packet a
 *    gap was filled, or a given-up packet still came), plus a margin, within 20..150 ms; it
 *    starts at 150 ms (nothing measured yet) and each loss that never turns up lowers it a little;
 * 2. per-frame unit slots: k = units_total - fec source units, m = max(fec, 1) FEC slots, slot
 *    size = the first source unit's data length + its 2-byte padding field (FEC units are full);
 * 3. flush when k units are in, when every packet index of the frame is settled (arrived or
 *    given up), or when a newer frame starts; FEC rebuilds missing source units; frame = every
 *    source unit's data minus its padding field. Units of the frame whose earlier packets are all
 *    settled go in at once, out of order, so a lost unit costs no reorder wait when FEC covers it;
 * 4. loss: a frame-index gap or a failed frame sends CORRUPTFRAME {first missing, last} and an
 *    IDR request, and P-frames are dropped until the next key frame (a decoder fed frames that
 *    reference a lost one shows smeared video).
 * The STREAMINFO video header of the current profile (adaptive_stream_index) is put in front of
 * the first frame and of the first frame after a profile switch.
 *
 * The sending side (`packetizeVideoFrame`) is here too so the simulator splits frames exactly the
 * way this receiver expects a console to.
 */

import { isKeyframe, nalUnits, type VideoCodec } from './annexb.js';
import type { AvPacketFields, AvVersion } from './avpacket.js';
import { uninitialized } from './bytes.js';
import { UsageError } from './errors.js';
import { FecError, fecDecode, fecEncode } from './fec.js';
import { type Machine, Queue } from './machine.js';
import { seq16Add, seq16Gt, seq16Lt } from './seqnum.js';

/** The parts of a parsed VIDEO packet the processor reads; `data` must already be decrypted. */
export interface VideoUnit {
  packetIndex: number;
  frameIndex: number;
  unitIndex: number;
  unitsTotal: number;
  fecUnits: number;
  adaptiveStreamIndex: number;
  data: Uint8Array;
}

export type VideoEvent =
  | { type: 'frame'; index: number; bytes: Uint8Array; recovered: boolean; keyframe: boolean }
  /** Send CORRUPTFRAME {start, end} (frame indices, inclusive). */
  | { type: 'corrupt'; start: number; end: number }
  /** Send IDRREQUEST. */
  | { type: 'idr' };

export interface VideoStats {
  /** Frames handed out (complete, decodable). */
  framesReceived: number;
  /** Of those, frames that needed FEC. */
  framesRecovered: number;
  /** Frame indices that never completed (gaps and failed frames). */
  framesLost: number;
  /** Complete frames dropped while waiting for a key frame after a loss. */
  framesSkipped: number;
  bytes: number;
  /** Over the sliding window. */
  fps: number;
  kbps: number;
  packetsReceived: number;
  /** Packet indices given up on in the reorder window. */
  packetsMissing: number;
  /** Packets that came too late, twice, or did not fit their frame. */
  packetsDropped: number;
  /** Packets that came after their gap had been given up (dropped; they raise the reorder wait). */
  packetsLate: number;
  idrRequests: number;
  /** The reorder wait in use (ms). */
  reorderWaitMs: number;
}

export interface FrameProcessorOptions {
  codec?: VideoCodec;
  /** A fixed reorder wait instead of the adaptive one (tests). */
  reorderWaitMs?: number;
  /** Bounds of the adaptive reorder wait (default 20..150 ms). */
  reorderWaitMinMs?: number;
  reorderWaitMaxMs?: number;
  reorderSlots?: number;
  statsWindowMs?: number;
  /** Minimum spacing of repeated IDR requests while still waiting for a key frame. */
  idrRetryMs?: number;
  /**
   * Complete frames dropped while waiting for a key frame before giving up and passing frames on
   * anyway (a console that never answers IDR requests would otherwise freeze the picture).
   */
  keyframeWaitFrames?: number;
}

/** Given-up packet indices remembered to notice late arrivals (a few frames' worth). */
const GIVEN_UP_MEMORY = 2048;
/** The reference refuses frames with more unit slots than this. */
const MAX_UNIT_SLOTS = 512;
/** Larger than any UDP payload on an Ethernet path; bounds what a bogus padding field can allocate. */
const MAX_UNIT_SIZE = 4096;

/**
 * The reorder window's buffered packets by packet_index, in arrays indexed by the index's low
 * bits: the window spans fewer indices than there are slots, so two never share one. (A Map of
 * one object per packet cost a hash lookup and an allocation each, and behind every loss the
 * rest of its frame waits here.)
 */
class PacketWindow {
  private readonly mask: number;
  private readonly index: Int32Array;
  private readonly units: (VideoUnit | undefined)[];
  private readonly arrived: Float64Array;
  private readonly handed: Uint8Array;
  /** Indices added, in arrival order; entries gone since are dropped when met (compact()). */
  private order: number[] = [];
  private orderN = 0;
  size = 0;

  constructor(slots: number) {
    let n = 1;
    while (n < slots) n <<= 1;
    this.mask = n - 1;
    this.index = new Int32Array(n).fill(-1);
    this.units = new Array<VideoUnit | undefined>(n).fill(undefined);
    this.arrived = new Float64Array(n);
    this.handed = new Uint8Array(n);
  }

  has(idx: number): boolean {
    return this.index[idx & this.mask] === idx;
  }

  /** The unit buffered for idx (has(idx) must hold). */
  unit(idx: number): VideoUnit {
    return this.units[idx & this.mask] as VideoUnit;
  }

  /** Handed over already (drain() takes settled units early), waiting only for its index to pass. */
  isDone(idx: number): boolean {
    return this.handed[idx & this.mask] === 1;
  }

  markDone(idx: number): void {
    this.handed[idx & this.mask] = 1;
  }

  add(idx: number, u: VideoUnit, now: number): void {
    const s = idx & this.mask;
    this.index[s] = idx;
    this.units[s] = u;
    this.arrived[s] = now;
    this.handed[s] = 0;
    this.size++;
    if (this.orderN > 2 * this.size + 64) this.compact();
    this.order[this.orderN++] = idx;
  }

  delete(idx: number): void {
    const s = idx & this.mask;
    this.index[s] = -1;
    this.units[s] = undefined;
    this.size--;
  }

  /** The earliest arrival time among the buffered packets (undefined when none). */
  oldestArrival(): number | undefined {
    this.compact();
    let t: number | undefined;
    for (let i = 0; i < this.orderN; i++) {
      const a = this.arrived[this.order[i] & this.mask];
      if (t === undefined || a < t) t = a;
    }
    return t;
  }

  /** The buffered index nearest after `from` in 16-bit order (-1 when none). */
  nearestAfter(from: number): number {
    this.compact();
    let first = -1;
    let best = 0x10000;
    for (let i = 0; i < this.orderN; i++) {
      const d = (this.order[i] - from) & 0xffff;
      if (d < best) {
        best = d;
        first = this.order[i];
      }
    }
    return first;
  }

  private compact(): void {
    const o = this.order;
    let keep = 0;
    for (let i = 0; i < this.orderN; i++) if (this.has(o[i])) o[keep++] = o[i];
    this.orderN = keep;
  }
}

export class FrameProcessor implements Machine<VideoUnit, VideoEvent> {
  private readonly events = new Queue<VideoEvent>();
  private readonly codec: VideoCodec;
  private reorderWaitMs: number;
  private readonly fixedWait: boolean;
  private readonly waitMin: number;
  private readonly waitMax: number;
  /** How late packets have been lately (ms): jumps up to a new maximum, decays slowly. */
  private lateness = 0;
  /** Packet indices given up on, with when: a late arrival among them tells how late it was. */
  private readonly givenUp = new Map<number, number>();
  private readonly reorderSlots: number;
  private readonly statsWindowMs: number;
  private readonly idrRetryMs: number;
  private readonly keyframeWaitFrames: number;
  private skippedInRow = 0;
  private headers: Uint8Array[] = [];

  // reorder window
  private expected = -1;
  private readonly pending: PacketWindow;
  /**
   * packet_index of the pending units not handed over yet, in arrival order (may name entries
   * already gone or done: skipped when met). takeSettled() scans only these, not the whole
   * window, which holds the rest of a frame behind a lost packet: scanning it per packet was
   * quadratic in the frame's unit count.
   */
  private undone: number[] = [];
  /** How many of `undone` are in use (its length is never set: that is a slow path in V8). */
  private undoneN = 0;
  /** takeSettled()'s indices to hand over, reused. */
  private readonly ready: number[] = [];
  /** An entry left `pending` since the last rearm(): its oldest arrival must be looked up again. */
  private pendingLeft = false;
  private waitStart: number | undefined;

  // current frame
  private cur = -1;
  /** packet_index of unit 0 of the current frame, and its unit count. */
  private curFirst = 0;
  private curTotal = 0;
  private flushed = true;
  private prevComplete = 0;
  private k = 0;
  private m = 0;
  private total = 0;
  private fecField = 0;
  private unitSize = 0;
  /**
   * The received units of the current frame, kept as the caller's views (no copy: the frame is
   * assembled straight from them); sizes[i] = their length, 0 = not received.
   */
  private units: (Uint8Array | undefined)[] = [];
  private sizes = new Int32Array(0);
  /** Zero-padded copies of short units for FEC (it needs equal sizes), `stride` bytes apart. */
  private pad = new Uint8Array(0);
  /** Slot spacing of `pad`: the unit size rounded up to 16 so FEC works on aligned words. */
  private stride = 0;
  private sourceRecv = 0;
  private fecRecv = 0;

  private profile = -1;
  private headerPending = false;
  private awaitingKey = true;
  private lastIdrAt: number | undefined;

  private readonly st: VideoStats = {
    framesReceived: 0,
    framesRecovered: 0,
    framesLost: 0,
    framesSkipped: 0,
    bytes: 0,
    fps: 0,
    kbps: 0,
    packetsReceived: 0,
    packetsMissing: 0,
    packetsDropped: 0,
    packetsLate: 0,
    idrRequests: 0,
    reorderWaitMs: 0,
  };
  private window: { t: number; bytes: number }[] = [];
  private firstFrameAt: number | undefined;
  private reportReceived = 0;
  private reportLost = 0;

  constructor(opts: FrameProcessorOptions = {}) {
    this.codec = opts.codec ?? 'h264';
    this.fixedWait = opts.reorderWaitMs !== undefined;
    this.waitMin = opts.reorderWaitMinMs ?? 20;
    this.waitMax = opts.reorderWaitMaxMs ?? 150;
    // Before anything is measured the network is unknown: wait the longest (a first key frame
    // under jitter would otherwise be given up on before its FEC arrived); the first lateness
    // seen sets the wait, and losses that never turn up bring it down (noteLoss).
    this.reorderWaitMs = opts.reorderWaitMs ?? this.waitMax;
    // a 40 Mbit/s key frame is a few hundred packets: the window must hold a frame and then some
    this.reorderSlots = opts.reorderSlots ?? 1024;
    this.pending = new PacketWindow(this.reorderSlots);
    this.statsWindowMs = opts.statsWindowMs ?? 1000;
    this.idrRetryMs = opts.idrRetryMs ?? 250;
    this.keyframeWaitFrames = opts.keyframeWaitFrames ?? 180;
  }

  /** STREAMINFO video headers (SPS/PPS[/VPS], Annex-B), indexed by adaptive_stream_index. */
  setVideoHeaders(headers: Uint8Array[]): void {
    this.headers = headers.slice();
    this.profile = -1;
  }

  /**
   * Feeds one decrypted packet. The processor keeps `unit.data` (a view, not a copy) until its
   * frame is emitted or given up: the caller must not reuse that memory.
   */
  handle(unit: VideoUnit, now: number): void {
    this.st.packetsReceived++;
    const idx = unit.packetIndex & 0xffff;
    if (this.expected < 0) this.expected = (idx - unit.unitIndex) & 0xffff;
    const fresh = !seq16Lt(idx, this.expected) && !this.pending.has(idx);
    if (fresh) this.reportReceived++;
    if (idx === this.expected) {
      // it filled a gap that later packets have been waiting behind: that long late
      if (this.waitStart !== undefined) this.noteLateness(now - this.waitStart);
      this.expected = seq16Add(this.expected, 1);
      this.accept(unit, now);
    } else if (seq16Lt(idx, this.expected) || this.pending.has(idx)) {
      const gaveUpAt = this.givenUp.get(idx);
      if (gaveUpAt !== undefined) {
        // late, not lost: the congestion report counts it received
        this.givenUp.delete(idx);
        this.reportReceived++;
        this.st.packetsLate++;
        this.noteLateness(now - gaveUpAt + this.reorderWaitMs);
      }
      this.st.packetsDropped++;
    } else {
      // Too far ahead: the window moves first (what it passes is handed out or given up; this
      // packet, the farthest, would come after all of it anyway), so the window never spans
      // more indices than it has slots.
      const ahead = (idx - this.expected) & 0xffff;
      if (ahead >= this.reorderSlots) this.skipTo(seq16Add(idx, 1 - this.reorderSlots), now);
      // drain() hands it over at once if the gap before it can only be inside its own frame
      this.pending.add(idx, unit, now);
      this.undone[this.undoneN++] = idx;
      if (this.waitStart === undefined || now < this.waitStart) this.waitStart = now;
    }
    this.drain(now);
    this.checkTimeout(now);
  }

  /**
   * True when a packet of this frame would be dropped or ignored whatever its payload (an older
   * frame, or the current one already emitted or given up): the caller may push it without
   * decrypting it. Typically the spare FEC units of a frame that completed without them.
   */
  ignoresFrame(frameIndex: number): boolean {
    if (this.cur < 0) return false;
    const fi = frameIndex & 0xffff;
    // k === 0: the frame's first packet was unusable, a later one may still describe it (handle())
    return seq16Lt(fi, this.cur) || (fi === this.cur && this.flushed && this.k > 0);
  }

  /** Time-driven work: gives up on a missing packet once it is `reorderWaitMs` overdue. */
  handleTimeout(now: number): void {
    this.checkTimeout(now);
  }

  /** When handleTimeout has something to do, or undefined while nothing is waiting. */
  pollTimeout(): number | undefined {
    return this.waitStart === undefined ? undefined : this.waitStart + this.reorderWaitMs;
  }

  pollEvent(): VideoEvent | undefined {
    return this.events.shift();
  }

  /** Nothing: CORRUPTFRAME and IDR requests are events for the session to send. */
  pollTransmit(): undefined {
    return undefined;
  }

  stats(now: number): VideoStats {
    this.prune(now);
    let bytes = 0;
    for (const w of this.window) bytes += w.bytes;
    // A stream younger than the window is measured over its age, each frame standing for one
    // interval of the spacing seen so far (dividing by the whole window read 48 fps at 0.8 s).
    const n = this.window.length;
    const age = this.firstFrameAt === undefined ? 0 : now - this.firstFrameAt;
    const ms = age >= this.statsWindowMs ? this.statsWindowMs : n > 1 ? (age * n) / (n - 1) : 0;
    if (ms <= 0) return { ...this.st, fps: 0, kbps: 0, reorderWaitMs: this.reorderWaitMs };
    return { ...this.st, fps: (n * 1000) / ms, kbps: (bytes * 8) / ms, reorderWaitMs: this.reorderWaitMs };
  }

  /** Units received and lost since the last call, for the congestion report. */
  takePacketStats(now: number): { received: number; lost: number } {
    this.settleLosses(now);
    const out = { received: this.reportReceived, lost: this.reportLost };
    this.reportReceived = 0;
    this.reportLost = 0;
    return out;
  }

  private prune(now: number): void {
    let i = 0;
    while (i < this.window.length && this.window[i].t <= now - this.statsWindowMs) i++;
    if (i > 0) this.window.splice(0, i);
  }

  private drain(now: number): void {
    for (;;) {
      const e = this.expected;
      if (this.pending.has(e)) {
        const u = this.pending.unit(e);
        const done = this.pending.isDone(e);
        this.pending.delete(e);
        this.pendingLeft = true;
        this.expected = seq16Add(e, 1);
        if (!done) this.accept(u, now);
        continue;
      }
      // A gap inside a frame that is already decided (emitted or failed) is not worth waiting for.
      const into = (this.expected - this.curFirst) & 0xffff;
      if (this.pending.size > 0 && this.cur >= 0 && this.flushed && into < this.curTotal) {
        const n = this.curTotal - into;
        for (let i = 0; i < n && !this.pending.has(this.expected); i++) {
          this.giveUp(this.expected, now);
          this.expected = seq16Add(this.expected, 1);
        }
        continue;
      }
      if (this.takeSettled(now)) continue;
      break;
    }
    // Every packet index of the current frame is settled: nothing more can complete it.
    const past = (this.expected - this.curFirst) & 0xffff;
    if (this.cur >= 0 && !this.flushed && this.k > 0 && past >= this.curTotal && past < 0x8000)
      this.flush(now);
    this.rearm();
  }

  /**
   * Hands over, in packet order, the buffered units whose frame starts at or before the window
   * start: the gap in front of them can only be inside their own frame. True if any went in.
   */
  private takeSettled(now: number): boolean {
    const undone = this.undone;
    const n = this.undoneN;
    if (n === 0) return false; // the common case
    const w = this.pending;
    const ready = this.ready;
    let count = 0;
    let keep = 0;
    for (let i = 0; i < n; i++) {
      const idx = undone[i];
      if (!w.has(idx) || w.isDone(idx)) continue;
      if (seq16Gt((idx - w.unit(idx).unitIndex) & 0xffff, this.expected)) {
        undone[keep++] = idx;
        continue;
      }
      w.markDone(idx);
      // insertion sort by distance from the window start: a handful of units
      const d = (idx - this.expected) & 0xffff;
      let j = count++;
      while (j > 0 && ((ready[j - 1] - this.expected) & 0xffff) > d) {
        ready[j] = ready[j - 1];
        j--;
      }
      ready[j] = idx;
    }
    this.undoneN = keep;
    for (let i = 0; i < count; i++) this.accept(w.unit(ready[i]), now);
    return count > 0;
  }

  /** A gap is waited for from the arrival of the oldest packet stuck behind it. */
  private rearm(): void {
    if (this.pending.size === 0) {
      this.waitStart = undefined;
      this.undoneN = 0;
    } else if (this.pendingLeft) {
      // arrivals only lower the minimum (handle() keeps it); a departure may raise it
      this.waitStart = this.pending.oldestArrival();
    }
    this.pendingLeft = false;
  }

  /** Moves the window start to `target`, handing out what is buffered before it in order. */
  private skipTo(target: number, now: number): void {
    while (seq16Lt(this.expected, target)) {
      const e = this.expected;
      this.expected = seq16Add(e, 1);
      if (this.pending.has(e)) {
        const u = this.pending.unit(e);
        const done = this.pending.isDone(e);
        this.pending.delete(e);
        this.pendingLeft = true;
        if (!done) this.accept(u, now);
      } else this.giveUp(e, now);
    }
    this.drain(now);
  }

  /** A packet index no longer waited for; remembered a while to learn from it if it still comes. */
  private giveUp(idx: number, now: number): void {
    this.st.packetsMissing++;
    if (this.givenUp.size >= GIVEN_UP_MEMORY) {
      const oldest = this.givenUp.keys().next().value as number;
      this.givenUp.delete(oldest);
      this.reportLost++;
    }
    this.givenUp.set(idx, now);
  }

  /**
   * A given-up packet counts as lost (for the congestion report, where a console lowers its
   * bitrate on it) once it stayed away another reorder wait: a late one is not loss.
   */
  private settleLosses(now: number): void {
    for (const [idx, at] of this.givenUp) {
      if (now - at < this.reorderWaitMs) break; // insertion order is time order
      this.givenUp.delete(idx);
      this.reportLost++;
      this.noteLoss();
    }
  }

  /**
   * A given-up packet that never came: on a network that loses but does not reorder nothing else
   * would bring the wait down from where it started, so each real loss lowers it a little.
   */
  private noteLoss(): void {
    if (this.fixedWait) return;
    this.lateness -= this.lateness / 64;
    const wait = Math.max(this.waitMin, this.lateness * 1.5 + 4);
    if (wait < this.reorderWaitMs) this.reorderWaitMs = wait;
  }

  /** A packet `late` ms behind the ones after it: the wait follows the recent maximum. */
  private noteLateness(late: number): void {
    if (this.fixedWait || !(late > 0)) return;
    this.lateness = late > this.lateness ? late : this.lateness + (late - this.lateness) / 256;
    this.reorderWaitMs = Math.min(this.waitMax, Math.max(this.waitMin, this.lateness * 1.5 + 4));
  }

  private checkTimeout(now: number): void {
    // Same expression as nextWakeup(), so polling exactly at the wakeup time always makes progress
    // (now - start >= wait can be false there through floating-point rounding).
    while (
      this.waitStart !== undefined &&
      now >= this.waitStart + this.reorderWaitMs &&
      this.pending.size > 0
    ) {
      this.skipTo(this.pending.nearestAfter(this.expected), now);
    }
  }

  // ---- frame layer ----

  private accept(u: VideoUnit, now: number): void {
    const fi = u.frameIndex & 0xffff;
    if (this.cur >= 0 && seq16Lt(fi, this.cur)) {
      this.st.packetsDropped++;
      return;
    }
    if (this.headers.length > 0) {
      if (u.adaptiveStreamIndex >= this.headers.length) {
        this.st.packetsDropped++;
        return;
      }
      if (u.adaptiveStreamIndex !== this.profile) {
        this.profile = u.adaptiveStreamIndex;
        this.headerPending = true;
      }
    }
    if (this.cur < 0 || seq16Gt(fi, this.cur)) {
      if (this.cur >= 0) {
        if (!this.flushed) this.flush(now);
        const next = seq16Add(this.prevComplete, 1);
        if (seq16Gt(fi, next)) {
          const end = seq16Add(fi, -1);
          this.events.push({ type: 'corrupt', start: next, end });
          this.st.framesLost += ((end - next) & 0xffff) + 1;
          this.prevComplete = end;
          this.lossDetected(now);
        }
      } else {
        this.prevComplete = seq16Add(fi, -1);
      }
      this.cur = fi;
      if (!this.alloc(u)) {
        this.st.packetsDropped++;
        return;
      }
    } else if (this.k === 0 && !this.alloc(u)) {
      // the frame's first packet was unusable; a later one may still describe it properly
      this.st.packetsDropped++;
      return;
    }
    if (this.flushed) return; // units that arrive after the frame was emitted (spare FEC)
    if (!this.put(u)) {
      this.st.packetsDropped++;
      return;
    }
    // (The other flush points: a newer frame starts, or drain() finds the frame's packets all settled.)
    if (this.sourceRecv + this.fecRecv >= this.k) this.flush(now);
  }

  private alloc(u: VideoUnit): boolean {
    this.k = 0;
    this.total = 0;
    this.curTotal = 0;
    this.flushed = false;
    this.sourceRecv = 0;
    this.fecRecv = 0;
    const total = u.unitsTotal;
    const fec = u.fecUnits;
    if (total < fec || total - fec < 1) return false;
    const k = total - fec;
    const m = Math.max(fec, 1);
    if (k + m > MAX_UNIT_SLOTS) return false;
    let size = u.data.length;
    if (u.unitIndex < k) {
      if (size < 2) return false;
      size += (u.data[0] << 8) | u.data[1];
    }
    if (size === 0 || size > MAX_UNIT_SIZE) return false;
    this.curFirst = (u.packetIndex - u.unitIndex) & 0xffff;
    this.curTotal = total;
    this.k = k;
    this.m = m;
    this.total = total;
    this.fecField = fec;
    this.unitSize = size;
    this.stride = (size + 15) & ~15;
    if (this.sizes.length < k + m) this.sizes = new Int32Array(Math.max(k + m, this.sizes.length * 2));
    else this.sizes.fill(0, 0, k + m);
    // drop the previous frame's views (they pin their buffers)
    this.units.fill(undefined);
    while (this.units.length < k + m) this.units.push(undefined);
    return true;
  }

  private put(u: VideoUnit): boolean {
    const i = u.unitIndex;
    const n = u.data.length;
    if (u.unitsTotal !== this.total || u.fecUnits !== this.fecField) return false;
    if (i >= this.k + this.m || n === 0 || n > this.unitSize || this.sizes[i] !== 0) return false;
    if (i < this.k && n < 2) return false;
    this.units[i] = u.data;
    this.sizes[i] = n;
    if (i < this.k) this.sourceRecv++;
    else this.fecRecv++;
    return true;
  }

  private flush(now: number): void {
    this.flushed = true;
    if (this.k === 0) {
      this.fail(now);
      return;
    }
    const { k, m, unitSize: size, stride } = this;
    let recovered = false;
    if (this.sourceRecv < k) {
      if (this.sourceRecv + this.fecRecv < k || k + m > 256) {
        this.fail(now);
        return;
      }
      // full-size units go to FEC as they are; short ones (a NAL unit's last) zero-padded
      const need = (k + m) * stride;
      if (this.pad.length < need) this.pad = new Uint8Array(Math.max(need, this.pad.length * 2));
      const units: (Uint8Array | undefined)[] = [];
      for (let i = 0; i < k + m; i++) {
        const d = this.units[i];
        const n = this.sizes[i];
        if (d === undefined || n === 0) units.push(undefined);
        else if (n === size) units.push(d);
        else {
          const slot = this.pad.subarray(i * stride, i * stride + size);
          slot.set(d);
          slot.fill(0, n);
          units.push(slot);
        }
      }
      let out: Uint8Array[];
      try {
        out = fecDecode(units, k, m);
      } catch (e) {
        if (e instanceof FecError) {
          this.fail(now);
          return;
        }
        throw e;
      }
      for (let j = 0; j < k; j++) {
        if (this.sizes[j]) continue;
        const pad = (out[j][0] << 8) | out[j][1];
        if (pad + 2 > size) {
          this.fail(now);
          return;
        }
        this.units[j] = out[j];
        this.sizes[j] = size - pad;
      }
      recovered = true;
    }
    let len = 0;
    for (let j = 0; j < k; j++) len += this.sizes[j] - 2;
    const header = this.headerPending && this.profile >= 0 ? this.headers[this.profile] : undefined;
    const hlen = header?.length ?? 0;
    const frame = uninitialized(hlen + len); // filled completely below
    if (header) frame.set(header);
    let o = hlen;
    for (let j = 0; j < k; j++) {
      const n = this.sizes[j] - 2;
      frame.set((this.units[j] as Uint8Array).subarray(2, 2 + n), o);
      o += n;
    }
    this.units.fill(undefined);
    this.emit(frame, recovered, hlen, now);
  }

  private fail(now: number): void {
    const start = seq16Add(this.prevComplete, 1);
    this.events.push({ type: 'corrupt', start, end: this.cur });
    this.st.framesLost += ((this.cur - start) & 0xffff) + 1;
    this.prevComplete = this.cur;
    this.lossDetected(now);
  }

  private lossDetected(now: number): void {
    this.awaitingKey = true;
    this.requestIdr(now);
  }

  private requestIdr(now: number): void {
    if (this.lastIdrAt !== undefined && now - this.lastIdrAt < this.idrRetryMs) return;
    this.lastIdrAt = now;
    this.st.idrRequests++;
    this.events.push({ type: 'idr' });
  }

  private emit(frame: Uint8Array, recovered: boolean, headerLen: number, now: number): void {
    this.prevComplete = this.cur;
    const keyframe = isKeyframe(headerLen > 0 ? frame.subarray(headerLen) : frame, this.codec);
    if (this.awaitingKey && !keyframe && this.skippedInRow < this.keyframeWaitFrames) {
      this.st.framesSkipped++;
      this.skippedInRow++;
      this.requestIdr(now);
      return;
    }
    this.awaitingKey = false;
    this.skippedInRow = 0;
    this.headerPending = false;
    this.st.framesReceived++;
    if (recovered) this.st.framesRecovered++;
    this.st.bytes += frame.length;
    this.firstFrameAt ??= now;
    this.window.push({ t: now, bytes: frame.length });
    this.prune(now);
    this.events.push({ type: 'frame', index: this.cur, bytes: frame, recovered, keyframe });
  }
}

// ---- sending side (simulator) ----

export interface PacketizeVideoOptions {
  /** Largest unit, including the 2-byte padding field (about MTU - headers; ~1400 on Ethernet). */
  unitSize: number;
  /** FEC units per source unit (e.g. 0.1); > 0 gives at least one FEC unit. */
  fecRatio: number;
  adaptiveStreamIndex?: number;
  version: AvVersion;
  /** Wire codec byte (3 is what PS4 H.264 streams carry). */
  codec?: number;
  /** packet_index of the first unit; the rest follow by +1 (mod 2^16). */
  firstPacketIndex?: number;
}

export interface VideoPacketOut {
  /** keyPos is 0: the sender sets it when it encrypts. */
  fields: AvPacketFields;
  /** Plaintext payload (padding field + frame bytes for source units, parity for FEC units). */
  data: Uint8Array;
}

/**
 * Splits one Annex-B frame into source units and adds Cauchy FEC units, like a console: every NAL
 * unit starts a new source unit; each source unit carries `unit size - 2 - chunk` as its padding
 * field; the unit size shrinks to the largest unit (rounded up to 4) for small frames.
 */
export function packetizeVideoFrame(
  frameIndex: number,
  annexB: Uint8Array,
  opts: PacketizeVideoOptions,
): VideoPacketOut[] {
  const maxChunk = opts.unitSize - 2;
  if (!Number.isInteger(opts.unitSize) || maxChunk < 1 || opts.unitSize > MAX_UNIT_SIZE)
    throw new UsageError(`video unit size ${opts.unitSize} is out of range (3..${MAX_UNIT_SIZE})`);
  if (annexB.length === 0) throw new UsageError('cannot packetize an empty video frame');
  const cuts = nalUnits(annexB, 'h264').map((n) => n.start);
  if (cuts[0] !== 0) cuts.unshift(0);
  cuts.push(annexB.length);
  const chunks: Uint8Array[] = [];
  for (let c = 0; c + 1 < cuts.length; c++)
    for (let o = cuts[c]; o < cuts[c + 1]; o += maxChunk)
      chunks.push(annexB.subarray(o, Math.min(o + maxChunk, cuts[c + 1])));
  let longest = 0;
  for (const ch of chunks) longest = Math.max(longest, ch.length);
  const size = Math.min(opts.unitSize, (longest + 2 + 3) & ~3);
  const k = chunks.length;
  const m = opts.fecRatio > 0 ? Math.max(1, Math.ceil(k * opts.fecRatio)) : 0;
  if (k + Math.max(m, 1) > 256)
    throw new UsageError(
      `a ${annexB.length}-byte frame needs ${k} source + ${m} FEC units; FEC over GF(256) allows 256 in total`,
      'raise the unit size or lower the bitrate',
    );
  const sources = chunks.map((ch) => {
    const u = new Uint8Array(size);
    const pad = size - 2 - ch.length;
    u[0] = pad >> 8;
    u[1] = pad & 0xff;
    u.set(ch, 2);
    return u;
  });
  const fec = m > 0 ? fecEncode(sources, m) : [];
  const first = opts.firstPacketIndex ?? 0;
  const all = [...sources.map((u, j) => u.subarray(0, 2 + chunks[j].length)), ...fec];
  return all.map((data, i) => ({
    fields: {
      isVideo: true,
      version: opts.version,
      packetIndex: (first + i) & 0xffff,
      frameIndex: frameIndex & 0xffff,
      unitIndex: i,
      unitsTotal: k + m,
      fecUnits: m,
      codec: opts.codec ?? 3,
      keyPos: 0,
      adaptiveStreamIndex: opts.adaptiveStreamIndex ?? 0,
    },
    data,
  }));
}
