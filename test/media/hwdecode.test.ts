// The decoder choice for ffplay and the machine facts under it, on made-up Raspberry Pis (fake
// hosts), plus the parsers of ffmpeg's listings: real output where ffmpeg is installed, and fuzz.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  autoVideoDriver,
  chooseDecoder,
  type DecodeProbe,
  decoderFailed,
  ffplayHasHwaccel,
  hardwareDecoder,
  listV4l2Devices,
  parseDecoderList,
  parseDecoderSetting,
  parseHwaccelList,
  platformFacts,
  probeDecoding,
  readPiModel,
} from '../../src/media/hwdecode.js';
import { findTool } from '../../src/media/tools.js';
import { UsageError } from '../../src/proto-stack/errors.js';
import { decoderListing, fakeHost, piFiles } from '../helpers/host.js';

const PI4 = 'Raspberry Pi 4 Model B Rev 1.4';
const PI5 = 'Raspberry Pi 5 Model B Rev 1.0';
const HWACCELS = 'Hardware acceleration methods:\nvdpau\ndrm\n\n';
const FFPLAY7_HELP =
  '-vcodec decoder_name  force video decoder\n-hwaccel hwaccel name  use HW accelerated decoding\n';

/** A Pi whose player has these decoders, ffmpeg these hwaccels, ffplay this help. */
function pi(model: string, v4l2: Record<string, string>, o: { decoders?: string[]; help?: string } = {}) {
  return fakeHost({
    files: piFiles(model, v4l2),
    run: (name, args) => {
      if (args.includes('-decoders')) return { stdout: decoderListing(o.decoders ?? ['h264', 'hevc']) };
      if (args.includes('-hwaccels')) return { stdout: HWACCELS };
      if (args.includes('-h')) return { stdout: o.help ?? '-vcodec decoder_name  force video decoder\n' };
      return name === 'ffplay' || name === 'ffmpeg' ? {} : undefined;
    },
  });
}
const tools = { ffplay: '/usr/bin/ffplay', ffmpeg: '/usr/bin/ffmpeg' };

describe('the Pi model', () => {
  it('reads the generation from the device tree, and nothing elsewhere', () => {
    const gen = (model: string) => readPiModel(fakeHost({ files: piFiles(model) }))?.generation;
    expect(gen(PI4)).toBe(4);
    expect(gen(PI5)).toBe(5);
    expect(gen('Raspberry Pi 400 Rev 1.0')).toBe(4);
    expect(gen('Raspberry Pi Compute Module 4 Rev 1.1')).toBe(4);
    expect(gen('Raspberry Pi Zero 2 W Rev 1.0')).toBe(3);
    expect(gen('Raspberry Pi Zero W Rev 1.1')).toBe(1);
    expect(gen('Raspberry Pi 3 Model B Plus Rev 1.3')).toBe(3);
    expect(readPiModel(fakeHost({ files: piFiles(PI4) }))?.model).toBe(PI4); // the NUL is gone
    expect(
      readPiModel(fakeHost({ files: { '/proc/device-tree/model': 'Pine64 RockPro64\0' } })),
    ).toBeUndefined();
    expect(readPiModel(fakeHost())).toBeUndefined();
  });
});

