import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ascii, concatBytes, fromHex, toHex } from '../../src/proto-stack/bytes.js';
import { ParseError, RptuiError } from '../../src/proto-stack/errors.js';
import { decodeProto, encodeProto, takionType } from '../../src/proto-stack/protobuf.js';
import {
  decodeTakionMessage,
  encodeTakionMessage,
  MIC_AUDIO_HEADER,
  type TakionMessage,
} from '../../src/proto-stack/streamconnection.js';
import { typedOnly } from '../helpers/fuzz.js';
import { fuzzTarget } from '../helpers/fuzz-targets.js';
import { repoRoot } from '../helpers/vectors.js';

/** The hex of a string's bytes, to write expected protobuf bytes readably. */
const hexOf = (s: string): string => toHex(ascii(s));

describe('proto/takion.proto', () => {
  it('is compiled into src/proto-stack/takion-schema.ts, which matches it (scripts/gen-proto.mjs)', () => {
    const gen = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'gen-proto.mjs'), '--check'], {
      encoding: 'utf8',
    });
    expect(gen.stderr).toBe('');
    expect(gen.status).toBe(0);
  });

  it('has the reference field numbers where the wire depends on them', () => {
    const m = takionType('TakionMessage');
    const numbers = Object.fromEntries(m.fieldsArray.map((f) => [f.name, f.id]));
    expect(numbers).toMatchObject({
      type: 1,
      big_payload: 2,
      bang_payload: 3,
      corrupt_payload: 6,
      disconnect_payload: 10,
      senkusha_payload: 14,
      stream_info_payload: 15,
      connection_quality_payload: 17,
      controller_connection_payload: 22,
      takion_protocol_request: 31,
      takion_protocol_request_ack: 32,
    });
    const big = Object.fromEntries(
      takionType('BigPayload').fieldsArray.map((f) => [f.name, [f.id, f.required]]),
    );
    expect(big).toEqual({
      client_version: [1, true],
      session_key: [2, true],
      launch_spec: [3, true],
      encrypted_key: [4, true],
      ecdh_pub_key: [5, false],
      ecdh_sig: [6, false],
    });
    const text = readFileSync(join(repoRoot, 'proto', 'takion.proto'), 'utf8');
    expect(text).toMatch(/syntax = "proto2";/);
    expect(text).toMatch(/package tkproto;/);
  });
});

