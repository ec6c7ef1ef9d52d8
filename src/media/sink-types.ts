/**
 * What a sink is: the interfaces every video and audio sink implements and the options the sink
 * factory (sinks.ts) hands them. Apart from sinks.ts so that each sink can name them without
 * importing the factory that imports it.
 */
import type { Host } from '../common/host.js';
import type { VideoCodec } from '../proto-stack/annexb.js';
import type { RptuiError } from '../proto-stack/errors.js';
import type { PictureMode, TerminalAnswers } from './picture/caps.js';
import type { PictureOutput } from './picture/output.js';
import type { ProbeInput } from './picture/probe.js';
import type { SinkStats } from './tools.js';

export interface VideoInfo {
  codec: VideoCodec;
  width: number;
  height: number;
  fps: number;
  /** Window title (the console's name). */
  title: string;
}

export interface AudioInfo {
  sampleRate: number;
  channels: number;
}

export interface AudioSinkEvents {
  /** The player died, the user closed its window, or the device went away. Once per player. */
  closed: () => void;
  /** Said once per distinct problem (e.g. "ffplay not found"); also sent to the log callback. */
  warning: (message: string) => void;
  error: (err: RptuiError) => void;
}

export interface VideoSinkEvents extends AudioSinkEvents {
  /**
   * The sink needs a key frame (a player (re)started, frames were dropped, or a recording began
   * mid-GOP): ask the console for an IDR. Repeated every second while still waiting; frames
   * before the key frame are dropped.
   */
  needKeyframe: () => void;
}

export interface VideoSink {
  readonly kind: string;
  start(info: VideoInfo): void;
  /** One access unit. Never blocks, never throws. */
  write(frame: Uint8Array, keyframe: boolean): void;
  /** Stops the player / finishes the file. Never rejects; failures go to 'error' and the log. */
  close(): Promise<void>;
  on<E extends keyof VideoSinkEvents>(event: E, cb: VideoSinkEvents[E]): this;
  stats(): SinkStats;
  /** Set when the container also records audio (file:*.mkv): tee the session's PCM into it. */
  readonly audio?: AudioSink;
  /** Opens the player window again after it was closed (ffplay only). */
  reopen?(): void;
}

export interface AudioSink {
  readonly kind: string;
  start(info: AudioInfo): void;
  /** PCM s16le interleaved. Never blocks, never throws. */
  write(pcm: Uint8Array): void;
  close(): Promise<void>;
  on<E extends keyof AudioSinkEvents>(event: E, cb: AudioSinkEvents[E]): this;
  stats(): SinkStats;
}

export interface SinkOptions {
  /** Added to (overriding) process.env for the player and for finding tools; undefined removes a variable. */
  env?: NodeJS.ProcessEnv;
  /** The ffplay to run instead of the one found via $RPTUI_FFPLAY / PATH (.mkv uses $RPTUI_FFMPEG / PATH). */
  playerPath?: string;
  /** Added to ffplay's arguments before its input (default: $RPTUI_FFPLAY_ARGS). */
  extraArgs?: string[];
  /**
   * ffplay's video decoder: auto (hardware where the machine has it for the stream's codec), sw,
   * v4l2m2m, a decoder or an hwaccel name (see hwdecode.ts). Default: $RPTUI_DECODER, else auto.
   */
  decoder?: string;
  /** The machine the decoder choice looks at (tests: a made-up one); default this one. */
  host?: Host;
  log?: (msg: string) => void;
  /** The terminal picture's settings (--video terminal). */
  picture?: TerminalPictureOptions;
}

/** The terminal picture's settings (`--video terminal`, the TUI's picture pane). */
export interface TerminalPictureOptions {
  /** Default auto: ask the terminal (prepare()) and look at the environment. */
  mode?: PictureMode | 'auto';
  /** Bytes per second written to the terminal, in kbit/s (default DEFAULT_PICTURE_KBPS). */
  kbps?: number;
  /** Frames per second at most (default DEFAULT_PICTURE_FPS). */
  maxFps?: number;
  /** Default 'pane' (draws nothing until setRect()); rptui connect asks for 'screen'. */
  layout?: 'screen' | 'pane';
  /** Where the bytes go (default: the terminal, /dev/tty, non-blocking). */
  output?: PictureOutput;
  /** The terminal's answers (probeTerminal), when asked before; else prepare() asks. */
  answers?: TerminalAnswers;
  /** prepare()'s stdin (default process.stdin). */
  input?: ProbeInput;
  /** The terminal's size in cells (screen layout; default: stdout's or stderr's). */
  terminalSize?: () => { cols: number; rows: number } | undefined;
  /** The status line's key hint, e.g. "ctrl+q leaves" (screen layout). */
  hint?: string;
}
