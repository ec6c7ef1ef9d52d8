// Every parser of network or file input, as a fuzz target: valid seed inputs to mutate from and a
// `run` that feeds one input (bytes) to the parser. A typed error (RptuiError) is a fine answer
// to bad input; anything else is a bug. Shared by the nightly `npm run fuzz` (scripts/fuzz.ts,
// a million inputs per target) and test/helpers/fuzz-targets.test.ts (a few hundred each, in
// every test run). Parsers fed by another parser's output (protobuf by the stream connection, FEC
// by the frame processor) are reached through it as well as on their own where they take bytes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseProfilesText } from '../../src/client/profiles.js';
import { parseJsonFile } from '../../src/common/config-dir.js';
import { EvdevPadState, evdevProfile, InputEventParser } from '../../src/input/gamepad/evdev.js';
import { parseSonyReport } from '../../src/input/gamepad/hid.js';
import { TerminalInputDecoder } from '../../src/input/keyboard.js';
import { parseKeymap } from '../../src/input/keymap.js';
import { readOggOpus } from '../../src/media/ogg.js';
import {
  extractVideoHeader,
  isKeyframe,
  nalUnits,
  splitAccessUnits,
  stripParameterSets,
} from '../../src/proto-stack/annexb.js';
import {
  AudioReceiver,
  formatAudioHeader,
  packetizeAudio,
  parseAudioHeader,
} from '../../src/proto-stack/audio.js';
import { type AvVersion, formatAvPacket, parseAvPacket } from '../../src/proto-stack/avpacket.js';
import { ascii, concatBytes, fromAscii, fromHex, fromUtf8, utf8, view } from '../../src/proto-stack/bytes.js';
import { formatCongestion, parseCongestion } from '../../src/proto-stack/congestion.js';
import {
  CTRL,
  CtrlChannel,
  CtrlClient,
  CtrlConsole,
  CtrlReassembler,
  decodeKeyboardClose,
  decodeKeyboardOpen,
  decodeKeyboardTextRequest,
  decodeKeyboardTextResponse,
  decodeLoginPin,
  decodeMicToggle,
  decodeSessionId,
  encodeKeyboardClose,
  encodeKeyboardOpen,
  encodeKeyboardTextRequest,
  encodeKeyboardTextResponse,
  encodeLoginPin,
  encodeMicToggle,
  encodeSessionId,
  randomSessionId,
} from '../../src/proto-stack/ctrl.js';
import { formatDdpRequest, parseDdpRequest, parseDdpResponse } from '../../src/proto-stack/discovery.js';
import { fecDecode, fecEncode } from '../../src/proto-stack/fec.js';
import {
  decodeFeedbackHistory,
  decodeFeedbackState,
  FeedbackConsoleDecoder,
  formatFeedbackPacket,
  parseFeedbackPacket,
} from '../../src/proto-stack/feedback.js';
import { FrameProcessor, packetizeVideoFrame } from '../../src/proto-stack/frameprocessor.js';
import { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import {
  contentLength,
  formatHttpRequest,
  formatHttpResponse,
  parseHeaderBlock,
  parseHttpRequestText,
  parseHttpResponseText,
  readHttpRequest,
  readHttpResponse,
} from '../../src/proto-stack/http.js';
import { decodeLaunchSpec, encodeLaunchSpec, parseLaunchSpec } from '../../src/proto-stack/launchspec.js';
import { drainEvents } from '../../src/proto-stack/machine.js';
import { decapsulateSalsa, decodeDataMessage } from '../../src/proto-stack/pcoip/data.js';
import { decodeMgmtStream } from '../../src/proto-stack/pcoip/mgmt.js';
import { makeScs1Token, parsePcoipToken } from '../../src/proto-stack/pcoip/scs1.js';
import { parseReason, REASON } from '../../src/proto-stack/reason.js';
import {
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
} from '../../src/proto-stack/regist.js';
import { parseRidx } from '../../src/proto-stack/rif/ridx.js';
import { parseRif } from '../../src/proto-stack/rif/rif.js';
import { parseRifa } from '../../src/proto-stack/rif/rifa.js';
import { RpCrypt } from '../../src/proto-stack/rpcrypt.js';
import {
  ctrlLocalCounterStart,
  formatCtrlRequest,
  formatCtrlResponse,
  formatSessionInitRefusal,
  formatSessionInitRequest,
  formatSessionInitResponse,
  parseCtrlRequest,
  parseCtrlResponse,
  parseSessionInitRequest,
  parseSessionInitResponse,
} from '../../src/proto-stack/session.js';
import { decodeTakionMessage, encodeTakionMessage } from '../../src/proto-stack/streamconnection.js';
import { parseControl, readKeyPosLow, TakionType, verifyGmac } from '../../src/proto-stack/takion.js';
import { parseRpVersion, type Target } from '../../src/proto-stack/target.js';
import { parseStateText } from '../../src/simulator/console-state.js';
import { audioPacket, byeMgmt, DATA_KEY_HEX, inviteMgmt } from '../proto-stack/pcoip/fixtures.js';
import { freeRif, kdsIndex, kdsRifa } from '../proto-stack/rif/fixtures.js';
import { typedOnly } from './fuzz.js';
import { feed, tick } from './machine.js';
import { TakionPair } from './takion-pair.js';
import { loadVectors, repoRoot } from './vectors.js';

export interface FuzzTarget {
  /** Unique, e.g. "http.response". */
  name: string;
  /** The parsers and machines one input goes through. */
  covers: string;
  /** Longest random input (mutated seeds keep about their own length). */
  maxLength: number;
  /** Valid inputs, each accepted by `run` without any error; mutations start from them. */
  seeds: Uint8Array[];
  /** Feeds one input; throws a typed error for bad input, never anything else. */
  run: (input: Uint8Array) => void;
}

interface TargetDef {
  name: string;
  covers: string;
  maxLength: number;
  /** Builds seeds and run once (crypt contexts, fixtures), on first use. */
  make: () => { seeds: Uint8Array[]; run: (input: Uint8Array) => void };
}

/**
 * Inputs of stateful targets are several datagrams or reads in one byte string: each record is a
 * 16-bit big-endian length, then that many bytes (fewer at the end of the input).
 */
export function records(input: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o + 2 <= input.length; ) {
    const n = (input[o] << 8) | input[o + 1];
    out.push(input.subarray(o + 2, o + 2 + n));
    o += 2 + n;
  }
  return out;
}

