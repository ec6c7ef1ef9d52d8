/**
 * Launch spec (docs/protocol.md §5): the JSON the client puts, masked and base64-encoded, into BIG. It
 * asks for one resolution / fps / bitrate and carries the random handshake key that both sides
 * later use to sign their ECDH public keys and to derive the gkcrypt contexts.
 *
 * The JSON text is fixed byte for byte (field order, `0.001000`, the single space in PS5's
 * `"adaptiveStreamMode": "resize"`), so it is built as text, not with JSON.stringify.
 */

import { fromAscii, fromBase64, toBase64, utf8 } from './bytes.js';
import { ParseError, UsageError } from './errors.js';
import type { RpCrypt } from './rpcrypt.js';
import { isPs5, type Target } from './target.js';

export type VideoCodec = 'h264' | 'h265';
export type ResolutionPreset = '360p' | '540p' | '720p' | '1080p';
export type FpsPreset = 30 | 60;

export interface VideoProfile {
  width: number;
  height: number;
  maxFps: FpsPreset;
  bitrateKbps: number;
}

/** Resolution presets with the bitrates docs/protocol.md §5 gives. */
export const RESOLUTION_PRESETS: Readonly<
  Record<ResolutionPreset, { width: number; height: number; bitrateKbps: number }>
> = {
  '360p': { width: 640, height: 360, bitrateKbps: 2000 },
  '540p': { width: 960, height: 540, bitrateKbps: 6000 },
  '720p': { width: 1280, height: 720, bitrateKbps: 10000 },
  '1080p': { width: 1920, height: 1080, bitrateKbps: 15000 },
};

export function isResolutionPreset(s: string): s is ResolutionPreset {
  return Object.hasOwn(RESOLUTION_PRESETS, s);
}

export function videoProfile(resolution: ResolutionPreset, fps: FpsPreset = 60): VideoProfile {
  if (!isResolutionPreset(resolution))
    throw new UsageError(`unknown resolution "${resolution}"`, 'use one of 360p, 540p, 720p, 1080p');
  if (fps !== 30 && fps !== 60) throw new UsageError(`unsupported fps ${fps}`, 'use 30 or 60');
  return { ...RESOLUTION_PRESETS[resolution], maxFps: fps };
}

export interface LaunchSpecParams {
  target: Target;
  width: number;
  height: number;
  maxFps: number;
  bitrateKbps: number;
  /** Inbound MTU from Senkusha (fallback 1454). */
  mtu: number;
  /** Round-trip time in whole milliseconds (fallback 1). */
  rtt: number;
  /** 16 random bytes, fresh per stream. */
  handshakeKey: Uint8Array;
  /** PS5 only; PS4 always streams H.264 and its launch spec names no codec. */
  codec?: VideoCodec;
  /** PS5 + H.265 only. */
  hdr?: boolean;
}

function uint(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw new UsageError(`launch spec: ${name} must be a non-negative integer, got ${v}`);
  return v;
}

export function formatLaunchSpec(p: LaunchSpecParams): string {
  if (p.handshakeKey.length !== 16)
    throw new UsageError(`launch spec: the handshake key must be 16 bytes, got ${p.handshakeKey.length}`);
  if (p.hdr && p.codec !== 'h265') throw new UsageError('HDR needs the H.265 codec');
  const ps5 = isPs5(p.target);
  const gameSpecExtra = ps5 ? ',"adaptiveStreamMode": "resize"' : '';
  const codecExtra = ps5
    ? `"videoCodec":"${p.codec === 'h265' ? 'hevc' : 'avc'}","dynamicRange":"${p.hdr ? 'HDR' : 'SDR'}",`
    : '';
  return (
    '{"sessionId":"sessionId4321",' +
    `"streamResolutions":[{"resolution":{"width":${uint('width', p.width)},"height":${uint('height', p.height)}},` +
    `"maxFps":${uint('maxFps', p.maxFps)},"score":10}],` +
    `"network":{"bwKbpsSent":${uint('bitrate', p.bitrateKbps)},"bwLoss":0.001000,` +
    `"mtu":${uint('mtu', p.mtu)},"rtt":${uint('rtt', p.rtt)},"ports":[53,2053]},` +
    '"slotId":1,' +
    '"appSpecification":{"minFps":30,"minBandwidth":0,"extTitleId":"ps3","version":1,"timeLimit":1,' +
    '"startTimeout":100,"afkTimeout":100,"afkTimeoutDisconnect":100},' +
    '"konan":{"ps3AccessToken":"accessToken","ps3RefreshToken":"refreshToken"},' +
    '"requestGameSpecification":{"model":"bravia_tv","platform":"android","audioChannels":"5.1",' +
    '"language":"sp","acceptButton":"X","connectedControllers":["xinput","ds3","ds4"],' +
    '"yuvCoefficient":"bt601","videoEncoderProfile":"hw4.1","audioEncoderProfile":"audio1"' +
    `${gameSpecExtra}},` +
    '"userProfile":{"onlineId":"psnId","npId":"npId","region":"US","languagesUsed":["en","jp"]},' +
    codecExtra +
    `"handshakeKey":"${toBase64(p.handshakeKey)}"}`
  );
}

