/**
 * The TUI shell: one blessed screen with a title bar, the current screen's body, an optional log
 * pane, a status line and a key-hint line. Screens and dialogs are layers on two stacks; every key
 * goes to the top layer only, through one router, so a key no layer knows is simply ignored.
 *
 * While the stream screen plays, the router stays out of the way: that screen reads raw stdin
 * bytes itself (installed before blessed's own reader, so nothing waits for blessed's parsing
 * or a render) and decides what is a hotkey and what goes to the console.
 */
import type { Readable, Writable } from 'node:stream';
import { describePad, type PadInfo, PadManager, type PadManagerOptions } from '../input/gamepad/index.js';
import type { ControllerState } from '../proto-stack/controller.js';
import { BUTTONS, IDLE_STATE } from '../proto-stack/controller.js';
import { blessed, esc, type KeyInfo, loadBlessed, type Widgets } from './blessed.js';
import type { DialogHost, Layer, PadConsumer } from './layer.js';
import { makeTheme, type Theme } from './theme.js';
import { MessageDialog, ScrollDialog } from './widgets/dialog.js';

export type { Layer, PadConsumer } from './layer.js';

export interface AppOptions {
  /** Title bar text after "rptui". */
  subtitle?: string;
  color: boolean;
  /** Open game pads for menu navigation (and play). */
  gamepad: boolean;
  /** Another terminal than the process's own (tests drive the UI through streams). */
  input?: Readable;
  output?: Writable;
  terminal?: string;
  /** Game pad discovery/opening replaced (tests). */
  padOptions?: Pick<PadManagerOptions, 'discover' | 'open' | 'pollMs'>;
  /** `rptui doctor`'s report as text lines, shown under every help screen (made once, when first asked). */
  systemReport?: () => Promise<string[]>;
}

const LOG_LINES = 500;
const LOG_PANE_ROWS = 8;

export const GLOBAL_HELP = [
  '? help (F1 inside dialogs)   L show/hide the log pane',
  'Ctrl-C quit (from the home screen; elsewhere it is Esc: back, cancel)',
  'Game pad: D-pad moves, Cross selects, Circle goes back',
];

/** Button presses a pad made since the last state: D-pad, cross, circle become menu keys. */
export function padMenuKeys(prev: ControllerState, next: ControllerState): KeyInfo[] {
  const pressed = (b: (typeof BUTTONS)[number]) => {
    const bit = 1 << BUTTONS.indexOf(b);
    return (next.buttons & bit) !== 0 && (prev.buttons & bit) === 0;
  };
  const keys: KeyInfo[] = [];
  const map: [(typeof BUTTONS)[number], string][] = [
    ['dpad_up', 'up'],
    ['dpad_down', 'down'],
    ['dpad_left', 'left'],
    ['dpad_right', 'right'],
    ['cross', 'enter'],
    ['circle', 'escape'],
  ];
  for (const [button, name] of map) if (pressed(button)) keys.push({ name, full: name });
  return keys;
}

export class App implements DialogHost {
  readonly screen: Widgets.Screen;
  readonly theme: Theme;
  private readonly title: Widgets.BoxElement;
  readonly body: Widgets.BoxElement;
  private readonly logPane: Widgets.BoxElement;
  private readonly statusLine: Widgets.BoxElement;
  private readonly hintLine: Widgets.BoxElement;
  private readonly screens: Layer[] = [];
  private readonly dialogs: Layer[] = [];
  private readonly logLines: string[] = [];
  private status = '';
  private logVisible = false;
  private renderQueued = false;
  private destroyed = false;
  private noTerminal = false;
  /** The chunk blessed is parsing went to the raw handler. */
  private rawConsumed = false;
  private pads: PadManager | undefined;
  private padPrev: ControllerState = IDLE_STATE;
  private rawHandler: ((data: Buffer) => void) | undefined;
  private report: string[] | undefined;
  private reportAsked = false;
  private readonly quitPromise: Promise<void>;
  private resolveQuit!: () => void;
  /** Stops everything the app started; set by the caller (simulator, monitor). */
  readonly cleanups: Array<() => void | Promise<void>> = [];

