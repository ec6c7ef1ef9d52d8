/**
 * The client's AV receive path on a recorded simulator capture (issues 4 and 12).
 *
 * 1. Record: a 1080p60 H.264 clip at ~15 Mbit/s (made here with the system ffmpeg; the committed
 *    fixture is only 0.5 Mbit/s) + the fixture's Opus tone go through MediaStreamer and a console
 *    TakionEndpoint with crypt (key_pos, encryption, GMAC), then FaultInjector with 5 % loss, for
 *    60 s of stream time. A client-side receiver closes the loop (CORRUPTFRAME/IDR -> key frame)
 *    as a session would. Datagrams and arrival times go to a capture file in a temp dir.
 * 2. Replay, each run in a child process pinned to one core (taskset, when present) so its peak
 *    RSS and CPU are its own: every datagram through TakionEndpoint.handle (GMAC check, key_pos
 *    extension) -> AvReceiver (decrypt, FEC, reassembly) -> a null sink, as fast as it goes. The
 *    clock handed to the state machines is the capture's arrival time, so the reorder window
 *    behaves as it would live. The capture is read into a ring of four 256 KiB buffers and each
 *    datagram handed over as a view of its buffer, as a receive ring would hold it: what
 *    node:dgram costs on top (a Buffer and a callback per datagram) is node's, and
 *    `npm run bench -- live` measures it with real sockets.
 *
 * Printed, each figure with the machine and its load: x-real-time (stream seconds / replay
 * seconds; median and range of RUNS runs) cold, in a fresh process (V8 compiles the hot path
 * meanwhile, on the same core), and warm, after one untimed replay in the process (a session past
 * its first minute); where the time goes, warm (the reading alone, then TakionEndpoint, then the
 * rest, by runs that stop earlier; and a CPU profile's split by part), latency from a frame's last
 * packet to the sink, peak RSS, and the stream's frame counts.
 *
 * Capture format: "RPTCAP01", u32 BE length + JSON metadata (keys, STREAMINFO headers), then
 * records of u32 BE arrival time in microseconds, u16 BE length, datagram.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitAccessUnits } from '../src/proto-stack/annexb.js';
import type { AvVersion } from '../src/proto-stack/avpacket.js';
import { AvReceiver } from '../src/proto-stack/avreceiver.js';
import { fromHex, toHex } from '../src/proto-stack/bytes.js';
import { CONGESTION_INTERVAL_MS } from '../src/proto-stack/clientsession.js';
import { GkCrypt } from '../src/proto-stack/gkcrypt.js';
import { drainEvents, drainTransmits } from '../src/proto-stack/machine.js';
import { baseType, TakionEndpoint, TakionType } from '../src/proto-stack/takion.js';
import { FaultInjector, fecOutcome } from '../src/simulator/faults.js';
import { findMediaDir, loadClipFiles, MediaStreamer } from '../src/simulator/media-streamer.js';
import { fmtSpread, machine, RUNS, spread } from './machine.js';

const SECONDS = 60;
const FPS = 60;
const KBPS = 15_000;
const LOSS = 0.05;
const CLIP_SECONDS = 5;
const MAGIC = 'RPTCAP01';
const self = fileURLToPath(import.meta.url);

interface CaptureMeta {
  version: AvVersion;
  codec: 'h264';
  width: number;
  height: number;
  handshakeKey: string;
  secret: string;
  videoHeaders: string[];
  audioHeader: string;
  seconds: number;
  clipKbps: number;
  datagrams: number;
  dropped: number;
  fecUnrecoverable: number;
}

/** Client + console endpoints through the Takion handshake, in memory. */
function connectedPair(now: number): { client: TakionEndpoint; console: TakionEndpoint } {
  const client = new TakionEndpoint({ role: 'client', now, peerTimeoutMs: 1e12 });
  const con = new TakionEndpoint({ role: 'console', now, peerTimeoutMs: 1e12 });
  client.connect(now);
  for (let i = 0; i < 20 && (client.state !== 'connected' || con.state !== 'connected'); i++) {
    for (const d of drainTransmits(client)) con.handle(d, now);
    for (const d of drainTransmits(con)) client.handle(d, now);
  }
  drainEvents(client);
  drainEvents(con);
  if (client.state !== 'connected') throw new Error('in-memory Takion handshake did not complete');
  return { client, console: con };
}

