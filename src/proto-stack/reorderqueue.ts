/**
 * Fixed-size reorder queue keyed by 16- or 32-bit serial numbers (Takion DATA chunks by TSN,
 * video packets by packet index). Elements come out strictly in sequence order; `pull` stops at
 * the first gap. Anything that cannot be kept (duplicate, too old, too far ahead under the 'end'
 * strategy, or evicted under 'begin') is handed to `onDrop`.
 */
import { seq16Gt, seq16Lt, seq32Gt, seq32Lt } from './seqnum.js';

export type DropStrategy = 'end' | 'begin';

export interface ReorderQueueOptions<T> {
  bits: 16 | 32;
  /** The queue holds 2^sizeExp slots. */
  sizeExp: number;
  /** First sequence number expected. */
  begin: number;
  /** 'end' (default) drops new elements that do not fit; 'begin' evicts the oldest slots instead. */
  dropStrategy?: DropStrategy;
  onDrop?: (seq: number, item: T) => void;
}

interface Slot<T> {
  set: boolean;
  item: T | undefined;
}

export class ReorderQueue<T> {
  readonly size: number;
  dropStrategy: DropStrategy;
  private beginSeq: number;
  private countVal = 0;
  private readonly slots: Slot<T>[];
  private readonly mask: number;
  private readonly gt: (a: number, b: number) => boolean;
  private readonly lt: (a: number, b: number) => boolean;
  private readonly add: (a: number, n: number) => number;
  private readonly onDrop: ((seq: number, item: T) => void) | undefined;

  constructor(opts: ReorderQueueOptions<T>) {
    this.size = 1 << opts.sizeExp;
    this.mask = this.size - 1;
    this.slots = Array.from({ length: this.size }, () => ({ set: false, item: undefined }));
    this.dropStrategy = opts.dropStrategy ?? 'end';
    this.onDrop = opts.onDrop;
    if (opts.bits === 16) {
      this.gt = seq16Gt;
      this.lt = seq16Lt;
      this.add = (a, n) => (a + n) & 0xffff;
      this.beginSeq = opts.begin & 0xffff;
    } else {
      this.gt = seq32Gt;
      this.lt = seq32Lt;
      this.add = (a, n) => (a + n) >>> 0;
      this.beginSeq = opts.begin >>> 0;
    }
  }

  /** Sequence number of the next element `pull` would return. */
  get begin(): number {
    return this.beginSeq;
  }

  /** Number of slots in use between begin and the highest pushed sequence number (set or not). */
  get count(): number {
    return this.countVal;
  }

  private ge(a: number, b: number): boolean {
    return a === b || this.gt(a, b);
  }

  private slot(seq: number): Slot<T> {
    return this.slots[seq & this.mask];
  }

  private drop(seq: number, item: T): void {
    this.onDrop?.(seq, item);
  }

  push(seq: number, item: T): void {
    seq = this.add(seq, 0);
    let end = this.add(this.beginSeq, this.countVal);
    if (this.ge(seq, this.beginSeq) && this.lt(seq, end)) {
      const s = this.slot(seq);
      if (s.set) {
        this.drop(seq, item); // received twice
        return;
      }
      s.set = true;
      s.item = item;
      return;
    }
    if (this.lt(seq, this.beginSeq)) {
      this.drop(seq, item);
      return;
    }
    if (!this.ge(seq, end)) {
      // Exactly half the number space away: the comparison is undefined. Only an empty queue
      // that evicts from the front may rebase onto it.
      if (this.countVal === 0 && this.dropStrategy === 'begin') {
        this.beginSeq = seq;
        end = seq;
      } else {
        this.drop(seq, item);
        return;
      }
    }
    const newEnd = this.add(seq, 1);
    let totalEnd = this.add(end, this.size - this.countVal);
    if (this.lt(totalEnd, newEnd)) {
      if (this.dropStrategy === 'end') {
        this.drop(seq, item);
        return;
      }
      while (this.countVal > 0 && this.lt(totalEnd, newEnd)) {
        this.skip();
        totalEnd = this.add(end, this.size - this.countVal);
      }
      if (this.countVal === 0) this.beginSeq = seq;
    }
    end = this.add(this.beginSeq, this.countVal);
    while (this.lt(end, newEnd)) {
      const s = this.slot(end);
      s.set = false;
      s.item = undefined;
      this.countVal++;
      end = this.add(this.beginSeq, this.countVal);
    }
    const s = this.slot(seq);
    s.set = true;
    s.item = item;
  }

  /** Removes and returns the element at begin, or undefined if that slot is still empty. */
  pull(): { seq: number; item: T } | undefined {
    if (this.countVal === 0) return undefined;
    const s = this.slot(this.beginSeq);
    if (!s.set) return undefined;
    const out = { seq: this.beginSeq, item: s.item as T };
    s.set = false;
    s.item = undefined;
    this.beginSeq = this.add(this.beginSeq, 1);
    this.countVal--;
    return out;
  }

  /** The element `index` slots after begin, if that slot is filled. */
  peek(index: number): { seq: number; item: T } | undefined {
    if (index < 0 || index >= this.countVal) return undefined;
    const seq = this.add(this.beginSeq, index);
    const s = this.slot(seq);
    return s.set ? { seq, item: s.item as T } : undefined;
  }

  /** Drops the element `index` slots after begin (reported to onDrop); the slot becomes a gap again. */
  dropAt(index: number): void {
    const found = this.peek(index);
    if (!found) return;
    const s = this.slot(found.seq);
    s.set = false;
    s.item = undefined;
    this.drop(found.seq, found.item);
    // trailing gaps carry no information, so shrink the window back to the last filled slot
    while (this.countVal > 0 && !this.slot(this.add(this.beginSeq, this.countVal - 1)).set) this.countVal--;
  }

  /** Gives up on the slot at begin (dropping its element if set) and moves on; used to skip a gap. */
  skip(): void {
    if (this.countVal === 0) return;
    const s = this.slot(this.beginSeq);
    if (s.set) this.drop(this.beginSeq, s.item as T);
    s.set = false;
    s.item = undefined;
    this.beginSeq = this.add(this.beginSeq, 1);
    this.countVal--;
  }
}
