/**
 * Home: the paired consoles with their live status, and everything a user does with them.
 */
import type { Profile, ProfileStore } from '../../client/profiles.js';
import { PROFILE_NAME_RE } from '../../client/profiles.js';
import { wake } from '../../client/wake.js';
import { fromHex } from '../../proto-stack/bytes.js';
import { wakeCredential } from '../../proto-stack/discovery.js';
import { safeText } from '../../proto-stack/text.js';
import type { App, Layer } from '../app.js';
import { blessed, esc, type KeyInfo, type Widgets } from '../blessed.js';
import { fitText } from '../format.js';
import type { ConsoleMonitor, ConsoleStatus } from '../monitor.js';
import { ConfirmDialog, PromptDialog, TextField } from '../widgets/dialog.js';
import { RegisterDialog, type RegisterDialogOptions } from './register-dialog.js';

export interface HomeDeps {
  app: App;
  store: ProfileStore;
  monitor: ConsoleMonitor;
  /** Opens the stream screen for a profile. */
  connect: (profile: Profile, status: ConsoleStatus) => void;
  openSettings: (profile: Profile) => void;
  openKeymap: (profile: Profile | undefined) => void;
  register: Omit<RegisterDialogOptions, 'store' | 'onPaired'>;
}

export const HOME_HELP = [
  'Home: your paired consoles, with their live status from discovery.',
  '',
  '↑/↓ select         Enter connect (wakes a console in standby first)',
  'n register (pair) a console with its PIN',
  'w wake             r rename            d delete (asks first)',
  's settings: resolution, fps, bitrate, codec, video/audio output, key map',
  'k key map          u refresh status    q quit',
];

export class HomeScreen implements Layer {
  readonly hints = 'Enter connect  n register  w wake  s settings  r rename  d delete';
  readonly help = HOME_HELP;
  private profiles: Profile[] = [];
  /** The reload under way, if any. */
  private loading: Promise<void> | undefined;
  private connecting = false;
  private index = 0;
  /** The message and hint of the error that stopped loading the profiles. */
  private loadError: string[] | undefined;
  private readonly box: Widgets.BoxElement;
  private busy = new Set<string>();
  /** A profile to select once a reload sees it (a newly paired one). */
  private pendingSelect: string | undefined;

  constructor(private readonly d: HomeDeps) {
    this.box = blessed().box({
      parent: d.app.body,
      top: 0,
      left: 0,
      width: '100%',
      height: '100%',
      tags: true,
    });
  }

  get selected(): Profile | undefined {
    return this.profiles[this.index];
  }

  get list(): readonly Profile[] {
    return this.profiles;
  }

  /** Reads the profiles file again (after any change). */
  reload(select?: string): Promise<void> {
    const run = this.load(select);
    this.loading = run;
    void run.finally(() => {
      if (this.loading === run) this.loading = undefined;
    });
    return run;
  }

  private async load(select?: string): Promise<void> {
    if (select) this.pendingSelect = select;
    try {
      const profiles = await this.d.store.list();
      // the selection is read after the await: reloads may overlap (a dialog closing also reloads)
      const name = this.pendingSelect ?? this.selected?.name;
      this.profiles = profiles;
      if (this.pendingSelect && profiles.some((p) => p.name === this.pendingSelect))
        this.pendingSelect = undefined;
      this.loadError = undefined;
      const i = name ? this.profiles.findIndex((p) => p.name === name) : -1;
      this.index = i >= 0 ? i : Math.min(this.index, Math.max(0, this.profiles.length - 1));
    } catch (err) {
      const e = err as { message: string; hint?: string };
      this.loadError = e.hint ? [e.message, `hint: ${e.hint}`] : [e.message];
      this.profiles = [];
    }
    this.d.app.render();
    void this.d.monitor.pollNow();
  }

  status(p: Profile): ConsoleStatus {
    return this.d.monitor.get({ host: p.host, kind: p.kind });
  }

