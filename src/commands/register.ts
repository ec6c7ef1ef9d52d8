import type { Command } from 'commander';
import {
  PROFILE_NAME_RE,
  type Profile,
  ProfileStore,
  platformDefaults,
  uniqueProfileName,
} from '../client/profiles.js';
import { type PsnAccount, PsnAccountStore } from '../client/psn-account.js';
import { parsePin, type Registration, register as registerConsole } from '../client/regist.js';
import { type Host, realHost } from '../common/host.js';
import { platformFacts } from '../media/hwdecode.js';
import { toBase64, toHex } from '../proto-stack/bytes.js';
import { UsageError } from '../proto-stack/errors.js';
import { parseAccountId } from '../proto-stack/regist.js';
import { spinner } from './discover.js';

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

/**
 * Validates everything that can be checked offline, registers, then stores the profile. Any
 * failure happens before the store is touched, so nothing is stored on error.
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
  const before = await o.store.list(); // a corrupt profiles file stops us before the console is asked
  if (o.name !== undefined && before.some((p) => p.name === o.name)) {
    throw new UsageError(
      `a profile named "${o.name}" already exists`,
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
    o.name === undefined
      ? before.find((p) => p.hostId === secrets.hostId && p.accountId === accountB64)
      : undefined;
  if (same) {
    const profile = await o.store.update(same.name, (p) => ({ ...p, ...secrets }));
    return { profile, replaced: true, registration };
  }
  const name =
    o.name ??
    uniqueProfileName(
      r.nickname || `${registration.kind}-${secrets.hostId.slice(-4)}`,
      before.map((p) => p.name),
    );
  // A new profile starts with what this machine plays best (a Pi 5 asks a PS5 for HEVC...).
  const settings = platformDefaults(registration.kind, await platformFacts(o.machine ?? realHost()));
  const profile = await o.store.add({ name, ...secrets, settings });
  return { profile, replaced: false, registration };
}

interface RegisterOpts {
  host: string;
  pin: string;
  accountId?: string;
  ps5?: boolean;
  name?: string;
  json?: boolean;
}

export const register = (program: Command): void => {
  program
    .command('register')
    .description('pair with a console using the PIN it shows, and store the pairing as a profile')
    .requiredOption('--host <address>', 'console address (rptui discover lists it)')
    .requiredOption('--pin <digits>', 'the 8-digit PIN the console shows')
    .option(
      '--account-id <id>',
      'PSN account id: base64 (12 characters) or the decimal number (default: the one rptui login stored)',
    )
    .option('--ps5', 'the console is a PS5 (only needed when it does not answer discovery)')
    .option('--name <name>', "profile name (default: the console's nickname)")
    .option('--json', 'print the stored profile (without secrets) as JSON')
    .addHelpText(
      'after',
      `
Before running this, open the pairing screen on the console:
  PS4: Settings > Remote Play Connection Settings > Add Device
  PS5: Settings > System > Remote Play > Link Device
It shows an 8-digit PIN for a few minutes.

The PSN account id is the numeric id of the PSN user signed in on the console (not the online
name). rptui login finds it: sign in to PSN once (in any browser, a phone's too) and it is
stored; register then uses it when --account-id is not given. Both forms are accepted by
--account-id, e.g. 1234567890123456789 or FYHpffQQIhE= (the same id).

Examples:
  rptui login
  rptui register --host 192.168.1.20 --pin 12345678 --name living-room
  rptui register --host 192.168.1.20 --pin 12345678 --account-id 1234567890123456789`,
    )
    .action(async (o: RegisterOpts) => {
      let accountId = o.accountId;
      let whose = '';
      if (accountId === undefined) {
        const a = await storedAccount();
        accountId = a.accountId;
        whose = ` for the PSN account ${a.onlineId ? `"${a.onlineId}"` : a.accountIdDecimal} (rptui login)`;
      }
      const spin = spinner(`pairing with ${o.host}...`, !o.json);
      let paired: Paired;
      try {
        paired = await pairAndStore({
          ...o,
          accountId,
          store: ProfileStore.fromEnv(),
          onStep: (t) => spin.update(t),
        });
      } finally {
        spin.stop();
      }
      const p = paired.profile;
      if (o.json) {
        process.stdout.write(`${JSON.stringify(publicProfile(p), null, 2)}\n`);
      } else {
        process.stdout.write(
          `paired with ${p.kind} "${p.nickname}" (host-id ${p.hostId}) at ${p.host}; ` +
            `${paired.replaced ? 'updated' : 'stored'} profile "${p.name}"${whose}\n`,
        );
      }
    });
};

/** The account id `rptui login` stored; a UsageError saying how to get one when there is none. */
async function storedAccount(): Promise<PsnAccount> {
  const account = await PsnAccountStore.fromEnv().load();
  if (!account) {
    throw new UsageError(
      'no PSN account id: none given and none stored',
      'sign in to PSN once to find and store it (rptui login), or give --account-id',
    );
  }
  return account;
}

/** A profile without its secrets. */
export function publicProfile(p: Profile) {
  const { registKey: _r, rpKey: _k, accountId: _a, ...rest } = p;
  return rest;
}
