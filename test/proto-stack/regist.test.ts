import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ascii, concatBytes, fromAscii, fromBase64, fromHex, toHex } from '../../src/proto-stack/bytes.js';
import { AuthError, ConsoleRefusedError, ParseError, UsageError } from '../../src/proto-stack/errors.js';
import { parseHttpRequestHead } from '../../src/proto-stack/http.js';
import { REASON } from '../../src/proto-stack/reason.js';
import {
  accountIdToDecimal,
  buildRegistRequest,
  formatRegistRefusal,
  formatRegistResponse,
  formatRegistSearch,
  formatRegistSearchResponse,
  isRegistSearchResponse,
  parseAccountId,
  parseRegistRequest,
  parseRegistResponse,
  parseRegistSearch,
  REGIST_CLEAR_LENGTH,
  registPath,
} from '../../src/proto-stack/regist.js';
import { RpCrypt } from '../../src/proto-stack/rpcrypt.js';
import type { Target } from '../../src/proto-stack/target.js';
import { typedOnly } from '../helpers/fuzz.js';
import { loadVectors, vectorCase } from '../helpers/vectors.js';

const regist = loadVectors('regist');
const pyrp = loadVectors('pyrp_register');
const generated = loadVectors('generated_chiaki');

describe('request vectors', () => {
  it('regist.json request_payload_ps4_pre10 (online id), and the console side recovers it', () => {
    const { inputs, expected, derived } = vectorCase(regist, 'request_payload_ps4_pre10');
    const req = buildRegistRequest({
      target: inputs.target,
      pin: inputs.pin,
      accountId: new Uint8Array(0),
      ambassador: fromHex(inputs.ambassador),
      onlineId: inputs.psn_online_id,
    });
    expect(toHex(req.body)).toBe(expected.payload);
    expect(req.body.length).toBe(expected.payload_length);
    expect(fromAscii(req.crypt.decrypt(0, req.body.subarray(REGIST_CLEAR_LENGTH)))).toBe(
      derived.inner_plaintext_ascii,
    );
    const got = parseRegistRequest(fromHex(expected.payload), inputs.target, inputs.pin);
    expect(got.onlineId).toBe(inputs.psn_online_id);
    expect(got.clientType).toBe('Windows');
    expect(toHex(got.ambassador)).toBe(inputs.ambassador);
    expect(() => parseRegistRequest(fromHex(expected.payload), inputs.target, inputs.pin + 1)).toThrow(
      AuthError,
    );
  });

  it('pyrp_register.json regist_payload + encrypt_payload + regist_headers (PS4 10.0, zero ambassador)', () => {
    const clear = vectorCase(pyrp, 'regist_payload').expected;
    const enc = vectorCase(pyrp, 'encrypt_payload');
    const headers = vectorCase(pyrp, 'regist_headers').expected;
    const req = buildRegistRequest({
      target: 1000,
      pin: vectorCase(pyrp, 'key_0').inputs.pin,
      accountId: fromBase64(enc.inputs.psn_account_id_b64),
      ambassador: fromHex(enc.inputs.nonce),
    });
    expect(toHex(req.body.subarray(0, REGIST_CLEAR_LENGTH))).toBe(clear.payload);
    expect(toHex(req.body.subarray(REGIST_CLEAR_LENGTH))).toBe(enc.expected.ciphertext);
    expect(req.body.length).toBe(vectorCase(pyrp, 'regist_headers').inputs.content_length);
    expect(toHex(req.header)).toBe(headers.headers);
    expect(fromAscii(req.header)).toBe(headers.headers_ascii);
    expect(toHex(req.bytes)).toBe(toHex(req.header) + toHex(req.body));
    expect(toHex(req.crypt.bright)).toBe(enc.inputs.key);
  });

  for (const g of generated.regist_payload) {
    it(`generated_chiaki.json regist_payload target ${g.target}`, () => {
      const accountId = fromHex(g.psn_account_id);
      const req = buildRegistRequest({
        target: g.target,
        pin: g.pin,
        accountId,
        ambassador: fromHex(g.ambassador),
      });
      expect(toHex(req.crypt.bright)).toBe(g.bright);
      expect(toHex(req.body)).toBe(g.payload);
      expect(req.body.length).toBe(g.payload_length);
      const head = parseHttpRequestHead(req.bytes);
      expect(head?.path).toBe(registPath(g.target));
      expect(head?.headers.get('rp-version')).toBe(g.target === 1000 ? '10.0' : '1.0');
      expect(Number(head?.headers.get('content-length'))).toBe(g.payload_length);
      // console side
      const got = parseRegistRequest(fromHex(g.payload), g.target, g.pin);
      expect(toHex(got.accountId)).toBe(g.psn_account_id);
      expect(toHex(got.ambassador)).toBe(g.ambassador);
      expect(got.clientType).toBe('dabfa2ec873de5839bee8d3f4c0239c4282c07c25c6077a2931afcf0adc0d34f');
    });
  }
});

