import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../src/proto-stack/bytes.js';
import { ParseError, UsageError } from '../../src/proto-stack/errors.js';
import {
  clientAuthorization,
  PSN_AUTH,
  parseOAuthError,
  parseSignInRedirect,
  parseTokenInfo,
  parseTokenResponse,
  SignInPageError,
  signInUrl,
  tokenInfoUrl,
  tokenRequestBody,
  tokenUrl,
} from '../../src/proto-stack/psn.js';
import { parseAccountId } from '../../src/proto-stack/regist.js';
import { typedOnly } from '../helpers/fuzz.js';

const REDIRECT = `${PSN_AUTH.redirectUri}?code=v5v0Nc&cid=5fea6e76-0b1c-4c4e-9b43-1d2f3a4b5c6d`;

/** The error `f` throws (fails the test when it does not throw). */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('sign-in address and token request', () => {
  it('asks Sony for a code for the Remote Play app, with its redirect page and scopes', () => {
    const url = new URL(signInUrl());
    expect(url.origin + url.pathname).toBe(
      'https://auth.api.sonyentertainmentnetwork.com/2.0/oauth/authorize',
    );
    const q = url.searchParams;
    expect(q.get('client_id')).toBe('ba495a24-818c-472b-b12d-ff231c1b5745');
    expect(q.get('response_type')).toBe('code');
    expect(q.get('service_entity')).toBe('urn:service-entity:psn');
    expect(q.get('redirect_uri')).toBe('https://remoteplay.dl.playstation.net/remoteplay/redirect');
    expect(q.get('scope')?.split(' ')).toEqual([
      'psn:clientapp',
      'referenceDataService:countryConfig.read',
      'pushNotification:webSocket.desktop.connect',
      'sessionManager:remotePlaySession.system.update',
    ]);
    expect(q.get('prompt')).toBe('always');
    // spaces are %20 (not +) and ':' '/' stay readable, which keeps the QR code small
    expect(signInUrl()).toContain('scope=psn:clientapp%20referenceDataService');
    expect(signInUrl()).toContain('redirect_uri=https://remoteplay.dl.playstation.net/remoteplay/redirect&');
    expect(signInUrl()).not.toMatch(/\s/);
  });

  it('another base URL (tests, other regions) moves every endpoint, with or without a trailing slash', () => {
    for (const base of ['http://127.0.0.100:8080', 'http://127.0.0.100:8080/']) {
      expect(signInUrl(base)).toMatch(/^http:\/\/127\.0\.0\.100:8080\/2\.0\/oauth\/authorize\?/);
      expect(tokenUrl(base)).toBe('http://127.0.0.100:8080/2.0/oauth/token');
      expect(tokenInfoUrl('a/b c', base)).toBe('http://127.0.0.100:8080/2.0/oauth/token/a%2Fb%20c');
    }
    expect(tokenUrl()).toBe('https://auth.api.sonyentertainmentnetwork.com/2.0/oauth/token');
  });

  it('the token request trades the code with the same redirect page and scopes, client id:secret as Basic', () => {
    const f = new URLSearchParams(tokenRequestBody('v5v0Nc'));
    expect(Object.fromEntries(f)).toEqual({
      grant_type: 'authorization_code',
      code: 'v5v0Nc',
      scope: PSN_AUTH.scope,
      redirect_uri: PSN_AUTH.redirectUri,
    });
    // a code with form-special characters survives
    expect(new URLSearchParams(tokenRequestBody('a+b&c=d')).get('code')).toBe('a+b&c=d');
    const auth = clientAuthorization();
    expect(auth.startsWith('Basic ')).toBe(true);
    expect(Buffer.from(auth.slice(6), 'base64').toString()).toBe(
      'ba495a24-818c-472b-b12d-ff231c1b5745:mvaiZkRsAsI1IBkY',
    );
  });
});

describe('parseSignInRedirect', () => {
  it('finds the code in the address the browser ends on, however it was pasted', () => {
    expect(parseSignInRedirect(REDIRECT)).toBe('v5v0Nc');
    expect(parseSignInRedirect(`  "${REDIRECT}"\n`)).toBe('v5v0Nc');
    expect(parseSignInRedirect(`<${REDIRECT}>`)).toBe('v5v0Nc');
    expect(parseSignInRedirect(`${PSN_AUTH.redirectUri}#code=frag12&cid=x`)).toBe('frag12');
    expect(parseSignInRedirect(`${PSN_AUTH.redirectUri}?code=test%2Bcode`)).toBe('test+code');
    // only the query part, or the code typed from a phone
    expect(parseSignInRedirect('?code=abc123&cid=x')).toBe('abc123');
    expect(parseSignInRedirect('redirect?code=abc123')).toBe('abc123');
    expect(parseSignInRedirect('code=abc123')).toBe('abc123');
    expect(parseSignInRedirect(' v5v0Nc ')).toBe('v5v0Nc');
  });

  it('says what to paste instead when there is no code', () => {
    const none = thrown(() => parseSignInRedirect(PSN_AUTH.redirectUri));
    expect(none).toBeInstanceOf(UsageError);
    expect(none.message).toBe('the pasted address has no sign-in code (no code= in it)');
    expect((none as UsageError).hint).toContain(`${PSN_AUTH.redirectUri}?code=`);
    expect(thrown(() => parseSignInRedirect('')).message).toBe('nothing was pasted');
    expect(thrown(() => parseSignInRedirect('  \n')).message).toBe('nothing was pasted');
    const itself = thrown(() => parseSignInRedirect(signInUrl()));
    expect(itself.message).toBe('that is the sign-in address itself, not the page after the sign-in');
    expect(thrown(() => parseSignInRedirect('hello world')).message).toMatch(
      /neither the address nor a sign-in code/,
    );
    expect(thrown(() => parseSignInRedirect('abc')).message).toMatch(/neither/); // too short for a code
    expect(thrown(() => parseSignInRedirect('https://')).message).toMatch(/is not a web address/);
    expect(thrown(() => parseSignInRedirect(`${PSN_AUTH.redirectUri}?code=a%20b`)).message).toMatch(
      /garbled/,
    );
  });

  it('reports the sign-in page refusing or being cancelled', () => {
    const e = thrown(() =>
      parseSignInRedirect(`${PSN_AUTH.redirectUri}?error=access_denied&error_description=User%20denied`),
    );
    expect(e).toBeInstanceOf(SignInPageError);
    expect(e.message).toBe('the PSN sign-in page answered "access_denied" (User denied) instead of a code');
  });

  it('any text: a code without spaces, or a UsageError (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.webUrl({ withQueryParameters: true, withFragments: true })),
        (t) => {
          let code: string | undefined;
          expect(typedOnly(() => (code = parseSignInRedirect(t)), UsageError)).toBe(code !== undefined);
          if (code !== undefined) expect(code).toMatch(/^[^\s]+$/);
        },
      ),
    );
  });
});

