// The terminal picture sink with the real ffmpeg and a stand-in terminal: the picture it draws is
// the clip's, a slow terminal costs frames (newest wins) and never queues them, the byte budget
// holds, ffmpeg that dies is started again, a missing ffmpeg is said once, the pane toggles, and
// the screen layout enters and leaves the alternate screen with its status line.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CallbackOutput, type PictureOutput } from '../../../src/media/picture/output.js';
import { TerminalPictureSink } from '../../../src/media/picture/sink.js';
import type { TerminalPictureOptions } from '../../../src/media/sink-types.js';
import type { VideoInfo } from '../../../src/media/sinks.js';
import { findTool } from '../../../src/media/tools.js';
import {
  extractVideoHeader,
  isKeyframe,
  splitAccessUnits,
  stripParameterSets,
} from '../../../src/proto-stack/annexb.js';
import { CellScreen, compareBars } from '../../helpers/picture.js';
import { alive } from '../../helpers/system.js';
import { repoRoot } from '../../helpers/vectors.js';

const haveFfmpeg = findTool('ffmpeg').found;
const stream = readFileSync(join(repoRoot, 'test/fixtures/media/testsrc-720p60.h264'));
// as a console sends them: parameter sets only in front of the first frame
const header = extractVideoHeader(stream, 'h264')!;
const frames = splitAccessUnits(stream, 'h264').map((au, i) => {
  const bare = stripParameterSets(au, 'h264');
  return { au: i === 0 ? new Uint8Array([...header, ...bare]) : bare, key: isKeyframe(au, 'h264') };
});
const INFO: VideoInfo = { codec: 'h264', width: 1280, height: 720, fps: 60, title: 'rptui — test' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Feeds the clip at 60 fps for `ms`, from frame 0 (a key frame with the parameter sets). */
async function play(sink: TerminalPictureSink, ms: number, from = 0): Promise<number> {
  const end = Date.now() + ms;
  let i = from;
  for (; Date.now() < end; i++) {
    const f = frames[i % frames.length];
    sink.write(f.au, f.key);
    await sleep(1000 / 60);
  }
  return i;
}

/** A terminal that takes bytes only when told to (drain()). */
class SlowOutput implements PictureOutput {
  readonly chunks: Uint8Array[] = [];
  private drains: Array<() => void> = [];
  pending = 0;
  gone = false;
  private dones: Array<() => void> = [];
  write(bytes: Uint8Array, done?: () => void): void {
    this.chunks.push(bytes);
    this.pending += bytes.length;
    if (done) this.dones.push(done);
  }
  onDrain(cb: () => void): void {
    if (this.pending === 0) cb();
    else this.drains.push(cb);
  }
  drain(): void {
    this.pending = 0;
    for (const d of this.dones.splice(0)) d();
    for (const d of this.drains.splice(0)) d();
  }
  close(): void {}
}

const sinks: TerminalPictureSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

function makeSink(picture: TerminalPictureOptions, logs: string[] = []) {
  const sink = new TerminalPictureSink(
    { log: (m) => logs.push(m), env: { COLORTERM: 'truecolor' } },
    { answers: {}, ...picture },
  );
  sinks.push(sink);
  const seen = { needKeyframe: 0, closed: 0, warnings: [] as string[] };
  sink.on('needKeyframe', () => seen.needKeyframe++);
  sink.on('closed', () => seen.closed++);
  sink.on('warning', (m) => seen.warnings.push(m));
  return { sink, seen, logs };
}

describe.skipIf(!haveFfmpeg)('terminal picture sink (pane)', () => {
  it('draws the clip into its rectangle: the bars where they belong, only changed cells after the first frame', async () => {
    const screen = new CellScreen(60, 20);
    let bytes = 0;
    const { sink, seen, logs } = makeSink({
      mode: 'blocks',
      output: new CallbackOutput((b) => {
        bytes += b.length;
        screen.play(Buffer.from(b).toString('utf8'));
      }),
    });
    sink.setRect({ left: 2, top: 1, cols: 40, rows: 12 });
    sink.start(INFO);
    expect(seen.needKeyframe).toBe(1);
    expect(logs[0]).toMatch(/^picture: blocks \(24-bit colour\), as asked; 40x22, up to 30 fps/);
    await play(sink, 800);
    const s = sink.pictureStats();
    expect(s).toMatchObject({ mode: 'blocks', width: 40, height: 22 });
    expect(s.shown).toBeGreaterThan(5);
    expect(s.bytes).toBe(bytes);
    // 40x11 cells centred in 40x12 from (2, 1): rows 1..11
    const img = screen.image();
    const box = { x: 2, y: 2, width: 40, height: 22 };
    for (const r of compareBars(img, box))
      expect(r.error, `${r.name}: ${r.shown} vs ${r.expected}`).toBeLessThan(40);
    // nothing outside the rectangle
    expect(screen.cell(0, 0)).toEqual(['-', '-']);
    expect(screen.cell(45, 5)).toEqual(['-', '-']);
    expect(sink.stats().written).toBeGreaterThan(20);
  });

  it('a slow terminal: one frame at a time, the newest drawn next, the rest skipped', async () => {
    const out = new SlowOutput();
    const { sink } = makeSink({ mode: 'blocks', output: out });
    sink.setRect({ left: 0, top: 0, cols: 40, rows: 12 });
    sink.start(INFO);
    await play(sink, 600);
    // the terminal took nothing: one frame went out and waits, everything after it was skipped
    const stuck = sink.pictureStats();
    expect(out.chunks).toHaveLength(1);
    expect(stuck.shown).toBe(0);
    expect(stuck.skipped).toBeGreaterThan(5);
    out.drain();
    await sleep(50);
    expect(out.chunks).toHaveLength(2); // the newest decoded frame, at once
    expect(sink.pictureStats().shown).toBe(1);
    // the session's side never waited: every access unit went to ffmpeg
    expect(sink.stats().dropped).toBe(0);
  });

  it('keeps within the byte budget', async () => {
    let bytes = 0;
    const { sink } = makeSink({
      mode: 'blocks',
      kbps: 400, // 50 kB/s; a full 60x20 redraw is ~25 kB
      output: new CallbackOutput((b) => {
        bytes += b.length;
      }),
    });
    sink.setRect({ left: 0, top: 0, cols: 60, rows: 20 });
    sink.start(INFO);
    const t0 = performance.now();
    await play(sink, 1500);
    const secs = (performance.now() - t0) / 1000;
    const s = sink.pictureStats();
    // tokens: 0.2 s of budget in hand at most, plus the one frame that may overdraw it
    const largest = 60 * 20 * 45;
    expect(bytes).toBeLessThanOrEqual(50_000 * secs + 10_000 + largest);
    expect(s.shown).toBeGreaterThan(1);
    expect(s.skipped).toBeGreaterThan(10);
  });

  it('hide() stops decoding and clears; show() starts again from a key frame, with the parameter sets', async () => {
    const screen = new CellScreen(40, 12);
    const { sink, seen } = makeSink({
      mode: 'blocks',
      output: new CallbackOutput((b) => screen.play(Buffer.from(b).toString('utf8'))),
    });
    sink.setRect({ left: 0, top: 0, cols: 40, rows: 12 });
    sink.start(INFO);
    let next = await play(sink, 500);
    const pid = sink.pid;
    expect(alive(pid)).toBe(true);
    expect(sink.toggle()).toBe(false);
    expect(sink.visible).toBe(false);
    expect(sink.pid).toBeUndefined();
    for (let i = 0; i < 50 && alive(pid); i++) await sleep(20);
    expect(alive(pid)).toBe(false);
    expect(screen.ch.filter((c) => c === '▀').length).toBe(0); // erased (ECH is not played: no ▀ left)
    const shown = sink.pictureStats().shown;
    next = await play(sink, 200, next);
    expect(sink.pictureStats().shown).toBe(shown);
    sink.show();
    expect(seen.needKeyframe).toBe(2);
    // the clip's next key frame has no parameter sets: the sink puts them in front
    await play(sink, 1500, next);
    expect(sink.pictureStats().shown).toBeGreaterThan(shown);
  });

  it('a new size means a new decoder; moving the rectangle does not', async () => {
    const { sink, seen } = makeSink({ mode: 'ascii', output: new CallbackOutput(() => {}) });
    sink.setRect({ left: 0, top: 0, cols: 40, rows: 12 });
    sink.start(INFO);
    const pid = sink.pid;
    sink.setRect({ left: 5, top: 3, cols: 40, rows: 12 });
    expect(sink.pid).toBe(pid);
    sink.setRect({ left: 5, top: 3, cols: 60, rows: 20 });
    expect(sink.pid).not.toBe(pid);
    expect(seen.needKeyframe).toBe(2);
    expect(sink.pictureStats()).toMatchObject({ mode: 'ascii', width: 60, height: 17 });
  });

  it('ffmpeg killed: started again (and said), a few times; then given up, once', async () => {
    const { sink, seen, logs } = makeSink({ mode: 'blocks', output: new CallbackOutput(() => {}) });
    sink.setRect({ left: 0, top: 0, cols: 20, rows: 6 });
    sink.start(INFO);
    for (let round = 0; round < 4; round++) {
      const pid = sink.pid!;
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 100 && sink.pid === pid; i++) await sleep(10);
    }
    expect(logs.filter((l) => /ffmpeg stopped .*starting it again/.test(l))).toHaveLength(3);
    expect(seen.warnings).toHaveLength(1);
    expect(seen.warnings[0]).toMatch(/ffmpeg keeps stopping .*the session goes on/);
    expect(seen.closed).toBe(1);
    expect(sink.pid).toBeUndefined();
    sink.write(frames[0].au, true); // no throw
    expect(sink.stats().dropped).toBe(1);
  });
});

