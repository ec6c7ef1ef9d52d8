/**
 * Recording video to a file. `file:out.h264` (any name) gets the elementary stream byte for byte;
 * `file:out.mkv` gets a Matroska file muxed live by a spawned ffmpeg, with the session's audio
 * (fed through the sink's `audio` input) as a second stream. Without ffmpeg an .mkv request
 * falls back to the elementary stream next to it, and says so.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { VideoCodec } from '../proto-stack/annexb.js';
import { RptuiError } from '../proto-stack/errors.js';
import type { AudioInfo, AudioSink, SinkOptions, VideoInfo, VideoSink } from './sink-types.js';
import {
  childEnv,
  findTool,
  KeyframeGate,
  PipeWriter,
  SinkEvents,
  StderrTail,
  waitForExit,
} from './tools.js';

/** Queued bytes above which a recording drops frames until the next key frame (the disk is stuck). */
const STUCK_BYTES = 64 << 20;
/** Audio may lag the video timeline by this much before the gap is filled with silence. */
const AUDIO_SLACK_S = 0.2;
/** The session's PCM format unless told otherwise (STREAMINFO defaults; Opus decodes at 48 kHz). */
const DEFAULT_AUDIO: AudioInfo = { sampleRate: 48000, channels: 2 };

function mediaError(message: string, hint?: string): RptuiError {
  return new RptuiError('media', message, hint === undefined ? {} : { hint });
}

/** Builds the file sink for an absolute path (see createVideoSink for the spec handling). */
export function createVideoFileSink(path: string, opts: SinkOptions = {}): VideoSink {
  if (!/\.mkv$/i.test(path)) return new ElementaryFileSink(() => path, opts);
  // playerPath names the player (ffplay), never the muxer: ffmpeg comes from $RPTUI_FFMPEG or PATH.
  const ffmpeg = findTool('ffmpeg', { env: childEnv(opts.env) });
  if (ffmpeg.found) return new MkvFileSink(path, ffmpeg.path, opts);
  const base = path.slice(0, -'.mkv'.length);
  return new ElementaryFileSink(
    (codec) => `${base}.${codec}`,
    opts,
    (actual) =>
      `${ffmpeg.message}: recording the raw video to ${actual} instead of ${path}, without audio. ${ffmpeg.hint}`,
  );
}

/** The elementary stream, exactly the bytes given, from the first key frame on. */
export class ElementaryFileSink extends SinkEvents implements VideoSink {
  readonly kind = 'file';
  private out: PipeWriter | undefined;
  private stream: WriteStream | undefined;
  // A file that starts mid-GOP does not decode: it waits for a key frame (asking for one).
  private readonly gate = new KeyframeGate(() => this.emit('needKeyframe'));
  private failed = false;
  path: string | undefined;

  constructor(
    private readonly choosePath: (codec: VideoCodec) => string,
    opts: SinkOptions = {},
    private readonly fallbackNotice?: (actualPath: string) => string,
  ) {
    super(opts.log);
  }

  start(info: VideoInfo): void {
    if (this.stream !== undefined) return;
    const path = this.choosePath(info.codec);
    this.path = path;
    if (this.fallbackNotice) this.warnOnce(this.fallbackNotice(path));
    const stream = createWriteStream(path);
    stream.on('error', (err) => {
      if (this.failed) return;
      this.failed = true;
      this.fail(mediaError(`Cannot write the video recording ${path}: ${err.message}`));
    });
    this.stream = stream;
    this.out = new PipeWriter(stream);
  }

  write(frame: Uint8Array, keyframe: boolean): void {
    const out = this.out;
    if (out === undefined || this.failed || !out.alive) {
      this.counters.dropped++;
      return;
    }
    if (!this.gate.admit(keyframe)) {
      this.counters.dropped++;
      return;
    }
    if (out.queued > STUCK_BYTES) {
      this.counters.dropped++;
      this.gate.restart();
      this.warnOnce(
        `The disk is not keeping up with the recording to ${this.path}: frames are being dropped`,
      );
      return;
    }
    out.write(frame);
    this.counters.written++;
    this.counters.bytes += frame.length;
  }

  async close(): Promise<void> {
    const stream = this.stream;
    if (stream === undefined || stream.closed) return;
    await this.out?.end();
    if (!stream.closed) await new Promise<void>((resolve) => stream.once('close', () => resolve()));
  }
}

/** The ffmpeg command that muxes video (fd 3) and PCM (fd 4) into Matroska without re-encoding video. */
export function mkvMuxArgs(path: string, video: VideoInfo, audio: AudioInfo): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-y',
    '-f',
    video.codec,
    '-framerate',
    String(video.fps),
    '-i',
    'pipe:3',
    '-f',
    's16le',
    '-ar',
    String(audio.sampleRate),
    '-ac',
    String(audio.channels),
    '-i',
    'pipe:4',
    '-map',
    '0:v:0',
    '-map',
    '1:a:0',
    '-c:v',
    'copy',
    '-c:a',
    'pcm_s16le',
    '-f',
    'matroska',
    path,
  ];
}

interface Muxer {
  child: ChildProcess;
  video: PipeWriter;
  audio: PipeWriter;
  tail: StderrTail;
  audioInfo: AudioInfo;
}

/**
 * Matroska via ffmpeg. ffmpeg is spawned on the first key frame, by which time the audio format
 * (from the same STREAMINFO) is normally known. The audio track follows the video timeline
 * (frames / fps): when audio lags it by more than AUDIO_SLACK_S (no audio yet, audio muted,
 * lost packets) the gap is filled with silence, which also keeps ffmpeg from waiting on an
 * empty audio pipe while the video pipe fills up.
 */
