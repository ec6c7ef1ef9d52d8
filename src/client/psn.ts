/**
 * PSN sign-in over HTTPS (node's fetch): trade the code from the pasted redirect address for
 * tokens, read the account id from the token's information, store it. Every request has a
 * deadline, and every failure is a typed error whose hint says what to do next. Nothing is
 * stored unless every step succeeded.
 */

import { toBase64 } from '../proto-stack/bytes.js';
import { AuthError, NetworkError, ParseError, RptuiError, UsageError } from '../proto-stack/errors.js';
import {
  clientAuthorization,
  PSN_AUTH,
  type PsnTokenInfo,
  type PsnTokens,
  parseOAuthError,
  parseSignInRedirect,
  parseTokenInfo,
  parseTokenResponse,
  tokenInfoUrl,
  tokenRequestBody,
  tokenUrl,
} from '../proto-stack/psn.js';
import type { PsnAccount, PsnAccountStore } from './psn-account.js';

/** Points the sign-in at another server: for tests and other regions only. */
export const PSN_AUTH_URL_ENV = 'RPTUI_PSN_AUTH_URL';
export const PSN_TIMEOUT_MS = 15_000;
/** Answers of the sign-in service are a few hundred bytes; more is not that service. */
const MAX_ANSWER = 64 * 1024;

const isLoopback = (host: string) =>
  host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/** The sign-in service: Sony's, or the one `RPTUI_PSN_AUTH_URL` names. */
export function psnAuthServer(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env[PSN_AUTH_URL_ENV]?.trim();
  if (!raw) return PSN_AUTH.baseUrl;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${PSN_AUTH_URL_ENV}=${raw.slice(0, 60)} is not a URL`, unsetHint);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw new UsageError(
      `${PSN_AUTH_URL_ENV} must be an https:// URL (plain http only to a test server on loopback)`,
      unsetHint,
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
const unsetHint = `unset ${PSN_AUTH_URL_ENV} to use Sony's sign-in service (it is only for tests and other regions)`;

export interface PsnRequestOptions {
  /** Base URL of the sign-in service (psnAuthServer). */
  server?: string;
  timeoutMs?: number;
  /** Aborts the request (the TUI's Esc). */
  signal?: AbortSignal;
}

const RETRY = 'sign in again and paste the new address (a code works once, for a few minutes)';

function networkHint(code: string | undefined, host: string): string {
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${host}: check this machine's DNS and internet connection, then ${RETRY}`;
    case 'CERT_HAS_EXPIRED':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `the TLS certificate of ${host} was not trusted (a proxy that intercepts HTTPS? give its CA in NODE_EXTRA_CA_CERTS), then ${RETRY}`;
    default:
      return `check this machine's internet connection (HTTPS to ${host}; proxy, firewall), then ${RETRY}`;
  }
}

/** The error code inside fetch's "fetch failed" (undici puts the socket error in `cause`). */
function errorCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 4; i++) {
    if (typeof e.code === 'string') return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

async function request(
  url: string,
  init: RequestInit,
  what: string,
  o: PsnRequestOptions,
): Promise<{ status: number; text: string }> {
  const host = new URL(url).host;
  const timeoutMs = o.timeoutMs ?? PSN_TIMEOUT_MS;
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(o.signal ? [o.signal] : [])]);
  try {
    const res = await fetch(url, { ...init, signal, redirect: 'manual' });
    const text = await res.text();
    if (text.length > MAX_ANSWER)
      throw new ParseError('psn', `the ${what} answer is ${text.length} bytes: not the PSN sign-in service`);
    return { status: res.status, text };
  } catch (err) {
    if (err instanceof RptuiError) throw err;
    if (o.signal?.aborted) throw new UsageError('PSN sign-in cancelled');
    if ((err as Error).name === 'TimeoutError') {
      throw new NetworkError(
        `no answer from the PSN sign-in service (${host}) within ${timeoutMs / 1000} s`,
        {
          hint: networkHint('ETIMEDOUT', host),
          cause: err,
        },
      );
    }
    const code = errorCode(err);
    throw new NetworkError(
      `cannot reach the PSN sign-in service (${host}): ${code ?? (err as Error).message}`,
      { hint: networkHint(code, host), cause: err },
    );
  }
}

