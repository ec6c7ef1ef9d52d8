/**
 * Where decoded-ready media goes. Video sinks take Annex-B access units (the first one carries
 * the SPS/PPS header); audio sinks take PCM s16le interleaved. Sinks never block and never throw
 * from write(): a player that dies or a device that is missing is reported (log + 'warning' /
 * 'closed' events) and the session goes on without it.
 *
 * Specs (the --video / --audio option values):
 *   video: ffplay | terminal | file:PATH | none   (file:*.mkv muxes audio too when ffmpeg exists;
 *          terminal draws the picture in the terminal itself, see picture/sink.ts)
 *   audio: speaker | file:PATH | none      (file: writes a WAV)
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { RemotePlaySessionApi, StreamInfo } from '../common/session-api.js';
import { RptuiError, UsageError } from '../proto-stack/errors.js';
import { AudioFileSink } from './audio-file.js';
import { FfplaySink } from './ffplay.js';
import { TerminalPictureSink } from './picture/sink.js';
import type { AudioSink, SinkOptions, VideoInfo, VideoSink } from './sink-types.js';
import { SpeakerSink } from './speaker.js';
import type { SinkStats } from './tools.js';
import { childEnv, findTool } from './tools.js';
import { createVideoFileSink } from './video-file.js';

export type {
  AudioInfo,
  AudioSink,
  AudioSinkEvents,
  SinkOptions,
  TerminalPictureOptions,
  VideoInfo,
  VideoSink,
  VideoSinkEvents,
} from './sink-types.js';
export type { SinkStats } from './tools.js';

export type VideoSinkSpec =
  | { kind: 'ffplay' }
  | { kind: 'terminal' }
  | { kind: 'file'; path: string }
  | { kind: 'none' };
export type AudioSinkSpec = { kind: 'speaker' } | { kind: 'file'; path: string } | { kind: 'none' };

function parseFileSpec(spec: string, option: string, example: string): { kind: 'file'; path: string } {
  const path = spec.slice('file:'.length);
  if (path.trim() === '') {
    throw new UsageError(`${option} file: needs a path`, `For example: ${option} file:${example}`);
  }
  return { kind: 'file', path };
}

/** Parses a --video value. Throws UsageError naming the accepted forms. */
export function parseVideoSinkSpec(spec: string): VideoSinkSpec {
  const s = spec.trim();
  if (s === 'ffplay' || s === 'terminal' || s === 'none') return { kind: s };
  if (s.startsWith('file:')) return parseFileSpec(s, '--video', 'out.h264 (or out.mkv to record audio too)');
  throw new UsageError(
    `--video "${spec}" is not a video output`,
    'Use ffplay (a window), terminal (the picture in this terminal), file:PATH (out.h264, out.hevc, or out.mkv with audio) or none',
  );
}

/** Parses an --audio value. Throws UsageError naming the accepted forms. */
export function parseAudioSinkSpec(spec: string): AudioSinkSpec {
  const s = spec.trim();
  if (s === 'speaker' || s === 'none') return { kind: s };
  if (s.startsWith('file:')) return parseFileSpec(s, '--audio', 'out.wav');
  throw new UsageError(
    `--audio "${spec}" is not an audio output`,
    'Use speaker (the default sound device), file:PATH (a WAV file) or none',
  );
}

/**
 * Why there is certainly no sound device, or undefined. Linux lists its ALSA cards in
 * /proc/asound/cards; ALSA_CONFIG_PATH may point ALSA at a device without a card (a null or a
 * file device), so it counts as a device. Other systems: assume there is one.
 */
function missingSoundCard(
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform,
  cardsFile: string,
): string | undefined {
  if (platform !== 'linux' || env.ALSA_CONFIG_PATH) return undefined;
  let cards: string;
  try {
    cards = readFileSync(cardsFile, 'utf8');
  } catch {
    return `this machine has no sound card (no ${cardsFile})`;
  }
  return /no soundcards/i.test(cards)
    ? `this machine has no sound card (${cardsFile} lists none)`
    : undefined;
}