export class MkvFileSink extends SinkEvents implements VideoSink {
  readonly kind = 'file';
  readonly audio: AudioSink;
  private videoInfo: VideoInfo | undefined;
  private audioInfo: AudioInfo | undefined;
  private muxer: Muxer | undefined;
  // A file that starts mid-GOP does not decode: it waits for a key frame (asking for one).
  private readonly gate = new KeyframeGate(() => this.emit('needKeyframe'));
  private closing = false;
  private failed = false;
  private videoFrames = 0;
  private audioBytes = 0;

  constructor(
    readonly path: string,
    private readonly ffmpegPath: string,
    private readonly opts: SinkOptions = {},
  ) {
    super(opts.log);
    this.audio = new MkvAudioInput(this, opts.log);
  }

  start(info: VideoInfo): void {
    this.videoInfo = info;
  }

  /** Called by the audio input; false when the muxer already runs with another format. */
  setAudioFormat(info: AudioInfo): boolean {
    if (this.muxer === undefined) {
      this.audioInfo = info;
      return true;
    }
    const running = this.muxer.audioInfo;
    return running.sampleRate === info.sampleRate && running.channels === info.channels;
  }

  private spawnMuxer(video: VideoInfo): Muxer {
    const audioInfo = this.audioInfo ?? DEFAULT_AUDIO;
    const child = spawn(this.ffmpegPath, mkvMuxArgs(this.path, video, audioInfo), {
      env: childEnv(this.opts.env),
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    });
    const muxer: Muxer = {
      child,
      video: new PipeWriter(child.stdio[3] as Writable),
      audio: new PipeWriter(child.stdio[4] as Writable),
      tail: new StderrTail(child),
      audioInfo,
    };
    const died = (detail: string) => {
      if (this.closing || this.failed) return;
      this.failed = true;
      const said = muxer.tail.lastLine();
      this.fail(
        mediaError(`Recording to ${this.path} stopped: ffmpeg ${said === '' ? detail : `said: ${said}`}`),
      );
    };
    child.once('close', (code, signal) =>
      died(signal ? `was killed by ${signal}` : `exited with code ${code}`),
    );
    child.once('error', (err) => died(`could not start: ${err.message}`));
    return muxer;
  }

  write(frame: Uint8Array, keyframe: boolean): void {
    const video = this.videoInfo;
    if (video === undefined || this.failed || this.closing) {
      this.counters.dropped++;
      return;
    }
    if (!this.gate.admit(keyframe)) {
      this.counters.dropped++;
      return;
    }
    this.muxer ??= this.spawnMuxer(video);
    const muxer = this.muxer;
    if (muxer.video.queued > STUCK_BYTES) {
      this.counters.dropped++;
      this.gate.restart();
      this.warnOnce(`ffmpeg is not keeping up with the recording to ${this.path}: frames are being dropped`);
      return;
    }
    muxer.video.write(frame);
    this.videoFrames++;
    this.counters.written++;
    this.counters.bytes += frame.length;
    this.padAudio(muxer, video.fps);
  }

  private padAudio(muxer: Muxer, fps: number): void {
    const { sampleRate, channels } = muxer.audioInfo;
    const frameBytes = 2 * channels;
    const target = Math.floor((this.videoFrames / fps - AUDIO_SLACK_S) * sampleRate) * frameBytes;
    if (target > this.audioBytes) {
      muxer.audio.write(new Uint8Array(target - this.audioBytes));
      this.audioBytes = target;
    }
  }

  /** PCM from the audio input, appended to the audio track (once the muxer runs). */
  writeAudio(pcm: Uint8Array): boolean {
    const muxer = this.muxer;
    if (muxer === undefined || this.failed || this.closing || muxer.audio.queued > STUCK_BYTES) return false;
    muxer.audio.write(pcm);
    this.audioBytes += pcm.length;
    return true;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const muxer = this.muxer;
    if (muxer === undefined) {
      if (this.videoInfo !== undefined) this.log(`No video frame arrived: ${this.path} was not written`);
      return;
    }
    // EOF on both inputs makes ffmpeg finish the file; one that hangs is stopped after 10 s.
    void muxer.video.end();
    void muxer.audio.end();
    const code = await waitForExit(muxer.child, 10_000);
    if (code !== 0 && !this.failed) {
      this.failed = true;
      const said = muxer.tail.lastLine();
      this.fail(mediaError(`ffmpeg could not finish ${this.path}${said === '' ? '' : `: ${said}`}`));
    }
  }
}

/** The `audio` input of an .mkv recording: PCM into the muxer's audio track. */
class MkvAudioInput extends SinkEvents implements AudioSink {
  readonly kind = 'mkv-audio';
  private formatOk = true;

  constructor(
    private readonly owner: MkvFileSink,
    log?: (msg: string) => void,
  ) {
    super(log);
  }

  start(info: AudioInfo): void {
    this.formatOk = this.owner.setAudioFormat(info);
    if (!this.formatOk) {
      this.warnOnce(
        `The audio format changed to ${info.sampleRate} Hz, ${info.channels} channel(s) after ${this.owner.path} started: its audio track stays silent from here`,
      );
    }
  }

  write(pcm: Uint8Array): void {
    if (this.formatOk && this.owner.writeAudio(pcm)) {
      this.counters.written++;
      this.counters.bytes += pcm.length;
    } else this.counters.dropped++;
  }

  close(): Promise<void> {
    // The owner's close() finishes the file, audio track included.
    return Promise.resolve();
  }
}
