/**
 * Video in an ffplay window: the elementary stream goes to ffplay's stdin.
 *
 * Measured facts this relies on: `-fflags nobuffer` makes ffplay throw away the packets it read
 * while probing, and with a live stream that is the first key frame: the window stays black until
 * the next one, which a console only sends when asked. So that flag is not used; probing is cut to
 * nothing instead (-probesize 32 -analyzeduration 0, format given with -f h264|hevc), which keeps
 * latency as low without losing the frame. ffplay exits 0 even when it failed, and its death shows
 * up as EPIPE on its stdin, so any exit counts as "window closed": said once, and the session
 * goes on. Every (re)start needs a key frame, so the sink asks for one and drops frames until it
 * comes.
 *
 * The decoder (hwdecode.ts) is chosen once per codec before the first player starts: `auto` on a
 * machine with a V4L2 decoder device asks the player what it has (~0.1 s; frames until then are
 * dropped like any before a player), elsewhere it is software at once. A player given a hardware decoder that dies saying the decoder failed is started again
 * once with software decoding, and that is said once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type Host, realHost } from '../common/host.js';
import { nalType, type VideoCodec } from '../proto-stack/annexb.js';
import {
  autoVideoDriver,
  chooseDecoder,
  type DecoderChoice,
  decoderFailed,
  listV4l2Devices,
  parseDecoderSetting,
  probeDecoding,
  readPiModel,
  SOFTWARE,
} from './hwdecode.js';
import type { SinkOptions, VideoInfo, VideoSink } from './sink-types.js';
import {
  childEnv,
  findTool,
  KeyframeGate,
  PipeWriter,
  SinkEvents,
  StderrTail,
  waitForExit,
} from './tools.js';

/** Queued bytes above which non-key frames are dropped (a big key frame alone can be ~0.5 MB). */
const CONGESTED_BYTES = 1 << 20;
/** Queued bytes above which even key frames are dropped: the player is stuck, not just slow. */
const STUCK_BYTES = 16 << 20;

/**
 * Access unit delimiters. ffplay's parser only knows a frame is complete when the next one
 * starts, which would hold every frame back by one frame interval; an AUD written right after
 * each frame (it opens the next access unit, where the standard puts it) lets it go at once.
 */
export const AUD: Record<VideoCodec, Uint8Array> = {
  h264: new Uint8Array([0, 0, 0, 1, 0x09, 0xf0]), // nal_unit_type 9, primary_pic_type 7 (any)
  hevc: new Uint8Array([0, 0, 0, 1, 0x46, 0x01, 0x50]), // nal_unit_type 35, pic_type 2 (any)
};

/** The frame without its own leading AUD (the sink already sent one), else the frame itself. */
export function withoutLeadingAud(frame: Uint8Array, codec: VideoCodec): Uint8Array {
  const header = frame[2] === 1 ? 3 : frame[2] === 0 && frame[3] === 1 ? 4 : -1;
  if (frame[0] !== 0 || frame[1] !== 0 || header < 0 || header >= frame.length) return frame;
  if (nalType(frame, header, codec) !== (codec === 'h264' ? 9 : 35)) return frame;
  // An AUD is 2-3 bytes: the next start code follows within a few bytes.
  for (let i = header + 1; i + 2 < Math.min(frame.length, header + 12); i++) {
    if (frame[i] === 0 && frame[i + 1] === 0 && frame[i + 2] === 1) {
      return frame.subarray(i > 0 && frame[i - 1] === 0 ? i - 1 : i);
    }
  }
  return frame;
}

/** ffplay's arguments for a live elementary stream on stdin. */
export function ffplayArgs(info: VideoInfo, extraArgs: readonly string[] = []): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-flags',
    'low_delay',
    '-framedrop',
    '-probesize',
    '32',
    '-analyzeduration',
    '0',
    '-an',
    '-sn',
    // Quit at EOF: if rptui dies without closing the sink, the window goes with it.
    '-autoexit',
    // Every frame due at once: ffplay shows the newest frame and drops late ones. By the frame
    // timestamps it would keep a backlog instead (measured: ~25 frames queued at 60 fps, never
    // drained after a network stall), i.e. latency that only grows.
    '-vf',
    'setpts=0',
    '-window_title',
    info.title,
    '-f',
    info.codec,
    // The raw demuxer has no timestamps: without the rate it plays at 25 fps and falls behind.
    '-framerate',
    String(info.fps),
    ...extraArgs,
    '-i',
    'pipe:0',
  ];
}