export interface AudioResolveOptions {
  /** As SinkOptions.env: overrides process.env (the speaker child gets the same environment). */
  env?: NodeJS.ProcessEnv;
  /** Told once when `auto` resolves to none, and why. */
  log?: (msg: string) => void;
  /** Tests: another system, another card list. */
  platform?: NodeJS.Platform;
  cardsFile?: string;
}

/**
 * A profile's audio setting as an --audio spec: `auto` is the speaker when the machine may have
 * a sound device (the speaker sink itself says once if its package or the device fails), else
 * none, said once through `log`. Loading the speaker package with no device aborts its process,
 * and its child would say so on every session, hence the check. Other values pass unchanged.
 */
export function resolveAudioSinkSpec(spec: string, opts: AudioResolveOptions = {}): string {
  if (spec.trim() !== 'auto') return spec;
  const missing = missingSoundCard(
    childEnv(opts.env),
    opts.platform ?? process.platform,
    opts.cardsFile ?? '/proc/asound/cards',
  );
  if (missing === undefined) return 'speaker';
  opts.log?.(`${missing}: no sound. An audio output of file:out.wav records it instead`);
  return 'none';
}

/** The default --video: ffplay when a player is found, else none (with the reason, to say once). */
export function defaultVideoSinkSpec(opts: SinkOptions = {}): { spec: string; reason?: string } {
  const r = findTool('ffplay', { env: childEnv(opts.env), explicit: opts.playerPath });
  return r.found ? { spec: 'ffplay' } : { spec: 'none', reason: `${r.message}: no video window. ${r.hint}` };
}

function checkDirectory(path: string, option: string): string {
  // The shell does not expand ~ inside "file:~/x", so it is done here.
  const abs = resolve(path.startsWith('~/') ? join(homedir(), path.slice(2)) : path);
  const dir = dirname(abs);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`${option} file:${path}: the directory ${dir} does not exist`, 'Create it first');
  }
  if (existsSync(abs) && statSync(abs).isDirectory()) {
    throw new UsageError(`${option} file:${path} is a directory`, 'Give a file name, e.g. file:out.h264');
  }
  return abs;
}

