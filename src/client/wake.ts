/**
 * Waking a console from rest mode: a WAKEUP datagram carrying the user credential (derived from
 * the RegistKey of a pairing), then SRCH polls until the console reports ready. The WAKEUP is
 * repeated every few seconds while it still rests, in case a datagram was lost.
 */
import { isIPv4 } from 'node:net';
import { sleep, UdpEndpoint } from '../common/net.js';
import { DDP_CLIENT_PORTS, formatDdpRequest } from '../proto-stack/discovery.js';
import { NetworkError, UsageError } from '../proto-stack/errors.js';
import type { ConsoleKind } from '../proto-stack/target.js';
import { ddpPort, type FoundConsole, probe } from './discovery.js';

export interface WakeOptions {
  host: string;
  /** user-credential: decimal digits (see wakeCredential in proto-stack/discovery). */
  credential: string;
  kind: ConsoleKind;
  timeoutMs: number;
  /** How long each SRCH poll waits for its answer. */
  pollMs?: number;
  /** WAKEUP is resent this often while the console still rests. */
  resendMs?: number;
  /** Called with each poll's result (undefined = no answer). */
  onPoll?: (c: FoundConsole | undefined) => void;
}

export interface WakeResult {
  console: FoundConsole;
  /** The console was already on: no WAKEUP was sent. */
  alreadyAwake: boolean;
  elapsedMs: number;
}

export function checkCredential(credential: string): void {
  if (!/^\d{1,20}$/.test(credential)) {
    throw new UsageError(
      `the wake credential must be a decimal number, got "${credential.slice(0, 30)}"`,
      'use `rptui wake <profile>`; the credential of a pairing is shown by `rptui profiles show NAME --secrets`',
    );
  }
}

export async function wake(opts: WakeOptions): Promise<WakeResult> {
  checkCredential(opts.credential);
  const start = Date.now();
  const pollMs = opts.pollMs ?? 1000;
  const resendMs = opts.resendMs ?? 5000;
  const deadline = start + opts.timeoutMs;

  const first = await probe(opts.host, Math.min(pollMs, opts.timeoutMs));
  opts.onPoll?.(first);
  if (first?.status === 'ready') return { console: first, alreadyAwake: true, elapsedMs: Date.now() - start };
  // A console that answered tells its own kind; trust it over the caller's guess.
  const kind = first?.hostType ?? opts.kind;
  const ep = await UdpEndpoint.open({
    address: isIPv4(opts.host) && opts.host.startsWith('127.') ? '127.0.0.1' : '0.0.0.0',
    ports: DDP_CLIENT_PORTS,
    what: 'wake',
  });
  let last = first;
  let answered = first !== undefined;
  try {
    const wakeup = formatDdpRequest('WAKEUP', { ps5: kind === 'PS5', credential: opts.credential });
    let nextWake = 0;
    while (Date.now() < deadline) {
      const t0 = Date.now();
      if (t0 >= nextWake) {
        await ep.send(wakeup, ddpPort(kind), opts.host);
        nextWake = t0 + resendMs;
      }
      last = await probe(opts.host, Math.max(1, Math.min(pollMs, deadline - t0)), [kind]);
      opts.onPoll?.(last);
      answered ||= last !== undefined;
      if (last?.status === 'ready')
        return { console: last, alreadyAwake: false, elapsedMs: Date.now() - start };
      // A resting console answers at once: pace the polls.
      const pause = Math.min(t0 + pollMs, deadline) - Date.now();
      if (pause > 0) await sleep(pause);
    }
  } finally {
    ep.close();
  }
  const secs = Math.round(opts.timeoutMs / 1000);
  if (!answered) {
    throw new NetworkError(
      `${opts.host} did not answer discovery within ${secs} s, so it cannot be woken from here`,
      {
        hint: 'check the address (rptui discover), that the console is in rest mode (not switched off) and that "Enable turning on from network" is set in its rest-mode settings',
      },
    );
  }
  throw new NetworkError(`the console at ${opts.host} is still in standby after ${secs} s`, {
    hint: 'check that the credential belongs to a pairing with THIS console (re-register if it was reset) and that "Enable turning on from network" is on in its rest-mode settings; waking can take up to 30 s, try --timeout 60',
  });
}
