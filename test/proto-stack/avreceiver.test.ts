import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AvAudioDecoder } from '../../src/media/opus.js';
import { fillerNal, sliceData, splitAccessUnits, type VideoCodec } from '../../src/proto-stack/annexb.js';
import { formatAudioHeader, packetizeAudio } from '../../src/proto-stack/audio.js';
import { formatAvPacket } from '../../src/proto-stack/avpacket.js';
import { type AvOutput, AvReceiver } from '../../src/proto-stack/avreceiver.js';
import { bytesEqual, concatBytes, fromHex } from '../../src/proto-stack/bytes.js';
import { ParseError } from '../../src/proto-stack/errors.js';
import { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import { type DropRecord, fecOutcome } from '../../src/simulator/faults.js';
import { loadClip, type MediaClip } from '../../src/simulator/media-streamer.js';
import { type PipelineRun, runPipeline } from '../helpers/av-pipeline.js';
import { feed, tick } from '../helpers/machine.js';
import { goertzel, leftChannel } from '../helpers/tone.js';
import { loadVectors } from '../helpers/vectors.js';

const AUDIO_HEADER = formatAudioHeader({ channels: 2, bits: 16, rate: 48000, frameSize: 960, unknown: 0 });
const FAKE_HEADER = fromHex('00000001670000000168');

interface RealPacket {
  packet: string;
  decrypted_data: string;
  derived: {
    frame_index: number;
    unit_index: number;
    units_in_frame_total: number;
    units_in_frame_fec: number;
    key_pos: number;
  };
}

function realVideo() {
  const c = loadVectors('takion').cases.find((x: { name: string }) => x.name === 'real_video_v9');
  const crypt = new GkCrypt(c.inputs.index, fromHex(c.inputs.handshake_key), fromHex(c.inputs.ecdh_secret));
  return { crypt, packets: c.expected.packets as RealPacket[] };
}

/** A frame as the vector's decrypted source units spell it: each unit minus its 2-byte padding field. */
function expectedFrame(packets: RealPacket[], frameIndex: number): Uint8Array {
  const units = packets.filter(
    (p) =>
      p.derived.frame_index === frameIndex &&
      p.derived.unit_index < p.derived.units_in_frame_total - p.derived.units_in_frame_fec,
  );
  return concatBytes(...units.map((p) => fromHex(p.decrypted_data).subarray(2)));
}

const frames = (outs: AvOutput[]) =>
  outs.filter((o): o is Extract<AvOutput, { type: 'frame' }> => o.type === 'frame');

describe('AvReceiver on real PS4 packets (takion.json real_video_v9)', () => {
  it('decrypts at key_pos + 16 and reassembles frames 1 and 2 byte-exact, header before the first', () => {
    const { crypt, packets } = realVideo();
    const rx = new AvReceiver({
      version: 9,
      videoHeaders: [FAKE_HEADER],
      audioHeader: AUDIO_HEADER,
      remoteCrypt: crypt,
      now: 0,
    });
    const outs: AvOutput[] = [];
    for (const p of packets)
      outs.push(...feed(rx, { bytes: fromHex(p.packet), keyPos: p.derived.key_pos }, 0));
    const f = frames(outs);
    expect(f.map((x) => x.index)).toEqual([1, 2]);
    expect(bytesEqual(f[0].bytes, concatBytes(FAKE_HEADER, expectedFrame(packets, 1)))).toBe(true);
    expect(f[0].keyframe).toBe(true);
    expect(bytesEqual(f[1].bytes, expectedFrame(packets, 2))).toBe(true);
    expect(f.every((x) => !x.recovered)).toBe(true);
    expect(outs.filter((o) => o.type === 'corrupt' || o.type === 'idr')).toEqual([]);
    const st = rx.stats(40);
    expect(st.packets.idleMs).toBe(40);
    expect(st.video.frames).toBe(2);
    expect(st.packets.malformed).toBe(0);
    expect(st.packets.av).toBe(24);
  });

  it("rebuilds lost source units with the console's own FEC units", () => {
    const { crypt, packets } = realVideo();
    const rx = new AvReceiver({
      version: 9,
      videoHeaders: [FAKE_HEADER],
      audioHeader: AUDIO_HEADER,
      remoteCrypt: crypt,
      now: 0,
    });
    const outs: AvOutput[] = [];
    // frame 1: its only source unit; frame 2: source unit 5 (frame 3 stays incomplete)
    const lost = (p: RealPacket) =>
      (p.derived.frame_index === 1 && p.derived.unit_index === 0) ||
      (p.derived.frame_index === 2 && p.derived.unit_index === 5);
    for (const p of packets.filter((x) => !lost(x)))
      outs.push(...feed(rx, { bytes: fromHex(p.packet), keyPos: p.derived.key_pos }, 0));
    outs.push(...tick(rx, rx.pollTimeout() ?? 0).events);
    const f = frames(outs);
    expect(f.map((x) => [x.index, x.recovered])).toEqual([
      [1, true],
      [2, true],
    ]);
    expect(bytesEqual(f[0].bytes, concatBytes(FAKE_HEADER, expectedFrame(packets, 1)))).toBe(true);
    expect(bytesEqual(f[1].bytes, expectedFrame(packets, 2))).toBe(true);
    expect(rx.stats(0).video.recovered).toBe(2);
    // congestion: every packet that came, and the 2 that never did (counted once given up)
    expect(rx.takeCongestion(1e6)).toEqual({ received: 22, lost: 2 });
    expect(rx.takeCongestion(1e6)).toEqual({ received: 0, lost: 0 });
  });

  it('counts and drops what does not parse, never throws (random and mutated packets)', () => {
    const { crypt, packets } = realVideo();
    const real = packets.map((p) => ({ bytes: fromHex(p.packet), keyPos: p.derived.key_pos }));
    // and v12 audio packets (Opus and haptics) to mutate
    const tone = new Uint8Array(160).fill(0xfc);
    for (const haptics of [false, true])
      for (const p of packetizeAudio([tone, tone, tone], { version: 12, firstFrameIndex: 1, haptics }))
        real.push({ bytes: formatAvPacket(p.fields, crypt.crypt(p.data, 16)), keyPos: 0 });
    const rx = new AvReceiver({
      version: 12,
      videoHeaders: [FAKE_HEADER],
      audioHeader: AUDIO_HEADER,
      remoteCrypt: crypt,
      now: 0,
    });
    let now = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 1500 }),
          fc
            .record({ i: fc.nat(real.length - 1), at: fc.nat(2000), v: fc.integer({ min: 0, max: 255 }) })
            .map(({ i, at, v }) => {
              const b = real[i].bytes.slice();
              b[at % b.length] = v;
              return b;
            }),
        ),
        fc.nat(2 ** 40),
        (bytes, keyPos) => {
          now += 1;
          feed(rx, { bytes, keyPos }, now);
          tick(rx, now + 20);
        },
      ),
      { numRuns: 2000 },
    );
    expect(rx.stats(now).packets.av).toBe(2000);
    expect(rx.stats(now).packets.malformed).toBeGreaterThan(0);
  });

  it('PS5 haptics units come out as haptics PCM, Opus units as opus, both decrypted', () => {
    const { crypt } = realVideo();
    const rx = new AvReceiver({
      version: 12,
      videoHeaders: [],
      audioHeader: AUDIO_HEADER,
      remoteCrypt: crypt,
      now: 0,
    });
    const pcm = [0, 1, 2].map((i) => new Uint8Array(120).fill(i + 1));
    const opus = [0, 1, 2].map((i) => new Uint8Array(160).fill(0x80 + i));
    const outs: AvOutput[] = [];
    let kp = 5000;
    const send = (p: ReturnType<typeof packetizeAudio>[number]) => {
      outs.push(
        ...feed(
          rx,
          { bytes: formatAvPacket({ ...p.fields, keyPos: kp }, crypt.crypt(p.data, kp + 16)), keyPos: kp },
          0,
        ),
      );
      kp += p.data.length + 16;
    };
    for (const p of packetizeAudio(pcm, { version: 12, firstFrameIndex: 1, haptics: true })) send(p);
    for (const p of packetizeAudio(opus, { version: 12, firstFrameIndex: 1 })) send(p);
    const haptics = outs.filter((o) => o.type === 'haptics');
    expect(haptics.map((o) => [o.frameIndex, o.pcm[0], o.pcm.length])).toEqual([
      [1, 1, 120],
      [2, 2, 120],
      [3, 3, 120],
    ]);
    const frames = outs.filter((o) => o.type === 'opus');
    expect(frames.map((o) => [o.frameIndex, o.packet[0]])).toEqual([
      [1, 0x80],
      [2, 0x81],
      [3, 0x82],
    ]);
    expect(rx.stats(0).audio).toMatchObject({ frames: 3, haptics: 3, lost: 0 });
  });

  it('refuses an audio header that is not 14 bytes with a typed error', () => {
    expect(
      () =>
        new AvReceiver({
          version: 9,
          videoHeaders: [],
          audioHeader: new Uint8Array(13),
          remoteCrypt: undefined,
          now: 0,
        }),
    ).toThrow(ParseError);
  });
});

