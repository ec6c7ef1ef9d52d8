/**
 * FEC throughput on 1080p-sized frames: k = 40..60 source units of 1400 bytes (a 15 Mbit/s, 60 fps
 * stream averages ~31 KB per frame; key frames are larger), m = 10 % of k. Decode is measured with
 * m source units lost (the worst case FEC still recovers); MB/s counts the frame's source bytes.
 * Last, the whole frame assembly path (reorder window, slots, FEC, reassembly) on such frames
 * with 5 % random unit loss, decrypted packets given. Each figure: median (range) of RUNS runs.
 */
import { fecDecode, fecEncode } from '../src/proto-stack/fec.js';
import { FrameProcessor, packetizeVideoFrame } from '../src/proto-stack/frameprocessor.js';
import { fmtSpread, machine, RUNS, spread } from './machine.js';

const UNIT = 1400;

function frame(k: number, seed: number): Uint8Array[] {
  let s = seed >>> 0;
  return Array.from({ length: k }, () => {
    const u = new Uint8Array(UNIT);
    for (let i = 0; i < UNIT; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      u[i] = s >>> 24;
    }
    return u;
  });
}

/** MB/s of `op` (median and range of RUNS measurements of 400 ms), printed with its label. */
function measure(label: string, bytesPerOp: number, op: () => void, unit = 'frame'): void {
  for (let i = 0; i < 20; i++) op(); // warm up the JIT
  const mbs: number[] = [];
  const ms: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < 400) {
      op();
      n++;
      t = performance.now();
    }
    mbs.push((bytesPerOp * n) / 1e6 / ((t - t0) / 1000));
    ms.push((t - t0) / n);
  }
  console.log(
    `${label.padEnd(44)} ${fmtSpread(spread(mbs)).padStart(22)} MB/s  (${fmtSpread(spread(ms), 3)} ms/${unit})`,
  );
}

export async function run(): Promise<void> {
  console.log(`machine: ${machine()}; median (range) of ${RUNS} runs`);
  for (const k of [40, 60]) {
    const m = Math.max(1, Math.round(k * 0.1));
    const src = frame(k, k);
    const fec = fecEncode(src, m);
    const bytes = k * UNIT;
    measure(`encode k=${k} m=${m} (${(bytes / 1024).toFixed(0)} KiB)`, bytes, () => fecEncode(src, m));
    // lose m source units spread over the frame
    const units: (Uint8Array | undefined)[] = [...src, ...fec];
    for (let i = 0; i < m; i++) units[Math.floor((i * k) / m)] = undefined;
    measure(`decode k=${k} m=${m}, ${m} source units lost`, bytes, () => fecDecode(units, k, m));
    const one: (Uint8Array | undefined)[] = [...src, ...fec];
    one[k >> 1] = undefined;
    measure(`decode k=${k} m=${m}, 1 source unit lost`, bytes, () => fecDecode(one, k, m));
  }

  // Frame assembly: 31 KB frames (15 Mbit/s at 60 fps), 10 % FEC, 5 % of units lost at random.
  // Every frame is marked as a key frame so a failed frame does not hide the rest behind the
  // wait for the next key frame.
  const frames = Array.from({ length: 60 }, (_, i) => {
    const f = frame(23, i + 1)
      .map((u) => u.subarray(0, 1350))
      .reduce(
        (acc, u) => {
          const out = new Uint8Array(acc.length + u.length);
          out.set(acc);
          out.set(u, acc.length);
          return out;
        },
        new Uint8Array([0, 0, 0, 1, 0x65]),
      );
    return f;
  });
  let s = 99;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  let packetIndex = 0;
  const wire = frames.flatMap((f, i) => {
    const units = packetizeVideoFrame(i + 1, f, {
      unitSize: 1400,
      fecRatio: 0.1,
      version: 9,
      firstPacketIndex: packetIndex,
    });
    packetIndex += units.length;
    return units
      .filter(() => rnd() >= 0.05)
      .map((u) => ({ ...u.fields, adaptiveStreamIndex: 0, data: u.data }));
  });
  const total = frames.reduce((n, f) => n + f.length, 0);
  let recovered = 0;
  let complete = 0;
  measure(
    'assembly of 60 frames, 5 % unit loss',
    total,
    () => {
      const fp = new FrameProcessor();
      let t = 0;
      let events = 0;
      for (const u of wire) {
        t += 0.1;
        fp.handle(u, t);
        for (let e = fp.pollEvent(); e; e = fp.pollEvent()) events++;
      }
      fp.handleTimeout(t + 100);
      for (let e = fp.pollEvent(); e; e = fp.pollEvent()) events++;
      if (events === 0) throw new Error('the frame processor delivered nothing');
      const st = fp.stats(t);
      recovered = st.framesRecovered;
      complete = st.framesReceived;
    },
    '60 frames',
  );
  console.log(`  (${complete}/${frames.length} frames delivered per pass, ${recovered} of them through FEC)`);
}