describe('token answers', () => {
  it('reads the tokens and their lifetimes', () => {
    const t = parseTokenResponse(
      JSON.stringify({
        access_token: 'acc',
        token_type: 'bearer',
        expires_in: 3599,
        scope: PSN_AUTH.scope,
        refresh_token: 'ref',
        refresh_token_expires_in: 5183999,
      }),
    );
    expect(t).toEqual({
      accessToken: 'acc',
      expiresIn: 3599,
      refreshToken: 'ref',
      refreshTokenExpiresIn: 5183999,
      scope: PSN_AUTH.scope,
    });
    expect(parseTokenResponse('{"access_token":"a"}')).toEqual({
      accessToken: 'a',
      expiresIn: 0,
      refreshToken: undefined,
      refreshTokenExpiresIn: undefined,
      scope: undefined,
    });
    for (const bad of ['', 'null', '[]', '{}', '{"access_token":""}', '{"access_token":5}', '<html>'])
      expect(() => parseTokenResponse(bad)).toThrow(ParseError);
  });

  it('reads the account id from the token information: decimal user_id -> 8 bytes LE, base64', () => {
    const info = parseTokenInfo(
      JSON.stringify({ user_id: '1234567890123456789', online_id: 'fake-player', country_code: 'DE' }),
    );
    expect(info.userId).toBe('1234567890123456789');
    expect(toBase64(info.accountId)).toBe('FYHpffQQIhE='); // the pair `rptui register --help` shows
    expect(info.onlineId).toBe('fake-player');
    expect(parseTokenInfo('{"user_id":"0042"}').userId).toBe('42');
    expect(parseTokenInfo('{"user_id":4242}').userId).toBe('4242');
    expect(parseTokenInfo('{"user_id":"1","online_id":"a\\u0007b"}').onlineId).toBe('ab');
    expect(parseTokenInfo('{"user_id":"18446744073709551615"}').accountId).toEqual(
      new Uint8Array(8).fill(255),
    );
  });

  it('refuses a user_id that is not a 64-bit account number', () => {
    for (const bad of [
      '{}',
      '{"user_id":null}',
      '{"user_id":"0"}',
      '{"user_id":"-5"}',
      '{"user_id":"12a"}',
      '{"user_id":"18446744073709551616"}',
      '{"user_id":123456789012345678901}', // a JSON number too big to read exactly
      '{"user_id":1.5}',
      'not json',
    ])
      expect(() => parseTokenInfo(bad), bad).toThrow(ParseError);
  });

  it('every 64-bit id round-trips: the base64 decodes little-endian to the decimal (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }), (n) => {
        const info = parseTokenInfo(JSON.stringify({ user_id: n.toString() }));
        const bytes = fromBase64(toBase64(info.accountId));
        expect(new DataView(bytes.buffer).getBigUint64(0, true)).toBe(n);
        expect(info.accountId).toEqual(parseAccountId(n.toString()));
      }),
    );
  });

  it('answers of any shape: a result or a ParseError, never anything else (fuzz)', () => {
    const jsonish = fc.oneof(
      fc.string(),
      fc.json(),
      fc
        .record({ user_id: fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(null)) })
        .map((o) => JSON.stringify(o)),
      fc.record({ access_token: fc.oneof(fc.string(), fc.integer()) }).map((o) => JSON.stringify(o)),
    );
    fc.assert(
      fc.property(jsonish, (t) => {
        typedOnly(() => parseTokenInfo(t), ParseError);
        typedOnly(() => parseTokenResponse(t), ParseError);
        expect(typeof parseOAuthError(t)).toBe('object');
      }),
    );
  });

  it('error answers give their OAuth error and description, clipped and cleaned', () => {
    expect(
      parseOAuthError(
        '{"error":"invalid_grant","error_description":"Invalid authorization code","error_code":4156}',
      ),
    ).toEqual({ error: 'invalid_grant', description: 'Invalid authorization code' });
    expect(parseOAuthError('<html>502</html>')).toEqual({});
    expect(parseOAuthError(JSON.stringify({ error: `a\nb${'x'.repeat(300)}` })).error).toMatch(/^a bx{157}$/);
  });
});
