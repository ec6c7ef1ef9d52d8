/**
 * Playing from `rptui connect`: the terminal's keys (through a key map) and a game pad drive the
 * session's controller. This is the I/O glue around ControllerInput for a session that runs
 * without the TUI:
 *
 * - raw mode (and the kitty keyboard protocol) only when stdin is a terminal; a pipe is read as
 *   plain key bytes and nothing is written to a stdout that is not a terminal (it may carry --json);
 * - the terminal is restored on every way out: stop(), the exit hotkey, Ctrl-C (unless the map
 *   gives it to a control), SIGINT/SIGTERM/SIGHUP, process.exit() and an uncaught error;
 * - the exit hotkey and Ctrl-C end the session with DISCONNECT (session.disconnect());
 * - rumble from the console goes to the pad when it can play it, and is counted otherwise.
 *
 *   const play = new PlayInput({ session, keymap: resolveKeymap(o.keymap, profile.settings.keymap) });
 *   await play.start();  ...  play.stop();
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ConsoleMessage } from '../common/session-api.js';
import { ControllerInput, type TerminalInput } from '../input/controller-input.js';
import { describePad, type PadManagerOptions } from '../input/gamepad/index.js';
import { comboName, TerminalInputDecoder } from '../input/keyboard.js';
import { type Keymap, loadKeymap, loadKeymapFile } from '../input/keymap.js';
import type { ControllerState } from '../proto-stack/controller.js';
import { safeLines } from '../proto-stack/text.js';

/**
 * The key map for a session: `spec` (from --keymap) names a map or is a path to a JSON file
 * (anything with a "/" or ending in .json); without it the profile's map, else "default".
 */
export function resolveKeymap(
  spec: string | undefined,
  profileKeymap?: string,
  env: NodeJS.ProcessEnv = process.env,
): Keymap {
  const chosen = spec ?? profileKeymap ?? 'default';
  if (chosen.includes('/') || chosen.includes('\\') || chosen.endsWith('.json'))
    return loadKeymapFile(chosen.startsWith('~/') ? join(homedir(), chosen.slice(2)) : chosen);
  return loadKeymap(chosen, env);
}

/** What PlayInput needs of a session (RemotePlaySession fits). */
export interface PlaySession {
  setController(state: ControllerState): void;
  disconnect(message?: string): Promise<void>;
  on(event: 'console', listener: (msg: ConsoleMessage) => void): unknown;
  off(event: 'console', listener: (msg: ConsoleMessage) => void): unknown;
}

/** stdin, or a stand-in: also reports read errors (EIO once the terminal is gone). */
export interface PlayTerminalInput extends TerminalInput {
  on(event: 'data', f: (chunk: Buffer | string) => void): unknown;
  on(event: 'error', f: (err: Error) => void): unknown;
  on(event: 'end', f: () => void): unknown;
  off(event: 'data', f: (chunk: Buffer | string) => void): unknown;
  off(event: 'error', f: (err: Error) => void): unknown;
  off(event: 'end', f: () => void): unknown;
}

/** Where signals and exit notices come from (the process). */
export interface ProcessHooks {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

export interface PlayInputOptions {
  session: PlaySession;
  keymap: Keymap;
  /** Default process.stdin. */
  input?: PlayTerminalInput;
  /**
   * Where terminal control sequences (the kitty protocol) go; default stdout if it is a terminal,
   * else stderr if it is. None: the kitty protocol stays off.
   */
  output?: { write(s: string): unknown };
  /** Status lines (default: stderr). */
  log?: (line: string) => void;
  /** Game pads (default true); options go to the PadManager. */
  pads?: boolean | PadManagerOptions;
  kitty?: 'auto' | 'off';
  /** Default process. */
  proc?: ProcessHooks;
}

export interface PlayInputStats {
  /** Rumble messages a pad played. */
  rumbleToPad: number;
  /** Rumble messages that found no pad able to play them. */
  rumbleUnplayed: number;
  /** The pad in use, if any. */
  pad?: string;
  /** Controller states sent to the console (each press, release, stick move). */
  inputs: number;
}

const LEAVE_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function defaultOutput(): { write(s: string): unknown } | undefined {
  if (process.stdout.isTTY) return process.stdout;
  if (process.stderr.isTTY) return process.stderr;
  return undefined;
}

export class PlayInput {
  private readonly controller: ControllerInput;
  private readonly input: PlayTerminalInput;
  private readonly output: { write(s: string): unknown } | undefined;
  private readonly tty: boolean;
  private readonly proc: ProcessHooks;
  private readonly log: (line: string) => void;
  /** Ctrl-C leaves unless the map drives a control with it (or it is the exit hotkey anyway). */
  private readonly ctrlCLeaves: boolean;
  private readonly ctrlC = new TerminalInputDecoder();
  /** ControllerInput's reader. */
  private reader: ((chunk: Buffer | string) => void) | undefined;
  private started = false;
  private stopped = false;
  private leaving = false;
  /** The terminal hung up: nothing more is written to it. */
  private gone = false;
  /** Restoring from an exit or a crash: no more packets, no more status lines. */
  private final = false;
  private rumbleNoPads = 0;
  private inputs = 0;
  private padName: string | undefined;
  private readonly signalHandlers = LEAVE_SIGNALS.map((sig) => [sig, () => this.onSignal(sig)] as const);

