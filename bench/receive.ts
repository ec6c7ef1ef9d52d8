/**
 * Issue 4 item 8: the client's AV receive path on a recorded simulator capture.
 *
 * 1. Record: a 1080p60 H.264 clip at ~15 Mbit/s (made here with the system ffmpeg; the committed
 *    fixture is only 0.5 Mbit/s) + the fixture's Opus tone go through MediaStreamer and a console
 *    TakionEndpoint with crypt (key_pos, encryption, GMAC), then FaultInjector with 5 % loss, for
 *    60 s of stream time. A client-side receiver closes the loop (CORRUPTFRAME/IDR -> key frame)
 *    as a session would. Datagrams and arrival times go to a capture file in a temp dir.
 * 2. Replay, in a child process pinned to one core (taskset, when present) so its peak RSS and
 *    CPU are its own: every datagram through TakionEndpoint.handle (GMAC check, key_pos
 *    extension) -> AvReceiver (decrypt, FEC, reassembly) -> a null sink, as fast as it goes. The
 *    clock handed to the state machines is the capture's arrival time, so the 16 ms reorder
 *    window behaves as it would live.
 *
 * Printed: x-real-time (stream seconds / replay seconds), latency from a frame's last packet to
 * the sink (wall clock; and in stream time, which includes waiting for reordered/lost packets),
 * peak RSS of the replay process, and the stream's frame counts.
 *
 * Capture format: "RPTCAP01", u32 BE length + JSON metadata (keys, STREAMINFO headers), then
 * records of u32 BE arrival time in microseconds, u16 BE length, datagram.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitAccessUnits } from '../src/proto-stack/annexb.js';
import type { AvVersion } from '../src/proto-stack/avpacket.js';
import { AvReceiver } from '../src/proto-stack/avreceiver.js';
import { fromHex, toHex } from '../src/proto-stack/bytes.js';
import { GkCrypt } from '../src/proto-stack/gkcrypt.js';
import { drainEvents, drainTransmits } from '../src/proto-stack/machine.js';
import { baseType, TakionEndpoint, TakionType } from '../src/proto-stack/takion.js';
import { FaultInjector, fecOutcome } from '../src/simulator/faults.js';
import { findMediaDir, loadClipFiles, MediaStreamer } from '../src/simulator/media-streamer.js';

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

/**
 * Runs in the child process: the measured receive path. Modes: 'full'; 'cpu' adds a getrusage()
 * call per video datagram (~1 us) to time each frame in CPU time (its throughput is not
 * reported); 'takion' stops after TakionEndpoint (GMAC check, key_pos), to split the cost.
 */
