// The PSN sign-in client against the fake sign-in service on loopback (127.0.0.100), and the
// failures it must turn into typed errors with a next step: expired codes, a refused client,
// server errors, no server, no answer, cancellation. Nothing is stored unless all went well.
import { existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  exchangeCode,
  fetchTokenInfo,
  PSN_AUTH_URL_ENV,
  psnAuthServer,
  signIn,
  signInAndStore,
} from '../../src/client/psn.js';
import { PsnAccountStore } from '../../src/client/psn-account.js';
import {
  AuthError,
  NetworkError,
  ParseError,
  type RptuiError,
  UsageError,
} from '../../src/proto-stack/errors.js';
import { PSN_AUTH, signInUrl } from '../../src/proto-stack/psn.js';
import { useHarness } from '../helpers/cli.js';
import { FakePsn, type FakePsnOptions } from '../helpers/fake-psn.js';

const HOST = '127.0.0.100';
const h = useHarness();
const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function fake(o: Partial<FakePsnOptions> = {}): Promise<FakePsn> {
  const f = await FakePsn.start({ host: HOST, ...o });
  servers.push(f);
  return f;
}

/** A plain HTTP server on loopback answering with `handler`. */
async function server(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s: Server = createServer(handler);
  await new Promise<void>((r) => s.listen(0, HOST, () => r()));
  servers.push({
    close: () =>
      new Promise<void>((r) => {
        s.closeAllConnections();
        s.close(() => r());
      }),
  });
  return `http://${HOST}:${(s.address() as AddressInfo).port}`;
}

async function rejection(p: Promise<unknown>): Promise<RptuiError> {
  try {
    await p;
  } catch (e) {
    return e as RptuiError;
  }
  throw new Error('expected a rejection');
}

