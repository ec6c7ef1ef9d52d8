import type { Command } from 'commander';
import { type Paired, pairAndStore } from '../client/pairing.js';
import { type Profile, ProfileStore } from '../client/profiles.js';
import { type PsnAccount, PsnAccountStore } from '../client/psn-account.js';
import { UsageError } from '../proto-stack/errors.js';
import { spinner } from './discover.js';
import { print, printJson } from './output.js';

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
      if (o.json) printJson(publicProfile(p));
      else
        print(
          `paired with ${p.kind} "${p.nickname}" (host-id ${p.hostId}) at ${p.host}; ` +
            `${paired.replaced ? 'updated' : 'stored'} profile "${p.name}"${whose}`,
        );
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
