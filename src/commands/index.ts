// The subcommands, in the order `rptui --help` lists them. Each module exports
// `register(program)`.
import type { Command } from 'commander';
import { register as bridge } from './bridge.js';
import { register as connect } from './connect.js';
import { register as demo } from './demo.js';
import { register as discover } from './discover.js';
import { register as doctor } from './doctor.js';
import { register as keymap } from './keymap.js';
import { register as login } from './login.js';
import { register as pads } from './pads.js';
import { register as pcoip } from './pcoip.js';
import { register as profiles } from './profiles.js';
import { register as registerCmd } from './register.js';
import { register as rif } from './rif.js';
import { register as simulate } from './simulate.js';
import { register as tui } from './tui.js';
import { register as wake } from './wake.js';

export type Register = (program: Command) => void;

export const commands: Register[] = [
  tui,
  discover,
  wake,
  login,
  registerCmd,
  profiles,
  connect,
  bridge,
  simulate,
  demo,
  pcoip,
  rif,
  keymap,
  pads,
  doctor,
];
