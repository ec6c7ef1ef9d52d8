/**
 * The console's side of registration: the UDP search on 9295 is answered (RES2/RES3) only for
 * the console's own generation and only while it is on; the POST is accepted only with the PIN
 * on the "screen", otherwise refused with RP-Application-Reason 80108b09 like a real console.
 * The answer (header and encrypted body) goes out in one write (docs/protocol.md §12).
 */
import { randomBytes } from 'node:crypto';
import { ascii, toBase64, toHex } from '../proto-stack/bytes.js';
import { AuthError, ParseError } from '../proto-stack/errors.js';
import { REASON } from '../proto-stack/reason.js';
import {
  formatRegistRefusal,
  formatRegistResponse,
  formatRegistSearchResponse,
  parseRegistRequest,
  parseRegistSearch,
  registPath,
} from '../proto-stack/regist.js';
import type { ConsoleHost, HttpExchange, HttpRoute, UdpHandler } from './host.js';

export function registSearchHandler(sim: ConsoleHost): UdpHandler {
  return (data, from) => {
    let ps5: boolean;
    try {
      ps5 = parseRegistSearch(data).ps5;
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
      sim.events.emit(
        'refusal',
        { proto: 'regist-search', from: from.address, reason: 'malformed', message: err.message },
        `registration search from ${from.address}: malformed, ignored`,
      );
      return undefined;
    }
    const word = ps5 ? 'SRC3' : 'SRC2';
    sim.events.emit(
      'request',
      { proto: 'regist-search', command: word, from: from.address, port: from.port },
      `${word} from ${from.address}:${from.port}`,
    );
    if (ps5 !== (sim.kind === 'PS5')) {
      sim.events.emit(
        'ignored',
        { proto: 'regist-search', command: word, reason: 'other-generation' },
        `  -> ignored: this is a ${sim.kind}`,
      );
      return undefined;
    }
    if (sim.power !== 'ready') {
      sim.events.emit(
        'ignored',
        { proto: 'regist-search', command: word, reason: 'standby' },
        '  -> ignored: in standby',
      );
      return undefined;
    }
    sim.events.emit(
      'answer',
      { proto: 'regist-search', command: ps5 ? 'RES3' : 'RES2', to: from.address },
      `  -> ${ps5 ? 'RES3' : 'RES2'}`,
    );
    return formatRegistSearchResponse(ps5);
  };
}

/** A RegistKey as consoles hand it out: 8 hex digits as ASCII, sent as the hex of those bytes. */
function newRegistKeyText(): string {
  return toHex(ascii(randomBytes(4).toString('hex')));
}

function refuse(sim: ConsoleHost, x: HttpExchange, reason: string, message: string): void {
  sim.events.emit(
    'refusal',
    { proto: 'regist', from: x.remote.address, reason, code: REASON.registFailed.toString(16), message },
    `  -> refused (${reason}): RP-Application-Reason ${REASON.registFailed.toString(16)}`,
  );
  x.socket.end(formatRegistRefusal(REASON.registFailed));
}

export function registRoutes(sim: ConsoleHost): Array<[string, HttpRoute]> {
  const ps5 = sim.kind === 'PS5';
  const route: HttpRoute = async (x) => {
    sim.events.emit(
      'request',
      {
        proto: 'regist',
        method: x.head.method,
        path: x.head.path,
        from: x.remote.address,
        bytes: x.body.length,
      },
      `registration ${x.head.method} ${x.head.path} from ${x.remote.address} (${x.body.length} byte body)`,
    );
    if (x.head.method !== 'POST') return refuse(sim, x, 'not-post', `${x.head.method} instead of POST`);
    if (sim.opts.registDelayMs) await new Promise<void>((r) => sim.later(sim.opts.registDelayMs ?? 0, r));
    // A real console answers the search either way and refuses only the POST.
    if (sim.opts.pairingClosed) return refuse(sim, x, 'pairing-closed', 'the pairing screen is not open');
    let req: ReturnType<typeof parseRegistRequest>;
    try {
      req = parseRegistRequest(x.body, sim.target, Number(sim.pin));
    } catch (err) {
      if (err instanceof AuthError) return refuse(sim, x, 'wrong-pin', err.message);
      if (err instanceof ParseError) return refuse(sim, x, 'malformed', err.message);
      throw err;
    }
    const registKeyText = newRegistKeyText();
    const morning = new Uint8Array(randomBytes(16));
    const d = sim.state.data;
    const account = req.onlineId ?? toBase64(req.accountId);
    // Remember first, answer second: a client holding keys the console forgot could never wake it.
    await sim.state.addPairing({
      accountId: account,
      registKey: registKeyText,
      morning: toHex(morning),
      pairedAt: new Date().toISOString(),
    });
    x.socket.end(
      formatRegistResponse({ registKeyText, morning, mac: d.hostId, nickname: d.nickname }, req.crypt, ps5),
    );
    sim.events.emit(
      'paired',
      {
        proto: 'regist',
        from: x.remote.address,
        accountId: account,
        registKey: registKeyText,
        morning: toHex(morning),
      },
      `  -> paired account ${account}${sim.opts.debug ? ` (RegistKey ${registKeyText})` : ''}`,
    );
  };
  return [[registPath(sim.target), route]];
}
