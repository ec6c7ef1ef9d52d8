// End to end: the real CLI (./bin/rptui) against `rptui simulate` child processes on
// 127.0.0.2 (PS4, real port 987) and 127.0.0.3 (PS5, 9302). 127.0.0.4 is left unbound as an
// address where no console answers.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, useHarness } from '../helpers/cli.js';
import { startSimulator } from '../helpers/simulator.js';

const h = useHarness();
const ACCOUNT = '1234567890123456789';
const PIN = '24681357';
const DEAD = '127.0.0.4';

describe.each([
  { kind: 'PS4', host: '127.0.0.2', ps5: false },
  { kind: 'PS5', host: '127.0.0.3', ps5: true },
])('pairing with a simulated $kind on $host', ({ kind, host, ps5 }) => {
  it('discovers, refuses a wrong PIN, pairs, and wakes after a restart in standby', async () => {
    const cfg = h.tempDir();
    const profiles = join(cfg, 'profiles.json');
    const state = join(h.tempDir(), 'console.json');
    const name = `e2e-${kind}`;
    const cli = (...args: string[]) => runCli(args, { configDir: cfg });

    const sim = await startSimulator(h, { host, ps5, pin: PIN, name, state });

    // discover names the console (JSON and table)
    let r = await cli('discover', '--host', host, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [found] = JSON.parse(r.stdout);
    expect(found).toMatchObject({ name, kind, status: 'ready', address: host });
    expect(found.hostId).toMatch(/^[0-9A-F]{12}$/);
    r = await cli('discover', '--host', host);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${name}\\s+${kind}\\s+ready\\s+${found.hostId}`));

    // a wrong PIN: the console's refusal, a clear message, nothing stored
    r = await cli('register', '--host', host, '--pin', '11112222', '--account-id', ACCOUNT);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'rptui: the console refused the registration (wrong PIN, or pairing is not open)',
    );
    expect(r.stderr).toContain('80108b09');
    expect(r.stderr).toMatch(/hint: .*PIN/);
    expect(existsSync(profiles)).toBe(false);
    await sim.waitFor((e) => e.event === 'refusal' && e.reason === 'wrong-pin');

    // the right PIN: a 0600 profile holding what the console handed out
    r = await cli('register', '--host', host, '--pin', PIN, '--account-id', ACCOUNT, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const shown = JSON.parse(r.stdout);
    expect(shown).toMatchObject({ name, kind, host, hostId: found.hostId, nickname: name });
    expect(shown.registKey).toBeUndefined();
    expect(statSync(profiles).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(profiles, 'utf8')).profiles;
    expect(stored).toHaveLength(1);
    const paired = await sim.waitFor((e) => e.event === 'paired');
    expect(paired.registKey).toBe('<redacted>'); // keys only with --debug; the console's memory has them
    const remembered = JSON.parse(readFileSync(state, 'utf8')).paired;
    expect(stored[0].registKey).toBe(remembered[0].registKey);
    expect(stored[0].accountId).toBe(paired.accountId);
    expect(stored[0].target).toBe(ps5 ? 1000100 : 1000);

    r = await cli('profiles', 'list', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).map((p: { name: string }) => p.name)).toEqual([name]);

    // the console restarts in rest mode and still knows its client
    await sim.stop();
    const rested = await startSimulator(h, { host, ps5, pin: PIN, state, standby: true });
    r = await cli('discover', '--host', host, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ name, status: 'standby', hostId: found.hostId });

    r = await cli('wake', name);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${kind} "${name}" at ${host} is awake`);
    await rested.waitFor((e) => e.event === 'wake');

    r = await cli('discover', '--host', host, '--json');
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ name, status: 'ready' });
  });
});

describe('bad input', () => {
  it('rejects a PIN that is not 8 digits and a malformed account id before any network use', async () => {
    const cfg = h.tempDir();
    for (const [args, pattern] of [
      [['--pin', '1234', '--account-id', ACCOUNT], /PIN must be exactly 8 digits/],
      [['--pin', '1234567a', '--account-id', ACCOUNT], /PIN must be exactly 8 digits/],
      [['--pin', PIN, '--account-id', 'not-an-id'], /is not a PSN account id/],
      [['--pin', PIN, '--account-id', '0'], /not a 64-bit PSN account number/],
    ] as const) {
      const started = Date.now();
      const r = await runCli(['register', '--host', DEAD, ...args], { configDir: cfg });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr).toMatch(/hint: /);
      expect(Date.now() - started).toBeLessThan(3000); // probing + searching an absent host takes 4.5 s
    }
    expect(existsSync(join(cfg, 'profiles.json'))).toBe(false);
  });

  it('times out on an unreachable host with a hint, and stores nothing', async () => {
    const cfg = h.tempDir();
    let r = await runCli(['discover', '--host', DEAD, '--timeout', '0.5'], { configDir: cfg });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`rptui: no console answered at ${DEAD} within 0.5 s`);
    expect(r.stderr).toMatch(/hint: check the address/);

    r = await runCli(['register', '--host', DEAD, '--pin', PIN, '--account-id', ACCOUNT], { configDir: cfg });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`rptui: no answer to the registration search from ${DEAD} within 3 s`);
    expect(r.stderr).toMatch(/hint: /);
    expect(existsSync(join(cfg, 'profiles.json'))).toBe(false);

    r = await runCli(['wake', '--host', DEAD, '--credential', '305419896', '--timeout', '1'], {
      configDir: cfg,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`rptui: ${DEAD} did not answer discovery within 1 s`);
  });

  it('gives usage errors for unknown profiles and missing wake arguments', async () => {
    const cfg = h.tempDir();
    let r = await runCli(['wake', 'nope'], { configDir: cfg });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('rptui: no profile named "nope"');
    r = await runCli(['wake'], { configDir: cfg });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a profile name, or --host and --credential/);
    r = await runCli(['profiles', 'show', 'nope'], { configDir: cfg });
    expect(r.code).toBe(2);
    r = await runCli(['simulate', '--host', '192.168.1.2'], { configDir: cfg });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a loopback address/);
    expect(r.stderr).toMatch(/--allow-lan/);
  });
});

describe('rptui demo', () => {
  it('walks through discover, a refused and an accepted pairing, the list and a wake, storing nothing', async () => {
    const cfg = h.tempDir();
    const r = await runCli(['demo', '--host', '127.0.0.9'], { configDir: cfg, timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/PS5-sim\s+PS5\s+ready/);
    expect(r.stdout).toContain('refused, as it should be');
    expect(r.stdout).toMatch(/paired; profile "PS5-sim" stored/);
    expect(r.stdout).toMatch(/PS5-sim\s+PS5\s+standby/);
    expect(r.stdout).toMatch(/PS5-sim is ready after/);
    expect(existsSync(join(cfg, 'profiles.json'))).toBe(false);
  });
});
