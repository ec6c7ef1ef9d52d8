/**
 * Pairing with a console (registration): learn its generation by discovery when it answers,
 * then the UDP search on 9295 (SRC2/SRC3 -> RES2/RES3, up to 3 s), a short pause (a PS4 does not
 * accept the connection right away), and one TCP POST whose encrypted answer holds the secrets.
 */

import { sleep, tcpExchange, UdpEndpoint } from '../common/net.js';
import { ConsoleRefusedError, NetworkError, UsageError } from '../proto-stack/errors.js';
import { readHttpResponse } from '../proto-stack/http.js';
import {
  buildRegistRequest,
  formatRegistSearch,
  isRegistSearchResponse,
  parseRegistResponse,
  REGIST_PORT,
  type RegistResult,
} from '../proto-stack/regist.js';
import { type ConsoleKind, consoleKind, type Target, targetFromDiscovery } from '../proto-stack/target.js';
import { type FoundConsole, probe } from './discovery.js';

/** Generation assumed when the console does not answer discovery. */
export const DEFAULT_TARGET: Record<ConsoleKind, Target> = { PS4: 1000, PS5: 1000100 };

/** The PIN as the number the key derivation wants; exactly 8 digits. */
export function parsePin(text: string): number {
  const t = text.trim();
  if (!/^\d{8}$/.test(t)) {
    throw new UsageError(
      `the PIN must be exactly 8 digits, got "${t.slice(0, 20)}"`,
      'the console shows it under Settings > Remote Play Connection Settings > Add Device (PS4) or Settings > System > Remote Play > Link Device (PS5)',
    );
  }
  return Number(t);
}

export interface RegisterOptions {
  host: string;
  pin: number;
  /** 8 bytes, little-endian PSN account id. */
  accountId: Uint8Array;
  /** The caller's guess when discovery gets no answer. */
  kind: ConsoleKind;
  probeTimeoutMs?: number;
  searchTimeoutMs?: number;
  responseTimeoutMs?: number;
  /** Progress lines for the user. */
  onStep?: (text: string) => void;
}

export interface Registration {
  result: RegistResult;
  target: Target;
  kind: ConsoleKind;
  /** Address that answered the registration search. */
  address: string;
  discovered: FoundConsole | undefined;
}

export async function register(opts: RegisterOptions): Promise<Registration> {
  const step = opts.onStep ?? (() => undefined);
  const discovered = await probe(opts.host, opts.probeTimeoutMs ?? 1500);
  let target: Target;
  if (discovered) {
    if (discovered.status === 'standby') {
      throw new ConsoleRefusedError(
        `the ${discovered.hostType} "${discovered.hostName}" at ${opts.host} is in standby`,
        {
          hint: 'turn it on (rptui wake needs an existing pairing, so use the controller or power button), open the pairing screen, then register',
        },
      );
    }
    target = targetFromDiscovery(discovered.hostType === 'PS5', discovered.systemVersion);
    if (target === 1000000) target = 1000100;
    step(`found ${discovered.hostType} "${discovered.hostName}" (system ${discovered.systemVersion})`);
  } else {
    target = DEFAULT_TARGET[opts.kind];
    step(`no discovery answer from ${opts.host}; assuming a ${opts.kind} with current firmware`);
  }
  const kind = consoleKind(target);
  const ps5 = kind === 'PS5';

  const address = await searchRegist(opts.host, ps5, opts.searchTimeoutMs ?? 3000);
  step(`${address} accepts registration; sending the PIN`);
  await sleep(100);

  const req = buildRegistRequest({ target, pin: opts.pin, accountId: opts.accountId });
  const answer = await tcpExchange({
    host: address,
    port: REGIST_PORT,
    request: req.bytes,
    connectTimeoutMs: 3000,
    responseTimeoutMs: opts.responseTimeoutMs ?? 5000,
    complete: (b) => readHttpResponse(b) !== null,
    what: 'registration',
  });
  if (answer.length === 0) {
    throw new NetworkError(`${address} closed the registration connection without an answer`, {
      hint: 'the pairing screen may have closed: open it again on the console and retry with the new PIN',
    });
  }
  const result = parseRegistResponse(answer, req.crypt, ps5);
  return { result, target, kind, address, discovered };
}

/** UDP SRC2/SRC3 to 9295; resolves with the address of the first RES2/RES3. */
async function searchRegist(host: string, ps5: boolean, timeoutMs: number): Promise<string> {
  const ep = await UdpEndpoint.open({
    address: host.startsWith('127.') ? '127.0.0.1' : '0.0.0.0',
    broadcast: host.endsWith('.255'),
    what: 'registration search',
  });
  try {
    const deadline = Date.now() + timeoutMs;
    await ep.send(formatRegistSearch(ps5), REGIST_PORT, host);
    for (;;) {
      const left = deadline - Date.now();
      const d = left > 0 ? await ep.receive(left) : undefined;
      if (!d) break;
      if (isRegistSearchResponse(d.data, ps5)) return d.address;
    }
  } finally {
    ep.close();
  }
  throw new NetworkError(
    `no answer to the registration search from ${host} within ${Math.round(timeoutMs / 1000)} s`,
    {
      hint: `check the address and that the console is on and shows the pairing screen${ps5 ? '' : ' (add --ps5 for a PS5 that does not answer discovery)'}`,
    },
  );
}
