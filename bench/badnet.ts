import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DropRecord, fecOutcome } from '../src/simulator/faults.js';
import { readSimEvents } from '../test/helpers/simulator.js';
import { BENCH_PIN, exitCode, registerTv, rptui } from './cli.js';
import { fmtSpread, machine, RUNS, spread } from './machine.js';

const HOST = '127.0.0.177';
const SECONDS = 60;
const FAULTS = ['--loss', '0.10', '--reorder', '0.05', '--dup', '0.05', '--jitter', '50', '--seed', '11'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cli(args: string[], cfg: string) {
  const child = rptui(args, cfg, { quiet: true });
  return { child, exited: exitCode(child) };
}

interface Outcome {
  recoverable: number;
  reportedCorrupt: number;
  unrecoverable: number;
  dropped: number;
  reportedLost: number;
}

async function once(cfg: string, i: number): Promise<Outcome> {
  const events = join(cfg, `events-${i}.jsonl`);
  const sim = cli(
    [
      'simulate',
      '--host',
      HOST,
      '--pin',
      BENCH_PIN,
      '--state',
      join(cfg, 'sim.json'),
      '--json-events',
      events,
      ...FAULTS,
    ],
    cfg,
  );
  try {
    await sleep(2500);
    if (i === 0) {
      await registerTv(HOST, cfg);
    }
    const stats = join(cfg, `stats-${i}.json`);
    const run = cli(
      [
        'connect',
        'tv',
        '--resolution',
        '1080p',
        '--fps',
        '60',
        '--bitrate',
        '15000',
        '--video',
        'none',
      ].concat(['--audio', 'none', '--no-input', '--duration', String(SECONDS), '--stats-json', stats]),
      cfg,
    );
    if ((await run.exited) !== 0) throw new Error('the session did not end cleanly');
    const ev = readSimEvents(events);
    const bye = ev.find((e) => e.event === 'stream' && e.dir === 'in' && e.message === 'DISCONNECT');
    const sent = ev.filter((e) => e.event === 'frame-sent' && (!bye || e.t <= bye.t));
    // frames sent in the last 300 ms may still have been in flight at DISCONNECT: not judged
    const lastT = sent[sent.length - 1].t;
    const judged = new Set(sent.filter((e) => e.t < lastT - 300).map((e) => e.frameIndex as number));
    const drops = ev.filter((e) => e.event === 'drop') as unknown as DropRecord[];
    const corrupt = new Set<number>();
    for (const c of ev.filter((e) => e.event === 'stream' && e.dir === 'in' && e.message === 'CORRUPTFRAME'))
      for (let f = c.start as number; ; f = (f + 1) & 0xffff) {
        corrupt.add(f);
        if (f === c.end) break;
      }
    const outcome = [...fecOutcome(drops).values()].filter((o) => judged.has(o.frameIndex));
    const recoverable = outcome.filter((o) => o.recoverable);
    const s = JSON.parse(readFileSync(stats, 'utf8'));
    return {
      recoverable: recoverable.length,
      reportedCorrupt: recoverable.filter((o) => corrupt.has(o.frameIndex)).length,
      unrecoverable: outcome.length - recoverable.length,
      dropped: drops.filter((d) => !bye || d.t <= bye.t).length,
      reportedLost: s.packets.lost,
    };
  } finally {
    sim.child.kill('SIGTERM');
    await sim.exited;
  }
}

export async function run(): Promise<void> {
  const cfg = mkdtempSync(join(tmpdir(), 'rptui-bench-badnet-'));
  try {
    console.log(`machine: ${machine()}`);
    console.log(`simulate ${FAULTS.join(' ')}; connect 1080p60 15 Mbit/s for ${SECONDS} s; ${RUNS} runs`);
    const runs: Outcome[] = [];
    for (let i = 0; i < RUNS; i++) {
      const o = await once(cfg, i);
      runs.push(o);
      console.log(
        `  run ${i + 1}: ${o.recoverable} frames FEC could rebuild, ${o.reportedCorrupt} of them reported corrupt; ` +
          `${o.unrecoverable} beyond FEC; ${o.dropped} datagrams dropped, ${o.reportedLost} reported lost ` +
          `(${((100 * (o.reportedLost - o.dropped)) / o.dropped).toFixed(1)} %)`,
      );
    }
    console.log(
      `  recoverable frames reported corrupt: ${fmtSpread(spread(runs.map((o) => o.reportedCorrupt)), 0)}`,
    );
    console.log(
      `  reported loss vs dropped, %: ${fmtSpread(spread(runs.map((o) => (100 * (o.reportedLost - o.dropped)) / o.dropped)))}`,
    );
  } finally {
    rmSync(cfg, { recursive: true, force: true });
  }
}
