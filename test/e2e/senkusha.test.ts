// End to end: `rptui connect` runs Senkusha against `rptui simulate` over real sockets before the
// stream (UDP 9297); the measured RTT and MTU go into the launch spec the simulator logs with BIG.
// A console that leaves 9297 closed costs at most a few seconds. Addresses 127.0.0.67-68.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, useHarness } from '../helpers/cli.js';
import { startSimulator } from '../helpers/simulator.js';

const h = useHarness('all');
const PIN = '86420135';

async function pairedConnect(host: string, simArgs: string[]) {
  const cfg = h.tempDir();
  const sim = await startSimulator(h, { host, pin: PIN, args: ['--ps5', ...simArgs] });
  const reg = await runCli(
    ['register', '--host', host, '--pin', PIN, '--account-id', '1234567890123456789', '--name', 'tv'],
    { configDir: cfg, timeoutMs: 20_000 },
  );
  expect(reg.code, reg.stderr).toBe(0);
  const statsPath = join(h.tempDir(), 'stats.json');
  const started = Date.now();
  const r = await runCli(
    [
      'connect',
      'tv',
      '--no-input',
      '--video',
      'none',
      '--audio',
      'none',
      '--duration',
      '2',
      '--stats-json',
      statsPath,
    ],
    { configDir: cfg, timeoutMs: 30_000 },
  );
  expect(r.code, r.stderr).toBe(0);
  const stats = JSON.parse(readFileSync(statsPath, 'utf8'));
  const big = sim.events().find((e) => e.event === 'stream' && e.message === 'BIG');
  return { stats, big, sim, stderr: r.stderr, seconds: (Date.now() - started) / 1000 };
}

describe('Senkusha over loopback', () => {
  it('measures RTT (> 0, < 50 ms) and the path MTU; both are in the launch spec', async () => {
    const { stats, big, sim } = await pairedConnect('127.0.0.67', ['--path-mtu', '1300']);
    expect(stats.probe.measured).toBe(true);
    expect(stats.probe.rttMs).toBeGreaterThan(0);
    expect(stats.probe.rttMs).toBeLessThan(50);
    expect(stats.probe.mtu).toBe(1300);
    expect(big).toMatchObject({ mtu: 1300, rtt: Math.max(1, Math.round(stats.probe.rttMs)) });
    expect(
      sim.events().filter((e) => e.event === 'senkusha' && e.type === 'mtuRequest').length,
    ).toBeGreaterThan(3);
  }, 60_000);

  it('a console with UDP 9297 closed: the stream starts within 3 s with MTU 1454 / RTT 1 ms', async () => {
    const { stats, big, stderr, seconds } = await pairedConnect('127.0.0.68', ['--no-senkusha']);
    expect(stats.probe).toEqual({ measured: false, rttMs: 1, mtu: 1454 });
    expect(big).toMatchObject({ mtu: 1454, rtt: 1 });
    expect(stderr).toMatch(/no RTT\/MTU measurement/);
    // the whole connect: session, probe fallback, handshake, 2 s of stream, disconnect
    expect(stats.streamInfo).toBeDefined();
    expect(seconds).toBeLessThan(2 + 3 + 3);
  }, 60_000);
});
