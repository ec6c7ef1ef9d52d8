/**
 * PSN sign-in, the pure parts: the sign-in address, the token request, and reading what the
 * browser and the token service hand back. The flow is OAuth 2 "authorization code": the user
 * signs in on Sony's page in any browser, which then lands on the Remote Play redirect page with
 * `?code=...` in its address; that code buys an access token, and the token's information names
 * the numeric user id that registration sends (as 8 bytes little-endian, base64).
 *
 * The endpoints and the client credentials are those of Sony's own Remote Play app, as the
 * public reference clients use them; they are public (shipped in that app), not a secret of ours.
 */

import { ascii, toBase64 } from './bytes.js';
import { ParseError, UsageError } from './errors.js';
import { parseAccountId } from './regist.js';

export const PSN_AUTH = {
  baseUrl: 'https://auth.api.sonyentertainmentnetwork.com',
  authorizePath: '/2.0/oauth/authorize',
  tokenPath: '/2.0/oauth/token',
  clientId: 'ba495a24-818c-472b-b12d-ff231c1b5745',
  clientSecret: 'mvaiZkRsAsI1IBkY',
  redirectUri: 'https://remoteplay.dl.playstation.net/remoteplay/redirect',
  /** Remote Play plus what internet play (session manager, push) will need from the same token. */
  scope:
    'psn:clientapp referenceDataService:countryConfig.read pushNotification:webSocket.desktop.connect ' +
    'sessionManager:remotePlaySession.system.update',
} as const;

const LAYER = 'psn';

/** Form/query encoding that leaves `:` and `/` readable (both legal in a query): a shorter QR code. */
const enc = (s: string) => encodeURIComponent(s).replace(/%3A/gi, ':').replace(/%2F/gi, '/');
const form = (pairs: [string, string][]) => pairs.map(([k, v]) => `${k}=${enc(v)}`).join('&');
const join = (base: string, path: string) => `${base.replace(/\/+$/, '')}${path}`;

/** The page the user opens in a browser to sign in. */
export function signInUrl(baseUrl: string = PSN_AUTH.baseUrl): string {
  return `${join(baseUrl, PSN_AUTH.authorizePath)}?${form([
    ['service_entity', 'urn:service-entity:psn'],
    ['response_type', 'code'],
    ['client_id', PSN_AUTH.clientId],
    ['redirect_uri', PSN_AUTH.redirectUri],
    ['scope', PSN_AUTH.scope],
    ['request_locale', 'en_US'],
    ['ui', 'pr'],
    ['service_logo', 'ps'],
    ['layout_type', 'popup'],
    ['smcid', 'remoteplay'],
    ['prompt', 'always'],
    ['PlatformPrivacyWs1', 'minimal'],
  ])}`;
}

export function tokenUrl(baseUrl: string = PSN_AUTH.baseUrl): string {
  return join(baseUrl, PSN_AUTH.tokenPath);
}

/** Token information lives under the token endpoint, named by the access token itself. */
export function tokenInfoUrl(accessToken: string, baseUrl: string = PSN_AUTH.baseUrl): string {
  return `${tokenUrl(baseUrl)}/${encodeURIComponent(accessToken)}`;
}

/** `Authorization` header value: the app's client id and secret (HTTP Basic). */
export function clientAuthorization(): string {
  return `Basic ${toBase64(ascii(`${PSN_AUTH.clientId}:${PSN_AUTH.clientSecret}`))}`;
}

/** application/x-www-form-urlencoded body that trades the code for tokens. */
export function tokenRequestBody(code: string): string {
  return form([
    ['grant_type', 'authorization_code'],
    ['code', code],
    ['scope', PSN_AUTH.scope],
    ['redirect_uri', PSN_AUTH.redirectUri],
  ]);
}

/** A sign-in page that refused or was cancelled sends the browser back with `error=` instead. */
export class SignInPageError extends UsageError {
  constructor(
    readonly error: string,
    readonly description: string | undefined,
  ) {
    super(
      `the PSN sign-in page answered "${error}"${description ? ` (${description})` : ''} instead of a code`,
      'sign in again (finish the sign-in on the page), then paste the new address',
    );
  }
}

const PASTE_HINT =
  'after signing in, copy the whole address of the page the browser ends on (it starts with ' +
  `${PSN_AUTH.redirectUri}?code=) and paste it, or type just the code (the text after code= up to the next &)`;

/** What a code looks like when typed by hand (Sony's are six letters and digits, e.g. v5v0Nc). */
const BARE_CODE_RE = /^[A-Za-z0-9._~+/=-]{4,512}$/;

/**
 * The authorization code in what the user pasted: the address the browser ended on after the
 * sign-in (the code may be in its query or fragment), only its query part, or the code itself,
 * typed from a phone's address bar. Surrounding quotes/brackets and spaces are forgiven.
 * Anything else is a UsageError saying what to paste instead.
 */
