/**
 * The terminal picture (`rptui connect --video terminal`), measured in real terminals: blocks in
 * tmux at 80x24 and 200x60, sixel in xterm -ti vt340 and kitty graphics in kitty at 640x360
 * (both under Xvfb, with a budget that keeps that size), each against the simulator's 720p60 and
 * 1080p60 streams, plus sixel and kitty with the default budget. `rptui connect` (the sources, through
 * RPTUI_DEV=1) runs against `rptui simulate` on 127.0.0.125.
 *
 * Printed per run, as means over seconds 4 to 12 of the stream: picture.fps (frames drawn),
 * picture.kbps (bytes written to the terminal) and picture.latencyMs (access unit into ffmpeg to
 * the frame's last byte taken by the terminal) from --stats-json, the picture size, and the CPU
 * used by rptui and by its ffmpeg child (percent of one core). Needs tmux, Xvfb, xterm, kitty
 * and ffmpeg (scripts/install-deps.sh); a missing terminal's runs are skipped with a note.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { KITTY_ENV, kittyWindow, xtermSixel } from '../test/helpers/picture.js';
import { alive, childPids, cpuSeconds, onPath, startXvfb } from '../test/helpers/system.js';
import { shellQuote, Tmux } from '../test/ui/tmux.js';
import { BENCH_PIN, registerTv, root, rptui } from './cli.js';

const HOST = '127.0.0.125';
const FROM_S = 4;
const TO_S = 12;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The node process running `connect` below `pid` (a terminal, its shell...). */
function findConnect(pid: number): number | undefined {
  for (const c of childPids(pid)) {
    const argv = existsSync(`/proc/${c}/cmdline`)
      ? readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0')
      : [];
    if (argv[0] === process.execPath && argv.includes('connect')) return c;
    const deeper = findConnect(c);
    if (deeper) return deeper;
  }
  return undefined;
}

interface Run {
  name: string;
  stream: '720p' | '1080p';
  /** Starts the terminal with the shell command; returns its pid and how to close it. */
  open(cmd: string): Promise<{ pid: number; close(): Promise<void> }>;
  args: string[];
}

interface Result {
  size: string;
  fps: number;
  kbps: number;
  latencyMs: number;
  cpuRptui: number;
  cpuFfmpeg: number;
}

