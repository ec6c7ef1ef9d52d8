/**
 * The input front end of a stream, shared by `rptui connect` and the TUI's stream screen: terminal
 * bytes (raw mode, the kitty protocol when the terminal has it) and game pads become one
 * controller state, handed to `onState` synchronously, in the same callback that delivered the key
 * or pad event (the session passes it to its FeedbackSender, which sends at once). Each byte is
 * decoded once: a key is the exit hotkey, another hotkey of the caller's (`hotkey`), or game input
 * through the key map. The only timer is for what is inherently timed: legacy key releases and a
 * lone ESC.
 *
 * The terminal either belongs to it (`input`: stdin for `rptui connect`) or to the caller, who
 * feeds the bytes (`feed`: the TUI, where blessed owns stdin). Pads likewise: its own PadManager,
 * or the caller's states (`setPadState`: the TUI's, which also drives the menus).
 *
 *   const input = new ControllerInput({ keymap, input: process.stdin, output: process.stdout,
 *     onState: (s) => session.setController(s), onExit: () => session.disconnect() });
 *   await input.start(); ... input.stop();
 */
import { type ControllerState, IDLE_STATE, stateEqual } from '../proto-stack/controller.js';
import { PadManager, type PadManagerOptions, type PadManagerStats } from './gamepad/index.js';
import { KeyboardController, type KeyboardUpdate } from './keyboard.js';
import type { Keymap } from './keymap.js';

/** Keyboard and pad together: buttons OR-ed, triggers max, sticks from the pad unless centred. */
export function mergeStates(keyboard: ControllerState, pad: ControllerState): ControllerState {
  if (pad === IDLE_STATE) return keyboard;
  if (keyboard === IDLE_STATE) return pad;
  const padLeft = pad.leftX !== 0 || pad.leftY !== 0;
  const padRight = pad.rightX !== 0 || pad.rightY !== 0;
  return {
    ...pad,
    buttons: pad.buttons | keyboard.buttons,
    l2: Math.max(pad.l2, keyboard.l2),
    r2: Math.max(pad.r2, keyboard.r2),
    leftX: padLeft ? pad.leftX : keyboard.leftX,
    leftY: padLeft ? pad.leftY : keyboard.leftY,
    rightX: padRight ? pad.rightX : keyboard.rightX,
    rightY: padRight ? pad.rightY : keyboard.rightY,
  };
}

export interface TerminalInput {
  on(event: 'data', f: (chunk: Buffer | string) => void): unknown;
  off(event: 'data', f: (chunk: Buffer | string) => void): unknown;
  setRawMode?(raw: boolean): unknown;
  resume?(): unknown;
  pause?(): unknown;
  isTTY?: boolean;
}

export interface ControllerInputOptions {
  keymap: Keymap;
  /** The terminal to read (raw mode while running); without it the caller calls feed(). */
  input?: TerminalInput;
  /** Where the kitty protocol's sequences go. */
  output: { write(s: string): unknown };
  /** The merged controller state changed (called synchronously from the input callback). */
  onState: (state: ControllerState) => void;
  /** The exit hotkey was pressed. */
  onExit: () => void;
  /** The caller's own keys (not game input): their name, else undefined; see KeyboardOptions. */
  hotkey?: (combo: string) => string | undefined;
  onHotkey?: (name: string) => void;
  /** Own game pads (default true; options go to the PadManager); false: setPadState() feeds them. */
  pads?: boolean | PadManagerOptions;
  kitty?: 'auto' | 'off';
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number;
}

export class ControllerInput {
  readonly keyboard: KeyboardController;
  private readonly pads: PadManager | undefined;
  private current: ControllerState = IDLE_STATE;
  private padState: ControllerState = IDLE_STATE;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private running = false;
  private readonly now: () => number;
  private readonly onData = (chunk: Buffer | string): void => {
    this.feed(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  };

  constructor(private readonly opts: ControllerInputOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.keyboard = new KeyboardController(opts.keymap, { kitty: opts.kitty, hotkey: opts.hotkey });
    if (opts.pads !== false) {
      this.pads = new PadManager((s) => this.setPadState(s), typeof opts.pads === 'object' ? opts.pads : {});
    }
  }

  /** The merged state last handed to onState. */
  get state(): ControllerState {
    return this.current;
  }

  get padStats(): PadManagerStats | undefined {
    return this.pads?.stats;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const input = this.opts.input;
    if (input) {
      input.setRawMode?.(true);
      input.on('data', this.onData);
      input.resume?.();
    }
    const hello = this.keyboard.startSequence();
    if (hello) this.opts.output.write(hello);
    this.schedule();
    await this.pads?.start();
  }

  /** Restores the terminal; a state with controls still held is followed by the idle state. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    const input = this.opts.input;
    if (input) {
      input.off('data', this.onData);
      input.pause?.();
    }
    const bye = this.keyboard.stopSequence();
    if (bye) this.opts.output.write(bye);
    input?.setRawMode?.(false);
    this.pads?.stop();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.current !== IDLE_STATE && !stateEqual(this.current, IDLE_STATE)) {
      this.current = IDLE_STATE;
      this.opts.onState(IDLE_STATE);
    }
  }

  /** Terminal bytes (when the caller owns the terminal). Ignored while stopped. */
  feed(bytes: Uint8Array): void {
    if (!this.running) return;
    this.handleKeyboard(this.keyboard.feed(bytes, this.now()));
  }

  /** The caller's pad state (when it owns the pads), merged with the keyboard's. */
  setPadState(state: ControllerState): void {
    this.padState = state;
    if (this.running) this.publish();
  }

  /** Console rumble (data_type 7 payload [unknown, left, right]). */
  rumble(strong: number, weak: number): void {
    if (this.pads) this.pads.rumble(strong, weak);
  }

  private handleKeyboard(u: KeyboardUpdate): void {
    if (u.write) this.opts.output.write(u.write);
    if (u.changed) this.publish();
    else this.schedule();
    for (const h of u.hotkeys) this.opts.onHotkey?.(h);
    if (u.exit) this.opts.onExit();
  }

  private publish(): void {
    const merged = mergeStates(this.keyboard.state, this.padState);
    if (!stateEqual(merged, this.current)) {
      this.current = merged;
      this.opts.onState(merged);
    }
    this.schedule();
  }

  private wake(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (!this.running) return;
    const now = this.now();
    const u = this.keyboard.tick(now);
    if (u.changed || u.exit || u.write || u.hotkeys.length > 0) this.handleKeyboard(u);
    this.schedule();
  }

  private schedule(): void {
    if (!this.running) return;
    const at = this.keyboard.nextWakeup();
    if (at === undefined || (this.timer && at >= this.timerAt)) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.wake(), Math.max(0, at - this.now()));
  }
}