/** XOR with the rpcrypt stream of zeros at counter 0 — both directions of the mask are the same. */
function mask(data: Uint8Array, crypt: RpCrypt): Uint8Array {
  const stream = crypt.encrypt(0, new Uint8Array(data.length));
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ stream[i];
  return out;
}

/** JSON text + NUL, XORed with rpcrypt-encrypt(counter 0, zeros), base64 (the BIG launch_spec). */
export function encodeLaunchSpec(json: string, crypt: RpCrypt): string {
  const text = utf8(json);
  const plain = new Uint8Array(text.length + 1);
  plain.set(text, 0);
  return toBase64(mask(plain, crypt));
}

const MAX_LAUNCH_SPEC = 16 * 1024;

/** Console side: base64 -> JSON text (the trailing NUL removed). */
export function decodeLaunchSpec(b64: string, crypt: RpCrypt): string {
  if (b64.length > (MAX_LAUNCH_SPEC * 4) / 3 + 4)
    throw new ParseError('launch-spec', 'launch spec is too long');
  const plain = mask(fromBase64(b64, 'launch-spec'), crypt);
  if (plain.length === 0 || plain[plain.length - 1] !== 0)
    throw new ParseError('launch-spec', 'launch spec does not end in NUL (wrong session keys?)');
  return fromAscii(plain.subarray(0, plain.length - 1));
}

/** What the console reads out of a launch spec. */
export interface ParsedLaunchSpec {
  width: number;
  height: number;
  maxFps: number;
  bitrateKbps: number;
  mtu: number;
  rtt: number;
  handshakeKey: Uint8Array;
  codec: VideoCodec;
  hdr: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ParseError('launch-spec', `${what} is missing`);
  return v;
}

export function parseLaunchSpec(json: string): ParsedLaunchSpec {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (e) {
    throw new ParseError('launch-spec', 'launch spec is not JSON (wrong session keys?)', { cause: e });
  }
  if (!isRecord(doc)) throw new ParseError('launch-spec', 'launch spec is not a JSON object');
  const res = Array.isArray(doc.streamResolutions) ? doc.streamResolutions[0] : undefined;
  if (!isRecord(res) || !isRecord(res.resolution))
    throw new ParseError('launch-spec', 'streamResolutions[0] is missing');
  const net = isRecord(doc.network) ? doc.network : {};
  if (typeof doc.handshakeKey !== 'string') throw new ParseError('launch-spec', 'handshakeKey is missing');
  const handshakeKey = fromBase64(doc.handshakeKey, 'launch-spec');
  if (handshakeKey.length !== 16)
    throw new ParseError('launch-spec', `handshakeKey must be 16 bytes, got ${handshakeKey.length}`);
  return {
    width: num(res.resolution.width, 'width'),
    height: num(res.resolution.height, 'height'),
    maxFps: num(res.maxFps, 'maxFps'),
    bitrateKbps: num(net.bwKbpsSent, 'network.bwKbpsSent'),
    mtu: num(net.mtu, 'network.mtu'),
    rtt: num(net.rtt, 'network.rtt'),
    handshakeKey,
    codec: doc.videoCodec === 'hevc' ? 'h265' : 'h264',
    hdr: doc.dynamicRange === 'HDR',
  };
}
