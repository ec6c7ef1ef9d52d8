// End to end: `rptui login` / `login --status` / `logout` and `register` without --account-id,
// the real CLI against the fake PSN sign-in service (127.0.0.101, RPTUI_PSN_AUTH_URL) and a
// simulated PS5 (127.0.0.102). The real sign-in service is never called. Also in a real 80x24
// terminal (tmux): the QR code printed there scans back to the sign-in address.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PSN_AUTH, signInUrl } from '../../src/proto-stack/psn.js';
import { type CliResult, rptuiBin, runCli, spawnCli, useHarness } from '../helpers/cli.js';
import { FakePsn } from '../helpers/fake-psn.js';
import { decodeTerminalQr } from '../helpers/qr.js';
import { startSimulator } from '../helpers/simulator.js';
import { Tmux } from '../ui/tmux.js';

const h = useHarness();
const PSN_HOST = '127.0.0.101';
const SIM_HOST = '127.0.0.102';
const PIN = '13572468';
let term: Tmux | undefined;
afterEach(async () => {
  await term?.kill();
  term = undefined;
});

async function fake(o: { clientSecret?: string } = {}): Promise<FakePsn> {
  const f = await FakePsn.start({
    host: PSN_HOST,
    userId: '1234567890123456789',
    onlineId: 'couch-player',
    ...o,
  });
  h.defer(() => f.close());
  return f;
}

/**
 * `rptui login` as a user runs it: waits for the prompt, "opens" the printed address in a browser
 * (the fake signs in at once), and pastes what `paste` makes of the address the browser ends on.
 */
