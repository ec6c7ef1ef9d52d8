/**
 * The contract between the stream session (src/client/session.ts) and its users (the CLI's
 * `connect`, the TUI, tests). Types only: the session implements it, the UI codes against it.
 */

import type { ControllerState } from '../input/controller-state.js';
import type { RptuiError } from '../proto-stack/errors.js';

export type SessionState =
  | 'idle'
  | 'waking' // console in standby: WAKEUP sent, waiting for it to come up
  | 'requesting' // session init (RP-Nonce)
  | 'ctrl' // ctrl request + waiting for the session id
  | 'takion' // Takion INIT/COOKIE handshake
  | 'handshake' // BIG/BANG/STREAMINFO
  | 'streaming'
  | 'closing'
  | 'closed';

export interface StreamInfo {
  width: number;
  height: number;
  fps: number;
  codec: 'h264' | 'h265';
  bitrateKbps: number;
  audio: { sampleRate: number; channels: number; frameSize: number };
  /** Console generation and what it called itself in RP-Server-Type. */
  serverType: 'PS4' | 'PS4 Pro' | 'PS5';
}

export interface SessionStats {
  video: { frames: number; recovered: number; lost: number; fps: number; kbps: number };
  audio: { frames: number; lost: number };
  packets: { received: number; lost: number; gmacFailures: number };
  rttMs: number;
  /** Rumble messages from the console (counted when no pad can play them). */
  rumble: number;
  /** Milliseconds since the stream started. */
  uptimeMs: number;
}

export type ConsoleMessage =
  | { type: 'loginPinRequest' } // the console user has a passcode: answer with sendLoginPin
  | { type: 'loginResult'; ok: boolean }
  | { type: 'keyboardOpen'; text: string }
  | { type: 'keyboardText'; text: string }
  | { type: 'keyboardClosed' }
  | { type: 'rumble'; left: number; right: number }
  | { type: 'displayBlocked'; blocked: boolean } // protected content on screen
  | { type: 'connectionQuality'; targetBitrateKbps: number; rttMs: number; loss: number };

export type CloseReason =
  | { code: 'user'; message: string } // disconnect() or standby()
  | { code: 'console-lost'; message: string } // silence beyond the timeout
  | { code: 'console-disconnected'; message: string } // DISCONNECT from the console
  | { code: 'error'; message: string; error: RptuiError };

export interface VideoFrameEvent {
  index: number;
  /** Annex-B access unit; the first frame and profile switches carry SPS/PPS(/VPS) in front. */
  bytes: Uint8Array;
  keyframe: boolean;
  recovered: boolean;
}

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