  constructor(private readonly o: PlayInputOptions) {
    this.input = o.input ?? process.stdin;
    this.tty = this.input.isTTY === true;
    this.output = o.output ?? defaultOutput();
    this.proc = o.proc ?? process;
    this.log = o.log ?? ((line) => process.stderr.write(`${safeLines(line)}\n`));
    const map = o.keymap;
    this.ctrlCLeaves = map.keys['ctrl+c'] === undefined && map.exitHotkey !== 'ctrl+c';
    const input = this.input;
    // ControllerInput reads the terminal through this view: Ctrl-C is looked at first (so a
    // leaving Ctrl-C never reaches the console as "c"), raw mode only for a terminal that is there
    const view: TerminalInput = {
      on: (_event, f) => {
        this.reader = f;
        input.on('data', this.onData);
      },
      off: () => {
        input.off('data', this.onData);
        this.reader = undefined;
      },
      resume: () => input.resume?.(),
      pause: () => input.pause?.(),
      isTTY: this.tty,
      ...(this.tty && input.setRawMode
        ? {
            setRawMode: (raw: boolean) => {
              if (this.gone) return;
              try {
                input.setRawMode?.(raw);
              } catch (e) {
                if (raw) throw e; // restoring a terminal that vanished meanwhile is moot
              }
            },
          }
        : {}),
    };
    const pads = o.pads ?? true;
    this.controller = new ControllerInput({
      keymap: map,
      input: view,
      output: { write: (s: string) => (this.gone ? undefined : this.output?.write(s)) },
      onState: (s) => {
        if (this.final) return;
        this.inputs++;
        o.session.setController(s);
      },
      onExit: () => this.leave(map.exitHotkey, 'disconnected by the user'),
      pads:
        pads === false
          ? false
          : {
              ...(typeof pads === 'object' ? pads : {}),
              onPadChange: (pad, reason) => {
                this.padName = pad ? describePad(pad) : undefined;
                if (pad) this.status(`  game pad: ${describePad(pad)}`);
                else if (reason) this.status(`  game pad: ${reason}`);
                if (typeof pads === 'object') pads.onPadChange?.(pad, reason);
              },
            },
      kitty: this.tty && this.output ? (o.kitty ?? 'auto') : 'off',
    });
  }

  get stats(): PlayInputStats {
    const p = this.controller.padStats;
    return {
      rumbleToPad: p?.rumbleDelivered ?? 0,
      rumbleUnplayed: (p?.rumbleUndelivered ?? 0) + this.rumbleNoPads,
      ...(this.padName ? { pad: this.padName } : {}),
      inputs: this.inputs,
    };
  }

  /** True once the kitty keyboard protocol is on (real key releases). */
  get kittyActive(): boolean {
    return this.controller.keyboard.kittyActive;
  }