export function joinRecords(parts: Uint8Array[]): Uint8Array {
  return concatBytes(...parts.flatMap((p) => [Uint8Array.of(p.length >> 8, p.length & 0xff), p]));
}

/** Each record through `f`; a typed error drops that record only (as the drivers do). */
function eachRecord(input: Uint8Array, f: (r: Uint8Array, i: number) => void): void {
  records(input).forEach((r, i) => {
    typedOnly(() => f(r, i));
  });
}

const latin1 = (s: string) => ascii(s);

const gen = loadVectors('generated_chiaki');
const session = gen.session[0];
const sessionCrypt = () =>
  RpCrypt.forSession(session.target, fromHex(session.nonce), fromHex(session.morning));

const DEFS: TargetDef[] = [
  {
    name: 'discovery.response',
    covers: 'parseDdpResponse (client discovery, wake)',
    maxLength: 600,
    make: () => ({
      seeds: [
        utf8(
          'HTTP/1.1 200 Ok\nhost-id:A4B1C2D3E4F5\nhost-type:PS4\nhost-name:Wohnzimmer ✓\nhost-request-port:997\n' +
            'device-discovery-protocol-version:00020020\nsystem-version:07020001\n' +
            'running-app-titleid:CUSA00001\nrunning-app-name:Game: The Sequel\n',
        ),
        ascii(
          'HTTP/1.1 620 Server Standby\nhost-id:00AABBCCDDEE\nhost-type:PS5\nhost-name:PS5-1\n' +
            'host-request-port:9295\ndevice-discovery-protocol-version:00030010\nsystem-version:09600001\n',
        ),
      ],
      run: (b) => void parseDdpResponse(b),
    }),
  },
  {
    name: 'discovery.request',
    covers: 'parseDdpRequest (simulator discovery)',
    maxLength: 400,
    make: () => ({
      seeds: [
        formatDdpRequest('SRCH', { ps5: false }),
        formatDdpRequest('SRCH', { ps5: true }),
        formatDdpRequest('WAKEUP', { ps5: true, credential: '305419896' }),
        formatDdpRequest('LAUNCH', { ps5: false, credential: '7' }),
      ],
      run: (b) => void parseDdpRequest(b),
    }),
  },
  {
    name: 'http.response',
    covers: 'readHttpResponse: parseHttpResponseHead, contentLength (registration, session init, ctrl)',
    maxLength: 700,
    make: () => ({
      seeds: [
        formatHttpResponse(200, 'OK', [['Content-Length', '4']], ascii('body')),
        formatSessionInitRefusal(REASON.rpVersion, 1000100),
        formatRegistRefusal(0x80108b09),
        ascii('HTTP/1.1 200 OK\nRP-Nonce: AAAA\n\nrest'),
      ],
      run: (b) => void readHttpResponse(b),
    }),
  },
  {
    name: 'http.response-datagram',
    covers: 'parseHttpResponseText (a whole head in one datagram)',
    maxLength: 700,
    make: () => ({
      seeds: [
        ascii('HTTP/1.1 200 Ok\nhost-id:1234\nhost-type:PS4\n'),
        ascii('HTTP/1.1 620 Server Standby\r\nhost-name:x\r\n\r\n'),
      ],
      run: (b) => void parseHttpResponseText(b),
    }),
  },
  {
    name: 'http.request',
    covers: 'readHttpRequest: parseHttpRequestHead, contentLength (simulator TCP 9295)',
    maxLength: 900,
    make: () => ({
      seeds: [
        formatSessionInitRequest({ target: 1000, host: '127.0.0.1', registKeyText: '31613262' }),
        buildRegistRequest({ target: 1000100, pin: 12345678, accountId: parseAccountId('7') }).bytes,
        formatHttpRequest('POST /x HTTP/1.1', [['Content-Length', '3']], ascii('abc')),
      ],
      run: (b) => void readHttpRequest(b),
    }),
  },
  {
    name: 'http.request-datagram',
    covers: 'parseHttpRequestText',
    maxLength: 600,
    make: () => ({
      seeds: [
        ascii('GET /sce/rp/session HTTP/1.1\r\nHost: x\r\n\r\n'),
        formatDdpRequest('SRCH', { ps5: true }),
      ],
      run: (b) =>
        void parseHttpRequestText(b.subarray(0, Math.max(0, b.indexOf(0) < 0 ? b.length : b.indexOf(0)))),
    }),
  },
  {
    name: 'http.header-block',
    covers: 'parseHeaderBlock (the decrypted registration answer)',
    maxLength: 600,
    make: () => ({
      seeds: [ascii('PS4-RegistKey: 3132\r\nRP-Key: 00\r\nPS4-Nickname: a b\r\n'), ascii('A:1\nB: 2\n\n')],
      run: (b) => void parseHeaderBlock(b),
    }),
  },
  {
    name: 'http.header-values',
    covers: 'parseReason, parseRpVersion, contentLength (header values)',
    maxLength: 40,
    make: () => ({
      seeds: ['80108b09', '10.0', '1.0', '8', '0'].map(latin1),
      run: (b) => {
        const s = fromAscii(b);
        parseReason(s);
        typedOnly(() => parseRpVersion(s, false));
        typedOnly(() => parseRpVersion(s, true));
        typedOnly(() => contentLength(new Map([['content-length', s]])));
      },
    }),
  },
  {
    name: 'regist.search',
    covers: 'parseRegistSearch, isRegistSearchResponse',
    maxLength: 64,
    make: () => ({
      seeds: [formatRegistSearch(false), formatRegistSearch(true)],
      run: (b) => {
        isRegistSearchResponse(b, true);
        isRegistSearchResponse(b, false);
        parseRegistSearch(b);
      },
    }),
  },
  {
    name: 'regist.search-response',
    covers: 'isRegistSearchResponse on answers',
    maxLength: 64,
    make: () => ({
      seeds: [formatRegistSearchResponse(false), formatRegistSearchResponse(true)],
      run: (b) => {
        isRegistSearchResponse(b, true);
        isRegistSearchResponse(b, false);
      },
    }),
  },
  {
    name: 'regist.response',
    covers: 'parseRegistResponse, PS4 and PS5 (client registration)',
    maxLength: 900,
    make: () => {
      const ps4 = RpCrypt.forRegist(1000, new Uint8Array(16), 1, 12345678);
      const ps5 = RpCrypt.forRegist(1000100, new Uint8Array(16).fill(3), 2, 12345678);
      const result = {
        registKeyText: '3132333435363738',
        morning: new Uint8Array(16),
        mac: '001122334455',
        nickname: 'PS',
      };
      return {
        seeds: [formatRegistResponse(result, ps4, false), formatRegistResponse(result, ps5, true)],
        run: (b) => {
          // each seed is valid for one generation: the other one is a typed error
          const a = typedOnly(() => parseRegistResponse(b, ps4, false));
          if (!a) parseRegistResponse(b, ps5, true);
        },
      };
    },
  },
  {
    name: 'regist.request',
    covers: 'parseRegistRequest for PS4 < 8, PS4 and PS5 (simulator registration)',
    maxLength: 900,
    make: () => {
      const targets: Target[] = [900, 1000, 1000100];
      return {
        seeds: targets.map(
          (target) =>
            buildRegistRequest({
              target,
              pin: 12345678,
              accountId: parseAccountId('7'),
              onlineId: target === 900 ? 'abc' : undefined,
            }).body,
        ),
        run: (b) => {
          const ok = targets.map((t) => typedOnly(() => parseRegistRequest(b, t, 12345678)));
          if (!ok.includes(true)) parseRegistRequest(b, 1000, 12345678);
        },
      };
    },
  },
  {
    name: 'session.init-response',
    covers: 'parseSessionInitResponse (client)',
    maxLength: 600,
    make: () => ({
      seeds: [
        formatSessionInitResponse(fromHex(session.nonce)),
        formatSessionInitRefusal(REASON.rpVersion, 1000),
      ],
      run: (b) => void parseSessionInitResponse(b),
    }),
  },
  {
    name: 'session.init-request',
    covers: 'parseSessionInitRequest (simulator)',
    maxLength: 600,
    make: () => ({
      seeds: [
        formatSessionInitRequest({ target: 1000, host: 'h', registKeyText: '31613262' }),
        formatSessionInitRequest({ target: 1000100, host: '10.0.0.2', registKeyText: '3161326233633464' }),
      ],
      run: (b) => void parseSessionInitRequest(b),
    }),
  },
  {
    name: 'session.ctrl-response',
    covers: 'parseCtrlResponse (client)',
    maxLength: 600,
    make: () => {
      const crypt = sessionCrypt();
      return {
        seeds: [formatCtrlResponse(crypt, 0), formatCtrlResponse(crypt, 2, { prohibit: true })],
        run: (b) => void parseCtrlResponse(b, crypt),
      };
    },
  },
  {
    name: 'session.ctrl-request',
    covers: 'parseCtrlRequest (simulator: RP-Auth and the other encrypted headers)',
    maxLength: 900,
    make: () => {
      const crypt = sessionCrypt();
      const registKey = fromHex(session.regist_key_bytes);
      const candidates = () => [{ crypt, registKey, client: 0 }];
      return {
        seeds: [
          formatCtrlRequest({ target: session.target, host: 'h', crypt, registKey }).bytes,
          formatCtrlRequest({ target: 1000100, host: '10.0.0.2', crypt, registKey }).bytes,
        ],
        run: (b) => void parseCtrlRequest(b, candidates),
      };
    },
  },
  {
    name: 'ctrl.reassembler',
    covers: 'CtrlReassembler.push over several reads',
    maxLength: 600,
    make: () => {
      const ch = new CtrlChannel(sessionCrypt(), 1, 1);
      const stream = concatBytes(
        ch.encode(CTRL.HEARTBEAT_REQ),
        ch.encode(CTRL.SESSION_ID, encodeSessionId(randomSessionId())),
      );
      return {
        seeds: [joinRecords([stream.subarray(0, 5), stream.subarray(5, 40), stream.subarray(40)])],
        run: (b) => {
          const r = new CtrlReassembler();
          for (const part of records(b)) r.push(part);
        },
      };
    },
  },
  {
    name: 'ctrl.client',
    covers: 'CtrlClient.handle: decryption, every message the console sends, payload decoders',
    maxLength: 800,
    make: () => {
      const crypt = sessionCrypt();
      const ch = new CtrlChannel(crypt, 1, 1);
      const stream = concatBytes(
        ch.encode(CTRL.SESSION_ID, encodeSessionId(randomSessionId())),
        ch.encode(CTRL.HEARTBEAT_REQ),
        ch.encode(CTRL.KEYBOARD_OPEN, encodeKeyboardOpen('abc')),
        ch.encode(CTRL.KEYBOARD_TEXT_CHANGE_RES, encodeKeyboardTextResponse(1, 'abc')),
        ch.encode(CTRL.LOGIN, new Uint8Array([1])),
        ch.encode(CTRL.DISPLAY_A, new Uint8Array([1])),
        ch.encode(0x4444, new Uint8Array(5)),
      );
      return {
        seeds: [joinRecords([stream.subarray(0, 30), stream.subarray(30)])],
        run: (b) => {
          const client = new CtrlClient({ target: 1000, crypt, remoteCounter: 1, now: 0, keyboard: true });
          eachRecord(b, (r, i) => feed(client, r, i * 10));
          tick(client, 20_000);
        },
      };
    },
  },
  {
    name: 'ctrl.console',
    covers: 'CtrlConsole.handle: decryption, every message a client sends (simulator)',
    maxLength: 800,
    make: () => {
      const crypt = sessionCrypt();
      const start = ctrlLocalCounterStart(1000);
      const ch = new CtrlChannel(crypt, start, 1);
      const stream = concatBytes(
        ch.encode(CTRL.HEARTBEAT_REP),
        ch.encode(CTRL.LOGIN_PIN_REP, encodeLoginPin('1234')),
        ch.encode(CTRL.KEYBOARD_TEXT_CHANGE_REQ, encodeKeyboardTextRequest(1, 'héllo')),
        ch.encode(CTRL.KEYBOARD_CLOSE_REQ, encodeKeyboardClose(true)),
        ch.encode(CTRL.MIC_TOGGLE, encodeMicToggle(true)),
      );
      return {
        seeds: [joinRecords([stream.subarray(0, 20), stream.subarray(20)])],
        run: (b) => {
          const cons = new CtrlConsole({
            target: 1000,
            crypt,
            remoteCounter: start,
            now: 0,
            sessionId: 'x'.repeat(40),
          });
          eachRecord(b, (r, i) => feed(cons, r, i * 10));
          tick(cons, 20_000);
        },
      };
    },
  },
  {
    name: 'ctrl.payloads',
    covers: 'decodeSessionId, LoginPin, KeyboardOpen, KeyboardTextRequest/Response, KeyboardClose, MicToggle',
    maxLength: 200,
    make: () => ({
      seeds: [
        encodeSessionId(randomSessionId()),
        encodeLoginPin('0000'),
        encodeKeyboardOpen('text'),
        encodeKeyboardTextRequest(3, 'hi'),
        encodeKeyboardTextResponse(3, 'hi'),
        encodeKeyboardClose(false),
        encodeMicToggle(false),
      ],
      run: (b) => {
        decodeSessionId(b);
        for (const d of [
          decodeLoginPin,
          decodeKeyboardOpen,
          decodeKeyboardTextRequest,
          decodeKeyboardTextResponse,
          decodeKeyboardClose,
          decodeMicToggle,
        ])
          typedOnly(() => d(b));
      },
    }),
  },
  {
    name: 'takion.control',
    covers: 'parseControl, readKeyPosLow, verifyGmac',
    maxLength: 200,
    make: () => {
      const pair = new TakionPair();
      pair.connect();
      pair.client.sendMessage(1, 0, new Uint8Array(100).fill(7), pair.now);
      pair.pump();
      const crypt = new GkCrypt(3, new Uint8Array(16), new Uint8Array(32));
      return {
        seeds: [...pair.sent.c2s, ...pair.sent.s2c].filter((d) => (d[0] & 0xf) === TakionType.Control),
        run: (b) => {
          readKeyPosLow(b);
          verifyGmac(b, crypt, 0);
          parseControl(b);
        },
      };
    },
  },
  {
    name: 'takion.endpoint',
    covers: 'TakionEndpoint.handle of a connected, encrypted client: every packet type',
    maxLength: 1200,
    make: () => {
      const TAGS = { client: { tag: 0x1111 }, console: { tag: 0x2222 } };
      const record = new TakionPair(TAGS);
      record.connect();
      record.setCrypt();
      record.console.sendMessage(1, 0, Uint8Array.from([8, 13, 1, 2]), record.now);
      for (const t of [TakionType.Video, TakionType.Audio]) {
        const av = new Uint8Array(60);
        av[0] = t;
        record.console.sendRaw(av, record.console.allocKeyPos(60));
      }
      record.pump();
      const fromConsole = record.sent.s2c.slice(-3);
      return {
        seeds: [joinRecords(fromConsole)],
        run: (b) => {
          const pair = new TakionPair(TAGS);
          pair.connect();
          pair.setCrypt();
          eachRecord(b, (d) => pair.client.handle(d, pair.now));
          for (const e of tick(pair.client, pair.now).events)
            if (
              (e.type === 'error' || e.type === 'lost') &&
              !typedOnly(() => {
                throw e.error;
              })
            )
              continue;
        },
      };
    },
  },
  {
    name: 'streamconnection.message',
    covers: 'decodeTakionMessage: every protobuf message of the stream connection',
    maxLength: 400,
    make: () => ({
      seeds: [
        encodeTakionMessage({ type: 'heartbeat' }),
        encodeTakionMessage({ type: 'disconnect', reason: 'Server shutting down' }),
        encodeTakionMessage({
          type: 'big',
          big: {
            clientVersion: 12,
            sessionKey: 'x'.repeat(40),
            launchSpec: 'y'.repeat(100),
            encryptedKey: new Uint8Array(4),
            ecdhPubKey: new Uint8Array(65),
            ecdhSig: new Uint8Array(32),
          },
        }),
        encodeTakionMessage({
          type: 'streamInfo',
          streamInfo: {
            resolutions: [{ width: 1, height: 2, videoHeader: new Uint8Array(20) }],
            audioHeader: new Uint8Array(14),
          },
        }),
        encodeTakionMessage({
          type: 'senkusha',
          senkusha: { command: 4, clientMtu: { id: 1, mtuReq: 2, state: false } },
        }),
      ],
      run: (b) => void decodeTakionMessage(b),
    }),
  },
  {
    name: 'av.packet',
    covers: 'parseAvPacket, versions 9 and 12',
    maxLength: 120,
    make: () => ({
      seeds: videoPackets(12).slice(0, 3).concat(audioPackets(9).slice(0, 2)),
      run: (b) => {
        const ok = typedOnly(() => parseAvPacket(b, 12));
        if (!ok) parseAvPacket(b, 9);
      },
    }),
  },
  {
    name: 'av.video-frames',
    covers: 'parseAvPacket -> FrameProcessor.handle/handleTimeout: reassembly and FEC recovery (fecDecode)',
    maxLength: 1500,
    make: () => {
      const all = videoPackets(9);
      // a frame whose first source unit is lost: FEC must rebuild it
      return {
        seeds: [joinRecords(all.slice(0, 12)), joinRecords(all.slice(1, 12))],
        run: (b) => {
          const fp = new FrameProcessor();
          eachRecord(b, (r, i) => feed(fp, parseAvPacket(r, 9), i));
          tick(fp, 1e6);
        },
      };
    },
  },
  {
    name: 'av.audio',
    covers: 'parseAvPacket -> AudioReceiver.handle/flush (redundant copies, haptics)',
    maxLength: 800,
    make: () => ({
      seeds: [joinRecords(audioPackets(12).slice(0, 6))],
      run: (b) => {
        const rx = new AudioReceiver();
        eachRecord(b, (r, i) => feed(rx, parseAvPacket(r, 12), i));
        rx.flush();
        drainEvents(rx);
      },
    }),
  },
  {
    name: 'audio.header',
    covers: 'parseAudioHeader (stream info)',
    maxLength: 32,
    make: () => ({
      seeds: [formatAudioHeader({ channels: 2, bits: 16, rate: 48000, frameSize: 480, unknown: 0 })],
      run: (b) => void parseAudioHeader(b),
    }),
  },
  {
    name: 'fec.decode',
    covers: 'fecDecode with any k, m, unit sizes and losses',
    maxLength: 400,
    make: () => {
      const src = [1, 2, 3].map((x) => new Uint8Array(16).fill(x));
      const units = [...src, ...fecEncode(src, 2)];
      // byte 0: k, byte 1: m, byte 2: lost bitmap, then the units, 16 bytes each
      return {
        seeds: [concatBytes(Uint8Array.of(3, 2, 0b00101), ...units)],
        run: (b) => {
          if (b.length < 3) return;
          const k = b[0] % 40;
          const m = b[1] % 20;
          const size = Math.max(1, Math.floor((b.length - 3) / Math.max(1, k + m)));
          const got = Array.from({ length: k + m }, (_, i) =>
            (b[2] >> (i % 8)) & 1 ? undefined : b.subarray(3 + i * size, 3 + (i + 1) * size),
          );
          fecDecode(got, k, m);
        },
      };
    },
  },
  {
    name: 'feedback.packet',
    covers: 'parseFeedbackPacket (plain and encrypted), decodeFeedbackState, decodeFeedbackHistory',
    maxLength: 100,
    make: () => {
      const crypt = new GkCrypt(2, new Uint8Array(16).fill(1), new Uint8Array(32).fill(2));
      const state = fromHex(gen.feedback_state.v12);
      const history = fromHex('8088ffd00577f3ad80ac808600');
      return {
        seeds: [
          formatFeedbackPacket('state', 3, state, crypt, 32),
          formatFeedbackPacket('history', 4, history, crypt, 64),
        ],
        run: (b) => {
          typedOnly(() => decodeFeedbackState(b));
          typedOnly(() => decodeFeedbackHistory(b));
          typedOnly(() => parseFeedbackPacket(b));
          const p = parseFeedbackPacket(b, crypt);
          if (p.type === 'state') decodeFeedbackState(p.payload);
          else decodeFeedbackHistory(p.payload);
        },
      };
    },
  },
  {
    name: 'feedback.console-decoder',
    covers: 'FeedbackConsoleDecoder.accept over a sequence (simulator controller log)',
    maxLength: 400,
    make: () => {
      const key = new Uint8Array(16).fill(1);
      const secret = new Uint8Array(32).fill(2);
      const tx = new GkCrypt(2, key, secret);
      const seeds = [
        joinRecords([
          formatFeedbackPacket('state', 1, fromHex(gen.feedback_state.v12), tx, 32),
          formatFeedbackPacket('history', 1, fromHex('8088ffd00577f3ad80ac808600'), tx, 64),
          formatFeedbackPacket('state', 2, fromHex(gen.feedback_state.v12), tx, 96),
        ]),
      ];
      return {
        seeds,
        run: (b) => {
          const dec = new FeedbackConsoleDecoder(new GkCrypt(2, key, secret));
          eachRecord(b, (r) => dec.accept(r));
        },
      };
    },
  },
  {
    name: 'congestion',
    covers: 'parseCongestion',
    maxLength: 40,
    make: () => ({
      seeds: [formatCongestion({ received: 100, lost: 3, keyPos: 7 })],
      run: (b) => void parseCongestion(b),
    }),
  },
  {
    name: 'launchspec',
    covers: 'decodeLaunchSpec -> parseLaunchSpec, and parseLaunchSpec of plain text',
    maxLength: 1200,
    make: () => {
      const crypt = sessionCrypt();
      return {
        seeds: [latin1(encodeLaunchSpec(session.launch_spec.json, crypt))],
        run: (b) => {
          const s = fromAscii(b);
          typedOnly(() => parseLaunchSpec(s));
          parseLaunchSpec(decodeLaunchSpec(s, crypt));
        },
      };
    },
  },
  {
    name: 'pcoip.mgmt',
    covers: 'decodeMgmtStream (PCoIP management messages)',
    maxLength: 600,
    make: () => ({ seeds: [inviteMgmt(), byeMgmt()], run: (b) => void decodeMgmtStream(b) }),
  },
  {
    name: 'pcoip.data',
    covers: 'decapsulateSalsa -> decodeDataMessage (PCoIP data packets)',
    maxLength: 400,
    make: () => {
      const key = fromHex(DATA_KEY_HEX);
      return {
        seeds: [audioPacket()],
        run: (b) => {
          typedOnly(() => decodeDataMessage(b));
          decodeDataMessage(decapsulateSalsa(b, key).message);
        },
      };
    },
  },
  {
    name: 'pcoip.token',
    covers: 'parsePcoipToken',
    maxLength: 200,
    make: () => ({
      seeds: [
        latin1(makeScs1Token(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), 'connection-tag-0001')),
        latin1('plain-token'),
      ],
      run: (b) => void parsePcoipToken(fromAscii(b)),
    }),
  },
  {
    name: 'rif.rif',
    covers: 'parseRif (license files)',
    maxLength: 1200,
    make: () => ({ seeds: [freeRif()], run: (b) => void parseRif(b) }),
  },
  {
    name: 'rif.rifa',
    covers: 'parseRifa (license archives)',
    maxLength: 3000,
    make: () => ({ seeds: [kdsRifa()], run: (b) => void parseRifa(b) }),
  },
  {
    name: 'rif.ridx',
    covers: 'parseRidx (license indexes)',
    maxLength: 600,
    make: () => ({ seeds: [kdsIndex()], run: (b) => void parseRidx(b) }),
  },
  {
    name: 'file.profiles',
    covers: 'parseProfilesText (profiles.json: JSON, schema)',
    maxLength: 1000,
    make: () => ({
      seeds: [
        utf8(
          JSON.stringify({
            version: 1,
            profiles: [
              {
                name: 'den',
                kind: 'PS5',
                target: 1000100,
                host: '10.0.0.2',
                hostId: 'AABBCCDDEEFF',
                nickname: 'PS5-1',
                registKey: '3132333435363738',
                rpKey: '00112233445566778899aabbccddeeff',
                accountId: 'x3HEK6t1aw8=',
                createdAt: '2026-01-02T03:04:05.000Z',
                settings: { resolution: '1080p', fps: 30 },
              },
            ],
          }),
        ),
      ],
      run: (b) => void parseProfilesText(fromUtf8(b), 'profiles.json'),
    }),
  },
  {
    name: 'file.simulator-state',
    covers: 'parseStateText (simulate --state)',
    maxLength: 800,
    make: () => ({
      seeds: [
        utf8(
          JSON.stringify({
            version: 1,
            kind: 'PS4',
            hostId: '02AABBCCDDEE',
            nickname: 'PS4-sim',
            systemVersion: '12020001',
            paired: [
              { accountId: 'x3HEK6t1aw8=', registKey: '3132', morning: '00'.repeat(16), pairedAt: 'now' },
            ],
          }),
        ),
      ],
      run: (b) => void parseStateText(fromUtf8(b), 'state.json'),
    }),
  },
  {
    name: 'file.keymap',
    covers: 'parseJsonFile -> parseKeymap (key map files)',
    maxLength: 600,
    make: () => ({
      seeds: [readFileSync(join(repoRoot, 'config', 'keymaps', 'default.json'))],
      run: (b) => void parseKeymap(parseJsonFile(fromUtf8(b), 'k.json'), 'k.json', 'k'),
    }),
  },
  {
    name: 'input.evdev',
    covers: 'InputEventParser.feed -> EvdevPadState.apply (game pad devices)',
    maxLength: 400,
    make: () => {
      const ev = (type: number, code: number, value: number) => {
        const b = new Uint8Array(24);
        const dv = view(b);
        dv.setUint16(16, type, true);
        dv.setUint16(18, code, true);
        dv.setInt32(20, value, true);
        return b;
      };
      return {
        seeds: [concatBytes(ev(1, 304, 1), ev(3, 0, -32768), ev(0, 0, 0), ev(1, 304, 0))],
        run: (b) => {
          const p = new InputEventParser(24);
          const pad = new EvdevPadState(evdevProfile('xbox'));
          for (const e of p.feed(b)) pad.apply(e);
        },
      };
    },
  },
  {
    name: 'input.hid',
    covers: 'parseSonyReport, DualShock 4 and DualSense (USB and Bluetooth reports)',
    maxLength: 100,
    make: () => {
      const usb = new Uint8Array(64);
      usb[0] = 0x01;
      usb.set([128, 128, 255, 128, 10, 200, 7], 1);
      const bt = new Uint8Array(78);
      bt[0] = 0x31;
      bt.set(usb.subarray(1), 2);
      return {
        seeds: [usb, bt],
        run: (b) => {
          parseSonyReport('dualsense', b);
          parseSonyReport('dualshock4', b);
        },
      };
    },
  },
  {
    name: 'input.terminal',
    covers: 'TerminalInputDecoder.feed (keys, escape sequences, kitty protocol, UTF-8)',
    maxLength: 200,
    make: () => ({
      seeds: [latin1('a\x1b[A\x1b[97;5u\x1b[13;2:3u\x1bOP'), utf8('é日\x1b[200~paste\x1b[201~')],
      run: (b) => {
        const d = new TerminalInputDecoder();
        eachRecord(joinRecords([b.subarray(0, b.length >> 1), b.subarray(b.length >> 1)]), (r, i) =>
          d.feed(r, i),
        );
        d.feed(new Uint8Array(0), 1000);
      },
    }),
  },
  {
    name: 'media.annexb',
    covers: 'nalUnits, splitAccessUnits, isKeyframe, extractVideoHeader, stripParameterSets (H.264, HEVC)',
    maxLength: 600,
    make: () => ({
      seeds: [
        readFileSync(join(repoRoot, 'test/fixtures/media/testsrc-720p60.h264')).subarray(0, 1500),
        readFileSync(join(repoRoot, 'test/fixtures/media/testsrc-720p60.h265')).subarray(0, 1500),
      ],
      run: (b) => {
        for (const c of ['h264', 'hevc'] as const) {
          nalUnits(b, c);
          for (const au of splitAccessUnits(b, c)) {
            isKeyframe(au, c);
            stripParameterSets(au, c);
          }
          extractVideoHeader(b, c);
        }
      },
    }),
  },
  {
    name: 'media.ogg',
    covers: 'readOggOpus (audio files)',
    maxLength: 600,
    make: () => ({
      seeds: [new Uint8Array(readFileSync(join(repoRoot, 'test/fixtures/media/tone-1khz-48k-stereo.opus')))],
      run: (b) => void readOggOpus(b),
    }),
  },
];

