import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toBase64 } from '../../src/proto-stack/bytes.js';
import { ParseError, UsageError } from '../../src/proto-stack/errors.js';
import {
  decodeLaunchSpec,
  encodeLaunchSpec,
  formatLaunchSpec,
  parseLaunchSpec,
  RESOLUTION_PRESETS,
  videoProfile,
} from '../../src/proto-stack/launchspec.js';
import { RpCrypt } from '../../src/proto-stack/rpcrypt.js';
import type { Target } from '../../src/proto-stack/target.js';
import { typedOnly } from '../helpers/fuzz.js';
import { loadVectors } from '../helpers/vectors.js';

interface LaunchVector {
  target: Target;
  nonce: string;
  morning: string;
  launch_spec: {
    mtu: number;
    rtt_ms: number;
    width: number;
    height: number;
    max_fps: number;
    codec: number;
    bw_kbps_sent: number;
    handshake_key: string;
    json: string;
    encrypted_length_with_nul: number;
    base64: string;
  };
}

const sessions: LaunchVector[] = loadVectors('generated_chiaki').session;

describe('launch spec (generated_chiaki.json session[*].launch_spec)', () => {
  it.each(sessions.map((v, i) => [i, v] as const))('case %i: JSON and base64 are byte-exact', (_i, v) => {
    const ls = v.launch_spec;
    const json = formatLaunchSpec({
      target: v.target,
      width: ls.width,
      height: ls.height,
      maxFps: ls.max_fps,
      bitrateKbps: ls.bw_kbps_sent,
      mtu: ls.mtu,
      rtt: ls.rtt_ms,
      handshakeKey: fromHex(ls.handshake_key),
      // the reference's codec enum: 0 H.264, 1 H.265, 2 H.265 HDR
      codec: ls.codec === 0 ? 'h264' : 'h265',
      hdr: ls.codec === 2,
    });
    expect(json).toBe(ls.json);
    expect(json.length + 1).toBe(ls.encrypted_length_with_nul);
    const crypt = RpCrypt.forSession(v.target, fromHex(v.nonce), fromHex(v.morning));
    const b64 = encodeLaunchSpec(json, crypt);
    expect(b64).toBe(ls.base64);

    // console side: decode and read back what it needs
    expect(decodeLaunchSpec(b64, crypt)).toBe(ls.json);
    const parsed = parseLaunchSpec(decodeLaunchSpec(b64, crypt));
    expect(parsed).toMatchObject({
      width: ls.width,
      height: ls.height,
      maxFps: ls.max_fps,
      bitrateKbps: ls.bw_kbps_sent,
      mtu: ls.mtu,
      rtt: ls.rtt_ms,
      codec: ls.codec === 0 ? 'h264' : 'h265',
      hdr: false,
    });
    expect(parsed.handshakeKey).toEqual(fromHex(ls.handshake_key));
  });

  it('PS5 H.264 names avc, HDR names HDR; PS4 never names a codec', () => {
    const base = {
      width: 1280,
      height: 720,
      maxFps: 60,
      bitrateKbps: 10000,
      mtu: 1454,
      rtt: 1,
      handshakeKey: new Uint8Array(16),
    };
    const avc = formatLaunchSpec({ ...base, target: 1000100 });
    expect(avc).toContain('"videoCodec":"avc","dynamicRange":"SDR","handshakeKey"');
    const hdr = formatLaunchSpec({ ...base, target: 1000100, codec: 'h265', hdr: true });
    expect(hdr).toContain('"videoCodec":"hevc","dynamicRange":"HDR",');
    expect(parseLaunchSpec(hdr)).toMatchObject({ codec: 'h265', hdr: true });
    const ps4 = formatLaunchSpec({ ...base, target: 1000, codec: 'h265' });
    expect(ps4).not.toContain('videoCodec');
    expect(ps4).not.toContain('adaptiveStreamMode');
    expect(() => formatLaunchSpec({ ...base, target: 1000100, hdr: true })).toThrow(UsageError);
    expect(() => formatLaunchSpec({ ...base, target: 1000, handshakeKey: new Uint8Array(3) })).toThrow(
      UsageError,
    );
  });

  it('presets', () => {
    expect(videoProfile('360p', 30)).toEqual({ width: 640, height: 360, bitrateKbps: 2000, maxFps: 30 });
    expect(videoProfile('540p')).toEqual({ width: 960, height: 540, bitrateKbps: 6000, maxFps: 60 });
    expect(RESOLUTION_PRESETS['720p'].bitrateKbps).toBe(10000);
    expect(RESOLUTION_PRESETS['1080p']).toEqual({ width: 1920, height: 1080, bitrateKbps: 15000 });
    // biome-ignore lint/suspicious/noExplicitAny: deliberately invalid input
    expect(() => videoProfile('4k' as any)).toThrow(UsageError);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately invalid input
    expect(() => videoProfile('720p', 120 as any)).toThrow(UsageError);
  });

  it('a launch spec masked with other session keys is rejected as ParseError', () => {
    const v = sessions[0];
    const right = RpCrypt.forSession(v.target, fromHex(v.nonce), fromHex(v.morning));
    const wrong = RpCrypt.forSession(v.target, fromHex(sessions[1].nonce), fromHex(v.morning));
    const b64 = encodeLaunchSpec(v.launch_spec.json, right);
    expect(() => parseLaunchSpec(decodeLaunchSpec(b64, wrong))).toThrow(ParseError);
  });

  it('fuzz: decode + parse only throw typed errors', () => {
    const v = sessions[0];
    const crypt = RpCrypt.forSession(v.target, fromHex(v.nonce), fromHex(v.morning));
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 300 }).map(toBase64),
      fc.tuple(fc.nat(), fc.integer({ min: 0, max: 127 })).map(([at, c]) => {
        const j = v.launch_spec.json;
        const i = at % j.length;
        return encodeLaunchSpec(j.slice(0, i) + String.fromCharCode(c) + j.slice(i + 1), crypt);
      }),
    );
    fc.assert(
      fc.property(text, (s) => {
        typedOnly(() => parseLaunchSpec(decodeLaunchSpec(s, crypt)));
        typedOnly(() => parseLaunchSpec(s));
      }),
      { numRuns: 1000 },
    );
  });
});
