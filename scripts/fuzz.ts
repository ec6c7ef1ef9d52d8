/**
 * Nightly fuzzing: `npm run fuzz` drives every parser of network and file input
 * (test/helpers/fuzz-targets.ts) with a million fast-check inputs each: random bytes and
 * mutations of valid messages. A parser may only answer bad input with a typed error
 * (RptuiError); an untyped error, an input slower than --input-ms or one that never returns fails
 * the run, which then prints the seed, the command that replays it and a minimal input, and exits 1.
 *
 * Each target runs in a worker thread watched from here: a worker that makes no progress for
 * --hang-ms is stopped and the input it was stuck on (copied to shared memory before each run)
 * is minimized in fresh workers. Not part of `npm test` (the regular suite runs each target a few
 * hundred times in test/helpers/fuzz-targets.test.ts).
 *
 * Per target it prints the inputs run, the time, inputs/s, the share a target accepted without
 * an error (stateful targets fed several records drop a bad record inside and count as accepted)
 * and the typed errors.
 *
 *   npm run fuzz -- [--runs N] [--seconds S] [--target NAME]... [--seed N] [--path P]
 *                   [--input-ms MS] [--hang-ms MS] [--jobs J] [--module FILE] [--list]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { RptuiError } from '../src/proto-stack/errors.js';
import { fuzzBytes } from '../test/helpers/fuzz.js';
import type { FuzzTarget } from '../test/helpers/fuzz-targets.js';

interface Options {
  runs: number;
  seconds: number;
  targets: string[];
  seed: number;
  path: string | undefined;
  inputMs: number;
  hangMs: number;
  jobs: number;
  module: string;
  list: boolean;
}

/** Largest input a worker copies to shared memory (the inputs are far smaller). */
const INPUT_CAPACITY = 1 << 20;

type WorkerJob =
  | {
      mode: 'run';
      module: string;
      name: string;
      runs: number;
      seed: number;
      path?: string;
      timeMs: number;
      inputMs: number;
      shared: SharedArrayBuffer;
    }
  | { mode: 'check'; module: string; name: string };

type WorkerReply =
  | { type: 'done'; numRuns: number; accepted: number; rejected: number; interrupted: boolean; ms: number }
  | { type: 'failed'; numRuns: number; seed: number; path: string; input: string; error: string; ms: number }
  | { type: 'ready' }
  | { type: 'started' }
  | { type: 'checked'; verdict: Verdict };

/** What one input does to a target: returns, throws a typed error, or throws anything else. */
type Verdict = { kind: 'ok' } | { kind: 'typed' } | { kind: 'untyped'; error: string };

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const firstLine = (err: unknown) =>
  err instanceof Error ? `${err.name}: ${err.message}`.split('\n')[0] : String(err).split('\n')[0];

async function loadTargets(module: string): Promise<FuzzTarget[]> {
  const m = (await import(pathToFileURL(resolve(module)).href)) as { fuzzTargets: () => FuzzTarget[] };
  return m.fuzzTargets();
}

// ------------------------------------------------------------------------------------------------
// Worker side
// ------------------------------------------------------------------------------------------------