/** Datagrams of a few real video frames of the fixture clip, as a console sends them. */
function videoPackets(version: AvVersion): Uint8Array[] {
  const clip = readFileSync(join(repoRoot, 'test/fixtures/media/testsrc-720p60.h264'));
  const frames = splitAccessUnits(clip, 'h264').slice(0, 2);
  return frames.flatMap((f, i) =>
    packetizeVideoFrame(i + 1, f, { unitSize: 300, fecRatio: 0.3, version }).map((u) =>
      formatAvPacket(u.fields, u.data),
    ),
  );
}

function audioPackets(version: AvVersion): Uint8Array[] {
  const frames = Array.from({ length: 6 }, (_, i) => new Uint8Array(40).fill(i + 1));
  return packetizeAudio(frames, { version, firstFrameIndex: 1, fecUnits: 2 }).map((p) =>
    formatAvPacket(p.fields, p.data),
  );
}

let built: FuzzTarget[] | undefined;

/** Every fuzz target (seeds built on first use of each). */
export function fuzzTargets(): FuzzTarget[] {
  built ??= DEFS.map((d) => {
    let made: ReturnType<TargetDef['make']> | undefined;
    const get = () => {
      made ??= d.make();
      return made;
    };
    return {
      name: d.name,
      covers: d.covers,
      maxLength: d.maxLength,
      get seeds() {
        return get().seeds;
      },
      run: (b: Uint8Array) => get().run(b),
    };
  });
  return built;
}

/** The fuzz target called `name` (its seeds serve the parser's own tests too). */
export function fuzzTarget(name: string): FuzzTarget {
  const t = fuzzTargets().find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target ${name}`);
  return t;
}
