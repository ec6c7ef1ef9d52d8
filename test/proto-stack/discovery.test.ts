import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ascii, fromAscii, fromHex } from '../../src/proto-stack/bytes.js';
import {
  DDP_VERSION_PS4,
  DDP_VERSION_PS5,
  type DdpHost,
  formatDdpRequest,
  formatDdpResponse,
  parseDdpRequest,
  parseDdpResponse,
  wakeCredential,
} from '../../src/proto-stack/discovery.js';
import { ConfigError, ParseError, UsageError } from '../../src/proto-stack/errors.js';
import { mutatedBytes, typedOnly } from '../helpers/fuzz.js';
import { loadVectors } from '../helpers/vectors.js';

const generated = loadVectors('generated_chiaki');

describe('requests', () => {
  it('SRCH carries the version of each console generation and one NUL', () => {
    expect(fromAscii(formatDdpRequest('SRCH', { ps5: false }))).toBe(
      'SRCH * HTTP/1.1\ndevice-discovery-protocol-version:00020020\n\0',
    );
    expect(fromAscii(formatDdpRequest('SRCH', { ps5: true }))).toBe(
      'SRCH * HTTP/1.1\ndevice-discovery-protocol-version:00030010\n\0',
    );
  });
  it('WAKEUP and LAUNCH carry the credential in the documented field order', () => {
    expect(fromAscii(formatDdpRequest('WAKEUP', { ps5: false, credential: '305419896' }))).toBe(
      'WAKEUP * HTTP/1.1\nclient-type:vr\nauth-type:R\nmodel:w\napp-type:r\nuser-credential:305419896\n' +
        'device-discovery-protocol-version:00020020\n\0',
    );
    expect(fromAscii(formatDdpRequest('LAUNCH', { ps5: true, credential: '7' }))).toBe(
      'LAUNCH * HTTP/1.1\nuser-credential:7\nclient-type:a\nauth-type:C\n' +
        'device-discovery-protocol-version:00030010\n\0',
    );
  });
  it('refuses WAKEUP without a decimal credential', () => {
    expect(() => formatDdpRequest('WAKEUP', { ps5: false })).toThrow(UsageError);
    expect(() => formatDdpRequest('WAKEUP', { ps5: false, credential: '12ab' })).toThrow(UsageError);
  });
  it('round-trips through the console-side parser, with or without the NUL', () => {
    for (const ps5 of [false, true]) {
      const srch = parseDdpRequest(formatDdpRequest('SRCH', { ps5 }));
      expect(srch.command).toBe('SRCH');
      expect(srch.fields.get('device-discovery-protocol-version')).toBe(
        ps5 ? DDP_VERSION_PS5 : DDP_VERSION_PS4,
      );
      const wake = parseDdpRequest(formatDdpRequest('WAKEUP', { ps5, credential: '123' }));
      expect(wake.command).toBe('WAKEUP');
      expect(wake.fields.get('user-credential')).toBe('123');
      expect(wake.fields.get('client-type')).toBe('vr');
      const launch = parseDdpRequest(formatDdpRequest('LAUNCH', { ps5, credential: '9' }));
      expect(launch.command).toBe('LAUNCH');
      expect(launch.fields.get('auth-type')).toBe('C');
    }
    // the other reference sends no NUL and the PS5 version everywhere
    const py = parseDdpRequest(ascii('SRCH * HTTP/1.1\ndevice-discovery-protocol-version:00030010\n'));
    expect(py.command).toBe('SRCH');
  });
  it('rejects what is not a DDP request', () => {
    expect(() => parseDdpRequest(ascii('GET / HTTP/1.1\n'))).toThrow(ParseError);
    expect(() => parseDdpRequest(ascii('SRCH /x HTTP/1.1\n'))).toThrow(ParseError);
    expect(() => parseDdpRequest(ascii('WAKEUP * HTTP/1.1\nclient-type:vr\n'))).toThrow(ParseError);
    expect(() => parseDdpRequest(ascii('HTTP/1.1 200 Ok\n'))).toThrow(ParseError);
  });
});

const ps4Ready: Omit<DdpHost, 'target' | 'status'> = {
  statusCode: 200,
  hostId: 'A4B1C2D3E4F5',
  hostName: 'PS4-123',
  hostType: 'PS4',
  requestPort: 997,
  systemVersion: '07020001',
  protocolVersion: DDP_VERSION_PS4,
  runningAppTitleId: 'CUSA00001',
  runningAppName: 'Game: The Sequel',
};

