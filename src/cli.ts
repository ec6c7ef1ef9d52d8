/**
 * rptui command line. Each subcommand lives in src/commands/<name>.ts and registers itself on the
 * program; this file owns only global behaviour: error printing and exit codes.
 */
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { keepYoungGenerationSmall } from './common/heap.js';
import { RptuiError } from './proto-stack/errors.js';
import { safeLines, safeText } from './proto-stack/text.js';

const debug = process.argv.includes('--debug');

function fail(err: unknown): never {
  if (err instanceof RptuiError) {
    process.stderr.write(`rptui: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exit(err.exitCode);
  }
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`rptui: internal error: ${safeText(e.message)}\n`);
  process.stderr.write(
    debug && e.stack ? `${safeLines(e.stack)}\n` : 'hint: run again with --debug for details\n',
  );
  process.exit(70);
}

export function buildProgram(): Command {
  const program = new Command('rptui')
    .description('Remote Play for PlayStation 4 and 5 in your terminal')
    .version('0.1.0')
    .option('--debug', 'show stack traces and protocol details on errors')
    .showHelpAfterError()
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

// a stream session runs for hours: its garbage should not become RSS
keepYoungGenerationSmall();
process.on('unhandledRejection', fail);
process.on('uncaughtException', fail);
// `rptui ... | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  fail(err);
});
try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 1 ? 2 : err.exitCode);
  fail(err);
}
