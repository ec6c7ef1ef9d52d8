/**
 * Session init and ctrl request (docs/protocol.md §3.2, §3.3): the two HTTP exchanges on TCP 9295 that
 * start a stream session, for both roles. The client asks for a session with its RegistKey and
 * gets a nonce; from (target, nonce, RP-Key) both sides derive the session RpCrypt; the client
 * then opens the ctrl connection whose headers are encrypted with that context at local counters
 * 0..4, and the console proves its side with RP-Server-Type at remote counter 0.
 */
import { randomBytes } from 'node:crypto';
import { ascii, bytesEqual, fromAscii, fromBase64, fromHex, toBase64, toHex, view } from './bytes.js';
import { AuthError, ConsoleRefusedError, ParseError, UsageError } from './errors.js';
import {
  formatHttpRequest,
  formatHttpResponse,
  type HttpHead,
  type HttpRequestHead,
  parseHttpRequestHead,
  parseHttpResponseHead,
} from './http.js';
import type { VideoCodec } from './launchspec.js';
import { parseReason, REASON, reasonInfo } from './reason.js';
import type { RpCrypt } from './rpcrypt.js';
import { isPre10, isPs5, parseRpVersion, rpVersionString, type Target } from './target.js';

export const SESSION_PORT = 9295;
const USER_AGENT = 'remoteplay Windows';
const OS_TYPE = 'Win10.0.0';
/** RP-Did: fixed prefix, 16 random bytes, 6 zero bytes. */
const DID_PREFIX = [0x00, 0x18, 0x00, 0x00, 0x00, 0x07, 0x00, 0x40, 0x00, 0x80];
export const DID_SIZE = 32;
export const REGIST_KEY_SIZE = 16;

export function sessionInitPath(target: Target): string {
  if (isPre10(target)) return '/sce/rp/session';
  return isPs5(target) ? '/sie/ps5/rp/sess/init' : '/sie/ps4/rp/sess/init';
}

export function ctrlPath(target: Target): string {
  if (isPre10(target)) return '/sce/rp/session/ctrl';
  return isPs5(target) ? '/sie/ps5/rp/sess/ctrl' : '/sie/ps4/rp/sess/ctrl';
}

/**
 * The RegistKey as stored at registration is hex text; its decoded bytes (zero-padded to 16) are
 * what RP-Auth encrypts, and the text itself goes into RP-Registkey.
 */
export function registKeyBytes(registKeyText: string): Uint8Array {
  const raw = fromHex(registKeyText.trim());
  if (raw.length === 0 || raw.length > REGIST_KEY_SIZE)
    throw new UsageError(`the RegistKey must be 1..${REGIST_KEY_SIZE} bytes of hex, got ${raw.length}`);
  const out = new Uint8Array(REGIST_KEY_SIZE);
  out.set(raw);
  return out;
}

/** RP-Registkey value: lower-case hex of the key bytes up to the first zero byte. */
export function registKeyText(registKey: Uint8Array): string {
  const end = registKey.indexOf(0);
  return toHex(end === -1 ? registKey : registKey.subarray(0, end));
}

function padRegistKey(registKey: Uint8Array): Uint8Array {
  if (registKey.length > REGIST_KEY_SIZE)
    throw new UsageError(`the RegistKey must be at most ${REGIST_KEY_SIZE} bytes, got ${registKey.length}`);
  const out = new Uint8Array(REGIST_KEY_SIZE);
  out.set(registKey);
  return out;
}

// ------------------------------------------------------------------------------------------------
// Session init, client side
// ------------------------------------------------------------------------------------------------

export interface SessionInitParams {
  target: Target;
  /** Console address as written in Host (IP literal; the port is added). */
  host: string;
  /** RegistKey hex text from the profile. */
  registKeyText: string;
}

export function formatSessionInitRequest(p: SessionInitParams): Uint8Array {
  const key = registKeyText(registKeyBytes(p.registKeyText));
  return formatHttpRequest(`GET ${sessionInitPath(p.target)} HTTP/1.1`, [
    ['Host', `${p.host}:${SESSION_PORT}`],
    ['User-Agent', USER_AGENT],
    ['Connection', 'close'],
    ['Content-Length', '0'],
    ['RP-Registkey', key],
    ['Rp-Version', rpVersionString(p.target)],
  ]);
}

