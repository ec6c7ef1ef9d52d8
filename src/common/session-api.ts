/**
 * The contract between the stream session driver (src/client/session.ts) and its users (the CLI's
 * `connect`, the TUI, the sinks, tests). Types only: the session implements it, the UI codes
 * against it. The data types are the ClientSession machine's own.
 */

import type {
  CloseReason,
  ConsoleMessage,
  SessionState,
  SessionStats,
  StreamInfo,
  VideoFrameEvent,
} from '../proto-stack/clientsession.js';
import type { ControllerState } from '../proto-stack/controller.js';

export type { CloseReason, ConsoleMessage, SessionState, SessionStats, StreamInfo, VideoFrameEvent };

export interface SessionEvents {
  state: (state: SessionState) => void;
  streamInfo: (info: StreamInfo) => void;
  video: (frame: VideoFrameEvent) => void;
  /** PCM s16le interleaved at streamInfo.audio.sampleRate. */
  audio: (pcm: Uint8Array) => void;
  console: (msg: ConsoleMessage) => void;
  /** Every 500 ms while streaming, and once at the end. */
  stats: (stats: SessionStats) => void;
  /** Something worth a log line that does not end the session (e.g. a player closed). */
  warning: (message: string) => void;
  closed: (reason: CloseReason) => void;
}

export interface RemotePlaySessionApi {
  readonly state: SessionState;
  readonly stats: SessionStats;
  on<E extends keyof SessionEvents>(event: E, listener: SessionEvents[E]): this;
  off<E extends keyof SessionEvents>(event: E, listener: SessionEvents[E]): this;
  /** Resolves once streaming (state 'streaming'); rejects with a typed error if it never gets there. */
  start(): Promise<void>;
  setController(state: ControllerState): void;
  sendLoginPin(pin: string): void;
  keyboardSetText(text: string): void;
  keyboardAccept(): void;
  keyboardReject(): void;
  requestIdr(): void;
  /** Puts the console in rest mode, then closes. */
  standby(): Promise<void>;
  /** Clean shutdown: DISCONNECT on Takion, close ctrl. */
  disconnect(): Promise<void>;
}