describe('TakionMessage encoding (bytes worked out from the protobuf wire format)', () => {
  const cases: Array<[string, TakionMessage, string]> = [
    ['HEARTBEAT', { type: 'heartbeat' }, '0803'],
    ['STREAMINFOACK', { type: 'streamInfoAck' }, '080e'],
    ['IDRREQUEST', { type: 'idrRequest' }, '0819'],
    [
      'BIG needs every required field, BIG = 0 still written',
      {
        type: 'big',
        big: { clientVersion: 9, sessionKey: 'ab', launchSpec: 'Zg==', encryptedKey: new Uint8Array(4) },
      },
      `0800 1212 0809 1202${hexOf('ab')} 1a04${hexOf('Zg==')} 220400000000`,
    ],
    [
      'DISCONNECT',
      { type: 'disconnect', reason: 'Client Disconnecting' },
      `0808 5216 0a14${hexOf('Client Disconnecting')}`,
    ],
    ['CORRUPTFRAME', { type: 'corruptFrame', start: 1, end: 3 }, '0805 3204 0801 1003'],
    [
      'CONTROLLERCONNECTION',
      { type: 'controllerConnection', connected: true, controllerType: 2 },
      '0815 b20104 1001 1802',
    ],
    [
      'mic STREAMINFO',
      { type: 'streamInfo', streamInfo: { resolutions: [], audioHeader: MIC_AUDIO_HEADER } },
      '080d 7a10 120e 0110 0000bb80 000001e0 00000001',
    ],
    [
      'TAKIONPROTOCOLREQUEST (packed? no: proto2 repeated is unpacked)',
      { type: 'takionProtocolRequest', versions: [9] },
      '081f fa0102 0809',
    ],
  ];
  it.each(cases)('%s', (_name, msg, hex) => {
    const bytes = encodeTakionMessage(msg);
    expect(toHex(bytes)).toBe(hex.replace(/ /g, ''));
    expect(decodeTakionMessage(bytes)).toEqual(msg);
  });

  it('round-trips the console messages', () => {
    const msgs: TakionMessage[] = [
      {
        type: 'bang',
        bang: {
          serverVersion: 12,
          token: 7,
          encryptedKeyAccepted: true,
          versionAccepted: true,
          sessionKey: 'sid',
          serverVersionString: undefined,
          ecdhPubKey: new Uint8Array(65).fill(4),
          ecdhSig: new Uint8Array(32).fill(9),
        },
      },
      {
        type: 'streamInfo',
        streamInfo: {
          resolutions: [
            { width: 1280, height: 720, videoHeader: fromHex('0000000167640028') },
            { width: 640, height: 360, videoHeader: fromHex('0000000168') },
          ],
          audioHeader: fromHex('0210000bb800000001e000000001'),
          startTimeout: 10,
          afkTimeout: 20,
          afkTimeoutDisconnect: 30,
          congestionControlInterval: 200,
        },
      },
      {
        type: 'connectionQuality',
        quality: {
          targetBitrate: 10000,
          upstreamBitrate: 500,
          upstreamLoss: 0.5,
          rtt: 2.5,
          loss: 3,
          disableUpstreamAudio: false,
        },
      },
      { type: 'takionProtocolRequestAck', version: 9 },
      { type: 'senkusha', senkusha: { command: 0, echo: { state: true } } },
      { type: 'senkusha', senkusha: { command: 1, mtu: { id: 2, mtuReq: 1454, num: 1 } } },
      {
        type: 'senkusha',
        senkusha: { command: 4, clientMtu: { id: 1, mtuReq: 1454, state: true, mtuDown: 1454 } },
      },
      { type: 'other', payloadType: 19 },
    ];
    for (const m of msgs) {
      const got = decodeTakionMessage(encodeTakionMessage(m));
      if (m.type === 'bang')
        expect(got).toEqual({ ...m, bang: { ...m.bang, serverVersionString: undefined } });
      else expect(got).toEqual(m);
    }
  });

  it('malformed input is a ParseError', () => {
    expect(() => decodeTakionMessage(fromHex('08'))).toThrow(ParseError);
    expect(() => decodeTakionMessage(new Uint8Array(0))).toThrow(/missing required/);
    // BIG without session_key (required)
    expect(() => decodeTakionMessage(fromHex('080012020809'))).toThrow(ParseError);
    // BIG type without big_payload
    expect(() => decodeTakionMessage(fromHex('0800'))).toThrow(/without its payload/);
    // length running past the end
    expect(() => decodeTakionMessage(fromHex('0808527f0a'))).toThrow(ParseError);
    // wire type 7 does not exist
    expect(() => decodeTakionMessage(fromHex('080f0f'))).toThrow(ParseError);
    // deeply nested unknown groups must not escape as a stack overflow
    const deep = concatBytes(fromHex('0803'), new Uint8Array(200_000).fill(0x4b));
    expect(() => decodeTakionMessage(deep)).toThrow(ParseError);
  });

  it('encodeProto refuses objects that do not fit the schema', () => {
    expect(() => encodeProto(takionType('CorruptFramePayload'), { start: 'x', end: 1 })).toThrow(RptuiError);
    expect(decodeProto(takionType('CorruptFramePayload'), fromHex('08011002')).toJSON()).toEqual({
      start: 1,
      end: 2,
    });
  });
});

describe('fuzz: protobuf decode only throws ParseError', () => {
  const seeds = fuzzTarget('streamconnection.message').seeds;
  it('random and mutated messages', () => {
    const mutated = fc
      .tuple(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(),
      )
      .map(([s, flips, cut]) => {
        const b = s.slice(0, Math.max(0, s.length - (cut % 4)));
        for (const [at, v] of flips) if (b.length) b[at % b.length] = v;
        return b;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated), (b) => {
        typedOnly(() => decodeTakionMessage(b), ParseError);
      }),
      { numRuns: 5000 },
    );
  });
});