export interface SessionInitAccepted {
  ok: true;
  nonce: Uint8Array;
  headerLength: number;
}

export interface SessionInitRefused {
  ok: false;
  status: number;
  /** RP-Application-Reason, when the console sent a readable one. */
  reason: number | undefined;
  /** The console's RP-Version header, verbatim. */
  consoleRpVersion: string | undefined;
  /** What to show the user if no retry applies. */
  error: ConsoleRefusedError;
  headerLength: number;
}

export type SessionInitResult = SessionInitAccepted | SessionInitRefused;

function refusalError(status: number, reason: number | undefined): ConsoleRefusedError {
  if (reason === undefined) {
    return new ConsoleRefusedError(`the console refused the session (HTTP ${status}) without a reason`, {
      hint: 'make sure Remote Play is enabled on the console and that this profile is still registered',
    });
  }
  const info = reasonInfo(reason);
  return new ConsoleRefusedError(info.message, { reason, hint: info.hint });
}

/**
 * Parses the session-init answer. Returns null while the head is incomplete; ParseError for a
 * malformed answer (also a 200 without a usable 16-byte RP-Nonce).
 */
export function parseSessionInitResponse(bytes: Uint8Array): SessionInitResult | null {
  const head = parseHttpResponseHead(bytes, 'session-init');
  if (!head) return null;
  const reason = parseReason(head.headers.get('rp-application-reason'));
  if (head.status === 200) {
    const nonceText = head.headers.get('rp-nonce');
    if (nonceText === undefined) {
      if (reason !== undefined) return refused(head, reason);
      throw new ParseError('session-init', 'the console answered 200 without RP-Nonce');
    }
    const nonce = fromBase64(nonceText, 'session-init');
    if (nonce.length !== 16)
      throw new ParseError('session-init', `RP-Nonce must be 16 bytes, got ${nonce.length}`);
    return { ok: true, nonce, headerLength: head.headerLength };
  }
  return refused(head, reason);
}

function refused(head: HttpHead, reason: number | undefined): SessionInitRefused {
  return {
    ok: false,
    status: head.status,
    reason,
    consoleRpVersion: head.headers.get('rp-version'),
    error: refusalError(head.status, reason),
    headerLength: head.headerLength,
  };
}

export type SessionInitDecision =
  | { retry: true; target: Target }
  | { retry: false; error: ConsoleRefusedError };

/** The reference asks at most three times: the first request and two retries. */
export const SESSION_INIT_MAX_ATTEMPTS = 3;

/**
 * RP-Version retry rule (docs/protocol.md §3.2): when the console refuses with RP_VERSION or UNKNOWN and
 * names an RP-Version different from ours that we know (a PS4's nonsensical "5.0" counts as
 * 9.0), ask again with that version, up to SESSION_INIT_MAX_ATTEMPTS requests in all.
 * `attempt` counts the requests made so far (1 after the first).
 */
export function decideSessionInitRetry(
  ourTarget: Target,
  refusal: SessionInitRefused,
  attempt: number,
): SessionInitDecision {
  const versionish = refusal.reason === REASON.rpVersion || refusal.reason === REASON.unknown;
  const theirs = refusal.consoleRpVersion?.trim();
  if (!versionish || theirs === undefined || theirs === rpVersionString(ourTarget))
    return { retry: false, error: refusal.error };
  let next: Target;
  try {
    next = parseRpVersion(theirs, isPs5(ourTarget));
  } catch {
    const info = reasonInfo(REASON.rpVersion);
    return {
      retry: false,
      error: new ConsoleRefusedError(
        `the console speaks Remote Play version "${theirs.slice(0, 20)}", which rptui does not know`,
        {
          reason: refusal.reason,
          hint: info.hint,
        },
      ),
    };
  }
  if (attempt >= SESSION_INIT_MAX_ATTEMPTS) {
    const info = reasonInfo(REASON.rpVersion);
    return {
      retry: false,
      error: new ConsoleRefusedError(info.message, { reason: REASON.rpVersion, hint: info.hint }),
    };
  }
  return { retry: true, target: next };
}