async function interactiveLogin(
  f: FakePsn,
  configDir: string,
  paste: (redirect: string) => string,
  args: string[] = [],
): Promise<CliResult & { url: string }> {
  const child = spawnCli(['login', ...args], {
    configDir,
    env: { RPTUI_PSN_AUTH_URL: f.baseUrl },
    stdin: 'pipe',
  });
  let stdout = '';
  let stderr = '';
  let url = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('close', (code, signal) => r({ code, signal })),
  );
  const deadline = Date.now() + 15_000;
  while (!(stdout + stderr).includes('address> ')) {
    if (Date.now() > deadline) throw new Error(`no prompt:\n${stdout}\n${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  url = (stdout + stderr).split('\n').find((l) => l.startsWith(`${f.baseUrl}/`)) ?? '';
  child.stdin?.end(`${paste(await f.signInInBrowser(url))}\n`);
  const { code, signal } = await closed;
  return { code, signal, stdout, stderr, url };
}

describe('rptui login against a fake PSN sign-in service', () => {
  it('signs in, stores the account id 0600, and register uses it with no --account-id', async () => {
    const f = await fake();
    const cfg = h.tempDir();
    const psnFile = join(cfg, 'psn.json');
    const cli = (...args: string[]) =>
      runCli(args, { configDir: cfg, env: { RPTUI_PSN_AUTH_URL: f.baseUrl } });

    // not signed in yet: register says where the account id comes from, status says so too
    let r = await cli('register', '--host', SIM_HOST, '--pin', PIN);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'rptui: no PSN account id: none given and none stored\n' +
        'hint: sign in to PSN once to find and store it (rptui login), or give --account-id\n',
    );
    r = await cli('login', '--status');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('not signed in to PSN (rptui login signs in and stores your account id)\n');

    const login = await interactiveLogin(f, cfg, (redirect) => redirect);
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    // the printed address is the sign-in page on the configured server, with the app's parameters
    expect(login.url).toBe(signInUrl(f.baseUrl));
    expect(login.stdout).not.toContain('\x1b['); // not a terminal: no QR code
    expect(login.stdout).toContain(
      'signed in to PSN as "couch-player"\naccount id: 1234567890123456789 (base64 FYHpffQQIhE=)\n',
    );
    expect(login.stdout).toContain(`stored in ${psnFile}`);
    expect(statSync(psnFile).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(psnFile, 'utf8'));
    expect(stored).toMatchObject({ accountId: 'FYHpffQQIhE=', accountIdDecimal: '1234567890123456789' });
    expect(stored.refreshToken).toMatch(/^refresh-/);
    expect(login.stdout).not.toContain(stored.refreshToken);

    r = await cli('login', '--status', '--json');
    expect(r.code).toBe(0);
    const status = JSON.parse(r.stdout);
    expect(status).toMatchObject({
      signedIn: true,
      onlineId: 'couch-player',
      accountId: 'FYHpffQQIhE=',
      accountIdDecimal: '1234567890123456789',
      authServer: f.baseUrl,
      path: psnFile,
    });
    expect(r.stdout).not.toContain(stored.refreshToken);

    // register with no --account-id pairs the console with the signed-in account
    const sim = await startSimulator(h, { host: SIM_HOST, ps5: true, pin: PIN, name: 'Lounge' });
    r = await cli('register', '--host', SIM_HOST, '--pin', PIN);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^paired with PS5 "Lounge" \(host-id [0-9A-F]{12}\) at 127\.0\.0\.102; stored profile "Lounge" for the PSN account "couch-player" \(rptui login\)\n$/,
    );
    const paired = await sim.waitFor((e) => e.event === 'paired');
    expect(paired.accountId).toBe('FYHpffQQIhE=');
    const profiles = JSON.parse(readFileSync(join(cfg, 'profiles.json'), 'utf8')).profiles;
    expect(profiles[0].accountId).toBe('FYHpffQQIhE=');

    // logout forgets the sign-in, not the pairing
    r = await cli('logout');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `signed out: forgot the PSN sign-in of "couch-player" (${psnFile} removed; existing profiles keep working)\n`,
    );
    expect(existsSync(psnFile)).toBe(false);
    expect(existsSync(join(cfg, 'profiles.json'))).toBe(true);
    r = await cli('logout');
    expect(r.stdout).toBe('not signed in to PSN; nothing to forget\n');
    r = await cli('login', '--status', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ signedIn: false, path: psnFile });
  });

  it('--json: the steps go to stderr, stdout is the result; a typed code works too', async () => {
    const f = await fake();
    const cfg = h.tempDir();
    const login = await interactiveLogin(
      f,
      cfg,
      (redirect) => new URL(redirect).searchParams.get('code') ?? '',
      ['--json'],
    );
    expect(login.code).toBe(0);
    expect(login.stderr).toContain(signInUrl(f.baseUrl));
    expect(JSON.parse(login.stdout)).toMatchObject({
      signedIn: true,
      accountIdDecimal: '1234567890123456789',
    });
  });

  describe('errors: one line with the next step, nothing stored', () => {
    const cases: Array<{
      name: string;
      setup?: (f: FakePsn) => void;
      secret?: string;
      paste: (redirect: string) => string;
      code: number;
      message: string;
      hint: RegExp;
    }> = [
      {
        name: 'a pasted address with no code',
        paste: () => PSN_AUTH.redirectUri,
        code: 2,
        message: 'the pasted address has no sign-in code (no code= in it)',
        hint: /copy the whole address of the page the browser ends on/,
      },
      {
        name: 'an expired code',
        setup: (f) => f.expireCodes(),
        paste: (redirect) => redirect,
        code: 1,
        message:
          'PSN did not accept the sign-in code: it has expired, was already used, or is mistyped (HTTP 400 invalid_grant: Invalid authorization code)',
        hint: /^sign in again and paste the new address/,
      },
      {
        name: 'a refused exchange',
        secret: 'not-the-app-secret',
        paste: (redirect) => redirect,
        code: 1,
        message: "PSN refused rptui's sign-in request (HTTP 401 invalid_client: Bad client credentials)",
        hint: /update rptui/,
      },
    ];
    it.each(cases)('$name', async ({ setup, secret, paste, code, message, hint }) => {
      const f = await fake({ clientSecret: secret });
      const cfg = h.tempDir();
      const r = await interactiveLogin(f, cfg, (redirect) => {
        setup?.(f);
        return paste(redirect);
      });
      expect(r.code).toBe(code);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toBe(`rptui: ${message}`);
      expect(lines[1]).toMatch(/^hint: /);
      expect(lines[1].slice(6)).toMatch(hint);
      expect(r.stdout).not.toContain('signed in');
      expect(existsSync(join(cfg, 'psn.json'))).toBe(false);
    });

    it('no network (nothing answers at the sign-in address)', async () => {
      const f = await fake();
      const redirect = await f.signInInBrowser(signInUrl(f.baseUrl));
      const base = f.baseUrl;
      await f.close(); // the service is gone: connection refused
      const cfg = h.tempDir();
      const r = await runCli(['login'], {
        configDir: cfg,
        env: { RPTUI_PSN_AUTH_URL: base },
        input: `${redirect}\n`,
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `rptui: cannot reach the PSN sign-in service (${new URL(base).host}): ECONNREFUSED\n` +
          `hint: check this machine's internet connection (HTTPS to ${new URL(base).host}; proxy, firewall), ` +
          'then sign in again and paste the new address (a code works once, for a few minutes)\n',
      );
      expect(existsSync(join(cfg, 'psn.json'))).toBe(false);
    });

    it('nothing pasted (end of input), and a plain-http server that is not on loopback', async () => {
      const cfg = h.tempDir();
      let r = await runCli(['login'], {
        configDir: cfg,
        env: { RPTUI_PSN_AUTH_URL: `http://${PSN_HOST}:9` },
        input: '',
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^rptui: no address was pasted; nothing stored\nhint: run rptui login again/);
      r = await runCli(['login'], {
        configDir: cfg,
        env: { RPTUI_PSN_AUTH_URL: 'http://auth.example' },
        input: '',
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^rptui: RPTUI_PSN_AUTH_URL must be an https:\/\/ URL/);
      expect(existsSync(join(cfg, 'psn.json'))).toBe(false);
    });
  });

  it('in an 80x24 terminal: a QR code of the sign-in address that scans back, then the paste signs in', async () => {
    const f = await fake();
    const dir = h.tempDir();
    const t = new Tmux();
    term = t;
    t.start({
      command: [process.execPath, rptuiBin(), 'login'],
      env: { RPTUI_CONFIG_DIR: join(dir, 'config'), RPTUI_PSN_AUTH_URL: f.baseUrl },
      width: 80,
      height: 24,
      stderrPath: join(dir, 'stderr.txt'),
    });
    await t.waitFor('address>');
    // the code is taller than the window: it scrolled into the history, as it would for a user
    const all = t.tmux('capture-pane', '-p', '-J', '-S', '-');
    const url = signInUrl(f.baseUrl);
    expect(all).toContain(url); // one soft-wrapped line: joined back by -J
    expect(all).toContain('(the QR code is 40 rows tall: to scan it, make the terminal taller or zoom out)');
    expect(decodeTerminalQr(all)).toBe(url);
    t.type(await f.signInInBrowser(url));
    t.send('Enter');
    await t.waitFor('[exited 0]');
    expect(t.capture()).toContain('account id: 1234567890123456789 (base64 FYHpffQQIhE=)');
  });
});
