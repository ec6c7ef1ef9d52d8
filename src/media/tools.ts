/**
 * External media tools (ffplay, ffmpeg, ffprobe) and the plumbing the sinks share: finding a
 * tool, the environment a child runs in, a sink event base, and a non-blocking writer for a
 * child's pipe.
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, isAbsolute, join } from 'node:path';
import type { Writable } from 'node:stream';
import { extractVideoHeader, type VideoCodec } from '../proto-stack/annexb.js';
import { RptuiError } from '../proto-stack/errors.js';

export type MediaTool = 'ffplay' | 'ffmpeg' | 'ffprobe';

export type ToolLookup =
  | { found: true; path: string; via: 'option' | 'env' | 'PATH' | 'ffmpeg-static' }
  | { found: false; message: string; hint: string };

const ENV_VAR: Record<MediaTool, string> = {
  ffplay: 'RPTUI_FFPLAY',
  ffmpeg: 'RPTUI_FFMPEG',
  ffprobe: 'RPTUI_FFPROBE',
};

const INSTALL_HINT =
  'Install FFmpeg (Debian/Ubuntu/Raspberry Pi OS: sudo apt install ffmpeg; macOS: brew install ffmpeg)';

/**
 * The child environment: process.env with `overrides` applied. An override set to undefined
 * removes the variable (e.g. `{ DISPLAY: undefined }`).
 */
