import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { discover } from '../client/discovery.js';
import { pairAndStore } from '../client/pairing.js';
import { ProfileStore } from '../client/profiles.js';
import { wake } from '../client/wake.js';
import { fromHex } from '../proto-stack/bytes.js';
import { wakeCredential } from '../proto-stack/discovery.js';
import { ConsoleRefusedError } from '../proto-stack/errors.js';
import { SimulatedConsole } from '../simulator/index.js';
import { consolesTable, formatTable } from './discover.js';
import { print } from './output.js';

interface DemoOpts {
  host: string;
  ps4?: boolean;
  keep?: boolean;
}

const say = (text = ''): void => print(text);
const indent = (text: string) => text.replace(/^/gm, '    ');

export const register = (program: Command): void => {
  program
    .command('demo')
    .description('a guided walkthrough against a built-in simulated console: discover, pair, list, wake')
    .option('--host <address>', 'loopback address for the simulated console', '127.0.0.2')
    .option('--ps4', 'simulate a PS4 (its discovery port 987 needs root on Linux); default: a PS5')
    .option('--keep', 'store the demo profile in your real config dir instead of a temporary one')
    .action(async (o: DemoOpts) => {
      const kind = o.ps4 ? 'PS4' : 'PS5';
      const pin = String(randomInt(10_000_000, 100_000_000));
      const accountId = String(randomInt(1, 2 ** 47) * 1000 + randomInt(1000));
      const tmp = o.keep ? undefined : await mkdtemp(join(tmpdir(), 'rptui-demo-'));
      const store = tmp ? new ProfileStore(join(tmp, 'profiles.json')) : ProfileStore.fromEnv();
      let sim: SimulatedConsole | undefined;
      try {
        say('rptui demo: everything below talks to a simulated console on this machine, through the');
        say('same code paths the real commands use.\n');

        say(
          `1. Start a simulated ${kind} on ${o.host}   (rptui simulate --host ${o.host}${o.ps4 ? '' : ' --ps5'})`,
        );
        sim = await SimulatedConsole.start({ host: o.host, kind, pin, bootMs: 1500 });
        sim.events.on((e, text) => {
          // The console's side of the story, except the discovery chatter.
          if (text === undefined || e.proto === 'ddp' || e.event === 'stopped') return;
          say(`      console| ${text.trim()}`);
        });
        say(`   Its screen shows the registration PIN ${pin}.\n`);

        say(`2. Find it   (rptui discover --host ${o.host})`);
        const found = await discover({ host: o.host, timeoutMs: 3000 });
        say(`${indent(consolesTable(found))}\n`);

        const wrong = pin === '12345678' ? '87654321' : '12345678';
        say(
          `3. Pair with a wrong PIN first   (rptui register --host ${o.host} --pin ${wrong} --account-id ${accountId})`,
        );
        try {
          await pairAndStore({ host: o.host, pin: wrong, accountId, store });
          throw new Error('the simulated console accepted a wrong PIN');
        } catch (err) {
          if (!(err instanceof ConsoleRefusedError)) throw err;
          say(`    refused, as it should be: ${err.message}`);
          say(`    nothing was stored (${(await store.list()).length} profiles)\n`);
        }

        say(
          `4. Pair with the right PIN   (rptui register --host ${o.host} --pin ${pin} --account-id ${accountId})`,
        );
        const { profile } = await pairAndStore({ host: o.host, pin, accountId, store });
        say(`    paired; profile "${profile.name}" stored in ${store.path} (mode 0600)\n`);

        say('5. Your paired consoles   (rptui profiles list)');
        const all = await store.list();
        say(
          `${indent(
            formatTable(
              ['NAME', 'KIND', 'ADDRESS', 'HOST ID'],
              all.map((p) => [p.name, p.kind, p.host, p.hostId]),
            ),
          )}\n`,
        );

        say('6. The console goes to rest mode; discovery now says:');
        sim.power = 'standby';
        say(`${indent(consolesTable(await discover({ host: o.host, timeoutMs: 3000 })))}`);
        say(`   Wake it with the pairing's credential   (rptui wake "${profile.name}")`);
        const woke = await wake({
          host: profile.host,
          credential: wakeCredential(fromHex(profile.registKey)),
          kind: profile.kind,
          timeoutMs: 15_000,
        });
        say(
          `    ${woke.console.hostName} is ${woke.console.status} after ${(woke.elapsedMs / 1000).toFixed(1)} s\n`,
        );

        say('Done. Try it by hand in two terminals:');
        say(
          `    rptui simulate --host ${o.host}${o.ps4 ? '' : ' --ps5'} --pin ${pin} --state /tmp/console.json`,
        );
        say(`    rptui discover --host ${o.host}`);
        say(`    rptui register --host ${o.host} --pin ${pin} --account-id ${accountId} --name demo`);
        say('    rptui profiles list');
        if (tmp)
          say('(the demo profile lived in a temporary directory and is gone; --keep stores it for real)');
      } finally {
        await sim?.stop();
        if (tmp) await rm(tmp, { recursive: true, force: true });
      }
    });
};