describe('request header by target', () => {
  const accountId = parseAccountId('x3HEK6t1aw8=');
  it('omits RP-Version for target 800 and uses the old path for pre10', () => {
    const h800 = fromAscii(buildRegistRequest({ target: 800, pin: 1, accountId }).header);
    expect(h800.startsWith('POST /sce/rp/regist HTTP/1.1\r\n HTTP/1.1\r\n')).toBe(true);
    expect(h800).not.toContain('RP-Version');
    const h900 = fromAscii(buildRegistRequest({ target: 900, pin: 1, accountId }).header);
    expect(h900).toContain('RP-Version: 9.0\r\n\r\n');
    const h5 = fromAscii(
      buildRegistRequest({ target: 1000000, pin: 1, accountId, host: '192.168.1.9' }).header,
    );
    expect(h5.startsWith('POST /sie/ps5/rp/sess/rgst HTTP/1.1\r\n HTTP/1.1\r\nHOST: 192.168.1.9\r\n')).toBe(
      true,
    );
  });
  it('pre10 with an account id sends Client-Type Windows', () => {
    const req = buildRegistRequest({ target: 900, pin: 12345678, accountId });
    expect(fromAscii(req.crypt.decrypt(0, req.body.subarray(REGIST_CLEAR_LENGTH)))).toBe(
      'Client-Type: Windows\r\nNp-AccountId: x3HEK6t1aw8=\r\n',
    );
  });
  it('a random ambassador differs per request', () => {
    const a = buildRegistRequest({ target: 1000, pin: 1, accountId });
    const b = buildRegistRequest({ target: 1000, pin: 1, accountId });
    expect(toHex(a.ambassador)).not.toBe(toHex(b.ambassador));
  });
  it('rejects bad inputs with UsageError', () => {
    expect(() => buildRegistRequest({ target: 1000, pin: 123456789, accountId })).toThrow(UsageError);
    expect(() => buildRegistRequest({ target: 1000, pin: 1, accountId: new Uint8Array(7) })).toThrow(
      UsageError,
    );
    expect(() => buildRegistRequest({ target: 1000, pin: 1, accountId, onlineId: 'abc' })).toThrow(
      UsageError,
    );
  });
});

describe('console side: PIN check', () => {
  const accountId = parseAccountId('1234567890123456789');
  for (const target of [800, 900, 1000, 1000000, 1000100] as Target[]) {
    it(`target ${target}: the right PIN recovers the account id, a wrong one is an AuthError`, () => {
      const req = buildRegistRequest({ target, pin: 31415926, accountId });
      const got = parseRegistRequest(req.body, target, 31415926);
      expect(toHex(got.accountId)).toBe(toHex(accountId));
      expect(toHex(got.ambassador)).toBe(toHex(req.ambassador));
      expect(toHex(got.crypt.bright)).toBe(toHex(req.crypt.bright));
      for (const wrong of [31415927, 0, 99999999])
        expect(() => parseRegistRequest(req.body, target, wrong)).toThrow(AuthError);
    });
  }
  it('rejects short or oversized bodies with ParseError', () => {
    expect(() => parseRegistRequest(new Uint8Array(480), 1000, 1)).toThrow(ParseError);
    expect(() => parseRegistRequest(new Uint8Array(480 + 5000), 1000, 1)).toThrow(ParseError);
  });
});

