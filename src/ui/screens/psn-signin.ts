/**
 * PSN sign-in inside the TUI (opened from the register dialog): the sign-in address as text and,
 * when the terminal is big enough, as a QR code for a phone; a field for the address the browser
 * ends on (or just its code). It runs the same sign-in as `rptui login` (signInAndStore), keeps
 * errors in place so the user can paste again, and hands the stored account to `onSignedIn`.
 */

import { signInAndStore } from '../../client/psn.js';
import type { PsnAccount, PsnAccountStore } from '../../client/psn-account.js';
import type { App } from '../app.js';
import { esc, type KeyInfo } from '../blessed.js';
import { wrapText } from '../format.js';
import { fitQr, qrSize } from '../qr.js';
import { Dialog, TextField, wrappedHeight } from '../widgets/dialog.js';

export interface PsnSignInOptions {
  /** The sign-in address (signInUrl of the server the environment selects). */
  url: string;
  env: NodeJS.ProcessEnv;
  store: PsnAccountStore;
  onSignedIn: (account: PsnAccount) => void;
}

/** Border and padding of a dialog box, in columns. */
const FRAME = 4;
/** Rows of the screen a dialog cannot use: one above and below it, and its border. */
const V_FRAME = 4;
/** Columns of the instructions beside a QR code: at least, and at most. */
const TEXT_MIN = 30;
const TEXT_MAX = 60;
const INTRO = 'Open this address in a browser, or scan the QR code with a phone:';
const AFTER =
  'Sign in; the browser ends on a page at remoteplay.dl.playstation.net (maybe empty or an error ' +
  'page). Paste its address, or type its code (after code=, e.g. v5v0Nc), and press Enter:';

export class PsnSignInDialog extends Dialog<App> {
  readonly hints = 'Enter sign in  Esc cancel  Ctrl-U clear';
  override readonly help = [
    'Sign in to PSN to find your account id:',
    '1. Open the address in a browser: scan the QR code with a phone (it',
    '   shows when the terminal is big enough: zoom out), or copy it.',
    '2. Sign in. The browser ends on a page at remoteplay.dl.playstation.net',
    '   (it may look empty or show an error: that is fine).',
    '3. Paste that page address here, or type just its code (the text after',
    '   code= up to the next &), and press Enter.',
    'The account id, online id and a refresh token are stored (psn.json, 0600).',
  ];
  private readonly field = new TextField('Address', '', {
    placeholder: 'the address the browser ends on, or its code',
    maxLength: 2048,
  });
  private busy: AbortController | undefined;
  private progress = '';
  private error: string[] = [];

  constructor(
    app: App,
    private readonly o: PsnSignInOptions,
  ) {
    super(app, 'Sign in to PSN', 76);
  }

  protected override width(): number {
    // the base constructor asks before this class's fields exist
    return this.field === undefined ? super.width() : this.layout().width;
  }

  lines(): string[] {
    return this.layout().lines;
  }

  /** The instructions around the address, in lines of `width` columns. */
  private parts(width: number, intro = INTRO): { intro: string[]; url: string[]; after: string[] } {
    return {
      intro: wrapText(intro, width).map(esc),
      url: wrapText(this.o.url, width).map((l) => this.app.theme.accent(esc(l))),
      after: wrapText(AFTER, width).map(esc),
    };
  }

  private instructions(width: number): string[] {
    const p = this.parts(width);
    return [...p.intro, '', ...p.url, '', ...p.after];
  }

  /** The field, and what the sign-in is doing or why it failed. */
  private status(): string[] {
    const t = this.app.theme;
    const l = [this.field.line(this.app, true, this.field.label.length)];
    if (this.progress) l.push(t.dim(esc(this.progress)));
    for (const e of this.error) l.push(t.bad(esc(e)));
    return l;
  }

  private qrLines(qr: string[]): string[] {
    return this.app.theme.color ? qr.map((r) => `{white-fg}{black-bg}${r}{/black-bg}{/white-fg}`) : qr;
  }