export function parseSignInRedirect(text: string): string {
  const t = text.trim().replace(/^["'<]+|["'>]+$/g, '');
  if (t === '') throw new UsageError('nothing was pasted', PASTE_HINT);
  let params: URLSearchParams;
  let signInPage = false;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) {
    let url: URL;
    try {
      url = new URL(t);
    } catch {
      throw new UsageError(`"${t.slice(0, 40)}" is not a web address`, PASTE_HINT);
    }
    params = new URLSearchParams(url.search);
    for (const [k, v] of new URLSearchParams(url.hash.replace(/^#/, '')))
      if (!params.has(k)) params.set(k, v);
    signInPage = url.pathname.endsWith(PSN_AUTH.authorizePath) && params.has('client_id');
  } else {
    const query = t.replace(/^[^?#]*[?#]/, '');
    if (!/(^|&)(code|error)=/.test(query)) {
      if (BARE_CODE_RE.test(t)) return t;
      throw new UsageError(`"${t.slice(0, 40)}" is neither the address nor a sign-in code`, PASTE_HINT);
    }
    params = new URLSearchParams(query);
  }
  const error = params.get('error');
  if (error) throw new SignInPageError(error.slice(0, 80), params.get('error_description')?.slice(0, 200));
  const code = params.get('code');
  if (code === null || code === '') {
    if (signInPage) {
      throw new UsageError(
        'that is the sign-in address itself, not the page after the sign-in',
        'open it in a browser and sign in; then paste the address of the page the browser ends on',
      );
    }
    throw new UsageError('the pasted address has no sign-in code (no code= in it)', PASTE_HINT);
  }
  if (code.length > 1024 || /[\s\p{Cc}]/u.test(code))
    throw new UsageError('the sign-in code in the pasted address is garbled', PASTE_HINT);
  return code;
}

export interface PsnTokens {
  accessToken: string;
  /** Seconds the access token lasts. */
  expiresIn: number;
  refreshToken?: string;
  /** Seconds the refresh token lasts, when the service says. */
  refreshTokenExpiresIn?: number;
  scope?: string;
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ParseError(LAYER, `the ${what} is not JSON: ${JSON.stringify(text.slice(0, 60))}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new ParseError(LAYER, `the ${what} is not a JSON object`);
  return json as Record<string, unknown>;
}

const str = (o: Record<string, unknown>, k: string) =>
  typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined;
const seconds = (o: Record<string, unknown>, k: string) =>
  typeof o[k] === 'number' && Number.isFinite(o[k]) && (o[k] as number) >= 0 ? (o[k] as number) : undefined;

/** The token endpoint's success answer. */
export function parseTokenResponse(text: string): PsnTokens {
  const o = parseJsonObject(text, 'token answer');
  const accessToken = str(o, 'access_token');
  if (!accessToken) throw new ParseError(LAYER, 'the token answer has no access_token');
  return {
    accessToken,
    expiresIn: seconds(o, 'expires_in') ?? 0,
    refreshToken: str(o, 'refresh_token'),
    refreshTokenExpiresIn: seconds(o, 'refresh_token_expires_in'),
    scope: str(o, 'scope'),
  };
}

export interface OAuthErrorBody {
  /** The OAuth error name (invalid_grant, invalid_client...). */
  error?: string;
  description?: string;
}

/** An error answer's body, as far as it can be read (never throws: it only feeds a message). */
export function parseOAuthError(text: string): OAuthErrorBody {
  try {
    const o = parseJsonObject(text, 'error answer');
    const clip = (s: string | undefined) => s?.replace(/[\p{Cc}]/gu, ' ').slice(0, 160);
    return { error: clip(str(o, 'error')), description: clip(str(o, 'error_description')) };
  } catch {
    return {};
  }
}

export interface PsnTokenInfo {
  /** The numeric PSN user id, in decimal. */
  userId: string;
  /** The same id as registration sends it: 8 bytes, little-endian. */
  accountId: Uint8Array;
  /** The user's PSN name, when the service says. */
  onlineId?: string;
}

/** The token information answer: who the token belongs to. */
export function parseTokenInfo(text: string): PsnTokenInfo {
  const o = parseJsonObject(text, 'token information');
  const raw = o.user_id;
  let userId: string;
  if (typeof raw === 'string' && /^\d{1,20}$/.test(raw)) userId = raw.replace(/^0+(?=\d)/, '');
  else if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw > 0) userId = String(raw);
  else throw new ParseError(LAYER, `the token information has no usable user_id (${JSON.stringify(raw)})`);
  if (userId === '0' || BigInt(userId) > 0xffffffffffffffffn)
    throw new ParseError(LAYER, `the user_id ${userId} is not a 64-bit PSN account number`);
  const onlineId = str(o, 'online_id')
    ?.replace(/[\p{Cc}]/gu, '')
    .slice(0, 64);
  return { userId, accountId: parseAccountId(userId), onlineId: onlineId || undefined };
}