async function workerMain(job: WorkerJob): Promise<void> {
  const target = (await loadTargets(job.module)).find((t) => t.name === job.name);
  if (!target) throw new Error(`no fuzz target ${job.name}`);
  if (job.mode === 'check') {
    // one input per message, for the minimizer; 'started' lets the main side time each one alone
    parentPort?.on('message', (input: Uint8Array) => {
      parentPort?.postMessage({ type: 'started' } satisfies WorkerReply);
      let verdict: Verdict = { kind: 'ok' };
      try {
        target.run(input);
      } catch (err) {
        verdict = err instanceof RptuiError ? { kind: 'typed' } : { kind: 'untyped', error: firstLine(err) };
      }
      parentPort?.postMessage({ type: 'checked', verdict } satisfies WorkerReply);
    });
    parentPort?.postMessage({ type: 'ready' } satisfies WorkerReply);
    return;
  }
  const progress = new Int32Array(job.shared, 0, 2); // [0]: inputs started, [1]: length of the current one
  const current = new Uint8Array(job.shared, 8);
  let accepted = 0;
  let rejected = 0;
  const property = fc.property(fuzzBytes(target.seeds, target.maxLength), (input) => {
    if (input.length <= current.length) current.set(input);
    Atomics.store(progress, 1, Math.min(input.length, current.length));
    Atomics.add(progress, 0, 1);
    const t0 = performance.now();
    try {
      target.run(input);
      accepted++;
    } catch (err) {
      if (!(err instanceof RptuiError)) throw err;
      rejected++;
    }
    const ms = performance.now() - t0;
    if (ms > job.inputMs) throw new Error(`one input took ${Math.round(ms)} ms (limit ${job.inputMs} ms)`);
  });
  const t0 = performance.now();
  const d = fc.check(property, {
    seed: job.seed,
    numRuns: job.runs,
    path: job.path,
    interruptAfterTimeLimit: job.timeMs,
  });
  const ms = performance.now() - t0;
  if (d.failed) {
    const e = d.errorInstance as Error | undefined;
    parentPort?.postMessage({
      type: 'failed',
      numRuns: d.numRuns,
      seed: d.seed,
      path: d.counterexamplePath ?? '',
      input: toHex((d.counterexample?.[0] as Uint8Array | undefined) ?? new Uint8Array()),
      error: e ? `${e.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 6).join('\n')}` : String(e),
      ms,
    } satisfies WorkerReply);
  } else {
    parentPort?.postMessage({
      type: 'done',
      numRuns: d.numRuns,
      accepted,
      rejected,
      interrupted: d.interrupted,
      ms,
    } satisfies WorkerReply);
  }
}

// ------------------------------------------------------------------------------------------------
// Main side
// ------------------------------------------------------------------------------------------------

