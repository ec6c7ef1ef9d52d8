// Runs the real CLI (bin/rptui, see rptuiBin) as a child process with its own config dir, and collects what
// it prints. Temp dirs and processes made through a Harness are removed/killed by cleanup(),
// which useHarness() wires to afterEach/afterAll so no test leaves anything behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, afterEach } from 'vitest';
import { repoRoot } from './vectors.js';

let snapshotBin: string | undefined;

/**
 * The bin/rptui to run. Other test runs in the same checkout rebuild dist/cli.js at any moment
 * (vitest's global setup), and a half-written bundle makes a CLI run fail in odd ways. So each
 * test process bundles the current sources once into a private copy of the package (bin/ and
 * dist/ real, everything else symlinked) and runs that bin/rptui. RPTUI_TEST_BIN overrides.
 */
export function rptuiBin(): string {
  if (process.env.RPTUI_TEST_BIN) return process.env.RPTUI_TEST_BIN;
  if (snapshotBin) return snapshotBin;
  const root = mkdtempSync(join(tmpdir(), 'rptui-bin-'));
  process.on('exit', () => rmSync(root, { recursive: true, force: true }));
  for (const entry of readdirSync(repoRoot)) {
    if (entry !== 'bin' && entry !== 'dist' && entry !== '.git')
      symlinkSync(join(repoRoot, entry), join(root, entry));
  }
  mkdirSync(join(root, 'bin'));
  copyFileSync(join(repoRoot, 'bin', 'rptui'), join(root, 'bin', 'rptui'));
  buildSync({
    entryPoints: [join(repoRoot, 'src', 'cli.ts')],
    outdir: join(root, 'dist'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'error',
  });
  snapshotBin = join(root, 'bin', 'rptui');
  return snapshotBin;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** RPTUI_CONFIG_DIR for the run (required so no test touches the user's real profiles). */
  configDir: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Standard input: none (default), or a pipe the test writes to (spawnCli) or this text (runCli). */
  stdin?: 'pipe';
  input?: string;
}

/** Spawns ./bin/rptui with `args`; resolves when it exits (SIGKILL after the timeout). */
export function spawnCli(args: string[], opts: CliOptions): ChildProcess {
  return spawn(process.execPath, [rptuiBin(), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...opts.env, RPTUI_CONFIG_DIR: opts.configDir, RPTUI_DEV: '', FORCE_COLOR: '0' },
    stdio: [opts.stdin ?? (opts.input === undefined ? 'ignore' : 'pipe'), 'pipe', 'pipe'],
  });
}

export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
  const child = spawnCli(args, opts);
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  return cliResult(child, args, opts.timeoutMs);
}

/** What a spawnCli child prints, once it exits (SIGKILL after the timeout). */
export function cliResult(child: ChildProcess, args: string[], timeoutMs = 20_000): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `rptui ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs a command that never reads the config dir (rif, pcoip, keymap check...). */
export function runStateless(...args: string[]): Promise<CliResult> {
  return runCli(args, { configDir: join(tmpdir(), 'rptui-test-no-config') });
}

/** Owns temp dirs and child processes; cleanup() kills and removes them all. */
export class Harness {
  private readonly dirs: string[] = [];
  private readonly closers: Array<() => Promise<void>> = [];

  tempDir(prefix = 'rptui-test-'): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  /** Registers something to stop at cleanup (run in reverse order of registration). */
  defer(close: () => Promise<void>): void {
    this.closers.push(close);
  }

  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    for (const close of this.closers.splice(0).reverse()) {
      await close().catch((e) => errors.push(e));
    }
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    if (errors.length) throw errors[0];
  }
}

/** A Harness cleaned up after each test (`scope: 'each'`) or after the file (`'all'`). */
export function useHarness(scope: 'each' | 'all' = 'each'): Harness {
  const h = new Harness();
  if (scope === 'each') afterEach(() => h.cleanup());
  else afterAll(() => h.cleanup());
  return h;
}
