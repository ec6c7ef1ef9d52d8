import { EventEmitter } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { StreamInfo } from '../../src/common/session-api.js';
import { TerminalPictureSink } from '../../src/media/picture/sink.js';
import {
  attachSinks,
  createAudioSink,
  createSinks,
  createVideoSink,
  defaultVideoSinkSpec,
  parseAudioSinkSpec,
  parseVideoSinkSpec,
  resolveAudioSinkSpec,
  type SinkSession,
  videoInfoFromStream,
} from '../../src/media/sinks.js';
import { childEnv, findTool, KeyframeGate, requireTool } from '../../src/media/tools.js';
import { RptuiError, UsageError } from '../../src/proto-stack/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'rptui-sinks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sink specs', () => {
  it('parses the video forms', () => {
    expect(parseVideoSinkSpec('ffplay')).toEqual({ kind: 'ffplay' });
    expect(parseVideoSinkSpec(' terminal')).toEqual({ kind: 'terminal' });
    expect(parseVideoSinkSpec('none')).toEqual({ kind: 'none' });
    expect(parseVideoSinkSpec(' file:out.h264 ')).toEqual({ kind: 'file', path: 'out.h264' });
    // Only the first "file:" is the scheme; the rest is the path, colons included.
    expect(parseVideoSinkSpec('file:a:b.mkv')).toEqual({ kind: 'file', path: 'a:b.mkv' });
  });

  it('parses the audio forms', () => {
    expect(parseAudioSinkSpec('speaker')).toEqual({ kind: 'speaker' });
    expect(parseAudioSinkSpec('none')).toEqual({ kind: 'none' });
    expect(parseAudioSinkSpec('file:/tmp/x.wav')).toEqual({ kind: 'file', path: '/tmp/x.wav' });
  });

  it('rejects bad specs with a UsageError that lists the valid forms', () => {
    for (const bad of ['', 'speaker', 'mpv', 'file:', 'file:   ', 'FFPLAY', 'file']) {
      const err = (() => {
        try {
          parseVideoSinkSpec(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(err, bad).toBeInstanceOf(UsageError);
      expect((err as UsageError).exitCode).toBe(2);
    }
    expect(() => parseAudioSinkSpec('ffplay')).toThrow(/not an audio output/);
    expect(() => parseAudioSinkSpec('ffplay')).toThrow(UsageError);
    try {
      parseVideoSinkSpec('vlc');
    } catch (e) {
      expect((e as UsageError).hint).toMatch(/ffplay.*terminal.*file:PATH.*none/);
    }
    expect(() => parseAudioSinkSpec('file:')).toThrow(/needs a path/);
  });

  it('any string either parses or is a UsageError (fuzz)', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        for (const parse of [parseVideoSinkSpec, parseAudioSinkSpec]) {
          try {
            const r = parse(s);
            expect(['ffplay', 'terminal', 'speaker', 'none', 'file']).toContain(r.kind);
          } catch (e) {
            expect(e).toBeInstanceOf(UsageError);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a file in a missing directory up front', () => {
    expect(() => createVideoSink(`file:${join(dir, 'no', 'such', 'out.h264')}`)).toThrow(/does not exist/);
    expect(() => createAudioSink(`file:${join(dir, 'nope', 'out.wav')}`)).toThrow(UsageError);
    expect(() => createVideoSink(`file:${dir}`)).toThrow(/is a directory/);
  });

  it('expands ~/ in file paths (the shell does not, after "file:")', async () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const saved = process.env.HOME;
    process.env.HOME = home;
    try {
      const sink = createAudioSink('file:~/tilde.wav');
      sink.start({ sampleRate: 48000, channels: 2 });
      await sink.close();
      expect(readFileSync(join(home, 'tilde.wav')).length).toBe(44);
    } finally {
      process.env.HOME = saved;
    }
  });

  it('builds each kind', () => {
    expect(createVideoSink('none').kind).toBe('none');
    expect(createVideoSink('ffplay').kind).toBe('ffplay');
    // the terminal picture draws nowhere until it is given a place (a pane, or the screen layout)
    const picture = createVideoSink('terminal', { picture: { mode: 'blocks' } });
    expect(picture).toBeInstanceOf(TerminalPictureSink);
    expect((picture as TerminalPictureSink).mode).toBeUndefined();
    expect(createVideoSink(`file:${join(dir, 'v.h264')}`).kind).toBe('file');
    expect(createAudioSink('none').kind).toBe('none');
    expect(createAudioSink('speaker').kind).toBe('speaker');
    expect(createAudioSink(`file:${join(dir, 'a.wav')}`).kind).toBe('file');
  });

  it('the none sinks swallow everything and count it', async () => {
    const v = createVideoSink('none');
    v.start({ codec: 'h264', width: 1, height: 1, fps: 60, title: 't' });
    v.write(new Uint8Array(10), true);
    await v.close();
    expect(v.stats()).toEqual({ written: 0, dropped: 1, bytes: 10 });
    const a = createAudioSink('none');
    a.write(new Uint8Array(4));
    expect(a.stats().dropped).toBe(1);
  });
});

describe('createSinks (the one factory of the TUI and rptui connect)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rptui-createsinks-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const gone = `file:${join(dir, 'removed', 'out.h264')}`;

  it("an option wins over the profile's setting, and a bad option is the user's error", () => {
    const notices: string[] = [];
    const notice = (kind: string, m: string) => notices.push(`${kind}: ${m}`);
    const s = createSinks(
      {
        video: { option: 'none', setting: 'ffplay' },
        audio: { option: `file:${join(dir, 'a.wav')}`, setting: 'none' },
      },
      { notice },
    );
    expect([s.video.kind, s.audio.kind]).toEqual(['none', 'file']);
    expect(() =>
      createSinks({ video: { option: gone, setting: 'none' }, audio: { setting: 'none' } }, { notice }),
    ).toThrow(UsageError);
    expect(notices).toEqual([]);
  });

  it('a setting that cannot be used is said once and plays without that output', () => {
    const notices: string[] = [];
    const s = createSinks(
      { video: { setting: gone }, audio: { setting: 'file:/dev/null/x.wav' } },
      { notice: (kind, m) => notices.push(`${kind}: ${m}`) },
    );
    expect([s.video.kind, s.audio.kind]).toEqual(['none', 'none']);
    expect(notices).toHaveLength(2);
    expect(notices[0]).toMatch(
      /^video: the profile's video output "file:.*removed.*" cannot be used \(.*\); no video$/,
    );
    expect(notices[1]).toMatch(/^audio: the profile's audio output "file:\/dev\/null\/x.wav" cannot be used/);
  });

  it("'auto' audio with no sound card: a notice, no audio; each sink logs under its kind", () => {
    const notices: string[] = [];
    const logs: string[] = [];
    const s = createSinks(
      { video: { setting: 'ffplay' }, audio: { setting: 'auto' } },
      {
        // no card list on a Linux machine: no sound (the speaker package would abort its process)
        env: { ALSA_CONFIG_PATH: undefined },
        notice: (kind, m) => notices.push(`${kind}: ${m}`),
        log: (kind, m) => logs.push(`${kind}: ${m}`),
        playerPath: join(dir, 'no-ffplay'),
      },
    );
    if (process.platform === 'linux' && !readFileSafe('/proc/asound/cards').match(/^\s*\d+ \[/m)) {
      expect(s.audio.kind).toBe('none');
      expect(notices).toEqual([expect.stringMatching(/^audio: .*no sound/)]);
    }
    s.video.start({ codec: 'h264', width: 1, height: 1, fps: 60, title: 't' });
    expect(logs.some((l) => l.startsWith('video: ') && l.includes('no-ffplay'))).toBe(true);
  });
});

const readFileSafe = (p: string) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
};

describe("the profile's audio 'auto'", () => {
  const cards = join(dir, 'asound-cards');
  const noCards = join(dir, 'asound-none');
  writeFileSync(cards, ' 0 [PCH            ]: HDA-Intel - HDA Intel PCH\n');
  writeFileSync(noCards, '--- no soundcards ---\n');
  const resolve = (
    spec: string,
    o: { env?: NodeJS.ProcessEnv; platform?: NodeJS.Platform; cardsFile: string },
  ) => {
    const said: string[] = [];
    const got = resolveAudioSinkSpec(spec, { platform: 'linux', ...o, log: (m) => said.push(m) });
    return { got, said };
  };
  const noAlsaConf = { ALSA_CONFIG_PATH: undefined };

  it('is the speaker where Linux lists a sound card', () => {
    expect(resolve('auto', { env: noAlsaConf, cardsFile: cards })).toEqual({ got: 'speaker', said: [] });
  });

  it('is none, said once, where there is no card list or it lists none', () => {
    const missing = resolve('auto', { env: noAlsaConf, cardsFile: join(dir, 'no-such-file') });
    expect(missing.got).toBe('none');
    expect(missing.said).toEqual([
      `this machine has no sound card (no ${join(dir, 'no-such-file')}): no sound. An audio output of file:out.wav records it instead`,
    ]);
    const none = resolve('auto', { env: noAlsaConf, cardsFile: noCards });
    expect(none.got).toBe('none');
    expect(none.said).toEqual([
      `this machine has no sound card (${noCards} lists none): no sound. An audio output of file:out.wav records it instead`,
    ]);
  });

  it('ALSA_CONFIG_PATH counts as a device (a null or file PCM), other systems are assumed to have one', () => {
    const conf = { ALSA_CONFIG_PATH: join(dir, 'asound.conf') };
    expect(resolve('auto', { env: conf, cardsFile: noCards })).toEqual({ got: 'speaker', said: [] });
    expect(resolve('auto', { env: noAlsaConf, platform: 'darwin', cardsFile: noCards })).toEqual({
      got: 'speaker',
      said: [],
    });
  });

  it('leaves every other setting alone', () => {
    for (const spec of ['speaker', 'none', 'file:out.wav', 'file:auto'])
      expect(resolve(spec, { env: noAlsaConf, cardsFile: noCards })).toEqual({ got: spec, said: [] });
  });
});

describe('finding ffplay / ffmpeg', () => {
  const fakeBin = join(dir, 'bin');
  const fake = join(fakeBin, 'ffplay');
  mkdirSync(fakeBin, { recursive: true });
  writeFileSync(fake, '#!/bin/sh\nexit 0\n');
  chmodSync(fake, 0o755);
  writeFileSync(join(fakeBin, 'ffmpeg'), 'not executable');

  it('looks on PATH', () => {
    expect(findTool('ffplay', { env: { PATH: `/nonexistent:${fakeBin}` } })).toEqual({
      found: true,
      path: fake,
      via: 'PATH',
    });
    // A file without the execute bit is not a tool.
    expect(findTool('ffmpeg', { env: { PATH: fakeBin }, ffmpegStatic: () => undefined }).found).toBe(false);
  });

  it('prefers the explicit path, then $RPTUI_FFPLAY, over PATH', () => {
    expect(findTool('ffplay', { env: { PATH: '', RPTUI_FFPLAY: fake } })).toMatchObject({
      path: fake,
      via: 'env',
    });
    expect(findTool('ffplay', { env: { PATH: '/usr/bin', RPTUI_FFPLAY: fake } })).toMatchObject({
      via: 'env',
    });
    expect(findTool('ffplay', { env: { PATH: '' }, explicit: fake })).toMatchObject({ via: 'option' });
    // A bare name in the variable is looked up on PATH.
    expect(findTool('ffplay', { env: { PATH: fakeBin, RPTUI_FFPLAY: 'ffplay' } })).toMatchObject({
      path: fake,
    });
  });

  it("falls back to the ffmpeg-static package's binary for ffmpeg only, after PATH", () => {
    const bundled = () => fake;
    expect(findTool('ffmpeg', { env: { PATH: '/nonexistent' }, ffmpegStatic: bundled })).toEqual({
      found: true,
      path: fake,
      via: 'ffmpeg-static',
    });
    expect(findTool('ffplay', { env: { PATH: '/nonexistent' }, ffmpegStatic: bundled }).found).toBe(false);
    expect(
      findTool('ffmpeg', { env: { PATH: '', RPTUI_FFMPEG: fake }, ffmpegStatic: bundled }),
    ).toMatchObject({
      via: 'env',
    });
  });

  it('says clearly what is missing and what to do', () => {
    const none = findTool('ffplay', { env: { PATH: '/nonexistent' } });
    expect(none).toMatchObject({ found: false, message: 'ffplay not found on PATH' });
    if (!none.found) expect(none.hint).toMatch(/apt install ffmpeg.*RPTUI_FFPLAY/);
    const badVar = findTool('ffmpeg', {
      env: { PATH: '', RPTUI_FFMPEG: '/opt/nothing/ffmpeg' },
      ffmpegStatic: () => undefined,
    });
    expect(badVar).toMatchObject({ found: false });
    if (!badVar.found) {
      expect(badVar.message).toContain('$RPTUI_FFMPEG is "/opt/nothing/ffmpeg"');
      expect(badVar.hint).toMatch(/unset it/);
    }
    expect(() => requireTool('ffprobe', { env: { PATH: '' } })).toThrow(RptuiError);
  });

  it('default --video is ffplay only when a player is found', () => {
    expect(defaultVideoSinkSpec({ env: { PATH: fakeBin, RPTUI_FFPLAY: undefined } })).toEqual({
      spec: 'ffplay',
    });
    const d = defaultVideoSinkSpec({ env: { PATH: '/nonexistent', RPTUI_FFPLAY: undefined } });
    expect(d.spec).toBe('none');
    expect(d.reason).toMatch(/ffplay not found on PATH: no video window/);
  });

  it('childEnv overrides and removes variables', () => {
    const env = childEnv({ SDL_VIDEODRIVER: 'kmsdrm', PATH: undefined });
    expect(env.SDL_VIDEODRIVER).toBe('kmsdrm');
    expect('PATH' in env).toBe(false);
    expect(env.HOME).toBe(process.env.HOME);
  });
});

describe('attachSinks (session -> sinks)', () => {
  const info: StreamInfo = {
    width: 1280,
    height: 720,
    fps: 60,
    codec: 'h265',
    bitrateKbps: 10000,
    audio: { sampleRate: 48000, channels: 2, frameSize: 480 },
    serverType: 'PS5',
  };

  it('maps STREAMINFO to the sink formats', () => {
    expect(videoInfoFromStream(info, 'PS5-123')).toEqual({
      codec: 'hevc',
      width: 1280,
      height: 720,
      fps: 60,
      title: 'PS5-123',
    });
    expect(videoInfoFromStream({ ...info, codec: 'h264' }, 't').codec).toBe('h264');
  });

  it('starts the sinks on STREAMINFO, feeds them, and asks for an IDR when a sink needs one', async () => {
    const session = new EventEmitter() as EventEmitter & { idr: number; requestIdr(): void };
    session.idr = 0;
    session.requestIdr = () => session.idr++;
    const vPath = join(dir, 'attached.hevc');
    const aPath = join(dir, 'attached.wav');
    const video = createVideoSink(`file:${vPath}`);
    const audio = createAudioSink(`file:${aPath}`);
    const attached = attachSinks(session as unknown as SinkSession, video, audio, { title: 'PS5-123' });
    session.emit('streamInfo', info);
    // A P-frame first: the file sink drops it and asks the session for an IDR.
    session.emit('video', {
      index: 1,
      bytes: new Uint8Array([0, 0, 0, 1, 2, 1, 9]),
      keyframe: false,
      recovered: false,
    });
    expect(session.idr).toBe(1);
    const idr = new Uint8Array([0, 0, 0, 1, 0x26, 1, 0xaf]);
    session.emit('video', { index: 2, bytes: idr, keyframe: true, recovered: false });
    session.emit('audio', new Uint8Array(400).fill(3));
    await attached.close();
    expect([...readFileSync(vPath)]).toEqual([...idr]);
    const wav = readFileSync(aPath);
    expect(wav.readUInt32LE(40)).toBe(400);
    expect(wav.readUInt32LE(24)).toBe(48000);
  });

  it('asks for no decoded audio when nothing takes it (audio none, no recording)', async () => {
    const listeners = (video: string, audio: string) => {
      const session = new EventEmitter();
      const a = attachSinks(
        session as unknown as SinkSession,
        createVideoSink(video),
        createAudioSink(audio),
        { title: 't' },
      );
      return { count: session.listenerCount('audio'), close: a.close };
    };
    const none = listeners('none', 'none');
    expect(none.count).toBe(0);
    const wav = listeners('none', `file:${join(dir, 'counted.wav')}`);
    expect(wav.count).toBe(1);
    await Promise.all([none.close(), wav.close()]);
  });
});

describe('KeyframeGate', () => {
  it('refuses P-frames until a key frame, asking at once and again every second', () => {
    let t = 0;
    let asked = 0;
    const gate = new KeyframeGate(
      () => asked++,
      () => t,
    );
    expect(gate.waiting).toBe(true);
    expect(gate.admit(false)).toBe(false); // first refusal asks
    expect(asked).toBe(1);
    t = 999;
    expect(gate.admit(false)).toBe(false);
    expect(asked).toBe(1);
    t = 1000;
    expect(gate.admit(false)).toBe(false); // the request or the IDR got lost: ask again
    expect(asked).toBe(2);
    expect(gate.admit(true)).toBe(true);
    expect(gate.waiting).toBe(false);
    expect(gate.admit(false)).toBe(true);
    gate.restart(); // e.g. the player restarted
    expect(asked).toBe(3);
    expect(gate.admit(false)).toBe(false);
    expect(asked).toBe(3);
  });

  it("gives a restarted decoder the stream's parameter sets in front of its first key frame", () => {
    const gate = new KeyframeGate(() => {});
    const sps = [0, 0, 0, 1, 0x67, 0x42, 0, 0x1f];
    const pps = [0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80];
    const idr = [0, 0, 0, 1, 0x65, 0x88, 0x84];
    const first = new Uint8Array([...sps, ...pps, ...idr]);
    const key = new Uint8Array(idr);
    const p = new Uint8Array([0, 0, 0, 1, 0x41, 0x9a]);
    // the first frame carries them itself: nothing in front, but they are kept
    expect(gate.headerFor(first, true, 'h264')).toBeUndefined();
    expect(gate.headerFor(key, true, 'h264')).toBeUndefined(); // the same decoder has them
    gate.restart(); // a new player
    expect(gate.headerFor(p, false, 'h264')).toBeUndefined();
    expect([...(gate.headerFor(key, true, 'h264') ?? [])]).toEqual([...sps, ...pps]);
    expect(gate.headerFor(key, true, 'h264')).toBeUndefined(); // once per start
  });
});
