/**
 * Typed errors. Every error a user can meet is an RptuiError with a message that says what
 * happened and, where there is one, a hint that says what to do about it. The CLI prints
 * message + hint (a stack trace only with --debug) and exits with `exitCode`.
 *
 * Messages quote network and file text (a header line, a console name, a path), so message and
 * hint are made terminal-safe here, once for every place that shows them (CLI, TUI, logs,
 * simulator events).
 */
import { safeText } from './text.js';

export type ErrorCode =
  | 'usage' // bad command-line input or config
  | 'parse' // malformed bytes or text from the network or a file
  | 'auth' // authentication failed (GMAC, HMAC signature, wrong key)
  | 'refused' // the console answered, but said no
  | 'network' // unreachable, timeout, connection lost
  | 'config' // profile or settings file problem
  | 'media' // player / audio device problem
  | 'internal';

export class RptuiError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { hint?: string; cause?: unknown; exitCode?: number } = {},
  ) {
    super(safeText(message), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = opts.hint === undefined ? undefined : safeText(opts.hint);
    this.exitCode = opts.exitCode ?? (code === 'usage' ? 2 : 1);
  }
}

/** Input that does not match a wire or file format. `layer` names the codec (e.g. "takion"). */
export class ParseError extends RptuiError {
  readonly layer: string;
  constructor(layer: string, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super('parse', `${layer}: ${message}`, opts);
    this.layer = layer;
  }
}

export class UsageError extends RptuiError {
  constructor(message: string, hint?: string) {
    super('usage', message, { hint });
  }
}

export class AuthError extends RptuiError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super('auth', message, opts);
  }
}

export class NetworkError extends RptuiError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super('network', message, opts);
  }
}

export class ConsoleRefusedError extends RptuiError {
  /** RP-Application-Reason as a number, when the console sent one. */
  readonly reason: number | undefined;
  constructor(message: string, opts: { reason?: number; hint?: string } = {}) {
    super('refused', message, { hint: opts.hint });
    this.reason = opts.reason;
  }
}

export class ConfigError extends RptuiError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super('config', message, opts);
  }
}