// ---- end to end: simulator streamer -> Takion (crypt, GMAC) -> faults -> receiver ----

function clipFrames(clip: MediaClip): Uint8Array[] {
  const codec: VideoCodec = clip.codec === 'h265' ? 'hevc' : 'h264';
  return splitAccessUnits(clip.video, codec).map((au) => sliceData(au, codec));
}

/** `frame` is `want` (the clip's slices), then at most one filler NAL unit (the bitrate padding). */
function isPaddedFrame(frame: Uint8Array, want: Uint8Array, codec: VideoCodec): boolean {
  if (!bytesEqual(frame.subarray(0, want.length), want)) return false;
  const rest = frame.subarray(want.length);
  if (rest.length === 0) return true;
  const filler = fillerNal(rest.length, codec);
  return bytesEqual(rest, filler);
}

/** `reordered`: a late source unit may be rebuilt from FEC before it arrives (then `recovered`). */
function expectNoLossByteExact(run: PipelineRun, clip: MediaClip, reordered = false) {
  const aus = clipFrames(clip);
  const f = frames(run.outputs);
  // frames all of whose units left before the stream stopped (a paced frame's tail may not have)
  const units = new Map<number, number>();
  for (const p of run.sent)
    if (p.kind === 'video') units.set(p.frameIndex, (units.get(p.frameIndex) ?? 0) + 1);
  const whole = run.sent.filter(
    (p) => p.kind === 'video' && p.unitIndex === 0 && units.get(p.frameIndex) === p.unitsTotal,
  );
  expect(f.length).toBe(whole.length);
  f.forEach((fr, i) => {
    expect(fr.index).toBe(i + 1);
    const want = aus[i % aus.length];
    const header = run.streamer.videoHeader;
    const body = i === 0 ? fr.bytes.subarray(header.length) : fr.bytes;
    if (i === 0) expect(bytesEqual(fr.bytes.subarray(0, header.length), header)).toBe(true);
    expect(isPaddedFrame(body, want, clip.codec === 'h265' ? 'hevc' : 'h264')).toBe(true);
    if (!reordered) expect(fr.recovered).toBe(false);
  });
  expect(run.outputs.filter((o) => o.type === 'corrupt' || o.type === 'idr')).toEqual([]);
  const opus = run.outputs.filter((o): o is Extract<AvOutput, { type: 'opus' }> => o.type === 'opus');
  const audio = clip.audio ?? [];
  expect(opus.length).toBeGreaterThan(0);
  opus.forEach((o, i) => {
    expect(o.frameIndex).toBe(i + 1);
    expect(bytesEqual(o.packet, audio[i % audio.length])).toBe(true);
  });
  expect(run.pair.client.stats.gmacFailures).toBe(0);
  expect(run.receiver.stats(run.now).packets.malformed).toBe(0);
}