// ------------------------------------------------------------------------------------------------
// Session init, console side
// ------------------------------------------------------------------------------------------------

export interface SessionInitRequest {
  path: string;
  /** The protocol generation the request asks for (path + Rp-Version). */
  target: Target;
  rpVersion: string;
  registKeyText: string;
  host: string | undefined;
  headerLength: number;
}

function targetOfRequest(path: string, rpVersion: string, layer: string): Target {
  const ps5 = path.startsWith('/sie/ps5/');
  if (!ps5 && !path.startsWith('/sie/ps4/') && !path.startsWith('/sce/rp/session'))
    throw new ParseError(layer, `unknown path "${path.slice(0, 60)}"`);
  return parseRpVersion(rpVersion, ps5);
}

/** Console side: null while incomplete; ParseError for anything that is not a session init. */
export function parseSessionInitRequest(bytes: Uint8Array): SessionInitRequest | null {
  const head = parseHttpRequestHead(bytes, 'session-init');
  if (!head) return null;
  if (head.method !== 'GET') throw new ParseError('session-init', `unexpected method ${head.method}`);
  const rpVersion = head.headers.get('rp-version');
  const key = head.headers.get('rp-registkey');
  if (rpVersion === undefined) throw new ParseError('session-init', 'request without Rp-Version');
  if (key === undefined || !/^[0-9a-fA-F]{2,32}$/.test(key) || key.length % 2 !== 0)
    throw new ParseError('session-init', 'request without a hex RP-Registkey');
  const target = targetOfRequest(head.path, rpVersion, 'session-init');
  if (head.path !== sessionInitPath(target))
    throw new ParseError(
      'session-init',
      `path ${head.path.slice(0, 60)} does not match Rp-Version ${rpVersion}`,
    );
  return {
    path: head.path,
    target,
    rpVersion,
    registKeyText: key.toLowerCase(),
    host: head.headers.get('host'),
    headerLength: head.headerLength,
  };
}

export function formatSessionInitResponse(nonce: Uint8Array): Uint8Array {
  if (nonce.length !== 16) throw new UsageError(`the nonce must be 16 bytes, got ${nonce.length}`);
  return formatHttpResponse(200, 'OK', [
    ['Content-Length', '0'],
    ['RP-Nonce', toBase64(nonce)],
  ]);
}

/** A refusal as a console sends it: 403 with RP-Application-Reason (hex) and its RP-Version. */
export function formatSessionInitRefusal(reason: number, consoleTarget: Target): Uint8Array {
  return formatHttpResponse(403, 'Forbidden', [
    ['Content-Length', '0'],
    ['RP-Application-Reason', (reason >>> 0).toString(16).padStart(8, '0')],
    ['RP-Version', rpVersionString(consoleTarget)],
  ]);
}

// ------------------------------------------------------------------------------------------------
// Ctrl request, client side
// ------------------------------------------------------------------------------------------------

/** RP-StreamingType (PS5): 1 H.264, 2 H.265, 3 H.265 HDR. */
export type StreamingType = 1 | 2 | 3;

export function streamingTypeFor(codec: VideoCodec = 'h264', hdr = false): StreamingType {
  if (codec === 'h265') return hdr ? 3 : 2;
  return 1;
}

/** A fresh RP-Did: prefix, 16 random bytes, 6 zero bytes. */
export function generateDid(random: Uint8Array = randomBytes(16)): Uint8Array {
  if (random.length !== 16) throw new UsageError('the RP-Did random part must be 16 bytes');
  const did = new Uint8Array(DID_SIZE);
  did.set(DID_PREFIX, 0);
  did.set(random, DID_PREFIX.length);
  return did;
}

/** The first local ctrl counter after the request headers: one per encrypted header. */
export function ctrlLocalCounterStart(target: Target): number {
  if (isPs5(target)) return 5;
  return isPre10(target) ? 3 : 4;
}

