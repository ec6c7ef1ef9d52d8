import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  extractVideoHeader,
  isKeyframe,
  nalUnits,
  splitAccessUnits,
  stripParameterSets,
  type VideoCodec,
} from '../../src/proto-stack/annexb.js';
import { concatBytes, fromHex, toHex } from '../../src/proto-stack/bytes.js';
import { ffprobeStreams } from '../helpers/system.js';
import { repoRoot } from '../helpers/vectors.js';

const dir = join(repoRoot, 'test/fixtures/media');

/** Frame count and key-frame positions as ffprobe decodes them. */
function probe(file: string): { frames: number; keys: number[]; width: number; height: number } {
  const out = execFileSync(
    'ffprobe',
    [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'frame=key_frame:stream=width,height',
      '-of',
      'json',
      file,
    ],
    { encoding: 'utf8' },
  );
  const j = JSON.parse(out);
  const keys: number[] = [];
  j.frames.forEach((f: { key_frame: number }, i: number) => {
    if (f.key_frame) keys.push(i);
  });
  return { frames: j.frames.length, keys, width: j.streams[0].width, height: j.streams[0].height };
}

const fixtures: [string, VideoCodec, number, number][] = [
  ['testsrc-720p60.h264', 'h264', 1280, 720],
  ['testsrc-1080p60.h264', 'h264', 1920, 1080],
  ['testsrc-720p60.h265', 'hevc', 1280, 720],
];

describe('fixtures split into access units', () => {
  for (const [name, codec, w, h] of fixtures) {
    it(`${name}: same frames and key frames as ffprobe`, () => {
      const file = join(dir, name);
      const stream = new Uint8Array(readFileSync(file));
      const aus = splitAccessUnits(stream, codec);
      const p = probe(file);
      expect([p.width, p.height]).toEqual([w, h]);
      expect(aus.length).toBe(p.frames);
      expect(aus.map((a, i) => (isKeyframe(a, codec) ? i : -1)).filter((i) => i >= 0)).toEqual(p.keys);
      expect(p.keys).toEqual([0, 60]);
      // the access units tile the stream exactly
      expect(aus.reduce((n, a) => n + a.length, 0)).toBe(stream.length);
      const header = extractVideoHeader(stream, codec);
      expect(header).toBeDefined();
      const types = nalUnits(header as Uint8Array, codec).map((n) => n.type);
      expect(types).toEqual(codec === 'h264' ? [7, 8] : [32, 33, 34]);
    });
  }

  it('header + frames without parameter sets still decode to every frame (what the client writes)', () => {
    const file = join(dir, 'testsrc-720p60.h264');
    const stream = new Uint8Array(readFileSync(file));
    const header = extractVideoHeader(stream, 'h264') as Uint8Array;
    const frames = splitAccessUnits(stream, 'h264').map((a) => stripParameterSets(a, 'h264'));
    expect(frames.some((f, i) => f.length !== splitAccessUnits(stream, 'h264')[i].length)).toBe(true);
    const [st] = ffprobeStreams({ bytes: concatBytes(header, ...frames), format: 'h264' });
    expect(Number(st.nb_read_frames)).toBe(120);
  });
});

describe('NAL scanning', () => {
  it('handles 3- and 4-byte start codes and HEVC types', () => {
    const b = fromHex('0000000167aa000001689900000165bb');
    expect(nalUnits(b, 'h264').map((n) => [n.start, n.payload, n.end, n.type])).toEqual([
      [0, 4, 6, 7],
      [6, 9, 11, 8],
      [11, 14, 16, 5],
    ]);
    expect(isKeyframe(b, 'h264')).toBe(true);
    expect(isKeyframe(fromHex('0000000141aa'), 'h264')).toBe(false);
    expect(isKeyframe(fromHex('000000012801aa'), 'hevc')).toBe(true); // IDR_N_LP = 20
    expect(isKeyframe(fromHex('000000010201aa'), 'hevc')).toBe(false);
    expect(toHex(stripParameterSets(b, 'h264'))).toBe('0000000165bb');
  });
  it('fuzz: random bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom<VideoCodec>('h264', 'hevc'), (b, c) => {
        const aus = splitAccessUnits(b, c);
        for (const a of aus) isKeyframe(a, c);
        extractVideoHeader(b, c);
        stripParameterSets(b, c);
        for (const n of nalUnits(b, c)) expect(n.end).toBeGreaterThanOrEqual(n.payload);
      }),
      { numRuns: 1000 },
    );
  });
});
