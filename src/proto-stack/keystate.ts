/**
 * Extends the 32-bit key_pos carried in packet headers to the 64-bit position the sender really
 * used, by serial-number arithmetic against the last accepted position. Callers request without
 * committing, authenticate the packet with the result, and only then commit it (an attacker's
 * forged key_pos must never move the window).
 */
import { seq32Gt, seq32Lt } from './seqnum.js';

const TWO32 = 0x1_0000_0000;

export class KeyState {
  /** Last committed 64-bit key position (a safe integer; positions stay far below 2^53). */
  private prev = 0;

  get current(): number {
    return this.prev;
  }

  /** Returns the 64-bit position for the header value `low`; with `commit` it becomes the new reference. */
  requestPos(low: number, commit: boolean): number {
    low >>>= 0;
    const prevLow = this.prev % TWO32;
    let high = Math.floor(this.prev / TWO32);
    if (seq32Gt(low, prevLow) && low < prevLow) high++;
    else if (seq32Lt(low, prevLow) && low > prevLow && high > 0) high--;
    const pos = high * TWO32 + low;
    if (commit) this.prev = pos;
    return pos;
  }

  commit(pos: number): void {
    this.prev = pos;
  }
}