async function measure(run: Run, cfg: string): Promise<Result> {
  const stats = join(cfg, `stats-${run.name.replace(/\W+/g, '-')}-${run.stream}.json`);
  rmSync(stats, { force: true });
  const connect = [process.execPath, join(root, 'bin', 'rptui'), 'connect', 'tv', '--video', 'terminal']
    .concat(['--audio', 'none', '--resolution', run.stream, '--fps', '60', '--duration', String(TO_S + 4)])
    .concat(['--no-gamepad', '--stats-json', stats, ...run.args])
    .map(shellQuote)
    .join(' ');
  const term = await run.open(`RPTUI_DEV=1 RPTUI_CONFIG_DIR=${shellQuote(cfg)} ${connect} 2>/dev/null`);
  try {
    let rptui: number | undefined;
    for (let i = 0; i < 100 && rptui === undefined; i++, await sleep(100)) rptui = findConnect(term.pid);
    if (rptui === undefined) throw new Error(`${run.name}: rptui did not start`);
    // from the first second of streaming on
    for (let i = 0; i < 300 && !existsSync(stats); i++) await sleep(100);
    const t0 = Date.now();
    const samples: Result[] = [];
    let ffmpeg: number | undefined;
    while (Date.now() - t0 < TO_S * 1000) {
      await sleep(1000);
      const s = (Date.now() - t0) / 1000;
      ffmpeg =
        childPids(rptui).find(
          (c) => basename(readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0')[0]) === 'ffmpeg',
        ) ?? ffmpeg;
      if (s < FROM_S) continue;
      const now: [number, number] = [cpuSeconds(rptui), ffmpeg ? cpuSeconds(ffmpeg) : Number.NaN];
      const p = JSON.parse(readFileSync(stats, 'utf8')).picture;
      samples.push({
        size: `${p.width}x${p.height}`,
        fps: p.fps,
        kbps: p.kbps,
        latencyMs: p.latencyMs,
        cpuRptui: now[0],
        cpuFfmpeg: now[1],
      });
    }
    const mean = (k: 'fps' | 'kbps' | 'latencyMs') => samples.reduce((n, s) => n + s[k], 0) / samples.length;
    const first = samples[0];
    const last = samples[samples.length - 1];
    const secs = samples.length - 1;
    return {
      size: last.size,
      fps: mean('fps'),
      kbps: mean('kbps'),
      latencyMs: mean('latencyMs'),
      cpuRptui: (100 * (last.cpuRptui - first.cpuRptui)) / secs,
      cpuFfmpeg: (100 * (last.cpuFfmpeg - first.cpuFfmpeg)) / secs,
    };
  } finally {
    await term.close();
  }
}

function inTmux(cols: number, rows: number): Run['open'] {
  return async (cmd) => {
    const t = new Tmux();
    t.start({ command: ['sh', '-c', cmd], width: cols, height: rows });
    const pid = Number(t.tmux('display-message', '-p', '#{pane_pid}').trim());
    return { pid, close: () => t.kill() };
  };
}

function inX(
  display: string,
  argv: (cmd: string) => string[],
  env: Record<string, string> = {},
): Run['open'] {
  return async (cmd) => {
    const [bin, ...args] = argv(cmd);
    const p = spawn(bin, args, {
      env: { ...process.env, DISPLAY: display, LANG: 'C.UTF-8', ...env },
      stdio: 'ignore',
    });
    return {
      pid: p.pid!,
      close: async () => {
        p.kill('SIGTERM');
        for (let i = 0; i < 100 && alive(p.pid); i++) await sleep(50);
      },
    };
  };
}

export async function run(): Promise<void> {
  const cfg = mkdtempSync(join(tmpdir(), 'rptui-bench-picture-'));
  const sim = rptui(['simulate', '--host', HOST, '--pin', BENCH_PIN, '--state', join(cfg, 'sim.json')], cfg, {
    quiet: true,
  });
  const xvfb = onPath('Xvfb') ? await startXvfb(1280, 720) : undefined;
  try {
    await sleep(3000);
    await registerTv(HOST, cfg);
    const runs: Run[] = [];
    for (const stream of ['720p', '1080p'] as const) {
      if (onPath('tmux')) {
        runs.push({
          name: 'blocks, tmux 80x24',
          stream,
          open: inTmux(80, 24),
          args: ['--picture', 'blocks'],
        });
        runs.push({
          name: 'blocks, tmux 200x60',
          stream,
          open: inTmux(200, 60),
          args: ['--picture', 'blocks'],
        });
      }
      if (xvfb && onPath('xterm')) {
        const xterm = inX(xvfb.display, xtermSixel);
        runs.push({
          name: 'sixel, xterm -ti vt340',
          stream,
          open: xterm,
          args: ['--picture-kbps', '100000'],
        });
        runs.push({ name: 'sixel, xterm, default budget', stream, open: xterm, args: [] });
      }
      if (xvfb && onPath('kitty')) {
        const kitty = inX(xvfb.display, kittyWindow, KITTY_ENV);
        runs.push({ name: 'kitty graphics, kitty', stream, open: kitty, args: ['--picture-kbps', '100000'] });
        runs.push({ name: 'kitty, default budget', stream, open: kitty, args: [] });
      }
    }
    if (!xvfb || !onPath('xterm') || !onPath('kitty'))
      console.log('(no Xvfb, xterm or kitty: their runs are left out)');
    console.log(
      'terminal                       stream  picture   fps   kbit/s  latency ms  CPU rptui  CPU ffmpeg',
    );
    for (const r of runs) {
      const m = await measure(r, cfg);
      console.log(
        `${r.name.padEnd(30)} ${r.stream.padEnd(7)} ${m.size.padEnd(9)} ${m.fps.toFixed(1).padStart(5)} ${Math.round(m.kbps).toString().padStart(8)} ${m.latencyMs.toFixed(1).padStart(11)} ${`${m.cpuRptui.toFixed(0)} %`.padStart(10)} ${`${m.cpuFfmpeg.toFixed(0)} %`.padStart(11)}`,
      );
      await sleep(1500); // the simulator serves one session at a time
    }
  } finally {
    sim.kill('SIGTERM');
    xvfb?.stop();
    await sleep(500);
    rmSync(cfg, { recursive: true, force: true });
  }
}
