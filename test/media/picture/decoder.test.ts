// The ffmpeg frame decoder on the committed clips: frames of the asked size and rate, the clip's
// colours, H.264 and HEVC, frames without parameter sets decoded with the header put in front,
// filler NAL units ignored, and the buffers reused.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type DecodedFrame, decoderArgs, FrameDecoder } from '../../../src/media/picture/decoder.js';
import { findTool } from '../../../src/media/tools.js';
import {
  extractVideoHeader,
  isKeyframe,
  splitAccessUnits,
  stripParameterSets,
  type VideoCodec,
} from '../../../src/proto-stack/annexb.js';
import { compareBars } from '../../helpers/picture.js';
import { repoRoot } from '../../helpers/vectors.js';

const ffmpeg = findTool('ffmpeg');
const clip = (name: string, codec: VideoCodec) =>
  splitAccessUnits(readFileSync(join(repoRoot, 'test/fixtures/media', name)), codec);

const decoders: FrameDecoder[] = [];
afterEach(async () => {
  await Promise.all(decoders.splice(0).map((d) => d.close()));
});

function run(
  aus: Uint8Array[],
  codec: VideoCodec,
  width: number,
  height: number,
  everyNth = 1,
  header?: Uint8Array,
) {
  const frames: DecodedFrame[] = [];
  const exits: string[] = [];
  const dec = new FrameDecoder(
    ffmpeg.found ? ffmpeg.path : 'ffmpeg',
    { codec, fps: 60, width, height, everyNth },
    process.env,
    (f) => frames.push({ ...f, data: f.data.slice() }),
    (d) => exits.push(d),
  );
  decoders.push(dec);
  aus.forEach((au, i) => {
    dec.write(au, i === 0 ? header : undefined);
  });
  const until = async (n: number) => {
    for (let i = 0; i < 400 && frames.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    return frames;
  };
  return { dec, frames, exits, until };
}

describe('decoder arguments', () => {
  it('thins before it scales, and asks for low delay and a flush per frame', () => {
    const a = decoderArgs({ codec: 'hevc', fps: 60, width: 80, height: 46, everyNth: 2 }).join(' ');
    expect(a).toContain('-flags low_delay -probesize 32 -analyzeduration 0 -f hevc -framerate 60 -i pipe:0');
    expect(a).toContain('-vf select=not(mod(n\\,2)),scale=80:46:flags=area -pix_fmt rgb24');
    expect(a).toContain('-flush_packets 1 -c:v ppm -f image2pipe pipe:1');
    expect(decoderArgs({ codec: 'h264', fps: 30, width: 8, height: 8, everyNth: 1 }).join(' ')).not.toContain(
      'select',
    );
    // $RPTUI_PICTURE_ARGS (a hardware decoder, say) goes with the input
    const hw = decoderArgs({
      codec: 'h264',
      fps: 60,
      width: 8,
      height: 8,
      everyNth: 1,
      inputArgs: ['-hwaccel', 'drm'],
    });
    expect(hw.join(' ')).toContain('-analyzeduration 0 -hwaccel drm -f h264 -framerate 60 -i pipe:0');
  });
});

describe.skipIf(!ffmpeg.found)('ffmpeg frame decoder', () => {
  it('H.264 720p: every second frame at 160x90, the clip colours, the feeding time of each', async () => {
    const aus = clip('testsrc-720p60.h264', 'h264').slice(0, 20);
    const { frames, until, exits } = run(aus, 'h264', 160, 90, 2);
    await until(10);
    expect(frames.length).toBe(10);
    expect(exits).toEqual([]);
    for (const f of frames) {
      expect(f.data.length).toBe(160 * 90 * 3);
      expect(Number.isFinite(f.fedAt)).toBe(true);
    }
    for (const r of compareBars(frames[0], { x: 0, y: 0, width: 160, height: 90 }))
      expect(r.error, r.name).toBeLessThan(20);
  });

  it('HEVC (PS5) decodes too', async () => {
    const aus = clip('testsrc-720p60.h265', 'hevc').slice(0, 5);
    const { frames, until } = run(aus, 'hevc', 64, 36);
    await until(5);
    expect(frames.length).toBe(5);
    for (const r of compareBars(frames[0], { x: 0, y: 0, width: 64, height: 36 }, undefined))
      expect(r.error, r.name).toBeLessThan(40);
  });

  it('a stream whose frames carry no parameter sets decodes with the header in front of the first', async () => {
    const whole = readFileSync(join(repoRoot, 'test/fixtures/media/testsrc-720p60.h264'));
    const header = extractVideoHeader(whole, 'h264')!;
    const aus = clip('testsrc-720p60.h264', 'h264')
      .slice(0, 6)
      .map((au) => stripParameterSets(au, 'h264'));
    expect(isKeyframe(aus[0], 'h264')).toBe(true);
    const { frames, until } = run(aus, 'h264', 32, 18, 1, header);
    await until(6);
    expect(frames.length).toBe(6);
  });

  it('ignores filler data NAL units (type 12) between and inside frames', async () => {
    const filler = new Uint8Array([0, 0, 0, 1, 0x0c, ...new Array(300).fill(0xff), 0x80]);
    const aus = clip('testsrc-720p60.h264', 'h264')
      .slice(0, 6)
      .map((au) => new Uint8Array([...au, ...filler]));
    const { frames, until } = run(aus, 'h264', 32, 18);
    await until(6);
    expect(frames.length).toBe(6);
    for (const r of compareBars(frames[0], { x: 0, y: 0, width: 32, height: 18 }))
      expect(r.error, r.name).toBeLessThan(40);
  });

  it('reuses released buffers: a steady stream allocates no frames', async () => {
    const seen = new Set<Uint8Array>();
    let count = 0;
    const dec = new FrameDecoder(
      ffmpeg.found ? ffmpeg.path : 'ffmpeg',
      { codec: 'h264', fps: 60, width: 16, height: 16, everyNth: 1 },
      process.env,
      (f) => {
        count++;
        seen.add(f.data);
        dec.release(f);
      },
      () => {},
    );
    decoders.push(dec);
    for (const au of clip('testsrc-720p60.h264', 'h264').slice(0, 12)) dec.write(au);
    for (let i = 0; i < 400 && count < 12; i++) await new Promise((r) => setTimeout(r, 10));
    expect(count).toBe(12);
    // one buffer filling while the other is out
    expect(seen.size).toBeLessThanOrEqual(2);
  });

  it('reports an ffmpeg that cannot start', async () => {
    const exits: string[] = [];
    const dec = new FrameDecoder(
      '/nonexistent/ffmpeg',
      { codec: 'h264', fps: 60, width: 8, height: 8, everyNth: 1 },
      process.env,
      () => {},
      (d) => exits.push(d),
    );
    decoders.push(dec);
    dec.write(new Uint8Array([0, 0, 0, 1, 0x65]));
    for (let i = 0; i < 100 && exits.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(exits).toHaveLength(1);
    expect(exits[0]).toMatch(/ENOENT/);
    expect(dec.alive).toBe(false);
  });
});
