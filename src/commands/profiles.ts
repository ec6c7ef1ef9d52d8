import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { type Profile, ProfileStore } from '../client/profiles.js';
import { fromHex } from '../proto-stack/bytes.js';
import { wakeCredential } from '../proto-stack/discovery.js';
import { UsageError } from '../proto-stack/errors.js';
import { formatTable } from './discover.js';
import { print, printJson } from './output.js';
import { publicProfile } from './register.js';

function details(p: Profile, secrets: boolean): string {
  const rows: Array<[string, string]> = [
    ['name', p.name],
    ['console', `${p.kind} "${p.nickname}"`],
    ['address', p.host],
    ['host id', p.hostId],
    ['protocol', String(p.target)],
    ['paired', p.createdAt],
    ['resolution', `${p.settings.resolution} @ ${p.settings.fps} fps, bitrate ${p.settings.bitrate}`],
    ['video / audio', `${p.settings.videoSink} / ${p.settings.audioSink}`],
    ['keymap', p.settings.keymap],
  ];
  if (secrets) {
    rows.push(
      ['account id', p.accountId],
      ['regist key', p.registKey],
      ['rp key', p.rpKey],
      ['wake credential', wakeCredential(fromHex(p.registKey))],
    );
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

export const register = (program: Command): void => {
  const cmd = program
    .command('profiles')
    .description(
      'list and manage paired consoles (stored in $RPTUI_CONFIG_DIR, $XDG_CONFIG_HOME/rptui or ~/.config/rptui)',
    );
  const store = () => ProfileStore.fromEnv();

  cmd
    .command('list')
    .description('list the paired consoles')
    .option('--json', 'print JSON (without secrets)')
    .action(async (o: { json?: boolean }) => {
      const all = await store().list();
      if (o.json) return printJson(all.map(publicProfile));
      if (all.length === 0) return print('no profiles yet: pair a console with `rptui register --help`');
      print(
        formatTable(
          ['NAME', 'KIND', 'CONSOLE', 'ADDRESS', 'HOST ID', 'PAIRED'],
          all.map((p) => [p.name, p.kind, p.nickname, p.host, p.hostId, p.createdAt.slice(0, 10)]),
        ),
      );
    });

  cmd
    .command('show')
    .description('show one profile (secrets only with --secrets)')
    .argument('<name>', 'profile name')
    .option('--secrets', 'include the pairing secrets (regist key, RP key, account id, wake credential)')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { secrets?: boolean; json?: boolean }) => {
      const p = await store().get(name);
      if (o.json) {
        return printJson(
          o.secrets ? { ...p, wakeCredential: wakeCredential(fromHex(p.registKey)) } : publicProfile(p),
        );
      }
      print(details(p, o.secrets ?? false));
    });

  cmd
    .command('rm')
    .description('forget a paired console (the console keeps its side until you remove it there)')
    .argument('<name>', 'profile name')
    .option('--json', 'print the removed profile (without secrets) as JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const p = await store().remove(name);
      if (o.json) printJson(publicProfile(p));
      else print(`removed profile "${p.name}"`);
    });

  cmd
    .command('rename')
    .description('rename a profile')
    .argument('<old>', 'current name')
    .argument('<new>', 'new name')
    .option('--json', 'print the renamed profile (without secrets) as JSON')
    .action(async (from: string, to: string, o: { json?: boolean }) => {
      const p = await store().rename(from, to);
      if (o.json) printJson(publicProfile(p));
      else print(`renamed "${from}" to "${p.name}"`);
    });

  cmd
    .command('import')
    .description('add the profiles of a profiles file, e.g. the pairing a `register` could not store')
    .argument('<file>', 'a profiles file, such as the unstored-pairing-*.json that register named')
    .option('--json', 'print the imported profiles (without secrets) as JSON')
    .addHelpText(
      'after',
      '\nA profile of a console and account already stored gives that profile its new keys (its name and\n' +
        'settings stay); any other is added, under a free name if its own is taken.',
    )
    .action(async (file: string, o: { json?: boolean }) => {
      if (!existsSync(file)) throw new UsageError(`there is no file ${file}`);
      const incoming = await new ProfileStore(file).list();
      if (incoming.length === 0) throw new UsageError(`${file} holds no profiles`);
      const done = await store().importProfiles(incoming);
      if (o.json) return printJson(done.map((d) => ({ action: d.action, ...publicProfile(d.profile) })));
      for (const { profile: p, action } of done) {
        const verb = action === 'replaced' ? 'updated the keys of' : 'added';
        const note = action === 'renamed' ? ', renamed: its name was taken' : '';
        print(`${verb} profile "${p.name}" (${p.kind} "${p.nickname}" at ${p.host}${note})`);
      }
      print(`${file} is no longer needed: delete it (it holds pairing keys)`);
    });
};
