// The ffplay sink against the real ffplay: under Xvfb (a screenshot proves the picture is shown),
// with SDL's dummy driver (decodes with no display, as in CI), and with no ffplay at all.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FfplaySink, ffplayArgs, withoutLeadingAud } from '../../src/media/ffplay.js';
import type { VideoInfo } from '../../src/media/sinks.js';
import { findTool } from '../../src/media/tools.js';
import {
  extractVideoHeader,
  isKeyframe,
  splitAccessUnits,
  stripParameterSets,
} from '../../src/proto-stack/annexb.js';
import { alive, onPath, startXvfb, type Xvfb } from '../helpers/system.js';
import { repoRoot } from '../helpers/vectors.js';

const clip = readFileSync(join(repoRoot, 'test/fixtures/media/testsrc-720p60.h264'));
const frames = splitAccessUnits(clip, 'h264').map((au) => ({ au, key: isKeyframe(au, 'h264') }));
const info: VideoInfo = { codec: 'h264', width: 1280, height: 720, fps: 60, title: 'PS5-Test Living Room' };
const haveFfplay = findTool('ffplay').found;
const haveXvfb = onPath('Xvfb') && onPath('import') && onPath('xwininfo');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Feeds the clip in a loop at the stream's frame rate for `ms`. */
async function play(sink: FfplaySink, ms: number, from = 0): Promise<void> {
  const end = Date.now() + ms;
  for (let i = from; Date.now() < end; i++) {
    const f = frames[i % frames.length];
    sink.write(f.au, f.key);
    await sleep(1000 / info.fps);
  }
}

function events(sink: FfplaySink) {
  const seen = { closed: 0, needKeyframe: 0, warnings: [] as string[], logs: [] as string[] };
  sink.on('closed', () => seen.closed++);
  sink.on('needKeyframe', () => seen.needKeyframe++);
  sink.on('warning', (m: string) => seen.warnings.push(m));
  return seen;
}

const sinks: FfplaySink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

describe('ffplay arguments', () => {
  it('uses the measured low-latency flags, no audio, the title and the codec', () => {
    const args = ffplayArgs({ ...info, codec: 'hevc', fps: 30 }, ['-fs']);
    const joined = args.join(' ');
    expect(joined).toContain('-flags low_delay -framedrop -probesize 32 -analyzeduration 0 -an');
    // nobuffer discards the probed packets: the first key frame, so the window stays black.
    expect(args).not.toContain('nobuffer');
    expect(joined).toContain('-autoexit -vf setpts=0');
    expect(joined).toContain('-window_title PS5-Test Living Room -f hevc -framerate 30 -fs -i pipe:0');
    expect(args.at(-1)).toBe('pipe:0');
  });
});

describe('access unit delimiters', () => {
  it("drops a frame's own leading AUD (the sink already sent one) and nothing else", () => {
    const slice = [0, 0, 0, 1, 0x41, 0x9a, 0x00, 0x00, 0x03];
    const h264 = new Uint8Array([0, 0, 0, 1, 0x09, 0x10, ...slice]);
    expect([...withoutLeadingAud(h264, 'h264')]).toEqual(slice);
    expect([...withoutLeadingAud(new Uint8Array([0, 0, 1, 0x09, 0xf0, ...slice]), 'h264')]).toEqual(slice);
    const hevcSlice = [0, 0, 1, 0x02, 0x01, 0xd0];
    expect([
      ...withoutLeadingAud(new Uint8Array([0, 0, 0, 1, 0x46, 0x01, 0x50, ...hevcSlice]), 'hevc'),
    ]).toEqual(hevcSlice);
    // No AUD, or not a start code, or an AUD with nothing after it: untouched.
    for (const f of [
      new Uint8Array(slice),
      frames[0].au,
      new Uint8Array([0, 0, 0, 1, 0x09, 0xf0]),
      new Uint8Array([1, 2]),
    ]) {
      expect(withoutLeadingAud(f, 'h264')).toBe(f);
    }
    // 0x09 is not an AUD in HEVC (type 4).
    const notAud = new Uint8Array([0, 0, 0, 1, 0x09, 0x10, ...slice]);
    expect(withoutLeadingAud(notAud, 'hevc')).toBe(notAud);
  });
});

