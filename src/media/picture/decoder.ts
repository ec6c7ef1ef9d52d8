/**
 * The system ffmpeg as the picture's decoder: H.264/HEVC access units in on stdin, raw RGB
 * frames out on stdout, already scaled to the picture's size and thinned to its frame rate
 * (every Nth frame, chosen before scaling so dropped frames cost no scaling). Low-delay flags as
 * for ffplay (see ffplay.ts): no probing, no frame threads, an AUD after every frame so each one
 * is decoded as soon as it arrived; -flush_packets so each frame leaves ffmpeg at once.
 *
 * The frames come as binary PPM (raw RGB behind a one-line header), not -f rawvideo: measured
 * with ffmpeg 5.1, its rawvideo encoder holds every frame back until the next one comes (a frame
 * interval of latency: 19 ms median at 60 fps from access unit in to frame out, 3.4 ms with PPM).
 *
 * Output frames are assembled in a small pool of buffers the consumer hands back (release()), so
 * a steady stream allocates nothing. Each frame comes with the time its access unit went in, for
 * the decode-to-terminal latency: ffmpeg keeps the order and, with no B-frames and low_delay,
 * gives out frame n for access unit n.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { VideoCodec } from '../../proto-stack/annexb.js';
import { AUD, withoutLeadingAud } from '../ffplay.js';
import { PipeWriter, StderrTail, waitForExit } from '../tools.js';
import type { RgbFrame } from './frame.js';

export interface DecoderSpec {
  codec: VideoCodec;
  /** The stream's frame rate (the raw demuxer has no timestamps). */
  fps: number;
  width: number;
  height: number;
  /** Keep every Nth frame (1 = all). */
  everyNth: number;
  /** Options for the input and its decoder, e.g. a hardware decoder ($RPTUI_PICTURE_ARGS). */
  inputArgs?: readonly string[];
}

/** ffmpeg's arguments for a live elementary stream on stdin and RGB frames on stdout. */
export function decoderArgs(s: DecoderSpec): string[] {
  const filters = [
    ...(s.everyNth > 1 ? [`select=not(mod(n\\,${s.everyNth}))`] : []),
    // area averaging: a small picture from a big one without aliasing, and cheap
    `scale=${s.width}:${s.height}:flags=area`,
  ];
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-flags',
    'low_delay',
    '-probesize',
    '32',
    '-analyzeduration',
    '0',
    ...(s.inputArgs ?? []),
    '-f',
    s.codec,
    '-framerate',
    String(s.fps),
    '-i',
    'pipe:0',
    '-an',
    '-sn',
    '-dn',
    '-vf',
    filters.join(','),
    '-pix_fmt',
    'rgb24',
    '-vsync',
    'passthrough',
    '-flush_packets',
    '1',
    '-c:v',
    'ppm',
    '-f',
    'image2pipe',
    'pipe:1',
  ];
}

/** What ffmpeg's PPM encoder writes in front of each frame. */
export function ppmHeader(width: number, height: number): Uint8Array {
  return new Uint8Array(Buffer.from(`P6\n${width} ${height}\n255\n`, 'latin1'));
}

/** Access units remembered for latency (frames in flight inside ffmpeg are far fewer). */
const TIMES = 256;

export interface DecodedFrame extends RgbFrame {
  /** performance.now() when its access unit was handed to ffmpeg; NaN if unknown. */
  fedAt: number;
}

export class FrameDecoder {
  private readonly child: ChildProcess;
  private readonly pipe: PipeWriter;
  private readonly tail: StderrTail;
  private readonly frameBytes: number;
  private readonly header: Uint8Array;
  private readonly pool: Uint8Array[] = [];
  private filling: Uint8Array;
  /** Bytes of the current frame's header, then of its pixels, received so far. */
  private headerSeen = 0;
  private filled = 0;
  private fed = 0;
  private out = 0;
  private readonly fedAt = new Float64Array(TIMES);
  private exited = false;
  private failure: string | undefined;

  constructor(
    ffmpeg: string,
    readonly spec: DecoderSpec,
    env: NodeJS.ProcessEnv,
    private readonly onFrame: (frame: DecodedFrame) => void,
    onExit: (detail: string) => void,
  ) {
    this.frameBytes = spec.width * spec.height * 3;
    this.header = ppmHeader(spec.width, spec.height);
    this.filling = new Uint8Array(this.frameBytes);
    // its own session: the terminal's hang-up or Ctrl-C reaches rptui, which ends the picture
    // itself (and a dead rptui ends ffmpeg too: its input closes)
    this.child = spawn(ffmpeg, decoderArgs(spec), { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.pipe = new PipeWriter(this.child.stdin!);
    this.tail = new StderrTail(this.child);
    this.child.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
    let reported = false;
    const gone = (detail: string) => {
      this.exited = true;
      if (reported) return;
      reported = true;
      const said = this.tail.lastLine();
      onExit(this.failure ?? (said === '' ? detail : said));
    };
    this.child.once('close', (code, signal) => gone(signal ? `killed by ${signal}` : `exit code ${code}`));
    this.child.once('error', (err) => gone(err.message));
  }

  get alive(): boolean {
    return !this.exited && this.pipe.alive;
  }

  /** Bytes waiting for ffmpeg to read them. */
  get queued(): number {
    return this.pipe.queued;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * One access unit (plus the AUD that lets ffmpeg decode it at once); `header`: parameter sets
   * to go in front of it (a decoder started mid-stream has not seen them).
   */
  write(au: Uint8Array, header?: Uint8Array): void {
    const codec = this.spec.codec;
    this.fedAt[this.fed % TIMES] = performance.now();
    this.fed++;
    if (header) this.pipe.write(header);
    this.pipe.write(withoutLeadingAud(au, codec));
    this.pipe.write(AUD[codec]);
  }

  /** Gives a frame's buffer back once its picture was encoded. */
  release(frame: RgbFrame): void {
    if (frame.data.length === this.frameBytes && this.pool.length < 4) this.pool.push(frame.data);
  }

  private onData(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.headerSeen < this.header.length) {
        if (chunk[at] !== this.header[this.headerSeen]) {
          // not the frames this decoder was started for: never seen, but never draw garbage
          this.failure = 'ffmpeg wrote something other than the expected PPM frames';
          this.child.stdout?.removeAllListeners('data');
          this.child.kill('SIGKILL');
          return;
        }
        this.headerSeen++;
        at++;
        continue;
      }
      const n = Math.min(chunk.length - at, this.frameBytes - this.filled);
      this.filling.set(chunk.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled < this.frameBytes) break;
      const data = this.filling;
      this.filling = this.pool.pop() ?? new Uint8Array(this.frameBytes);
      this.filled = 0;
      this.headerSeen = 0;
      const source = this.out * this.spec.everyNth;
      this.out++;
      const fedAt = source < this.fed && this.fed - source <= TIMES ? this.fedAt[source % TIMES] : Number.NaN;
      this.onFrame({ width: this.spec.width, height: this.spec.height, data, fedAt });
    }
  }

  /** Ends the input and waits for ffmpeg to exit (killed if it lingers). */
  async close(): Promise<void> {
    this.child.stdout?.removeAllListeners('data');
    void this.pipe.end();
    await waitForExit(this.child, 500, true);
  }
}