  private constructor(private readonly opts: AppOptions) {
    const b = blessed();
    this.theme = makeTheme(opts.color);
    this.screen = b.screen({
      smartCSR: true,
      fullUnicode: true,
      warnings: false,
      autoPadding: false,
      title: 'rptui',
      // @types/blessed swaps the two stream types
      input: opts.input as unknown as Writable,
      output: opts.output as unknown as Readable,
      terminal: opts.terminal,
    });
    // UTF-8 terminals get real line-drawing characters: the ACS alternative shows as letters in
    // some multiplexers' captures and turns "·" into "~"
    const tput = (this.screen.program as unknown as { tput: unknown }).tput as {
      unicode: boolean;
      brokenACS: boolean;
    };
    if (tput.unicode) tput.brokenACS = true;
    this.quitPromise = new Promise((r) => {
      this.resolveQuit = r;
    });
    this.title = b.box({ parent: this.screen, top: 0, left: 0, width: '100%', height: 1, tags: true });
    this.body = b.box({ parent: this.screen, top: 1, left: 0, width: '100%', height: '100%-3', tags: true });
    this.logPane = b.box({
      parent: this.screen,
      left: 0,
      width: '100%',
      height: LOG_PANE_ROWS,
      bottom: 2,
      tags: true,
      border: { type: 'line' },
      label: ' log ',
      hidden: true,
      style: { border: this.theme.borderStyle },
    });
    this.statusLine = b.box({
      parent: this.screen,
      bottom: 1,
      left: 0,
      width: '100%',
      height: 1,
      tags: true,
    });
    this.hintLine = b.box({
      parent: this.screen,
      bottom: 0,
      left: 0,
      width: '100%',
      height: 1,
      tags: true,
      style: this.theme.barStyle,
    });
    // once the terminal is gone (hang-up) writes fail with EIO/EPIPE: nothing left to show
    this.screen.program.output.on('error', () => this.terminalGone());
    this.screen.on('keypress', (ch: string | undefined, key: KeyInfo) => this.route(ch, key ?? {}));
    this.screen.on('resize', () => this.render());
    // Raw bytes for the stream screen: before blessed's reader, so a key reaches the console
    // first and a dialog the key opens does not also receive it as a menu key.
    const input = this.screen.program.input;
    input.prependListener('data', (data: Buffer) => {
      if (this.rawHandler && this.dialogs.length === 0) {
        // blessed parses this same chunk right after: its keys were this handler's, even when
        // the handler has just left raw mode (a hotkey that closed the stream)
        this.rawConsumed = true;
        this.guard(() => this.rawHandler?.(data));
      }
    });
    input.on('data', () => {
      this.rawConsumed = false;
    });
  }

  static async create(opts: AppOptions): Promise<App> {
    await loadBlessed();
    const app = new App(opts);
    if (opts.gamepad) app.startPads();
    return app;
  }

  get top(): Layer | undefined {
    return this.dialogs.at(-1) ?? this.screens.at(-1);
  }

  get currentScreen(): Layer | undefined {
    return this.screens.at(-1);
  }

  /** Raw stdin bytes go to `handler` while no dialog is open (undefined = menus only). */
  setRawInput(handler: ((data: Buffer) => void) | undefined): void {
    this.rawHandler = handler;
  }

  /** The terminal went away: stop drawing (destroy() then only releases resources). */
  terminalGone(): void {
    this.noTerminal = true;
  }

  /** Writes bytes to the terminal directly (kitty keyboard protocol switches). */
  writeTerminal(seq: string | Uint8Array): void {
    if (seq && !this.destroyed && !this.noTerminal) this.screen.program.output.write(seq);
  }

  pushScreen(layer: Layer): void {
    this.screens.push(layer);
    this.render();
  }

