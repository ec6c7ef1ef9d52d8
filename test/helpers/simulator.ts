// Starts `./bin/rptui simulate ...` as a child process and follows its --json-events file:
// startSimulator() resolves once the simulator says it is listening, and SimProcess.waitFor() waits
// for any later event. The process is registered with the Harness, so cleanup() always stops it.
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Harness, runCli, spawnCli } from './cli.js';

export interface SimEvent {
  t: number;
  event: string;
  [key: string]: unknown;
}

export interface SimulatorOptions {
  host: string;
  ps5?: boolean;
  pin?: string;
  name?: string;
  standby?: boolean;
  /** State file; default: a new file in a temp dir. Pass the same path to "restart" a console. */
  state?: string;
  systemVersion?: string;
  /** Extra command-line arguments. */
  args?: string[];
  timeoutMs?: number;
}

/**
 * The events in a simulator's JSON-lines events file so far (none before the file exists). A line
 * the simulator is still writing (no newline yet) is left for the next read: a reader can see a
 * write half done.
 */
export function readSimEvents(path: string): SimEvent[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.pop(); // '' after the last newline, or the line still being written
  return lines.filter((l) => l.trim()).map((l) => JSON.parse(l) as SimEvent);
}

export class SimProcess {
  output = '';
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(
    readonly proc: ChildProcess,
    readonly eventsPath: string,
    readonly statePath: string,
  ) {
    proc.stdout?.setEncoding('utf8').on('data', (s: string) => {
      this.output += s;
    });
    proc.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.output += s;
    });
    proc.on('exit', (code, signal) => {
      this.exited = { code, signal };
    });
  }

  get exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.exited;
  }

  /** Every event written so far. */
  events(): SimEvent[] {
    return readSimEvents(this.eventsPath);
  }

  /** The first event (from the start) that matches; rejects on timeout or simulator exit. */
  async waitFor(match: (e: SimEvent) => boolean, timeoutMs = 10_000): Promise<SimEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events().find(match);
      if (hit) return hit;
      if (this.exited) throw new Error(`simulator exited (${JSON.stringify(this.exited)}):\n${this.output}`);
      if (Date.now() > deadline)
        throw new Error(`no matching simulator event within ${timeoutMs} ms:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited after 3 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(timer);
  }
}

export async function startSimulator(h: Harness, opts: SimulatorOptions): Promise<SimProcess> {
  const dir = h.tempDir('rptui-sim-');
  const eventsPath = join(dir, 'events.jsonl');
  const statePath = opts.state ?? join(dir, 'state.json');
  const args = ['simulate', '--host', opts.host, '--json-events', eventsPath, '--state', statePath];
  if (opts.ps5) args.push('--ps5');
  if (opts.pin) args.push('--pin', opts.pin);
  if (opts.name) args.push('--name', opts.name);
  if (opts.standby) args.push('--standby');
  if (opts.systemVersion) args.push('--system-version', opts.systemVersion);
  args.push(...(opts.args ?? []));
  const sim = new SimProcess(spawnCli(args, { configDir: dir }), eventsPath, statePath);
  h.defer(() => sim.stop());
  await sim.waitFor((e) => e.event === 'listening', opts.timeoutMs ?? 15_000);
  return sim;
}

/**
 * A simulated PS4 on `host` and a new config dir where it is paired as the profile "tv" (through
 * `rptui register`, with the simulator's PIN).
 */
export async function pairedSimulator(
  h: Harness,
  host: string,
  opts: Partial<SimulatorOptions> = {},
): Promise<{ cfg: string; sim: SimProcess }> {
  const pin = opts.pin ?? '35791246';
  const cfg = h.tempDir('rptui-paired-');
  const sim = await startSimulator(h, { name: 'test-PS4', ...opts, host, pin });
  const reg = await runCli(
    ['register', '--host', host, '--pin', pin, '--account-id', '1234567890123456789', '--name', 'tv'],
    { configDir: cfg, timeoutMs: 30_000 },
  );
  if (reg.code !== 0) throw new Error(`rptui register failed: ${reg.stderr}`);
  return { cfg, sim };
}

/** The stream messages of this name the simulated console received. */
export const received = (events: SimEvent[], message: string): SimEvent[] =>
  events.filter((e) => e.event === 'stream' && e.dir === 'in' && e.message === message);

/** The DISCONNECTs the simulated console received. */
export const disconnects = (events: SimEvent[]): SimEvent[] => received(events, 'DISCONNECT');

/** The console's counters at the end of each session. */
export const finalStats = (events: SimEvent[]): SimEvent[] =>
  events.filter((e) => e.event === 'stats' && e.final === true);
