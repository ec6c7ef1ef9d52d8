import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type PsnAccount, PsnAccountStore } from '../../src/client/psn-account.js';
import { psnAccountPath } from '../../src/common/config-dir.js';
import { ConfigError } from '../../src/proto-stack/errors.js';
import { useHarness } from '../helpers/cli.js';

const h = useHarness();

const account: PsnAccount = {
  version: 1,
  accountId: 'FYHpffQQIhE=',
  accountIdDecimal: '1234567890123456789',
  onlineId: 'tester',
  refreshToken: 'refresh-secret',
  refreshTokenExpiresAt: '2030-03-03T00:00:00.000Z',
  signedInAt: '2030-01-02T03:04:05.000Z',
  authServer: 'https://auth.api.sonyentertainmentnetwork.com',
};

describe('PsnAccountStore', () => {
  it('lives next to profiles.json in the config dir', () => {
    expect(psnAccountPath({ RPTUI_CONFIG_DIR: '/cfg' })).toBe('/cfg/psn.json');
    expect(PsnAccountStore.fromEnv({ XDG_CONFIG_HOME: '/x' }).path).toBe('/x/rptui/psn.json');
  });

  it('saves 0600 (in a 0700 dir it creates), loads it back, and clear() removes it', async () => {
    const dir = join(h.tempDir(), 'new-config');
    const store = new PsnAccountStore(join(dir, 'psn.json'));
    expect(await store.load()).toBeUndefined();
    await store.save(account);
    expect(statSync(store.path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(existsSync(`${store.path}.lock`)).toBe(false);
    expect(await store.load()).toEqual(account);
    await store.save({
      ...account,
      onlineId: undefined,
      refreshToken: undefined,
      refreshTokenExpiresAt: undefined,
    });
    expect(await store.load()).toEqual({
      ...account,
      onlineId: undefined,
      refreshToken: undefined,
      refreshTokenExpiresAt: undefined,
    });
    expect((await store.clear())?.accountId).toBe(account.accountId);
    expect(existsSync(store.path)).toBe(false);
    expect(await store.clear()).toBeUndefined();
  });

  it('refuses to store an account whose decimal and base64 ids differ', async () => {
    const store = new PsnAccountStore(join(h.tempDir(), 'psn.json'));
    await expect(store.save({ ...account, accountIdDecimal: '42' })).rejects.toThrow(/different accounts/);
    expect(existsSync(store.path)).toBe(false);
  });

  it('a damaged file is reported with its path and what to do; logout removes it anyway', async () => {
    const store = new PsnAccountStore(join(h.tempDir(), 'psn.json'));
    for (const text of [
      '{nope',
      JSON.stringify({ ...account, accountId: 'AAAAAAAAAAA=' }),
      '{"version":2}',
    ]) {
      writeFileSync(store.path, text);
      const err = await store.load().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toContain(store.path);
      expect((err as ConfigError).hint).toMatch(/rptui login.*rptui logout/);
    }
    expect(await store.clear()).toBeUndefined();
    expect(existsSync(store.path)).toBe(false);
  });

  it('the file holds the refresh token (which is why it is 0600)', async () => {
    const store = new PsnAccountStore(join(h.tempDir(), 'psn.json'));
    await store.save(account);
    expect(JSON.parse(readFileSync(store.path, 'utf8')).refreshToken).toBe('refresh-secret');
  });
});