class NullVideoSink implements VideoSink {
  readonly kind = 'none';
  private readonly counters: SinkStats = { written: 0, dropped: 0, bytes: 0 };
  start(): void {}
  write(frame: Uint8Array): void {
    this.counters.dropped++;
    this.counters.bytes += frame.length;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  on(): this {
    return this;
  }
  stats(): SinkStats {
    return { ...this.counters };
  }
}

class NullAudioSink implements AudioSink {
  readonly kind = 'none';
  private readonly counters: SinkStats = { written: 0, dropped: 0, bytes: 0 };
  start(): void {}
  write(pcm: Uint8Array): void {
    this.counters.dropped++;
    this.counters.bytes += pcm.length;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  on(): this {
    return this;
  }
  stats(): SinkStats {
    return { ...this.counters };
  }
}

/** Builds the video sink for a --video spec. Throws UsageError for a bad spec or a missing directory. */
export function createVideoSink(spec: string, opts: SinkOptions = {}): VideoSink {
  const parsed = parseVideoSinkSpec(spec);
  switch (parsed.kind) {
    case 'ffplay':
      return new FfplaySink(opts);
    case 'terminal':
      return new TerminalPictureSink(opts, opts.picture);
    case 'file':
      return createVideoFileSink(checkDirectory(parsed.path, '--video'), opts);
    case 'none':
      return new NullVideoSink();
  }
}

/** Builds the audio sink for an --audio spec. Throws UsageError for a bad spec or a missing directory. */
export function createAudioSink(spec: string, opts: SinkOptions = {}): AudioSink {
  const parsed = parseAudioSinkSpec(spec);
  switch (parsed.kind) {
    case 'speaker':
      return new SpeakerSink(opts);
    case 'file':
      return new AudioFileSink(checkDirectory(parsed.path, '--audio'), opts);
    case 'none':
      return new NullAudioSink();
  }
}

/** Where video and audio go: an option given for this session, else the profile's setting. */
export interface SinkChoice {
  video: { option?: string; setting: string };
  audio: { option?: string; setting: string };
}

export interface SinkPairOptions extends Omit<SinkOptions, 'log'> {
  /** A sink's progress and problems, as they happen. */
  log?: (kind: 'video' | 'audio', message: string) => void;
  /** A setting that cannot be used (the session plays without that output), or audio left out. */
  notice: (kind: 'video' | 'audio', message: string) => void;
}

/**
 * The sinks for a session, made the same way for the TUI and `rptui connect`. An option is the
 * user's word for this session: a bad one throws (UsageError). A profile setting that cannot be
 * used (say, a file: in a directory since removed) gives a notice and no output of that kind;
 * `auto` audio is the speaker, or none when the machine has no sound card.
 */
export function createSinks(choice: SinkChoice, o: SinkPairOptions): { video: VideoSink; audio: AudioSink } {
  const { log, notice, ...common } = o;
  const make = <T>(
    kind: 'video' | 'audio',
    create: (spec: string, opts: SinkOptions) => T,
    resolve: (setting: string, opts: SinkOptions) => string,
  ): T => {
    const opts: SinkOptions = { ...common, log: log && ((m) => log(kind, m)) };
    const { option, setting } = choice[kind];
    if (option !== undefined) return create(option, opts);
    try {
      return create(resolve(setting, { ...opts, log: (m) => notice(kind, m) }), opts);
    } catch (e) {
      if (!(e instanceof RptuiError)) throw e;
      notice(kind, `the profile's ${kind} output "${setting}" cannot be used (${e.message}); no ${kind}`);
      return create('none', opts);
    }
  };
  return {
    video: make('video', createVideoSink, (setting) => setting),
    audio: make('audio', createAudioSink, (setting, opts) => resolveAudioSinkSpec(setting, opts)),
  };
}

/** What attachSinks needs from a session (RemotePlaySessionApi, or a test double). */
export type SinkSession = Pick<RemotePlaySessionApi, 'on' | 'requestIdr'>;

/** The video sink's start() argument for a session's STREAMINFO. */
export function videoInfoFromStream(info: StreamInfo, title: string): VideoInfo {
  return {
    codec: info.codec === 'h265' ? 'hevc' : 'h264',
    width: info.width,
    height: info.height,
    fps: info.fps,
    title,
  };
}

/**
 * Wires sinks to a session: STREAMINFO starts them, frames and PCM flow in (PCM also into the
 * video container's audio input, for .mkv), and a player that (re)starts gets its IDR. Returns
 * close(), which finishes both sinks; call it once the session ended.
 */
export function attachSinks(
  session: SinkSession,
  video: VideoSink,
  audio: AudioSink,
  opts: { title: string },
): { close(): Promise<void> } {
  const tee = video.audio;
  video.on('needKeyframe', () => session.requestIdr());
  session.on('streamInfo', (info) => {
    video.start(videoInfoFromStream(info, opts.title));
    const format = { sampleRate: info.audio.sampleRate, channels: info.audio.channels };
    audio.start(format);
    tee?.start(format);
  });
  session.on('video', (frame) => video.write(frame.bytes, frame.keyframe));
  // No listener, no Opus decoding (the session decodes only for listeners): with audio `none`
  // that saves ~0.5 % of a core (a tenth of the client's CPU at 1080p60 15 Mbit/s).
  if (audio.kind !== 'none' || tee)
    session.on('audio', (pcm) => {
      audio.write(pcm);
      tee?.write(pcm);
    });
  return {
    close: async () => {
      await Promise.all([video.close(), audio.close()]);
    },
  };
}