describe('ffmpeg listings', () => {
  it('parses decoders and hwaccels as ffmpeg prints them', () => {
    expect(parseDecoderList(decoderListing(['h264', 'h264_v4l2m2m', 'hevc']))).toEqual([
      'h264',
      'h264_v4l2m2m',
      'hevc',
    ]);
    // the legend above the dashes is not a decoder list
    expect(parseDecoderList(' V..... = Video\n A..... = Audio\n')).toEqual([]);
    expect(parseHwaccelList(HWACCELS)).toEqual(['vdpau', 'drm']);
    expect(parseHwaccelList('no heading\ndrm\n')).toEqual([]);
    expect(ffplayHasHwaccel(FFPLAY7_HELP)).toBe(true);
    expect(ffplayHasHwaccel('-vcodec decoder_name  force video decoder\n')).toBe(false);
  });

  it.skipIf(!findTool('ffmpeg').found)("parses this machine's ffmpeg", () => {
    const ffmpeg = (findTool('ffmpeg') as { path: string }).path;
    const decoders = parseDecoderList(
      execFileSync(ffmpeg, ['-hide_banner', '-decoders'], { encoding: 'utf8' }),
    );
    expect(decoders).toContain('h264');
    expect(decoders).toContain('hevc');
    expect(decoders.every((d) => /^\S+$/.test(d))).toBe(true);
    const hw = parseHwaccelList(execFileSync(ffmpeg, ['-hide_banner', '-hwaccels'], { encoding: 'utf8' }));
    expect(hw.every((h) => /^[a-z0-9_]+$/.test(h))).toBe(true);
  });

  it('never throws on arbitrary text, and lists only names that were in it (fuzz)', () => {
    const lines = fc.array(
      fc.oneof(
        fc.string(),
        fc.constantFrom(
          ' ------',
          ' V..... h264_v4l2m2m  x',
          'Hardware acceleration methods:',
          'drm',
          ' A....D aac',
        ),
      ),
      { maxLength: 20 },
    );
    fc.assert(
      fc.property(lines, (ls) => {
        const text = ls.join('\n');
        for (const name of [...parseDecoderList(text), ...parseHwaccelList(text)]) {
          expect(name).not.toMatch(/\s/);
          expect(text).toContain(name);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('V4L2 devices', () => {
  it('names each device by its driver and knows which decodes what', () => {
    const host = fakeHost({
      files: piFiles(PI4, {
        video10: 'bcm2835-codec-decode',
        video11: 'bcm2835-codec-encode',
        video19: 'rpivid',
      }),
      denied: (p) => p === '/dev/video19',
    });
    expect(listV4l2Devices(host, readPiModel(host))).toEqual([
      { node: '/dev/video10', name: 'bcm2835-codec-decode', role: 'h264-m2m', usable: true },
      { node: '/dev/video11', name: 'bcm2835-codec-encode', role: 'other', usable: true },
      { node: '/dev/video19', name: 'rpivid', role: 'hevc-request', usable: false },
    ]);
  });

  it("falls back to a Pi's numbering when sysfs is not there", () => {
    const host = fakeHost({ files: { ...piFiles(PI4), '/dev/video10': '', '/dev/video19': '' } });
    const devices = listV4l2Devices(host, readPiModel(host));
    expect(devices.map((d) => d.role)).toEqual(['h264-m2m', 'hevc-request']);
    expect(devices[0].name).toMatch(/guessed/);
    // not a Pi: no guessing
    const other = fakeHost({ files: { '/dev/video10': '' } });
    expect(listV4l2Devices(other, undefined)[0].role).toBe('other');
  });
});

describe('auto decoder', () => {
  it('a Pi 4 decodes H.264 with h264_v4l2m2m on /dev/video10, HEVC in software without the drm hwaccel in ffplay', async () => {
    const host = pi(
      PI4,
      { video10: 'bcm2835-codec-decode', video19: 'rpivid' },
      { decoders: ['h264', 'h264_v4l2m2m'] },
    );
    const probe = await probeDecoding(host, tools);
    const h264 = chooseDecoder('auto', 'h264', probe);
    expect(h264).toMatchObject({ name: 'v4l2m2m', args: ['-vcodec', 'h264_v4l2m2m'], hardware: true });
    expect(h264.reason).toContain('/dev/video10 (bcm2835-codec-decode)');
    const hevc = chooseDecoder('auto', 'hevc', probe);
    expect(hevc).toMatchObject({ name: 'sw', args: [], hardware: false });
    expect(hevc.reason).toMatch(/no -hwaccel option/);
    expect(host.ran).toEqual([
      'ffplay -hide_banner -decoders',
      'ffplay -hide_banner -h',
      'ffmpeg -hide_banner -hwaccels',
    ]);
  });

  it('a Pi 5 decodes HEVC through the drm hwaccel when ffplay takes -hwaccel, H.264 in software', async () => {
    const probe = await probeDecoding(pi(PI5, { video19: 'rpi-hevc-dec' }, { help: FFPLAY7_HELP }), tools);
    expect(chooseDecoder('auto', 'hevc', probe)).toMatchObject({ name: 'drm', args: ['-hwaccel', 'drm'] });
    expect(chooseDecoder('auto', 'h264', probe)).toMatchObject({ name: 'sw' });
    expect(chooseDecoder('auto', 'h264', probe).reason).toMatch(/no H.264 decoder device/);
  });

  it('needs the device as well as the decoder: Debian lists h264_v4l2m2m everywhere', async () => {
    const host = fakeHost({
      run: (_n, args) => ({ stdout: args.includes('-decoders') ? decoderListing(['h264_v4l2m2m']) : '' }),
    });
    expect(hardwareDecoder('h264', await probeDecoding(host, tools))).toBeUndefined();
    const noAccess = fakeHost({
      files: piFiles(PI4, { video10: 'bcm2835-codec-decode' }),
      denied: (p) => p === '/dev/video10',
      run: (_n, args) => ({ stdout: args.includes('-decoders') ? decoderListing(['h264_v4l2m2m']) : '' }),
    });
    const probe = await probeDecoding(noAccess, tools);
    expect(chooseDecoder('auto', 'h264', probe).reason).toMatch(
      /video10 is not readable and writable.*"video" group/,
    );
  });

  it('with no player to ask, decodes in software', async () => {
    const probe: DecodeProbe = await probeDecoding(pi(PI4, { video10: 'bcm2835-codec-decode' }), {});
    expect(probe.decoders).toEqual([]);
    expect(chooseDecoder('auto', 'h264', probe).hardware).toBe(false);
  });
});

describe('forced decoders', () => {
  it('sw, v4l2m2m, a decoder name and an hwaccel name', () => {
    expect(chooseDecoder('sw', 'h264')).toMatchObject({ args: [], hardware: false });
    expect(chooseDecoder('v4l2m2m', 'hevc').args).toEqual(['-vcodec', 'hevc_v4l2m2m']);
    expect(chooseDecoder('h264_v4l2m2m', 'h264').args).toEqual(['-vcodec', 'h264_v4l2m2m']);
    expect(chooseDecoder('drm', 'hevc').args).toEqual(['-hwaccel', 'drm']);
    expect(chooseDecoder('vaapi', 'h264')).toMatchObject({ args: ['-hwaccel', 'vaapi'], hardware: true });
  });

  it('refuses what is not a name', () => {
    expect(parseDecoderSetting(' drm ')).toBe('drm');
    for (const bad of ['', 'a b', '-vf', 'drm;rm', 'V4L2'])
      expect(() => parseDecoderSetting(bad)).toThrow(UsageError);
  });
});

describe('a player that could not open its decoder', () => {
  it("is recognised by ffplay's own messages", () => {
    expect(
      decoderFailed(
        "[h264_v4l2m2m @ 0x7f4c380204c0] Could not find a valid device\n[h264_v4l2m2m @ 0x7f4c380204c0] can't configure decoder\nFailed to open file 'pipe:0' or configure filtergraph\n",
      ),
    ).toBe(true);
    expect(decoderFailed("Failed to set value 'drm' for option 'hwaccel': Option not found\n")).toBe(true);
    expect(decoderFailed('')).toBe(false); // the user closed the window
    expect(decoderFailed('pipe:0: Invalid data found when processing input\n')).toBe(false);
  });
});

describe('the video driver on a Pi without a desktop', () => {
  const piWithCard = (env: NodeJS.ProcessEnv) =>
    fakeHost({ env, files: { ...piFiles(PI4), '/dev/dri/card1': '', '/dev/dri/renderD128': '' } });
  it('is KMS/DRM when nothing names a display', () => {
    expect(autoVideoDriver(piWithCard({}), {})).toBe('kmsdrm');
    expect(autoVideoDriver(piWithCard({}), { DISPLAY: ':0' })).toBeUndefined();
    expect(autoVideoDriver(piWithCard({}), { WAYLAND_DISPLAY: 'wayland-1' })).toBeUndefined();
    expect(autoVideoDriver(piWithCard({}), { SDL_VIDEODRIVER: 'dummy' })).toBeUndefined();
  });
  it('is left to SDL elsewhere: not a Pi, or no DRM card', () => {
    expect(autoVideoDriver(fakeHost({ files: { '/dev/dri/card0': '' } }), {})).toBeUndefined();
    expect(autoVideoDriver(fakeHost({ files: piFiles(PI4) }), {})).toBeUndefined();
  });
});

describe('platform facts for new profiles', () => {
  it('asks the player only on a Pi', async () => {
    const notPi = fakeHost({ run: () => ({}) });
    expect(await platformFacts(notPi)).toEqual({
      piGeneration: undefined,
      h264Hardware: false,
      hevcHardware: false,
    });
    expect(notPi.ran).toEqual([]);
  });

  it('on a Pi 4 with the H.264 decoder: hardware H.264', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'rptui-hwdecode-'));
    try {
      for (const tool of ['ffplay', 'ffmpeg']) writeFileSync(join(bin, tool), '#!/bin/sh\n', { mode: 0o755 });
      const base = pi(PI4, { video10: 'bcm2835-codec-decode' }, { decoders: ['h264_v4l2m2m'] });
      const host = { ...base, env: { PATH: bin } };
      expect(await platformFacts(host)).toEqual({ piGeneration: 4, h264Hardware: true, hevcHardware: false });
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