export interface CtrlRequestParams {
  target: Target;
  host: string;
  crypt: RpCrypt;
  /** RegistKey bytes (decoded hex), zero-padded to 16 here. */
  registKey: Uint8Array;
  /** 32 bytes; generated when absent. */
  did?: Uint8Array;
  /** PS5 only; defaults to 1 (H.264). Ignored for PS4, which never sends the header. */
  streamingType?: StreamingType;
}

export interface CtrlRequest {
  bytes: Uint8Array;
  did: Uint8Array;
  /** Counter for the first ctrl message the client sends. */
  localCounter: number;
}

/** The ctrl request; headers in the reference's order, values encrypted at counters 0, 1, 2, ... */
export function formatCtrlRequest(p: CtrlRequestParams): CtrlRequest {
  const did = p.did ?? generateDid();
  if (did.length !== DID_SIZE) throw new UsageError(`RP-Did must be ${DID_SIZE} bytes, got ${did.length}`);
  let counter = 0;
  const enc = (plain: Uint8Array): string => toBase64(p.crypt.encrypt(counter++, plain));
  const auth = enc(padRegistKey(p.registKey));
  const didB64 = enc(did);
  const osType = enc(ascii(`${OS_TYPE}\0`));
  const headers: Array<[string, string]> = [
    ['Host', `${p.host}:${SESSION_PORT}`],
    ['User-Agent', USER_AGENT],
    ['Connection', 'keep-alive'],
    ['Content-Length', '0'],
    ['RP-Auth', auth],
    ['RP-Version', rpVersionString(p.target)],
    ['RP-Did', didB64],
    ['RP-ControllerType', '3'],
    ['RP-ClientType', '11'],
    ['RP-OSType', osType],
    ['RP-ConPath', '1'],
  ];
  if (!isPre10(p.target)) headers.push(['RP-StartBitrate', enc(new Uint8Array(4))]);
  if (isPs5(p.target)) {
    const st = new Uint8Array(4);
    view(st).setUint32(0, p.streamingType ?? 1, true);
    headers.push(['RP-StreamingType', enc(st)]);
  }
  const bytes = formatHttpRequest(`GET ${ctrlPath(p.target)} HTTP/1.1`, headers);
  return { bytes, did, localCounter: counter };
}

export interface CtrlResponse {
  /** RP-Server-Type byte 0: 0 PS4, 1 PS4 Pro, 2 PS5; undefined when absent or unreadable. */
  serverType: number | undefined;
  /** RP-Prohibit: 1 — the console shows content that may not be streamed right now. */
  prohibit: boolean;
  /** Bytes after this belong to the ctrl message stream. */
  headerLength: number;
  /** Counter of the first ctrl message from the console (1 after a valid RP-Server-Type). */
  remoteCounter: number;
  headers: Map<string, string>;
}

/**
 * Client side: null while the head is incomplete; ConsoleRefusedError for a non-200 answer;
 * ParseError for malformed bytes.
 */
export function parseCtrlResponse(bytes: Uint8Array, crypt: RpCrypt): CtrlResponse | null {
  const head = parseHttpResponseHead(bytes, 'ctrl');
  if (!head) return null;
  if (head.status !== 200) {
    const reason = parseReason(head.headers.get('rp-application-reason'));
    if (reason !== undefined) {
      const info = reasonInfo(reason);
      throw new ConsoleRefusedError(info.message, { reason, hint: info.hint });
    }
    throw new ConsoleRefusedError(`the console refused the ctrl connection (HTTP ${head.status})`, {
      hint: 'the session request was accepted but the ctrl request was not: check that no other client took over, then reconnect',
    });
  }
  let serverType: number | undefined;
  let remoteCounter = 0;
  const st = head.headers.get('rp-server-type');
  if (st !== undefined) {
    const raw = fromBase64(st, 'ctrl');
    if (raw.length === 16) {
      serverType = crypt.decrypt(0, raw)[0];
      remoteCounter = 1;
    }
  }
  return {
    serverType,
    prohibit: head.headers.get('rp-prohibit')?.trim() === '1',
    headerLength: head.headerLength,
    remoteCounter,
    headers: head.headers,
  };
}

// ------------------------------------------------------------------------------------------------
// Ctrl request, console side
// ------------------------------------------------------------------------------------------------

