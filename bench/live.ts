/**
 * Issue 12: what a live session costs per stream second. `rptui simulate --ps5` runs in its own
 * process on 127.0.0.150 and streams at the launch spec's bitrate; a client process (the bundle of
 * bench/live-client.ts, run by plain node as the installed CLI runs) pairs with it and streams.
 *
 *   1. 1080p60 at 15 Mbit/s and 720p60 at 10 Mbit/s, video and audio sinks `none` and `file`
 *      (Opus is decoded either way), RUNS runs of RPTUI_BENCH_LIVE_SECONDS (30) seconds each after
 *      a 5 s warm-up: CPU seconds per stream second, RSS at the start and end of the steady part,
 *      event-loop delay p99, frames lost. Goals: <= 3 % of one core at 1080p60 15 Mbit/s with
 *      sinks none (stretch 1.5 %), RSS <= 70 MB, loop delay p99 < 5 ms with the TUI open.
 *   2. The same 1080p60 session inside the TUI's stream screen (a terminal whose output is dropped).
 *   3. RSS over RPTUI_BENCH_LIVE_SOAK (300) seconds: at 1 minute and at the end (flat = no growth).
 *   4. A Pi-sized budget: the client capped at 25 % of one core by a CPU cgroup (v2 cpu.max or v1
 *      cpu.cfs_quota_us; needs root, said so otherwise) must lose no frame at 1080p60 15 Mbit/s.
 *
 * Every figure is printed with the machine and its load average; figures of repeated runs are
 * the median and (range). The client's own CPU only: the simulator is another process.
 * First, for scale: what node:dgram alone costs at that packet rate, paced as a console sends and
 * in bursts, and what a plain C receive loop costs paced (floor; the C part when cc exists).
 * RPTUI_BENCH_LIVE_PARTS picks parts: floor, 1080p, 720p (item 1), tui, cap, soak.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BENCH_PIN, exited, NODE_FLAGS, registerTv, root, rptui } from './cli.js';
import type { LiveClientOptions, LiveResult } from './live-client.js';
import { fmtSpread, machine, RUNS, spread } from './machine.js';

const HOST = '127.0.0.150';
const seconds = Number(process.env.RPTUI_BENCH_LIVE_SECONDS ?? 30);
const soakSeconds = Number(process.env.RPTUI_BENCH_LIVE_SOAK ?? 300);
const WARMUP = 5;
/** The event-loop delay window after the CPU one (the delay monitor's own 1 ms timer costs CPU). */
const LOOP_SECONDS = 10;
/** RPTUI_BENCH_LIVE_PARTS: a comma list of the parts to run (default all of them). */
const parts = new Set((process.env.RPTUI_BENCH_LIVE_PARTS ?? 'floor,1080p,720p,tui,cap,soak').split(','));

/**
 * What node:dgram alone costs at a stream's packet rate: a process that receives 1400-byte
 * datagrams and does nothing with them, while another process sends them, either in one burst per
 * 60 fps frame or paced evenly (a 1 ms timer), as the simulator paces a frame over its interval
 * the way a console does. Pacing costs a loop wake-up per datagram or two instead of one per frame.
 * Prints the receiver's CPU per second as JSON. (argv: address, datagrams per second, seconds,
 * burst|paced; the sender is the same script with "tx" first)
 */
const FLOOR_SCRIPT = `
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
const [role, host, a, b, mode] = process.argv.slice(1);
if (role === 'tx') {
  const tx = createSocket('udp4');
  const d = Buffer.alloc(1400, 7);
  const rate = Number(b);
  tx.connect(Number(a), host, () => {
    if (mode === 'burst') {
      const perFrame = Math.round(rate / 60);
      setInterval(() => { for (let i = 0; i < perFrame; i++) tx.send(d); }, 1000 / 60);
    } else {
      const t0 = performance.now();
      let sent = 0;
      setInterval(() => { for (const due = Math.floor(((performance.now() - t0) * rate) / 1000); sent < due; sent++) tx.send(d); }, 1);
    }
  });
} else {
  const rx = createSocket('udp4');
  let n = 0;
  rx.on('message', () => n++);
  rx.bind(0, host, async () => {
    const tx = spawn(process.execPath, [...process.execArgv, 'tx', host, String(rx.address().port), a, mode], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 2000));
    const c0 = process.cpuUsage(); const n0 = n; const t0 = performance.now();
    await new Promise((r) => setTimeout(r, Number(b) * 1000));
    const c = process.cpuUsage(c0); const s = (performance.now() - t0) / 1000;
    tx.kill();
    process.stdout.write(JSON.stringify({ cpu: (c.user + c.system) / 1e6 / s, datagrams: (n - n0) / s }) + '\\n');
    process.exit(0);
  });
}`;

