/**
 * Per-profile stream settings: resolution, fps, bitrate, codec, video and audio output, key map. Each
 * change is validated and saved to the profile at once (profiles.json, atomically).
 */
import { type Profile, type ProfileSettings, type ProfileStore, RESOLUTIONS } from '../../client/profiles.js';
import { listKeymaps } from '../../input/keymap.js';
import { parseAudioSinkSpec, parseVideoSinkSpec } from '../../media/sinks.js';
import type { App, Layer } from '../app.js';
import { blessed, esc, type KeyInfo, type Widgets } from '../blessed.js';
import { fitText } from '../format.js';
import { ChoiceDialog, PromptDialog, TextField } from '../widgets/dialog.js';

const BITRATES = ['auto', '2000', '5000', '10000', '15000', '30000', 'other...'];
const VIDEO = ['ffplay', 'terminal', 'none', 'file:...'];
const AUDIO = ['auto', 'speaker', 'none', 'file:...'];

type Row = { key: keyof ProfileSettings; label: string; describe: string };

const ROWS: Row[] = [
  { key: 'resolution', label: 'Resolution', describe: 'picture size the console streams' },
  { key: 'fps', label: 'Frame rate', describe: '30 or 60 frames per second' },
  { key: 'bitrate', label: 'Bitrate', describe: 'kbit/s; auto = the usual one for the resolution' },
  { key: 'codec', label: 'Codec', describe: 'h264, or h265 (HEVC: a PS5 only, less bandwidth)' },
  {
    key: 'videoSink',
    label: 'Video output',
    describe: 'ffplay window, terminal (the picture in the stream screen), file:PATH (.h264/.mkv) or none',
  },
  { key: 'audioSink', label: 'Audio output', describe: 'auto/speaker, file:PATH (WAV) or none' },
  { key: 'keymap', label: 'Key map', describe: 'keyboard layout for the controller' },
];

/** Validates a settings value typed by the user; returns an error text or undefined. */
export function checkSetting(key: keyof ProfileSettings, value: string): string | undefined {
  try {
    if (key === 'videoSink') parseVideoSinkSpec(value);
    if (key === 'audioSink' && value !== 'auto') parseAudioSinkSpec(value);
    if (key === 'bitrate' && value !== 'auto') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 500 || n > 100_000)
        return 'a whole number of kbit/s from 500 to 100000';
    }
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

export class SettingsScreen implements Layer {
  readonly hints = '↑↓ select  Enter change  Esc back';
  readonly help = [
    'Stream settings of this profile; a change is saved at once and used on the next connect.',
    '',
    ...ROWS.map((r) => `${r.label}: ${r.describe}`),
  ];
  private index = 0;
  private readonly box: Widgets.BoxElement;

  constructor(
    private readonly app: App,
    private readonly store: ProfileStore,
    private profile: Profile,
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
  }

  render(): void {
    const t = this.app.theme;
    const lines = [t.bold(esc(` Settings of "${this.profile.name}"`)), ''];
    ROWS.forEach((r, i) => {
      const text = `${fitText(r.label, 14)}${fitText(String(this.profile.settings[r.key]), 24)}`;
      lines.push(i === this.index ? t.selected(`> ${esc(text)}`) : `  ${esc(text)}`);
    });
    lines.push('', t.dim(esc(`  ${ROWS[this.index].describe}`)));
    this.box.setContent(lines.join('\n'));
  }

  handleKey(_ch: string | undefined, key: KeyInfo): void {
    if (key.name === 'escape' || key.name === 'left' || _ch === 'q') {
      this.app.popScreen(this);
      return;
    }
    if (key.name === 'up') this.index = Math.max(0, this.index - 1);
    else if (key.name === 'down') this.index = Math.min(ROWS.length - 1, this.index + 1);
    else if (key.name === 'enter' || key.name === 'right') {
      this.change(ROWS[this.index]);
      return;
    }
    this.app.render();
  }

  private change(row: Row): void {
    const current = String(this.profile.settings[row.key]);
    let options: string[];
    switch (row.key) {
      case 'resolution':
        options = [...RESOLUTIONS];
        break;
      case 'fps':
        options = ['30', '60'];
        break;
      case 'bitrate':
        options = BITRATES;
        break;
      case 'codec':
        options = this.profile.kind === 'PS5' ? ['h264', 'h265'] : ['h264'];
        break;
      case 'videoSink':
        options = VIDEO;
        break;
      case 'audioSink':
        options = AUDIO;
        break;
      case 'keymap':
        try {
          options = listKeymaps(this.env);
        } catch (err) {
          this.app.showError('Key maps', err);
          return;
        }
        break;
    }
    const at = Math.max(0, options.indexOf(current));
    this.app.openDialog(
      new ChoiceDialog(this.app, row.label, options, at, (i) => {
        const picked = options[i];
        if (picked.endsWith('...')) {
          this.askValue(row, current);
          return;
        }
        void this.save(row.key, picked);
      }),
    );
  }

  private askValue(row: Row, current: string): void {
    const initial =
      row.key === 'bitrate'
        ? current === 'auto'
          ? ''
          : current
        : current.startsWith('file:')
          ? current
          : 'file:';
    this.app.openDialog(
      new PromptDialog(this.app, row.label, [esc(row.describe)], new TextField(row.label, initial), (v) => {
        const value = v.trim();
        const err = checkSetting(row.key, value);
        if (err) return err;
        void this.save(row.key, value);
        return undefined;
      }),
    );
  }

  private async save(key: keyof ProfileSettings, value: string): Promise<void> {
    const typed =
      key === 'fps' ? Number(value) : key === 'bitrate' && value !== 'auto' ? Number(value) : value;
    const err = checkSetting(key, value);
    if (err) {
      this.app.notify(err, 'error');
      return;
    }
    try {
      this.profile = await this.store.update(this.profile.name, (p) => ({
        ...p,
        settings: { ...p.settings, [key]: typed },
      }));
      this.app.notify(`"${this.profile.name}": ${key} = ${value}`, 'ok');
    } catch (err) {
      this.app.showError('Cannot save the setting', err);
    }
  }

  destroy(): void {
    this.box.destroy();
  }
}
