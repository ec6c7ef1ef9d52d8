import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ascii, fromAscii, fromHex, toBase64 } from '../../src/proto-stack/bytes.js';
import { AuthError, ConsoleRefusedError, ParseError } from '../../src/proto-stack/errors.js';
import { REASON } from '../../src/proto-stack/reason.js';
import { RpCrypt } from '../../src/proto-stack/rpcrypt.js';
import {
  ctrlLocalCounterStart,
  decideSessionInitRetry,
  formatCtrlRequest,
  formatCtrlResponse,
  formatSessionInitRefusal,
  formatSessionInitRequest,
  formatSessionInitResponse,
  generateDid,
  parseCtrlRequest,
  parseCtrlResponse,
  parseSessionInitRequest,
  parseSessionInitResponse,
  registKeyBytes,
  registKeyText,
  type SessionInitRefused,
  streamingTypeFor,
} from '../../src/proto-stack/session.js';
import type { Target } from '../../src/proto-stack/target.js';
import { typedOnly } from '../helpers/fuzz.js';
import { loadVectors } from '../helpers/vectors.js';

interface SessionVector {
  target: Target;
  nonce: string;
  morning: string;
  regist_key_bytes: string;
  did: string;
  'RP-Auth': string;
  'RP-Did': string;
  'RP-OSType': string;
  'RP-StartBitrate': string;
  'RP-StreamingType_hevc_counter4': string;
}

const sessions: SessionVector[] = loadVectors('generated_chiaki').session;

function headerValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n').slice(1)) {
    const i = line.indexOf(': ');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 2));
  }
  return m;
}

describe('ctrl request headers (generated_chiaki.json session[*])', () => {
  it.each(sessions.map((v, i) => [i, v] as const))('case %i is byte-exact', (_i, v) => {
    const crypt = RpCrypt.forSession(v.target, fromHex(v.nonce), fromHex(v.morning));
    // The vector's RP-StreamingType is always H.265 at counter 4; for PS4 only counters 0..3 exist.
    const req = formatCtrlRequest({
      target: v.target,
      host: '192.168.1.20',
      crypt,
      registKey: fromHex(v.regist_key_bytes).subarray(0, 8),
      did: fromHex(v.did),
      streamingType: streamingTypeFor('h265'),
    });
    const h = headerValues(fromAscii(req.bytes));
    expect(h.get('RP-Auth')).toBe(v['RP-Auth']);
    expect(h.get('RP-Did')).toBe(v['RP-Did']);
    expect(h.get('RP-OSType')).toBe(v['RP-OSType']);
    expect(h.get('RP-StartBitrate')).toBe(v['RP-StartBitrate']);
    if (v.target === 1000100) {
      expect(h.get('RP-StreamingType')).toBe(v['RP-StreamingType_hevc_counter4']);
      expect(req.localCounter).toBe(5);
    } else {
      expect(h.has('RP-StreamingType')).toBe(false);
      expect(toBase64(crypt.encrypt(4, new Uint8Array([2, 0, 0, 0])))).toBe(
        v['RP-StreamingType_hevc_counter4'],
      );
      expect(req.localCounter).toBe(4);
    }
  });

  it('writes every header in the reference order (PS5)', () => {
    const v = sessions[2];
    const crypt = RpCrypt.forSession(v.target, fromHex(v.nonce), fromHex(v.morning));
    const req = formatCtrlRequest({
      target: 1000100,
      host: '10.0.0.5',
      crypt,
      registKey: registKeyBytes('3161326233633464'),
      did: fromHex(v.did),
      streamingType: 2,
    });
    expect(fromAscii(req.bytes)).toBe(
      'GET /sie/ps5/rp/sess/ctrl HTTP/1.1\r\n' +
        'Host: 10.0.0.5:9295\r\n' +
        'User-Agent: remoteplay Windows\r\n' +
        'Connection: keep-alive\r\n' +
        'Content-Length: 0\r\n' +
        `RP-Auth: ${v['RP-Auth']}\r\n` +
        'RP-Version: 1.0\r\n' +
        `RP-Did: ${v['RP-Did']}\r\n` +
        'RP-ControllerType: 3\r\n' +
        'RP-ClientType: 11\r\n' +
        `RP-OSType: ${v['RP-OSType']}\r\n` +
        'RP-ConPath: 1\r\n' +
        `RP-StartBitrate: ${v['RP-StartBitrate']}\r\n` +
        `RP-StreamingType: ${v['RP-StreamingType_hevc_counter4']}\r\n` +
        '\r\n',
    );
  });

  it('omits RP-StartBitrate before PS4 firmware 8 and uses the old path', () => {
    const crypt = new RpCrypt(900, new Uint8Array(16), new Uint8Array(16));
    const req = formatCtrlRequest({ target: 900, host: 'h', crypt, registKey: new Uint8Array(8) });
    const text = fromAscii(req.bytes);
    expect(text.startsWith('GET /sce/rp/session/ctrl HTTP/1.1\r\n')).toBe(true);
    expect(text).not.toContain('RP-StartBitrate');
    expect(req.localCounter).toBe(3);
    expect(ctrlLocalCounterStart(900)).toBe(3);
    expect(req.did.subarray(0, 10)).toEqual(fromHex('00180000000700400080'));
    expect(req.did.subarray(26)).toEqual(new Uint8Array(6));
  });
});