describe('AUD stripping on arbitrary bytes (fuzz)', () => {
  it('returns the frame or a suffix of it that starts at a start code, never throws', () => {
    const withAud = fc
      .tuple(
        fc.constantFrom([0, 0, 0, 1, 0x09, 0xf0], [0, 0, 1, 0x46, 0x01, 0x50], [0, 0, 1, 0x09]),
        fc.uint8Array(),
      )
      .map(([a, b]) => new Uint8Array([...a, ...b]));
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 64 }), withAud),
        fc.constantFrom('h264', 'hevc' as const),
        (f, c) => {
          const out = withoutLeadingAud(f, c);
          if (out === f) return;
          expect(out.buffer).toBe(f.buffer);
          expect(out.length).toBeLessThan(f.length);
          expect([...out.subarray(0, 3)]).toEqual(out[2] === 0 ? [0, 0, 0] : [0, 0, 1]);
          expect([...f.subarray(f.length - out.length)]).toEqual([...out]);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('ffplay missing', () => {
  it('says so once and the session goes on', async () => {
    const logs: string[] = [];
    const sink = new FfplaySink({
      env: { PATH: '/nonexistent', RPTUI_FFPLAY: undefined },
      log: (m) => logs.push(m),
    });
    sinks.push(sink);
    const seen = events(sink);
    sink.start(info);
    sink.start(info);
    for (const f of frames.slice(0, 5)) sink.write(f.au, f.key);
    expect(seen.warnings).toHaveLength(1);
    expect(seen.warnings[0]).toMatch(/^ffplay not found on PATH: no video window \(the session goes on\)/);
    expect(logs).toEqual(seen.warnings);
    expect(sink.stats()).toEqual({ written: 0, dropped: 5, bytes: 0 });
    expect(sink.pid).toBeUndefined();
  });

  it('a bad $RPTUI_FFPLAY is named in the warning', () => {
    const sink = new FfplaySink({ env: { RPTUI_FFPLAY: '/opt/none/ffplay' } });
    const seen = events(sink);
    sink.start(info);
    expect(seen.warnings[0]).toContain('$RPTUI_FFPLAY is "/opt/none/ffplay"');
  });
});

describe('player stand-ins (scripts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rptui-ffplay-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const script = (name: string, body: string) => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };

  it('a player that fails at once (exit 0, as ffplay does) is "closed", with its reason in the log', async () => {
    const logs: string[] = [];
    const player = script('dies', 'echo "Could not initialize SDL - No available video device" >&2\nexit 0');
    const sink = new FfplaySink({
      playerPath: player,
      env: { SDL_VIDEODRIVER: 'dummy' },
      log: (m) => logs.push(m),
    });
    sinks.push(sink);
    const seen = events(sink);
    sink.start(info);
    for (let i = 0; i < 100 && seen.closed === 0; i++) {
      sink.write(frames[0].au, true); // EPIPE once it is gone: must be swallowed
      await sleep(10);
    }
    expect(seen.closed).toBe(1);
    expect(logs).toEqual([
      'Video window closed (ffplay said: Could not initialize SDL - No available video device); the session goes on without video.',
    ]);
  });

  it('takes extra options from $RPTUI_FFPLAY_ARGS, and warns when there is no display at all', async () => {
    const argsFile = join(dir, 'args.txt');
    const player = script('record', `echo "$@" > '${argsFile}'\nexec sleep 30`);
    const sink = new FfplaySink({
      playerPath: player,
      env: {
        RPTUI_FFPLAY_ARGS: ' -fs  -x 640 ',
        DISPLAY: undefined,
        WAYLAND_DISPLAY: '',
        SDL_VIDEODRIVER: undefined,
      },
    });
    sinks.push(sink);
    const seen = events(sink);
    sink.start(info);
    for (let i = 0; i < 100 && !existsSync(argsFile); i++) await sleep(10);
    await sleep(50);
    expect(readFileSync(argsFile, 'utf8')).toMatch(/-framerate 60 -fs -x 640 -i pipe:0\n$/);
    expect(seen.warnings).toHaveLength(1);
    expect(seen.warnings[0]).toMatch(/^No display is set .*SDL_VIDEODRIVER=kmsdrm .*DISPLAY=:0/);
  });

  it("a reopened player gets the stream's parameter sets before its first key frame (the console sent them once)", async () => {
    const out = (n: number) => join(dir, `stdin-${n}.h264`);
    const count = join(dir, 'count');
    writeFileSync(count, '0');
    // each start records its input to a file of its own
    const player = script(
      'recorder',
      `n=$(($(cat '${count}') + 1)); echo $n > '${count}'; exec cat > '${dir}/stdin-'$n.h264`,
    );
    const sink = new FfplaySink({ playerPath: player, env: { SDL_VIDEODRIVER: 'dummy' } });
    sinks.push(sink);
    sink.start(info);
    const first = frames[0]; // SPS/PPS + IDR, as the session hands out the first frame
    const header = extractVideoHeader(first.au, 'h264');
    expect(header).toBeDefined();
    const key = stripParameterSets(first.au, 'h264'); // a later key frame: no parameter sets
    sink.write(first.au, true);
    sink.write(frames[1].au, false);
    for (let i = 0; i < 100 && !existsSync(out(1)); i++) await sleep(10);
    process.kill(sink.pid!, 'SIGTERM'); // the user closes the window
    for (let i = 0; i < 100 && sink.pid !== undefined; i++) await sleep(10);
    sink.reopen();
    sink.write(frames[1].au, false); // refused: the new player waits for a key frame
    sink.write(key, true);
    for (let i = 0; i < 100 && !(existsSync(out(2)) && readFileSync(out(2)).length > 0); i++) await sleep(10);
    await sink.close();
    const second = readFileSync(out(2));
    expect(second.subarray(0, header!.length).equals(Buffer.from(header!))).toBe(true);
    expect(isKeyframe(second.subarray(header!.length), 'h264')).toBe(true);
  });

  it('never blocks on a stuck player: drops P-frames past 1 MiB queued, everything past 16 MiB', async () => {
    const sink = new FfplaySink({ playerPath: script('stuck', 'exec sleep 30') });
    sinks.push(sink);
    const seen = events(sink);
    sink.start(info);
    expect(seen.needKeyframe).toBe(1);
    const big = new Uint8Array(256 << 10);
    const t = performance.now();
    for (let i = 0; i < 8; i++) sink.write(big, i === 0); // 2 MiB: the pipe takes some, Node queues the rest
    const afterP = sink.stats();
    expect(afterP.dropped).toBeGreaterThan(0);
    expect(seen.needKeyframe).toBe(2); // asked once for a fresh key frame when dropping started
    // Waiting for a key frame: P-frames are dropped even though they would fit.
    sink.write(new Uint8Array(10), false);
    expect(sink.stats().dropped).toBe(afterP.dropped + 1);
    // Key frames still go in until the player is plainly stuck (16 MiB queued).
    for (let i = 0; i < 80; i++) sink.write(big, true);
    const s = sink.stats();
    expect(s.written).toBeGreaterThan(60);
    expect(s.written).toBeLessThan(72);
    expect(s.written + s.dropped).toBe(8 + 1 + 80);
    expect(performance.now() - t).toBeLessThan(500);
    expect(seen.closed).toBe(0);
    const pid = sink.pid;
    expect(alive(pid)).toBe(true);
    await sink.close();
    expect(alive(pid)).toBe(false);
  });
});

describe.skipIf(!haveFfplay)('ffplay with the SDL dummy driver (no display)', () => {
  it('decodes the stream, drops until the key frame, and reports its death once', async () => {
    const sink = new FfplaySink({ env: { SDL_VIDEODRIVER: 'dummy', DISPLAY: undefined } });
    sinks.push(sink);
    const seen = events(sink);
    sink.start(info);
    expect(seen.needKeyframe).toBe(1);
    // Non-key frames before the first key frame would decode as garbage: dropped.
    const firstP = frames.findIndex((f) => !f.key);
    sink.write(frames[firstP].au, false);
    expect(sink.stats().dropped).toBe(1);
    await play(sink, 700);
    expect(alive(sink.pid)).toBe(true);
    expect(sink.stats().written).toBeGreaterThan(20);
    expect(seen.closed).toBe(0);

    // The player dies: 'closed' once, later writes are dropped without throwing.
    process.kill(sink.pid!, 'SIGKILL');
    for (let i = 0; i < 50 && seen.closed === 0; i++) await sleep(20);
    expect(seen.closed).toBe(1);
    await play(sink, 100);
    expect(seen.closed).toBe(1);

    // Reopening asks for a key frame again.
    sink.reopen();
    expect(seen.needKeyframe).toBe(2);
    expect(alive(sink.pid)).toBe(true);
    await play(sink, 200);
    const pid = sink.pid;
    await sink.close();
    expect(alive(pid)).toBe(false);
    expect(seen.closed).toBe(1); // our own close() is not "the window was closed"
  });
});

describe.skipIf(!haveFfplay || !haveXvfb)('ffplay under Xvfb', () => {
  let xvfb: Xvfb | undefined;
  let display = '';

  beforeAll(async () => {
    xvfb = await startXvfb();
    display = xvfb.display;
  });

  afterAll(() => {
    xvfb?.stop();
  });

  /** Screenshot of the whole X screen as raw RGB; returns the pixel standard deviation (0..1). */
  const screenshotStddev = (): number => {
    const env = { ...process.env, DISPLAY: display };
    const rgb = execFileSync('import', ['-window', 'root', '-depth', '8', 'rgb:-'], {
      env,
      maxBuffer: 64 << 20,
    });
    expect(rgb.length).toBe(1280 * 720 * 3);
    let sum = 0;
    let sumSq = 0;
    for (const v of rgb) {
      sum += v;
      sumSq += v * v;
    }
    const mean = sum / rgb.length;
    return Math.sqrt(sumSq / rgb.length - mean * mean) / 255;
  };

  it('shows the picture in a window titled with the console name', async () => {
    expect(screenshotStddev()).toBe(0); // an empty X screen is one flat colour
    const sink = new FfplaySink({ env: { DISPLAY: display, SDL_VIDEODRIVER: 'x11' } });
    sinks.push(sink);
    const seen = events(sink);
    sink.start(info);
    // One frame only, the first key frame: it must show by itself. Without the AUD the sink
    // appends, ffplay would wait for the next frame; with -fflags nobuffer it would drop it.
    sink.write(frames[0].au, true);
    // The window needs a moment to appear on a busy machine: look until it shows (or 8 s).
    let stddev = 0;
    for (const t = Date.now(); stddev <= 0.05 && Date.now() - t < 8000; ) {
      stddev = screenshotStddev();
      if (stddev <= 0.05) await sleep(200);
    }
    expect(stddev).toBeGreaterThan(0.05);
    const tree = execFileSync('xwininfo', ['-root', '-tree'], { env: { ...process.env, DISPLAY: display } });
    expect(tree.toString()).toContain('"PS5-Test Living Room"');

    // Closing the window (the player dies): said once, writes go on harmlessly.
    process.kill(sink.pid!, 'SIGTERM');
    for (let i = 0; i < 100 && seen.closed === 0; i++) await sleep(20);
    expect(seen.closed).toBe(1);
    await play(sink, 100);
    expect(seen.closed).toBe(1);
    expect(sink.stats().dropped).toBeGreaterThan(0);
  });

  it('shows HEVC (PS5) from its first key frame too', async () => {
    const hevc = splitAccessUnits(
      readFileSync(join(repoRoot, 'test/fixtures/media/testsrc-720p60.h265')),
      'hevc',
    );
    expect(isKeyframe(hevc[0], 'hevc')).toBe(true);
    // Let the previous test's window go away so the screenshot sees only this one.
    for (let i = 0; i < 50 && screenshotStddev() > 0; i++) await sleep(50);
    const sink = new FfplaySink({ env: { DISPLAY: display, SDL_VIDEODRIVER: 'x11' } });
    sinks.push(sink);
    sink.start({ ...info, codec: 'hevc' });
    sink.write(hevc[0], true);
    let stddev = 0;
    for (const t = Date.now(); stddev <= 0.05 && Date.now() - t < 8000; ) {
      stddev = screenshotStddev();
      if (stddev <= 0.05) await sleep(200);
    }
    expect(stddev).toBeGreaterThan(0.05);
  });
});
