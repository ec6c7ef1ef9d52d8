/**
 * Pairing a console from the TUI: pick a console that discovery found or type its address, then
 * PIN, account id and an optional name. It runs the same pairing code as `rptui register`
 * (pairAndStore), shows its progress lines, and keeps the dialog open with the error and its
 * hint when the console refuses or does not answer, so the user can fix one field and retry.
 * The account id comes from the stored PSN sign-in (`rptui login`); without one the dialog
 * offers to sign in to PSN, which fills the field.
 */
import { discover, type FoundConsole, probe } from '../../client/discovery.js';
import { pairAndStore } from '../../client/pairing.js';
import type { Profile, ProfileStore } from '../../client/profiles.js';
import { psnAuthServer } from '../../client/psn.js';
import { type PsnAccount, PsnAccountStore } from '../../client/psn-account.js';
import { signInUrl } from '../../proto-stack/psn.js';
import { safeText } from '../../proto-stack/text.js';
import type { App } from '../app.js';
import { esc, type KeyInfo } from '../blessed.js';
import { fitText } from '../format.js';
import { Dialog, TextField } from '../widgets/dialog.js';
import { PsnSignInDialog } from './psn-signin.js';

export interface RegisterDialogOptions {
  store: ProfileStore;
  /** Broadcast a discovery on the LAN when the dialog opens. */
  broadcast: boolean;
  /** Addresses asked directly (e.g. the built-in simulated console). */
  probeHosts: string[];
  /** Prefill for the account id when no PSN sign-in is stored (the one of an existing profile). */
  defaultAccountId?: string;
  /** Config dir and sign-in server (RPTUI_CONFIG_DIR, RPTUI_PSN_AUTH_URL). */
  env: NodeJS.ProcessEnv;
  onPaired: (profile: Profile, replaced: boolean) => void;
}

type Focus =
  | { kind: 'found'; index: number }
  | { kind: 'field'; index: number }
  | { kind: 'button' }
  | { kind: 'signin' };

const ACCOUNT = 2;

export class RegisterDialog extends Dialog<App> {
  readonly hints = '↑↓/Tab move  ←→ buttons  Enter next/choose  Esc cancel';
  override readonly help = [
    'Register (pair) a console:',
    '1. Open the pairing screen on the console; it shows an 8-digit PIN.',
    '   PS4: Settings > Remote Play Connection Settings > Add Device',
    '   PS5: Settings > System > Remote Play > Link Device',
    '2. Pick the console from the list, or type its address.',
    '3. Type the PIN. The account id comes from your PSN sign-in; without',
    '   one, [ Sign in to PSN ] finds it (or type the number or its base64).',
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
  private readonly psnStore: PsnAccountStore;
  /** The stored PSN sign-in: still loading, none, or the account. */
  private psn: 'loading' | 'none' | PsnAccount = 'loading';

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
    this.psnStore = PsnAccountStore.fromEnv(o.env);
  }

  /** Reads the stored PSN sign-in: its account id replaces the prefill the user has not edited. */
  private async loadPsn(): Promise<void> {
    try {
      const account = await this.psnStore.load();
      if (account) this.usePsn(account);
      else this.psn = 'none';
    } catch (err) {
      this.psn = 'none';
      this.app.log(`PSN sign-in: ${(err as Error).message}`);
    }
    this.app.render();
  }

  private usePsn(account: PsnAccount): void {
    const field = this.fields[ACCOUNT];
    if (field.value === (this.o.defaultAccountId ?? '') || field.value === '')
      field.value = account.accountId;
    this.psn = account;
  }

  private openSignIn(): void {
    let url: string;
    try {
      url = signInUrl(psnAuthServer(this.o.env));
    } catch (err) {
      this.app.showError('PSN sign-in', err);
      return;
    }
    this.app.openDialog(
      new PsnSignInDialog(this.app, {
        url,
        env: this.o.env,
        store: this.psnStore,
        onSignedIn: (account) => {
          this.fields[ACCOUNT].value = account.accountId;
          this.psn = account;
          this.error = [];
          this.focus = this.fields[1].value ? { kind: 'button' } : { kind: 'field', index: 1 };
          this.app.notify(
            `signed in to PSN${account.onlineId ? ` as "${account.onlineId}"` : ''}: account id ${account.accountIdDecimal} filled in`,
            'ok',
          );
        },
      }),
    );
  }

  /** Starts looking for consoles to offer. */
  start(): void {
    void this.loadPsn();
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
    if (typeof this.psn === 'object' && this.fields[ACCOUNT].value === this.psn.accountId) {
      const who = this.psn.onlineId ? ` as "${esc(this.psn.onlineId)}"` : '';
      l.push(t.dim(`  account id from your PSN sign-in${who}`));
    } else if (this.psn === 'none') {
      l.push(t.dim('  no PSN sign-in stored: [ Sign in to PSN ] finds your account id'));
    }
    l.push('');
    const button = this.busy ? '[ Registering... ]' : '[ Register ]';
    let buttons = this.focus.kind === 'button' ? `  ${t.selected(button)}` : `  ${button}`;
    if (this.offersSignIn()) {
      const signin = '[ Sign in to PSN ]';
      buttons += this.focus.kind === 'signin' ? `   ${t.selected(signin)}` : `   ${signin}`;
    }
    l.push(buttons);
    for (const p of this.progress) l.push(t.dim(esc(p)));
    for (const e of this.error) l.push(t.bad(esc(e)));
    return l;
  }

  /** "Sign in to PSN" is offered while no sign-in is stored. */
  private offersSignIn(): boolean {
    return this.psn === 'none';
  }

  private order(): Focus[] {
    return [
      ...this.found.map((_, index) => ({ kind: 'found' as const, index })),
      ...this.fields.map((_, index) => ({ kind: 'field' as const, index })),
      { kind: 'button' as const },
      ...(this.offersSignIn() ? [{ kind: 'signin' as const }] : []),
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
    if (
      (key.name === 'left' || key.name === 'right') &&
      (this.focus.kind === 'button' || this.focus.kind === 'signin')
    ) {
      if (this.offersSignIn()) this.focus = { kind: this.focus.kind === 'button' ? 'signin' : 'button' };
      this.app.render();
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
      else if (this.focus.kind === 'signin') this.openSignIn();
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
    if (!account) {
      this.error = [
        this.offersSignIn()
          ? 'no account id: choose [ Sign in to PSN ] to find it, or type it'
          : 'type your PSN account id (the number or its base64 form)',
      ];
      this.focus = this.offersSignIn() ? { kind: 'signin' } : { kind: 'field', index: ACCOUNT };
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