describe('answers', () => {
  it('pyrp_register.json parse_response: the decrypted lines come back as sent', () => {
    const c = vectorCase(pyrp, 'parse_response');
    const crypt = RpCrypt.forRegist(1000, new Uint8Array(16), 1, 12345678);
    const response = concatBytes(
      fromHex(c.inputs.response_header),
      crypt.encrypt(0, fromHex(c.inputs.response_body_plaintext)),
    );
    const r = parseRegistResponse(response, crypt, false);
    expect(Object.fromEntries(r.raw)).toEqual(c.expected.info);
    expect(r.registKeyText).toBe(c.expected.info['PS4-RegistKey']);
    expect(toHex(r.registKey)).toBe('00'.repeat(16));
    expect(toHex(r.morning)).toBe(c.expected.info['RP-Key']);
    expect(r.mac).toBe(c.expected.info['PS4-Mac']);
    expect(r.nickname).toBe('PS4-306');
    expect(r.keyType).toBe(2);
    expect(r.ap).toEqual({
      ssid: '3030303030303030',
      bssid: '000000000000',
      key: '3939393939393939',
      name: 'PLAYSTATION(R)4',
    });
    // cut anywhere inside the body: truncated
    expect(() => parseRegistResponse(response.subarray(0, response.length - 1), crypt, false)).toThrow(
      ParseError,
    );
    // decrypted with another key: garbled
    const other = RpCrypt.forRegist(1000, new Uint8Array(16), 1, 12345679);
    expect(() => parseRegistResponse(response, other, false)).toThrow(ParseError);
    // asked for a PS5 answer: the keys are missing, with a hint
    expect(() => parseRegistResponse(response, crypt, true)).toThrow(/PS5-RegistKey/);
  });

  for (const ps5 of [false, true]) {
    it(`round-trips formatRegistResponse -> parseRegistResponse (${ps5 ? 'PS5' : 'PS4'})`, () => {
      const target: Target = ps5 ? 1000100 : 1000;
      const req = buildRegistRequest({ target, pin: 11112222, accountId: parseAccountId('42') });
      const consoleSide = parseRegistRequest(req.body, target, 11112222);
      const morning = fromHex('00112233445566778899aabbccddeeff');
      const bytes = formatRegistResponse(
        { registKeyText: '3161326233633464', morning, mac: 'a4b1c2d3e4f5', nickname: 'Zoë’s console' },
        consoleSide.crypt,
        ps5,
      );
      const r = parseRegistResponse(bytes, req.crypt, ps5);
      expect(toHex(r.registKey)).toBe('31613262336334640000000000000000');
      expect(r.registKeyText).toBe('3161326233633464');
      expect(toHex(r.morning)).toBe(toHex(morning));
      expect(r.mac).toBe('A4B1C2D3E4F5');
      expect(r.nickname).toBe('Zoë’s console');
      expect(r.keyType).toBe(2);
      expect(r.ap).toBeUndefined();
      expect(r.raw.get(ps5 ? 'PS5-Mac' : 'PS4-Mac')).toBe('A4B1C2D3E4F5');
    });
  }

  it('a refusal becomes a ConsoleRefusedError that explains the reason', () => {
    const crypt = RpCrypt.forRegist(1000, new Uint8Array(16), 1, 1);
    const refusal = formatRegistRefusal(REASON.registFailed);
    expect(fromAscii(refusal)).toBe(
      'HTTP/1.1 403 Forbidden\r\nRP-Application-Reason: 80108b09\r\nContent-Length: 0\r\n\r\n',
    );
    try {
      parseRegistResponse(refusal, crypt, false);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConsoleRefusedError);
      expect((e as ConsoleRefusedError).reason).toBe(REASON.registFailed);
      expect((e as ConsoleRefusedError).message).toMatch(/wrong PIN/);
      expect((e as ConsoleRefusedError).hint).toMatch(/PIN/);
    }
    expect(() => parseRegistResponse(ascii('HTTP/1.1 500 Internal\r\n\r\n'), crypt, false)).toThrow(
      ConsoleRefusedError,
    );
    expect(() => parseRegistResponse(ascii('HTTP/1.1 200 OK\r\nConte'), crypt, false)).toThrow(ParseError);
    expect(() =>
      parseRegistResponse(ascii('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), crypt, false),
    ).toThrow(ParseError);
  });
});

describe('search and account id', () => {
  it('SRC2/SRC3 -> RES2/RES3', () => {
    for (const ps5 of [false, true]) {
      expect(fromAscii(formatRegistSearch(ps5))).toBe(ps5 ? 'SRC3\0' : 'SRC2\0');
      expect(parseRegistSearch(formatRegistSearch(ps5))).toEqual({ ps5 });
      expect(isRegistSearchResponse(formatRegistSearchResponse(ps5), ps5)).toBe(true);
      expect(isRegistSearchResponse(formatRegistSearchResponse(ps5), !ps5)).toBe(false);
    }
    expect(parseRegistSearch(ascii('SRC2'))).toEqual({ ps5: false });
    expect(() => parseRegistSearch(ascii('SRC'))).toThrow(ParseError);
    expect(isRegistSearchResponse(ascii('RE'), false)).toBe(false);
  });
  it('parses base64 and decimal account ids to the same little-endian bytes', () => {
    const b = parseAccountId('x3HEK6t1aw8=');
    expect(toHex(b)).toBe('c771c42bab756b0f');
    const dec = accountIdToDecimal(b);
    expect(dec).toBe(BigInt('0x0f6b75ab2bc471c7').toString());
    expect(toHex(parseAccountId(dec))).toBe(toHex(b));
    expect(toHex(parseAccountId(' x3HEK6t1aw8 '))).toBe(toHex(b));
    expect(toHex(parseAccountId('1'))).toBe('0100000000000000');
  });
  it('explains a malformed account id', () => {
    for (const bad of [
      '',
      '0',
      '18446744073709551616',
      'x3HEK6t1aw8==',
      'x3HEK6t1aw9=',
      'me@example.com',
      'AAAAAAAAAAAAAAAA',
    ])
      expect(() => parseAccountId(bad), bad).toThrow(UsageError);
    let hint: string | undefined;
    try {
      parseAccountId('someone');
    } catch (e) {
      hint = (e as UsageError).hint;
    }
    expect(hint).toMatch(/decimal/);
  });
});

describe('fuzz', () => {
  const crypt = RpCrypt.forRegist(1000, new Uint8Array(16), 1, 12345678);
  const good = formatRegistResponse(
    { registKeyText: '3132333435363738', morning: new Uint8Array(16), mac: '001122334455', nickname: 'PS4' },
    crypt,
    false,
  );
  const reqBody = buildRegistRequest({ target: 1000, pin: 12345678, accountId: parseAccountId('7') }).body;
  const mutate = (base: Uint8Array) =>
    fc
      .tuple(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.option(fc.nat(), { freq: 2 }),
      )
      .map(([edits, cut]) => {
        const b = Uint8Array.from(base);
        for (const [pos, val] of edits) b[pos % b.length] = val;
        return cut === null ? b : b.subarray(0, cut % (b.length + 1));
      });

  it('parseRegistResponse throws only typed errors, quickly', () => {
    let ok = 0;
    const t0 = performance.now();
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 700 }), mutate(good), mutate(formatRegistRefusal(0x80108b10))),
        (b) => {
          if (typedOnly(() => parseRegistResponse(b, crypt, false))) ok++;
        },
      ),
      { numRuns: 2000 },
    );
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(ok).toBeGreaterThan(0);
  });

  it('parseRegistRequest throws only typed errors, quickly', () => {
    let ok = 0;
    const t0 = performance.now();
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 700 }), mutate(reqBody)),
        fc.constantFrom<Target>(900, 1000, 1000100),
        (b, target) => {
          if (typedOnly(() => parseRegistRequest(b, target, 12345678))) ok++;
        },
      ),
      { numRuns: 2000 },
    );
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(ok).toBeGreaterThan(0);
  });
});