describe('AV pipeline end to end (in memory)', () => {
  it('720p60 H.264 v9, no loss: every clip frame and Opus packet arrives byte-exact, looping', () => {
    const { clip } = loadClip({ width: 1280, height: 720 }, 'h264');
    const run = runPipeline({ clip, version: 9, seconds: 2.5 });
    expectNoLossByteExact(run, clip);
    expect(frames(run.outputs).length).toBeGreaterThan(120); // past the 120-frame loop
    const st = run.receiver.stats(run.now);
    expect(st.video.lost).toBe(0);
    expect(st.audio.lost).toBe(0);
    // over the last second, of which the final 100 ms only drained what was in flight
    expect(st.video.fps).toBeGreaterThanOrEqual(50);
    expect(st.video.fps).toBeLessThanOrEqual(61);
  });

  it('720p60 HEVC v12 with reorder, duplicates and jitter: still byte-exact', () => {
    const { clip } = loadClip({ width: 1280, height: 720 }, 'h265');
    const run = runPipeline({
      clip,
      version: 12,
      seconds: 1.5,
      faults: { reorder: 0.05, dup: 0.05, jitterMs: 4, seed: 3 },
      bitrateKbps: 2000,
    });
    expect(run.faults.stats.reordered).toBeGreaterThan(0);
    expect(run.faults.stats.duplicated).toBeGreaterThan(0);
    expectNoLossByteExact(run, clip, true);
  });

  it('5 % loss: every frame FEC can rebuild is rebuilt, the others are reported corrupt, the stream resumes at a key frame', () => {
    const { clip } = loadClip({ width: 1920, height: 1080 }, 'h264');
    const run = runPipeline({ clip, version: 9, seconds: 6, faults: { loss: 0.05, seed: 11 } });
    const aus = clipFrames(clip);
    const outcome = fecOutcome(run.faults.drops);
    const sentVideo = new Map<number, { keyframe: boolean; clipFrame: number }>();
    for (const p of run.sent) if (p.kind === 'video') sentVideo.set(p.frameIndex, p);
    const sourceDropped = (fi: number) =>
      run.faults.drops.some(
        (d) => d.kind === 'video' && d.frameIndex === fi && d.unitIndex < d.unitsTotal - d.fecUnits,
      );
    const got = new Map(frames(run.outputs).map((f) => [f.index, f]));
    const corrupt = run.outputs.filter(
      (o): o is Extract<AvOutput, { type: 'corrupt' }> => o.type === 'corrupt',
    );
    const inCorrupt = (fi: number) => corrupt.some((c) => c.start <= fi && fi <= c.end);

    const last = Math.max(...sentVideo.keys());
    let awaitingKey = false;
    let recovered = 0;
    let unrecoverable = 0;
    let resumed = 0;
    for (let fi = 1; fi <= last - 2; fi++) {
      const s = sentVideo.get(fi);
      if (!s) throw new Error(`frame ${fi} was never sent`);
      const o = outcome.get(fi);
      if (o && !o.recoverable) {
        unrecoverable++;
        expect(got.has(fi), `frame ${fi} cannot be rebuilt`).toBe(false);
        expect(inCorrupt(fi), `frame ${fi} reported corrupt`).toBe(true);
        awaitingKey = true;
        continue;
      }
      if (awaitingKey && !s.keyframe) {
        // complete, but it references a lost frame: a decoder must not get it
        expect(got.has(fi)).toBe(false);
        continue;
      }
      if (awaitingKey) resumed++;
      awaitingKey = false;
      const f = got.get(fi);
      expect(f, `frame ${fi} delivered`).toBeDefined();
      if (!f) continue;
      expect(f.recovered).toBe(sourceDropped(fi));
      if (f.recovered) recovered++;
      const want = aus[s.clipFrame];
      expect(bytesEqual(f.bytes, fi === 1 ? concatBytes(run.streamer.videoHeader, want) : want)).toBe(true);
      expect(inCorrupt(fi)).toBe(false);
    }
    expect(recovered).toBeGreaterThan(5);
    expect(unrecoverable).toBeGreaterThan(0);
    expect(resumed).toBeGreaterThan(0);
    expect(run.streamer.stats().keyframeRequests).toBeGreaterThan(0);
    const st = run.receiver.stats(run.now);
    expect(st.video.recovered).toBe(recovered);
    expect(st.packets.lost).toBeGreaterThan(0);
    expect(run.pair.client.stats.gmacFailures).toBe(0);

    // audio: a frame is lost only when its packet and both packets carrying its copies were dropped
    const audioDropped = new Set(
      run.faults.drops.filter((d: DropRecord) => d.kind === 'audio').map((d) => d.frameIndex),
    );
    const audio = clip.audio ?? [];
    const opus = run.outputs.filter((o) => o.type === 'opus' || o.type === 'opusLost');
    let fi = 1;
    for (const o of opus) {
      if (o.type === 'opus') {
        expect(o.frameIndex).toBe(fi);
        expect(bytesEqual(o.packet, audio[(fi - 1) % audio.length])).toBe(true);
        expect(o.recovered).toBe(audioDropped.has(fi));
        fi++;
      } else {
        for (let k = 0; k < o.count; k++, fi++)
          expect([fi, fi + 1, fi + 2].every((x) => audioDropped.has(x))).toBe(true);
      }
    }
    expect(fi).toBeGreaterThan(250);
  });

  it('decoded audio holds the clip tone at 1 kHz (Goertzel)', async () => {
    const { clip } = loadClip({ width: 1280, height: 720 }, 'h264');
    const run = runPipeline({ clip, version: 9, seconds: 1, faults: { loss: 0.05, seed: 5 } });
    const dec = await AvAudioDecoder.create(run.receiver.audio);
    try {
      const chunks: Uint8Array[] = [];
      for (const o of run.outputs) {
        const pcm = dec.pcm(o);
        if (pcm) chunks.push(pcm);
      }
      expect(dec.stats.decoded).toBeGreaterThan(40);
      expect(dec.stats.errors).toBe(0);
      const pcm = concatBytes(...chunks);
      // left channel, 0.5 s from 100 ms in (past the encoder's pre-skip)
      const left = leftChannel(pcm).subarray(4800, 4800 + 24000);
      const tone = goertzel(left, 1000, 48000);
      // 100x the power of any other bin
      for (const hz of [500, 800, 1200, 2000]) expect(tone).toBeGreaterThan(10 * goertzel(left, hz, 48000));
    } finally {
      dec.free();
    }
  });
});