  /** Removes `layer` from the screen stack, destroys it and resumes the screen now current. */
  popScreen(layer: Layer): void {
    const i = this.screens.indexOf(layer);
    if (i < 0) return;
    this.screens.splice(i, 1);
    this.guard(() => layer.destroy());
    this.guard(() => this.currentScreen?.resume?.());
    this.render();
  }

  openDialog(layer: Layer): void {
    this.dialogs.push(layer);
    this.render();
  }

  closeDialog(layer: Layer): void {
    const i = this.dialogs.indexOf(layer);
    if (i < 0) return;
    this.dialogs.splice(i, 1);
    this.guard(() => layer.destroy());
    this.guard(() => this.top?.resume?.());
    this.render();
  }

  /** A line in the log (kept in memory; shown in the log pane). */
  log(text: string): void {
    const stamp = new Date().toISOString().slice(11, 19);
    for (const line of text.split('\n')) this.logLines.push(`${stamp} ${line}`);
    if (this.logLines.length > LOG_LINES) this.logLines.splice(0, this.logLines.length - LOG_LINES);
    if (this.logVisible) this.render();
  }

  get logText(): readonly string[] {
    return this.logLines;
  }

  /** The status line (and the log). */
  notify(text: string, level: 'info' | 'ok' | 'warn' | 'error' = 'info'): void {
    this.log(text);
    const t = this.theme;
    const styled = esc(text);
    this.status =
      level === 'error'
        ? t.bad(styled)
        : level === 'warn'
          ? t.warn(styled)
          : level === 'ok'
            ? t.ok(styled)
            : styled;
    this.render();
  }

  showError(title: string, err: unknown): void {
    const e = err as { message?: string; hint?: string };
    const lines = [esc(e?.message ?? String(err))];
    if (e?.hint) lines.push('', this.theme.dim(esc(`hint: ${e.hint}`)));
    this.notify(`${title}: ${e?.message ?? String(err)}`, 'error');
    this.openDialog(new MessageDialog(this, title, lines));
  }

  /** Coalesces redraws into one per tick. */
  render(): void {
    if (this.renderQueued || this.destroyed) return;
    this.renderQueued = true;
    setImmediate(() => {
      this.renderQueued = false;
      if (!this.destroyed && !this.noTerminal) this.draw();
    });
  }

  private draw(): void {
    const t = this.theme;
    const pad = this.pads?.active ? `  pad: ${esc(this.pads.active.name)}` : '';
    this.title.setContent(
      `${t.bold(' rptui')}${this.opts.subtitle ? ` — ${esc(this.opts.subtitle)}` : ''}${t.dim(pad)}`,
    );
    const rows = this.logVisible ? LOG_PANE_ROWS : 0;
    this.body.height = Math.max(1, (this.screen.height as number) - 3 - rows);
    if (this.logVisible) {
      const inner = Math.max(1, LOG_PANE_ROWS - 2);
      this.logPane.setContent(
        this.logLines
          .slice(-inner)
          .map((l) => esc(l))
          .join('\n'),
      );
      this.logPane.show();
    } else this.logPane.hide();
    this.statusLine.setContent(` ${this.status}`);
    const top = this.top;
    const help = this.dialogs.length === 0 ? '  ? help' : top?.help ? '  F1 help' : '';
    this.hintLine.setContent(` ${top ? esc(top.hints) : ''}${help}`);
    for (const layer of [...this.screens.slice(-1), ...this.dialogs]) this.guard(() => layer.render());
    this.screen.render();
  }

  private route(ch: string | undefined, key: KeyInfo): void {
    // blessed reports Enter twice ("return", then "enter"): act on one of them only
    if (key.name === 'return' || key.name === 'linefeed') return;
    if (this.rawConsumed || (this.rawHandler && this.dialogs.length === 0)) return; // read raw
    this.dispatch(ch, key);
  }

