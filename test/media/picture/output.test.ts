// TtyWriter against a FIFO whose reader the test controls: writes never block, what the reader
// cannot take yet waits (pending), arrives whole and in order once read, and a reader that goes
// away (EPIPE, as a hung-up terminal's EIO) ends the writer without an exception.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CallbackOutput, TtyWriter, writeTerminalNow } from '../../../src/media/picture/output.js';
import { RptuiError } from '../../../src/proto-stack/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'rptui-ttywriter-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fifos = 0;

/** A FIFO with its read end open (non-blocking), so a writer can open it. */
function fifo(): { path: string; reader: number; read(): Buffer } {
  const path = join(dir, `fifo-${++fifos}`);
  execFileSync('mkfifo', [path]);
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  return {
    path,
    reader,
    read() {
      const parts: Buffer[] = [];
      const buf = Buffer.alloc(1 << 16);
      for (;;) {
        try {
          const n = readSync(reader, buf);
          if (n <= 0) break;
          parts.push(Buffer.from(buf.subarray(0, n)));
        } catch {
          break; // EAGAIN: empty for now
        }
      }
      return Buffer.concat(parts);
    },
  };
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('TtyWriter', () => {
  it('queues what the reader cannot take yet, never blocking, and delivers it whole, in order', async () => {
    const f = fifo();
    const w = TtyWriter.open(f.path);
    const big = new Uint8Array(1 << 20).map((_, i) => i % 251);
    const done: string[] = [];
    w.write(big, () => done.push('big'));
    w.write(new Uint8Array([1, 2, 3]), () => done.push('small'));
    // a pipe holds 64 KiB and nobody reads yet: the writes returned, the rest waits in the queue
    expect(w.pending).toBeGreaterThan(0);
    expect(done).toEqual([]);
    let drained = false;
    w.onDrain(() => {
      drained = true;
    });
    const got: Buffer[] = [];
    while (!drained) {
      got.push(f.read());
      await tick(1);
    }
    got.push(f.read());
    const all = Buffer.concat(got);
    expect(all.length).toBe(big.length + 3);
    expect(all.subarray(0, big.length).equals(Buffer.from(big))).toBe(true);
    expect([...all.subarray(big.length)]).toEqual([1, 2, 3]);
    expect(done).toEqual(['big', 'small']);
    expect(w.pending).toBe(0);
    w.close();
    closeSync(f.reader);
  });

  it('a reader that went away: writes are dropped, "gone" once, no throw', async () => {
    const f = fifo();
    const gone: string[] = [];
    const w = TtyWriter.open(f.path, (err) => gone.push(err.code ?? '?'));
    closeSync(f.reader);
    let called = 0;
    w.write(new Uint8Array([65]), () => called++);
    await tick();
    expect(w.gone).toBe(true);
    expect(gone).toEqual(['EPIPE']);
    expect(called).toBe(1);
    w.write(new Uint8Array([66]), () => called++);
    expect(called).toBe(2);
    expect(w.pending).toBe(0);
    w.close();
  });

  it('close() drops what is queued and calls the waiting callbacks', () => {
    const f = fifo();
    const w = TtyWriter.open(f.path);
    let calls = 0;
    w.write(new Uint8Array(1 << 20), () => calls++);
    let drained = false;
    w.onDrain(() => {
      drained = true;
    });
    w.close();
    expect(calls).toBe(1);
    expect(drained).toBe(true);
    expect(w.pending).toBe(0);
    closeSync(f.reader);
  });

  it('no terminal: a media error that says why and what to do', () => {
    try {
      TtyWriter.open(join(dir, 'missing'));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RptuiError);
      expect((e as RptuiError).message).toMatch(/cannot open the terminal .*ENOENT/);
      expect((e as RptuiError).hint).toMatch(/needs a terminal/);
    }
  });

  it('writeTerminalNow writes at once, and quietly does nothing without a terminal', () => {
    const f = fifo();
    writeTerminalNow('\x1b[?25h', f.path);
    expect(f.read().toString()).toBe('\x1b[?25h');
    closeSync(f.reader);
    expect(() => writeTerminalNow('x', join(dir, 'missing'))).not.toThrow();
  });
});

describe('CallbackOutput', () => {
  it('hands bytes on at once and is always drained', () => {
    const seen: number[][] = [];
    const out = new CallbackOutput((b) => seen.push([...b]));
    let done = 0;
    out.write(new Uint8Array([7]), () => done++);
    out.onDrain(() => done++);
    expect(seen).toEqual([[7]]);
    expect(done).toBe(2);
  });
});
