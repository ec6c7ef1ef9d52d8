/**
 * Pairing a console and storing its profile, all or nothing as far as the user can tell: the
 * flow `rptui register` and the TUI's register dialog share.
 */
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../common/config-dir.js';
import { type Host, realHost } from '../common/host.js';
import { sleep } from '../common/net.js';
import { platformFacts } from '../media/hwdecode.js';
import { toBase64, toHex } from '../proto-stack/bytes.js';
import { ConfigError, UsageError } from '../proto-stack/errors.js';
import { parseAccountId } from '../proto-stack/regist.js';
import {
  PROFILE_NAME_RE,
  type Profile,
  type ProfileInput,
  type ProfileStore,
  platformDefaults,
  uniqueProfileName,
} from './profiles.js';
import { parsePin, type Registration, register as registerConsole } from './regist.js';

export interface PairOptions {
  host: string;
  pin: string;
  accountId: string;
  ps5?: boolean;
  name?: string;
  store: ProfileStore;
  onStep?: (text: string) => void;
  /** The machine whose decoders choose a new profile's stream defaults (tests: a made-up one). */
  machine?: Host;
}

export interface Paired {
  profile: Profile;
  /** An existing profile of the same console and account got the new secrets. */
  replaced: boolean;
  registration: Registration;
}

/** The lock purpose of a pairing; a second pairing then fails at once instead of queueing. */
const PAIRING = 'pairing with';

/**
 * Pairs and stores the profile, all or nothing as far as the user can tell. Everything that can
 * be checked offline is, then the profiles file is locked (creating the config dir and the lock
 * proves it writable) and the name checked before the console is asked; the lock is held until
 * the profile is stored, so no other rptui can take the name or pair the same console meanwhile,
 * and a second pairing is told about this one. Should storing still fail after the console said
 * yes, the write is retried, then the profile is kept in a recovery file that `rptui profiles
 * import` takes, and the error says so.
 */
export async function pairAndStore(o: PairOptions): Promise<Paired> {
  const pin = parsePin(o.pin);
  const accountId = parseAccountId(o.accountId);
  const accountB64 = toBase64(accountId);
  if (o.name !== undefined && !PROFILE_NAME_RE.test(o.name)) {
    throw new UsageError(
      `"${o.name}" is not a usable profile name`,
      'use 1-64 characters without slashes or control characters',
    );
  }
  const name = o.name;
  return o.store.withLock(
    `${PAIRING} ${o.host}`,
    async (tx) => {
      const before = await tx.list(); // a corrupt profiles file stops us before the console is asked
      if (name !== undefined && before.some((p) => p.name === name)) {
        throw new UsageError(
          `a profile named "${name}" already exists`,
          'pick another --name, or remove it first: rptui profiles rm',
        );
      }
      const registration = await registerConsole({
        host: o.host,
        pin,
        accountId,
        kind: o.ps5 ? 'PS5' : 'PS4',
        onStep: o.onStep,
      });
      const r = registration.result;
      const secrets = {
        kind: registration.kind,
        target: registration.target,
        host: registration.address,
        hostId: r.mac.toUpperCase(),
        nickname: r.nickname,
        registKey: r.registKeyText,
        rpKey: toHex(r.morning),
        accountId: accountB64,
        createdAt: new Date().toISOString(),
      };
      // Pairing the same account with the same console again refreshes that profile's secrets.
      const same =
        name === undefined
          ? before.find((p) => p.hostId === secrets.hostId && p.accountId === accountB64)
          : undefined;
      // A new profile starts with what this machine plays best (a Pi 5 asks a PS5 for HEVC...).
      const settings = same
        ? same.settings
        : platformDefaults(registration.kind, await platformFacts(o.machine ?? realHost()));
      const input: ProfileInput = {
        ...same,
        settings,
        name:
          same?.name ??
          name ??
          uniqueProfileName(
            r.nickname || `${registration.kind}-${secrets.hostId.slice(-4)}`,
            before.map((p) => p.name),
          ),
        ...secrets,
      };
      try {
        const profile = await retryWrite(() => (same ? tx.update(same.name, () => input) : tx.add(input)));
        return { profile, replaced: same !== undefined, registration };
      } catch (err) {
        throw await unstoredPairing(err, input, o.store.path, registration);
      }
    },
    { failFast: (holder) => holder.purpose.startsWith(PAIRING) },
  );
}

/** A write that fails for a passing reason (a full disk being cleaned up) gets two more tries. */
async function retryWrite<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!(err instanceof ConfigError) || attempt === 3) throw err;
      await sleep(250 * attempt);
    }
  }
}

/**
 * The console has paired but the profile could not be stored: keep it in a 0600 recovery file
 * (next to the profiles file, else in the temp dir) and say how to finish, or, when even that
 * fails, that the console holds a pairing to remove.
 */
async function unstoredPairing(
  err: unknown,
  input: ProfileInput,
  storePath: string,
  registration: Registration,
): Promise<ConfigError> {
  const e = err as Error;
  const what = `paired with ${registration.kind} "${registration.result.nickname}" at ${registration.address}, but could not store the profile: ${e.message}`;
  const file = `unstored-pairing-${input.hostId}-${input.createdAt.replace(/[:.]/g, '-')}.json`;
  const text = `${JSON.stringify({ version: 1, profiles: [input] }, null, 2)}\n`;
  let lastError: unknown;
  for (const dir of [dirname(storePath), tmpdir()]) {
    const path = join(dir, file);
    try {
      await writeFileAtomic(path, text, 0o600);
      return new ConfigError(what, {
        hint: `its keys are kept in ${path}; once the problem is fixed, run: rptui profiles import ${path} (no new PIN needed)`,
        cause: err,
      });
    } catch (writeErr) {
      lastError = writeErr;
    }
  }
  return new ConfigError(what, {
    hint: `nothing could be kept (${(lastError as Error).message}): remove this device in the console's Remote Play settings, then pair again once ${dirname(storePath)} is writable`,
    cause: err,
  });
}
