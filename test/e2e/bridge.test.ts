// The controller bridge (`rptui bridge`) against `rptui simulate` for a full minute: the smallest
// stream asked for (360p, 30 fps, 2000 kbit/s), nothing played (no sink), the stream still
// authenticated and acknowledged (no loss, heartbeats both ways), keys from stdin reaching the
// console all along, a clean DISCONNECT. Its CPU use is printed (the figure `npm run bench bridge`
// measures against a 1080p session). Loopback address: 127.0.0.175.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliResult, runCli, spawnCli, useHarness } from '../helpers/cli.js';
import { disconnects, pairedSimulator, received } from '../helpers/simulator.js';
import { cpuSeconds } from '../helpers/system.js';

const h = useHarness('each');
const HOST = '127.0.0.175';
const SECONDS = 60;

describe('rptui bridge', () => {
  it(`plays keys on the console for ${SECONDS} s with the smallest stream and no sink`, async () => {
    const { cfg, sim } = await pairedSimulator(h, HOST);
    const statsPath = join(cfg, 'bridge.json');
    const child = spawnCli(
      ['bridge', 'tv', '--duration', String(SECONDS), '--no-gamepad', '--stats-json', statsPath],
      {
        configDir: cfg,
        stdin: 'pipe',
      },
    );
    const result = cliResult(child, ['bridge'], (SECONDS + 20) * 1000);
    const big = await sim.waitFor((e) => e.event === 'stream' && e.message === 'BIG', 15_000);
    expect(big).toMatchObject({ width: 640, height: 360, fps: 30, bitrateKbps: 2000, codec: 'h264' });
    await sim.waitFor((e) => e.event === 'stream' && e.message === 'STREAMINFOACK');

    // a cross press every 2 s (the default map: space), the bridge's CPU time around it
    const cpu0 = cpuSeconds(child.pid ?? 0);
    const t0 = Date.now();
    const sent: number[] = [];
    while (Date.now() - t0 < (SECONDS - 6) * 1000) {
      child.stdin?.write(' ');
      sent.push(Date.now());
      await new Promise((r) => setTimeout(r, 2000));
    }
    const cpu = (100 * (cpuSeconds(child.pid ?? 0) - cpu0)) / ((Date.now() - t0) / 1000);
    const r = await result;
    expect(r.code, r.stderr).toBe(0);

    const ev = sim.events();
    const presses = ev.filter((e) => e.event === 'controller' && e.button === 'cross' && e.pressed === true);
    expect(presses.length).toBe(sent.length);
    // the last one as late as the first: input reached the console over the whole minute
    expect(presses.at(-1)!.t - presses[0].t).toBeGreaterThan((SECONDS - 10) * 1000);
    expect(received(ev, 'HEARTBEAT').length).toBeGreaterThanOrEqual(SECONDS / 2 - 5);
    expect(disconnects(ev)).toHaveLength(1);

    const stats = JSON.parse(readFileSync(statsPath, 'utf8'));
    expect(stats.sinks).toEqual({
      video: { kind: 'none', written: 0, dropped: 0, bytes: 0 },
      audio: { kind: 'none', written: 0, dropped: 0, bytes: 0 },
    });
    expect(stats.streamInfo).toMatchObject({ width: 640, height: 360, fps: 30 });
    // the whole minute of video came in and authenticated (~30 frames a second), none lost
    expect(stats.video.frames).toBeGreaterThan(SECONDS * 30 * 0.9);
    expect(stats.packets.lost).toBe(0);
    expect(stats.packets.forged).toBe(0);
    expect(r.stderr).toContain('controls: ctrl+q or ctrl+c leaves');
    console.info(
      `bridge: ${presses.length} presses over ${(presses.at(-1)!.t - presses[0].t) / 1000} s; rptui CPU ${cpu.toFixed(1)} % of one core; ` +
        `${stats.video.frames} frames, ${stats.packets.received} datagrams`,
    );
  }, 120_000);

  it('refuses what would play something, before the console is contacted', async () => {
    const cfg = h.tempDir();
    for (const args of [
      ['connect', 'tv', '--bridge', '--video', 'ffplay', '--resolution', '1080p'],
      ['connect', 'tv', '--bridge', '--no-input'],
    ]) {
      const r = await runCli(args, { configDir: cfg });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /^rptui: --bridge (asks for the smallest stream and plays nothing: leave out --resolution, --video$|is input only: leave out --no-input$)/m,
      );
    }
  });
});
