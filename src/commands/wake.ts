import type { Command } from 'commander';
import { ProfileStore } from '../client/profiles.js';
import { wake } from '../client/wake.js';
import { fromHex } from '../proto-stack/bytes.js';
import { wakeCredential } from '../proto-stack/discovery.js';
import { UsageError } from '../proto-stack/errors.js';
import type { ConsoleKind } from '../proto-stack/target.js';
import { parseSeconds, spinner } from './discover.js';
import { print, printJson } from './output.js';

interface WakeOpts {
  host?: string;
  credential?: string;
  ps5?: boolean;
  timeout: string;
  json?: boolean;
}

export const register = (program: Command): void => {
  program
    .command('wake')
    .description('wake a console from rest mode and wait until it is ready')
    .argument('[profile]', 'name of a paired console (rptui profiles list)')
    .option('--host <address>', "console address (default: the profile's)")
    .option('--credential <number>', 'wake credential, when waking without a profile')
    .option('--ps5', 'the console is a PS5 (without a profile)')
    .option('--timeout <seconds>', 'how long to wait for the console to be ready', '30')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  rptui wake living-room\n  rptui wake --host 192.168.1.20 --credential 305419896 --ps5\n\n' +
        'The credential of a pairing is shown by `rptui profiles show NAME --secrets`. The console must be\n' +
        'in rest mode with "Enable turning on from network" on.',
    )
    .action(async (name: string | undefined, o: WakeOpts) => {
      const timeoutMs = parseSeconds(o.timeout, '--timeout');
      let host: string;
      let credential: string;
      let kind: ConsoleKind;
      let label: string;
      if (name !== undefined) {
        if (o.credential) throw new UsageError('give either a profile or --credential, not both');
        const p = await ProfileStore.fromEnv().get(name);
        host = o.host ?? p.host;
        credential = wakeCredential(fromHex(p.registKey));
        kind = p.kind;
        label = `"${p.name}"`;
      } else {
        if (!o.host || !o.credential) {
          throw new UsageError(
            'say which console to wake: a profile name, or --host and --credential',
            'rptui wake <profile>   or   rptui wake --host ADDRESS --credential NUMBER [--ps5]',
          );
        }
        host = o.host;
        credential = o.credential;
        kind = o.ps5 ? 'PS5' : 'PS4';
        label = host;
      }
      const spin = spinner(`waking ${label} at ${host}...`, !o.json);
      let r: Awaited<ReturnType<typeof wake>>;
      try {
        r = await wake({
          host,
          credential,
          kind,
          timeoutMs,
          onPoll: (c) => spin.update(`waking ${label} at ${host}: ${c ? c.status : 'no answer'}...`),
        });
      } finally {
        spin.stop();
      }
      const c = r.console;
      if (o.json) {
        const out = {
          name: c.hostName,
          kind: c.hostType,
          status: c.status,
          address: c.address,
          alreadyAwake: r.alreadyAwake,
          elapsedMs: r.elapsedMs,
        };
        printJson(out);
      } else if (r.alreadyAwake) {
        print(`${c.hostType} "${c.hostName}" at ${c.address} is already awake`);
      } else {
        print(
          `${c.hostType} "${c.hostName}" at ${c.address} is awake (${(r.elapsedMs / 1000).toFixed(1)} s)`,
        );
      }
    });
};
