/**
 * Pairing a console from the TUI: pick a console that discovery found or type its address, then
 * PIN, account id and an optional name. It runs the same pairing code as `rptui register`
 * (pairAndStore), shows its progress lines, and keeps the dialog open with the error and its
 * hint when the console refuses or does not answer, so the user can fix one field and retry.
 */
import { discover, type FoundConsole, probe } from '../../client/discovery.js';
import type { Profile, ProfileStore } from '../../client/profiles.js';
import { pairAndStore } from '../../commands/register.js';
import { safeText } from '../../text.js';
import type { App } from '../app.js';
import { esc, type KeyInfo } from '../blessed.js';
import { fitText } from '../format.js';
import { Dialog, TextField } from '../widgets/dialog.js';

export interface RegisterDialogOptions {
  store: ProfileStore;
  /** Broadcast a discovery on the LAN when the dialog opens. */
  broadcast: boolean;
  /** Addresses asked directly (e.g. the built-in simulated console). */
  probeHosts: string[];
  /** Prefill for the account id (usually the one of an existing profile). */
  defaultAccountId?: string;
  onPaired: (profile: Profile, replaced: boolean) => void;
}

type Focus = { kind: 'found'; index: number } | { kind: 'field'; index: number } | { kind: 'button' };

export class RegisterDialog extends Dialog {
  readonly hints = '↑↓/Tab move  Enter next/choose  Esc cancel';
  override readonly help = [
    'Register (pair) a console:',
    '1. Open the pairing screen on the console; it shows an 8-digit PIN.',
    '   PS4: Settings > Remote Play Connection Settings > Add Device',
    '   PS5: Settings > System > Remote Play > Link Device',
    '2. Pick the console from the list, or type its address.',
    '3. Type the PIN and your PSN account id (the number or its base64',
    '   form; `rptui register --help` says where to find it).',
    '4. Enter on [ Register ]. Errors stay here: fix a field and retry.',
  ];
  private readonly found: FoundConsole[] = [];
  private readonly fields: TextField[];
  private focus: Focus = { kind: 'field', index: 0 };
  private progress: string[] = [];
  private error: string[] = [];
  private busy = false;
  private searching = false;
  private closed = false;

  constructor(
    app: App,
    private readonly o: RegisterDialogOptions,
  ) {
    super(app, 'Register a console', 76);
    this.fields = [
      new TextField('Address', '', { placeholder: 'e.g. 192.168.1.20', maxLength: 253 }),
      new TextField('PIN', '', { placeholder: '8 digits shown by the console', maxLength: 8 }),
      new TextField('Account id', o.defaultAccountId ?? '', { placeholder: 'PSN account id', maxLength: 40 }),
      new TextField('Name', '', { placeholder: "optional (default: the console's name)", maxLength: 64 }),
    ];
  }

  /** Starts looking for consoles to offer. */
  start(): void {
    this.searching = true;
    const add = (c: FoundConsole) => {
      if (this.closed || this.found.some((f) => f.address === c.address && f.hostId === c.hostId)) return;
      this.found.push(c);
      this.app.render();
    };
    const jobs: Promise<unknown>[] = this.o.probeHosts.map((h) =>
      probe(h, 1500)
        .then((c) => c && add(c))
        .catch(() => undefined),
    );
    if (this.o.broadcast) {
      jobs.push(
        discover({ timeoutMs: 2500, onFound: add }).catch((e: Error) =>
          this.app.log(`discovery: ${e.message}`),
        ),
      );
    }
    void Promise.all(jobs).then(() => {
      this.searching = false;
      this.app.render();
    });
  }

