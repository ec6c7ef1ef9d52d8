// End to end: `rptui simulate` streams its fixture clip and Opus tone, `rptui connect`
// receives it through the real session and media sinks. Addresses 127.0.0.20-29.
// - 720p to an .h264 file: ffprobe decodes 1280x720 with as many frames as the simulator sent;
//   the WAV holds the 1 kHz tone;
// - 5 % loss: from the simulator's drop log, every frame FEC can rebuild is rebuilt (never
//   reported corrupt), every other one is reported with CORRUPTFRAME and the stream picks up at
//   the next key frame; the stats count the rebuilt frames;
// - under Xvfb, the ffplay window shows the picture, and closing it does not end the session;
// - PS5 HEVC into an .mkv with the audio track (ffmpeg).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DropRecord, fecOutcome } from '../../src/simulator/faults.js';
import { runCli, runStateless, spawnCli, useHarness } from '../helpers/cli.js';
import { type SimEvent, type SimProcess, startSimulator } from '../helpers/simulator.js';
import { ffprobeStreams, onPath } from '../helpers/system.js';
import { goertzel } from '../helpers/tone.js';

const h = useHarness('all');
const ACCOUNT = '1234567890123456789';
const PIN = '24681357';

const haveFfprobe = onPath('ffprobe');
const haveFfplay = onPath('ffplay');
const haveXvfb = onPath('Xvfb') && onPath('import');
const haveFfmpeg = onPath('ffmpeg');

interface Stats {
  video: { frames: number; recovered: number; lost: number };
  audio: { frames: number };
  packets: { forged: number };
  sinks: { video: { kind: string; written: number }; audio: { kind: string; written: number } };
  streamInfo?: { width: number; height: number };
  closed?: { code: string };
}

/** One paired console state shared by the simulators of this file (each on its own address). */
let cfg = '';
let state = '';

async function simulator(host: string, args: string[] = []): Promise<SimProcess> {
  const copy = join(h.tempDir('rptui-media-state-'), 'console.json');
  copyFileSync(state, copy);
  return startSimulator(h, { host, pin: PIN, state: copy, args });
}

function connect(host: string, args: string[], env?: Record<string, string>) {
  return runCli(['connect', 'tv', '--host', host, '--resolution', '720p', ...args], {
    configDir: cfg,
    env,
    timeoutMs: 30_000,
  });
}

/** Frames the simulator sent before the client's DISCONNECT. */
function framesSent(ev: SimEvent[]): SimEvent[] {
  const bye = ev.find((e) => e.event === 'stream' && e.dir === 'in' && e.message === 'DISCONNECT');
  return ev.filter((e) => e.event === 'frame-sent' && (!bye || e.t <= bye.t));
}

