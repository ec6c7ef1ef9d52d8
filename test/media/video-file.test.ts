// The file video sink: the elementary stream byte for byte (ffprobe decodes it), and .mkv with an
// audio track muxed by ffmpeg.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findTool } from '../../src/media/tools.js';
import { createVideoFileSink, ElementaryFileSink, MkvFileSink } from '../../src/media/video-file.js';
import { isKeyframe, splitAccessUnits, type VideoCodec } from '../../src/proto-stack/annexb.js';
import { concatBytes } from '../../src/proto-stack/bytes.js';
import { repoRoot } from '../helpers/vectors.js';

const dir = mkdtempSync(join(tmpdir(), 'rptui-vfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const haveFfmpeg = findTool('ffmpeg').found && findTool('ffprobe').found;

function clip(name: string, codec: VideoCodec) {
  const bytes = readFileSync(join(repoRoot, 'test/fixtures/media', name));
  return { bytes, frames: splitAccessUnits(bytes, codec).map((au) => ({ au, key: isKeyframe(au, codec) })) };
}

interface Probe {
  streams: {
    codec_type: string;
    codec_name: string;
    width?: number;
    height?: number;
    nb_read_frames?: string;
    sample_rate?: string;
    channels?: number;
  }[];
  format: { duration?: string };
}

function ffprobe(path: string): Probe {
  const out = execFileSync('ffprobe', [
    '-v',
    'error',
    '-count_frames',
    '-show_entries',
    'stream=codec_type,codec_name,width,height,nb_read_frames,sample_rate,channels:format=duration',
    '-of',
    'json',
    path,
  ]);
  return JSON.parse(out.toString()) as Probe;
}

describe('file:out.h264 / out.hevc (elementary stream)', () => {
  for (const [name, codec] of [
    ['testsrc-720p60.h264', 'h264'],
    ['testsrc-720p60.h265', 'hevc'],
  ] as const) {
    it(`writes exactly the frames given (${codec})`, async () => {
      const { bytes, frames } = clip(name, codec);
      const path = join(dir, `out.${codec}`);
      const sink = createVideoFileSink(path);
      expect(sink).toBeInstanceOf(ElementaryFileSink);
      sink.start({ codec, width: 1280, height: 720, fps: 60, title: 't' });
      for (const f of frames) sink.write(f.au, f.key);
      await sink.close();
      const written = readFileSync(path);
      expect(Buffer.compare(written, Buffer.from(concatBytes(...frames.map((f) => f.au))))).toBe(0);
      expect(written.length).toBe(bytes.length);
      expect(sink.stats()).toEqual({ written: frames.length, dropped: 0, bytes: bytes.length });
      if (haveFfmpeg) {
        const probe = ffprobe(path);
        expect(probe.streams[0]).toMatchObject({ codec_name: codec, width: 1280, height: 720 });
        expect(Number(probe.streams[0].nb_read_frames)).toBe(frames.length);
      }
    });
  }

  it('skips frames before the first key frame and asks for one, once', async () => {
    const { frames } = clip('testsrc-720p60.h264', 'h264');
    const path = join(dir, 'late.h264');
    const sink = createVideoFileSink(path);
    let asked = 0;
    sink.on('needKeyframe', () => asked++);
    sink.start({ codec: 'h264', width: 1280, height: 720, fps: 60, title: 't' });
    const second = frames.findIndex((f, i) => i > 0 && f.key);
    const rest = frames.slice(10);
    for (const f of rest) sink.write(f.au, f.key);
    await sink.close();
    expect(asked).toBe(1);
    expect(sink.stats().dropped).toBe(second - 10);
    expect(readFileSync(path).length).toBe(concatBytes(...frames.slice(second).map((f) => f.au)).length);
  });

  it('a write error is reported, not thrown', async () => {
    const errors: string[] = [];
    const logs: string[] = [];
    // A path under a regular file cannot be created (ENOTDIR).
    writeFileSync(join(dir, 'plain'), '');
    const sink = createVideoFileSink(join(dir, 'plain', 'x.h264'), { log: (m) => logs.push(m) });
    sink.on('error', (e) => errors.push(e.message));
    sink.start({ codec: 'h264', width: 1280, height: 720, fps: 60, title: 't' });
    sink.write(new Uint8Array([0, 0, 0, 1, 0x65]), true);
    await new Promise((r) => setTimeout(r, 100));
    sink.write(new Uint8Array([0, 0, 0, 1, 0x41]), false);
    await sink.close();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^Cannot write the video recording .*x\.h264: ENOTDIR/);
    expect(logs).toHaveLength(1);
  });
});

describe.skipIf(!haveFfmpeg)('file:out.mkv (ffmpeg)', () => {
  it('muxes the video and the PCM into one file', async () => {
    const { frames } = clip('testsrc-720p60.h264', 'h264');
    const path = join(dir, 'out.mkv');
    const sink = createVideoFileSink(path);
    expect(sink).toBeInstanceOf(MkvFileSink);
    const audio = sink.audio!;
    expect(audio).toBeDefined();
    sink.start({ codec: 'h264', width: 1280, height: 720, fps: 60, title: 't' });
    audio.start({ sampleRate: 48000, channels: 2 });
    // 2 s of video, and a 440 Hz tone delivered in 20 ms chunks alongside it.
    const chunk = 960 * 4;
    let sample = 0;
    for (let i = 0; i < frames.length; i++) {
      sink.write(frames[i].au, frames[i].key);
      if (i % 6 === 5) {
        for (let c = 0; c < 5; c++) {
          const pcm = new Int16Array(chunk / 2);
          for (let s = 0; s < 960; s++, sample++) {
            const v = Math.round(8000 * Math.sin((2 * Math.PI * 440 * sample) / 48000));
            pcm[2 * s] = v;
            pcm[2 * s + 1] = v;
          }
          audio.write(new Uint8Array(pcm.buffer));
        }
      }
    }
    await sink.close();
    const probe = ffprobe(path);
    const video = probe.streams.find((s) => s.codec_type === 'video');
    const sound = probe.streams.find((s) => s.codec_type === 'audio');
    expect(video).toMatchObject({ codec_name: 'h264', width: 1280, height: 720 });
    expect(Number(video?.nb_read_frames)).toBe(frames.length);
    expect(sound).toMatchObject({ sample_rate: '48000', channels: 2 });
    expect(Number(probe.format.duration)).toBeCloseTo(2, 1);
    expect(audio.stats()).toMatchObject({ written: 100, dropped: 0, bytes: 100 * chunk });
    // The audio track holds the tone, lined up with the video: same length within the 0.2 s slack
    // (silence padding covers the first frames, before any audio came).
    const pcm = execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-map', '0:a', '-f', 's16le', '-']);
    const seconds = pcm.length / 192000;
    expect(seconds).toBeGreaterThan(1.8);
    expect(seconds).toBeLessThan(2.25);
    const tail = new Int16Array(pcm.buffer, pcm.byteOffset + pcm.length - 96000, 48000);
    const rms = Math.sqrt(tail.reduce((a, v) => a + v * v, 0) / tail.length);
    expect(rms).toBeCloseTo(8000 / Math.SQRT2, -2);
  });

  it('has a (silent) audio track even when no audio comes', async () => {
    const { frames } = clip('testsrc-720p60.h264', 'h264');
    const path = join(dir, 'silent.mkv');
    // Player options (as the TUI passes them for ffplay) must not reach ffmpeg.
    const sink = createVideoFileSink(path, { playerPath: '/nonexistent/ffplay', extraArgs: ['-fs'] });
    expect(sink).toBeInstanceOf(MkvFileSink);
    sink.start({ codec: 'h264', width: 1280, height: 720, fps: 60, title: 't' });
    for (const f of frames) sink.write(f.au, f.key);
    await sink.close();
    const probe = ffprobe(path);
    expect(probe.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    expect(Number(probe.streams.find((s) => s.codec_type === 'video')?.nb_read_frames)).toBe(frames.length);
  });

  it('without ffmpeg, records the raw stream next to it and says so', async () => {
    const { frames } = clip('testsrc-720p60.h264', 'h264');
    const path = join(dir, 'noff.mkv');
    const warnings: string[] = [];
    const sink = createVideoFileSink(path, { env: { RPTUI_FFMPEG: '/nonexistent/ffmpeg' } });
    sink.on('warning', (m) => warnings.push(m));
    expect(sink.audio).toBeUndefined();
    sink.start({ codec: 'h264', width: 1280, height: 720, fps: 60, title: 't' });
    for (const f of frames.slice(0, 10)) sink.write(f.au, f.key);
    await sink.close();
    expect(warnings).toEqual([
      expect.stringMatching(
        /^ffmpeg not found: .*recording the raw video to .*noff\.h264 instead of .*noff\.mkv/,
      ),
    ]);
    expect(existsSync(path)).toBe(false);
    expect(readFileSync(join(dir, 'noff.h264')).length).toBe(
      concatBytes(...frames.slice(0, 10).map((f) => f.au)).length,
    );
  });
});
