// The package as a user gets it: `npm pack` in a clean copy of the sources (its prepare script
// bundles dist/), `npm install -g` of the tarball into a temporary prefix (production and
// optional dependencies from the npm registry, no dev dependencies, no build step), then
// `rptui --help`, `rptui doctor --json` and `rptui --simulate` from that install, and `npx` of
// the tarball. Its npm cache is a temporary one too, so nothing lands in the user's.
// Loopback addresses of this file: 127.0.0.116-127.0.0.117.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { useHarness } from '../helpers/cli.js';
import { repoRoot } from '../helpers/vectors.js';
import { Tmux } from '../ui/tmux.js';

const run = promisify(execFile);
const h = useHarness('all');
let term: Tmux | undefined;
afterEach(async () => {
  await term?.kill();
  term = undefined;
});

/** What `npm pack` needs of the checkout (the rest is left out, as in a fresh clone's pack). */
const SOURCES = [
  'package.json',
  'package-lock.json',
  'README.md',
  'LICENSE',
  'bin',
  'config',
  'proto',
  'scripts',
  'src',
  'test/fixtures/media',
];

describe('the npm package', () => {
  it('installs from npm pack with npm install -g; --help, doctor, --simulate and npx work from it', async () => {
    const dir = h.tempDir('rptui-package-');
    const src = join(dir, 'src');
    for (const p of SOURCES) cpSync(join(repoRoot, p), join(src, p), { recursive: true });
    symlinkSync(join(repoRoot, 'node_modules'), join(src, 'node_modules'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      npm_config_cache: join(dir, 'npm-cache'),
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
      RPTUI_CONFIG_DIR: join(dir, 'config'),
      RPTUI_DEV: '',
    };
    const opts = { cwd: dir, env, maxBuffer: 16 << 20 };

    const packed = await run('npm', ['pack', '--pack-destination', dir], { ...opts, cwd: src });
    const tarball = join(dir, packed.stdout.trim().split('\n').at(-1) ?? '');
    expect(tarball).toMatch(/rptui-\d+\.\d+\.\d+\.tgz$/);
    const listing = (await run('tar', ['-tzf', tarball], opts)).stdout.split('\n');
    expect(listing).toContain('package/dist/cli.js');
    expect(listing).toContain('package/config/udev/70-rptui-pads.rules');
    expect(listing.some((f) => f.startsWith('package/src/'))).toBe(false);

    const prefix = join(dir, 'prefix');
    await run('npm', ['install', '-g', '--prefix', prefix, tarball], opts);
    const installed = join(prefix, 'lib', 'node_modules', 'rptui');
    const modules = readdirSync(join(installed, 'node_modules'));
    for (const dev of ['esbuild', 'tsx', 'typescript', 'vitest', '@biomejs'])
      expect(modules).not.toContain(dev);
    expect(existsSync(join(installed, 'src'))).toBe(false);
    const rptui = join(prefix, 'bin', 'rptui');

    const help = await run(rptui, ['--help'], opts);
    expect(help.stdout).toMatch(/Usage: rptui/);
    expect(help.stdout).toMatch(/doctor/);

    const doctor = JSON.parse(
      (await run(rptui, ['doctor', '--json', '--simulate-host', '127.0.0.116'], opts)).stdout,
    );
    const checks = doctor.sections.flatMap((s: { checks: { id: string }[] }) => s.checks);
    expect(checks.find((c: { id: string }) => c.id === 'rptui').detail).toContain(installed);
    const node = checks.find((c: { id: string }) => c.id === 'node');
    expect(node.status).toBe('ok');
    // the installed command runs through bin/rptui's first line, with its memory flags
    expect(node.detail).toContain('started with --max-semi-space-size=1 --v8-pool-size=1');

    // the TUI with its simulated console, streaming the clips the package ships
    const t = new Tmux();
    term = t;
    t.start({
      command: [rptui, '--simulate', '--simulate-host', '127.0.0.117', '--no-broadcast', '--no-gamepad'],
      env: { RPTUI_CONFIG_DIR: join(dir, 'tui-config'), PATH: env.PATH ?? '' },
      stderrPath: join(dir, 'tui-stderr.txt'),
    });
    await t.waitFor('demo ready', 20_000);
    t.send('Enter');
    await t.waitFor((s) => s.includes('streaming') && /\d+x\d+ @ 60 fps/.test(s), 15_000);
    t.send('C-q');
    await t.waitFor('left the stream', 5000);
    t.send('C-c');
    await t.waitFor('[exited 0]', 5000);

    const npx = await run('npx', ['--yes', '--package', tarball, 'rptui', '--version'], opts);
    expect(npx.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  }, 300_000);
});
