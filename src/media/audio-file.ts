/**
 * Audio to a WAV file (PCM s16le). The header goes first with a zero size, because the length
 * is unknown while recording, and is rewritten with the final size on close.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { RptuiError } from '../proto-stack/errors.js';
import { wavHeader } from './opus.js';
import type { AudioInfo, AudioSink, SinkOptions } from './sink-types.js';
import { PipeWriter, SinkEvents } from './tools.js';

/** RIFF sizes are u32 and count the 36 header bytes after the size field: the data must stay below. */
const MAX_DATA_BYTES = 0xffffffff - 36;
/** The session's PCM format when write() comes before start() (STREAMINFO defaults, Opus rate). */
const DEFAULT_AUDIO: AudioInfo = { sampleRate: 48000, channels: 2 };

export class AudioFileSink extends SinkEvents implements AudioSink {
  readonly kind = 'file';
  private info: AudioInfo | undefined;
  private stream: WriteStream | undefined;
  private out: PipeWriter | undefined;
  private dataBytes = 0;
  private failed = false;
  private closed = false;

  constructor(
    readonly path: string,
    opts: SinkOptions = {},
  ) {
    super(opts.log);
  }

  start(info: AudioInfo): void {
    if (this.stream !== undefined || this.closed) return;
    this.info = info;
    const stream = createWriteStream(this.path);
    stream.on('error', (err) =>
      this.failWith(`Cannot write the audio recording ${this.path}: ${err.message}`),
    );
    this.stream = stream;
    this.out = new PipeWriter(stream);
    this.out.write(wavHeader(info.sampleRate, info.channels, 0));
  }

  private failWith(message: string): void {
    if (this.failed) return;
    this.failed = true;
    this.fail(new RptuiError('media', message));
  }

  write(pcm: Uint8Array): void {
    if (this.stream === undefined && !this.closed) this.start(DEFAULT_AUDIO);
    const out = this.out;
    if (out === undefined || this.failed || !out.alive) {
      this.counters.dropped++;
      return;
    }
    if (this.dataBytes + pcm.length > MAX_DATA_BYTES) {
      this.counters.dropped++;
      this.warnOnce(`${this.path} reached the 4 GiB WAV limit: the rest of the audio is not recorded`);
      return;
    }
    out.write(pcm);
    this.dataBytes += pcm.length;
    this.counters.written++;
    this.counters.bytes += pcm.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stream = this.stream;
    const info = this.info;
    if (stream === undefined || info === undefined) return;
    await this.out?.end();
    if (!stream.closed) await new Promise<void>((resolve) => stream.once('close', () => resolve()));
    if (this.failed) return;
    try {
      const fh = await open(this.path, 'r+');
      try {
        await fh.write(wavHeader(info.sampleRate, info.channels, this.dataBytes), 0, undefined, 0);
      } finally {
        await fh.close();
      }
    } catch (err) {
      this.failWith(`Cannot finish the WAV header of ${this.path}: ${(err as Error).message}`);
    }
  }
}