interface Player {
  child: ChildProcess;
  pipe: PipeWriter;
  tail: StderrTail;
  decoder: DecoderChoice;
}

export class FfplaySink extends SinkEvents implements VideoSink {
  readonly kind = 'ffplay';
  private info: VideoInfo | undefined;
  private player: Player | undefined;
  private readonly gate = new KeyframeGate(() => this.emit('needKeyframe'));
  private closing = false;
  /** The decoder per codec, once chosen; a failed hardware decoder is replaced by SOFTWARE. */
  private readonly decoders = new Map<VideoCodec, DecoderChoice>();
  private choosing: Promise<void> | undefined;

  constructor(private readonly opts: SinkOptions = {}) {
    super(opts.log);
  }

  /** Opens the window. A repeated start (another STREAMINFO) keeps the window that is open. */
  start(info: VideoInfo): void {
    this.info = info;
    if (this.player === undefined) this.spawnPlayer();
  }

  /** Opens a new window after the previous one was closed; a no-op while one is open. */
  reopen(): void {
    if (this.player === undefined && this.info !== undefined && !this.closing) this.spawnPlayer();
  }

  /** Process id of the running player, if any (tests, diagnostics). */
  get pid(): number | undefined {
    return this.player?.child.pid;
  }

  /** The decoder of the running player, if any. */
  get decoder(): DecoderChoice | undefined {
    return this.player?.decoder;
  }

