/**
 * Modal dialogs: a bordered box in the middle of the screen whose whole content is redrawn from
 * `lines()` on every render, so a resize only needs a render. Keys reach the top dialog only.
 */

import { blessed, esc, type KeyInfo, type Widgets } from '../blessed.js';
import { wrapText } from '../format.js';
import type { DialogHost, Layer } from '../layer.js';

const TAG_RE = /\{\/?[a-z-]*\}/g;

/** Screen rows `lines` take in a box `width` columns wide (blessed wraps long lines). */
export function wrappedHeight(lines: readonly string[], width: number): number {
  const w = Math.max(1, width);
  return lines.reduce(
    (n, l) =>
      n + Math.max(1, Math.ceil([...l.replace(TAG_RE, '').replace(/\{(open|close)\}/g, 'x')].length / w)),
    0,
  );
}

/** A framed box on top of the screen; `A` is what the dialog needs of the App (DialogHost at least). */
export abstract class Dialog<A extends DialogHost = DialogHost> implements Layer {
  protected readonly box: Widgets.BoxElement;

  constructor(
    protected readonly app: A,
    title: string,
    private readonly preferredWidth = 64,
  ) {
    this.box = blessed().box({
      parent: app.screen,
      top: 'center',
      left: 'center',
      width: this.width(),
      height: 5,
      border: { type: 'line' },
      label: ` ${esc(title)} `,
      tags: true,
      padding: { left: 1, right: 1 },
      style: app.theme.dialogStyle,
    });
  }

  abstract lines(): string[];
  abstract handleKey(ch: string | undefined, key: KeyInfo): void;
  abstract readonly hints: string;
  help?: string[];

  protected width(): number {
    return Math.max(20, Math.min(this.preferredWidth, (this.app.screen.width as number) - 2));
  }

  render(): void {
    const width = this.width();
    const lines = this.lines();
    this.box.width = width;
    this.box.height = Math.min((this.app.screen.height as number) - 2, wrappedHeight(lines, width - 4) + 2);
    this.box.setContent(lines.join('\n'));
    this.box.setFront();
  }

  destroy(): void {
    this.box.destroy();
  }

  close(): void {
    this.app.closeDialog(this);
  }
}

/** A text shown until Enter or Escape. */
export class MessageDialog extends Dialog {
  readonly hints = 'Enter/Esc close';
  constructor(
    app: DialogHost,
    title: string,
    private readonly text: string[],
    private readonly onClose?: () => void,
  ) {
    super(app, title, 72);
  }
  lines(): string[] {
    return [...this.text, '', this.app.theme.dim('[ OK ]')];
  }
  handleKey(_ch: string | undefined, key: KeyInfo): void {
    if (key.name === 'enter' || key.name === 'escape' || key.name === 'q') {
      this.close();
      this.onClose?.();
    }
  }
}

/**
 * A long text that scrolls (↑/↓, PgUp/PgDn, Home/End) until Enter or Escape. `content` is asked
 * on every render, so text that arrives later (a report being made) shows when it comes. Lines
 * are wrapped here, not by blessed, to know how many rows they take.
 */
export class ScrollDialog extends Dialog {
  readonly hints = '↑/↓ PgUp/PgDn scroll  Enter/Esc close';
  private top = 0;
  constructor(
    app: DialogHost,
    title: string,
    private readonly content: () => string[],
    width = 100,
  ) {
    super(app, title, width);
  }
  /** Rows of text the screen has room for (the box's border and the footer line aside). */
  private rows(): number {
    return Math.max(3, (this.app.screen.height as number) - 5);
  }
  private wrapped(): string[] {
    return this.content().flatMap((l) => wrapText(l, this.width() - 4, 4));
  }
  lines(): string[] {
    const all = this.wrapped();
    const rows = this.rows();
    if (all.length <= rows + 1) return [...all.map((l) => esc(l)), '', this.app.theme.dim('[ OK ]')];
    this.top = Math.max(0, Math.min(this.top, all.length - rows));
    const shown = all.slice(this.top, this.top + rows).map((l) => esc(l));
    const where = `lines ${this.top + 1}-${this.top + shown.length} of ${all.length}: ↑/↓ scroll, Esc close`;
    return [...shown, this.app.theme.dim(esc(where))];
  }
  handleKey(_ch: string | undefined, key: KeyInfo): void {
    const page = this.rows() - 1;
    const moves: Record<string, number> = { up: -1, down: 1, pageup: -page, pagedown: page };
    if (key.name !== undefined && key.name in moves) this.top = Math.max(0, this.top + moves[key.name]);
    else if (key.name === 'home') this.top = 0;
    else if (key.name === 'end') this.top = this.wrapped().length;
    else if (key.name === 'enter' || key.name === 'escape' || key.name === 'q') {
      this.close();
      return;
    }
    this.app.render();
  }
}