/** The left channel of a 16-bit PCM WAV file. */
function readWav(path: string): { rate: number; channels: number; left: Int16Array } {
  const b = readFileSync(path);
  expect(b.toString('ascii', 0, 4)).toBe('RIFF');
  expect(b.toString('ascii', 8, 12)).toBe('WAVE');
  let rate = 0;
  let channels = 0;
  for (let off = 12; off + 8 <= b.length; ) {
    const id = b.toString('ascii', off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      channels = b.readUInt16LE(off + 10);
      rate = b.readUInt32LE(off + 12);
      expect(b.readUInt16LE(off + 22)).toBe(16);
    }
    if (id === 'data') {
      const n = Math.floor(Math.min(size, b.length - off - 8) / (2 * channels));
      const left = new Int16Array(n);
      for (let i = 0; i < n; i++) left[i] = b.readInt16LE(off + 8 + i * 2 * channels);
      return { rate, channels, left };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error(`${path}: no data chunk`);
}

beforeAll(async () => {
  cfg = h.tempDir();
  state = join(h.tempDir('rptui-media-state-'), 'console.json');
  const sim = await startSimulator(h, { host: '127.0.0.20', pin: PIN, state });
  const r = await runCli(
    ['register', '--host', '127.0.0.20', '--pin', PIN, '--account-id', ACCOUNT, '--name', 'tv'],
    {
      configDir: cfg,
      timeoutMs: 20_000,
    },
  );
  expect(r.code, r.stderr).toBe(0);
  await sim.stop();
}, 30_000);

it('simulate refuses fault options out of range, before binding anything', async () => {
  for (const [opt, value, says] of [
    ['--loss', '1.5', '--loss takes a probability from 0 to 1'],
    ['--dup', 'x', '--dup takes a probability'],
    ['--jitter', '-1', '--jitter takes milliseconds'],
    ['--seed', '1.5', '--seed takes an integer'],
  ]) {
    const r = await runStateless('simulate', '--host', '127.0.0.29', opt, value);
    expect(r.code).toBe(2); // a usage error
    expect(r.stderr).toContain(says);
  }
});

describe.skipIf(!haveFfprobe)('media end to end', () => {
  it('720p to file:out.h264 and file:out.wav: ffprobe decodes 1280x720 with every frame sent; the WAV holds the 1 kHz tone', async () => {
    const sim = await simulator('127.0.0.21');
    const dir = h.tempDir();
    const video = join(dir, 'out.h264');
    const audio = join(dir, 'out.wav');
    const statsPath = join(dir, 'stats.json');
    const r = await connect('127.0.0.21', [
      '--video',
      `file:${video}`,
      '--audio',
      `file:${audio}`,
      '--duration',
      '6',
      '--stats-json',
      statsPath,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const stats = JSON.parse(readFileSync(statsPath, 'utf8')) as Stats;
    expect(stats.streamInfo).toMatchObject({ width: 1280, height: 720 });
    expect(stats.packets.forged).toBe(0);
    expect(stats.video.lost).toBe(0);

    const sent = framesSent(sim.events());
    // 60 fps for the 6 s the session streamed (the handshake is not part of them)
    expect(sent.length).toBeGreaterThan(60 * 5);
    expect(sent.length).toBeLessThan(60 * 7);
    const [v] = ffprobeStreams(video);
    expect(v).toMatchObject({ codec_type: 'video', width: 1280, height: 720 });
    const decoded = Number(v.nb_read_frames);
    expect(Math.abs(decoded - sent.length)).toBeLessThanOrEqual(Math.ceil(sent.length * 0.05));
    expect(decoded).toBe(stats.sinks.video.written);

    const wav = readWav(audio);
    expect(wav).toMatchObject({ rate: 48000, channels: 2 });
    expect(wav.left.length).toBeGreaterThan(48000 * 4);
    // one second from the middle of the recording: the tone dominates every other bin
    const mid = wav.left.subarray(wav.left.length / 2 - 24000, wav.left.length / 2 + 24000);
    const tone = goertzel(mid, 1000, 48000);
    expect(tone).toBeGreaterThan(500); // full-scale is 16384 for a sine of amplitude 32767
    for (const f of [250, 500, 900, 1100, 1500, 2000, 3000])
      expect(goertzel(mid, f, 48000)).toBeLessThan(tone / 20);
  }, 40_000);

  it('5 % loss: every frame FEC can rebuild is rebuilt, the others are reported corrupt and the stream restarts at a key frame', async () => {
    // seed 4: a few frames lose more units than they have FEC (2 in 6 s at the profile's 10 Mbit/s)
    const sim = await simulator('127.0.0.22', ['--loss', '0.05', '--seed', '4']);
    const dir = h.tempDir();
    const video = join(dir, 'lossy.h264');
    const statsPath = join(dir, 'stats.json');
    const r = await connect('127.0.0.22', [
      '--video',
      `file:${video}`,
      '--audio',
      'none',
      '--duration',
      '6',
      '--stats-json',
      statsPath,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const stats = JSON.parse(readFileSync(statsPath, 'utf8')) as Stats;
    const ev = sim.events();
    const sent = framesSent(ev);
    const drops = ev.filter((e) => e.event === 'drop') as unknown as DropRecord[];
    expect(drops.length).toBeGreaterThan(20);
    const outcome = fecOutcome(drops);
    // Frames sent in the last 300 ms may still have been in flight at DISCONNECT: not judged.
    const lastT = sent[sent.length - 1].t;
    const judged = new Set(sent.filter((e) => e.t < lastT - 300).map((e) => e.frameIndex as number));
    const recoverable = [...outcome.values()].filter((o) => o.recoverable && judged.has(o.frameIndex));
    const unrecoverable = [...outcome.values()].filter((o) => !o.recoverable && judged.has(o.frameIndex));
    expect(unrecoverable.length).toBeGreaterThan(0);
    // rebuilding needs FEC when a source unit (not only an FEC unit) was dropped
    const needFec = new Set(
      drops
        .filter((d) => d.kind === 'video' && d.unitIndex < d.unitsTotal - d.fecUnits)
        .map((d) => d.frameIndex),
    );
    const rebuilt = recoverable.filter((o) => needFec.has(o.frameIndex));
    expect(rebuilt.length).toBeGreaterThan(3);

    // what the client reported corrupt (the simulator logs every CORRUPTFRAME it received)
    const reports = ev.filter((e) => e.event === 'stream' && e.dir === 'in' && e.message === 'CORRUPTFRAME');
    const corrupt = new Set<number>();
    for (const c of reports) {
      const end = c.end as number;
      for (let i = c.start as number; ; i = (i + 1) & 0xffff) {
        corrupt.add(i);
        if (i === end) break;
      }
    }
    for (const o of recoverable)
      expect(corrupt.has(o.frameIndex), `frame ${o.frameIndex} was recoverable`).toBe(false);
    for (const o of unrecoverable)
      expect(corrupt.has(o.frameIndex), `frame ${o.frameIndex} was lost`).toBe(true);
    // nothing else was reported: the corrupt frames are exactly the unrecoverable ones
    for (const i of corrupt) if (judged.has(i)) expect(outcome.get(i)?.recoverable, `frame ${i}`).toBe(false);
    expect(stats.video.lost).toBe(corrupt.size);

    // each loss is followed by a key frame that arrived, within half a second
    const lost = new Set(unrecoverable.map((o) => o.frameIndex));
    for (const o of unrecoverable) {
      const report = reports.find(
        (c) => (c.end as number) >= o.frameIndex && (c.start as number) <= o.frameIndex,
      );
      expect(report).toBeDefined();
      const restart = sent.find(
        (e) =>
          e.keyframe === true && (e.frameIndex as number) > o.frameIndex && !lost.has(e.frameIndex as number),
      );
      expect(restart, `a key frame after frame ${o.frameIndex}`).toBeDefined();
      expect((restart?.t as number) - (report?.t as number)).toBeLessThan(500);
    }
    expect(ev.some((e) => e.event === 'keyframe' && e.outcome === 'restart')).toBe(true);

    // What the client must have delivered, walking the frames in send order: a lost frame makes
    // it wait for the next key frame (frames before it are skipped, rebuilt or not); every other
    // frame is delivered, and counted as recovered when FEC rebuilt it. Frames of the last 300 ms
    // may or may not have arrived: they widen the range.
    const expected = { frames: [0, 0], recovered: [0, 0] };
    let waiting = false;
    for (const f of sent) {
      const i = f.frameIndex as number;
      const tail = judged.has(i) ? 0 : 1;
      if (outcome.get(i)?.recoverable === false) {
        waiting = true;
        continue;
      }
      if (waiting && f.keyframe !== true) continue;
      waiting = false;
      expected.frames[tail]++;
      if (needFec.has(i)) expected.recovered[tail]++;
    }
    expect(stats.video.recovered).toBeGreaterThan(0);
    expect(stats.video.recovered).toBeGreaterThanOrEqual(expected.recovered[0]);
    expect(stats.video.recovered).toBeLessThanOrEqual(expected.recovered[0] + expected.recovered[1]);
    expect(stats.video.frames).toBeGreaterThanOrEqual(expected.frames[0]);
    expect(stats.video.frames).toBeLessThanOrEqual(expected.frames[0] + expected.frames[1]);
    // and the recording decodes: every frame handed to the sink, at 1280x720
    const [v] = ffprobeStreams(video);
    expect(v).toMatchObject({ width: 1280, height: 720 });
    expect(Number(v.nb_read_frames)).toBe(stats.sinks.video.written);
    expect(stats.sinks.video.written).toBeGreaterThan(sent.length * 0.75);
  }, 40_000);

  describe.skipIf(!haveFfplay || !haveXvfb)('under Xvfb', () => {
    let xvfb: ChildProcess | undefined;
    let display = '';

    beforeAll(async () => {
      // -displayfd: Xvfb picks a free display number and writes it to fd 3
      const x = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x720x24', '-nolisten', 'tcp'], {
        stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      });
      xvfb = x;
      h.defer(async () => {
        if (x.exitCode === null && x.signalCode === null) {
          const gone = new Promise((r) => x.once('exit', r));
          x.kill('SIGTERM');
          await gone;
        }
      });
      display = await new Promise<string>((resolve, reject) => {
        let text = '';
        x.stdio[3]?.on('data', (d: Buffer) => {
          text += d.toString();
          if (text.includes('\n')) resolve(`:${text.trim()}`);
        });
        x.once('exit', () => reject(new Error('Xvfb exited')));
      });
    });

    /** Standard deviation of the screen's pixels (0..1): 0 is a blank screen. */
    const screenStddev = (): number => {
      const rgb = execFileSync('import', ['-window', 'root', '-depth', '8', 'rgb:-'], {
        env: { ...process.env, DISPLAY: display },
        maxBuffer: 64 << 20,
      });
      let sum = 0;
      let sumSq = 0;
      for (const v of rgb) {
        sum += v;
        sumSq += v * v;
      }
      const mean = sum / rgb.length;
      return Math.sqrt(sumSq / rgb.length - mean * mean) / 255;
    };

    it('--video ffplay shows the picture; closing the window leaves the session streaming', async () => {
      expect(xvfb).toBeDefined();
      await simulator('127.0.0.23');
      expect(screenStddev()).toBe(0);
      const dir = h.tempDir();
      const statsPath = join(dir, 'stats.json');
      const child = spawnCli(
        [
          'connect',
          'tv',
          '--host',
          '127.0.0.23',
          '--video',
          'ffplay',
          '--audio',
          'none',
          '--duration',
          '6',
          '--stats-json',
          statsPath,
        ],
        { configDir: cfg, env: { DISPLAY: display, SDL_VIDEODRIVER: 'x11' } },
      );
      h.defer(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (s: string) => {
        stderr += s;
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      let stddev = 0;
      for (const t = Date.now(); stddev <= 0.05 && Date.now() - t < 10_000; ) {
        await new Promise((r) => setTimeout(r, 250));
        stddev = screenStddev();
      }
      expect(stddev, stderr).toBeGreaterThan(0.05);

      // the user closes the window: the session says so and streams on until --duration
      const players = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(child.pid)], {
        encoding: 'utf8',
      })
        .split('\n')
        .filter((l) => l.includes('ffplay'))
        .map((l) => Number(l.trim().split(/\s+/)[0]));
      expect(players).toHaveLength(1);
      process.kill(players[0], 'SIGTERM');
      for (let i = 0; i < 100 && !stderr.includes('Video window closed'); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(stderr).toContain('the session goes on without video');
      expect(await exited, stderr).toBe(0);
      expect(stderr).toContain('disconnected by the user');
      const stats = JSON.parse(readFileSync(statsPath, 'utf8')) as Stats;
      expect(stats.closed?.code).toBe('user');
      expect(stats.sinks.video.kind).toBe('ffplay');
      expect(stats.video.frames).toBeGreaterThan(60 * 4);
    }, 40_000);
  });

  it.skipIf(!haveFfmpeg)(
    'PS5 HEVC over a reordering, duplicating, jittery network to file:out.mkv: the video and the audio track; no sound card is said once',
    async () => {
      const sim = await startSimulator(h, {
        host: '127.0.0.24',
        ps5: true,
        pin: PIN,
        args: ['--reorder', '0.03', '--dup', '0.03', '--jitter', '2', '--seed', '9'],
      });
      let r = await runCli(
        ['register', '--host', '127.0.0.24', '--pin', PIN, '--account-id', ACCOUNT, '--name', 'ps5'],
        { configDir: cfg, timeoutMs: 20_000 },
      );
      expect(r.code, r.stderr).toBe(0);
      const mkv = join(h.tempDir(), 'out.mkv');
      // no --audio: the profile's "auto"
      r = await runCli(
        ['connect', 'ps5', '--codec', 'h265', '--video', `file:${mkv}`, '--duration', '3', '--json'],
        {
          configDir: cfg,
          timeoutMs: 30_000,
        },
      );
      expect(r.code, r.stderr).toBe(0);
      // the faults happened, and the client's reorder window absorbed them (held packets come
      // 10-12 ms late, inside its 16 ms wait; a late simulator timer on a busy machine may still
      // cost a frame now and then)
      const fin = sim.events().find((e) => e.event === 'stats' && e.final === true);
      const faults = fin?.av as { dropped: number; reordered: number; duplicated: number } | undefined;
      expect(faults?.dropped).toBe(0);
      expect(faults?.reordered).toBeGreaterThan(5);
      expect(faults?.duplicated).toBeGreaterThan(5);
      const stats = JSON.parse(r.stdout) as Stats;
      expect(stats.video.lost).toBeLessThanOrEqual(3);
      expect(stats.video.frames).toBeGreaterThan(150);
      expect(sim.events().find((e) => e.event === 'stream' && e.action === 'media')).toMatchObject({
        clip: 'testsrc-720p60.h265',
        codec: 'h265',
      });
      const streams = ffprobeStreams(mkv);
      expect(streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
      const v = streams.find((s) => s.codec_type === 'video');
      expect(v).toMatchObject({ width: 1280, height: 720 });
      expect(Number(v?.nb_read_frames)).toBeGreaterThan(120);
      if (!existsSync('/proc/asound/cards') && !process.env.ALSA_CONFIG_PATH)
        expect(r.stderr.match(/^ {2}audio: .*no sound card.*$/gm)).toHaveLength(1);
    },
    30_000,
  );
});