function replay(path: string, mode: 'full' | 'cpu' | 'takion'): ReplayResult {
  const cpuProbes = mode === 'cpu';
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
  const sink = (t: number) => {
    for (let o = rx.pollEvent(); o; o = rx.pollEvent()) {
      if (o.type === 'frame') {
        sinkBytes += o.bytes.length;
        if (cpuProbes) latCpu.push(cpuNow() - lastCpu[o.index]);
        const w = performance.now() - lastWall[o.index];
        latWall.push(w);
        if (o.recovered) latWallFec.push(w);
        latStream.push(t - lastStream[o.index]);
      } else if (o.type === 'opus') sinkBytes += o.packet.length;
    }
  };

  const chunk = new Uint8Array(4 << 20);
  const cdv = new DataView(chunk.buffer);
  let have = 0;
  let at = 0;
  let filePos = 12 + 2048;
  const startRss = process.memoryUsage.rss() / 2 ** 20;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (;;) {
    if (have - at < 6 + 0xffff) {
      chunk.copyWithin(0, at, have);
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
    const d = chunk.slice(at + 6, at + 6 + len); // a socket hands out a fresh buffer per datagram
    at += 6 + len;
    if (firstT < 0) firstT = t;
    lastT = t;
    datagrams++;
    for (let w = rx.pollTimeout(); w !== undefined && w <= t; w = rx.pollTimeout()) {
      rx.handleTimeout(w);
      sink(w);
    }
    const arrived = performance.now();
    if ((d[0] & 0x0f) === TakionType.Video) {
      const fi = (d[3] << 8) | d[4];
      lastWall[fi] = arrived;
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
    const child = (mode: string): ReplayResult => {
      const node = [process.execPath, '--import', 'tsx', self, mode, capture];
      const cmd = existsSync('/usr/bin/taskset') ? ['/usr/bin/taskset', '-c', '0', ...node] : node;
      const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (r.status !== 0) throw new Error(`replay child failed (status ${r.status})`);
      return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as ReplayResult;
    };
    const res = child('--replay');
    res.latencyCpuMs = child('--replay-cpu').latencyCpuMs;
    const takionCpu = child('--replay-takion').cpuSeconds;
    const x = res.streamSeconds / res.wallSeconds;
    const f = (n: number) => n.toFixed(3);
    console.log(
      `replay${existsSync('/usr/bin/taskset') ? ' (taskset -c 0)' : ''}: ${res.streamSeconds.toFixed(1)} s of stream in ` +
        `${res.wallSeconds.toFixed(2)} s = ${x.toFixed(1)}x real time (target >= 50x); ` +
        `CPU ${res.cpuSeconds.toFixed(2)} s = ${(res.streamSeconds / res.cpuSeconds).toFixed(1)}x; ` +
        `${((res.datagrams / res.wallSeconds) | 0).toLocaleString('en')} datagrams/s`,
    );
    console.log(
      `CPU split: TakionEndpoint alone (GMAC check, key_pos) ${takionCpu.toFixed(2)} s = ` +
        `${((100 * takionCpu) / res.cpuSeconds).toFixed(0)} %; AvReceiver (decrypt, FEC, reassembly, audio) ` +
        `and the replay loop ${(res.cpuSeconds - takionCpu).toFixed(2)} s`,
    );
    console.log(
      `last packet -> sink, wall: p50 ${f(res.latencyWallMs.p50)} ms  p99 ${f(res.latencyWallMs.p99)} ms ` +
        `(target < 2)  max ${f(res.latencyWallMs.max)} ms; FEC-rebuilt frames: p50 ` +
        `${f(res.latencyWallFecMs.p50)} ms  p99 ${f(res.latencyWallFecMs.p99)} ms`,
    );
    console.log(
      `last packet -> sink, CPU time (separate run with probes): p50 ${f(res.latencyCpuMs.p50)} ms  p99 ${f(res.latencyCpuMs.p99)} ms  ` +
        `max ${f(res.latencyCpuMs.max)} ms`,
    );
    console.log(
      `last packet -> sink, stream time (incl. reorder waits): p50 ${f(res.latencyStreamMs.p50)} ms  ` +
        `p99 ${f(res.latencyStreamMs.p99)} ms  max ${f(res.latencyStreamMs.max)} ms`,
    );
    console.log(
      `frames ${res.frames} (recovered ${res.recovered}, lost ${res.lost}, skipped to key frame ${res.skipped}), ` +
        `audio ${res.audioFrames} (lost ${res.audioLost}), gmac failures ${res.gmacFailures}, ` +
        `malformed ${res.malformed}, peak RSS ${res.maxRssMiB.toFixed(0)} MiB (${res.startRssMiB.toFixed(0)} MiB before the first datagram)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const modes = { '--replay': 'full', '--replay-cpu': 'cpu', '--replay-takion': 'takion' } as const;
const mode = modes[process.argv[2] as keyof typeof modes];
if (process.argv[1] === self && mode) {
  const path = process.argv[3];
  if (!path) throw new Error('usage: receive.ts --replay|--replay-cpu|--replay-takion CAPTURE');
  console.log(JSON.stringify(replay(path, mode)));
}
