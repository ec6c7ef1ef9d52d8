/**
 * Registration (pairing) codec, docs/protocol.md §2: the UDP search on 9295 (SRC2/SRC3 -> RES2/RES3) and
 * the one TCP POST whose body hides the client's random ambassador (as "aeropause") in 480 filler
 * bytes, followed by the account id encrypted with the PIN-derived key. The console answers with
 * `Key: Value` lines encrypted under the same key and counter 0 again. Client side and console
 * side (the simulator recovers the request and refuses a wrong PIN like a console would).
 */
import { randomBytes } from 'node:crypto';
import { ascii, bytesEqual, concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from './bytes.js';
import { AuthError, ConsoleRefusedError, ParseError, UsageError } from './errors.js';
import {
  contentLength,
  formatHttpRequest,
  formatHttpResponse,
  parseHeaderBlock,
  parseHttpResponseHead,
} from './http.js';
import { parseReason, REASON, reasonInfo } from './reason.js';
import { aeropause, ambassadorFromAeropause, RpCrypt } from './rpcrypt.js';
import { isPre10, isPs5, rpVersionString, type Target } from './target.js';

const LAYER = 'regist';

export const REGIST_PORT = 9295;
/** Client-Type of the official client for PS4 >= 8 and PS5 (old PS4 firmware takes "Windows"). */
export const REGIST_CLIENT_TYPE = 'dabfa2ec873de5839bee8d3f4c0239c4282c07c25c6077a2931afcf0adc0d34f';
/** Length of the clear part of the body; the encrypted inner header follows. */
export const REGIST_CLEAR_LENGTH = 0x1e0;
/** Filler of the clear part; its bytes pick the key-table offsets, any value works. */
const FILLER = 0x41;
/** HOST value both references send; consoles do not check it. */
const DEFAULT_HOST = '10.0.2.15';
/** Longest inner header a console side accepts (the real one is ~110 bytes). */
const MAX_INNER = 4096;

export function registPath(target: Target): string {
  if (isPs5(target)) return '/sie/ps5/rp/sess/rgst';
  return isPre10(target) ? '/sce/rp/regist' : '/sie/ps4/rp/sess/rgst';
}

const searchWord = (ps5: boolean): string => (ps5 ? 'SRC3' : 'SRC2');
const answerWord = (ps5: boolean): string => (ps5 ? 'RES3' : 'RES2');

function startsWith(buf: Uint8Array, word: string): boolean {
  return buf.length >= word.length && bytesEqual(buf.subarray(0, word.length), ascii(word));
}

/** The UDP search datagram; a NUL follows the word, as the reference C client sends it. */
export function formatRegistSearch(ps5: boolean): Uint8Array {
  return ascii(`${searchWord(ps5)}\0`);
}

/** Console side: which generation a search datagram asks for. */
export function parseRegistSearch(buf: Uint8Array): { ps5: boolean } {
  if (startsWith(buf, 'SRC2')) return { ps5: false };
  if (startsWith(buf, 'SRC3')) return { ps5: true };
  throw new ParseError(LAYER, 'not a registration search (expected SRC2 or SRC3)');
}

/** Console side: the answer that says "registration is open". Clients check only the word. */
export function formatRegistSearchResponse(ps5: boolean): Uint8Array {
  return ascii(answerWord(ps5));
}

export function isRegistSearchResponse(buf: Uint8Array, ps5: boolean): boolean {
  return startsWith(buf, answerWord(ps5));
}

const ACCOUNT_ID_HINT =
  'the PSN account id is the number of your PSN account (not the sign-in name or online id); give it ' +
  'as the decimal number or as its base64 form of 12 characters (e.g. x3HEK6t1aw8=); rptui login ' +
  'signs in to PSN, finds it and stores it';

/** Account id text -> 8 bytes (little-endian u64, docs/protocol.md §2). Decimal or base64 of 8 bytes. */
export function parseAccountId(text: string): Uint8Array {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = BigInt(t);
    if (n === 0n || n > 0xffffffffffffffffn)
      throw new UsageError(
        `the account id ${t.slice(0, 30)} is not a 64-bit PSN account number`,
        ACCOUNT_ID_HINT,
      );
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, n, true);
    return out;
  }
  if (/^[A-Za-z0-9+/]{11}=?$/.test(t)) {
    const padded = t.length === 11 ? `${t}=` : t;
    const bytes = fromBase64(padded);
    // re-encoding must give the same text, else the last character carried stray bits (a typo)
    if (bytes.length === 8 && toBase64(bytes) === padded) return bytes;
  }
  throw new UsageError(`"${t.slice(0, 30)}" is not a PSN account id`, ACCOUNT_ID_HINT);
}