describe('PSN sign-in against the fake service', () => {
  it('trades the pasted redirect for tokens and reads the account id; the requests are what Sony expects', async () => {
    const f = await fake({ userId: '1234567890123456789', onlineId: 'tester' });
    const redirect = await f.signInInBrowser(signInUrl(f.baseUrl));
    expect(redirect).toMatch(
      /^https:\/\/remoteplay\.dl\.playstation\.net\/remoteplay\/redirect\?code=\w{6}&cid=/,
    );
    const now = new Date('2030-01-02T03:04:05.000Z');
    const a = await signIn(redirect, { server: f.baseUrl, now: () => now });
    expect(a).toMatchObject({
      version: 1,
      accountId: 'FYHpffQQIhE=',
      accountIdDecimal: '1234567890123456789',
      onlineId: 'tester',
      signedInAt: '2030-01-02T03:04:05.000Z',
      refreshTokenExpiresAt: new Date(now.getTime() + 5_183_999_000).toISOString(),
      authServer: f.baseUrl,
    });
    expect(a.refreshToken).toMatch(/^refresh-/);
    const [, post, info] = f.requests;
    expect(post.method).toBe('POST');
    expect(post.path).toBe(PSN_AUTH.tokenPath);
    expect(post.contentType).toBe('application/x-www-form-urlencoded');
    expect(post.authorization).toBe(
      `Basic ${Buffer.from(`${PSN_AUTH.clientId}:${PSN_AUTH.clientSecret}`).toString('base64')}`,
    );
    const form = new URLSearchParams(post.body);
    expect(form.get('grant_type')).toBe('authorization_code');
    expect(form.get('code')).toBe(new URL(redirect).searchParams.get('code'));
    expect(form.get('redirect_uri')).toBe(PSN_AUTH.redirectUri);
    expect(info.method).toBe('GET');
    expect(info.path).toMatch(new RegExp(`^${PSN_AUTH.tokenPath}/[0-9a-f]{36}$`));
    expect(info.authorization).toBe(post.authorization);
  });

  it('a code typed by hand works as well as the whole address', async () => {
    const f = await fake();
    const code = new URL(await f.signInInBrowser(signInUrl(f.baseUrl))).searchParams.get('code') ?? '';
    expect((await signIn(` ${code} `, { server: f.baseUrl })).accountIdDecimal).toBe(f.userId);
  });

  it('an expired or reused code: AuthError saying to sign in again', async () => {
    const f = await fake();
    const first = await f.signInInBrowser(signInUrl(f.baseUrl));
    await signIn(first, { server: f.baseUrl });
    const reused = await rejection(signIn(first, { server: f.baseUrl }));
    expect(reused).toBeInstanceOf(AuthError);
    expect(reused.message).toBe(
      'PSN did not accept the sign-in code: it has expired, was already used, or is mistyped (HTTP 400 invalid_grant: Invalid authorization code)',
    );
    expect(reused.hint).toMatch(/^sign in again and paste the new address/);

    const second = await f.signInInBrowser(signInUrl(f.baseUrl));
    f.expireCodes();
    const expired = await rejection(signIn(second, { server: f.baseUrl }));
    expect(expired).toBeInstanceOf(AuthError);
    expect(expired.message).toMatch(/expired/);
  });

  it('a refused client (Sony changed the app credentials): AuthError saying to update rptui', async () => {
    const f = await fake({ clientSecret: 'rotated' });
    const e = await rejection(exchangeCode('abcdef', { server: f.baseUrl }));
    expect(e).toBeInstanceOf(AuthError);
    expect(e.message).toBe(
      "PSN refused rptui's sign-in request (HTTP 401 invalid_client: Bad client credentials)",
    );
    expect(e.hint).toMatch(/update rptui/);
    const info = await rejection(fetchTokenInfo('token', { server: f.baseUrl }));
    expect(info.message).toMatch(/HTTP 401 invalid_client/);
  });

  it('server trouble, rate limits and answers that are not the service: typed, with a next step', async () => {
    let status = 503;
    let body = '<html>down</html>';
    const base = await server((_req, res) => {
      res.writeHead(status, { 'Content-Type': 'text/html' });
      res.end(body);
    });
    let e = await rejection(exchangeCode('abcdef', { server: base }));
    expect(e).toBeInstanceOf(NetworkError);
    expect(e.message).toBe('the PSN sign-in service failed (HTTP 503)');
    expect(e.hint).toMatch(/Sony's side/);
    status = 429;
    e = await rejection(exchangeCode('abcdef', { server: base }));
    expect(e.message).toBe('PSN is limiting sign-ins (HTTP 429)');
    status = 403;
    body = '{"error":"access_denied"}';
    e = await rejection(fetchTokenInfo('t', { server: base }));
    expect(e).toBeInstanceOf(AuthError);
    expect(e.message).toBe('PSN refused the token information request (HTTP 403 access_denied)');
    status = 200;
    body = '<html>a captive portal</html>';
    e = await rejection(exchangeCode('abcdef', { server: base }));
    expect(e).toBeInstanceOf(ParseError);
    expect(e.message).toMatch(/^psn: the token answer is not JSON/);
    status = 302;
    e = await rejection(exchangeCode('abcdef', { server: base }));
    expect(e).toBeInstanceOf(ParseError);
    expect(e.message).toBe('psn: unexpected answer to the sign-in code (HTTP 302)');
  });

  it('no server at the address: NetworkError naming the host, hint about the connection', async () => {
    const base = await server(() => undefined);
    await servers.pop()?.close(); // the port is free again: nothing listens
    const e = await rejection(exchangeCode('abcdef', { server: base }));
    expect(e).toBeInstanceOf(NetworkError);
    expect(e.message).toBe(`cannot reach the PSN sign-in service (${new URL(base).host}): ECONNREFUSED`);
    expect(e.hint).toMatch(/internet connection/);
  });

  it('a server that never answers: NetworkError after the deadline; Esc (abort) cancels', async () => {
    const base = await server(() => undefined); // accepts, never answers
    const e = await rejection(exchangeCode('abcdef', { server: base, timeoutMs: 300 }));
    expect(e).toBeInstanceOf(NetworkError);
    expect(e.message).toBe(`no answer from the PSN sign-in service (${new URL(base).host}) within 0.3 s`);
    const abort = new AbortController();
    const pending = exchangeCode('abcdef', { server: base, signal: abort.signal });
    setTimeout(() => abort.abort(), 50);
    const cancelled = await rejection(pending);
    expect(cancelled).toBeInstanceOf(UsageError);
    expect(cancelled.message).toBe('PSN sign-in cancelled');
  });
});

describe('signInAndStore', () => {
  it('stores the account 0600 on success, and nothing when any step fails', async () => {
    const f = await fake();
    const store = new PsnAccountStore(join(h.tempDir(), 'psn.json'));
    const env = { [PSN_AUTH_URL_ENV]: f.baseUrl };
    const bad = await rejection(signInAndStore(PSN_AUTH.redirectUri, { env, store }));
    expect(bad.message).toMatch(/no sign-in code/);
    const old = await f.signInInBrowser(signInUrl(f.baseUrl));
    f.expireCodes();
    await rejection(signInAndStore(old, { env, store }));
    expect(existsSync(store.path)).toBe(false);
    expect(f.requests.filter((r) => r.method === 'POST')).toHaveLength(1); // the bad paste never left
    const a = await signInAndStore(await f.signInInBrowser(signInUrl(f.baseUrl)), { env, store });
    expect(statSync(store.path).mode & 0o777).toBe(0o600);
    expect(await store.load()).toEqual(a);
  });
});

describe('psnAuthServer', () => {
  it("Sony's by default; RPTUI_PSN_AUTH_URL moves it (https, or http to loopback only)", () => {
    expect(psnAuthServer({})).toBe(PSN_AUTH.baseUrl);
    expect(psnAuthServer({ [PSN_AUTH_URL_ENV]: ' ' })).toBe(PSN_AUTH.baseUrl);
    expect(psnAuthServer({ [PSN_AUTH_URL_ENV]: 'http://127.0.0.100:8080/' })).toBe('http://127.0.0.100:8080');
    expect(psnAuthServer({ [PSN_AUTH_URL_ENV]: 'https://auth.example/base/?x=1' })).toBe(
      'https://auth.example/base',
    );
    expect(psnAuthServer({ [PSN_AUTH_URL_ENV]: 'http://localhost:1' })).toBe('http://localhost:1');
    expect(() => psnAuthServer({ [PSN_AUTH_URL_ENV]: 'http://auth.example' })).toThrow(
      /must be an https:\/\/ URL/,
    );
    expect(() => psnAuthServer({ [PSN_AUTH_URL_ENV]: 'ftp://127.0.0.1' })).toThrow(UsageError);
    expect(() => psnAuthServer({ [PSN_AUTH_URL_ENV]: 'not a url' })).toThrow(/is not a URL/);
  });
});
