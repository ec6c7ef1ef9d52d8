/**
 * `rptui` (no subcommand) and `rptui tui`: the terminal UI. `--simulate` also starts a simulated
 * PS5 in this process on a loopback address, with a throw-away state, and pairs a demo profile
 * with it through the real registration path, so one command shows the whole product.
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { pairAndStore } from '../client/pairing.js';
import { ProfileStore } from '../client/profiles.js';
import { RemotePlaySession, sessionOptionsFromProfile } from '../client/session.js';
import { realHost } from '../common/host.js';
import { autoVideoDriver } from '../media/hwdecode.js';
import { UsageError } from '../proto-stack/errors.js';
import { SimulatedConsole } from '../simulator/index.js';
import { startStreamService } from '../simulator/stream.js';
import { noColorRequested } from '../ui/theme.js';

interface TuiOpts {
  simulate?: boolean;
  simulateHost: string;
  simulateEvents?: string;
  gamepad: boolean;
  broadcast: boolean;
}

/** Video/audio for the demo profile: a window only where one can open (a Pi's screen counts). */
function demoSinks(env: NodeJS.ProcessEnv): { videoSink: string; audioSink: string } {
  const display =
    Boolean(env.DISPLAY || env.WAYLAND_DISPLAY) ||
    process.platform === 'darwin' ||
    autoVideoDriver(realHost(env), env) !== undefined;
  return display ? { videoSink: 'ffplay', audioSink: 'auto' } : { videoSink: 'none', audioSink: 'none' };
}

async function run(o: TuiOpts): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError(
      'the TUI needs a terminal (stdin and stdout must be a TTY)',
      'run rptui in a terminal, or use the subcommands (rptui --help) from scripts',
    );
  }
  const { runTui } = await import('../ui/run.js');
  const env = process.env;
  const cleanups: Array<() => Promise<void>> = [];
  let store = ProfileStore.fromEnv(env);
  let sim: SimulatedConsole | undefined;
  let pin = '';
  let signal: NodeJS.Signals | undefined;
  try {
    if (o.simulate) {
      const dir = await mkdtemp(join(tmpdir(), 'rptui-simulate-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      store = new ProfileStore(join(dir, 'profiles.json'));
      pin = String(randomInt(10_000_000, 100_000_000));
      sim = await SimulatedConsole.start({
        host: o.simulateHost,
        kind: 'PS5',
        pin,
        statePath: join(dir, 'console.json'),
        eventsPath: o.simulateEvents,
        bootMs: 1500,
      });
      const running = sim;
      cleanups.push(() => running.stop());
      await startStreamService(sim);
    }
    const simHost = sim?.host;
    const ended = await runTui({
      store,
      env,
      color: !noColorRequested(env),
      gamepad: o.gamepad,
      broadcast: o.broadcast,
      probeHosts: simHost ? [simHost] : [],
      subtitle: simHost ? `demo: simulated PS5 on ${simHost} (registration PIN ${pin})` : undefined,
      createSession: (p) => new RemotePlaySession(sessionOptionsFromProfile(p, { codec: p.settings.codec })),
      onReady: async ({ app, home }) => {
        if (!sim) return;
        const events = sim.events;
        const off = events.on((e, text) => {
          if (text !== undefined && e.proto !== 'ddp' && e.event !== 'stats')
            app.log(`console| ${text.trim()}`);
        });
        app.cleanups.push(off);
        app.notify(`pairing a demo profile with the simulated PS5 on ${sim.host} (PIN ${pin})...`);
        const accountId = String(randomInt(1, 2 ** 47) * 1000 + randomInt(1000));
        const { profile } = await pairAndStore({
          host: sim.host,
          pin,
          accountId,
          store,
          onStep: (t) => app.log(`demo pairing: ${t}`),
        });
        await store.update(profile.name, (p) => ({ ...p, settings: { ...p.settings, ...demoSinks(env) } }));
        await home.reload();
        app.notify(`demo ready: "${profile.name}" is paired; Enter streams, n registers another`, 'ok');
      },
    });
    signal = ended.signal;
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
  // die by the signal that ended the UI, as a shell expects (and without touching a terminal
  // that may be gone: a normal exit would try to restore its mode)
  if (signal) process.kill(process.pid, signal);
}

export const register = (program: Command): void => {
  program
    .command('tui', { isDefault: true })
    .description('the terminal UI (what `rptui` with no command opens): consoles, pairing, streaming')
    .option('--simulate', 'also start a simulated PS5 on loopback with a paired demo profile (temporary)')
    .option('--simulate-host <address>', 'loopback address of the simulated console', '127.0.0.2')
    .option('--simulate-events <file>', "write the simulated console's events as JSON lines (for tests)")
    .option('--no-gamepad', 'do not look for game pads')
    .option('--no-broadcast', 'do not broadcast on the LAN to find consoles in the register dialog')
    .addHelpText(
      'after',
      '\nKeys: ? help on every screen, L log pane, Ctrl-C quits from the home screen.\n' +
        'Colours follow NO_COLOR (https://no-color.org).\n\n' +
        'Example:\n  rptui --simulate        # try everything against a pretend console',
    )
    .allowExcessArguments(true)
    .action(async (o: TuiOpts, cmd: Command) => {
      // `rptui frobnicate` lands here as the default command's operand
      if (cmd.args.length > 0)
        throw new UsageError(`unknown command "${cmd.args[0]}"`, 'rptui --help lists the commands');
      await run(o);
    });
};
