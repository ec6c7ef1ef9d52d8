import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ascii, fromAscii, fromHex } from '../../src/proto-stack/bytes.js';
import { ParseError, UsageError } from '../../src/proto-stack/errors.js';
import {
  formatHttpRequest,
  formatHttpResponse,
  MAX_HEAD,
  parseHeaderBlock,
  parseHttpRequestHead,
  parseHttpResponseHead,
  parseHttpResponseText,
  readHttpRequest,
  readHttpResponse,
} from '../../src/proto-stack/http.js';
import { mutatedBytes, typedOnly } from '../helpers/fuzz.js';
import { loadVectors, vectorCase } from '../helpers/vectors.js';

const http = loadVectors('http');
const pyrp = loadVectors('pyrp_register');

describe('http.json', () => {
  for (const c of http.cases) {
    it(`${c.name}: complete head`, () => {
      const buf = fromHex(c.response);
      expect(fromAscii(buf)).toBe(c.response_ascii);
      const head = parseHttpResponseText(buf);
      expect(head.status).toBe(c.expected.code);
      expect(head.rawHeaders).toEqual(c.expected.headers);
      for (const [k, v] of c.expected.headers) expect(head.headers.get(k.toLowerCase())).toBe(v);
    });
    it(`${c.name}: stream parser waits for the blank line, then agrees`, () => {
      const buf = fromHex(c.response);
      const eol = c.name === 'crlf' ? '\r\n' : '\n';
      // The LF vector has no blank line (the reference parses a head already cut out); a stream
      // reader needs one, so it is appended here.
      const complete = c.response_ascii.endsWith(`${eol}${eol}`) ? buf : ascii(c.response_ascii + eol);
      for (let n = 0; n < complete.length; n++)
        expect(parseHttpResponseHead(complete.subarray(0, n))).toBeNull();
      const head = parseHttpResponseHead(complete);
      expect(head?.status).toBe(c.expected.code);
      expect(head?.rawHeaders).toEqual(c.expected.headers);
      expect(head?.headerLength).toBe(complete.length);
    });
  }

  it('pyrp regist answer head (padded Content-Length) with its body', () => {
    const c = vectorCase(pyrp, 'parse_response');
    const head = fromHex(c.inputs.response_header);
    const body = fromHex(c.inputs.response_body_plaintext);
    const r = readHttpResponse(Uint8Array.from([...head, ...body]));
    expect(r?.head.status).toBe(200);
    expect(r?.head.reason).toBe('OK');
    expect(r?.head.headers.get('content-length')).toBe('239');
    expect(r?.body.length).toBe(239);
    expect(readHttpResponse(Uint8Array.from([...head, ...body.subarray(0, 238)]))).toBeNull();
    const lines = parseHeaderBlock(body);
    expect(lines.length).toBe(Object.keys(c.expected.info).length);
    expect(Object.fromEntries(lines)).toEqual(c.expected.info);
  });
});

