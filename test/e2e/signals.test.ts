// Every way out of `rptui connect` in every phase of a session: SIGINT, SIGTERM and SIGHUP while
// the session request is out, while the ctrl request is out, between BIG and BANG, and while
// streaming; each with and without input (--no-input). The simulated console holds the phase
// (`simulate --hold`) so the signal lands in it. What must hold each time:
// - the exit: 0 after SIGINT/SIGTERM, killed by SIGHUP after a hang-up (as documented in
//   `connect --help`), within a few seconds, no stack trace;
// - once the stream exists (BIG sent), the console logs a DISCONNECT it could verify (its
//   final stats count no GMAC failure: nothing unauthenticated reached it), and the session ends;
// - before that, the console is not left "in use": its session (if the ctrl request got one)
//   ended, and the next run on the same console is served.
// One simulator per phase, the 6 runs in turn on it. Loopback addresses: 127.0.0.170-127.0.0.173.
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { spawnCli, useHarness } from '../helpers/cli.js';
import { disconnects, finalStats, pairedSimulator, type SimEvent } from '../helpers/simulator.js';

const h = useHarness('each');

interface Phase {
  name: string;
  host: string;
  hold?: 'session-init' | 'ctrl' | 'bang';
  /** The event that says the client is in the phase now. */
  reached: (e: SimEvent) => boolean;
  /** Whether a stream exists by then (a DISCONNECT is due). */
  stream: boolean;
}

const held = (step: string) => (e: SimEvent) => e.event === 'held' && e.step === step && e.gone !== true;

const PHASES: Phase[] = [
  {
    name: 'session request',
    host: '127.0.0.170',
    hold: 'session-init',
    reached: held('session-init'),
    stream: false,
  },
  { name: 'ctrl request', host: '127.0.0.171', hold: 'ctrl', reached: held('ctrl'), stream: false },
  { name: 'BIG sent, BANG not yet', host: '127.0.0.172', hold: 'bang', reached: held('bang'), stream: true },
  {
    name: 'streaming',
    host: '127.0.0.173',
    reached: (e) => e.event === 'stream' && e.dir === 'in' && e.message === 'STREAMINFOACK',
    stream: true,
  },
];
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function exited(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
}

describe('rptui connect: every signal in every phase ends the session cleanly', () => {
  for (const phase of PHASES)
    it(`${phase.name}: SIGINT, SIGTERM, SIGHUP, with and without input`, async () => {
      const { cfg, sim } = await pairedSimulator(h, phase.host, {
        args: phase.hold ? ['--hold', phase.hold] : [],
      });
      for (const input of [true, false])
        for (const sig of SIGNALS) {
          const what = `${sig}, ${input ? 'with' : 'without'} input`;
          const mark = sim.events().length;
          const since = Date.now();
          const child = spawnCli(['connect', 'tv', ...(input ? [] : ['--no-input'])], {
            configDir: cfg,
            stdin: 'pipe', // with input: keys would come from this pipe
          });
          const exit = exited(child);
          try {
            const at = await sim.waitFor((e) => e.t >= since && phase.reached(e), 15_000);
            child.kill(sig);
            const signalled = Date.now();
            const r = await exit;
            const took = Date.now() - signalled;
            if (phase.hold === 'bang')
              // the signal must have come while BIG was held, or this run tested the stream phase
              expect(signalled - at.t, `${what}: signal after the hold`).toBeLessThan(Number(at.ms));
            if (sig === 'SIGHUP')
              expect([r.code, r.signal], `${what}: ${r.stderr}`).toEqual([null, 'SIGHUP']);
            else expect(r.code, `${what}: ${r.stderr}`).toBe(0);
            expect(r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
            // a clean end: at most the wait for BANG (1 s) and for the DISCONNECT's ack
            expect(took, what).toBeLessThan(4000);

            if (phase.stream) {
              await sim.waitFor((e) => e.t >= since && e.event === 'session' && e.state === 'ended');
              const ev = sim.events().slice(mark);
              expect(disconnects(ev), what).toHaveLength(1);
              expect(finalStats(ev)[0], what).toMatchObject({ gmacFailures: 0 });
            } else {
              // a held request whose client left is never answered; a session, if any, ended
              await sim.waitFor((e) => e.t >= since && e.event === 'held' && e.gone === true, 5000);
              const ev = sim.events().slice(mark);
              const started = ev.filter((e) => e.event === 'session' && e.state === 'started').length;
              const ended = ev.filter((e) => e.event === 'session' && e.state === 'ended').length;
              expect(started, what).toBe(ended);
            }
          } finally {
            child.kill('SIGKILL');
            await exit;
          }
        }
    }, 120_000);
});