describe('session init', () => {
  it('formats the request with every header in order', () => {
    const text = fromAscii(
      formatSessionInitRequest({ target: 1000, host: '192.168.1.20', registKeyText: '3161326233633464' }),
    );
    expect(text).toBe(
      'GET /sie/ps4/rp/sess/init HTTP/1.1\r\n' +
        'Host: 192.168.1.20:9295\r\n' +
        'User-Agent: remoteplay Windows\r\n' +
        'Connection: close\r\n' +
        'Content-Length: 0\r\n' +
        'RP-Registkey: 3161326233633464\r\n' +
        'Rp-Version: 10.0\r\n' +
        '\r\n',
    );
    expect(
      fromAscii(formatSessionInitRequest({ target: 1000100, host: 'h', registKeyText: 'AB00' })),
    ).toContain('GET /sie/ps5/rp/sess/init HTTP/1.1\r\n');
    expect(fromAscii(formatSessionInitRequest({ target: 800, host: 'h', registKeyText: 'ab' }))).toContain(
      'GET /sce/rp/session HTTP/1.1\r\n',
    );
  });

  it('RegistKey text <-> bytes stops at the first zero byte', () => {
    expect(registKeyText(registKeyBytes('3161326233633464'))).toBe('3161326233633464');
    expect(registKeyText(registKeyBytes('AB00CD'))).toBe('ab');
  });

  it('round-trips request and nonce between the two roles', () => {
    const req = formatSessionInitRequest({ target: 1000100, host: '127.0.0.1', registKeyText: '31613262' });
    const parsed = parseSessionInitRequest(req);
    expect(parsed).toMatchObject({ target: 1000100, registKeyText: '31613262', rpVersion: '1.0' });
    expect(parseSessionInitRequest(req.subarray(0, 20))).toBeNull();
    const nonce = fromHex('ae92e764882651ef89018cfa696c6938');
    const res = parseSessionInitResponse(formatSessionInitResponse(nonce));
    expect(res).toMatchObject({ ok: true });
    expect(res?.ok && res.nonce).toEqual(nonce);
  });

  it('maps refusals to ConsoleRefusedError with user messages', () => {
    const inUse = parseSessionInitResponse(formatSessionInitRefusal(REASON.inUse, 1000));
    expect(inUse?.ok).toBe(false);
    if (inUse && !inUse.ok) {
      expect(inUse.reason).toBe(REASON.inUse);
      expect(inUse.consoleRpVersion).toBe('10.0');
      expect(inUse.error).toBeInstanceOf(ConsoleRefusedError);
      expect(inUse.error.message).toMatch(/already in use/);
      expect(decideSessionInitRetry(1000, inUse, 1)).toEqual({ retry: false, error: inUse.error });
    }
    const crash = parseSessionInitResponse(formatSessionInitRefusal(REASON.crashed, 1000));
    expect(crash?.ok === false && crash.error.message).toMatch(/crashed/);
    const bare = parseSessionInitResponse(ascii('HTTP/1.1 403 Forbidden\r\n\r\n'));
    expect(bare?.ok === false && bare.error.message).toMatch(/HTTP 403/);
  });

  it('rejects a 200 without a 16-byte nonce', () => {
    expect(() => parseSessionInitResponse(ascii('HTTP/1.1 200 OK\r\n\r\n'))).toThrow(ParseError);
    expect(() => parseSessionInitResponse(ascii('HTTP/1.1 200 OK\r\nRP-Nonce: AAAA\r\n\r\n'))).toThrow(
      /16 bytes/,
    );
  });
});

describe('RP-Version retry rule', () => {
  const refusal = (reason: number | undefined, version: string | undefined): SessionInitRefused => {
    const head =
      'HTTP/1.1 403 Forbidden\r\n' +
      (reason === undefined ? '' : `RP-Application-Reason: ${reason.toString(16)}\r\n`) +
      (version === undefined ? '' : `rp-version: ${version}\r\n`) +
      '\r\n';
    const r = parseSessionInitResponse(ascii(head));
    if (!r || r.ok) throw new Error('expected a refusal');
    return r;
  };

  it('retries with the console version on RP_VERSION or UNKNOWN', () => {
    expect(decideSessionInitRetry(1000, refusal(REASON.rpVersion, '9.0'), 1)).toEqual({
      retry: true,
      target: 900,
    });
    expect(decideSessionInitRetry(1000, refusal(REASON.unknown, '8.0'), 2)).toEqual({
      retry: true,
      target: 800,
    });
    expect(decideSessionInitRetry(1000100, refusal(REASON.rpVersion, '1.0'), 1)).toMatchObject({
      retry: false,
    });
  });

  it('treats a PS4 answering 5.0 as 9.0', () => {
    expect(decideSessionInitRetry(1000, refusal(REASON.rpVersion, '5.0'), 1)).toEqual({
      retry: true,
      target: 900,
    });
  });

  it('gives up after three requests, on other reasons, and on unknown versions', () => {
    const third = decideSessionInitRetry(1000, refusal(REASON.rpVersion, '9.0'), 3);
    expect(third.retry).toBe(false);
    expect(!third.retry && third.error.message).toMatch(/protocol version/);
    expect(decideSessionInitRetry(1000, refusal(REASON.inUse, '9.0'), 1).retry).toBe(false);
    expect(decideSessionInitRetry(1000, refusal(REASON.rpVersion, undefined), 1).retry).toBe(false);
    const weird = decideSessionInitRetry(1000, refusal(REASON.rpVersion, '42.0'), 1);
    expect(!weird.retry && weird.error.message).toMatch(/42\.0/);
  });
});

