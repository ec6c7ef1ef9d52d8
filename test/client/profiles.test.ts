import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configDir, profilesPath, withFileLock, writeFileAtomic } from '../../src/client/config-dir.js';
import { type ProfileInput, ProfileStore, uniqueProfileName } from '../../src/client/profiles.js';
import { ConfigError, UsageError } from '../../src/errors.js';
import { useHarness } from '../helpers/cli.js';

const h = useHarness();

const sample = (over: Partial<ProfileInput> = {}): ProfileInput => ({
  name: 'living-room',
  kind: 'PS5',
  target: 1000100,
  host: '192.168.1.20',
  hostId: 'AABBCCDDEEFF',
  nickname: 'PS5-123',
  registKey: '3132333435363738',
  rpKey: '00112233445566778899aabbccddeeff',
  accountId: 'x3HEK6t1aw8=',
  createdAt: '2026-01-02T03:04:05.000Z',
  ...over,
});

describe('config dir', () => {
  it('prefers RPTUI_CONFIG_DIR, then XDG_CONFIG_HOME/rptui, then ~/.config/rptui', () => {
    expect(configDir({ RPTUI_CONFIG_DIR: '/a', XDG_CONFIG_HOME: '/b' })).toBe('/a');
    expect(configDir({ XDG_CONFIG_HOME: '/b' })).toBe('/b/rptui');
    expect(configDir({ HOME: '/home/u' })).toMatch(/\.config\/rptui$/);
    expect(profilesPath({ RPTUI_CONFIG_DIR: '/a' })).toBe('/a/profiles.json');
  });

  it('writes atomically with mode 0600 and leaves no temp file', async () => {
    const dir = join(h.tempDir(), 'nested');
    const path = join(dir, 'f.json');
    await writeFileAtomic(path, 'one');
    await writeFileAtomic(path, 'two');
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['f.json']);
  });

  it('reports an unwritable directory as a ConfigError and keeps the old file', async () => {
    const dir = h.tempDir();
    const path = join(dir, 'f.json');
    writeFileSync(path, 'old');
    const err = await writeFileAtomic(join(path, 'x.json'), 'new').catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(readFileSync(path, 'utf8')).toBe('old');
  });
});

describe('ProfileStore', () => {
  it('starts empty, adds with defaults, persists 0600, round-trips', async () => {
    const store = new ProfileStore(join(h.tempDir(), 'profiles.json'));
    expect(await store.list()).toEqual([]);
    const p = await store.add(sample());
    expect(p.settings).toEqual({
      resolution: '720p',
      fps: 60,
      bitrate: 'auto',
      videoSink: 'ffplay',
      audioSink: 'auto',
      keymap: 'default',
    });
    expect(statSync(store.path).mode & 0o777).toBe(0o600);
    const again = new ProfileStore(store.path);
    expect(await again.get('living-room')).toEqual(p);
    expect(JSON.parse(readFileSync(store.path, 'utf8')).version).toBe(1);
  });

  it('keeps names unique and renames / removes', async () => {
    const store = new ProfileStore(join(h.tempDir(), 'profiles.json'));
    await store.add(sample());
    await expect(store.add(sample())).rejects.toBeInstanceOf(UsageError);
    await store.add(sample({ name: 'den' }));
    await expect(store.rename('den', 'living-room')).rejects.toBeInstanceOf(UsageError);
    await store.rename('den', 'study');
    expect((await store.list()).map((p) => p.name)).toEqual(['living-room', 'study']);
    await store.remove('living-room');
    expect((await store.list()).map((p) => p.name)).toEqual(['study']);
    await expect(store.get('living-room')).rejects.toThrow(/no profile named "living-room"/);
    await expect(store.remove('nope')).rejects.toBeInstanceOf(UsageError);
  });

  it('rejects invalid profiles without writing', async () => {
    const store = new ProfileStore(join(h.tempDir(), 'profiles.json'));
    for (const bad of [
      sample({ hostId: 'xyz' }),
      sample({ rpKey: '00' }),
      sample({ name: 'a/b' }),
      sample({ name: '' }),
      sample({ accountId: 'not base64' }),
      sample({ settings: { fps: 45 as 30 } }),
    ]) {
      await expect(store.add(bad)).rejects.toBeInstanceOf(UsageError);
    }
    expect(existsSync(store.path)).toBe(false);
  });

  it('names a corrupt file in a ConfigError and never overwrites it', async () => {
    const dir = h.tempDir();
    const path = join(dir, 'profiles.json');
    const store = new ProfileStore(path);
    for (const content of [
      '{not json',
      '{"version":2,"profiles":[]}',
      '{"version":1,"profiles":[{"name":"x"}]}',
      JSON.stringify({ version: 1, profiles: [sample(), sample()] }),
    ]) {
      writeFileSync(path, content);
      const err = await store.list().catch((e) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toContain(path);
      expect(err.hint).toMatch(/never overwrites/);
      await expect(store.add(sample({ name: 'other' }))).rejects.toBeInstanceOf(ConfigError);
      expect(readFileSync(path, 'utf8')).toBe(content);
    }
  });

  it('picks unique names', () => {
    expect(uniqueProfileName('PS5-123', [])).toBe('PS5-123');
    expect(uniqueProfileName('PS5-123', ['PS5-123', 'PS5-123-2'])).toBe('PS5-123-3');
    expect(uniqueProfileName('a/b', [])).toBe('a-b');
    expect(uniqueProfileName('  ', [])).toBe('console');
  });
});

describe('concurrent writers', () => {
  it('loses no profile when many adds race (lock file), and leaves no lock behind', async () => {
    const dir = h.tempDir();
    const path = join(dir, 'profiles.json');
    const stores = Array.from({ length: 8 }, () => new ProfileStore(path));
    await Promise.all(stores.map((s, i) => s.add(sample({ name: `p${i}` }))));
    expect((await stores[0].list()).map((p) => p.name).sort()).toEqual([
      'p0',
      'p1',
      'p2',
      'p3',
      'p4',
      'p5',
      'p6',
      'p7',
    ]);
    expect(readdirSync(dir)).toEqual(['profiles.json']);
  });

  it('waits for a held lock, takes over a stale one, and names the lock when it gives up', async () => {
    const dir = h.tempDir();
    const path = join(dir, 'profiles.json');
    writeFileSync(`${path}.lock`, '1\n');
    const err = await withFileLock(path, async () => 'never', { waitMs: 100 }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(`${path}.lock`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${path}.lock`, old, old);
    expect(await withFileLock(path, async () => 'taken', { waitMs: 100 })).toBe('taken');
    expect(existsSync(`${path}.lock`)).toBe(false);
  });
});