/** The decimal form of an 8-byte account id (for display). */
export function accountIdToDecimal(accountId: Uint8Array): string {
  if (accountId.length !== 8) throw new UsageError('a PSN account id has 8 bytes');
  return new DataView(accountId.buffer, accountId.byteOffset, 8).getBigUint64(0, true).toString(10);
}

export interface RegistRequest {
  /** Header + body, ready to send in one write. */
  bytes: Uint8Array;
  header: Uint8Array;
  body: Uint8Array;
  /** Decrypts the answer (parseRegistResponse). */
  crypt: RpCrypt;
  ambassador: Uint8Array;
}

/** Where the key-table offsets come from (docs/protocol.md §2 / §11.8). */
const keyOffsets = (clear: Uint8Array): { key0Off: number; key1Off: number } => ({
  key0Off: clear[0x18d] & 0x1f,
  key1Off: clear[0] >> 3,
});

/**
 * Client side: the registration POST. `onlineId` is the legacy PSN online id that only old PS4
 * firmware (targets 800/900) accepts instead of the account id.
 */
export function buildRegistRequest(opts: {
  target: Target;
  pin: number;
  accountId: Uint8Array;
  ambassador?: Uint8Array;
  host?: string;
  onlineId?: string;
}): RegistRequest {
  const { target } = opts;
  const pre10 = isPre10(target);
  const ambassador = opts.ambassador ? Uint8Array.from(opts.ambassador) : new Uint8Array(randomBytes(16));
  if (ambassador.length !== 16) throw new UsageError('the registration ambassador must be 16 bytes');
  let inner: string;
  if (opts.onlineId !== undefined) {
    if (!pre10) throw new UsageError('a PSN online id works only with PS4 firmware < 8; use the account id');
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(opts.onlineId))
      throw new UsageError(`"${opts.onlineId.slice(0, 40)}" is not a PSN online id`);
    inner = `Client-Type: Windows\r\nNp-Online-Id: ${opts.onlineId}\r\n`;
  } else {
    if (opts.accountId.length !== 8)
      throw new UsageError(
        `the PSN account id must be 8 bytes, got ${opts.accountId.length}`,
        ACCOUNT_ID_HINT,
      );
    inner = `Client-Type: ${pre10 ? 'Windows' : REGIST_CLIENT_TYPE}\r\nNp-AccountId: ${toBase64(opts.accountId)}\r\n`;
  }

  const clear = new Uint8Array(REGIST_CLEAR_LENGTH).fill(FILLER);
  let crypt: RpCrypt;
  if (pre10) {
    crypt = RpCrypt.forRegist(target, ambassador, 0, opts.pin);
    clear.set(aeropause(target, ambassador, 0), 0x11c);
  } else {
    const { key0Off, key1Off } = keyOffsets(clear);
    crypt = RpCrypt.forRegist(target, ambassador, key0Off, opts.pin);
    const aero = aeropause(target, ambassador, key1Off);
    clear.set(aero.subarray(8, 16), 0xc7);
    clear.set(aero.subarray(0, 8), 0x191);
  }
  const body = concatBytes(clear, crypt.encrypt(0, ascii(inner)));

  const host = opts.host ?? DEFAULT_HOST;
  const headers: Array<[string, string]> = [
    ['HOST', host],
    ['User-Agent', 'remoteplay Windows'],
    ['Connection', 'close'],
    ['Content-Length', String(body.length)],
  ];
  if (target !== 800) headers.push(['RP-Version', rpVersionString(target)]);
  // The official client repeats " HTTP/1.1" on a line of its own; consoles expect exactly that.
  const header = formatHttpRequest(`POST ${registPath(target)} HTTP/1.1\r\n HTTP/1.1`, headers);
  return { bytes: concatBytes(header, body), header, body, crypt, ambassador };
}

export interface RegistResult {
  /** RegistKey bytes (the hex of the answer decoded), zero padded to 16. */
  registKey: Uint8Array;
  /** The RegistKey hex text as the console sent it (lower-case) = RP-Registkey of session init. */
  registKeyText: string;
  /** RP-Key, 16 bytes: the long-term secret of the session crypto. */
  morning: Uint8Array;
  /** Console MAC, 12 upper-case hex digits (= DDP host-id). */
  mac: string;
  nickname: string;
  keyType?: number;
  ap?: { ssid?: string; bssid?: string; key?: string; name?: string };
  /** Every line of the decrypted answer, keys as sent. */
  raw: Map<string, string>;
}

function refusal(status: number, statusText: string, reasonValue: string | undefined): ConsoleRefusedError {
  const code = parseReason(reasonValue);
  if (code !== undefined) {
    const info = reasonInfo(code);
    return new ConsoleRefusedError(`${info.message} (HTTP ${status}, reason 0x${code.toString(16)})`, {
      reason: code,
      hint: info.hint,
    });
  }
  return new ConsoleRefusedError(
    `the console refused the registration (HTTP ${status}${statusText ? ` ${statusText}` : ''})`,
    { hint: reasonInfo(REASON.registFailed).hint },
  );
}