describe('responses', () => {
  it('parses a real-looking PS4 standby answer', () => {
    const text =
      'HTTP/1.1 620 Server Standby\nhost-id:1c98c1000001\nhost-type:PS4\nhost-name:Living Room\n' +
      'host-request-port:997\ndevice-discovery-protocol-version:00020020\nsystem-version:08520011\n';
    const h = parseDdpResponse(ascii(text));
    expect(h).toEqual({
      status: 'standby',
      statusCode: 620,
      hostId: '1C98C1000001',
      hostName: 'Living Room',
      hostType: 'PS4',
      requestPort: 997,
      systemVersion: '08520011',
      protocolVersion: '00020020',
      target: 1000,
    });
  });
  it('round-trips the console-side format (ready PS4 7.x with a running app)', () => {
    const bytes = formatDdpResponse(ps4Ready);
    expect(fromAscii(bytes).split('\n')[0]).toBe('HTTP/1.1 200 Ok');
    expect(parseDdpResponse(bytes)).toEqual({ ...ps4Ready, status: 'ready', target: 900 });
  });
  it('round-trips a PS5 in standby with a UTF-8 name', () => {
    const ps5 = {
      statusCode: 620,
      hostId: '00AABBCCDDEE',
      hostName: 'Zoë’s PS5',
      hostType: 'PS5' as const,
      requestPort: 997,
      systemVersion: '09400001',
      protocolVersion: DDP_VERSION_PS5,
    };
    expect(fromAscii(formatDdpResponse(ps5)).split('\n')[0]).toBe('HTTP/1.1 620 Server Standby');
    expect(parseDdpResponse(formatDdpResponse(ps5))).toEqual({ ...ps5, status: 'standby', target: 1000100 });
  });
  it('reports other codes as unknown and tolerates a trailing NUL', () => {
    const b = formatDdpResponse({ ...ps4Ready, statusCode: 500 });
    const h = parseDdpResponse(Uint8Array.from([...b, 0]));
    expect(h.status).toBe('unknown');
    expect(h.statusCode).toBe(500);
  });
  it('rejects answers without identity or with nonsense fields', () => {
    expect(() => parseDdpResponse(ascii('HTTP/1.1 200 Ok\nhost-type:PS4\n'))).toThrow(ParseError);
    expect(() => parseDdpResponse(ascii('HTTP/1.1 200 Ok\nhost-id:123\n'))).toThrow(ParseError);
    expect(() =>
      parseDdpResponse(ascii('HTTP/1.1 200 Ok\nhost-id:A4B1C2D3E4F5\nhost-request-port:99999\n')),
    ).toThrow(ParseError);
    expect(() => parseDdpResponse(ascii('HTTP/1.1 200 Ok\nhost-id:A4B1C2D3E4F5\nhost-type:XBOX\n'))).toThrow(
      ParseError,
    );
    expect(() => parseDdpResponse(formatDdpRequest('SRCH', { ps5: false }))).toThrow(ParseError);
  });
  it('refuses to format a field with a line break', () => {
    expect(() => formatDdpResponse({ ...ps4Ready, hostName: 'a\nhost-id:x' })).toThrow(UsageError);
  });
});

describe('wakeCredential', () => {
  it('reads the RegistKey text as a hex number (docs/protocol.md §1 example)', () => {
    expect(wakeCredential(fromHex('31323334353637380000000000000000'))).toBe('305419896');
  });
  it('works on the RegistKey of the generated vectors', () => {
    // regist_key_bytes = "1a2b3c4d" as ASCII, zero padded
    expect(wakeCredential(fromHex(generated.session[0].regist_key_bytes))).toBe(String(0x1a2b3c4d));
  });
  it('rejects keys that are not hex text', () => {
    expect(() => wakeCredential(new Uint8Array(16))).toThrow(ConfigError);
    expect(() => wakeCredential(ascii('zz'))).toThrow(ConfigError);
  });
});

describe('fuzz', () => {
  const samples = [
    formatDdpResponse(ps4Ready),
    formatDdpRequest('WAKEUP', { ps5: true, credential: '123456' }),
    formatDdpRequest('SRCH', { ps5: false }),
  ];
  const mutated = mutatedBytes(samples, 6);
  const input = fc.oneof(fc.uint8Array({ maxLength: 512 }), mutated);
  it('parseDdpResponse / parseDdpRequest throw only typed errors, quickly', () => {
    let parsed = 0;
    const t0 = performance.now();
    fc.assert(
      fc.property(input, (b) => {
        for (const f of [parseDdpResponse, parseDdpRequest]) if (typedOnly(() => f(b))) parsed++;
      }),
      { numRuns: 3000 },
    );
    expect(performance.now() - t0).toBeLessThan(5000);
    // the mutations keep some inputs valid, so both paths are exercised
    expect(parsed).toBeGreaterThan(0);
  });
});
