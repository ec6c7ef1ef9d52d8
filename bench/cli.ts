/**
 * What the end-to-end benches share: running bin/rptui (the TypeScript sources, RPTUI_DEV) with a
 * config dir of its own, waiting for it, and pairing with a simulator they started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The node flags bin/rptui's first line starts it with: a bench runs rptui as a user's shell would. */
export const NODE_FLAGS: string[] = (() => {
  const line = readFileSync(join(root, 'bin', 'rptui'), 'utf8').split('\n', 1)[0];
  const m = /^#!\/usr\/bin\/env (?:-S )?node((?: --[\w-]+(?:=\S+)?)*)$/.exec(line);
  if (!m) throw new Error(`bin/rptui: unexpected first line ${JSON.stringify(line)}`);
  return m[1].split(' ').filter(Boolean);
})();

export const BENCH_PIN = '35791246';
const ACCOUNT = '1234567890123456789';

/** bin/rptui with `args`; its output piped (for exited()) unless `quiet`. */
export function rptui(
  args: string[],
  configDir: string,
  o: { env?: NodeJS.ProcessEnv; stdin?: 'pipe'; quiet?: boolean } = {},
): ChildProcess {
  const out = o.quiet ? 'ignore' : 'pipe';
  return spawn(process.execPath, [...NODE_FLAGS, join(root, 'bin', 'rptui'), ...args], {
    cwd: root,
    env: { ...process.env, RPTUI_CONFIG_DIR: configDir, RPTUI_DEV: '1', FORCE_COLOR: '0', ...o.env },
    stdio: [o.stdin ?? 'ignore', out, out],
  });
}

/** Its exit code once it exits. */
export const exitCode = (p: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => (p.exitCode !== null ? resolve(p.exitCode) : p.once('exit', resolve)));

/** What a child printed (stdout and stderr), once it exits with 0; SIGKILL and reject after the timeout. */
export function exited(p: ChildProcess, what: string, timeoutMs: number): Promise<string> {
  let out = '';
  p.stdout?.setEncoding('utf8').on('data', (s: string) => {
    out += s;
  });
  p.stderr?.setEncoding('utf8').on('data', (s: string) => {
    out += s;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${what} did not finish within ${timeoutMs / 1000} s:\n${out}`));
    }, timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${what} failed (exit ${code}):\n${out}`));
    });
  });
}

/** Pairs the config dir with the simulator at `host` as profile "tv". */
export async function registerTv(host: string, configDir: string, pin = BENCH_PIN): Promise<void> {
  await exited(
    rptui(['register', '--host', host, '--pin', pin, '--account-id', ACCOUNT, '--name', 'tv'], configDir),
    'rptui register',
    30_000,
  );
}
