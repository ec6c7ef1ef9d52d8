import type { Command } from 'commander';
import {
  type Keymap,
  keymapJson,
  keysByControl,
  listKeymaps,
  loadKeymap,
  loadKeymapFile,
} from '../input/keymap.js';
import { formatTable } from './discover.js';
import { print, printJson } from './output.js';

function describeKeymap(m: Keymap): string {
  const rows = keysByControl(m).map(([control, keys]) => [control, keys.join(', ')]);
  return [
    `key map "${m.name}" (${m.source})`,
    ...(m.description ? [m.description] : []),
    '',
    formatTable(['CONTROL', 'KEYS'], rows),
    '',
    `leave the stream: ${m.exitHotkey}`,
    `sticks: ${m.stickMode}, triggers: ${m.triggerMode}`,
    `terminals without the kitty keyboard protocol: a tap holds ${m.initialHoldMs} ms, a held key is released ${m.releaseTimeoutMs} ms after its last auto-repeat`,
  ].join('\n');
}

export const register = (program: Command): void => {
  const cmd = program
    .command('keymap')
    .description('show and check keyboard maps (own maps go in <config dir>/keymaps/<name>.json)');

  cmd
    .command('show')
    .description('print a key map: which key drives which controller control')
    .argument('[name]', 'key map name', 'default')
    .option('--json', 'print JSON: { "keys": { "<key>": "<control>" }, ... }')
    .action((name: string, o: { json?: boolean }) => {
      const m = loadKeymap(name);
      if (o.json) printJson(keymapJson(m));
      else print(describeKeymap(m));
    });

  cmd
    .command('check')
    .description('validate a key map file; exits 1 naming the bad entry')
    .argument('<file>', 'path of a key map JSON file')
    .option('--json', 'print the validated map as JSON')
    .action((file: string, o: { json?: boolean }) => {
      const m = loadKeymapFile(file);
      if (o.json) return printJson({ ok: true, ...keymapJson(m) });
      print(`${file}: ok, ${Object.keys(m.keys).length} keys, exit with ${m.exitHotkey}`);
    });

  cmd
    .command('list')
    .description('list the available key maps (built-in and your own)')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => {
      const names = listKeymaps();
      if (o.json) printJson(names);
      else print(names.join('\n'));
    });
};