  private spawnPlayer(): void {
    const info = this.info;
    if (info === undefined || this.choosing !== undefined) return;
    const env = childEnv(this.opts.env);
    const tool = findTool('ffplay', { env, explicit: this.opts.playerPath });
    if (!tool.found) {
      this.warnOnce(`${tool.message}: no video window (the session goes on). ${tool.hint}`);
      return;
    }
    const host = this.opts.host ?? realHost(env);
    let decoder = this.decoders.get(info.codec);
    if (decoder === undefined) {
      const settled = this.settleDecoder(host, env, tool.path, info.codec);
      if (settled instanceof Promise) {
        this.choosing = settled.then(() => {
          this.choosing = undefined;
          if (!this.closing && this.player === undefined) this.spawnPlayer();
        });
        return;
      }
      decoder = settled;
    }
    // $RPTUI_FFPLAY_ARGS: extra player options from the environment (split on spaces, no quoting).
    const extra = this.opts.extraArgs ?? (env.RPTUI_FFPLAY_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
    const driver = autoVideoDriver(host, env);
    if (driver !== undefined) {
      env.SDL_VIDEODRIVER = driver;
      this.warnOnce(
        "No X or Wayland display: the picture goes to the Pi's own screen through KMS/DRM (SDL_VIDEODRIVER=kmsdrm)",
      );
    } else if (!env.DISPLAY && !env.WAYLAND_DISPLAY && !env.SDL_VIDEODRIVER) {
      // Typical over SSH. SDL then falls back to an off-screen driver: ffplay runs, nobody sees it.
      this.warnOnce(
        'No display is set (DISPLAY, WAYLAND_DISPLAY and SDL_VIDEODRIVER are all unset): the video window may have nowhere to show. ' +
          "On the machine's own screen use SDL_VIDEODRIVER=kmsdrm (e.g. a Raspberry Pi started over SSH) or DISPLAY=:0 (its desktop)",
      );
    }
    const child = spawn(tool.path, ffplayArgs(info, [...decoder.args, ...extra]), {
      env,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const player: Player = {
      child,
      pipe: new PipeWriter(child.stdin!),
      tail: new StderrTail(child),
      decoder,
    };
    this.player = player;
    const gone = (detail: string) => this.playerGone(player, detail);
    child.once('close', (code, signal) => gone(signal ? `killed by ${signal}` : `exit code ${code}`));
    child.once('error', (err) => gone(err.message));
    this.gate.restart();
  }

  /**
   * Settles the decoder for `codec` (the option, $RPTUI_DECODER, else auto). Only `auto` on a
   * machine with a V4L2 decoder device has to ask the player (asynchronously); elsewhere the
   * answer is known at once, and software decoding is not worth a word.
   */
  private settleDecoder(
    host: Host,
    env: NodeJS.ProcessEnv,
    ffplay: string,
    codec: VideoCodec,
  ): DecoderChoice | Promise<void> {
    const settle = (choice: DecoderChoice, say: boolean) => {
      this.decoders.set(codec, choice);
      if (say) this.log(`Video decoding (${codec === 'h264' ? 'H.264' : 'HEVC'}): ${choice.reason}`);
      return choice;
    };
    let setting: string;
    try {
      setting = parseDecoderSetting(this.opts.decoder ?? env.RPTUI_DECODER ?? 'auto');
    } catch (err) {
      // a bad $RPTUI_DECODER (the option is checked before the session starts)
      this.warnOnce(`${(err as Error).message}: decoding in software`);
      return settle(SOFTWARE, false);
    }
    if (setting !== 'auto') return settle(chooseDecoder(setting, codec), setting !== 'sw');
    if (!listV4l2Devices(host, readPiModel(host)).some((d) => d.role !== 'other'))
      return settle(SOFTWARE, false);
    const ffmpeg = findTool('ffmpeg', { env });
    return probeDecoding(host, { ffplay, ffmpeg: ffmpeg.found ? ffmpeg.path : undefined }).then(
      (probe) => void settle(chooseDecoder('auto', codec, probe), true),
      (err: Error) => void settle({ ...SOFTWARE, reason: `software decoding (${err.message})` }, true),
    );
  }

  private playerGone(player: Player, detail: string): void {
    if (this.player !== player) return; // 'error' and 'exit' can both come; report once
    this.player = undefined;
    if (this.closing) return;
    const said = player.tail.lastLine();
    const codec = this.info?.codec;
    if (player.decoder.hardware && codec !== undefined && decoderFailed(player.tail.all())) {
      // Once only: the software decoder replaces it for the rest of the session.
      this.decoders.set(codec, SOFTWARE);
      const why =
        player.tail
          .all()
          .split('\n')
          .find((l) => decoderFailed(l))
          ?.trim() ?? said;
      this.warnOnce(
        `ffplay could not use the hardware decoder (${player.decoder.reason}: ${why}); decoding in software instead`,
      );
      this.spawnPlayer();
      return;
    }
    this.log(
      `Video window closed (ffplay ${said === '' ? detail : `said: ${said}`}); the session goes on without video.`,
    );
    this.emit('closed');
  }

  write(frame: Uint8Array, keyframe: boolean): void {
    const player = this.player;
    if (player === undefined || !player.pipe.alive) {
      this.counters.dropped++;
      return;
    }
    if (!this.gate.admit(keyframe)) {
      this.counters.dropped++;
      return;
    }
    const queued = player.pipe.queued;
    if (queued > STUCK_BYTES || (!keyframe && queued > CONGESTED_BYTES)) {
      // Frames after a dropped one would decode smeared, so wait for (and ask for) a key frame.
      this.counters.dropped++;
      this.gate.restart();
      return;
    }
    const codec = this.info?.codec ?? 'h264';
    const header = this.gate.headerFor(frame, keyframe, codec);
    if (header) player.pipe.write(header);
    player.pipe.write(withoutLeadingAud(frame, codec));
    player.pipe.write(AUD[codec]);
    this.counters.written++;
    this.counters.bytes += frame.length;
  }

  async close(): Promise<void> {
    this.closing = true;
    const player = this.player;
    this.player = undefined;
    if (player === undefined) return;
    // ffplay keeps showing the last frame after EOF, so it is told to quit, not just fed EOF.
    void player.pipe.end();
    await waitForExit(player.child, 1500, true);
  }
}
