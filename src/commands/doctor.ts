/**
 * `rptui doctor [--json]`: one screen that checks everything rptui uses (src/doctor/checks.ts)
 * and says, for each thing, ok, missing with the command that fixes it, or not needed.
 */
import type { Command } from 'commander';
import { realHost } from '../common/host.js';
import { formatReport, runDoctor } from '../doctor/checks.js';
import { queryTerminal } from '../doctor/terminal.js';
import { jsonText, print } from './output.js';

interface DoctorOpts {
  json?: boolean;
  simulateHost: string;
}

export const register = (program: Command): void => {
  program
    .command('doctor')
    .description('check everything rptui uses here (player, decoders, display, sound, pads, terminal, ports)')
    .option('--json', 'print JSON')
    .option('--simulate-host <address>', 'loopback address whose simulator ports are tried', '127.0.0.2')
    .addHelpText(
      'after',
      '\nEach line says ok, MISSING (with the command that fixes it on Debian / Raspberry Pi OS),\n' +
        'warn (works, but worse), or not needed. Run it in the terminal you play in: it asks that\n' +
        'terminal what it can do. Exit status 0 whatever it finds.',
    )
    .action(async (o: DoctorOpts) => {
      const report = await runDoctor({
        host: realHost(),
        terminal: () => queryTerminal(),
        simulateHost: o.simulateHost,
      });
      if (o.json) print(jsonText(report));
      else print(formatReport(report).join('\n'));
    });
};
