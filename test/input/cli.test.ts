import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/vectors.js';

const tmp = mkdtempSync(join(tmpdir(), 'rptui-cli-keymap-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const rptui = (...args: string[]) =>
  spawnSync(join(repoRoot, 'bin', 'rptui'), args, {
    encoding: 'utf8',
    env: { ...process.env, RPTUI_CONFIG_DIR: tmp },
    timeout: 20_000,
  });

describe('rptui keymap / pads', () => {
  it('keymap show --json prints the keys object', () => {
    const r = rptui('keymap', 'show', '--json');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.keys).toMatchObject({ space: 'cross', w: 'left_stick_up', up: 'dpad_up' });
    expect(j.exitHotkey).toBe('ctrl+q');
  });

  it('keymap check names the bad entry and exits 1', () => {
    const f = join(tmp, 'bad.json');
    writeFileSync(f, JSON.stringify({ keys: { x: 'cross', w: 'jump' } }));
    const r = rptui('keymap', 'check', f);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`key map ${f}: key "w": unknown control "jump"`);
    const ok = rptui('keymap', 'check', join(repoRoot, 'config', 'keymaps', 'default.json'));
    expect(ok.status).toBe(0);
  });

  it('pads --json lists pads and says which backends are missing and why', () => {
    const r = rptui('pads', '--json');
    expect(r.status).toBe(0);
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