  lines(): string[] {
    const t = this.app.theme;
    const l: string[] = [];
    l.push(t.dim('Open the pairing screen on the console; it shows an 8-digit PIN.'), '');
    l.push(this.searching ? 'Consoles found (searching...):' : 'Consoles found:');
    if (this.found.length === 0) l.push(t.dim(this.searching ? '  ...' : '  none; type the address below'));
    this.found.forEach((c, i) => {
      const text = `${fitText(safeText(c.hostName), 20)} ${fitText(c.hostType, 4)} ${fitText(c.address, 16)} ${c.status}`;
      const focused = this.focus.kind === 'found' && this.focus.index === i;
      l.push(focused ? t.selected(`> ${esc(text)}`) : `  ${esc(text)}`);
    });
    l.push('');
    const labelW = Math.max(...this.fields.map((f) => f.label.length));
    this.fields.forEach((f, i) => {
      l.push(f.line(this.app, this.focus.kind === 'field' && this.focus.index === i, labelW));
    });
    l.push('');
    const button = this.busy ? '[ Registering... ]' : '[ Register ]';
    l.push(this.focus.kind === 'button' ? `  ${t.selected(button)}` : `  ${button}`);
    for (const p of this.progress) l.push(t.dim(esc(p)));
    for (const e of this.error) l.push(t.bad(esc(e)));
    return l;
  }

  private order(): Focus[] {
    return [
      ...this.found.map((_, index) => ({ kind: 'found' as const, index })),
      ...this.fields.map((_, index) => ({ kind: 'field' as const, index })),
      { kind: 'button' as const },
    ];
  }

  private step(delta: number): void {
    const all = this.order();
    const i = all.findIndex(
      (f) => f.kind === this.focus.kind && ('index' in f ? f.index : -1) === this.focusIndex(),
    );
    this.focus = all[Math.max(0, Math.min(all.length - 1, Math.max(i, 0) + delta))];
    this.app.render();
  }

  private focusIndex(): number {
    return 'index' in this.focus ? this.focus.index : -1;
  }

  handleKey(ch: string | undefined, key: KeyInfo): void {
    if (key.name === 'escape') {
      if (this.busy) {
        this.app.notify('registration in progress; wait for its answer');
        return;
      }
      this.closed = true;
      this.close();
      return;
    }
    if (this.busy) return;
    if (key.name === 'up' || (key.name === 'tab' && key.shift)) {
      this.step(-1);
      return;
    }
    if (key.name === 'down' || key.name === 'tab') {
      this.step(1);
      return;
    }
    if (key.name === 'enter') {
      if (this.focus.kind === 'found') {
        this.fields[0].value = this.found[this.focus.index].address;
        this.focus = { kind: 'field', index: 1 };
        this.app.render();
        return;
      }
      if (this.focus.kind === 'button') void this.submit();
      else this.step(1);
      return;
    }
    if (this.focus.kind === 'field' && this.fields[this.focus.index].handleKey(ch, key)) {
      this.error = [];
      this.app.render();
    }
  }

  private async submit(): Promise<void> {
    const [address, pin, account, name] = this.fields.map((f) => f.value.trim());
    if (!address) {
      this.error = ['type the console address, or pick a console from the list'];
      this.focus = { kind: 'field', index: 0 };
      this.app.render();
      return;
    }
    this.busy = true;
    this.error = [];
    this.progress = [`pairing with ${address}...`];
    this.app.render();
    try {
      // a console discovery found tells its kind; it matters only if it stops answering discovery
      const known = this.found.find((c) => c.address === address);
      const r = await pairAndStore({
        host: address,
        ps5: known ? known.hostType === 'PS5' : undefined,
        pin,
        accountId: account,
        name: name || undefined,
        store: this.o.store,
        onStep: (text) => {
          this.progress.push(text);
          this.app.log(`register: ${text}`);
          this.app.render();
        },
      });
      this.busy = false;
      this.closed = true;
      this.close();
      this.o.onPaired(r.profile, r.replaced);
    } catch (err) {
      this.busy = false;
      const e = err as { message?: string; hint?: string };
      this.error = [`failed: ${e.message ?? String(err)}`];
      if (e.hint) this.error.push(`hint: ${e.hint}`);
      this.app.log(`register ${address}: ${e.message ?? String(err)}`);
      this.app.render();
    }
  }
}
