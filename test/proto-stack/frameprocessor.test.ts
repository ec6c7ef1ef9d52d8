import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  extractVideoHeader,
  isKeyframe,
  splitAccessUnits,
  stripParameterSets,
  type VideoCodec,
} from '../../src/proto-stack/annexb.js';
import { formatAvPacket, parseAvPacket } from '../../src/proto-stack/avpacket.js';
import { bytesEqual, concatBytes, fromHex, toHex } from '../../src/proto-stack/bytes.js';
import { RptuiError } from '../../src/proto-stack/errors.js';
import { fecDecode } from '../../src/proto-stack/fec.js';
import {
  FrameProcessor,
  packetizeVideoFrame,
  type VideoEvent,
  type VideoUnit,
} from '../../src/proto-stack/frameprocessor.js';
import { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import { feed, tick } from '../helpers/machine.js';
import { loadVectors, repoRoot } from '../helpers/vectors.js';

const FRAME_MS = 1000 / 60;

function clip(name: string, codec: VideoCodec) {
  const stream = new Uint8Array(readFileSync(join(repoRoot, 'test/fixtures/media', name)));
  const header = extractVideoHeader(stream, codec);
  if (!header) throw new Error('fixture has no parameter sets');
  const frames = splitAccessUnits(stream, codec).map((au) => stripParameterSets(au, codec));
  return { header, frames };
}

let rngState = 1;
const rand = () => {
  rngState = (Math.imul(rngState, 1103515245) + 12345) >>> 0;
  return rngState / 2 ** 32;
};

interface Wire {
  t: number;
  bytes: Uint8Array;
}

/** Console side: packetize, encrypt at key_pos + 16 with the remote context, format. */
function console(
  frames: Uint8Array[],
  opts: { fecRatio: number; version: 9 | 12; crypt: GkCrypt; unitSize?: number; asi?: (i: number) => number },
): { packets: Wire[][]; fec: number[] } {
  let packetIndex = 0;
  let keyPos = 0;
  const out: Wire[][] = [];
  const fec: number[] = [];
  frames.forEach((f, i) => {
    const units = packetizeVideoFrame(i + 1, f, {
      unitSize: opts.unitSize ?? 1400,
      fecRatio: opts.fecRatio,
      version: opts.version,
      firstPacketIndex: packetIndex,
      adaptiveStreamIndex: opts.asi?.(i) ?? 0,
    });
    packetIndex += units.length;
    fec.push(units[0].fields.fecUnits);
    out.push(
      units.map((u, j) => {
        const enc = opts.crypt.crypt(u.data, keyPos + 16);
        const bytes = formatAvPacket({ ...u.fields, keyPos }, enc);
        keyPos += u.data.length + 16;
        return { t: i * FRAME_MS + j * 0.05, bytes };
      }),
    );
  });
  return { packets: out, fec };
}

/** Client side: parse, decrypt, feed in time order, honouring pollTimeout like an event loop. */
function receive(fp: FrameProcessor, wire: Wire[], crypt: GkCrypt, version: 9 | 12): VideoEvent[] {
  const ev: VideoEvent[] = [];
  for (const w of wire) {
    for (let wake = fp.pollTimeout(); wake !== undefined && wake <= w.t; wake = fp.pollTimeout())
      ev.push(...tick(fp, wake).events);
    const p = parseAvPacket(w.bytes, version);
    ev.push(...feed(fp, { ...p, data: crypt.crypt(p.data, p.keyPos + 16) }, w.t));
  }
  const end = (wire.at(-1)?.t ?? 0) + 1000;
  ev.push(...tick(fp, end).events);
  return ev;
}

const crypt = new GkCrypt(3, fromHex('b3148857b04605966237e055b560c406'), new Uint8Array(32).fill(7));
const framesOf = (ev: VideoEvent[]) => ev.filter((e) => e.type === 'frame');

const fixtures: [string, VideoCodec, 9 | 12][] = [
  ['testsrc-720p60.h264', 'h264', 9],
  ['testsrc-1080p60.h264', 'h264', 9],
  ['testsrc-720p60.h265', 'hevc', 12],
];

describe('round trip through packetize -> format -> encrypt -> parse -> decrypt -> FrameProcessor', () => {
  for (const [name, codec, version] of fixtures) {
    it(`${name}: every frame byte-exact, header before the first, key frames flagged`, () => {
      const { header, frames } = clip(name, codec);
      const { packets } = console(frames, { fecRatio: 0.2, version, crypt, unitSize: 600 });
      const fp = new FrameProcessor({ codec });
      fp.setVideoHeaders([header]);
      const ev = receive(fp, packets.flat(), crypt, version);
      expect(ev.filter((e) => e.type !== 'frame')).toEqual([]);
      const got = framesOf(ev);
      expect(got.length).toBe(frames.length);
      got.forEach((e, i) => {
        if (e.type !== 'frame') return;
        expect(e.index).toBe(i + 1);
        const want = i === 0 ? concatBytes(header, frames[0]) : frames[i];
        expect(bytesEqual(e.bytes, want)).toBe(true);
        expect(e.keyframe).toBe(isKeyframe(frames[i], codec));
        expect(e.recovered).toBe(false);
      });
      expect(got.filter((e) => e.type === 'frame' && e.keyframe).length).toBe(2);
      const s = fp.stats((frames.length - 1) * FRAME_MS);
      expect(s.framesReceived).toBe(frames.length);
      expect(s.framesLost + s.framesRecovered + s.packetsDropped + s.packetsMissing).toBe(0);
      expect(s.fps).toBeGreaterThan(55);
      expect(s.kbps).toBeGreaterThan(0);
      // congestion counts: every packet arrived once, none lost
      const ps = fp.takePacketStats(1e9);
      expect(ps.lost).toBe(0);
      expect(ps.received).toBe(packets.flat().length);
    });
  }

  it('random loss within FEC capacity: every frame recovered byte-exact', () => {
    const { header, frames } = clip('testsrc-720p60.h264', 'h264');
    rngState = 42;
    const { packets, fec } = console(frames, { fecRatio: 0.5, version: 9, crypt, unitSize: 400 });
    const kept: Wire[] = [];
    let dropped = 0;
    packets.forEach((units, i) => {
      // lose up to m units of each frame, anywhere in the frame
      const lose = new Set<number>();
      const n = Math.floor(rand() * (fec[i] + 1));
      while (lose.size < n) lose.add(Math.floor(rand() * units.length));
      dropped += lose.size;
      units.forEach((u, j) => {
        if (!lose.has(j)) kept.push(u);
      });
    });
    expect(dropped).toBeGreaterThan(50);
    const fp = new FrameProcessor();
    fp.setVideoHeaders([header]);
    const ev = receive(fp, kept, crypt, 9);
    expect(ev.filter((e) => e.type !== 'frame')).toEqual([]);
    const got = framesOf(ev);
    expect(got.length).toBe(frames.length);
    got.forEach((e, i) => {
      if (e.type !== 'frame') return;
      expect(bytesEqual(e.bytes, i === 0 ? concatBytes(header, frames[0]) : frames[i])).toBe(true);
    });
    const s = fp.stats(frames.length * FRAME_MS);
    expect(s.framesRecovered).toBeGreaterThan(10);
    expect(s.framesRecovered).toBe(got.filter((e) => e.type === 'frame' && e.recovered).length);
    expect(s.framesLost).toBe(0);
  });

  it('a frame FEC can rebuild is out when its k-th unit arrives: no reorder wait', () => {
    const { frames } = clip('testsrc-1080p60.h264', 'h264');
    rngState = 9;
    const { packets, fec } = console(frames, { fecRatio: 0.5, version: 9, crypt, unitSize: 300 });
    const fp = new FrameProcessor();
    let late = 0;
    let withLoss = 0;
    packets.forEach((units, i) => {
      const lose = new Set<number>();
      const n = Math.floor(rand() * (fec[i] + 1));
      while (lose.size < n) lose.add(Math.floor(rand() * units.length));
      if (n > 0) withLoss++;
      const kept = units.filter((_, j) => !lose.has(j));
      const lastT = kept[kept.length - 1].t;
      let emittedAt: number | undefined;
      for (const w of kept) {
        const p = parseAvPacket(w.bytes, 9);
        for (const e of feed(fp, { ...p, data: crypt.crypt(p.data, p.keyPos + 16) }, w.t))
          if (e.type === 'frame' && e.index === i + 1) emittedAt = w.t;
      }
      if (emittedAt === undefined || emittedAt > lastT) late++;
    });
    expect(withLoss).toBeGreaterThan(50);
    expect(late).toBe(0);
  });

  it('loss beyond capacity: corrupt range + IDR request, P-frames skipped, resumes at the next key frame', () => {
    const { header, frames: one } = clip('testsrc-720p60.h264', 'h264');
    const frames = [...one, ...one]; // key frames at indices 0, 60, 120, 180
    const { packets, fec } = console(frames, { fecRatio: 0.25, version: 9, crypt, unitSize: 400 });
    const broken = new Set([10, 130]); // frame indices (0-based) that lose m + 1 units
    const vanished = 70; // loses every unit
    const kept: Wire[] = [];
    packets.forEach((units, i) => {
      if (i === vanished) return;
      const n = broken.has(i) ? fec[i] + 1 : 0;
      units.forEach((u, j) => {
        if (j < n) return;
        kept.push(u);
      });
    });
    const fp = new FrameProcessor();
    fp.setVideoHeaders([header]);
    const ev = receive(fp, kept, crypt, 9);
    const corrupt = ev.filter((e) => e.type === 'corrupt');
    expect(corrupt).toEqual([
      { type: 'corrupt', start: 11, end: 11 },
      { type: 'corrupt', start: 71, end: 71 },
      { type: 'corrupt', start: 131, end: 131 },
    ]);
    expect(ev.filter((e) => e.type === 'idr').length).toBeGreaterThanOrEqual(3);
    const indices = framesOf(ev).map((e) => (e.type === 'frame' ? e.index : 0));
    const expected: number[] = [];
    for (let i = 1; i <= frames.length; i++) {
      const skipped = (i >= 11 && i < 61) || (i >= 71 && i < 121) || (i >= 131 && i < 181);
      if (!skipped) expected.push(i);
    }
    expect(indices).toEqual(expected);
    const s = fp.stats(frames.length * FRAME_MS);
    expect(s.framesLost).toBe(3);
    expect(s.framesSkipped).toBe(3 * 49);
    // congestion counts: packets by index, so the vanished frame's packets count as lost too
    const ps = fp.takePacketStats(1e9);
    expect(ps.lost).toBe(fec[10] + 1 + fec[130] + 1 + packets[vanished].length);
    expect(ps.received).toBe(kept.length);
  });

  it('the reorder wait: the longest before anything is measured, down on real losses, up on late packets', () => {
    expect(new FrameProcessor().stats(0).reorderWaitMs).toBe(150);
    const { header, frames } = clip('testsrc-720p60.h264', 'h264');
    const { packets, fec } = console(frames.slice(0, 20), {
      fecRatio: 0.25,
      version: 9,
      crypt,
      unitSize: 400,
    });

    // frame 5 loses more than FEC covers and nothing ever comes late: the wait goes to its floor
    const lossy = new FrameProcessor();
    lossy.setVideoHeaders([header]);
    receive(
      lossy,
      packets.flatMap((units, i) => (i === 5 ? units.slice(fec[5] + 1) : units)),
      crypt,
      9,
    );
    lossy.takePacketStats(1e9); // settles the given-up packets as lost
    expect(lossy.stats(1e9).reorderWaitMs).toBe(20);

    // frame 3 without its FEC units and its second unit 60 ms late: the frame waits for it, and
    // the wait becomes 1.5 x 60 + 4
    const wire = packets.flatMap((units, i) => (i === 3 ? units.slice(0, units.length - fec[3]) : units));
    const at = packets[0].length + packets[1].length + packets[2].length + 1;
    wire[at] = { ...wire[at], t: wire[at].t + 60 };
    wire.sort((a, b) => a.t - b.t);
    const late = new FrameProcessor();
    late.setVideoHeaders([header]);
    const ev = receive(late, wire, crypt, 9);
    expect(ev.filter((e) => e.type === 'corrupt')).toEqual([]);
    expect(late.stats(1e9).reorderWaitMs).toBeCloseTo(60 * 1.5 + 4, 0);
  });

  it('reordered packets inside the window are put back in order', () => {
    const { header, frames } = clip('testsrc-720p60.h265', 'hevc');
    const { packets } = console(frames.slice(0, 30), { fecRatio: 0.1, version: 12, crypt, unitSize: 500 });
    const wire = packets.flat();
    rngState = 7;
    for (let i = 0; i + 1 < wire.length; i++) {
      if (rand() < 0.3) {
        const t = wire[i].bytes;
        wire[i].bytes = wire[i + 1].bytes;
        wire[i + 1].bytes = t;
      }
    }
    const fp = new FrameProcessor({ codec: 'hevc' });
    fp.setVideoHeaders([header]);
    const ev = receive(fp, wire, crypt, 12);
    expect(ev.filter((e) => e.type !== 'frame')).toEqual([]);
    expect(framesOf(ev).length).toBe(30);
  });

  it('prepends the profile header again after an adaptive stream switch', () => {
    const { header, frames } = clip('testsrc-720p60.h264', 'h264');
    const other = fromHex('00000001deadbeef');
    const { packets } = console(frames.slice(0, 64), {
      fecRatio: 0.1,
      version: 9,
      crypt,
      asi: (i) => (i < 60 ? 0 : 1),
    });
    const fp = new FrameProcessor();
    fp.setVideoHeaders([header, other]);
    const got = framesOf(receive(fp, packets.flat(), crypt, 9));
    expect(got.length).toBe(64);
    const f = (i: number) => got[i] as Extract<VideoEvent, { type: 'frame' }>;
    expect(bytesEqual(f(60).bytes, concatBytes(other, frames[60]))).toBe(true);
    expect(bytesEqual(f(61).bytes, frames[61])).toBe(true);
  });

  it('asks for an IDR when the stream starts with a P-frame', () => {
    const { frames } = clip('testsrc-720p60.h264', 'h264');
    const { packets } = console(frames.slice(5, 8), { fecRatio: 0.1, version: 9, crypt });
    const fp = new FrameProcessor();
    const ev = receive(fp, packets.flat(), crypt, 9);
    expect(framesOf(ev)).toEqual([]);
    expect(ev).toContainEqual({ type: 'idr' });
    expect(fp.stats(100).framesSkipped).toBe(3);
  });

  it('gives up waiting for a key frame after keyframeWaitFrames', () => {
    const { frames } = clip('testsrc-720p60.h264', 'h264');
    const { packets } = console(frames.slice(5, 15), { fecRatio: 0.1, version: 9, crypt });
    const fp = new FrameProcessor({ keyframeWaitFrames: 4 });
    const got = framesOf(receive(fp, packets.flat(), crypt, 9));
    expect(got.map((e) => (e.type === 'frame' ? e.index : 0))).toEqual([5, 6, 7, 8, 9, 10]);
    expect(fp.stats(1000).framesSkipped).toBe(4);
  });
});

describe('takion.json real_video_v9 through the frame processor', () => {
  it('reassembles the real PS4 packets; frame 1 is an IDR', () => {
    const c = loadVectors('takion').cases.find((x: { name: string }) => x.name === 'real_video_v9');
    const rc = new GkCrypt(c.inputs.index, fromHex(c.inputs.handshake_key), fromHex(c.inputs.ecdh_secret));
    const fp = new FrameProcessor();
    const ev: VideoEvent[] = [];
    for (const pk of c.expected.packets) {
      const p = parseAvPacket(fromHex(pk.packet), 9);
      ev.push(...feed(fp, { ...p, data: rc.crypt(p.data, p.keyPos + 16) }, 0));
    }
    const frames = framesOf(ev);
    expect(frames.length).toBeGreaterThan(0);
    const first = frames[0] as Extract<VideoEvent, { type: 'frame' }>;
    expect(first.index).toBe(1);
    expect(first.keyframe).toBe(true);
    expect(toHex(first.bytes.subarray(0, 5))).toBe('0000000165');
    // unit 0 of frame 1 carries 105 bytes (2 padding-field bytes + 103 frame bytes)
    expect(first.bytes.length).toBe(103);
    expect(ev.filter((e) => e.type === 'corrupt')).toEqual([]);
  });
});

describe('packetizeVideoFrame against the real console (takion.json real_video_v9)', () => {
  it('frames 1 and 2: same unit boundaries, padding fields, unit size and FEC unit, byte for byte', () => {
    const c = loadVectors('takion').cases.find((x: { name: string }) => x.name === 'real_video_v9');
    const pk = c.expected.packets as { decrypted_data: string; derived: { frame_index: number } }[];
    for (const frameIndex of [1, 2]) {
      const units = pk
        .filter((p) => p.derived.frame_index === frameIndex)
        .map((p) => fromHex(p.decrypted_data));
      const k = units.length - 1; // both frames carry one FEC unit, last
      const annexB = concatBytes(...units.slice(0, k).map((u) => u.subarray(2)));
      const out = packetizeVideoFrame(frameIndex, annexB, { unitSize: 1400, fecRatio: 0.05, version: 9 });
      expect(out.length).toBe(units.length);
      out.forEach((o, i) => {
        expect(toHex(o.data)).toBe(toHex(units[i]));
        expect([o.fields.unitIndex, o.fields.unitsTotal, o.fields.fecUnits]).toEqual([i, k + 1, 1]);
      });
    }
  });
});

describe('packetizeVideoFrame against fec.json (64 real PS4 frames)', () => {
  it('rebuilds every frame with the console unit size, layout and FEC units', () => {
    const cases = loadVectors('fec').cases as {
      k: number;
      m: number;
      unit_size: number;
      erasures: number[];
      units: string[];
    }[];
    let checkedFec = 0;
    for (const c of cases) {
      const units = c.units.map((h) => fromHex(h));
      const src = units.slice(0, c.k).map((u) => {
        const padded = new Uint8Array(c.unit_size);
        padded.set(u.subarray(0, c.unit_size));
        return padded;
      });
      // erased source units are rebuilt with FEC first (the capture lost them)
      const present: (Uint8Array | undefined)[] = [...src, ...units.slice(c.k)];
      for (const e of c.erasures) present[e] = undefined;
      const sources = fecDecode(present, c.k, c.m);
      const annexB = concatBytes(...sources.map((u) => u.subarray(2, c.unit_size - ((u[0] << 8) | u[1]))));
      const out = packetizeVideoFrame(1, annexB, { unitSize: 1400, fecRatio: c.m / c.k, version: 9 });
      expect(out.length).toBe(c.k + c.m);
      for (let i = 0; i < c.k; i++) {
        const padded = new Uint8Array(c.unit_size);
        padded.set(out[i].data);
        expect(toHex(padded)).toBe(toHex(sources[i]));
      }
      for (let i = c.k; i < c.k + c.m; i++) {
        expect(out[i].data.length).toBe(c.unit_size);
        if (c.erasures.includes(i)) continue;
        expect(toHex(out[i].data)).toBe(toHex(units[i].subarray(0, c.unit_size)));
        checkedFec++;
      }
    }
    expect(checkedFec).toBeGreaterThan(50);
  });
});

describe('fuzz', () => {
  const unitArb = fc.record({
    packetIndex: fc.integer({ min: 0, max: 0xffff }),
    frameIndex: fc.integer({ min: 0, max: 0xffff }),
    unitIndex: fc.integer({ min: 0, max: 2047 }),
    unitsTotal: fc.integer({ min: 1, max: 2048 }),
    fecUnits: fc.integer({ min: 0, max: 1023 }),
    adaptiveStreamIndex: fc.integer({ min: 0, max: 7 }),
    data: fc.uint8Array({ maxLength: 64 }),
  });
  it('arbitrary units never throw and never hang', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(unitArb, fc.nat(50)), { maxLength: 60 }), (seq) => {
        const fp = new FrameProcessor();
        fp.setVideoHeaders([new Uint8Array([0, 0, 0, 1, 0x67])]);
        let t = 0;
        for (const [u, dt] of seq) {
          t += dt;
          for (const e of feed(fp, u as VideoUnit, t)) expect(['frame', 'corrupt', 'idr']).toContain(e.type);
        }
        tick(fp, t + 1000);
        expect(fp.pollTimeout()).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
  it('mutated datagrams: parse errors are typed, whatever parses never throws in the processor', () => {
    const { frames } = clip('testsrc-720p60.h265', 'hevc');
    const wire = frames
      .slice(0, 8)
      .flatMap((f, i) => packetizeVideoFrame(i + 1, f, { unitSize: 200, fecRatio: 0.3, version: 12 }))
      .map((u, i) => formatAvPacket({ ...u.fields, packetIndex: i }, u.data));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(wire.length - 1), fc.nat(), fc.integer({ min: 0, max: 255 })), {
          maxLength: 30,
        }),
        fc.array(fc.nat(wire.length - 1), { maxLength: 10 }),
        (muts, cuts) => {
          const copy = wire.map((w) => Uint8Array.from(w));
          for (const [i, pos, v] of muts) copy[i][pos % copy[i].length] = v;
          const fp = new FrameProcessor({ codec: 'hevc' });
          let parsed = 0;
          copy.forEach((b, i) => {
            const bytes = cuts.includes(i) ? b.subarray(0, b.length >> 1) : b;
            let p: ReturnType<typeof parseAvPacket>;
            try {
              p = parseAvPacket(bytes, 12);
            } catch (e) {
              expect(e).toBeInstanceOf(RptuiError);
              return;
            }
            parsed++;
            feed(fp, p, i);
          });
          tick(fp, 1e6);
          expect(fp.stats(1e6).packetsReceived).toBe(parsed);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('mutated unit headers of a real stream never throw', () => {
    const { frames } = clip('testsrc-720p60.h264', 'h264');
    const units = frames
      .slice(0, 10)
      .flatMap((f, i) => packetizeVideoFrame(i + 1, f, { unitSize: 300, fecRatio: 0.3, version: 9 }));
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.nat(units.length - 1),
            fc.constantFrom('frameIndex', 'unitIndex', 'unitsTotal', 'fecUnits', 'packetIndex'),
            fc.integer({ min: 0, max: 2047 }),
          ),
          { maxLength: 10 },
        ),
        fc.array(fc.tuple(fc.nat(units.length - 1), fc.nat(), fc.integer({ min: 0, max: 255 })), {
          maxLength: 10,
        }),
        (headerMuts, byteMuts) => {
          const fp = new FrameProcessor();
          const copy = units.map((u) => ({
            ...u.fields,
            adaptiveStreamIndex: 0,
            data: Uint8Array.from(u.data),
          }));
          for (const [i, key, v] of headerMuts) (copy[i] as unknown as Record<string, number>)[key] = v;
          for (const [i, pos, v] of byteMuts) copy[i].data[pos % copy[i].data.length] = v;
          for (const [i, u] of copy.entries()) feed(fp, u, i);
          tick(fp, 1e6);
          const s = fp.stats(1e6);
          expect(s.framesReceived + s.framesSkipped).toBeLessThanOrEqual(10);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('fps and bitrate over the sliding window', () => {
  const { header, frames } = clip('testsrc-720p60.h264', 'h264');
  const { packets } = console(frames.slice(0, 120), { fecRatio: 0.2, version: 9, crypt });
  /** Feeds the first `count` frames (60 fps from t = 0) and reads the stats at `at` ms. */
  const statsAt = (at: number, count: number) => {
    const fp = new FrameProcessor();
    fp.setVideoHeaders([header]);
    const got = framesOf(receive(fp, packets.slice(0, count).flat(), crypt, 9));
    expect(got.length).toBe(count);
    const bytes = got.reduce((sum, e) => sum + (e.type === 'frame' ? e.bytes.length : 0), 0);
    return { ...fp.stats(at), bytes };
  };

  it('a stream younger than the window reads its real rate, not a share of it', () => {
    // 49 frames = 0.8 s at 60 fps: dividing by the whole second said 49
    for (const [count, at] of [
      [49, 48 * FRAME_MS + 1],
      [19, 18 * FRAME_MS + 1],
      [3, 2 * FRAME_MS + 1],
    ]) {
      const s = statsAt(at, count);
      expect(s.fps).toBeGreaterThan(57);
      expect(s.fps).toBeLessThan(61);
      // the frames' bits over as many frame intervals as there are frames (within 5 %)
      const kbps = (s.bytes * 8) / (count * FRAME_MS);
      expect(Math.abs(s.kbps - kbps) / kbps).toBeLessThan(0.05);
    }
  });

  it('a full window divides by its length; a stall decays to 0', () => {
    expect(statsAt(119 * FRAME_MS + 1, 120).fps).toBe(60);
    // no frame since 0.8 s: at 1.3 s the last second holds frames 18..48 (those after 0.3 s)
    expect(statsAt(1300, 49).fps).toBe(31);
    expect(statsAt(1900, 49)).toMatchObject({ fps: 0, kbps: 0 });
    expect(new FrameProcessor().stats(500)).toMatchObject({ fps: 0, kbps: 0 });
  });
});