describe('terminal picture sink without ffmpeg', () => {
  it('says so once, drops the frames, the session goes on', () => {
    const sink = new TerminalPictureSink(
      { env: { PATH: '/nonexistent', RPTUI_FFMPEG: undefined } },
      { mode: 'blocks', answers: {}, output: new CallbackOutput(() => {}) },
    );
    sinks.push(sink);
    const warnings: string[] = [];
    sink.on('warning', (m) => warnings.push(m));
    sink.setRect({ left: 0, top: 0, cols: 20, rows: 6 });
    sink.start(INFO);
    for (const f of frames.slice(0, 5)) sink.write(f.au, f.key);
    expect(warnings).toEqual([
      expect.stringMatching(/^ffmpeg not found on PATH: no picture \(the session goes on\)/),
    ]);
    expect(sink.stats()).toEqual({ written: 0, dropped: 5, bytes: 0 });
    expect(sink.pictureStats()).toMatchObject({ mode: 'none', shown: 0 });
  });
});

class FakeTty extends PassThrough {
  isTTY = true;
  isRaw = false;
  setRawMode(raw: boolean): this {
    this.isRaw = raw;
    return this;
  }
}

describe.skipIf(!haveFfmpeg)('terminal picture sink (screen)', () => {
  it('takes the alternate screen, keeps a status line, routes log lines to it, and puts everything back', async () => {
    let text = '';
    const exitListeners = process.listenerCount('exit');
    const { sink } = makeSink({
      layout: 'screen',
      mode: 'blocks',
      hint: 'ctrl+q leaves',
      terminalSize: () => ({ cols: 100, rows: 16 }),
      output: new CallbackOutput((b) => {
        text += Buffer.from(b).toString('utf8');
      }),
    });
    sink.start(INFO);
    expect(sink.active).toBe(true);
    expect(text.startsWith('\x1b[?1049h\x1b[?25l\x1b[?7l')).toBe(true);
    expect(process.listenerCount('exit')).toBe(exitListeners + 1);
    await play(sink, 1300);
    // the status line: the last row, reverse video, the picture's figures and the hint
    const status = [...text.matchAll(/\x1b\[16;1H\x1b\[0;7m([^\x1b]*)\x1b\[0m/g)].map((m) => m[1]);
    expect(status.at(-1)).toMatch(
      /^ blocks 53x30 \d+ fps [\d.]+ (k|M)bit\/s \d+ ms {2}\| {2}ctrl\+q leaves {2}\| {2}1280x720@60 H\.264/,
    );
    expect(status.at(-1)).toHaveLength(99);
    const lines: string[] = [];
    const log = sink.routeLog((l) => lines.push(l));
    log('  warning: something');
    expect(text).toContain('\x1b[16;1H\x1b[0;7m warning: something   ');
    // stderr is not a terminal here: the line goes there at once too
    expect(lines).toEqual(['  warning: something']);
    const input = new FakeTty();
    let left = 0;
    sink.captureKeys(() => left++, input);
    expect(input.isRaw).toBe(true);
    input.write('x');
    input.write('\x03');
    await sleep(10);
    expect(left).toBe(1);
    await sink.close();
    expect(sink.active).toBe(false);
    expect(input.isRaw).toBe(false);
    expect(text.endsWith('\x1b\\\x1b[0m\x1b[2J\x1b[?7h\x1b[?25h\x1b[?1049l')).toBe(true);
    expect(process.listenerCount('exit')).toBe(exitListeners);
    log('after');
    expect(lines.at(-1)).toBe('after');
  });
});
