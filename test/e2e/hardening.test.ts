// End to end: the real CLI against `rptui simulate` child processes, as a careless or hostile
// setup would meet it: a config dir that cannot be written, two registers racing, a console
// whose name holds terminal controls, and what the simulator writes about keys.
// Loopback addresses of this file: 127.0.0.130-127.0.0.134.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type CliResult, cliResult, rptuiBin, runCli, spawnCli, useHarness } from '../helpers/cli.js';
import { type SimEvent, type SimProcess, startSimulator } from '../helpers/simulator.js';
import { Tmux } from '../ui/tmux.js';

const h = useHarness();
const ACCOUNT = '1234567890123456789';
const OTHER_ACCOUNT = '987654321987654321';
const PIN = '13572468';
/** A CSI (U+009B) that would turn text red, and a right-to-left override that reverses "exe.png". */
const HOSTILE = 'Lab\u009b31m\u202egnp.exe';
const SHOWN = 'Lab\\x9b31m\\u202egnp.exe';
/** Any character a terminal would act on. */
const RAW_CONTROL =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

let term: Tmux | undefined;
afterEach(async () => {
  await term?.kill();
  term = undefined;
});

const requests = (sim: SimProcess, proto: string) =>
  sim.events().filter((e) => e.event === 'request' && e.proto === proto);

/** Runs `rptui register` as a child; resolves with its result, the child available at once. */
function startRegister(cfg: string, args: string[]): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawnCli(['register', ...args], { configDir: cfg });
  h.defer(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { child, done: cliResult(child, args) };
}

/** The stored profiles and the console's remembered pairings (its state file). */
function stored(cfg: string, sim: SimProcess) {
  const profiles = JSON.parse(readFileSync(join(cfg, 'profiles.json'), 'utf8')).profiles;
  const console = JSON.parse(readFileSync(sim.statePath, 'utf8')).paired;
  return { profiles, console };
}