/** An answer other than 200, as a typed error. `exchange`: the code-for-token request. */
function refusal(status: number, text: string, what: string, exchange: boolean): RptuiError {
  const { error, description } = parseOAuthError(text);
  const detail = `HTTP ${status}${error ? ` ${error}` : ''}${description ? `: ${description}` : ''}`;
  if (status === 429)
    return new NetworkError(`PSN is limiting sign-ins (${detail})`, {
      hint: `wait a few minutes, then ${RETRY}`,
    });
  if (status >= 500)
    return new NetworkError(`the PSN sign-in service failed (${detail})`, {
      hint: `the trouble is on Sony's side: try again in a few minutes, then ${RETRY}`,
    });
  if (exchange && error === 'invalid_grant')
    return new AuthError(
      `PSN did not accept the sign-in code: it has expired, was already used, or is mistyped (${detail})`,
      {
        hint: RETRY,
      },
    );
  if (error === 'invalid_client' || status === 401)
    return new AuthError(`PSN refused rptui's sign-in request (${detail})`, {
      hint: `Sony may have changed what the Remote Play app signs in with: update rptui (if ${PSN_AUTH_URL_ENV} is set, check it)`,
    });
  if (status >= 400)
    return new AuthError(`PSN refused the ${what} (${detail})`, {
      hint: `${RETRY}; if it keeps failing, PSN may have changed its sign-in: update rptui`,
    });
  return new ParseError('psn', `unexpected answer to the ${what} (HTTP ${status})`, {
    hint: `is ${PSN_AUTH_URL_ENV} pointing at the sign-in service? Otherwise ${RETRY}`,
  });
}

/** Trades an authorization code for tokens. */
export async function exchangeCode(code: string, o: PsnRequestOptions = {}): Promise<PsnTokens> {
  const { status, text } = await request(
    tokenUrl(o.server),
    {
      method: 'POST',
      headers: {
        Authorization: clientAuthorization(),
        'Content-Type': 'application/x-www-form-urlencoded',
        Accept: 'application/json',
      },
      body: tokenRequestBody(code),
    },
    'token request',
    o,
  );
  if (status !== 200) throw refusal(status, text, 'sign-in code', true);
  return parseTokenResponse(text);
}

/** Who the access token belongs to. */
export async function fetchTokenInfo(accessToken: string, o: PsnRequestOptions = {}): Promise<PsnTokenInfo> {
  const { status, text } = await request(
    tokenInfoUrl(accessToken, o.server),
    { method: 'GET', headers: { Authorization: clientAuthorization(), Accept: 'application/json' } },
    'token information request',
    o,
  );
  if (status !== 200) throw refusal(status, text, 'token information request', false);
  return parseTokenInfo(text);
}

/** The whole sign-in from the pasted address; the result is ready to store. */
export async function signIn(
  pasted: string,
  o: PsnRequestOptions & { now?: () => Date } = {},
): Promise<PsnAccount> {
  const code = parseSignInRedirect(pasted);
  const tokens = await exchangeCode(code, o);
  const info = await fetchTokenInfo(tokens.accessToken, o);
  const now = (o.now ?? (() => new Date()))();
  const refreshTokenExpiresAt =
    tokens.refreshToken && tokens.refreshTokenExpiresIn
      ? new Date(now.getTime() + tokens.refreshTokenExpiresIn * 1000).toISOString()
      : undefined;
  return {
    version: 1,
    accountId: toBase64(info.accountId),
    accountIdDecimal: info.userId,
    onlineId: info.onlineId,
    refreshToken: tokens.refreshToken,
    refreshTokenExpiresAt,
    signedInAt: now.toISOString(),
    authServer: o.server ?? PSN_AUTH.baseUrl,
  };
}

/** Signs in against the service `env` selects and stores the result (nothing on failure). */
export async function signInAndStore(
  pasted: string,
  o: { env?: NodeJS.ProcessEnv; store: PsnAccountStore; signal?: AbortSignal },
): Promise<PsnAccount> {
  const account = await signIn(pasted, { server: psnAuthServer(o.env), signal: o.signal });
  return o.store.save(account);
}