/** One session the console has handed a nonce to, with the client it belongs to. */
export interface CtrlAuthCandidate<T> {
  crypt: RpCrypt;
  /** The registered client's RegistKey bytes (zero-padded to 16 for the comparison). */
  registKey: Uint8Array;
  client: T;
}

export interface CtrlRequestInfo<T> {
  client: T;
  crypt: RpCrypt;
  target: Target;
  did: Uint8Array;
  osType: string;
  /** Decrypted RP-StartBitrate (4 bytes), target >= 1000 only. */
  startBitrate: Uint8Array | undefined;
  streamingType: number | undefined;
  headerLength: number;
  /** Counter of the client's first ctrl message (the console's remote counter). */
  clientCounter: number;
}

function header(head: HttpRequestHead, name: string): string {
  const v = head.headers.get(name.toLowerCase());
  if (v === undefined) throw new ParseError('ctrl', `ctrl request without ${name}`);
  return v;
}

/**
 * Console side. `candidates` lists the sessions that could own this request (normally the one
 * session init just answered for the peer's address); RP-Auth must decrypt, at counter 0 of a
 * candidate's crypt, to that candidate's RegistKey, else AuthError. Returns null while incomplete.
 */
export function parseCtrlRequest<T>(
  bytes: Uint8Array,
  candidates: (target: Target) => Iterable<CtrlAuthCandidate<T>>,
): CtrlRequestInfo<T> | null {
  const head = parseHttpRequestHead(bytes, 'ctrl');
  if (!head) return null;
  if (head.method !== 'GET') throw new ParseError('ctrl', `unexpected method ${head.method}`);
  const target = targetOfRequest(head.path, header(head, 'RP-Version'), 'ctrl');
  if (head.path !== ctrlPath(target))
    throw new ParseError('ctrl', `unexpected path ${head.path.slice(0, 60)}`);
  const auth = fromBase64(header(head, 'RP-Auth'), 'ctrl');
  if (auth.length !== REGIST_KEY_SIZE)
    throw new ParseError('ctrl', `RP-Auth must be 16 bytes, got ${auth.length}`);
  for (const c of candidates(target)) {
    if (!bytesEqual(c.crypt.decrypt(0, auth), padRegistKey(c.registKey))) continue;
    let counter = 1;
    const dec = (name: string, size?: number): Uint8Array => {
      const raw = fromBase64(header(head, name), 'ctrl');
      if (size !== undefined && raw.length !== size)
        throw new ParseError('ctrl', `${name} must be ${size} bytes, got ${raw.length}`);
      return c.crypt.decrypt(counter++, raw);
    };
    const did = dec('RP-Did', DID_SIZE);
    const os = dec('RP-OSType');
    const nul = os.indexOf(0);
    const startBitrate = isPre10(target) ? undefined : dec('RP-StartBitrate', 4);
    const streamingType = isPs5(target) ? view(dec('RP-StreamingType', 4)).getUint32(0, true) : undefined;
    return {
      client: c.client,
      crypt: c.crypt,
      target,
      did,
      osType: fromAscii(nul === -1 ? os : os.subarray(0, nul)),
      startBitrate,
      streamingType,
      headerLength: head.headerLength,
      clientCounter: counter,
    };
  }
  throw new AuthError('RP-Auth of the ctrl request does not match a registered client', {
    hint: 'the client is not paired with this console (or used another session); register it first',
  });
}

/** RP-Server-Type values. */
export const SERVER_TYPE = { ps4: 0, ps4Pro: 1, ps5: 2 } as const;

/** Console side: the 200 answer carrying RP-Server-Type (encrypted at the console's counter 0). */
export function formatCtrlResponse(
  crypt: RpCrypt,
  serverType: number,
  opts: { prohibit?: boolean } = {},
): Uint8Array {
  const st = new Uint8Array(16);
  st[0] = serverType;
  const headers: Array<[string, string]> = [
    ['Content-Length', '0'],
    ['RP-Server-Type', toBase64(crypt.encrypt(0, st))],
  ];
  if (opts.prohibit) headers.push(['RP-Prohibit', '1']);
  return formatHttpResponse(200, 'OK', headers);
}
