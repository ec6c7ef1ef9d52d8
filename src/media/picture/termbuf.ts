/**
 * The byte buffer the picture encoders write terminal output into. It is reused frame after frame
 * (reset(), then view()), grows when a frame needs more, and writes decimal numbers from a table,
 * so drawing a frame allocates nothing per cell.
 */

/** ASCII digits of 0..999, each entry its bytes (1-3). */
const DIGITS: Uint8Array[] = Array.from({ length: 1000 }, (_, n) => new Uint8Array(Buffer.from(String(n))));

export class TermBuffer {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initial = 1 << 16) {
    this.buf = new Uint8Array(initial);
  }

  get length(): number {
    return this.pos;
  }

  reset(): void {
    this.pos = 0;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A latin1 string (escape sequences, base64): one byte per character. */
  text(s: string): void {
    this.room(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
  }

  /** A non-negative integer in decimal. */
  dec(n: number): void {
    if (n < 1000) {
      this.bytes(DIGITS[n]);
      return;
    }
    this.dec(Math.floor(n / 1000));
    const rest = n % 1000;
    this.room(3);
    this.buf[this.pos++] = 0x30 + Math.floor(rest / 100);
    this.buf[this.pos++] = 0x30 + (Math.floor(rest / 10) % 10);
    this.buf[this.pos++] = 0x30 + (rest % 10);
  }

  /** `ESC [ row ; col H` with 0-based row and column. */
  moveTo(row: number, col: number): void {
    this.room(2);
    this.buf[this.pos++] = 0x1b;
    this.buf[this.pos++] = 0x5b;
    this.dec(row + 1);
    this.byte(0x3b);
    this.dec(col + 1);
    this.byte(0x48);
  }

  /** The bytes written since reset(): a view, valid until the next write or reset. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** A copy of the bytes written since reset(). */
  take(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
