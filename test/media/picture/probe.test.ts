// The probe's I/O against a stand-in stdin: raw mode only for the moment, the queries written,
// the answers consumed, keys typed meanwhile handed back, the timeout for a silent terminal.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PROBE_QUERY } from '../../../src/media/picture/caps.js';
import { probeTerminal } from '../../../src/media/picture/probe.js';

class FakeTty extends PassThrough {
  isTTY = true;
  isRaw = false;
  readonly modes: boolean[] = [];
  setRawMode(raw: boolean): this {
    this.isRaw = raw;
    this.modes.push(raw);
    return this;
  }
}

describe('probeTerminal', () => {
  it('writes the queries, reads the answers, restores the mode and hands typed keys back', async () => {
    const input = new FakeTty();
    const written: string[] = [];
    const probing = probeTerminal({
      input,
      write: (s) => {
        written.push(s);
        // the terminal answers; the user pressed "x" meanwhile
        setTimeout(
          () => input.write(Buffer.from('x\x1b_Gi=1919972352;OK\x1b\\\x1b[6;20;10t\x1b[?62;4c', 'latin1')),
          5,
        );
      },
    });
    const answers = await probing;
    expect(written).toEqual([PROBE_QUERY]);
    expect(answers).toEqual({
      kittyGraphics: true,
      cellPixels: { width: 10, height: 20 },
      deviceAttributes: [62, 4],
    });
    expect(input.modes).toEqual([true, false]);
    expect(input.listenerCount('data')).toBe(0);
    expect(input.isPaused()).toBe(true);
    // the next reader (it resumes stdin, as play input does) gets the key, not the answers
    const next = await new Promise<string>((resolve) => {
      input.once('data', (b: Buffer) => resolve(b.toString()));
      input.resume();
    });
    expect(next).toBe('x');
  });

  it('leaves raw mode on when it was on', async () => {
    const input = new FakeTty();
    input.isRaw = true;
    await probeTerminal({ input, write: () => setTimeout(() => input.write('\x1b[?1;2c'), 1) });
    expect(input.modes).toEqual([true, true]);
  });

  it('gives up after the timeout when the terminal says nothing', async () => {
    const input = new FakeTty();
    const t = Date.now();
    expect(await probeTerminal({ input, write: () => {}, timeoutMs: 50 })).toEqual({});
    expect(Date.now() - t).toBeGreaterThanOrEqual(45);
    expect(input.modes).toEqual([true, false]);
  });

  it('does not ask when stdin is not a terminal', async () => {
    const input = new FakeTty();
    input.isTTY = false;
    const written: string[] = [];
    expect(await probeTerminal({ input, write: (s) => written.push(s) })).toEqual({});
    expect(written).toEqual([]);
    expect(input.modes).toEqual([]);
  });
});
