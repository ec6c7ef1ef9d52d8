import type { Command } from 'commander';
import { discoverPads, hex4 } from '../input/gamepad/index.js';
import { formatTable } from './discover.js';
import { print, printJson } from './output.js';

export const register = (program: Command): void => {
  program
    .command('pads')
    .description('list game pads and the input backends that can read them (evdev, node-hid, node-gamepad)')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { pads, backends } = await discoverPads();
      if (o.json) return printJson({ pads, backends });
      if (pads.length === 0) print('no game pads found (keyboard play still works)');
      else
        print(
          formatTable(
            ['BACKEND', 'NAME', 'ID', 'TYPE', 'RUMBLE', 'READABLE', 'PATH'],
            pads.map((p) => [
              p.backend,
              p.name,
              `${hex4(p.vendorId)}:${hex4(p.productId)}`,
              p.family,
              p.rumble ? 'yes' : 'no',
              p.readable ? 'yes' : 'no (permission)',
              p.path,
            ]),
          ),
        );
      print('');
      print(
        formatTable(
          ['BACKEND', 'STATUS', 'DETAIL'],
          backends.map((b) => [b.backend, b.available ? 'available' : 'missing', b.detail]),
        ),
      );
    });
};