describe('requests', () => {
  it('parses the registration request head with its duplicated version line', () => {
    const c = vectorCase(pyrp, 'regist_headers');
    const buf = fromHex(c.expected.headers);
    const head = parseHttpRequestHead(buf);
    expect(head).not.toBeNull();
    expect(head?.method).toBe('POST');
    expect(head?.path).toBe('/sie/ps4/rp/sess/rgst');
    expect(head?.headers.get('content-length')).toBe('587');
    expect(head?.headers.get('rp-version')).toBe('10.0');
    expect(head?.headers.get('host')).toBe('10.0.2.15');
    expect(head?.headerLength).toBe(buf.length);
    for (let n = 0; n < buf.length; n++) expect(parseHttpRequestHead(buf.subarray(0, n))).toBeNull();
  });

  it('formats exactly the given request and reads it back with the body', () => {
    const body = ascii('hello');
    const bytes = formatHttpRequest(
      'POST /x HTTP/1.1',
      [
        ['Host', 'a'],
        ['Content-Length', '5'],
      ],
      body,
    );
    expect(fromAscii(bytes)).toBe('POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello');
    const r = readHttpRequest(Uint8Array.from([...bytes, 1, 2]));
    expect(r?.head.path).toBe('/x');
    expect(fromAscii(r!.body)).toBe('hello');
    expect([...r!.rest]).toEqual([1, 2]);
    expect(readHttpRequest(bytes.subarray(0, bytes.length - 1))).toBeNull();
  });

  it('round-trips a response with UTF-8 values and trailing bytes', () => {
    const bytes = formatHttpResponse(200, 'OK', [
      ['RP-Nonce', 'abc='],
      ['X-Name', 'Zoë’s PS5'],
    ]);
    const r = readHttpResponse(Uint8Array.from([...bytes, 9, 9]));
    expect(r?.head.headers.get('x-name')).toBe('Zoë’s PS5');
    expect(r?.body.length).toBe(0);
    expect([...r!.rest]).toEqual([9, 9]);
  });

  it('refuses to format header injection', () => {
    expect(() => formatHttpResponse(200, 'OK', [['X', 'a\r\nY: b']])).toThrow(UsageError);
    expect(() => formatHttpRequest('GET / HTTP/1.1', [['X:Y', 'a']])).toThrow(UsageError);
    expect(() => formatHttpResponse(20, 'OK', [])).toThrow(UsageError);
  });
});

describe('malformed input', () => {
  const bad = [
    'HTTX/1.1 200 OK\r\n\r\n',
    'HTTP/1.1 2000 OK\r\n\r\n',
    'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
    'HTTP/1.1 200 OK\r\n: empty key\r\n\r\n',
    'HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n',
    'garbage',
  ];
  for (const s of bad)
    it(`throws ParseError for ${JSON.stringify(s)}`, () => {
      expect(() => parseHttpResponseHead(ascii(s))).toThrow(ParseError);
    });
  it('rejects a head that never ends instead of buffering forever', () => {
    const long = ascii(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_HEAD)}`);
    expect(() => parseHttpResponseHead(long)).toThrow(ParseError);
    const longReq = ascii(`GET / HTTP/1.1\r\nX: ${'a'.repeat(MAX_HEAD)}`);
    expect(() => parseHttpRequestHead(longReq)).toThrow(ParseError);
  });
  it('rejects a bad Content-Length', () => {
    expect(() => readHttpResponse(ascii('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'))).toThrow(
      ParseError,
    );
    expect(() => readHttpResponse(ascii('HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n'))).toThrow(
      ParseError,
    );
  });
  it('rejects a request line that is not one', () => {
    expect(() => parseHttpRequestHead(ascii('get / HTTP/1.1\r\n\r\n'))).toThrow(ParseError);
    expect(() => parseHttpRequestHead(ascii('GET /\r\n\r\n'))).toThrow(ParseError);
    expect(() => parseHttpRequestHead(ascii('AAAAAAAAAAAAAAAAAAAA'))).toThrow(ParseError);
  });
});

describe('fuzz', () => {
  const sample = [
    formatHttpResponse(200, 'OK', [
      ['Content-Length', '4'],
      ['RP-Nonce', 'AAAA'],
    ]),
    ascii('HTTP/1.1 200 Ok\nhost-id:1234\nhost-type:PS4\n'),
    fromHex(vectorCase(pyrp, 'regist_headers').expected.headers),
  ];
  const mutated = mutatedBytes(sample, 8);
  const input = fc.oneof(fc.uint8Array({ maxLength: 600 }), mutated);

  it('response and request parsers throw only typed errors, quickly', () => {
    const t0 = performance.now();
    fc.assert(
      fc.property(input, (b) => {
        typedOnly(() => parseHttpResponseHead(b));
        typedOnly(() => parseHttpResponseText(b));
        typedOnly(() => readHttpResponse(b));
        typedOnly(() => parseHttpRequestHead(b));
        typedOnly(() => readHttpRequest(b));
        typedOnly(() => parseHeaderBlock(b));
      }),
      { numRuns: 3000 },
    );
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