  /** Starts reading keys and pads; prints the one-line hint. Resolves after the first pad scan. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const map = this.o.keymap;
    this.o.session.on('console', this.onConsole);
    for (const [sig, f] of this.signalHandlers) this.proc.on(sig, f);
    this.proc.on('exit', this.onProcessExit);
    this.proc.on('uncaughtExceptionMonitor', this.onProcessExit);
    this.input.on('error', this.onInputError);
    this.input.on('end', this.onInputEnd);
    const starting = this.controller.start();
    const leaveKeys = this.ctrlCLeaves ? `${map.exitHotkey} or ctrl+c` : map.exitHotkey;
    this.status(
      `  controls: ${leaveKeys} leaves the stream; key map "${map.name}" (${map.source})` +
        (this.tty ? '' : '; stdin is not a terminal, its bytes are read as keys'),
    );
    try {
      await starting;
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  /** Restores the terminal and stops reading (idempotent, synchronous). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.o.session.off('console', this.onConsole);
    for (const [sig, f] of this.signalHandlers) this.proc.off(sig, f);
    this.proc.off('exit', this.onProcessExit);
    this.proc.off('uncaughtExceptionMonitor', this.onProcessExit);
    this.input.off('data', this.onData);
    this.controller.stop();
    this.input.off('error', this.onInputError);
    this.input.off('end', this.onInputEnd);
    const { rumbleToPad, rumbleUnplayed } = this.stats;
    if (rumbleToPad + rumbleUnplayed > 0)
      this.status(`  rumble: ${rumbleToPad} played on the pad, ${rumbleUnplayed} without a pad to play them`);
  }

  private status(line: string): void {
    if (!this.final && !this.gone) this.log(line);
  }

  /** Ends play and the session (DISCONNECT). */
  private leave(key: string, message: string): void {
    if (this.leaving) return;
    this.leaving = true;
    this.stop();
    this.status(`  ${key}: leaving the stream`);
    this.o.session
      .disconnect(message)
      .catch((e: unknown) => this.status(`  disconnect failed: ${String(e)}`));
  }

  private readonly onData = (chunk: Buffer | string): void => {
    if (this.ctrlCLeaves && this.isCtrlC(chunk)) {
      // the map would read ctrl+c as "c" (a control in the default map): the console never sees it
      this.leave('ctrl+c', 'disconnected (interrupted)');
      return;
    }
    this.reader?.(chunk);
  };

  private isCtrlC(chunk: Buffer | string): boolean {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const now = performance.now();
    // a lone ESC waiting for its sequence must not swallow the next ctrl+c
    const events = [...this.ctrlC.flush(now), ...this.ctrlC.feed(bytes, now)];
    return events.some(
      (ev) => ev.kind === 'key' && ev.type !== 'release' && comboName(ev.key, ev.mods) === 'ctrl+c',
    );
  }

  private readonly onConsole = (m: ConsoleMessage): void => {
    if (m.type !== 'rumble') return;
    if (this.controller.padStats) this.controller.rumble(m.left, m.right);
    else this.rumbleNoPads++;
  };

  private onSignal(sig: (typeof LEAVE_SIGNALS)[number]): void {
    if (sig === 'SIGHUP') this.terminalGone();
    this.leave(sig, sig === 'SIGHUP' ? 'disconnected (the terminal hung up)' : 'disconnected (interrupted)');
  }

  private readonly onInputError = (err: Error): void => {
    this.terminalGone();
    this.leave(
      `terminal (${(err as NodeJS.ErrnoException).code ?? err.message})`,
      'disconnected (the terminal went away)',
    );
  };

  /**
   * stdin ended. A terminal that ends has gone away: leave, as on a hang-up. A pipe or file that
   * ends (a script's keys, </dev/null under a service manager) leaves the stream to --duration or
   * a signal: pads still play.
   */
  private readonly onInputEnd = (): void => {
    if (this.tty) {
      this.terminalGone();
      this.leave('terminal (end of input)', 'disconnected (the terminal went away)');
    } else this.status('  stdin ended: keys no longer reach the console; the stream goes on');
  };

  /** Writes to a hung-up terminal fail with EIO/EPIPE; the session still ends cleanly. */
  private terminalGone(): void {
    if (this.gone) return;
    this.gone = true;
    if (this.o.proc === undefined && this.o.log === undefined)
      for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
  }

  /** process 'exit' or an uncaught error: put the terminal back, synchronously, and nothing else. */
  private readonly onProcessExit = (): void => {
    this.final = true;
    this.stop();
  };
}