describe('pairing is all or nothing', () => {
  it('an unwritable config dir or a bad profiles file stops register before the console hears anything', async () => {
    const host = '127.0.0.130';
    const sim = await startSimulator(h, { host, ps5: true, pin: PIN });
    const base = h.tempDir();
    writeFileSync(join(base, 'a-file'), '');
    let r = await runCli(['register', '--host', host, '--pin', PIN, '--account-id', ACCOUNT], {
      configDir: join(base, 'a-file', 'rptui'),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `rptui: cannot create the directory ${join(base, 'a-file', 'rptui')}: ENOTDIR`,
    );
    expect(r.stderr).toMatch(/hint: check that .* is a writable directory/);

    // a profiles file that is a link to something else: named, not quoted, nothing sent either
    const cfg = h.tempDir();
    writeFileSync(join(base, 'shadow'), 'root:$6$hunter2:19000::::::\n');
    symlinkSync(join(base, 'shadow'), join(cfg, 'profiles.json'));
    r = await runCli(['register', '--host', host, '--pin', PIN, '--account-id', ACCOUNT], { configDir: cfg });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(cfg, 'profiles.json')} is not valid JSON`);
    expect(r.stderr).not.toContain('hunter2');

    expect(sim.events().filter((e) => e.event !== 'listening')).toEqual([]); // not even discovery
  });

  for (const race of [
    {
      what: 'the same name',
      first: ['--name', 'den'],
      second: ['--name', 'den', '--account-id', OTHER_ACCOUNT],
    },
    { what: 'the same account', first: [], second: [] },
  ]) {
    it(`two registers racing for ${race.what}: one pairs, the other is told why and sends nothing`, async () => {
      const host = race.first.length ? '127.0.0.131' : '127.0.0.132';
      const sim = await startSimulator(h, { host, ps5: true, pin: PIN, args: ['--regist-delay', '1.5'] });
      const cfg = h.tempDir();
      const common = ['--host', host, '--pin', PIN, '--account-id', ACCOUNT];
      const first = startRegister(cfg, [...common, ...race.first]);
      // the first one is waiting for the slow console's answer: it holds the profiles lock
      await sim.waitFor((e) => e.event === 'request' && e.proto === 'regist');
      const second = await runCli(['register', ...common, ...race.second], { configDir: cfg });
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(
        `is in use: rptui process ${first.child.pid} is pairing with ${host} (lock file ${join(cfg, 'profiles.json.lock')})`,
      );
      expect(second.stderr).toMatch(/hint: wait for the other rptui command to finish/);
      const won = await first.done;
      expect(won.stderr).toBe('');
      expect(won.code).toBe(0);

      // the console heard one pairing, and it is the one stored
      expect(requests(sim, 'ddp')).toHaveLength(1);
      expect(requests(sim, 'regist-search')).toHaveLength(1);
      expect(requests(sim, 'regist')).toHaveLength(1);
      const { profiles, console } = stored(cfg, sim);
      expect(profiles).toHaveLength(1);
      expect(console).toHaveLength(1);
      expect(profiles[0].registKey).toBe(console[0].registKey);
      expect(profiles[0].rpKey).toBe(console[0].morning);
    });
  }

  it('profiles import stores a kept pairing, giving a stored console+account its new keys', async () => {
    const cfg = h.tempDir();
    const profile = {
      name: 'den',
      kind: 'PS5',
      target: 1000100,
      host: '10.0.0.2',
      hostId: 'AABBCCDDEEFF',
      nickname: 'Den\u202e',
      registKey: '3132333435363738',
      rpKey: '00112233445566778899aabbccddeeff',
      accountId: 'x3HEK6t1aw8=',
      createdAt: '2026-01-02T03:04:05.000Z',
    };
    const record = join(h.tempDir(), 'unstored-pairing-AABBCCDDEEFF.json');
    writeFileSync(record, JSON.stringify({ version: 1, profiles: [profile] }));
    let r = await runCli(['profiles', 'import', record], { configDir: cfg });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      `added profile "den" (PS5 "Den\\u202e" at 10.0.0.2)\n${record} is no longer needed: delete it (it holds pairing keys)\n`,
    );
    writeFileSync(
      record,
      JSON.stringify({ version: 1, profiles: [{ ...profile, name: 'x', rpKey: 'ff'.repeat(16) }] }),
    );
    r = await runCli(['profiles', 'import', record, '--json'], { configDir: cfg });
    expect(JSON.parse(r.stdout)).toMatchObject([{ action: 'replaced', name: 'den' }]);
    const stored = JSON.parse(readFileSync(join(cfg, 'profiles.json'), 'utf8')).profiles;
    expect(stored.map((p: { name: string; rpKey: string }) => [p.name, p.rpKey])).toEqual([
      ['den', 'ff'.repeat(16)],
    ]);
    r = await runCli(['profiles', 'import', join(cfg, 'nope.json')], { configDir: cfg });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('there is no file');
  });

  it('registers started together for one account leave no superseded key behind', async () => {
    const host = '127.0.0.132';
    const sim = await startSimulator(h, { host, ps5: true, pin: PIN });
    const cfg = h.tempDir();
    const args = ['--host', host, '--pin', PIN, '--account-id', ACCOUNT];
    const results = await Promise.all([0, 1, 2].map(() => startRegister(cfg, args).done));
    const ok = results.filter((r) => r.code === 0);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of results.filter((x) => x.code !== 0)) {
      expect(r.stderr).toMatch(/is in use: rptui process \d+ is pairing with 127\.0\.0\.132/);
    }
    // a loser sent nothing; every winner paired (one after another) and the last key is stored
    expect(requests(sim, 'regist')).toHaveLength(ok.length);
    const { profiles, console } = stored(cfg, sim);
    expect(profiles).toHaveLength(1);
    expect(profiles[0].registKey).toBe(console[0].registKey);
  });
});

describe('hostile console names and key material', () => {
  it('a console name with C1 and bidi controls is shown escaped by discover, register, profiles and the TUI', async () => {
    const host = '127.0.0.133';
    const sim = await startSimulator(h, { host, ps5: true, pin: PIN, name: HOSTILE });
    const cfg = h.tempDir();
    const cli = (...args: string[]) => runCli(args, { configDir: cfg });

    let r = await cli('discover', '--host', host);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${SHOWN.replace(/\\/g, '\\\\')}\\s+PS5\\s+ready`, 'm'));
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    r = await cli('discover', '--host', host, '--json');
    expect(r.stdout).not.toMatch(RAW_CONTROL); // \u escapes in the JSON text...
    expect(JSON.parse(r.stdout)[0].name).toBe(HOSTILE); // ...of the name as the console sent it

    r = await cli('register', '--host', host, '--pin', PIN, '--account-id', ACCOUNT);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`paired with PS5 "${SHOWN}"`);
    expect(r.stdout).toContain('stored profile "Lab-31m-gnp.exe"'); // default names carry no controls
    for (const args of [
      ['profiles', 'list'],
      ['profiles', 'show', 'Lab-31m-gnp.exe'],
      ['profiles', 'list', '--json'],
    ]) {
      r = await cli(...args);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(RAW_CONTROL);
      if (!args.includes('--json')) expect(r.stdout).toContain(SHOWN);
    }
    // the simulator's own log quotes the name escaped too
    expect(sim.output).toContain(`simulated PS5 "${SHOWN}"`);
    expect(sim.output).not.toMatch(RAW_CONTROL);

    const dir = h.tempDir('rptui-ui-');
    term = new Tmux();
    term.start({
      command: [process.execPath, rptuiBin(), '--no-broadcast', '--no-gamepad'],
      env: { RPTUI_CONFIG_DIR: cfg },
      width: 110,
      stderrPath: join(dir, 'stderr.txt'),
    });
    const screen = await term.waitFor(/Lab-31m-gnp\.exe\s+PS5\s+127\.0\.0\.133\s+ready/, 15_000);
    expect(screen).toContain(`Lab-31m-gnp.exe: PS5 "${SHOWN}", host-id`);
  });

  it('the simulator writes no pairing key to its output or events file without --debug, and the file is 0600', async () => {
    const cfg = h.tempDir();
    const secretsIn = (sim: SimProcess, host: string) => {
      const p = stored(cfg, sim).profiles.find((x: { host: string }) => x.host === host);
      const events = readFileSync(sim.eventsPath, 'utf8');
      return [p.registKey, p.rpKey].map((k: string) => ({
        output: sim.output.toLowerCase().includes(k.toLowerCase()),
        events: events.toLowerCase().includes(k.toLowerCase()),
      }));
    };
    const quiet = await startSimulator(h, { host: '127.0.0.133', ps5: true, pin: PIN });
    let r = await runCli(
      ['register', '--host', '127.0.0.133', '--pin', PIN, '--account-id', ACCOUNT, '--name', 'a'],
      {
        configDir: cfg,
      },
    );
    expect(r.code).toBe(0);
    const paired = await quiet.waitFor((e: SimEvent) => e.event === 'paired');
    expect(paired.registKey).toBe('<redacted>');
    expect(secretsIn(quiet, '127.0.0.133')).toEqual([
      { output: false, events: false },
      { output: false, events: false },
    ]);
    expect(statSync(quiet.eventsPath).mode & 0o777).toBe(0o600);

    // the same check finds them when --debug asks for them
    const loud = await startSimulator(h, { host: '127.0.0.134', ps5: true, pin: PIN, args: ['--debug'] });
    r = await runCli(
      ['register', '--host', '127.0.0.134', '--pin', PIN, '--account-id', ACCOUNT, '--name', 'b'],
      {
        configDir: cfg,
      },
    );
    expect(r.code).toBe(0);
    await loud.waitFor((e: SimEvent) => e.event === 'paired');
    expect(secretsIn(loud, '127.0.0.134')).toEqual([
      { output: true, events: true },
      { output: false, events: true },
    ]);
  });

  it('an events file that existed with a wider mode is 0600 afterwards', async () => {
    const dir = h.tempDir();
    const events = join(dir, 'events.jsonl');
    writeFileSync(events, 'old\n', { mode: 0o644 });
    const child = spawn(
      process.execPath,
      [rptuiBin(), 'simulate', '--host', '127.0.0.134', '--ps5', '--json-events', events],
      { stdio: 'ignore', env: { ...process.env, RPTUI_CONFIG_DIR: dir } },
    );
    h.defer(async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    });
    for (let i = 0; i < 300 && !readFileSync(events, 'utf8').includes('"listening"'); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(events, 'utf8')).toMatch(/^\{"t":\d+,"event":"listening"/);
    expect(statSync(events).mode & 0o777).toBe(0o600);
  });
});