  /**
   * The QR code beside the instructions where the screen is wide, above them where it is tall,
   * and only a note saying how much room it needs where it is neither.
   */
  private layout(): { width: number; lines: string[] } {
    const maxW = (this.app.screen.width as number) - 2;
    const maxRows = (this.app.screen.height as number) - V_FRAME;
    const status = this.status();
    const qrW = qrSize(this.o.url).columns + 2; // with a two-module quiet zone
    {
      const width = Math.min(maxW, qrW + 2 + TEXT_MAX + FRAME);
      const inner = width - FRAME;
      const qr = fitQr(this.o.url, inner - 2 - TEXT_MIN);
      if (qr) {
        const text = this.instructions(inner - 2 - qr[0].length);
        const rows = this.qrLines(qr);
        const blank = ' '.repeat(qr[0].length);
        const block = Array.from(
          { length: Math.max(qr.length, text.length) },
          (_, i) => `${rows[i] ?? blank}  ${text[i] ?? ''}`,
        );
        const lines = [...block, '', ...status];
        if (wrappedHeight(lines, inner) <= maxRows) return { width, lines };
      }
    }
    {
      // one column to spare: blessed word-wraps a line of exactly the box's width that ends in
      // colour codes (it measures the codes too), which would break up the code's rows
      const width = Math.min(maxW, Math.max(76, qrW + 1 + FRAME));
      const inner = width - FRAME;
      const qr = fitQr(this.o.url, inner - 1);
      if (qr) {
        const pad = ' '.repeat(Math.floor((inner - qr[0].length) / 2));
        const p = this.parts(inner);
        const qrRows = this.qrLines(qr).map((r) => pad + r);
        const lines = [...p.intro, ...qrRows, '', ...p.url, '', ...p.after, '', ...status];
        if (wrappedHeight(lines, inner) <= maxRows) return { width, lines };
      }
    }
    const width = Math.min(maxW, 76);
    const inner = width - FRAME;
    const need = qrSize(this.o.url);
    const needRows = Math.max(need.rows, this.instructions(TEXT_MIN).length) + 1 + status.length + V_FRAME;
    const note = wrapText(
      `(a QR code shows in a terminal of ${need.columns + 2 + TEXT_MIN + FRAME + 2}x${needRows} or more: zoom out)`,
      inner - 1, // dim: see the note on colour codes above
    ).map((l) => this.app.theme.dim(l));
    const p = this.parts(inner, "Open this address in a browser (a phone's too):");
    const lines = [...p.intro, '', ...p.url, '', ...note, '', ...p.after, '', ...status];
    // a small terminal keeps what matters: an error must not fall off the bottom
    if (wrappedHeight(lines, inner) <= maxRows) return { width, lines };
    return { width, lines: [...p.intro, ...p.url, ...p.after, ...status] };
  }

  handleKey(ch: string | undefined, key: KeyInfo): void {
    if (key.name === 'escape') {
      this.busy?.abort();
      this.close();
      return;
    }
    if (this.busy) return;
    if (key.name === 'enter') {
      void this.submit();
      return;
    }
    if (this.field.handleKey(ch, key)) {
      this.error = [];
      this.app.render();
    }
  }

  private async submit(): Promise<void> {
    if (this.field.value.trim() === '') {
      this.error = ['paste the address the browser ends on after the sign-in, or type its code'];
      this.app.render();
      return;
    }
    const busy = new AbortController();
    this.busy = busy;
    this.error = [];
    this.progress = 'signing in to PSN...';
    this.app.render();
    try {
      const account = await signInAndStore(this.field.value, {
        env: this.o.env,
        store: this.o.store,
        signal: busy.signal,
      });
      // stored: report it even if Esc came too late to stop it
      this.close();
      this.o.onSignedIn(account);
    } catch (err) {
      if (busy.signal.aborted) return; // Esc: the dialog is gone
      const e = err as { message?: string; hint?: string };
      this.error = [`failed: ${e.message ?? String(err)}`];
      if (e.hint) this.error.push(`hint: ${e.hint}`);
      this.app.log(`PSN sign-in: ${e.message ?? String(err)}`);
    } finally {
      this.busy = undefined;
      this.progress = '';
      this.app.render();
    }
  }
}