export function childEnv(overrides?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(overrides ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function isExecutableFile(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function searchPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The ffmpeg binary of the optional `ffmpeg-static` package, when it is installed and its binary
 * arrived (the package downloads it at install time, which fails offline and is then skipped).
 */
export function ffmpegStaticPath(): string | undefined {
  try {
    const path: unknown = createRequire(import.meta.url)('ffmpeg-static');
    return typeof path === 'string' && isExecutableFile(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

export interface FindToolOptions {
  env?: NodeJS.ProcessEnv;
  explicit?: string;
  /** Where ffmpeg-static's binary is (tests); default ffmpegStaticPath. */
  ffmpegStatic?: () => string | undefined;
}

/**
 * Find a tool: `explicit` (a --player style option) first, then $RPTUI_FFPLAY / $RPTUI_FFMPEG /
 * $RPTUI_FFPROBE, then PATH, and for ffmpeg last the optional ffmpeg-static package (it has no
 * ffplay). A value without a slash is looked up on PATH. Never throws.
 */
export function findTool(tool: MediaTool, opts: FindToolOptions = {}): ToolLookup {
  const env = opts.env ?? process.env;
  const envVar = ENV_VAR[tool];
  const chosen: { value: string; via: 'option' | 'env'; what: string } | undefined =
    opts.explicit !== undefined && opts.explicit !== ''
      ? { value: opts.explicit, via: 'option', what: 'the configured player path' }
      : env[envVar] !== undefined && env[envVar] !== ''
        ? { value: env[envVar] as string, via: 'env', what: `$${envVar}` }
        : undefined;
  if (chosen) {
    const path = chosen.value.includes('/') ? chosen.value : searchPath(chosen.value, env);
    if (path !== undefined && isExecutableFile(path)) return { found: true, path, via: chosen.via };
    return {
      found: false,
      message: `${tool} not found: ${chosen.what} is "${chosen.value}", which is not an executable file`,
      hint: `Fix ${chosen.what}, or unset it to look for ${tool} on PATH`,
    };
  }
  const path = searchPath(tool, env);
  if (path !== undefined)
    return { found: true, path: isAbsolute(path) ? path : join(process.cwd(), path), via: 'PATH' };
  const bundled = tool === 'ffmpeg' ? (opts.ffmpegStatic ?? ffmpegStaticPath)() : undefined;
  if (bundled !== undefined) return { found: true, path: bundled, via: 'ffmpeg-static' };
  return {
    found: false,
    message: `${tool} not found on PATH`,
    hint: `${INSTALL_HINT}, or set $${envVar} to its full path`,
  };
}

/** Like findTool, but a missing tool is a typed error. */
export function requireTool(tool: MediaTool, opts: FindToolOptions = {}): string {
  const r = findTool(tool, opts);
  if (!r.found) throw new RptuiError('media', r.message, { hint: r.hint });
  return r.path;
}

/** Counters every sink keeps; `dropped` counts frames/chunks discarded to keep the caller unblocked. */
export interface SinkStats {
  written: number;
  dropped: number;
  bytes: number;
}

/**
 * Event plumbing shared by the sinks. 'error' never throws when nobody listens (a plain
 * EventEmitter would): it goes to the log instead, because a broken sink must not end the
 * session. Warnings are said once each, through the log callback and a 'warning' event.
 */
export class SinkEvents extends EventEmitter {
  protected readonly log: (msg: string) => void;
  private readonly warned = new Set<string>();
  protected readonly counters: SinkStats = { written: 0, dropped: 0, bytes: 0 };

  constructor(log?: (msg: string) => void) {
    super();
    this.log = log ?? (() => {});
  }

  stats(): SinkStats {
    return { ...this.counters };
  }

  protected warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.log(message);
    this.emit('warning', message);
  }

  protected fail(err: RptuiError): void {
    this.log(err.hint ? `${err.message} (${err.hint})` : err.message);
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}

/** Keeps the last few lines a child wrote to stderr, to explain why it died. */
export class StderrTail {
  private text = '';
  constructor(child: ChildProcess, max = 2000) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.text = (this.text + chunk).slice(-max);
    });
  }
  /** The last non-empty line, or '' when the child said nothing. */
  lastLine(): string {
    const lines = this.text.split('\n').map((l) => l.trim());
    return lines.filter((l) => l !== '').pop() ?? '';
  }
  all(): string {
    return this.text.trim();
  }
}

/**
 * Writes into a child's pipe without ever blocking or throwing. Node buffers what the pipe cannot
 * take yet; `queued` says how many bytes wait there (the callers decide what to drop). A dead pipe (EPIPE when the child exits) is swallowed: the child's exit is the signal.
 */
export class PipeWriter {
  private dead = false;
  constructor(private readonly stream: Writable) {
    stream.on('error', () => {
      this.dead = true;
    });
    stream.on('close', () => {
      this.dead = true;
    });
  }
  get alive(): boolean {
    return !this.dead && !this.stream.destroyed && !this.stream.writableEnded;
  }
  get queued(): number {
    return this.stream.writableLength;
  }
  write(bytes: Uint8Array): boolean {
    if (!this.alive) return false;
    this.stream.write(bytes);
    return true;
  }
  /** Ends the stream; resolves once everything queued was handed to the OS (or the pipe died). */
  end(): Promise<void> {
    if (!this.alive) return Promise.resolve();
    return new Promise((resolve) => {
      this.stream.once('error', () => resolve());
      this.stream.end(() => resolve());
    });
  }
}

/** While waiting for a key frame, ask again this often (the IDR request or the IDR may be lost). */
const KEYFRAME_RETRY_MS = 1000;

/**
 * After a (re)start or a dropped frame, a decoder needs a key frame: frames before it would
 * decode smeared. The gate refuses non-key frames until one comes and asks for it through `ask`,
 * again every KEYFRAME_RETRY_MS while still waiting.
 */
export class KeyframeGate {
  private waitingNow = true;
  private askedAt: number | undefined;
  /** The stream's parameter sets, from the last key frame that carried them. */
  private header: Uint8Array | undefined;
  private headerGiven = false;

  constructor(
    private readonly ask: () => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get waiting(): boolean {
    return this.waitingNow;
  }

  /** Waits for the next key frame (and gives it parameter sets), asking for one now. */
  restart(): void {
    this.waitingNow = true;
    this.headerGiven = false;
    this.askedAt = this.now();
    this.ask();
  }

  /** Whether this frame may be written. */
  admit(keyframe: boolean): boolean {
    if (!this.waitingNow) return true;
    if (keyframe) {
      this.waitingNow = false;
      return true;
    }
    const now = this.now();
    if (this.askedAt === undefined || now - this.askedAt >= KEYFRAME_RETRY_MS) {
      this.askedAt = now;
      this.ask();
    }
    return false;
  }

  /**
   * What to write in front of an admitted frame. A console sends its parameter sets
   * (SPS/PPS[/VPS], STREAMINFO's video header) once, in front of the first frame; a decoder
   * started later (a reopened window, a restarted player) gets them from here in front of its
   * first key frame, or it would decode nothing.
   */
  headerFor(frame: Uint8Array, keyframe: boolean, codec: VideoCodec): Uint8Array | undefined {
    if (!keyframe) return undefined;
    const own = extractVideoHeader(frame, codec);
    if (own) this.header = own;
    const given = this.headerGiven;
    this.headerGiven = true;
    return own || given ? undefined : this.header;
  }
}

/**
 * Waits for a child to exit; after `graceMs` sends SIGTERM, and SIGKILL `graceMs` later.
 * Resolves with the exit code (null when killed by a signal).
 */
export function waitForExit(
  child: ChildProcess,
  graceMs: number,
  signalFirst = false,
): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    const done = (code: number | null) => {
      for (const t of timers) clearTimeout(t);
      resolve(code);
    };
    child.once('exit', done);
    // A child that never started (ENOENT) reports 'error' and no 'exit'.
    child.once('error', () => done(null));
    if (signalFirst) child.kill('SIGTERM');
    else timers.push(setTimeout(() => child.kill('SIGTERM'), graceMs));
    timers.push(setTimeout(() => child.kill('SIGKILL'), signalFirst ? graceMs : 2 * graceMs));
  });
}
