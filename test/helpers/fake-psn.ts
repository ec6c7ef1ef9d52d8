// A stand-in for Sony's sign-in service on a loopback address (plain HTTP): the authorize page
// (it "signs in" at once and redirects to the Remote Play redirect page with a code, as a browser
// would see it), the token endpoint (code -> tokens, with Basic client authentication) and the
// token information. It checks what a real client must send, and records every request, so tests
// can assert both sides. The real service is never called by tests.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PSN_AUTH } from '../../src/proto-stack/psn.js';

export interface FakePsnOptions {
  /** Loopback address to listen on (port: any free one). */
  host: string;
  userId?: string;
  onlineId?: string;
  /** How long a code is good for (default 5 minutes). */
  codeTtlMs?: number;
  /** The client secret the fake accepts (default: the real one). Another value refuses every client. */
  clientSecret?: string;
}

export interface FakeRequest {
  method: string;
  path: string;
  authorization?: string;
  contentType?: string;
  body: string;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8' });
  res.end(JSON.stringify(body));
};

export class FakePsn {
  readonly requests: FakeRequest[] = [];
  readonly userId: string;
  readonly onlineId: string;
  private readonly codes = new Map<string, { expires: number; used: boolean }>();
  private readonly tokens = new Set<string>();

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    private readonly o: FakePsnOptions,
  ) {
    this.userId = o.userId ?? '7234567890123456789';
    this.onlineId = o.onlineId ?? 'fake-player';
  }

  static async start(o: FakePsnOptions): Promise<FakePsn> {
    let fake: FakePsn | undefined;
    const server = createServer((req, res) => {
      fake?.handle(req, res).catch(() => json(res, 500, { error: 'server_error' }));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, o.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    fake = new FakePsn(server, `http://${o.host}:${port}`, o);
    return fake;
  }

  /** What a browser does with the sign-in address: returns the address it ends on. */
  async signInInBrowser(signInUrl: string): Promise<string> {
    const res = await fetch(signInUrl, { redirect: 'manual' });
    await res.text();
    const location = res.headers.get('location');
    if (res.status !== 302 || !location) throw new Error(`the fake sign-in page answered ${res.status}`);
    return location;
  }

  /** Every code issued so far stops working. */
  expireCodes(): void {
    for (const c of this.codes.values()) c.expires = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private clientOk(req: IncomingMessage): boolean {
    const secret = this.o.clientSecret ?? PSN_AUTH.clientSecret;
    const want = `Basic ${Buffer.from(`${PSN_AUTH.clientId}:${secret}`).toString('base64')}`;
    return req.headers.authorization === want;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    const url = new URL(req.url ?? '/', this.baseUrl);
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname,
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      body,
    });
    if (req.method === 'GET' && url.pathname === PSN_AUTH.authorizePath) return this.authorize(url, res);
    if (!url.pathname.startsWith(PSN_AUTH.tokenPath)) return json(res, 404, { error: 'not_found' });
    if (!this.clientOk(req))
      return json(res, 401, {
        error: 'invalid_client',
        error_description: 'Bad client credentials',
        error_code: 4102,
      });
    if (req.method === 'POST' && url.pathname === PSN_AUTH.tokenPath) return this.token(req, body, res);
    const token = decodeURIComponent(url.pathname.slice(PSN_AUTH.tokenPath.length + 1));
    if (req.method === 'GET' && this.tokens.has(token)) {
      return json(res, 200, {
        scopes: PSN_AUTH.scope.replace(/ /g, ','),
        expiration: new Date(Date.now() + 3_600_000).toISOString(),
        client_id: PSN_AUTH.clientId,
        dcim_id: randomUUID(),
        grant_type: 'authorization_code',
        user_id: this.userId,
        user_uuid: randomUUID(),
        online_id: this.onlineId,
        country_code: 'DE',
        language_code: 'de',
        community_domain: 'a1',
        is_sub_account: false,
      });
    }
    return json(res, 404, { error: 'invalid_token', error_description: 'Invalid token', error_code: 4097 });
  }

  private authorize(url: URL, res: ServerResponse): void {
    const q = url.searchParams;
    const bad =
      q.get('client_id') !== PSN_AUTH.clientId ||
      q.get('response_type') !== 'code' ||
      q.get('redirect_uri') !== PSN_AUTH.redirectUri ||
      q.get('service_entity') !== 'urn:service-entity:psn' ||
      !(q.get('scope') ?? '').split(' ').includes('psn:clientapp');
    if (bad) {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('bad authorize request');
      return;
    }
    // codes look like Sony's: six letters and digits
    const code = randomBytes(6).toString('base64').replace(/[+/=]/g, 'x').slice(0, 6);
    this.codes.set(code, { expires: Date.now() + (this.o.codeTtlMs ?? 300_000), used: false });
    res.writeHead(302, { Location: `${PSN_AUTH.redirectUri}?code=${code}&cid=${randomUUID()}` });
    res.end();
  }

  private token(req: IncomingMessage, body: string, res: ServerResponse): void {
    const f = new URLSearchParams(body);
    const entry = this.codes.get(f.get('code') ?? '');
    if (!req.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
      json(res, 400, { error: 'invalid_request', error_description: 'form body expected' });
    } else if (f.get('grant_type') !== 'authorization_code') {
      json(res, 400, { error: 'unsupported_grant_type', error_code: 4100 });
    } else if (
      !entry ||
      entry.used ||
      entry.expires <= Date.now() ||
      f.get('redirect_uri') !== PSN_AUTH.redirectUri
    ) {
      json(res, 400, {
        error: 'invalid_grant',
        error_description: 'Invalid authorization code',
        error_code: 4156,
      });
    } else this.issueTokens(entry, f, res);
  }

  private issueTokens(entry: { used: boolean }, f: URLSearchParams, res: ServerResponse): void {
    entry.used = true;
    const access = randomBytes(18).toString('hex');
    this.tokens.add(access);
    json(res, 200, {
      access_token: access,
      token_type: 'bearer',
      expires_in: 3599,
      scope: f.get('scope') ?? 'psn:clientapp',
      refresh_token: `refresh-${randomBytes(18).toString('hex')}`,
      refresh_token_expires_in: 5_183_999,
    });
  }
}
