import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  extractVideoHeader,
  isKeyframe,
  nalUnits,
  sliceData,
  splitAccessUnits,
} from '../../src/proto-stack/annexb.js';
import { parseAudioHeader } from '../../src/proto-stack/audio.js';
import { parseAvPacket } from '../../src/proto-stack/avpacket.js';
import { bytesEqual, concatBytes } from '../../src/proto-stack/bytes.js';
import type { AvSend } from '../../src/proto-stack/consolesession.js';
import { ConfigError, UsageError } from '../../src/proto-stack/errors.js';
import { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import {
  findMediaDir,
  loadClip,
  loadClipFiles,
  MediaStreamer,
  opusPacketMs,
  shapeFrameSizes,
} from '../../src/simulator/media-streamer.js';
import { tick } from '../helpers/machine.js';

const { clip: clip720 } = loadClip({ width: 1280, height: 720 }, 'h264');
const { clip: clip1080 } = loadClip({ width: 1920, height: 1080 }, 'h264');

/** Polls every millisecond from `from` to `to` (inclusive), returning [time, packets] per poll. */
function drive(ms: MediaStreamer, from: number, to: number): { t: number; p: AvSend }[] {
  const out: { t: number; p: AvSend }[] = [];
  for (let t = from; t <= to; t++) for (const p of tick(ms, t).out) out.push({ t, p });
  return out;
}

describe('loadClip', () => {
  it('picks the exact fixture when there is one', () => {
    const r = loadClip({ width: 1920, height: 1080 }, 'h264');
    expect(r.warning).toBeUndefined();
    expect([r.clip.width, r.clip.height, r.clip.codec]).toEqual([1920, 1080, 'h264']);
    expect(r.clip.audio?.length).toBeGreaterThan(90);
    expect(r.clip.audioChannels).toBe(2);
  });

  it('falls back to the nearest size and says so', () => {
    const sd = loadClip({ width: 960, height: 540 }, 'h264');
    expect(sd.clip.height).toBe(720);
    expect(sd.warning).toMatch(/960x540.*1280x720/);
    const hevc = loadClip({ width: 1920, height: 1080 }, 'h265');
    expect([hevc.clip.width, hevc.clip.height, hevc.clip.codec]).toEqual([1280, 720, 'h265']);
    expect(hevc.warning).toMatch(/H265/);
  });

  it('a missing media directory is a ConfigError with a hint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rptui-media-'));
    try {
      expect(() => findMediaDir(dir)).toThrow(ConfigError);
      expect(() => loadClip({ width: 1280, height: 720 }, 'h264', dir)).toThrow(ConfigError);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('opusPacketMs', () => {
  it('reads the frame duration and count from the TOC byte', () => {
    expect(opusPacketMs(Uint8Array.of(0xfc))).toBe(20); // CELT FB 20 ms, one frame (the fixture)
    expect(opusPacketMs(Uint8Array.of(31 << 3))).toBe(20);
    expect(opusPacketMs(Uint8Array.of((16 << 3) | 1))).toBe(5); // 2 x 2.5 ms
    expect(opusPacketMs(Uint8Array.of((3 << 3) | 3, 3))).toBe(180); // 3 x 60 ms SILK
    expect(opusPacketMs(Uint8Array.of(13 << 3))).toBe(20); // hybrid 20 ms
    expect(() => opusPacketMs(new Uint8Array(0))).toThrow(UsageError);
  });
});

describe('MediaStreamer', () => {
  it('announces the clip: parameter sets as video header, 14-byte audio header for 20 ms stereo Opus', () => {
    const ms = new MediaStreamer({ version: 9, clip: clip720, fps: 60, now: 0 });
    expect(bytesEqual(ms.videoHeader, extractVideoHeader(clip720.video, 'h264') as Uint8Array)).toBe(true);
    expect(parseAudioHeader(ms.audioHeader)).toEqual({
      channels: 2,
      bits: 16,
      rate: 48000,
      frameSize: 960,
      unknown: 0,
    });
    expect([ms.width, ms.height]).toEqual([1280, 720]);
    expect(ms.warnings).toEqual([]);
    const asked = new MediaStreamer({
      version: 9,
      clip: clip720,
      fps: 30,
      now: 0,
      resolution: { width: 960, height: 540 },
    });
    expect(asked.warnings[0]).toMatch(/960x540/);
  });

  it('paces video at fps and audio every 20 ms, in time order, from frame index 1', () => {
    const ms = new MediaStreamer({ version: 9, clip: clip720, fps: 60, now: 1000 });
    const sent = drive(ms, 1000, 1999);
    const video = sent.filter((s) => s.p.kind === 'video');
    const audio = sent.filter((s) => s.p.kind === 'audio');
    const frameTimes = new Map<number, number>();
    for (const s of video) if (!frameTimes.has(s.p.frameIndex)) frameTimes.set(s.p.frameIndex, s.t);
    expect([...frameTimes.keys()]).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    for (const [fi, t] of frameTimes) expect(t).toBe(Math.ceil(1000 + ((fi - 1) * 1000) / 60));
    expect(audio.map((s) => s.t)).toEqual(Array.from({ length: 50 }, (_, i) => 1000 + i * 20));
    expect(audio.map((s) => s.p.frameIndex)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    for (let i = 1; i < sent.length; i++) expect(sent[i].t).toBeGreaterThanOrEqual(sent[i - 1].t);
    expect(ms.pollTimeout()).toBe(2000);
    const st = ms.stats();
    expect(st.videoFrames).toBe(60);
    expect(st.audioPackets).toBe(50);
    expect(st.keyframes).toBe(1);
  });

  it.each([
    ['H.264 1080p', { width: 1920, height: 1080 }, 'h264', 'h264'],
    ['HEVC 720p', { width: 1280, height: 720 }, 'h265', 'hevc'],
  ] as const)(
    '%s: the first NAL unit of every frame of a whole loop is a slice (key frames: an IDR slice)',
    (_, size, clipCodec, codec) => {
      const { clip } = loadClip(size, clipCodec);
      const ms = new MediaStreamer({ version: 12, clip, fps: 60, bitrateKbps: 10_000, now: 0 });
      const frames = new Map<number, Uint8Array[]>();
      for (const s of drive(ms, 0, 2100))
        if (s.p.kind === 'video' && s.p.unitIndex < s.p.unitsTotal - s.p.fecUnits) {
          const data = s.p.build(0, undefined).subarray(-s.p.size);
          frames.set(s.p.frameIndex, [...(frames.get(s.p.frameIndex) ?? []), data.subarray(2)]);
        }
      expect(frames.size).toBeGreaterThanOrEqual(120); // the clip's 2 s loop
      let keys = 0;
      for (const [, units] of frames) {
        const au = concatBytes(...units);
        const first = nalUnits(au, codec)[0];
        const vcl = codec === 'h264' ? first.type >= 1 && first.type <= 5 : first.type <= 31;
        expect(vcl, `first NAL type ${first.type}`).toBe(true);
        if (isKeyframe(au, codec)) {
          keys++;
          expect(codec === 'h264' ? first.type === 5 : first.type >= 16 && first.type <= 21).toBe(true);
        }
      }
      expect(keys).toBeGreaterThanOrEqual(2);
    },
  );

  it('pads frames to the asked bitrate with filler NAL units, key frames several times the P-frames', () => {
    const ms = new MediaStreamer({ version: 9, clip: clip1080, fps: 60, bitrateKbps: 15_000, now: 0 });
    drive(ms, 0, 2000 - 1);
    const st = ms.stats();
    expect(st.videoFrames).toBe(120);
    // the frame bytes of one whole loop (2 s) at 15 Mbit/s
    expect((st.videoBytes * 8) / 2 / 1000).toBeGreaterThan(15_000 * 0.98);
    expect((st.videoBytes * 8) / 2 / 1000).toBeLessThan(15_000 * 1.02);
    const sizes = shapeFrameSizes([5000, 1000, 1000, 1000], 31_250, 300_000, 6);
    expect(sizes.reduce((a, b) => a + b, 0) / 4).toBeCloseTo(31_250, -1);
    expect(sizes[0] / sizes[1]).toBeCloseTo(5, 1); // the shape of the clip is kept
    // a cap (one FEC block) bounds the key frame; the P-frames take up the rest
    const capped = shapeFrameSizes([5000, 1000, 1000, 1000], 83_000, 150_000, 6);
    expect(capped[0]).toBe(150_000);
    expect(capped.reduce((a, b) => a + b, 0) / 4).toBeCloseTo(83_000, -1);
    // a clip already above the target keeps its sizes; growth below a filler unit is not worth one
    expect(shapeFrameSizes([5000, 1000], 500, 1e6, 6)).toEqual([5000, 1000]);
    expect(shapeFrameSizes([1000, 1000], 1003, 1e6, 6)).toEqual([1000, 1000]);
  });

  it('builds packets whose payload decrypts at key_pos + 16 to FEC-protected units', () => {
    const crypt = new GkCrypt(3, new Uint8Array(16).fill(1), new Uint8Array(32).fill(2));
    const ms = new MediaStreamer({ version: 12, clip: clip720, fps: 60, now: 0 });
    let kp = 0x1_0000_0000 - 500; // across the 32-bit wrap of the header field
    const packets = tick(ms, 0).out;
    const firstFrame = packets.filter((p) => p.kind === 'video');
    expect(firstFrame.length).toBeGreaterThan(1);
    expect(firstFrame.every((p) => p.keyframe && p.clipFrame === 0)).toBe(true);
    const chunks: Uint8Array[] = [];
    for (const p of packets) {
      const bytes = p.build(kp, crypt);
      const h = parseAvPacket(bytes, 12);
      expect(h.keyPos).toBe(kp % 0x1_0000_0000);
      expect([...h.gmac]).toEqual([0, 0, 0, 0]);
      expect(h.data.length).toBe(p.size);
      expect([h.frameIndex, h.unitIndex, h.unitsTotal, h.fecUnits]).toEqual([
        p.frameIndex,
        p.unitIndex,
        p.unitsTotal,
        p.fecUnits,
      ]);
      const plain = crypt.crypt(h.data, kp + 16);
      expect(bytesEqual(plain, p.build(kp, undefined).subarray(h.headerSize))).toBe(true);
      if (p.kind === 'video' && p.unitIndex < p.unitsTotal - p.fecUnits) chunks.push(plain.subarray(2));
      kp += p.size + 16;
    }
    // the first access unit's slices: its SPS/PPS are the STREAMINFO header, its SEI is left out
    const frame0 = sliceData(splitAccessUnits(clip720.video, 'h264')[0], 'h264');
    const joined = concatBytes(...chunks);
    expect(bytesEqual(frame0, joined)).toBe(true);
    expect(isKeyframe(joined, 'h264')).toBe(true);
  });

  it('loops the clip from its key frame while frame indices keep increasing', () => {
    const ms = new MediaStreamer({ version: 9, clip: clip720, fps: 60, now: 0 });
    const n = splitAccessUnits(clip720.video, 'h264').length;
    const video = drive(ms, 0, Math.ceil(((n + 10) * 1000) / 60)).filter(
      (s) => s.p.kind === 'video' && s.p.unitIndex === 0,
    );
    expect(video.map((s) => s.p.frameIndex)).toEqual(Array.from({ length: video.length }, (_, i) => i + 1));
    expect(video[n].p.clipFrame).toBe(0);
    expect(video[n].p.keyframe).toBe(true);
    expect(ms.stats().loops).toBe(1);
  });

  it('requestKeyframe: the next frame sent is the next key frame of the clip (wrapping to the start)', () => {
    const ms = new MediaStreamer({ version: 9, clip: clip720, fps: 60, now: 0, keyframeHoldMs: 0 });
    const first = (sent: { p: AvSend }[]) => sent.filter((s) => s.p.kind === 'video' && s.p.unitIndex === 0);
    first(drive(ms, 0, 100)); // frames 0..6 of the clip
    ms.requestKeyframe(101);
    ms.requestKeyframe(101); // a second request for the same loss does not skip further
    const after = first(drive(ms, 101, 140));
    expect(after[0].p.clipFrame).toBe(60);
    expect(after[0].p.keyframe).toBe(true);
    expect(after[1].p.clipFrame).toBe(61);
    expect(after[0].p.frameIndex).toBe(8); // wire indices do not jump
    first(drive(ms, 131, 1100)); // past clip frame 60
    ms.requestKeyframe(1100);
    const wrapped = first(drive(ms, 1101, 1120));
    expect(wrapped[0].p.clipFrame).toBe(0);
    expect(ms.stats().keyframeRequests).toBe(3);
  });

  it('ignores requests a key frame already sent covers', () => {
    const ms = new MediaStreamer({ version: 9, clip: clip720, fps: 60, now: 0 });
    const first = (sent: { t: number; p: AvSend }[]) =>
      sent.filter((s) => s.p.kind === 'video' && s.p.unitIndex === 0);
    drive(ms, 0, 40); // wire frames 1 (key, t=0), 2, 3
    ms.requestKeyframe(50); // an IDR retry 50 ms after a key frame: the client cannot have it yet
    ms.requestKeyframe(50, 0); // CORRUPTFRAME for frames before that key frame
    expect(first(drive(ms, 41, 119)).map((s) => s.p.clipFrame)).toEqual([3, 4, 5, 6, 7]);
    ms.requestKeyframe(120, 7); // a loss after the key frame
    const key = first(drive(ms, 120, 140));
    expect([key[0].t, key[0].p.frameIndex, key[0].p.clipFrame, key[0].p.keyframe]).toEqual([
      134,
      9,
      60,
      true,
    ]);
    ms.requestKeyframe(140, 8); // reported while the key frame (wire 9) was in flight
    ms.requestKeyframe(140); // and the IDR retry with it
    expect(first(drive(ms, 141, 160))[0].p.clipFrame).toBe(61);
    ms.requestKeyframe(300); // an IDR retry long after: the key frame may have been lost
    expect(first(drive(ms, 290, 310))[0].p.clipFrame).toBe(0);
    expect(ms.stats()).toMatchObject({ keyframeRequests: 6, keyframeRequestsHeld: 4, keyframes: 3 });
  });

  it('spreads a frame over the frame interval when pacing at a bitrate', () => {
    const ms = new MediaStreamer({ version: 9, clip: clip720, fps: 60, now: 0, bitrateKbps: 10_000 });
    tick(ms, 0).out;
    // the key frame (~3.7 KB = ~3 ms at 10 Mbit/s) leaves over several milliseconds
    expect(ms.pollTimeout()).toBeGreaterThan(0);
    expect(ms.pollTimeout()).toBeLessThan(1000 / 60);
    const times = drive(ms, 0, 16)
      .filter((s) => s.p.frameIndex === 1 && s.p.kind === 'video')
      .map((s) => s.t);
    expect(times.length).toBeGreaterThan(0);
    expect(Math.max(...times)).toBeLessThan(1000 / 60);
  });

  it('a driver that stalls does not get a burst of stale frames', () => {
    const ms = new MediaStreamer({ version: 9, clip: clip720, fps: 60, now: 0 });
    tick(ms, 0).out;
    const late = tick(ms, 5000).out.filter((p) => p.kind === 'video' && p.unitIndex === 0);
    expect(late.length).toBe(1);
    expect(ms.stats().lagResets).toBe(2); // video and audio
    expect(ms.pollTimeout()).toBeGreaterThan(5000);
  });

  it('refuses clips it cannot stream, with typed errors', () => {
    const aus = splitAccessUnits(clip720.video, 'h264');
    const header = extractVideoHeader(clip720.video, 'h264') as Uint8Array;
    // parameter sets and P-frames only: a decoder could never start
    const noKey = concatBytes(header, aus[1], aus[2]);
    expect(
      () => new MediaStreamer({ version: 9, clip: { ...clip720, video: noKey }, fps: 60, now: 0 }),
    ).toThrow(/no key frame/);
    expect(
      () =>
        new MediaStreamer({
          version: 9,
          clip: { ...clip720, video: Uint8Array.of(0, 0, 0, 1, 0x41, 0x9a) },
          fps: 60,
          now: 0,
        }),
    ).toThrow(/parameter sets/);
    expect(() => new MediaStreamer({ version: 9, clip: clip720, fps: 0, now: 0 })).toThrow(UsageError);
    expect(
      () =>
        new MediaStreamer({
          version: 9,
          clip: { ...clip720, audio: [new Uint8Array(300)] },
          fps: 60,
          now: 0,
        }),
    ).toThrow(UsageError);
  });

  it('pads variable-bitrate Opus packets to one unit size for the whole stream', () => {
    const tone = clip720.audio ?? [];
    // code-0 packets (one frame): shorter ones are still well-formed Opus framing
    const vbr = [tone[0], tone[1].slice(0, 120), tone[2].slice(0, 159), tone[3]];
    const ms = new MediaStreamer({ version: 9, clip: { ...clip720, audio: vbr }, fps: 60, now: 0 });
    const audio = drive(ms, 0, 79).filter((s) => s.p.kind === 'audio');
    expect(audio.map((s) => s.p.size)).toEqual([480, 480, 480, 480]); // 3 units of 160 bytes
    const units = audio.map((s) => parseAvPacket(s.p.build(0, undefined), 9).data.subarray(0, 160));
    expect(bytesEqual(units[0], tone[0])).toBe(true);
    expect(units[1][0] & 3).toBe(3); // re-framed as code 3 with padding
    expect(opusPacketMs(units[1])).toBe(20);
  });

  it('streams a clip without audio (video only, no audio wakeups)', () => {
    const ms = new MediaStreamer({ version: 9, clip: { ...clip720, audio: undefined }, fps: 30, now: 0 });
    const sent = drive(ms, 0, 999);
    expect(sent.every((s) => s.p.kind === 'video')).toBe(true);
    expect(new Set(sent.map((s) => s.p.frameIndex)).size).toBe(30);
  });
});

const tmp = mkdtempSync(join(tmpdir(), 'rptui-clip-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('loadClipFiles', () => {
  it('reads a clip from files; an unreadable file is a ConfigError', () => {
    writeFileSync(join(tmp, 'a.h264'), clip720.video);
    expect(
      loadClipFiles({ video: join(tmp, 'a.h264'), codec: 'h264', width: 1280, height: 720 }).video.length,
    ).toBe(clip720.video.length);
    expect(() =>
      loadClipFiles({ video: join(tmp, 'missing.h264'), codec: 'h264', width: 1, height: 1 }),
    ).toThrow(ConfigError);
  });
});
