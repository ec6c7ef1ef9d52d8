import type { Command } from 'commander';
import { discover, type FoundConsole } from '../client/discovery.js';
import { NetworkError, UsageError } from '../proto-stack/errors.js';
import { safeText } from '../proto-stack/text.js';
import { print, printJson } from './output.js';

/** Seconds from the command line as milliseconds (0 < s <= 600). */
export function parseSeconds(text: string, option: string): number {
  const s = Number(text);
  if (!Number.isFinite(s) || s <= 0 || s > 600) {
    throw new UsageError(`${option} takes a number of seconds between 0 and 600, got "${text}"`);
  }
  return Math.round(s * 1000);
}

/** A spinner on stderr while waiting, only when stderr is a terminal (and not in --json mode). */
export function spinner(text: string, enabled = true): { update(t: string): void; stop(): void } {
  if (!enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let i = 0;
  let label = text;
  const draw = () => process.stderr.write(`\r\x1b[2K${frames[i++ % frames.length]} ${safeText(label)}`);
  draw();
  const timer = setInterval(draw, 80);
  return {
    update: (t) => {
      label = t;
    },
    stop: () => {
      clearInterval(timer);
      process.stderr.write('\r\x1b[2K');
    },
  };
}

/** Left-aligned text table; cells are made terminal-safe first, so the columns line up. */
export function formatTable(headers: string[], cells: string[][]): string {
  const rows = cells.map((r) => r.map(safeText));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function consoleJson(c: FoundConsole) {
  return {
    name: c.hostName,
    kind: c.hostType,
    status: c.status,
    hostId: c.hostId,
    runningApp:
      c.runningAppTitleId || c.runningAppName
        ? { titleId: c.runningAppTitleId ?? null, name: c.runningAppName ?? null }
        : null,
    address: c.address,
    systemVersion: c.systemVersion,
    target: c.target,
  };
}

export function consolesTable(list: FoundConsole[]): string {
  return formatTable(
    ['NAME', 'KIND', 'STATUS', 'HOST ID', 'RUNNING APP', 'ADDRESS'],
    list.map((c) => [
      c.hostName,
      c.hostType,
      c.status,
      c.hostId,
      c.runningAppName ?? c.runningAppTitleId ?? '-',
      c.address,
    ]),
  );
}

export const register = (program: Command): void => {
  program
    .command('discover')
    .description('find PlayStation consoles on the LAN (or ask one host) and show their state')
    .option('--host <address>', 'ask only this address (unicast) instead of broadcasting')
    .option('--timeout <seconds>', 'how long to wait for answers', '3')
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      '\nAsks on UDP 987 (PS4) and 9302 (PS5). Without --host the question is broadcast to 255.255.255.255;\n' +
        'consoles in rest mode answer "standby" if network wake-up is enabled on them.',
    )
    .action(async (o: { host?: string; timeout: string; json?: boolean }) => {
      const timeoutMs = parseSeconds(o.timeout, '--timeout');
      const spin = spinner(o.host ? `asking ${o.host}...` : 'searching the LAN for consoles...', !o.json);
      let list: FoundConsole[];
      try {
        list = await discover({
          host: o.host,
          timeoutMs,
          onFound: (c) => spin.update(`found ${c.hostName}, still listening...`),
        });
      } finally {
        spin.stop();
      }
      if (list.length === 0) {
        throw new NetworkError(
          o.host
            ? `no console answered at ${o.host} within ${o.timeout} s`
            : `no console answered on the LAN within ${o.timeout} s`,
          {
            hint: o.host
              ? 'check the address, that the console is on or in rest mode with network wake-up enabled, and that UDP 987/9302 are not blocked; try --timeout 10'
              : 'check that this machine is on the same network as the console and that broadcasts are not blocked; or try --host <console address>',
          },
        );
      }
      if (o.json) printJson(list.map(consoleJson));
      else print(consolesTable(list));
    });
};
