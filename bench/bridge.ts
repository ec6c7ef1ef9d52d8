import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childPids, cpuSeconds, onPath, startXvfb } from '../test/helpers/system.js';
import { BENCH_PIN, exitCode, registerTv, rptui } from './cli.js';
import { fmtSpread, machine, RUNS, spread } from './machine.js';

const HOST = '127.0.0.176';
const FROM_S = 3;
const TO_S = 18;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Percent of one core used by the process and its children (ffplay) between FROM_S and TO_S. */
async function measure(args: string[], cfg: string, env?: NodeJS.ProcessEnv): Promise<number> {
  const child = rptui([...args, '--duration', String(TO_S + 2), '--no-gamepad'], cfg, {
    env,
    stdin: 'pipe',
    quiet: true,
  });
  const exited = exitCode(child);
  const pid = child.pid ?? 0;
  const total = () => [pid, ...childPids(pid)].reduce((s, p) => s + (cpuSeconds(p) || 0), 0);
  await sleep(FROM_S * 1000);
  const c0 = total();
  const t0 = Date.now();
  await sleep((TO_S - FROM_S) * 1000);
  const used = total() - c0;
  const secs = (Date.now() - t0) / 1000;
  await exited;
  await sleep(1500); // the simulator serves one session at a time
  return (100 * used) / secs;
}

export async function run(): Promise<void> {
  const cfg = mkdtempSync(join(tmpdir(), 'rptui-bench-bridge-'));
  const sim = rptui(['simulate', '--host', HOST, '--pin', BENCH_PIN, '--state', join(cfg, 'sim.json')], cfg, {
    quiet: true,
  });
  const xvfb = onPath('Xvfb') && onPath('ffplay') ? await startXvfb(1280, 720) : undefined;
  try {
    await sleep(3000);
    await registerTv(HOST, cfg);
    const session1080 = ['connect', 'tv', '--resolution', '1080p', '--fps', '60', '--bitrate', '15000'];
    const runs: Array<{ name: string; args: string[]; env?: NodeJS.ProcessEnv }> = [
      { name: 'rptui bridge (360p30, 2 Mbit/s)', args: ['bridge', 'tv'] },
      {
        name: 'connect 1080p60 15 Mbit/s, no output',
        args: [...session1080, '--video', 'none', '--audio', 'none'],
      },
    ];
    if (xvfb)
      runs.push({
        name: 'connect 1080p60 15 Mbit/s, ffplay',
        args: [...session1080, '--video', 'ffplay', '--audio', 'none'],
        env: { DISPLAY: xvfb.display },
      });
    else console.log('(no Xvfb or ffplay: the ffplay run is left out)');
    console.log(`machine: ${machine()}`);
    console.log(`CPU, percent of one core (rptui and its children), median (range) of ${RUNS} runs`);
    for (const r of runs) {
      const cpu: number[] = [];
      for (let i = 0; i < RUNS; i++) cpu.push(await measure(r.args, cfg, r.env));
      console.log(`  ${r.name.padEnd(40)} ${fmtSpread(spread(cpu))} %`);
    }
  } finally {
    sim.kill('SIGTERM');
    xvfb?.stop();
    await sleep(500);
    rmSync(cfg, { recursive: true, force: true });
  }
}
