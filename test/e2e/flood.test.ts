// End to end: a spoofed console floods the client with forged video datagrams (20,000 a second,
// each a copy of a real one with a wrong tag) during a 1080p60 15 Mbit/s stream. The session goes
// on, frames keep coming, every forged datagram is counted and none reaches a sink. Address
// 127.0.0.69.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, useHarness } from '../helpers/cli.js';
import { startSimulator } from '../helpers/simulator.js';

const h = useHarness('all');
const HOST = '127.0.0.69';
const PIN = '97531864';

describe('a flood of forged datagrams', () => {
  it('costs the stream (almost) nothing: counted as forged, frames keep coming', async () => {
    const cfg = h.tempDir();
    const sim = await startSimulator(h, { host: HOST, pin: PIN, args: ['--ps5', '--flood', '20000'] });
    const reg = await runCli(
      ['register', '--host', HOST, '--pin', PIN, '--account-id', '1234567890123456789', '--name', 'tv'],
      { configDir: cfg, timeoutMs: 20_000 },
    );
    expect(reg.code, reg.stderr).toBe(0);
    const statsPath = join(h.tempDir(), 'stats.json');
    const r = await runCli(
      [
        ...['connect', 'tv', '--no-input', '--video', 'none', '--audio', 'none', '--resolution', '1080p'],
        ...['--bitrate', '15000', '--duration', '6', '--stats-json', statsPath],
      ],
      { configDir: cfg, timeoutMs: 40_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(readFileSync(statsPath, 'utf8'));
    const flood = sim.events().find((e) => e.event === 'stats' && e.final === true);
    expect(flood?.flooded as number).toBeGreaterThan(50_000);
    // every forged datagram that reached the client was caught (the kernel may drop some first)
    expect(s.packets.forged).toBeGreaterThan((flood?.flooded as number) * 0.5);
    expect(s.packets.forged).toBeLessThanOrEqual(flood?.flooded as number);
    expect(s.video.frames).toBeGreaterThan(5 * 60);
    expect(s.video.lost).toBeLessThanOrEqual(s.video.frames * 0.02);
    expect(s.closed.code).toBe('user');
  }, 60_000);
});
