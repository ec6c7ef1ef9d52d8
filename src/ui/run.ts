/**
 * Starts the TUI: the shell, the background discovery and the home screen, wired to the
 * screens it opens. Returns when the user quits and everything is shut down.
 */
import type { Profile, ProfileStore } from '../client/profiles.js';
import { realHost } from '../common/host.js';
import type { RemotePlaySessionApi } from '../common/session-api.js';
import { formatReport, runDoctor } from '../doctor/checks.js';
import { probeTerminal } from '../media/picture/probe.js';
import type { SinkOptions } from '../media/sinks.js';
import { App } from './app.js';
import { ConsoleMonitor } from './monitor.js';
import { HomeScreen } from './screens/home.js';
import { KeymapScreen } from './screens/keymap.js';
import { SettingsScreen } from './screens/settings.js';
import { StreamScreen } from './screens/stream.js';

export interface TuiOptions {
  store: ProfileStore;
  /** Environment for key maps and media tools (config dir, player paths). */
  env: NodeJS.ProcessEnv;
  color: boolean;
  gamepad: boolean;
  /** LAN broadcast discovery in the register dialog. */
  broadcast: boolean;
  /** Addresses the register dialog asks directly. */
  probeHosts: string[];
  subtitle?: string;
  createSession: (profile: Profile) => RemotePlaySessionApi;
  sinkOptions?: SinkOptions;
  /** Background work once the home screen shows (e.g. pairing the demo console). */
  onReady?: (ui: TuiHandle) => Promise<void>;
  /** Discovery poll interval. */
  pollMs?: number;
}

export interface TuiHandle {
  app: App;
  home: HomeScreen;
}

/**
 * Runs until the user quits. Returns the signal that ended it, if one did: the caller cleans up,
 * then should die by that signal (after a hang-up the terminal is gone, and a normal exit would
 * try to restore it).
 */
export async function runTui(o: TuiOptions): Promise<{ signal?: NodeJS.Signals }> {
  // the terminal is asked what pictures it draws before blessed takes stdin (video output
  // `terminal`); a terminal that does not answer costs the probe's timeout once
  const answers = await probeTerminal({ write: (q) => process.stdout.write(q) });
  const sinkOptions: SinkOptions = {
    ...o.sinkOptions,
    picture: { ...o.sinkOptions?.picture, answers },
  };
  const app = await App.create({
    color: o.color,
    gamepad: o.gamepad,
    subtitle: o.subtitle,
    // blessed owns the terminal here: the terminal's own answers are not asked for
    systemReport: async () => formatReport(await runDoctor({ host: realHost(o.env) })),
  });
  let home: HomeScreen | undefined;
  const monitor = new ConsoleMonitor(
    () => (home?.list ?? []).map((p) => ({ host: p.host, kind: p.kind })),
    () => app.render(),
    { intervalMs: o.pollMs },
  );
  app.cleanups.push(() => monitor.stop());
  home = new HomeScreen({
    app,
    store: o.store,
    monitor,
    register: { broadcast: o.broadcast, probeHosts: o.probeHosts, env: o.env },
    connect: (profile, status) => {
      const screen = new StreamScreen({
        app,
        profile,
        status,
        createSession: o.createSession,
        env: o.env,
        sinkOptions,
        onClosed: () => void monitor.pollNow(),
      });
      app.pushScreen(screen);
      void screen.start();
    },
    openSettings: (profile) => app.pushScreen(new SettingsScreen(app, o.store, profile, o.env)),
    openKeymap: (profile) => {
      try {
        app.pushScreen(new KeymapScreen(app, o.store, profile, o.env));
      } catch (err) {
        app.showError('Key map', err);
      }
    },
  });
  app.pushScreen(home);
  monitor.start();
  await home.reload();
  const handle = { app, home };
  const ready = o.onReady?.(handle).catch((err) => app.showError('Start-up', err));
  let signal: NodeJS.Signals | undefined;
  const onTerm = () => {
    signal = 'SIGTERM';
    void app.quit();
  };
  const onHup = () => {
    signal = 'SIGHUP';
    app.terminalGone();
    void app.quit();
  };
  // a bug outside the UI's guards must not leave the terminal in raw mode on the alternate screen
  const fatal = (err: unknown) => {
    try {
      app.screen.destroy();
    } catch {
      // the terminal is restored as far as it goes
    }
    process.stderr.write(`rptui: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(70);
  };
  process.once('SIGTERM', onTerm);
  process.once('SIGHUP', onHup);
  process.on('uncaughtException', fatal);
  try {
    await app.waitForQuit();
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
    process.off('uncaughtException', fatal);
    await ready;
    await app.destroy();
  }
  return { signal };
}