/** A worker running this file under tsx (workers do not inherit the loader that --import set up). */
function startWorker(job: WorkerJob): Worker {
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); });`;
  return new Worker(code, { eval: true, workerData: job });
}

interface Outcome {
  name: string;
  inputs: number;
  ms: number;
  accepted: number;
  rejected: number;
  problem?: {
    kind: 'untyped error' | 'hang' | 'under budget';
    text: string;
    seed?: number;
    path?: string;
    input?: string;
  };
}

/**
 * Runs single inputs of one target in a worker that is started once; an input that does not
 * finish within `hangMs` (timed from when it started) is a hang, and the worker is replaced.
 */
class Checker {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;

  constructor(
    private readonly o: Options,
    private readonly name: string,
  ) {}

  private start(): Promise<void> {
    const w = startWorker({ mode: 'check', module: this.o.module, name: this.name });
    this.worker = w;
    this.ready = new Promise((resolve, reject) => {
      w.once('error', reject);
      w.once('message', () => resolve()); // 'ready'
    });
    return this.ready;
  }

  async check(input: Uint8Array): Promise<Verdict | 'hang'> {
    if (!this.worker) await this.start();
    else await this.ready;
    const w = this.worker!;
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onMessage = (m: WorkerReply) => {
        if (m.type === 'started') {
          timer = setTimeout(() => {
            w.off('message', onMessage);
            void w.terminate();
            this.worker = undefined;
            resolve('hang');
          }, this.o.hangMs);
        } else if (m.type === 'checked') {
          clearTimeout(timer);
          w.off('message', onMessage);
          resolve(m.verdict);
        }
      };
      w.on('message', onMessage);
      w.postMessage(input);
    });
  }

  stop(): void {
    void this.worker?.terminate();
  }
}

/**
 * The smallest input found (by deleting ever smaller chunks, ddmin style) that still `fails`;
 * at most `budget` checks, of which at most `hangBudget` may hang (each costs --hang-ms).
 */
async function minimize(
  o: Options,
  name: string,
  input: Uint8Array,
  fails: (v: Verdict | 'hang') => boolean,
): Promise<Uint8Array> {
  const checker = new Checker(o, name);
  let cur = input;
  let parts = 2;
  let checks = 0;
  let hangs = 0;
  try {
    while (cur.length > 0 && checks < 5000 && hangs < 30) {
      const size = Math.ceil(cur.length / parts);
      let smaller = false;
      for (let at = 0; at < cur.length && checks < 5000 && hangs < 30; at += size) {
        const candidate = new Uint8Array([...cur.subarray(0, at), ...cur.subarray(at + size)]);
        const v = await checker.check(candidate);
        checks++;
        if (v === 'hang') hangs++;
        if (fails(v)) {
          cur = candidate;
          parts = Math.max(parts - 1, 2);
          smaller = true;
          break;
        }
      }
      if (!smaller) {
        if (parts >= cur.length) break;
        parts = Math.min(cur.length, parts * 2);
      }
    }
  } finally {
    checker.stop();
  }
  return cur;
}

function fuzzOne(o: Options, name: string): Promise<Outcome> {
  const shared = new SharedArrayBuffer(8 + INPUT_CAPACITY);
  const progress = new Int32Array(shared, 0, 2);
  const current = new Uint8Array(shared, 8);
  const started = performance.now();
  const w = startWorker({
    mode: 'run',
    module: o.module,
    name,
    runs: o.runs,
    seed: o.seed,
    path: o.path,
    timeMs: o.seconds * 1000,
    inputMs: o.inputMs,
    shared,
  });
  return new Promise((done) => {
    let seen = 0;
    let seenAt = performance.now();
    const watch = setInterval(() => {
      const n = Atomics.load(progress, 0);
      const now = performance.now();
      if (n !== seen) {
        seen = n;
        seenAt = now;
        return;
      }
      if (n === 0 || now - seenAt < o.hangMs) return; // still loading, or busy within the limit
      clearInterval(watch);
      const input = current.slice(0, Atomics.load(progress, 1));
      void w.terminate().then(async () => {
        const small = await minimize(o, name, input, (v) => v === 'hang');
        done({
          name,
          inputs: n,
          ms: now - started,
          accepted: 0,
          rejected: 0,
          problem: {
            kind: 'hang',
            text: `input ${n - 1} did not return within ${o.hangMs} ms`,
            seed: o.seed,
            path: String(n - 1),
            input: toHex(small),
          },
        });
      });
    }, 100);
    w.on('message', (m: WorkerReply) => {
      clearInterval(watch);
      void w.terminate();
      if (m.type === 'done') {
        const short = m.numRuns < o.runs && o.path === undefined;
        done({
          name,
          inputs: m.numRuns,
          ms: m.ms,
          accepted: m.accepted,
          rejected: m.rejected,
          problem: short
            ? {
                kind: 'under budget',
                text: `${m.numRuns} of ${o.runs} inputs within the ${o.seconds} s time box`,
              }
            : undefined,
        });
      } else if (m.type === 'failed') {
        // fast-check shrinks what it generated; deleting bytes shrinks further
        const signature = m.error.split('\n')[0];
        void minimize(
          o,
          name,
          Buffer.from(m.input, 'hex'),
          (v) => v !== 'hang' && v.kind === 'untyped' && v.error === signature,
        ).then((small) =>
          done({
            name,
            inputs: m.numRuns,
            ms: m.ms,
            accepted: 0,
            rejected: 0,
            problem: {
              kind: 'untyped error',
              text: m.error,
              seed: m.seed,
              path: m.path,
              input: toHex(small),
            },
          }),
        );
      }
    });
    w.on('error', (err) => {
      clearInterval(watch);
      done({
        name,
        inputs: 0,
        ms: 0,
        accepted: 0,
        rejected: 0,
        problem: { kind: 'untyped error', text: String(err) },
      });
    });
  });
}

const fmt = (n: number) => n.toLocaleString('en-US');

function parseArgs(argv: string[]): Options {
  const o: Options = {
    runs: 1_000_000,
    seconds: 600,
    targets: [],
    seed: Math.floor(Math.random() * 0x7fffffff),
    path: undefined,
    inputMs: 2000,
    hangMs: 5000,
    jobs: 1,
    module: 'test/helpers/fuzz-targets.ts',
    list: false,
  };
  const num = (flag: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (v === undefined || !Number.isSafeInteger(n) || n < min)
      throw new Error(`${flag} takes a whole number >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--runs') o.runs = num(a, next(), 1);
    else if (a === '--seconds') o.seconds = num(a, next(), 1);
    else if (a === '--target') o.targets.push(next() ?? '');
    else if (a === '--seed') o.seed = num(a, next(), -0x80000000);
    else if (a === '--path') o.path = next();
    else if (a === '--input-ms') o.inputMs = num(a, next(), 1);
    else if (a === '--hang-ms') o.hangMs = num(a, next(), 100);
    else if (a === '--jobs') o.jobs = num(a, next(), 1);
    else if (a === '--module') o.module = next() ?? '';
    else if (a === '--list') o.list = true;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(
      `fuzz: ${(err as Error).message}\nusage: see the comment at the top of scripts/fuzz.ts\n`,
    );
    return 2;
  }
  const all = await loadTargets(o.module);
  if (o.list) {
    for (const t of all) process.stdout.write(`${t.name.padEnd(28)} ${t.covers}\n`);
    return 0;
  }
  const unknown = o.targets.filter((n) => !all.some((t) => t.name === n));
  if (unknown.length) {
    process.stderr.write(`fuzz: no target ${unknown.join(', ')} (see --list)\n`);
    return 2;
  }
  const chosen = o.targets.length ? all.filter((t) => o.targets.includes(t.name)) : all;
  const what = o.path === undefined ? `${fmt(o.runs)} inputs each` : `replaying path ${o.path}`;
  process.stdout.write(
    `rptui fuzz: ${chosen.length} targets, ${what}, seed ${o.seed}; time box ${o.seconds} s per target, ` +
      `${o.inputMs} ms per input, hang after ${o.hangMs} ms\n\n`,
  );
  const header = `${'target'.padEnd(26)} ${'inputs'.padStart(11)} ${'seconds'.padStart(8)} ${'inputs/s'.padStart(9)} ${'accepted'.padStart(9)} ${'typed err.'.padStart(11)}  result`;
  process.stdout.write(`${header}\n`);
  const results: Outcome[] = [];
  const queue = [...chosen];
  const line = (r: Outcome) => {
    const s = r.ms / 1000;
    const rate = s > 0 ? Math.round(r.inputs / s) : 0;
    const acc =
      r.accepted + r.rejected > 0 ? `${((100 * r.accepted) / (r.accepted + r.rejected)).toFixed(1)} %` : '-';
    return `${r.name.padEnd(26)} ${fmt(r.inputs).padStart(11)} ${s.toFixed(1).padStart(8)} ${fmt(rate).padStart(9)} ${acc.padStart(9)} ${fmt(r.rejected).padStart(11)}  ${r.problem ? r.problem.kind.toUpperCase() : 'ok'}`;
  };
  await Promise.all(
    Array.from({ length: Math.min(o.jobs, queue.length) }, async () => {
      for (let t = queue.shift(); t; t = queue.shift()) {
        const r = await fuzzOne(o, t.name);
        results.push(r);
        process.stdout.write(`${line(r)}\n`);
      }
    }),
  );
  const total = results.reduce((n, r) => n + r.inputs, 0);
  const totalMs = results.reduce((n, r) => n + r.ms, 0);
  const bad = results.filter((r) => r.problem);
  process.stdout.write(
    `${'total'.padEnd(26)} ${fmt(total).padStart(11)} ${(totalMs / 1000).toFixed(1).padStart(8)} ${fmt(Math.round(total / (totalMs / 1000 || 1))).padStart(9)}` +
      `${''.padStart(22)}  ${bad.length ? `${bad.length} failed` : 'all ok'}; untyped errors: ${results.filter((r) => r.problem?.kind === 'untyped error').length}, hangs: ${results.filter((r) => r.problem?.kind === 'hang').length}\n`,
  );
  for (const r of bad) {
    const p = r.problem!;
    process.stdout.write(`\n${p.kind.toUpperCase()} in ${r.name}: ${p.text}\n`);
    if (p.seed !== undefined)
      process.stdout.write(
        `  replay: npm run fuzz -- --target ${r.name} --seed ${p.seed} --path ${p.path}\n`,
      );
    if (p.input !== undefined)
      process.stdout.write(`  minimal input (${p.input.length / 2} bytes): ${p.input}\n`);
  }
  return bad.length ? 1 : 0;
}

if (isMainThread) {
  // `npm run fuzz -- --list | head` closes stdout early: the reader's choice, not an error
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  process.exitCode = await main();
} else await workerMain(workerData as WorkerJob);