function makeClip(dir: string): string {
  const out = join(dir, 'noise-1080p60-15M.h264');
  // noise keeps x264 from compressing far below the target; a 1.5 Mbit VBV keeps key frames
  // within one FEC block (256 units)
  execFileSync(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi'],
      ...['-i', 'testsrc2=size=1920x1080:rate=60,noise=alls=12:allf=t', '-t', String(CLIP_SECONDS), '-an'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p'],
      ...['-bf', '0', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0'],
      ...['-b:v', `${KBPS}k`, '-maxrate', `${KBPS}k`, '-bufsize', '1500k'],
      ...['-x264-params', 'repeat-headers=1:aud=0', '-f', 'h264', out],
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return out;
}

function record(dir: string, capturePath: string): CaptureMeta {
  const clip = loadClipFiles({
    video: makeClip(dir),
    audio: join(findMediaDir(), 'tone-1khz-48k-stereo.opus'),
    codec: 'h264',
    width: 1920,
    height: 1080,
  });
  const clipFrames = splitAccessUnits(clip.video, 'h264').length;
  const clipKbps = Math.round((clip.video.length * 8) / (clipFrames / FPS) / 1000);
  const handshakeKey = new Uint8Array(16).map((_, i) => i * 7 + 1);
  const secret = new Uint8Array(32).map((_, i) => i * 13 + 5);
  let now = 0;
  const { client, console: con } = connectedPair(now);
  con.setCrypt(new GkCrypt(3, handshakeKey, secret), new GkCrypt(2, handshakeKey, secret));
  client.setCrypt(new GkCrypt(2, handshakeKey, secret), new GkCrypt(3, handshakeKey, secret));
  const version: AvVersion = 9;
  const ms = new MediaStreamer({ version, clip, fps: FPS, bitrateKbps: KBPS, now });
  const rx = new AvReceiver({
    version,
    videoHeaders: [ms.videoHeader],
    audioHeader: ms.audioHeader,
    remoteCrypt: client.remoteCrypt,
    now,
  });
  const faults = new FaultInjector({ loss: LOSS, seed: 2026 });
  const fd = openSync(capturePath, 'w');
  const meta: CaptureMeta = {
    version,
    codec: 'h264',
    width: clip.width,
    height: clip.height,
    handshakeKey: toHex(handshakeKey),
    secret: toHex(secret),
    videoHeaders: [toHex(ms.videoHeader)],
    audioHeader: toHex(ms.audioHeader),
    seconds: SECONDS,
    clipKbps,
    datagrams: 0,
    dropped: 0,
    fecUnrecoverable: 0,
  };
  // the metadata goes last into a fixed-size slot at the start, once the counts are known
  const slot = 2048;
  writeSync(fd, new Uint8Array(8 + 4 + slot));
  const buf = new Uint8Array(1 << 20);
  let used = 0;
  const put = (d: Uint8Array, t: number) => {
    if (used + 6 + d.length > buf.length) {
      writeSync(fd, buf, 0, used);
      used = 0;
    }
    const dv = new DataView(buf.buffer);
    dv.setUint32(used, Math.round(t * 1000));
    dv.setUint16(used + 4, d.length);
    buf.set(d, used + 6);
    used += 6 + d.length;
    meta.datagrams++;
  };
  const end = SECONDS * 1000;
  // the session's side of the loop: losses FEC cannot fix ask for a key frame
  const keyframes = () => {
    for (let o = rx.pollEvent(); o; o = rx.pollEvent())
      if (o.type === 'idr' || o.type === 'corrupt')
        ms.requestKeyframe(now, o.type === 'corrupt' ? o.end : undefined);
  };
  ms.start(now);
  while (now <= end) {
    ms.handleTimeout(now);
    for (let p = ms.pollTransmit(); p; p = ms.pollTransmit()) {
      const kp = con.allocKeyPos(p.size);
      con.sendRaw(p.build(kp, con.localCrypt), kp);
      for (let d = con.pollTransmit(); d; d = con.pollTransmit()) {
        const t = baseType(d);
        if (t === TakionType.Video || t === TakionType.Audio) faults.handle({ bytes: d, meta: p }, now);
      }
    }
    faults.handleTimeout(now);
    for (let d = faults.pollTransmit(); d; d = faults.pollTransmit()) {
      put(d, now);
      client.handle(d, now);
      for (let e = client.pollEvent(); e; e = client.pollEvent()) if (e.type === 'av') rx.handle(e, now);
      keyframes();
    }
    rx.handleTimeout(now);
    keyframes();
    const next = Math.min(ms.pollTimeout(), faults.pollTimeout() ?? Infinity, rx.pollTimeout() ?? Infinity);
    now = next > now ? next : now + 0.1;
  }
  writeSync(fd, buf, 0, used);
  meta.dropped = faults.stats.dropped;
  meta.fecUnrecoverable = [...fecOutcome(faults.drops).values()].filter((o) => !o.recoverable).length;
  const json = new TextEncoder().encode(JSON.stringify(meta));
  if (json.length > slot) throw new Error('capture metadata does not fit its slot');
  const head = new Uint8Array(8 + 4 + slot);
  head.set(new TextEncoder().encode(MAGIC));
  new DataView(head.buffer).setUint32(8, json.length);
  head.set(json, 12);
  writeSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  return meta;
}

interface ReplayResult {
  streamSeconds: number;
  wallSeconds: number;
  /** CPU time (user + system) of the replay loop: what the shared machine's load does not inflate. */
  cpuSeconds: number;
  datagrams: number;
  frames: number;
  recovered: number;
  lost: number;
  skipped: number;
  audioFrames: number;
  audioLost: number;
  gmacFailures: number;
  malformed: number;
  sinkBytes: number;
  latencyWallMs: { p50: number; p99: number; max: number };
  /** The same span in CPU time of this process (what scheduling on a loaded machine does not add). */
  latencyCpuMs: { p50: number; p99: number; max: number };
  /** The frames FEC rebuilt (their last packet also pays for the decode). */
  latencyWallFecMs: { p50: number; p99: number; max: number };
  latencyStreamMs: { p50: number; p99: number; max: number };
  maxRssMiB: number;
  /** RSS before the first datagram (node, tsx, modules, endpoints). */
  startRssMiB: number;
}

function pct(sorted: Float64Array, q: number): number {
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

type ReplayMode = 'full' | 'latency' | 'cpu' | 'takion' | 'read';

/**
 * Runs in the child process: the measured receive path. Modes: 'full' (no probes: the
 * throughput); 'latency' times each frame from its last packet to the sink (a clock read per
 * video datagram); 'cpu' adds a getrusage() call per video datagram (~1 us) to time it in CPU
 * time too; 'takion' stops after TakionEndpoint (GMAC check, key_pos); 'read' only reads the
 * capture and hands out the datagrams: the last two split the cost.
 */
function replay(path: string, mode: ReplayMode): ReplayResult {
  const cpuProbes = mode === 'cpu';
  const probes = cpuProbes || mode === 'latency';
  const fd = openSync(path, 'r');
  const head = new Uint8Array(12 + 2048);
  readSync(fd, head, 0, head.length, 0);
  if (new TextDecoder().decode(head.subarray(0, 8)) !== MAGIC) throw new Error(`${path} is not a capture`);
  const metaLen = new DataView(head.buffer).getUint32(8);
  const meta = JSON.parse(new TextDecoder().decode(head.subarray(12, 12 + metaLen))) as CaptureMeta;
  const hk = fromHex(meta.handshakeKey);
  const secret = fromHex(meta.secret);
  const { client } = connectedPair(0);
  client.setCrypt(new GkCrypt(2, hk, secret), new GkCrypt(3, hk, secret));
  const rx = new AvReceiver({
    version: meta.version,
    videoHeaders: meta.videoHeaders.map((h) => fromHex(h)),
    audioHeader: fromHex(meta.audioHeader),
    remoteCrypt: client.remoteCrypt,
    now: 0,
  });

  // a frame's last packet: wall and stream time of the latest datagram that carried one of its units
  const lastWall = new Float64Array(0x10000);
  const lastStream = new Float64Array(0x10000);
  const lastCpu = new Float64Array(0x10000);
  const latCpu: number[] = [];
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const latWall: number[] = [];
  const latWallFec: number[] = [];
  const latStream: number[] = [];
  let sinkBytes = 0;
  let datagrams = 0;
  let firstT = -1;
  let lastT = 0;
  let nextReport = 0;
  const sink = (t: number) => {
    for (let o = rx.pollEvent(); o; o = rx.pollEvent()) {
      if (o.type === 'frame') {
        sinkBytes += o.bytes.length;
        if (!probes) continue;
        if (cpuProbes) latCpu.push(cpuNow() - lastCpu[o.index]);
        const w = performance.now() - lastWall[o.index];
        latWall.push(w);
        if (o.recovered) latWallFec.push(w);
        latStream.push(t - lastStream[o.index]);
      } else if (o.type === 'opus') sinkBytes += o.packet.length;
    }
  };

  // a ring of read buffers, like a socket's receive ring: a datagram's view stays valid for the
  // next RING - 1 reads (~600 datagrams); the tail of one chunk is carried into the next
  const CHUNK = 256 << 10;
  const RING = 4;
  const ring = Array.from({ length: RING }, () => new Uint8Array(CHUNK));
  const views = ring.map((c) => new DataView(c.buffer));
  let slot = 0;
  let chunk = new Uint8Array(0);
  let cdv = new DataView(chunk.buffer);
  let have = 0;
  let at = 0;
  let filePos = 12 + 2048;
  const startRss = process.memoryUsage.rss() / 2 ** 20;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (;;) {
    if (have - at < 6 + 0xffff) {
      slot = (slot + 1) % RING;
      ring[slot].set(chunk.subarray(at, have));
      chunk = ring[slot];
      cdv = views[slot];
      have -= at;
      at = 0;
      const n = readSync(fd, chunk, have, chunk.length - have, filePos);
      filePos += n;
      have += n;
      if (have - at < 6) break;
    }
    const t = cdv.getUint32(at) / 1000;
    const len = cdv.getUint16(at + 4);
    if (have - at < 6 + len) throw new Error('truncated capture');
    const d = chunk.subarray(at + 6, at + 6 + len);
    at += 6 + len;
    if (firstT < 0) firstT = t;
    lastT = t;
    datagrams++;
    if (mode === 'read') continue;
    // the session's congestion report every 200 ms of stream time (it settles the loss records)
    if (t >= nextReport) {
      rx.takeCongestion(t);
      nextReport = t + CONGESTION_INTERVAL_MS;
    }
    for (let w = rx.pollTimeout(); w !== undefined && w <= t; w = rx.pollTimeout()) {
      rx.handleTimeout(w);
      sink(w);
    }
    if (probes && (d[0] & 0x0f) === TakionType.Video) {
      const fi = (d[3] << 8) | d[4];
      lastWall[fi] = performance.now();
      if (cpuProbes) lastCpu[fi] = cpuNow();
      lastStream[fi] = t;
    }
    client.handle(d, t);
    for (let e = client.pollEvent(); e; e = client.pollEvent())
      if (e.type === 'av' && mode !== 'takion') {
        rx.handle(e, t);
        sink(t);
      }
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  closeSync(fd);
  const st = rx.stats(lastT);
  const sortedWall = Float64Array.from(latWall).sort();
  const sortedFec = Float64Array.from(latWallFec).sort();
  const sortedCpu = Float64Array.from(latCpu).sort();
  const sortedStream = Float64Array.from(latStream).sort();
  return {
    streamSeconds: (lastT - firstT) / 1000,
    wallSeconds: wall,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    datagrams,
    frames: st.video.frames,
    recovered: st.video.recovered,
    lost: st.video.lost,
    skipped: st.video.skipped,
    audioFrames: st.audio.frames,
    audioLost: st.audio.lost,
    gmacFailures: client.stats.gmacFailures,
    malformed: st.packets.malformed,
    sinkBytes,
    latencyWallMs: { p50: pct(sortedWall, 0.5), p99: pct(sortedWall, 0.99), max: pct(sortedWall, 1) },
    latencyCpuMs: { p50: pct(sortedCpu, 0.5), p99: pct(sortedCpu, 0.99), max: pct(sortedCpu, 1) },
    latencyWallFecMs: { p50: pct(sortedFec, 0.5), p99: pct(sortedFec, 0.99), max: pct(sortedFec, 1) },
    latencyStreamMs: { p50: pct(sortedStream, 0.5), p99: pct(sortedStream, 0.99), max: pct(sortedStream, 1) },
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    startRssMiB: startRss,
  };
}

/** Parts of the receive path, by the source of a profile sample's function (first match wins). */
const PARTS: [string, (fn: string, url: string) => boolean][] = [
  [
    'GMAC (GHASH + AES, WebAssembly; key refresh)',
    (fn, url) => /^gkcrypt\.(k\d|aes|tag|setKey|bits|fill)/.test(fn) || url.includes('crypto/hash'),
  ],
  ['key stream (AES-ECB, node:crypto)', (fn, url) => url.includes('cipher') || fn === 'gkcrypt.ctr'],
  [
    'decryption (xor, copies)',
    (fn, url) =>
      fn === 'gkcrypt.xor' || (url.endsWith('gkcrypt-wasm.ts') && /^(decrypt|setWindow)$/.test(fn)),
  ],
  ['copying packets in for the tag', (_, url) => url.endsWith('gkcrypt-wasm.ts')],
  ['Takion (parse, key_pos, tag glue)', (_, url) => /(takion|keystate|gkcrypt|aes128)\.ts$/.test(url)],
  ['FEC (Reed-Solomon)', (fn, url) => fn.startsWith('fec.') || url.endsWith('fec.ts')],
  ['frames (reorder, reassembly)', (_, url) => /(frameprocessor|annexb)\.ts$/.test(url)],
  ['AV packets and audio', (_, url) => /(avreceiver|avpacket|audio|machine|seqnum)\.ts$/.test(url)],
  ['garbage collection', (fn) => fn === '(garbage collector)'],
  [
    'reading the capture, the loop',
    (fn, url) => url.endsWith('receive.ts') || url.includes('fs') || (url === '' && /^(read|now)$/.test(fn)),
  ],
];

/** Share of each PARTS entry in the samples of a CPU profile taken inside replay(). */
function profileSplit(profilePath: string): { part: string; share: number }[] {
  const p = JSON.parse(readFileSync(profilePath, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
    samples: number[];
  };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // inside the timed replay(), not the one warmUp() runs
  const inReplay = (id: number): boolean => {
    let found = false;
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const fn = byId.get(x)?.callFrame.functionName;
      if (fn === 'warmUp') return false;
      if (fn === 'replay') found = true;
    }
    return found;
  };
  // samples from the first to the last one inside replay(): its functions, and the GC between
  const inside = p.samples.map(inReplay);
  const first = inside.indexOf(true);
  const last = inside.lastIndexOf(true);
  const counts = new Map<string, number>();
  let total = 0;
  for (let i = first; i >= 0 && i <= last; i++) {
    const f = byId.get(p.samples[i])?.callFrame;
    if (!f || (f.functionName !== '(garbage collector)' && !inside[i])) continue;
    const part = PARTS.find(([, match]) => match(f.functionName, f.url))?.[0] ?? 'other';
    if (part === 'other' && process.env.RPTUI_BENCH_DEBUG) console.log('  other:', f.functionName, f.url);
    counts.set(part, (counts.get(part) ?? 0) + 1);
    total++;
  }
  return [...counts].map(([part, n]) => ({ part, share: n / total })).sort((a, b) => b.share - a.share);
}

export async function run(): Promise<void> {
  // RPTUI_BENCH_CAPTURE=path keeps the capture there (and reuses it on the next run)
  const keep = process.env.RPTUI_BENCH_CAPTURE;
  const dir = mkdtempSync(join(tmpdir(), 'rptui-bench-receive-'));
  try {
    const capture = keep ?? join(dir, 'capture.rptcap');
    if (keep && existsSync(keep)) console.log(`capture: reusing ${keep}`);
    else {
      const t0 = performance.now();
      const meta = record(dir, capture);
      console.log(
        `capture: ${meta.seconds} s 1080p60 H.264, clip ${meta.clipKbps} kbit/s (target ${KBPS}), ` +
          `${meta.datagrams} datagrams (${(statSync(capture).size / 1e6).toFixed(0)} MB), ` +
          `${meta.dropped} dropped (${LOSS * 100} %), ${meta.fecUnrecoverable} frames beyond FEC; ` +
          `recorded in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    }
    const pinned = existsSync('/usr/bin/taskset');
    const child = (mode: string, warm: boolean, nodeArgs: string[] = []): ReplayResult => {
      const node = [
        process.execPath,
        ...nodeArgs,
        '--import',
        'tsx',
        self,
        mode,
        capture,
        ...(warm ? ['warm'] : []),
      ];
      const cmd = pinned ? ['/usr/bin/taskset', '-c', '0', ...node] : node;
      const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (r.status !== 0) throw new Error(`replay child failed (status ${r.status})`);
      return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as ReplayResult;
    };
    const runs = (mode: string, warm: boolean): ReplayResult[] =>
      Array.from({ length: RUNS }, () => child(mode, warm));
    console.log(`machine: ${machine()}`);
    const replayLine = (label: string, rs: ReplayResult[]) => {
      const x = spread(rs.map((r) => r.streamSeconds / r.wallSeconds));
      const xCpu = spread(rs.map((r) => r.streamSeconds / r.cpuSeconds));
      const rate = spread(rs.map((r) => r.datagrams / r.wallSeconds / 1000));
      console.log(
        `${label}${pinned ? ' (taskset -c 0)' : ''}, ${RUNS} runs, median (range): ${rs[0].streamSeconds.toFixed(1)} s of ` +
          `stream = ${fmtSpread(x)}x real time (target >= 115x); by CPU time ${fmtSpread(xCpu)}x; ` +
          `${fmtSpread(rate, 0)}k datagrams/s`,
      );
    };
    // cold: a fresh process, so V8's compiling the receive path (on the same pinned core) and the
    // heap's growth are in the figure; warm: the same after one untimed replay (warmUp), i.e. the
    // cost per stream second of a session past its first minute
    const cold = runs('--replay', false);
    replayLine('replay cold (fresh process, JIT warm-up included)', cold);
    const warm = runs('--replay', true);
    const res = warm[0];
    replayLine('replay warm (after one untimed replay in the process)', warm);
    console.log(`  machine after: ${machine()}`);
    const cpu = (rs: ReplayResult[]) => spread(rs.map((r) => r.cpuSeconds));
    const read = cpu(runs('--replay-read', true));
    const takion = cpu(runs('--replay-takion', true));
    const all = cpu(warm);
    const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
    console.log(
      `where the time goes, warm (CPU, medians of ${RUNS} runs each; ${machine()}): reading the capture ` +
        `${ms(read.median)}, TakionEndpoint (tag check, key_pos) ${ms(takion.median - read.median)}, ` +
        `AvReceiver (decryption, FEC, frames, audio) and the sink ${ms(all.median - takion.median)}; ` +
        `total ${ms(all.median)} for ${res.datagrams.toLocaleString('en')} datagrams ` +
        `(${((all.median * 1e6) / res.datagrams).toFixed(2)} us each)`,
    );
    const profDir = join(dir, 'profile');
    child('--replay', true, ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '100']);
    const prof = readdirSync(profDir)
      .map((f) => join(profDir, f))
      .map((f) => ({ f, split: profileSplit(f) }))
      .find((x) => x.split.length > 0);
    if (prof)
      console.log(
        `  by part, warm (a CPU profile of one run, its sampling overhead included): ${prof.split
          .map((p) => `${p.part} ${(p.share * 100).toFixed(0)} %`)
          .join(', ')}`,
      );
    const wall = child('--replay-latency', false);
    const lat = child('--replay-cpu', false).latencyCpuMs;
    const f = (n: number) => n.toFixed(3);
    console.log(
      `last packet -> sink, wall (a run with a clock read per video datagram): p50 ${f(wall.latencyWallMs.p50)} ms  ` +
        `p99 ${f(wall.latencyWallMs.p99)} ms (target < 2)  max ${f(wall.latencyWallMs.max)} ms; ` +
        `FEC-rebuilt frames: p50 ${f(wall.latencyWallFecMs.p50)} ms  p99 ${f(wall.latencyWallFecMs.p99)} ms`,
    );
    console.log(
      `last packet -> sink, CPU time (separate run with probes): p50 ${f(lat.p50)} ms  p99 ${f(lat.p99)} ms  ` +
        `max ${f(lat.max)} ms`,
    );
    console.log(
      `last packet -> sink, stream time (incl. reorder waits): p50 ${f(wall.latencyStreamMs.p50)} ms  ` +
        `p99 ${f(wall.latencyStreamMs.p99)} ms  max ${f(wall.latencyStreamMs.max)} ms`,
    );
    const rss = spread(cold.map((r) => r.maxRssMiB));
    console.log(
      `frames ${res.frames} (recovered ${res.recovered}, lost ${res.lost}, skipped to key frame ${res.skipped}), ` +
        `audio ${res.audioFrames} (lost ${res.audioLost}), gmac failures ${res.gmacFailures}, ` +
        `malformed ${res.malformed}, peak RSS ${fmtSpread(rss, 0)} MiB (${cold[0].startRssMiB.toFixed(0)} MiB before the first datagram)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const modes = {
  '--replay': 'full',
  '--replay-latency': 'latency',
  '--replay-cpu': 'cpu',
  '--replay-takion': 'takion',
  '--replay-read': 'read',
} as const;
/**
 * One untimed replay of the whole capture with its own receiver, before the timed one: V8 has
 * compiled the hot path by then (its optimizing compiler shares the pinned core) and the heap has
 * grown, as in a session past its first minute. Its own function, so that profileSplit can leave
 * its samples out.
 */
function warmUp(path: string, mode: ReplayMode): void {
  replay(path, mode);
}

const mode = modes[process.argv[2] as keyof typeof modes];
if (process.argv[1] === self && mode) {
  const path = process.argv[3];
  if (!path) throw new Error(`usage: receive.ts ${Object.keys(modes).join('|')} CAPTURE [warm]`);
  if (process.argv[4] === 'warm') warmUp(path, mode);
  console.log(JSON.stringify(replay(path, mode)));
}
