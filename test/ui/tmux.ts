// A real terminal for TUI tests: one private tmux server per test (-L socket), a fixed-size
// window running a command, key sending and capture-pane snapshots. kill() stops the server and
// with it every process in the pane.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Harness, rptuiBin } from '../helpers/cli.js';
import { alive, childPids } from '../helpers/system.js';

export interface TmuxStart {
  command: string[];
  env?: Record<string, string>;
  width?: number;
  height?: number;
  /** stderr of the command goes here (shown when a wait fails). */
  stderrPath?: string;
}

let counter = 0;

/** `s` as one single-quoted sh word. */
export const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export class Tmux {
  readonly socket = `rptui-ui-${process.pid}-${++counter}`;
  private stderrPath: string | undefined;
  private alive = false;

  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  }

  start(o: TmuxStart): void {
    this.stderrPath = o.stderrPath;
    const env = Object.entries({ LANG: 'C.UTF-8', TERM: 'screen-256color', ...o.env }).flatMap(([k, v]) => [
      '-e',
      `${k}=${v}`,
    ]);
    const cmd = o.command.map(shellQuote).join(' ') + (o.stderrPath ? ` 2>${shellQuote(o.stderrPath)}` : '');
    this.tmux(
      'new-session',
      '-d',
      '-x',
      String(o.width ?? 100),
      '-y',
      String(o.height ?? 30),
      ...env,
      `${cmd}; echo "[exited $?]"; sleep 600`,
    );
    this.alive = true;
  }

  /** The visible screen as text (`escapes`: with SGR colour/attribute codes). */
  capture(escapes = false): string {
    return this.tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []));
  }

  /** tmux key names ("Enter", "C-q", "Down") or literal text with `literal`. */
  send(...keys: string[]): void {
    this.tmux('send-keys', ...keys);
  }

  type(text: string): void {
    this.tmux('send-keys', '-l', text);
  }

  resize(width: number, height: number): void {
    this.tmux('resize-window', '-x', String(width), '-y', String(height));
  }

  /** Waits until the screen matches; returns that screen. */
  async waitFor(match: string | RegExp | ((screen: string) => boolean), timeoutMs = 10_000): Promise<string> {
    const test =
      typeof match === 'function'
        ? match
        : typeof match === 'string'
          ? (s: string) => s.includes(match)
          : (s: string) => match.test(s);
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    for (;;) {
      screen = this.capture();
      if (test(screen)) return screen;
      if (Date.now() > deadline) {
        const err =
          this.stderrPath && existsSync(this.stderrPath) ? readFileSync(this.stderrPath, 'utf8') : '';
        throw new Error(
          `screen never matched ${String(match)} within ${timeoutMs} ms:\n${screen}\nstderr:\n${err}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills the server (the pane's processes get SIGHUP) and waits until they have exited. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.alive = false;
    let socketPath = '';
    let pids: number[] = [];
    try {
      socketPath = this.tmux('display-message', '-p', '#{socket_path}').trim();
      const shell = Number(this.tmux('display-message', '-p', '#{pane_pid}').trim());
      pids = [shell, ...childPids(shell)];
      this.tmux('kill-server');
    } catch {
      // already gone
    }
    if (socketPath) rmSync(socketPath, { force: true });
    const deadline = Date.now() + 10_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }
}

/** `rptui --simulate` (the demo) on `host` in a new tmux, with a fresh config dir. */
export function startDemo(
  h: Harness,
  host: string,
  o: { env?: Record<string, string>; width?: number; height?: number } = {},
): { t: Tmux; configDir: string; eventsPath: string } {
  const dir = h.tempDir('rptui-ui-');
  const configDir = join(dir, 'config');
  const eventsPath = join(dir, 'demo-events.jsonl');
  const t = new Tmux();
  t.start({
    command: [
      process.execPath,
      rptuiBin(),
      '--simulate',
      '--simulate-host',
      host,
      '--simulate-events',
      eventsPath,
      '--no-broadcast',
      '--no-gamepad',
    ],
    env: { RPTUI_CONFIG_DIR: configDir, ...o.env },
    width: o.width,
    height: o.height,
    stderrPath: join(dir, 'stderr.txt'),
  });
  return { t, configDir, eventsPath };
}