/** A yes/no question whose default is No; `y` or choosing Yes confirms. */
export class ConfirmDialog extends Dialog {
  readonly hints = 'y yes  n/Esc no  ←/→ choose  Enter select';
  private yes = false;
  constructor(
    app: DialogHost,
    title: string,
    private readonly text: string[],
    private readonly onYes: () => void,
    private readonly onNo?: () => void,
  ) {
    super(app, title, 60);
  }
  lines(): string[] {
    const t = this.app.theme;
    const no = this.yes ? '  No  ' : t.selected('[ No ]');
    const yes = this.yes ? t.selected('[ Yes ]') : '  Yes  ';
    return [...this.text, '', `${no}   ${yes}`];
  }
  handleKey(ch: string | undefined, key: KeyInfo): void {
    if (ch === 'y' || ch === 'Y') {
      this.finish(true);
      return;
    }
    if (ch === 'n' || ch === 'N' || key.name === 'escape') {
      this.finish(false);
      return;
    }
    if (['left', 'right', 'tab', 'up', 'down'].includes(key.name ?? '')) {
      this.yes = !this.yes;
      this.app.render();
      return;
    }
    if (key.name === 'enter') this.finish(this.yes);
  }
  private finish(yes: boolean): void {
    this.close();
    if (yes) this.onYes();
    else this.onNo?.();
  }
}

/** One line of text input: printable characters, Backspace, Ctrl-U clears. */
export class TextField {
  value: string;
  constructor(
    readonly label: string,
    initial = '',
    readonly opts: { mask?: boolean; maxLength?: number; placeholder?: string } = {},
  ) {
    this.value = initial;
  }

  /** True when the key edited the value. */
  handleKey(ch: string | undefined, key: KeyInfo): boolean {
    if (key.name === 'backspace') {
      this.value = [...this.value].slice(0, -1).join('');
      return true;
    }
    if (key.ctrl && key.name === 'u') {
      this.value = '';
      return true;
    }
    if (key.ctrl || key.meta || ch === undefined) return false;
    // printable text only (pasted text arrives one character at a time)
    if (ch.length !== 1 && [...ch].length !== 1) return false;
    if (/[\p{Cc}]/u.test(ch)) return false;
    if (this.opts.maxLength !== undefined && [...this.value].length >= this.opts.maxLength) return true;
    this.value += ch;
    return true;
  }

  /** `label: value` with a cursor when focused. */
  line(app: DialogHost, focused: boolean, labelWidth: number): string {
    const shown = this.opts.mask ? '•'.repeat([...this.value].length) : this.value;
    const body =
      shown === '' && !focused && this.opts.placeholder
        ? app.theme.dim(esc(this.opts.placeholder))
        : esc(shown);
    const label = `${this.label}:`.padEnd(labelWidth + 1);
    return focused ? `${app.theme.bold(`> ${label}`)} ${body}{inverse} {/inverse}` : `  ${label} ${body}`;
  }
}

/** Asks for one value; `onSubmit` returns an error text to keep the dialog open. */
export class PromptDialog extends Dialog {
  readonly hints = 'Enter OK  Esc cancel  Ctrl-U clear';
  private readonly field: TextField;
  private error = '';
  constructor(
    app: DialogHost,
    title: string,
    private readonly text: string[],
    field: TextField,
    private readonly onSubmit: (value: string) => string | undefined,
    private readonly onCancel?: () => void,
  ) {
    super(app, title, 64);
    this.field = field;
  }
  lines(): string[] {
    const l = [...this.text, '', this.field.line(this.app, true, this.field.label.length)];
    if (this.error) l.push('', this.app.theme.bad(esc(this.error)));
    return l;
  }
  handleKey(ch: string | undefined, key: KeyInfo): void {
    if (key.name === 'escape') {
      this.close();
      this.onCancel?.();
      return;
    }
    if (key.name === 'enter') {
      const err = this.onSubmit(this.field.value);
      if (err === undefined) this.close();
      else {
        this.error = err;
        this.app.render();
      }
      return;
    }
    if (this.field.handleKey(ch, key)) {
      this.error = '';
      this.app.render();
    }
  }
}

/** Picks one of `options` (up/down, Enter); Esc cancels. */
export class ChoiceDialog extends Dialog {
  readonly hints = '↑/↓ move  Enter choose  Esc cancel';
  private index: number;
  constructor(
    app: DialogHost,
    title: string,
    private readonly options: readonly string[],
    selected: number,
    private readonly onChoose: (index: number) => void,
  ) {
    super(app, title, 48);
    this.index = Math.max(0, Math.min(options.length - 1, selected));
  }
  lines(): string[] {
    return this.options.map((o, i) =>
      i === this.index ? this.app.theme.selected(`> ${esc(o)}`) : `  ${esc(o)}`,
    );
  }
  handleKey(_ch: string | undefined, key: KeyInfo): void {
    if (key.name === 'escape') {
      this.close();
      return;
    }
    if (key.name === 'up') this.index = Math.max(0, this.index - 1);
    else if (key.name === 'down') this.index = Math.min(this.options.length - 1, this.index + 1);
    else if (key.name === 'enter') {
      this.close();
      this.onChoose(this.index);
      return;
    }
    this.app.render();
  }
}
