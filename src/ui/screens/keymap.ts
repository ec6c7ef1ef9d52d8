/**
 * Key map screen: every controller control with its keys. A control is rebound by pressing the
 * new key (read raw and named by the input layer's decoder, exactly as the stream screen will
 * see it); the map is validated by the same parser that loads it and saved as
 * <config dir>/keymaps/<name>.json.
 */
import { join } from 'node:path';
import { resolveKeymap } from '../../client/play-input.js';
import type { Profile, ProfileStore } from '../../client/profiles.js';
import { writeFileAtomic } from '../../common/config-dir.js';
import { comboName, TerminalInputDecoder } from '../../input/keyboard.js';
import { configDir, type Keymap, keymapJson, parseKeymap } from '../../input/keymap.js';
import { CONTROLS, type Control } from '../../proto-stack/controller.js';
import type { App, Layer } from '../app.js';
import { blessed, esc, type KeyInfo, type Widgets } from '../blessed.js';
import { fitText } from '../format.js';
import { ConfirmDialog, PromptDialog, TextField } from '../widgets/dialog.js';

const EXIT_ROW = 'leave stream (hotkey)';
type RowName = Control | typeof EXIT_ROW;
const ROWS: RowName[] = [...CONTROLS, EXIT_ROW];

/** Pure: `map` with `key` bound to `row` (alone, or added to its keys); the key leaves any other control. */
export function rebind(map: Keymap, row: RowName, key: string, add: boolean): Keymap {
  const keys: Record<string, Control> = {};
  for (const [k, c] of Object.entries(map.keys)) {
    if (k === key) continue;
    if (!add && row !== EXIT_ROW && c === row) continue;
    keys[k] = c;
  }
  if (row === EXIT_ROW) return { ...map, keys, exitHotkey: key };
  keys[key] = row;
  // the exit hotkey cannot drive a control: it falls back to ctrl+q (or ctrl+c if that is taken)
  const exitHotkey = map.exitHotkey === key ? (key === 'ctrl+q' ? 'ctrl+c' : 'ctrl+q') : map.exitHotkey;
  return { ...map, keys, exitHotkey };
}

export class KeymapScreen implements Layer {
  readonly help = [
    'Key map: which key drives which control while streaming.',
    '',
    "Enter   rebind: press the new key (it replaces the control's keys)",
    'a       add another key to the control',
    "x       remove the control's keys",
    's       save as <config dir>/keymaps/<name>.json (and use it for this profile)',
    'Esc     back (asks when there are unsaved changes)',
  ];
  private map: Keymap;
  private index = 0;
  private dirty = false;
  private capture: { add: boolean; decoder: TerminalInputDecoder; timer?: NodeJS.Timeout } | undefined;
  private readonly box: Widgets.BoxElement;

  constructor(
    private readonly app: App,
    private readonly store: ProfileStore,
    private readonly profile: Profile | undefined,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.box = blessed().box({
      parent: app.body,
      top: 0,
      left: 0,
      width: '100%',
      height: '100%',
      tags: true,
    });
    this.map = resolveKeymap(undefined, profile?.settings.keymap, env);
  }

  get hints(): string {
    return this.capture
      ? `press the key for ${this.rowName(ROWS[this.index])}  Esc cancel`
      : '↑↓ select  Enter rebind  a add key  x clear  s save  Esc back';
  }

  private rowName(r: RowName): string {
    return r === EXIT_ROW ? 'leaving the stream' : r.toUpperCase();
  }

  private keysOf(r: RowName): string[] {
    if (r === EXIT_ROW) return [this.map.exitHotkey];
    return Object.keys(this.map.keys).filter((k) => this.map.keys[k] === r);
  }

  render(): void {
    const t = this.app.theme;
    const height = Math.max(5, (this.box.height as number) || 20);
    const head = [
      t.bold(
        esc(
          ` Key map "${this.map.name}"${this.dirty ? ' (changed, not saved)' : ''}${this.profile ? ` for "${this.profile.name}"` : ''}`,
        ),
      ),
      t.dim(esc(` ${this.map.source}`)),
    ];
    const foot = this.capture
      ? [t.warn(esc(` Press the key for ${this.rowName(ROWS[this.index])} now (Esc cancels)`))]
      : [];
    const visible = Math.max(1, height - head.length - foot.length);
    const first = Math.max(0, Math.min(ROWS.length - visible, this.index - Math.floor(visible / 2)));
    const rows = ROWS.slice(first, first + visible).map((r, j) => {
      const i = first + j;
      const text = `${fitText(r, 22)}${this.keysOf(r).join(', ') || '—'}`;
      return i === this.index ? t.selected(`> ${esc(text)}`) : `  ${esc(text)}`;
    });
    this.box.setContent([...head, ...rows, ...foot].join('\n'));
  }

