/**
 * The client process of `npm run bench -- live` (bench/live.ts bundles it with esbuild and runs
 * it with plain node, as the installed CLI runs: no TypeScript loader in the measured process).
 * One real session (RemotePlaySession: sockets, timers, frame processor, Opus decoding) with
 * sinks, optionally inside the TUI's stream screen on a terminal that goes nowhere. After a
 * warm-up it measures the steady part: CPU (process.cpuUsage: every thread), RSS, event-loop
 * delay (perf_hooks.monitorEventLoopDelay) and frames lost; prints one JSON line (LiveResult).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import { ProfileStore } from '../src/client/profiles.js';
import { RemotePlaySession, sessionOptionsFromProfile } from '../src/client/session.js';
import { keepYoungGenerationSmall } from '../src/common/heap.js';
import type { RemotePlaySessionApi, SessionStats } from '../src/common/session-api.js';
import { attachSinks, createAudioSink, createVideoSink } from '../src/media/sinks.js';
import type { FpsPreset, ResolutionPreset } from '../src/proto-stack/launchspec.js';

export interface LiveClientOptions {
  profile: string;
  resolution: ResolutionPreset;
  fps: FpsPreset;
  bitrateKbps: number;
  /** Sink specs as --video / --audio take them. */
  video: string;
  audio: string;
  /** Run the session inside the TUI's stream screen (a 120x40 terminal whose output is dropped). */
  tui: boolean;
  warmupSeconds: number;
  /** Seconds of the CPU/RSS window, then of the event-loop delay window that follows it. */
  measureSeconds: number;
  loopSeconds: number;
  /** Seconds after streaming began at which to note the RSS too (the soak run). */
  rssAtSeconds: number[];
}

export interface LiveResult {
  /** Seconds of the CPU window (stream time: the stream runs in real time). */
  seconds: number;
  /** CPU seconds (user + system, all threads) per stream second. */
  cpu: number;
  user: number;
  system: number;
  rssStartMiB: number;
  rssEndMiB: number;
  /** RSS when the session is created (modules loaded, nothing streamed yet). */
  rssIdleMiB: number;
  /** process.memoryUsage() at the end of the steady part, in MiB. */
  memoryMiB: { heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
  /** RSS at each rssAtSeconds mark. */
  rssAtMiB: number[];
  loopP99Ms: number;
  loopMaxMs: number;
  frames: number;
  /** Frames lost in both windows, and since the stream began. */
  lost: number;
  lostTotal: number;
  kbps: number;
  datagrams: number;
  forged: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMiB = () => process.memoryUsage.rss() / 2 ** 20;

export async function runClient(o: LiveClientOptions): Promise<LiveResult> {
  keepYoungGenerationSmall(); // as src/cli.ts does
  const rssIdle = rssMiB();
  const stored = await ProfileStore.fromEnv().get(o.profile);
  const profile = { ...stored, settings: { ...stored.settings, videoSink: o.video, audioSink: o.audio } };
  const createSession = () =>
    new RemotePlaySession(
      sessionOptionsFromProfile(profile, {
        resolution: o.resolution,
        fps: o.fps,
        bitrateKbps: o.bitrateKbps,
      }),
    );
  let session: RemotePlaySessionApi;
  let close: () => Promise<void>;
  if (o.tui) {
    // the TUI's modules (blessed, ~12 MiB) only when asked for
    const { App } = await import('../src/ui/app.js');
    const { StreamScreen } = await import('../src/ui/screens/stream.js');
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
    const output = Object.assign(new PassThrough(), { isTTY: true, columns: 120, rows: 40 });
    output.resume();
    const app = await App.create({ color: true, gamepad: false, input, output });
    let created: RemotePlaySessionApi | undefined;
    const screen = new StreamScreen({
      app,
      profile,
      status: { status: 'ready', misses: 0 },
      createSession: () => {
        created = createSession();
        return created;
      },
    });
    app.pushScreen(screen);
    await screen.start();
    if (!created) throw new Error('the stream screen started no session');
    session = created;
    close = async () => {
      await session.disconnect();
      app.destroy();
    };
  } else {
    const s = createSession();
    const log = (m: string) => process.stderr.write(`  ${m}\n`);
    const media = attachSinks(s, createVideoSink(o.video, { log }), createAudioSink(o.audio, { log }), {
      title: 'rptui bench',
    });
    await s.start();
    session = s;
    close = async () => {
      await s.disconnect();
      await media.close();
    };
  }
  const rssAt: number[] = [];
  const marks = o.rssAtSeconds.map(async (s) => {
    await sleep(s * 1000);
    rssAt.push(rssMiB());
  });
  await sleep(o.warmupSeconds * 1000);
  const stats0: SessionStats = session.stats;
  const rssStart = rssMiB();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(o.measureSeconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  const st1 = session.stats;
  const rssEnd = rssMiB();
  const m = process.memoryUsage();
  // The delay monitor is a 1 ms timer of its own (1.6 % of a core here, more than some of what
  // is measured): it samples a window after the CPU one, not during it.
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  await sleep(o.loopSeconds * 1000);
  delay.disable();
  const st = session.stats;
  const mib = (n: number) => n / 2 ** 20;
  await Promise.all(marks);
  await close();
  return {
    seconds,
    cpu: (cpu.user + cpu.system) / 1e6 / seconds,
    user: cpu.user / 1e6 / seconds,
    system: cpu.system / 1e6 / seconds,
    rssStartMiB: rssStart,
    rssEndMiB: rssEnd,
    rssIdleMiB: rssIdle,
    memoryMiB: {
      heapUsed: mib(m.heapUsed),
      heapTotal: mib(m.heapTotal),
      external: mib(m.external),
      arrayBuffers: mib(m.arrayBuffers),
    },
    rssAtMiB: rssAt,
    loopP99Ms: delay.percentile(99) / 1e6,
    loopMaxMs: delay.max / 1e6,
    frames: st1.video.frames - stats0.video.frames,
    lost: st.video.lost - stats0.video.lost,
    lostTotal: st.video.lost,
    kbps: st1.video.kbps,
    datagrams: st1.packets.received - stats0.packets.received,
    forged: st.packets.forged,
  };
}
