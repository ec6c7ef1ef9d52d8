import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, useHarness } from '../helpers/cli.js';
import { type SimProcess, startSimulator } from '../helpers/simulator.js';
import { ffprobeStreams, onPath } from '../helpers/system.js';

const h = useHarness('all');
const ACCOUNT = '1234567890123456789';
const PIN = '13572468';
const asRoot = process.getuid?.() === 0;

interface Stats {
  video: { frames: number; lost: number; kbps: number };
  packets: { forged: number };
  streamInfo?: { width: number; height: number; serverType: string };
}

/** A simulator on `host` with a freshly paired profile "tv" in its own config dir. */
async function paired(host: string, args: string[]): Promise<{ sim: SimProcess; cfg: string }> {
  const cfg = h.tempDir();
  const sim = await startSimulator(h, { host, pin: PIN, args });
  const r = await runCli(
    ['register', '--host', host, '--pin', PIN, '--account-id', ACCOUNT, '--name', 'tv'],
    {
      configDir: cfg,
      timeoutMs: 20_000,
    },
  );
  expect(r.code, r.stderr).toBe(0);
  return { sim, cfg };
}

async function stream(cfg: string, args: string[]): Promise<Stats> {
  const statsPath = join(h.tempDir(), 'stats.json');
  const r = await runCli(
    ['connect', 'tv', '--no-input', '--audio', 'none', '--stats-json', statsPath, ...args],
    { configDir: cfg, timeoutMs: 40_000 },
  );
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(readFileSync(statsPath, 'utf8')) as Stats;
}

describe('real bitrates', () => {
  it('PS5 1080p60 at 15 Mbit/s: ~15 Mbit/s received, no frame lost, every frame decodes, key_pos in order', async () => {
    const { sim, cfg } = await paired('127.0.0.64', ['--ps5', '--log-datagrams']);
    const video = join(h.tempDir(), 'out.h264');
    const s = await stream(cfg, [
      ...['--resolution', '1080p', '--fps', '60', '--bitrate', '15000', '--duration', '8'],
      ...['--video', `file:${video}`],
    ]);
    expect(s.video.kbps).toBeGreaterThan(15_000 * 0.9);
    expect(s.video.kbps).toBeLessThan(15_000 * 1.1);
    expect(s.video.lost).toBe(0);
    expect(s.packets.forged).toBe(0);
    expect(s.streamInfo).toMatchObject({ width: 1920, height: 1080, serverType: 'PS5' });
    if (onPath('ffprobe')) {
      const [st] = ffprobeStreams(video);
      expect(st).toMatchObject({ width: 1920, height: 1080 });
      expect(Number(st.nb_read_frames)).toBe(s.video.frames);
    }
    // every AV datagram, video and audio alike, left with a larger key_pos than the one before
    const sent = sim.events().filter((e) => e.event === 'av-sent');
    expect(sent.length).toBeGreaterThan(8 * 60 * 20);
    expect(new Set(sent.map((e) => e.kind))).toEqual(new Set(['video', 'audio']));
    let backwards = 0;
    for (let i = 1; i < sent.length; i++)
      if ((sent[i].keyPos as number) <= (sent[i - 1].keyPos as number)) backwards++;
    expect(backwards).toBe(0);
    const frames = sim.events().filter((e) => e.event === 'frame-sent');
    const key = frames.find((e) => e.keyframe === true);
    const p = frames.find((e) => e.keyframe === false);
    // key frames stay several times larger than P-frames, as an encoder's are
    expect((key?.unitsTotal as number) / (p?.unitsTotal as number)).toBeGreaterThan(3);
  }, 60_000);

  it('PS5 1080p60 at 40 Mbit/s: ~40 Mbit/s received, no frame lost', async () => {
    const { cfg } = await paired('127.0.0.65', ['--ps5']);
    const s = await stream(cfg, [
      ...['--resolution', '1080p', '--fps', '60', '--bitrate', '40000', '--duration', '6', '--video', 'none'],
    ]);
    expect(s.video.kbps).toBeGreaterThan(40_000 * 0.9);
    expect(s.video.kbps).toBeLessThan(40_000 * 1.1);
    expect(s.video.lost).toBe(0);
  }, 60_000);

  it.skipIf(!asRoot)(
    'a PS4 Pro: 720p at 10 Mbit/s, and 1080p served as 1080p (PS4 discovery needs UDP 987: root)',
    async () => {
      const { cfg } = await paired('127.0.0.66', ['--pro']);
      const s = await stream(cfg, [
        ...[
          '--resolution',
          '720p',
          '--fps',
          '60',
          '--bitrate',
          '10000',
          '--duration',
          '6',
          '--video',
          'none',
        ],
      ]);
      expect(s.video.kbps).toBeGreaterThan(10_000 * 0.9);
      expect(s.video.kbps).toBeLessThan(10_000 * 1.1);
      expect(s.video.lost).toBe(0);
      expect(s.streamInfo).toMatchObject({ width: 1280, height: 720, serverType: 'PS4 Pro' });
      const hd = await stream(cfg, ['--resolution', '1080p', '--duration', '3', '--video', 'none']);
      expect(hd.streamInfo).toMatchObject({ width: 1920, height: 1080, serverType: 'PS4 Pro' });
    },
    60_000,
  );
});
