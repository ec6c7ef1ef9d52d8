// The ffplay sink's decoder choice with a fake ffplay (a shell script that logs how it was run):
// on a made-up Pi 4 `auto` starts it with h264_v4l2m2m; a player that refuses the hardware
// decoder is started again once with software decoding, said once; one that fails with software
// too is a closed window, not a loop. Without a display the Pi's screen is used (kmsdrm).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FfplaySink } from '../../src/media/ffplay.js';
import type { VideoInfo } from '../../src/media/sinks.js';
import { decoderListing, fakeHost, piFiles } from '../helpers/host.js';

const info: VideoInfo = { codec: 'h264', width: 1920, height: 1080, fps: 60, title: 'decoder test' };
const FRAME = new Uint8Array([0, 0, 0, 1, 0x65, 0x88, 0x84]); // an IDR slice: a key frame

/**
 * A fake ffplay: logs "SDL_VIDEODRIVER|args" per run; with `refuse` set it fails as ffplay does
 * when a decoder cannot open (messages on stderr, exit 0) for arguments matching that pattern;
 * otherwise it reads stdin to the end like a player.
 */
function fakeFfplay(dir: string, refuse: string): { log: string; env: NodeJS.ProcessEnv } {
  const log = join(dir, 'runs.log');
  writeFileSync(
    join(dir, 'ffplay'),
    `#!/bin/sh
echo "\${SDL_VIDEODRIVER:-}|$*" >> '${log}'
case "$*" in
  ${refuse})
    echo "[h264_v4l2m2m @ 0x55] Could not find a valid device" >&2
    echo "[h264_v4l2m2m @ 0x55] can't configure decoder" >&2
    echo "Failed to open file 'pipe:0' or configure filtergraph" >&2
    exit 0;;
esac
exec cat > /dev/null
`,
    { mode: 0o755 },
  );
  return { log, env: { PATH: `${dir}:/usr/bin:/bin`, RPTUI_FFPLAY: undefined, RPTUI_DECODER: undefined } };
}

/** A Pi 4 whose player lists h264_v4l2m2m and whose /dev/video10 is the H.264 decoder. */
const pi4 = (env: NodeJS.ProcessEnv) =>
  fakeHost({
    env,
    files: {
      ...piFiles('Raspberry Pi 4 Model B Rev 1.5', { video10: 'bcm2835-codec-decode' }),
      '/dev/dri/card1': '',
    },
    run: (_n, args) => ({
      stdout: args.includes('-decoders') ? decoderListing(['h264', 'h264_v4l2m2m']) : '',
    }),
  });

const dirs: string[] = [];
const sinks: FfplaySink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(refuse: string, extraEnv: NodeJS.ProcessEnv = { DISPLAY: ':0' }) {
  const dir = mkdtempSync(join(tmpdir(), 'rptui-ffplay-decoder-'));
  dirs.push(dir);
  const fake = fakeFfplay(dir, refuse);
  const env = { ...fake.env, ...extraEnv };
  const seen = { warnings: [] as string[], logs: [] as string[], closed: 0 };
  const sink = new FfplaySink({ env, host: pi4(env), log: (m) => seen.logs.push(m) });
  sinks.push(sink);
  sink.on('warning', (m) => seen.warnings.push(m));
  sink.on('closed', () => seen.closed++);
  const runs = () => {
    try {
      return readFileSync(fake.log, 'utf8').trim().split('\n');
    } catch {
      return [];
    }
  };
  return { sink, seen, runs };
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ffplay decoder choice', () => {
  it('auto on a Pi 4 plays H.264 with h264_v4l2m2m', async () => {
    const { sink, seen, runs } = setup('*never*');
    sink.start(info);
    await until(() => sink.pid !== undefined && runs().length === 1, 'the player runs');
    expect(runs()).toHaveLength(1);
    expect(runs()[0]).toContain('-vcodec h264_v4l2m2m');
    expect(sink.decoder).toMatchObject({ name: 'v4l2m2m', hardware: true });
    expect(seen.logs.join('\n')).toMatch(/Video decoding \(H\.264\): h264_v4l2m2m on \/dev\/video10/);
    sink.write(FRAME, true);
    expect(sink.stats().written).toBe(1);
  });

  it('falls back to software once when the player refuses the hardware decoder', async () => {
    const { sink, seen, runs } = setup('*h264_v4l2m2m*');
    sink.start(info);
    await until(() => runs().length === 2 && sink.pid !== undefined, 'the software player runs');
    expect(runs()[0]).toContain('-vcodec h264_v4l2m2m');
    expect(runs()[1]).not.toContain('-vcodec');
    expect(sink.decoder).toMatchObject({ name: 'sw', hardware: false });
    const fallback = seen.warnings.filter((w) => /could not use the hardware decoder/.test(w));
    expect(fallback).toHaveLength(1);
    expect(fallback[0]).toMatch(
      /h264_v4l2m2m on \/dev\/video10 \(bcm2835-codec-decode\): \[h264_v4l2m2m @ 0x55\] Could not find a valid device\); decoding in software instead$/,
    );
    expect(seen.closed).toBe(0);
    // the user closes the software window and opens it again: still software, nothing said again
    const first = sink.pid as number;
    process.kill(first, 'SIGTERM');
    await until(() => seen.closed === 1, 'the window closed');
    sink.reopen();
    await until(() => runs().length === 3 && sink.pid !== undefined, 'reopened');
    expect(runs()[2]).not.toContain('-vcodec');
    expect(seen.warnings.filter((w) => /could not use the hardware decoder/.test(w))).toHaveLength(1);
  });

  it('a player that fails with software decoding too is a closed window, after one retry', async () => {
    const { sink, seen, runs } = setup('*');
    sink.start(info);
    await until(() => seen.closed === 1, 'the window reported closed');
    expect(runs()).toHaveLength(2);
    expect(sink.pid).toBeUndefined();
    expect(seen.logs.at(-1)).toMatch(/Video window closed \(ffplay said: Failed to open file/);
  });

  it('--decoder sw never asks the player what it has', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rptui-ffplay-decoder-'));
    dirs.push(dir);
    const fake = fakeFfplay(dir, '*never*');
    const env = { ...fake.env, DISPLAY: ':0' };
    const host = pi4(env);
    const sink = new FfplaySink({ env, host, decoder: 'sw' });
    sinks.push(sink);
    sink.start(info);
    const ran = () => (existsSync(fake.log) ? readFileSync(fake.log, 'utf8') : '');
    await until(() => ran() !== '', 'the player runs');
    expect(host.ran).toEqual([]);
    expect(ran()).not.toContain('-vcodec');
  });

  it('$RPTUI_DECODER forces one', async () => {
    const { sink, runs } = setup('*never*', { DISPLAY: ':0', RPTUI_DECODER: 'drm' });
    sink.start({ ...info, codec: 'hevc' });
    await until(() => sink.pid !== undefined && runs().length === 1, 'the player runs');
    expect(runs()[0]).toContain('-hwaccel drm');
  });

  it('on a Pi with no X or Wayland the picture goes to its screen through KMS/DRM', async () => {
    const { sink, seen, runs } = setup('*never*', {});
    sink.start(info);
    await until(() => sink.pid !== undefined && runs().length === 1, 'the player runs');
    expect(runs()[0].split('|')[0]).toBe('kmsdrm');
    expect(seen.warnings.join('\n')).toMatch(/KMS\/DRM \(SDL_VIDEODRIVER=kmsdrm\)/);
    expect(seen.warnings.join('\n')).not.toMatch(/No display is set/);
  });
});
