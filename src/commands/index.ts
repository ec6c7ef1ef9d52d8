// The subcommands, in the order `rptui --help` lists them. Each module exports
// `register(program)`.
import type { Command } from 'commander';
import { register as pcoip } from './pcoip.js';
import { register as rif } from './rif.js';

export type Register = (program: Command) => void;

export const commands: Register[] = [pcoip, rif];