  handleKey(ch: string | undefined, key: KeyInfo): void {
    if (this.capture) {
      // the keyboard is read raw while capturing: only a game pad's Circle arrives here
      if (key.name === 'escape') {
        this.endCapture();
        this.app.notify('rebinding cancelled');
      }
      return;
    }
    if (key.name === 'escape' || ch === 'q') {
      this.back();
      return;
    }
    if (key.name === 'up') this.index = Math.max(0, this.index - 1);
    else if (key.name === 'down') this.index = Math.min(ROWS.length - 1, this.index + 1);
    else if (key.name === 'pageup') this.index = Math.max(0, this.index - 10);
    else if (key.name === 'pagedown') this.index = Math.min(ROWS.length - 1, this.index + 10);
    else if (key.name === 'enter' || (ch === 'a' && ROWS[this.index] !== EXIT_ROW)) {
      this.startCapture(ch === 'a');
      return;
    } else if (ch === 'x' && ROWS[this.index] !== EXIT_ROW) {
      const row = ROWS[this.index];
      this.map = {
        ...this.map,
        keys: Object.fromEntries(Object.entries(this.map.keys).filter(([, c]) => c !== row)),
      };
      this.dirty = true;
    } else if (ch === 's') {
      this.save();
      return;
    }
    this.app.render();
  }

  private startCapture(add: boolean): void {
    this.capture = { add, decoder: new TerminalInputDecoder() };
    this.app.setRawInput((data) => this.onCaptured(data));
    this.app.render();
  }

  private endCapture(): void {
    if (this.capture?.timer) clearTimeout(this.capture.timer);
    this.capture = undefined;
    this.app.setRawInput(undefined);
    this.app.render();
  }

  private onCaptured(data: Buffer): void {
    const c = this.capture;
    if (!c) return;
    if (c.timer) clearTimeout(c.timer);
    const now = Date.now();
    const events = c.decoder.feed(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), now);
    this.takeCaptured(events);
    const wake = c.decoder.nextWakeup();
    if (this.capture && wake !== undefined) {
      // a lone ESC is only known to be the Escape key once no more bytes follow
      c.timer = setTimeout(() => this.takeCaptured(c.decoder.flush(Date.now())), Math.max(0, wake - now) + 1);
    }
  }

  private takeCaptured(events: ReturnType<TerminalInputDecoder['feed']>): void {
    const c = this.capture;
    if (!c) return;
    const ev = events.find((e) => e.kind === 'key' && e.type !== 'release');
    if (ev?.kind !== 'key') return;
    const combo = comboName(ev.key, ev.mods);
    this.endCapture();
    if (combo === 'escape') {
      this.app.notify('rebinding cancelled');
      return;
    }
    const row = ROWS[this.index];
    this.map = rebind(this.map, row, combo, c.add);
    this.dirty = true;
    this.app.notify(`${combo} → ${this.rowName(row)}`, 'ok');
  }

  private save(): void {
    const suggested = this.map.name;
    this.app.openDialog(
      new PromptDialog(
        this.app,
        'Save key map',
        [esc(`Saved as ${join(configDir(this.env), 'keymaps', '<name>.json')}`)],
        new TextField('Name', suggested, { maxLength: 64 }),
        (v) => {
          const name = v.trim();
          if (!/^[A-Za-z0-9_.-]+$/.test(name)) return 'letters, digits, "-", "_" and "." only';
          const path = join(configDir(this.env), 'keymaps', `${name}.json`);
          const json = keymapJson(this.map, name);
          try {
            this.map = parseKeymap(json, path, name);
          } catch (err) {
            return (err as Error).message;
          }
          void this.write(path, json, name);
          return undefined;
        },
      ),
    );
  }

  private async write(path: string, json: Record<string, unknown>, name: string): Promise<void> {
    try {
      await writeFileAtomic(path, `${JSON.stringify(json, null, 2)}\n`, 0o644);
      this.map = { ...this.map, source: path };
      this.dirty = false;
      if (this.profile && this.profile.settings.keymap !== name) {
        await this.store.update(this.profile.name, (p) => ({
          ...p,
          settings: { ...p.settings, keymap: name },
        }));
      }
      this.app.notify(
        `saved key map "${name}" to ${path}${this.profile ? ` (used by "${this.profile.name}")` : ''}`,
        'ok',
      );
    } catch (err) {
      this.app.showError('Cannot save the key map', err);
    }
  }

  private back(): void {
    if (!this.dirty) {
      this.app.popScreen(this);
      return;
    }
    this.app.openDialog(
      new ConfirmDialog(this.app, 'Unsaved changes', ['Leave without saving the key map?'], () =>
        this.app.popScreen(this),
      ),
    );
  }

  destroy(): void {
    if (this.capture) this.endCapture();
    this.box.destroy();
  }
}