  render(): void {
    const t = this.d.app.theme;
    const width = Math.max(20, (this.box.width as number) - 1);
    const lines: string[] = [];
    if (this.loadError) {
      lines.push('', ...this.loadError.map((l) => t.bad(esc(l))));
      this.box.setContent(lines.join('\n'));
      return;
    }
    lines.push(t.bold(' Consoles'), '');
    if (this.profiles.length === 0) {
      lines.push('  No paired consoles yet. Press n to register one with the PIN it shows.');
    } else {
      // name, kind, address, status, running game: the name and game columns share the slack
      const fixed = 2 + 5 + 17 + 10;
      const nameW = Math.max(8, Math.min(24, Math.floor((width - fixed) / 2)));
      const gameW = Math.max(4, width - fixed - nameW);
      lines.push(
        t.dim(
          `  ${fitText('NAME', nameW)}${fitText('KIND', 5)}${fitText('ADDRESS', 17)}${fitText('STATUS', 10)}${fitText('RUNNING', gameW)}`,
        ),
      );
      // a window around the selection when the list is longer than the screen: 3 rows of title
      // and column heads, 3 of details below
      const height = Math.max(4, (this.box.height as number) || 20);
      const visible = Math.max(1, height - 7);
      const first = Math.max(
        0,
        Math.min(this.profiles.length - visible, this.index - Math.floor(visible / 2)),
      );
      if (this.profiles.length > visible) {
        const last = Math.min(first + visible, this.profiles.length);
        lines[0] = t.bold(` Consoles (${first + 1}-${last} of ${this.profiles.length})`);
      }
      this.profiles.slice(first, first + visible).forEach((p, j) => {
        const i = first + j;
        const s = this.status(p);
        const word = this.busy.has(p.name) ? 'waking' : s.status;
        // made safe before fitting, so an escaped character cannot push the columns apart
        const game = safeText(s.found?.runningAppName ?? (s.status === 'ready' ? '—' : ''));
        const plain = `${fitText(safeText(p.name), nameW)}${fitText(p.kind, 5)}${fitText(safeText(p.host), 17)}`;
        const statusCell = fitText(word, 10);
        const styled =
          word === 'ready'
            ? t.ok(statusCell)
            : word === 'standby' || word === 'waking'
              ? t.warn(statusCell)
              : t.dim(statusCell);
        if (i === this.index) {
          lines.push(t.selected(`> ${esc(plain)}${esc(statusCell)}${esc(fitText(game, gameW))}`));
        } else {
          lines.push(`  ${esc(plain)}${styled}${esc(fitText(game, gameW))}`);
        }
      });
      const p = this.selected;
      if (p) {
        const s = p.settings;
        const bitrate = s.bitrate === 'auto' ? 'auto bitrate' : `${s.bitrate} kbit/s`;
        const found = this.status(p).found;
        lines.push(
          '',
          t.dim(
            esc(
              `  ${p.name}: ${p.kind} "${p.nickname}", host-id ${p.hostId}${found ? `, system ${found.systemVersion}` : ''}`,
            ),
          ),
          t.dim(
            esc(
              `  stream: ${s.resolution} ${s.fps} fps${s.codec === 'h265' ? ' HEVC' : ''}, ${bitrate}; video ${s.videoSink}, audio ${s.audioSink}, keys ${s.keymap}`,
            ),
          ),
        );
      }
    }
    this.box.setContent(lines.join('\n'));
  }

  handleKey(ch: string | undefined, key: KeyInfo): void {
    const p = this.selected;
    switch (key.name) {
      case 'up':
        this.move(-1);
        return;
      case 'down':
        this.move(1);
        return;
      case 'enter':
        if (p) void this.connect(p.name);
        return;
      case 'delete':
        if (p) this.confirmDelete(p);
        return;
      case 'escape':
        return;
    }
    if (key.ctrl || key.meta) return;
    switch (ch) {
      case 'n':
        this.openRegister();
        return;
      case 'w':
        if (p) void this.wake(p);
        return;
      case 'r':
        if (p) this.rename(p);
        return;
      case 'd':
        if (p) this.confirmDelete(p);
        return;
      case 's':
        if (p) this.d.openSettings(p);
        return;
      case 'k':
        this.d.openKeymap(p);
        return;
      case 'u':
        this.d.app.notify('refreshing console status');
        void this.d.monitor.pollNow();
        return;
      case 'q':
        void this.d.app.quit();
        return;
    }
  }

