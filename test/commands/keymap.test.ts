import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, useHarness } from '../helpers/cli.js';
import { repoRoot } from '../helpers/vectors.js';

const h = useHarness('all');
const tmp = h.tempDir('rptui-cli-keymap-');

const rptui = (...args: string[]) => runCli(args, { configDir: tmp });

describe('rptui keymap / pads', () => {
  it('keymap show --json prints the keys object', async () => {
    const r = await rptui('keymap', 'show', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.keys).toMatchObject({ space: 'cross', w: 'left_stick_up', up: 'dpad_up' });
    expect(j.exitHotkey).toBe('ctrl+q');
  });

  it('keymap check names the bad entry and exits 1', async () => {
    const f = join(tmp, 'bad.json');
    writeFileSync(f, JSON.stringify({ keys: { x: 'cross', w: 'jump' } }));
    const r = await rptui('keymap', 'check', f);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`key map ${f}: key "w": unknown control "jump"`);
    const ok = await rptui('keymap', 'check', join(repoRoot, 'config', 'keymaps', 'default.json'));
    expect(ok.code).toBe(0);
  });

  it('pads --json lists pads and says which backends are missing and why', async () => {
    const r = await rptui('pads', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Array.isArray(j.pads)).toBe(true);
    expect(j.backends.map((b: { backend: string }) => b.backend).sort()).toEqual([
      'evdev',
      'hid',
      'node-gamepad',
    ]);
    for (const b of j.backends) if (!b.available) expect(b.detail).toMatch(/\w+/);
  });
});
