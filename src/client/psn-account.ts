/**
 * The stored PSN sign-in: `<config dir>/psn.json`, next to profiles.json and written the same
 * way (atomically, mode 0600, under a lock file), because it holds the refresh token. The
 * account id in it is what `rptui register` and the TUI's register dialog use when none is given.
 */
import { rm } from 'node:fs/promises';
import * as v from 'valibot';
import { psnAccountPath, readJsonFile, withFileLock, writeFileAtomic } from '../common/config-dir.js';
import { isoDatetime, noArray, parse, url } from '../common/schema.js';
import { toBase64 } from '../proto-stack/bytes.js';
import { ConfigError } from '../proto-stack/errors.js';
import { parseAccountId } from '../proto-stack/regist.js';

export const PsnAccountSchema = v.pipe(
  noArray(
    v.object({
      version: v.literal(1),
      /** 8 bytes little-endian, base64: the form registration sends. */
      accountId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9+/]{11}=$/, '8 bytes as base64')),
      /** The same id in decimal (the token information's user_id). */
      accountIdDecimal: v.pipe(v.string(), v.regex(/^\d{1,20}$/, 'a decimal number')),
      onlineId: v.optional(v.pipe(v.string(), v.maxLength(64))),
      refreshToken: v.optional(v.pipe(v.string(), v.minLength(1))),
      refreshTokenExpiresAt: v.optional(isoDatetime()),
      signedInAt: isoDatetime(),
      /** The sign-in service that issued the refresh token (the default one, or RPTUI_PSN_AUTH_URL). */
      authServer: url(),
    }),
  ),
  v.check(
    (a) => sameAccount(a.accountIdDecimal, a.accountId),
    'accountId and accountIdDecimal name different accounts',
  ),
);
export type PsnAccount = v.InferOutput<typeof PsnAccountSchema>;

function sameAccount(decimal: string, base64: string): boolean {
  try {
    return toBase64(parseAccountId(decimal)) === base64;
  } catch {
    return false; // zero, or more than 64 bits
  }
}

export class PsnAccountStore {
  constructor(readonly path: string) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): PsnAccountStore {
    return new PsnAccountStore(psnAccountPath(env));
  }

  /** The stored sign-in, or undefined when there is none. */
  load(): Promise<PsnAccount | undefined> {
    const hint = 'sign in again to replace it (rptui login), or remove it: rptui logout';
    return readJsonFile(this.path, PsnAccountSchema, 'PSN sign-in file', hint);
  }

  /** Replaces the stored sign-in. */
  async save(account: PsnAccount): Promise<PsnAccount> {
    const valid = parse(PsnAccountSchema, account);
    await withFileLock(this.path, () =>
      writeFileAtomic(this.path, `${JSON.stringify(valid, null, 2)}\n`, 0o600),
    );
    return valid;
  }

  /** Forgets the sign-in; returns what was stored (undefined: nothing was). A damaged file goes too. */
  async clear(): Promise<PsnAccount | undefined> {
    return withFileLock(this.path, async () => {
      const before = await this.load().catch(() => undefined);
      try {
        await rm(this.path);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ENOENT') return undefined;
        throw new ConfigError(`cannot remove ${this.path}: ${e.code ?? e.message}`, {
          hint: `check the permissions of ${this.path}`,
          cause: err,
        });
      }
      return before;
    });
  }
}