  /**
   * Streams profile `name` as stored now. Coming back from its settings starts a reload; an Enter
   * pressed before it finished would stream with the old settings, so it waits for the reload.
   */
  private async connect(name: string): Promise<void> {
    if (this.connecting) return;
    this.connecting = true;
    try {
      while (this.loading) await this.loading;
    } finally {
      this.connecting = false;
    }
    const p = this.profiles.find((q) => q.name === name);
    // the user may have moved on meanwhile (another screen, a dialog)
    if (p && this.d.app.top === this) this.d.connect(p, this.status(p));
  }

  private move(delta: number): void {
    if (this.profiles.length === 0) return;
    this.index = Math.max(0, Math.min(this.profiles.length - 1, this.index + delta));
    this.d.app.render();
  }

  openRegister(): void {
    const dialog = new RegisterDialog(this.d.app, {
      ...this.d.register,
      store: this.d.store,
      defaultAccountId: this.profiles[0]?.accountId,
      onPaired: (profile, replaced) => {
        this.d.app.notify(
          `paired with ${profile.kind} "${profile.nickname}" at ${profile.host}; ${replaced ? 'updated' : 'stored'} profile "${profile.name}"`,
          'ok',
        );
        void this.reload(profile.name);
      },
    });
    this.d.app.openDialog(dialog);
    dialog.start();
  }

  async wake(p: Profile): Promise<void> {
    if (this.busy.has(p.name)) return;
    this.busy.add(p.name);
    this.d.app.notify(`waking "${p.name}" at ${p.host}...`);
    try {
      const r = await wake({
        host: p.host,
        credential: wakeCredential(fromHex(p.registKey)),
        kind: p.kind,
        timeoutMs: 30_000,
      });
      this.d.app.notify(
        r.alreadyAwake
          ? `"${p.name}" is already on`
          : `"${p.name}" woke up after ${(r.elapsedMs / 1000).toFixed(1)} s`,
        'ok',
      );
    } catch (err) {
      this.d.app.showError(`Cannot wake "${p.name}"`, err);
    } finally {
      this.busy.delete(p.name);
      void this.d.monitor.pollNow();
      this.d.app.render();
    }
  }

  private rename(p: Profile): void {
    const field = new TextField('New name', p.name, { maxLength: 64 });
    this.d.app.openDialog(
      new PromptDialog(this.d.app, `Rename "${p.name}"`, [], field, (value) => {
        const name = value.trim();
        if (name === p.name) return undefined;
        if (!PROFILE_NAME_RE.test(name)) return 'use 1-64 characters without slashes or control characters';
        if (this.profiles.some((q) => q.name === name)) return `a profile named "${name}" already exists`;
        this.d.store
          .rename(p.name, name)
          .then(() => this.reload(name))
          .then(() => this.d.app.notify(`renamed "${p.name}" to "${name}"`, 'ok'))
          .catch((err) => this.d.app.showError('Rename failed', err));
        return undefined;
      }),
    );
  }

  private confirmDelete(p: Profile): void {
    this.d.app.openDialog(
      new ConfirmDialog(
        this.d.app,
        'Delete profile',
        [
          esc(`Delete the profile "${p.name}" (${p.kind} at ${p.host})?`),
          'Its pairing keys are removed from this computer; pair again with a new PIN to use it.',
        ],
        () => {
          this.d.store
            .remove(p.name)
            .then(() => this.reload())
            .then(() => this.d.app.notify(`deleted profile "${p.name}"`, 'ok'))
            .catch((err) => this.d.app.showError('Delete failed', err));
        },
        () => this.d.app.notify('nothing deleted'),
      ),
    );
  }

  destroy(): void {
    this.box.destroy();
  }

  resume(): void {
    void this.reload();
  }
}