/**
 * The same floor for a plain C loop (blocking recv per datagram, as a native client's receive
 * thread): what the kernel and the wake-ups cost at that rate, without node. Built with the
 * system's cc when there is one. argv: address, seconds; prints the bound port, then the JSON.
 */
const NATIVE_FLOOR_C = `
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static double cpu(void) {
  struct rusage r; getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 || bind(s, (struct sockaddr *)&a, sizeof a)) return 2;
  int rcv = 4 << 20;
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  struct timeval tv = {10, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  socklen_t len = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &len);
  printf("%d\\n", ntohs(a.sin_port));
  fflush(stdout);
  static char buf[65536];
  double seconds = atof(argv[2]), t0 = 0, c0 = 0;
  long n = 0;
  for (;;) {
    if (recv(s, buf, sizeof buf, 0) < 0) return 3;
    double t = now();
    if (t0 == 0) t0 = t + 2; /* 2 s to settle, as the node floor */
    else if (c0 == 0 && t >= t0) { c0 = cpu(); t0 = t; n = 0; }
    else if (c0 != 0 && t - t0 >= seconds) {
      printf("{\\"cpu\\":%f,\\"datagrams\\":%f}\\n", (cpu() - c0) / (t - t0), n / (t - t0));
      return 0;
    }
    n++;
  }
}
`;
/** The client runner as one ESM file under node_modules/.cache (its packages resolve from there). */
async function bundleClient(): Promise<string> {
  const outfile = join(root, 'node_modules', '.cache', 'rptui-bench', 'live-client.mjs');
  await build({
    stdin: {
      contents:
        `import { runClient } from ${JSON.stringify(join(root, 'bench', 'live-client.ts'))};\n` +
        'const r = await runClient(JSON.parse(process.argv[2]));\n' +
        "process.stdout.write(JSON.stringify(r) + '\\n');\nprocess.exit(0);\n",
      resolveDir: root,
      loader: 'ts',
    },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  return outfile;
}

async function waitForEvent(eventsPath: string, event: string, sim: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (existsSync(eventsPath) && readFileSync(eventsPath, 'utf8').includes(`"event":"${event}"`)) return;
    if (sim.exitCode !== null) throw new Error(`the simulator exited (${sim.exitCode})`);
    if (Date.now() > deadline) throw new Error(`the simulator never said "${event}"`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A CPU cap for one process: a child cgroup with a CPU quota, v2 (cpu.max) or v1 (cfs quota). */
interface CpuCap {
  describe: string;
  add(pid: number): void;
  /** Periods in which the group was throttled (the cap was hit). */
  throttled(): number;
  remove(): void;
}

function cpuCap(quotaUs: number, periodUs: number): CpuCap | string {
  if (process.getuid?.() !== 0) return 'not root: cannot create a cgroup';
  const name = `rptui-bench-${process.pid}`;
  const stat = (dir: string) => {
    const m = /nr_throttled (\d+)/.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'));
    return m ? Number(m[1]) : Number.NaN;
  };
  try {
    const v2 = '/sys/fs/cgroup';
    if (
      existsSync(join(v2, 'cgroup.controllers')) &&
      readFileSync(join(v2, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('cpu')
    ) {
      writeFileSync(join(v2, 'cgroup.subtree_control'), '+cpu');
      const dir = join(v2, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'cpu.max'), `${quotaUs} ${periodUs}`);
      return {
        describe: `cgroup v2 ${dir}, cpu.max "${quotaUs} ${periodUs}"`,
        add: (pid) => writeFileSync(join(dir, 'cgroup.procs'), String(pid)),
        throttled: () => stat(dir),
        remove: () => rmdirSync(dir),
      };
    }
    const v1 = '/sys/fs/cgroup/cpu';
    if (existsSync(join(v1, 'cpu.cfs_quota_us'))) {
      const dir = join(v1, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(periodUs));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
      return {
        describe: `cgroup v1 ${dir}, cpu.cfs_quota_us ${quotaUs} / cpu.cfs_period_us ${periodUs}`,
        add: (pid) => writeFileSync(join(dir, 'cgroup.procs'), String(pid)),
        throttled: () => stat(dir),
        remove: () => rmdirSync(dir),
      };
    }
    return 'no cgroup CPU controller found (neither v2 cpu.max nor v1 cpu.cfs_quota_us)';
  } catch (e) {
    return `cannot set up a CPU cgroup: ${(e as Error).message}`;
  }
}

/** NATIVE_FLOOR_C built in dir with the system's cc, or undefined when there is none (or it fails). */
function buildNativeFloor(dir: string): string | undefined {
  const src = join(dir, 'floor.c');
  const bin = join(dir, 'floor');
  writeFileSync(src, NATIVE_FLOOR_C);
  const r = spawnSync('cc', ['-O2', '-o', bin, src], { stdio: 'ignore' });
  return r.status === 0 ? bin : undefined;
}

/** A floor run: CPU seconds per second and datagrams per second received. */
interface Floor {
  cpu: number;
  datagrams: number;
}

/** One run of the C floor against FLOOR_SCRIPT's paced sender. */
async function nativeFloor(bin: string): Promise<Floor> {
  const rx = spawn(bin, [HOST, '10'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const done = exited(rx, 'the C floor', 60_000);
  const port = await new Promise<string>((resolve, reject) => {
    let out = '';
    // exited() set the stream's encoding: strings
    rx.stdout?.on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    rx.on('exit', () => reject(new Error('the C floor ended before it bound a port')));
  }).catch(async (e) => {
    await done; // its exit status and output say more
    throw e;
  });
  const tx = spawn(
    process.execPath,
    [...NODE_FLAGS, '--input-type=module', '-e', FLOOR_SCRIPT, 'tx', HOST, port, '1830', 'paced'],
    {
      stdio: 'ignore',
    },
  );
  try {
    const lines = (await done).trim().split('\n');
    return JSON.parse(lines[lines.length - 1]);
  } finally {
    tx.kill();
  }
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rptui-bench-live-'));
  const configDir = join(dir, 'config');
  mkdirSync(configDir);
  const eventsPath = join(dir, 'events.jsonl');
  const sim = rptui(
    [
      ...['simulate', '--ps5', '--host', HOST, '--pin', BENCH_PIN],
      ...['--state', join(dir, 'state.json'), '--json-events', eventsPath],
    ],
    configDir,
  );
  const simDone = exited(sim, 'rptui simulate', 24 * 3600_000).catch(() => undefined);
  try {
    const bundle = await bundleClient();
    await waitForEvent(eventsPath, 'listening', sim);
    await registerTv(HOST, configDir);
    const client = async (o: Partial<LiveClientOptions>, cap?: CpuCap): Promise<LiveResult> => {
      const opts: LiveClientOptions = {
        profile: 'tv',
        resolution: '1080p',
        fps: 60,
        bitrateKbps: 15_000,
        video: 'none',
        audio: 'none',
        tui: false,
        warmupSeconds: WARMUP,
        measureSeconds: seconds,
        loopSeconds: LOOP_SECONDS,
        rssAtSeconds: [],
        ...o,
      };
      const p = spawn(process.execPath, [...NODE_FLAGS, bundle, JSON.stringify(opts)], {
        cwd: root,
        env: { ...process.env, RPTUI_CONFIG_DIR: configDir, FORCE_COLOR: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      if (cap && p.pid !== undefined) cap.add(p.pid);
      const out = await exited(
        p,
        'the client',
        (opts.warmupSeconds + opts.measureSeconds + opts.loopSeconds + 60) * 1000,
      );
      const line = out
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      if (!line) throw new Error(`the client printed no result:\n${out}`);
      return JSON.parse(line) as LiveResult;
    };
    const pct = (xs: number[]) => fmtSpread(spread(xs.map((x) => x * 100)), 2);
    const report = (label: string, rs: LiveResult[]) => {
      const s = (f: (r: LiveResult) => number, d = 1) => fmtSpread(spread(rs.map(f)), d);
      console.log(
        `${label}, ${rs.length} x ${seconds} s (${machine()}):\n` +
          `  CPU ${pct(rs.map((r) => r.cpu))} % of one core (user ${pct(rs.map((r) => r.user))}, ` +
          `system ${pct(rs.map((r) => r.system))}); RSS start ${s((r) => r.rssStartMiB, 0)} MiB, ` +
          `end ${s((r) => r.rssEndMiB, 0)} MiB (idle ${s((r) => r.rssIdleMiB, 0)}; at the end: JS heap ` +
          `${s((r) => r.memoryMiB.heapTotal, 0)}, array buffers ${s((r) => r.memoryMiB.arrayBuffers, 0)}); event-loop delay p99 ${s((r) => r.loopP99Ms, 2)} ms ` +
          `(max ${s((r) => r.loopMaxMs, 1)}); frames ${s((r) => r.frames, 0)}, lost ${s((r) => r.lost, 0)}; ` +
          `${s((r) => r.kbps / 1000, 1)} Mbit/s, ${s((r) => r.datagrams / r.seconds, 0)} datagrams/s`,
      );
    };
    if (parts.has('floor')) {
      // datagrams/s and CPU % of one core of RUNS floor runs
      const floorFigures = (fs: Floor[]) =>
        [
          `${fmtSpread(spread(fs.map((f) => f.datagrams)), 0)} datagrams/s`,
          `CPU ${fmtSpread(spread(fs.map((f) => f.cpu * 100)), 2)} % of one core`,
        ] as const;
      for (const mode of ['paced', 'burst']) {
        const floors: Floor[] = [];
        for (let i = 0; i < RUNS; i++) {
          const p = spawn(
            process.execPath,
            [...NODE_FLAGS, '--input-type=module', '-e', FLOOR_SCRIPT, 'rx', HOST, '1830', '10', mode],
            { stdio: ['ignore', 'pipe', 'pipe'] },
          );
          floors.push(JSON.parse((await exited(p, 'the dgram floor', 60_000)).trim()));
        }
        const [rate, cpu] = floorFigures(floors);
        console.log(
          `node:dgram alone, ${rate} of 1400 bytes ` +
            `${mode === 'paced' ? 'paced over each frame (as the simulator and a console send)' : 'in one burst per frame'}, ` +
            `received by a process doing nothing else (${machine()}): ${cpu}`,
        );
      }
      const native = buildNativeFloor(dir);
      if (!native) console.log('a C receive loop: skipped (no cc on this machine)');
      else {
        const floors: Floor[] = [];
        for (let i = 0; i < RUNS; i++) floors.push(await nativeFloor(native));
        const [rate, cpu] = floorFigures(floors);
        console.log(
          `a C receive loop (blocking recv, no node), ${rate} paced as above (${machine()}): ${cpu}`,
        );
      }
    }
    const profiles: [Partial<LiveClientOptions>, string][] = [
      [{ resolution: '1080p', bitrateKbps: 15_000 }, '1080p60 15 Mbit/s'],
      [{ resolution: '720p', bitrateKbps: 10_000 }, '720p60 10 Mbit/s'],
    ];
    for (const [p, label] of profiles.filter(([p]) => parts.has(p.resolution as string)))
      for (const sink of ['none', 'file']) {
        const rs: LiveResult[] = [];
        for (let i = 0; i < RUNS; i++) {
          const files =
            sink === 'file'
              ? {
                  video: `file:${join(dir, `video-${i}.h264`)}`,
                  audio: `file:${join(dir, `audio-${i}.wav`)}`,
                }
              : {};
          rs.push(await client({ ...p, ...files }));
          for (const f of ['video', 'audio'])
            rmSync(join(dir, `${f}-${i}.${f === 'video' ? 'h264' : 'wav'}`), { force: true });
        }
        report(
          `${label}, sinks ${sink}${label.startsWith('1080p') && sink === 'none' ? ' (goal <= 3 % CPU, RSS <= 70 MB)' : ''}`,
          rs,
        );
      }
    if (parts.has('tui')) {
      const tui: LiveResult[] = [];
      for (let i = 0; i < RUNS; i++) tui.push(await client({ tui: true }));
      report('1080p60 15 Mbit/s in the TUI stream screen, sinks none (goal: loop delay p99 < 5 ms)', tui);
    }

    const cap = parts.has('cap') ? cpuCap(25_000, 100_000) : 'not asked for';
    if (typeof cap === 'string') console.log(`25 %-core run skipped: ${cap}`);
    else {
      try {
        const capped: LiveResult[] = [];
        for (let i = 0; i < RUNS; i++) capped.push(await client({}, cap));
        report(`1080p60 15 Mbit/s capped at 25 % of one core (${cap.describe}; goal: no frame lost)`, capped);
        console.log(
          `  frames lost since the stream began: ${capped.map((r) => r.lostTotal).join(', ')}; ` +
            `periods the cap throttled the client: ${cap.throttled()}`,
        );
      } finally {
        cap.remove();
      }
    }

    if (parts.has('soak') && soakSeconds > 0) {
      const marks = [60, soakSeconds];
      const r = await client({ measureSeconds: soakSeconds - WARMUP, rssAtSeconds: marks });
      console.log(
        `RSS over ${soakSeconds} s, 1080p60 15 Mbit/s, sinks none (${machine()}): ` +
          marks.map((m, i) => `${m} s ${r.rssAtMiB[i].toFixed(1)} MiB`).join(', ') +
          ` (growth ${(r.rssAtMiB[1] - r.rssAtMiB[0]).toFixed(1)} MiB; goal: none, <= 70 MB); ` +
          `CPU ${(r.cpu * 100).toFixed(2)} %, loop delay p99 ${r.loopP99Ms.toFixed(2)} ms, frames lost ${r.lost}`,
      );
    }
  } finally {
    sim.kill('SIGTERM');
    await simDone;
    rmSync(dir, { recursive: true, force: true });
  }
}