/** Decrypted `Key: Value` lines -> lower-case map + the raw map; ParseError if not that shape. */
function decryptedLines(
  plain: Uint8Array,
  what: string,
): { lower: Map<string, string>; raw: Map<string, string> } {
  let n = plain.length;
  while (n > 0 && plain[n - 1] === 0) n--;
  let lines: Array<[string, string]>;
  try {
    lines = parseHeaderBlock(plain.subarray(0, n), LAYER);
  } catch (e) {
    throw new ParseError(LAYER, `${what} does not decrypt to "Key: Value" lines (garbled or not for us)`, {
      cause: e,
    });
  }
  const lower = new Map<string, string>();
  const raw = new Map<string, string>();
  for (const [k, v] of lines) {
    if (!lower.has(k.toLowerCase())) lower.set(k.toLowerCase(), v);
    if (!raw.has(k)) raw.set(k, v);
  }
  return { lower, raw };
}

/**
 * Client side: the console's whole answer (header and body) -> the pairing secrets.
 * Non-200 -> ConsoleRefusedError explained by RP-Application-Reason; truncated or garbled ->
 * ParseError.
 */
export function parseRegistResponse(response: Uint8Array, crypt: RpCrypt, ps5: boolean): RegistResult {
  const head = parseHttpResponseHead(response, LAYER);
  if (!head)
    throw new ParseError(LAYER, 'the answer ended before its header was complete', {
      hint: 'the console closed the connection early; try again',
    });
  if (head.status !== 200) throw refusal(head.status, head.reason, head.headers.get('rp-application-reason'));
  const declared = contentLength(head.headers, LAYER);
  const available = response.length - head.headerLength;
  if (declared !== undefined && available < declared)
    throw new ParseError(LAYER, `truncated answer: ${available} of ${declared} body bytes`, {
      hint: 'the connection dropped during the answer; try again',
    });
  const body = response.subarray(head.headerLength, head.headerLength + (declared ?? available));
  if (body.length === 0) throw new ParseError(LAYER, 'the console accepted but sent no keys (empty body)');
  const { lower, raw } = decryptedLines(crypt.decrypt(0, body), 'the answer');

  const p = ps5 ? 'ps5' : 'ps4';
  const other = ps5 ? 'ps4' : 'ps5';
  const keyText = lower.get(`${p}-registkey`);
  if (keyText === undefined) {
    const hint = lower.has(`${other}-registkey`)
      ? `the console answered as a ${other.toUpperCase()}; register it as one`
      : undefined;
    throw new ParseError(LAYER, `the answer has no ${p.toUpperCase()}-RegistKey`, { hint });
  }
  if (!/^(?:[0-9a-fA-F]{2}){1,16}$/.test(keyText))
    throw new ParseError(LAYER, `invalid RegistKey ${JSON.stringify(keyText.slice(0, 40))}`);
  const registKey = new Uint8Array(16);
  registKey.set(fromHex(keyText));

  const rpKey = lower.get('rp-key') ?? '';
  if (!/^[0-9a-fA-F]{32}$/.test(rpKey))
    throw new ParseError(LAYER, 'the answer has no valid RP-Key (32 hex digits)');
  const mac = lower.get(`${p}-mac`) ?? '';
  if (!/^[0-9a-fA-F]{12}$/.test(mac))
    throw new ParseError(LAYER, `the answer has no valid ${p.toUpperCase()}-Mac (12 hex digits)`);

  const result: RegistResult = {
    registKey,
    registKeyText: keyText.toLowerCase(),
    morning: fromHex(rpKey),
    mac: mac.toUpperCase(),
    nickname: lower.get(`${p}-nickname`) ?? '',
    raw,
  };
  const keyType = lower.get('rp-keytype');
  if (keyType !== undefined && /^\d{1,9}$/.test(keyType)) result.keyType = Number(keyType);
  const ap: NonNullable<RegistResult['ap']> = {};
  for (const [field, key] of [
    ['ssid', 'ap-ssid'],
    ['bssid', 'ap-bssid'],
    ['key', 'ap-key'],
    ['name', 'ap-name'],
  ] as const) {
    const v = lower.get(key);
    if (v !== undefined) ap[field] = v;
  }
  if (Object.keys(ap).length > 0) result.ap = ap;
  return result;
}

/**
 * Console side: recover the client's ambassador and account id from the request body, with this
 * console's PIN. A wrong PIN gives a different key, so the inner header does not decrypt to its
 * fixed "Client-Type: " start: AuthError. `onlineId` is set instead of `accountId` (then empty)
 * for the legacy online-id form.
 */