describe('ctrl request, console side', () => {
  const v = sessions[0];
  const crypt = RpCrypt.forSession(v.target, fromHex(v.nonce), fromHex(v.morning));
  const registKey = fromHex(v.regist_key_bytes);

  it('authenticates RP-Auth and decrypts the other headers', () => {
    const did = generateDid(new Uint8Array(16).fill(7));
    const req = formatCtrlRequest({
      target: 1000,
      host: 'h',
      crypt,
      registKey: registKey.subarray(0, 8),
      did,
    });
    const other = RpCrypt.forSession(1000, new Uint8Array(16).fill(1), fromHex(v.morning));
    const info = parseCtrlRequest(req.bytes, () => [
      { crypt: other, registKey, client: 'other' },
      { crypt, registKey, client: 'me' },
    ]);
    expect(info).toMatchObject({ client: 'me', target: 1000, osType: 'Win10.0.0', clientCounter: 4 });
    expect(info?.did).toEqual(did);
    expect(info?.startBitrate).toEqual(new Uint8Array(4));
    expect(info?.streamingType).toBeUndefined();
    expect(parseCtrlRequest(req.bytes.subarray(0, 50), () => [])).toBeNull();
  });

  it('reads the PS5 streaming type', () => {
    const c5 = RpCrypt.forSession(1000100, fromHex(v.nonce), fromHex(v.morning));
    const req = formatCtrlRequest({ target: 1000100, host: 'h', crypt: c5, registKey, streamingType: 3 });
    const info = parseCtrlRequest(req.bytes, () => [{ crypt: c5, registKey, client: 1 }]);
    expect(info?.streamingType).toBe(3);
    expect(info?.clientCounter).toBe(5);
  });

  it('refuses a client whose RegistKey is not registered', () => {
    const req = formatCtrlRequest({ target: 1000, host: 'h', crypt, registKey: fromHex('0102030405060708') });
    expect(() => parseCtrlRequest(req.bytes, () => [{ crypt, registKey, client: 0 }])).toThrow(AuthError);
  });

  it('RP-Server-Type round-trips and sets the remote counter', () => {
    const res = parseCtrlResponse(formatCtrlResponse(crypt, 2, { prohibit: true }), crypt);
    expect(res).toMatchObject({ serverType: 2, prohibit: true, remoteCounter: 1 });
    const none = parseCtrlResponse(ascii('HTTP/1.1 200 OK\r\n\r\n\x00\x00'), crypt);
    expect(none).toMatchObject({ serverType: undefined, remoteCounter: 0, headerLength: 19 });
    expect(() => parseCtrlResponse(ascii('HTTP/1.1 403 Forbidden\r\n\r\n'), crypt)).toThrow(
      ConsoleRefusedError,
    );
  });
});

describe('fuzz: HTTP-level parsers only throw typed errors', () => {
  const v = sessions[0];
  const crypt = RpCrypt.forSession(v.target, fromHex(v.nonce), fromHex(v.morning));
  const seeds = [
    formatSessionInitResponse(fromHex(v.nonce)),
    formatSessionInitRefusal(REASON.rpVersion, 1000),
    formatCtrlResponse(crypt, 0),
    formatSessionInitRequest({ target: 1000, host: 'h', registKeyText: '31613262' }),
    formatCtrlRequest({ target: 1000, host: 'h', crypt, registKey: fromHex(v.regist_key_bytes) }).bytes,
  ];
  const mutated = fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      fc.nat(),
    )
    .map(([seed, flips, cut]) => {
      const b = seed.slice(0, seed.length - (cut % 8));
      for (const [at, val] of flips) if (b.length) b[at % b.length] = val;
      return b;
    });
  const input = fc.oneof(fc.uint8Array({ maxLength: 600 }), mutated);

  it('every parser', () => {
    fc.assert(
      fc.property(input, (b) => {
        typedOnly(() => parseSessionInitResponse(b));
        typedOnly(() => parseCtrlResponse(b, crypt));
        typedOnly(() => parseSessionInitRequest(b));
        typedOnly(() =>
          parseCtrlRequest(b, () => [{ crypt, registKey: fromHex(v.regist_key_bytes), client: 0 }]),
        );
        typedOnly(() => {
          const r = parseSessionInitResponse(b);
          if (r && !r.ok) decideSessionInitRetry(1000, r, 1);
        });
      }),
      { numRuns: 2000 },
    );
  });
});
