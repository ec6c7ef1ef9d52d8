/**
 * `rptui bridge PROFILE`: the controller bridge (as `rptui connect --bridge`). A machine with no
 * screen (a Pi Zero 2 W by the TV) turns its pads and keys into a PlayStation controller: the
 * smallest stream the console serves, nothing decoded or played, one status line.
 */
import type { Command } from 'commander';
import { runConnect } from './connect.js';

interface BridgeOpts {
  host?: string;
  duration?: string;
  statsJson?: string;
  loginPin?: string;
  json?: boolean;
  keymap?: string;
  gamepad?: boolean;
  senkusha?: boolean;
}

export const register = (program: Command): void => {
  program
    .command('bridge')
    .description('controller bridge: pads and keys play on the console, no picture or sound (input only)')
    .argument('<profile>', 'name of a paired console (rptui profiles list)')
    .option('--host <address>', "console address (default: the profile's)")
    .option('--duration <seconds>', 'disconnect after this long (default: until Ctrl-C)')
    .option('--stats-json <file>', 'write statistics as JSON to this file (every second and at the end)')
    .option('--login-pin <digits>', "the console user's 4-digit login passcode, if the console asks")
    .option('--json', 'print the final statistics as JSON on stdout')
    .option('--keymap <name|file>', "key map: a name or a JSON file (default: the profile's)")
    .option('--no-gamepad', 'keyboard only: do not look for game pads')
    .option('--no-senkusha', 'skip the RTT/MTU probe (UDP 9297)')
    .addHelpText(
      'after',
      '\nAsks the console for 360p at 30 fps and 2000 kbit/s (the smallest stream it serves) and plays\n' +
        'none of it: the stream is still authenticated and acknowledged, so the console keeps the\n' +
        'session, but nothing is decoded. Game pads (and the keyboard, through the key map) are the\n' +
        'controller; one status line says how long it runs, what was sent and which pad is in use.\n' +
        'Exit status as for rptui connect.\n\nExample:\n  rptui bridge living-room --no-senkusha',
    )
    .action((name: string, o: BridgeOpts) => runConnect(name, { ...o, bridge: true }));
};