  /** Delivers a key as if typed (the gamepad navigation uses this too). */
  dispatch(ch: string | undefined, key: KeyInfo): void {
    if (this.destroyed) return;
    if (key.name === 'f1') {
      this.showHelp(this.top);
      return;
    }
    if (this.dialogs.length === 0) {
      if (ch === '?') {
        this.showHelp(this.currentScreen);
        return;
      }
      if (ch === 'L') {
        this.toggleLog();
        return;
      }
    }
    if (key.ctrl && key.name === 'c') {
      // quits from home; anywhere else it is Escape (back, cancel)
      if (this.dialogs.length === 0 && this.screens.length <= 1) {
        void this.quit();
        return;
      }
      key = { name: 'escape', full: 'escape' };
      ch = undefined;
    }
    const top = this.top;
    if (top) this.guard(() => top.handleKey(ch, key));
  }

  toggleLog(): void {
    this.logVisible = !this.logVisible;
    this.render();
  }

  private showHelp(layer: Layer | undefined): void {
    const help = [...(layer?.help ?? []), '', ...GLOBAL_HELP];
    const make = this.opts.systemReport;
    if (make === undefined) {
      this.openDialog(
        new MessageDialog(
          this,
          'Help',
          help.map((l) => esc(l)),
        ),
      );
      return;
    }
    if (!this.reportAsked) {
      this.reportAsked = true;
      make()
        .then((lines) => {
          this.report = lines;
        })
        .catch((err: Error) => {
          this.report = [`the system check failed: ${err.message}`];
        })
        .finally(() => this.render());
    }
    const title = 'System check (rptui doctor)';
    this.openDialog(
      new ScrollDialog(this, 'Help', () => [...help, '', title, '', ...(this.report ?? ['checking...'])]),
    );
  }

  /** Runs UI code; an exception becomes a log line and a status message, never a crash. */
  guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      const e = err as Error;
      this.log(`internal error: ${e?.stack ?? e}`);
      this.status = this.theme.bad(esc(`internal error: ${e?.message ?? e} (see the log pane: L)`));
    }
  }

  private startPads(): void {
    this.pads = new PadManager((state) => this.guard(() => this.onPad(state)), {
      pollMs: 2000,
      ...this.opts.padOptions,
      onPadChange: (pad: PadInfo | undefined, reason?: string) => {
        if (pad) this.notify(`game pad: ${describePad(pad)}`, 'ok');
        else if (reason) this.log(reason);
        this.render();
      },
    });
    this.pads.start().catch((err: Error) => this.log(`game pads unavailable: ${err.message}`));
  }

  private onPad(state: ControllerState): void {
    const prev = this.padPrev;
    this.padPrev = state;
    const screen = this.currentScreen as Partial<PadConsumer> | undefined;
    if (this.rawHandler && this.dialogs.length === 0 && screen?.padState) {
      screen.padState(state);
      return;
    }
    for (const k of padMenuKeys(prev, state)) this.dispatch(undefined, k);
  }

  /** Rumble from the console, to the pad when it can play it. */
  rumble(strong: number, weak: number): void {
    this.pads?.rumble(strong, weak);
  }

  quit(): Promise<void> {
    this.resolveQuit();
    return this.quitPromise;
  }

  /** Resolves when the user quits; the caller then calls destroy(). */
  waitForQuit(): Promise<void> {
    return this.quitPromise;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    for (const l of [...this.screens].reverse()) {
      try {
        await l.dispose?.();
      } catch (err) {
        this.log(`shutdown: ${(err as Error).message}`);
      }
    }
    for (const l of [...this.dialogs, ...this.screens].reverse()) this.guard(() => l.destroy());
    this.dialogs.length = 0;
    this.screens.length = 0;
    this.pads?.stop();
    for (const c of this.cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        this.log(`cleanup: ${(err as Error).message}`);
      }
    }
    this.destroyed = true;
    if (this.noTerminal) {
      // restoring a terminal that is gone fails; only stop reading it
      this.screen.program.input.removeAllListeners('data');
      this.screen.program.input.pause();
    } else this.screen.destroy();
  }
}
