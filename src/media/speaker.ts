/**
 * Audio to the sound card through the optional `speaker` package, run in a child process (see
 * speaker-child.ts for why). A missing package or device is said once, clearly, and the session
 * goes on silent. PCM is never allowed to queue up beyond MAX_QUEUE_S: past that it is dropped,
 * because late sound is worse than a gap. What is queued is estimated, not read from the pipe:
 * the pipe to the child and the device buffer hold a second or more without pushing back, so
 * the sink counts seconds written against seconds of wall clock the device has had to play them
 * (a leaky bucket that never goes below empty, since a starved device plays nothing).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type { AudioInfo, AudioSink, SinkOptions } from './sink-types.js';
import { speakerChildMain } from './speaker-child.js';
import { childEnv, PipeWriter, SinkEvents, StderrTail, waitForExit } from './tools.js';

const MAX_QUEUE_S = 0.4;

const NO_SOUND_HINT = 'Use --audio file:out.wav to record the sound instead, or --audio none';

interface Player {
  child: ChildProcess;
  pipe: PipeWriter;
  tail: StderrTail;
  opened: boolean;
  error: string | undefined;
  bytesPerSecond: number;
  /** Estimated seconds of sound written but not yet played, as of `queuedAt` (ms). */
  queuedS: number;
  queuedAt: number;
}

/** Where `speaker` would load from, without loading it (loading is what may abort). */
export function locateSpeakerModule(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('speaker');
  } catch {
    return undefined;
  }
}

/**
 * The ALSA line of a dead audio child's stderr that says why the device did not open, without
 * ALSA's source-location prefix; '' when there is none. Anything else the child printed (a
 * JavaScript stack, Node's version banner) says nothing to a user about their sound device.
 */
export function alsaReason(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim());
  const alsa = lines
    .filter((l) => l.startsWith('ALSA lib ') || /^\[[^\]]*alsa\.c:\d+\]/.test(l))
    .map((l) => l.replace(/^ALSA lib [^ ]+:\d+:\([^)]*\)\s*/, '').replace(/^\[[^\]]*\]\s*(error:\s*)?/, ''))
    .filter((l) => l !== '');
  const pick = (re: RegExp) => alsa.find((l) => re.test(l));
  const noCard = pick(/cannot find card/i);
  if (noCard !== undefined) return `this machine has no sound card; ALSA: ${noCard}`;
  const line =
    pick(/Unknown PCM/i) ??
    pick(/cannot open device/i) ??
    pick(/busy|No such device|Permission denied/i) ??
    alsa[0];
  return line === undefined ? '' : `ALSA: ${line}`;
}

export class SpeakerSink extends SinkEvents implements AudioSink {
  readonly kind = 'speaker';
  private player: Player | undefined;
  private closing = false;

  constructor(private readonly opts: SinkOptions = {}) {
    super(opts.log);
  }

  /** Process id of the audio child, if one runs (tests, diagnostics). */
  get pid(): number | undefined {
    return this.player?.child.pid;
  }

  /** True once the child reported the device open. */
  get opened(): boolean {
    return this.player?.opened ?? false;
  }

  start(info: AudioInfo): void {
    if (this.player !== undefined || this.closing) return;
    const modulePath = locateSpeakerModule();
    if (modulePath === undefined) {
      this.warnOnce(
        "No sound: the optional 'speaker' package is not installed (it needs ALSA headers to build: " +
          `sudo apt install libasound2-dev, then npm install speaker). ${NO_SOUND_HINT}`,
      );
      return;
    }
    // Transpilers that keep function names (tsx, which runs the sources) wrap inner functions in
    // calls to their own `__name` helper, which a child evaluating this text alone lacks.
    const source = `var __name = (f) => f; (${speakerChildMain.toString()})(...process.argv.slice(1))`;
    const child = spawn(process.execPath, ['-e', source, modulePath, JSON.stringify(info)], {
      env: childEnv(this.opts.env),
      stdio: ['pipe', 'ignore', 'pipe', 'ipc'],
    });
    const player: Player = {
      child,
      pipe: new PipeWriter(child.stdin!),
      tail: new StderrTail(child, 4000),
      opened: false,
      error: undefined,
      bytesPerSecond: info.sampleRate * 2 * info.channels,
      queuedS: 0,
      queuedAt: performance.now(),
    };
    this.player = player;
    child.on('message', (msg: { type?: string; message?: string }) => {
      if (msg.type === 'open') player.opened = true;
      else if (msg.type === 'error') player.error = msg.message;
    });
    child.once('close', () => this.playerGone(player));
    child.once('error', () => this.playerGone(player));
  }

  private playerGone(player: Player): void {
    if (this.player !== player) return;
    this.player = undefined;
    if (this.closing) return;
    const why = player.error ?? alsaReason(player.tail.all());
    const because = why === '' ? '' : ` (${why})`;
    this.warnOnce(
      player.opened
        ? `The sound device stopped${because}: audio is off, the session goes on. ${NO_SOUND_HINT}`
        : `No sound device could be opened${because}: audio is off, the session goes on. ${NO_SOUND_HINT}`,
    );
    this.emit('closed');
  }

  write(pcm: Uint8Array): void {
    const player = this.player;
    if (player === undefined || !player.pipe.alive) {
      this.counters.dropped++;
      return;
    }
    const now = performance.now();
    const queued = Math.max(0, player.queuedS - (now - player.queuedAt) / 1000);
    player.queuedAt = now;
    const seconds = pcm.length / player.bytesPerSecond;
    if (queued + seconds > MAX_QUEUE_S) {
      player.queuedS = queued;
      this.counters.dropped++;
      return;
    }
    player.queuedS = queued + seconds;
    player.pipe.write(pcm);
    this.counters.written++;
    this.counters.bytes += pcm.length;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const player = this.player;
    if (player === undefined) return;
    // EOF lets the child play what is queued (at most MAX_QUEUE_S) and exit by itself; a child
    // that hangs (a blocked device) is killed instead of holding up the shutdown.
    void player.pipe.end();
    await waitForExit(player.child, 2000);
    if (player.child.connected) player.child.disconnect();
  }
}