export function parseRegistRequest(
  body: Uint8Array,
  target: Target,
  pin: number,
): { accountId: Uint8Array; ambassador: Uint8Array; crypt: RpCrypt; clientType: string; onlineId?: string } {
  if (body.length <= REGIST_CLEAR_LENGTH)
    throw new ParseError(
      LAYER,
      `request body of ${body.length} bytes is too short (needs > ${REGIST_CLEAR_LENGTH})`,
    );
  if (body.length > REGIST_CLEAR_LENGTH + MAX_INNER)
    throw new ParseError(LAYER, `request body of ${body.length} bytes is too long`);
  const clear = body.subarray(0, REGIST_CLEAR_LENGTH);
  let ambassador: Uint8Array;
  let crypt: RpCrypt;
  if (isPre10(target)) {
    ambassador = ambassadorFromAeropause(target, clear.subarray(0x11c, 0x12c), 0);
    crypt = RpCrypt.forRegist(target, ambassador, 0, pin);
  } else {
    const { key0Off, key1Off } = keyOffsets(clear);
    const aero = concatBytes(clear.subarray(0x191, 0x199), clear.subarray(0xc7, 0xcf));
    ambassador = ambassadorFromAeropause(target, aero, key1Off);
    crypt = RpCrypt.forRegist(target, ambassador, key0Off, pin);
  }
  const inner = crypt.decrypt(0, body.subarray(REGIST_CLEAR_LENGTH));
  if (!startsWith(inner, 'Client-Type: '))
    throw new AuthError('the registration request does not decrypt with this PIN (wrong PIN)', {
      hint: 'enter the 8-digit PIN the console shows',
    });
  const { lower } = decryptedLines(inner, 'the request');
  const clientType = lower.get('client-type') ?? '';
  const onlineId = lower.get('np-online-id');
  const accountText = lower.get('np-accountid');
  if (accountText !== undefined) {
    const accountId = fromBase64(accountText, LAYER);
    if (accountId.length !== 8)
      throw new ParseError(LAYER, `Np-AccountId holds ${accountId.length} bytes, not 8`);
    return { accountId, ambassador, crypt, clientType };
  }
  if (onlineId !== undefined && onlineId !== '')
    return { accountId: new Uint8Array(0), ambassador, crypt, clientType, onlineId };
  throw new ParseError(LAYER, 'the request names no account (no Np-AccountId or Np-Online-Id)');
}

/**
 * Console side: the 200 answer with the pairing secrets, encrypted at counter 0, in one buffer
 * (some clients read it with a single receive, docs/protocol.md §12).
 */
export function formatRegistResponse(
  result: Omit<RegistResult, 'registKey' | 'raw'>,
  crypt: RpCrypt,
  ps5: boolean,
): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2}){1,16}$/.test(result.registKeyText))
    throw new UsageError('registKeyText must be hex text of 1..16 bytes');
  if (result.morning.length !== 16) throw new UsageError('the RP-Key (morning) must be 16 bytes');
  if (!/^[0-9a-fA-F]{12}$/.test(result.mac)) throw new UsageError('the MAC must be 12 hex digits');
  if (/[\r\n]/.test(result.nickname)) throw new UsageError('the nickname must be one line');
  const P = ps5 ? 'PS5' : 'PS4';
  const lines: Array<[string, string | undefined]> = [
    ['AP-Ssid', result.ap?.ssid],
    ['AP-Bssid', result.ap?.bssid],
    ['AP-Key', result.ap?.key],
    ['AP-Name', result.ap?.name],
    [`${P}-Mac`, result.mac.toUpperCase()],
    [`${P}-RegistKey`, result.registKeyText],
    [`${P}-Nickname`, result.nickname],
    ['RP-KeyType', String(result.keyType ?? 2)],
    ['RP-Key', toHex(result.morning)],
  ];
  let text = '';
  for (const [k, v] of lines) {
    if (v === undefined) continue;
    if (/[\r\n]/.test(v)) throw new UsageError(`${k} must be one line`);
    text += `${k}: ${v}\r\n`;
  }
  const body = crypt.encrypt(0, utf8(text));
  return formatHttpResponse(
    200,
    'OK',
    [
      ['Connection', 'close'],
      ['Content-Length', String(body.length)],
    ],
    body,
  );
}

/** Console side: a refusal with the reason code (e.g. REASON.registFailed for a wrong PIN). */
export function formatRegistRefusal(reason: number): Uint8Array {
  return formatHttpResponse(403, 'Forbidden', [
    ['RP-Application-Reason', (reason >>> 0).toString(16)],
    ['Content-Length', '0'],
  ]);
}
