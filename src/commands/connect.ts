/**
 * `rptui connect <profile>`: one stream session from the command line, without the TUI. Shows the
 * handshake and the stream info on stderr, writes stats JSON while it runs, and ends after
 * --duration or on Ctrl-C / SIGTERM with a clean DISCONNECT.
 *
 * Video and audio go to the sinks of src/media (--video ffplay|terminal|file:PATH|none, --audio
 * speaker|file:PATH|none; defaults from the profile's settings). A sink that cannot work (no
 * ffplay, no sound device, the window closed) says so once on stderr and the session goes on.
 * With --video terminal the picture holds the terminal: progress lines go to its status line (and
 * to stderr once it is gone, if stderr is that terminal).
 */
import type { Command } from 'commander';
import { PlayInput, resolveKeymap } from '../client/play-input.js';
import { ProfileStore } from '../client/profiles.js';
import { RemotePlaySession, sessionOptionsFromProfile } from '../client/session.js';
import { writeFileAtomic } from '../common/config-dir.js';
import type { CloseReason, SessionState, SessionStats, StreamInfo } from '../common/session-api.js';
import { parseDecoderSetting } from '../media/hwdecode.js';
import { parsePictureMode } from '../media/picture/caps.js';
import { DEFAULT_PICTURE_KBPS, TerminalPictureSink } from '../media/picture/sink.js';
import { attachSinks, createSinks } from '../media/sinks.js';
import { NetworkError, RptuiError, UsageError } from '../proto-stack/errors.js';
import {
  type FpsPreset,
  isResolutionPreset,
  RESOLUTION_PRESETS,
  type VideoCodec,
} from '../proto-stack/launchspec.js';
import { safeLines, safeText } from '../proto-stack/text.js';
import { printJson } from './output.js';
import { StatusLine } from './status-line.js';

interface ConnectOpts {
  host?: string;
  resolution?: string;
  codec?: string;
  fps?: string;
  bitrate?: string;
  duration?: string;
  video?: string;
  audio?: string;
  statsJson?: string;
  loginPin?: string;
  json?: boolean;
  keymap?: string;
  input?: boolean;
  gamepad?: boolean;
  decoder?: string;
  senkusha?: boolean;
  picture?: string;
  pictureKbps?: string;
  bridge?: boolean;
}

/**
 * The controller bridge asks for the smallest stream a console serves (the lowest preset of both
 * references' settings: 360p, 30 fps, 2000 kbit/s) and plays it nowhere: the AV datagrams are
 * still authenticated and acknowledged so the console keeps the session, nothing is decoded.
 */
const BRIDGE_STREAM = { resolution: '360p', fps: '30', bitrate: '2000', codec: 'h264' } as const;
const BRIDGE_CONFLICTS: ReadonlyArray<[keyof ConnectOpts, string]> = [
  ['resolution', '--resolution'],
  ['fps', '--fps'],
  ['bitrate', '--bitrate'],
  ['codec', '--codec'],
  ['video', '--video'],
  ['audio', '--audio'],
  ['decoder', '--decoder'],
  ['picture', '--picture'],
  ['pictureKbps', '--picture-kbps'],
];

const STATS_WRITE_INTERVAL_MS = 1000;

const STATE_TEXT: Partial<Record<SessionState, string>> = {
  requesting: 'requesting a session',
  ctrl: 'opening the ctrl channel',
  probing: 'measuring RTT and MTU (Senkusha, UDP 9297)',
  takion: 'connecting the stream (Takion)',
  handshake: 'stream handshake (BIG/BANG, stream info)',
  streaming: 'streaming',
  closing: 'disconnecting',
};

function describeInfo(i: StreamInfo): string {
  return (
    `stream: ${i.width}x${i.height} @ ${i.fps} fps, ${i.codec.toUpperCase()}, ${i.bitrateKbps} kbps; ` +
    `audio ${i.audio.channels} ch ${i.audio.sampleRate} Hz; console ${i.serverType}`
  );
}

function parseDuration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const s = Number(text);
  if (!Number.isFinite(s) || s <= 0 || s > 7 * 24 * 3600)
    throw new UsageError(`--duration takes seconds (more than 0), got "${text}"`);
  return s * 1000;
}

export const register = (program: Command): void => {
  program
    .command('connect')
    .description('stream from a paired console without the TUI (handshake, stats, clean disconnect)')
    .argument('<profile>', 'name of a paired console (rptui profiles list)')
    .option('--host <address>', "console address (default: the profile's)")
    .option('--resolution <preset>', '360p, 540p, 720p or 1080p (default: the profile setting)')
    .option('--fps <n>', '30 or 60 (default: the profile setting)')
    .option('--codec <codec>', "h264 or h265 (HEVC, PS5 only; default: the profile's, h264)")
    .option('--bitrate <kbps>', 'video bitrate in kbit/s (default: the preset bitrate)')
    .option('--duration <seconds>', 'disconnect after this long (default: until Ctrl-C)')
    .option(
      '--video <sink>',
      'ffplay (a window), terminal (the picture in this terminal), file:PATH (.h264/.h265, or .mkv with audio) or none (default: the profile setting)',
    )
    .option(
      '--picture <mode>',
      'with --video terminal: kitty, sixel, iterm, blocks or ascii (default: ask the terminal)',
    )
    .option(
      '--picture-kbps <kbps>',
      `with --video terminal: bytes written to the terminal at most, in kbit/s (default ${DEFAULT_PICTURE_KBPS})`,
    )
    .option(
      '--audio <sink>',
      'speaker, file:PATH (a .wav) or none (default: the profile setting, speaker when there is one)',
    )
    .option(
      '--decoder <name>',
      "ffplay's video decoder: auto (hardware where found), sw, v4l2m2m, drm, or a decoder or hwaccel name (default: $RPTUI_DECODER, else auto)",
    )
    .option(
      '--stats-json <file>',
      'write stream statistics as JSON to this file (every second and at the end)',
    )
    .option('--login-pin <digits>', "the console user's 4-digit login passcode, if the console asks")
    .option('--json', 'print the final statistics as JSON on stdout')
    .option('--keymap <name|file>', "key map: a name or a JSON file (default: the profile's)")
    .option('--no-input', 'watch only: read neither the keyboard nor game pads')
    .option('--no-gamepad', 'keyboard only: do not look for game pads')
    .option('--no-senkusha', 'skip the RTT/MTU probe (UDP 9297) and stream with MTU 1454, RTT 1 ms')
    .addHelpText(
      'after',
      '\nExamples:\n  rptui connect living-room --duration 10 --stats-json stats.json\n' +
        '  rptui connect living-room --resolution 1080p --fps 60 --bitrate 15000\n\n' +
        'Progress and stream information go to stderr. Exit status: 0 after --duration, the leave key,\n' +
        'Ctrl-C or SIGTERM; killed by SIGHUP (129) after a hang-up (all of them end the session cleanly:\n' +
        'DISCONNECT once the stream is up, else the session request or ctrl connection closed); 130 after\n' +
        'a second Ctrl-C, which stops waiting for the console; 1 if the console refuses, ends the stream\n' +
        'or is lost, or on another error; 2 for a usage error.',
    )
    .option(
      '--bridge',
      'controller bridge: the smallest stream, nothing played, only pads and keys (as rptui bridge)',
    )
    .action((name: string, o: ConnectOpts) => runConnect(name, o));
};

/** The bridge's status line: what it streams, for how long, what went to the console. */
function bridgeStatus(profile: string, session: RemotePlaySession, play: PlayInput): string {
  const s = session.stats;
  const p = play.stats;
  const up = Math.floor(s.uptimeMs / 1000);
  const clock = `${Math.floor(up / 60)}:${String(up % 60).padStart(2, '0')}`;
  return (
    `bridge ${profile}: ${session.state} ${clock}, ${p.inputs} inputs sent, ` +
    `${p.pad ? `pad ${p.pad}` : 'no pad (keys only)'}, RTT ${s.rttMs.toFixed(1)} ms, ${s.packets.lost} packets lost`
  );
}

/** One stream session from the command line (`rptui connect`, `rptui bridge`). */
export async function runConnect(name: string, opts: ConnectOpts): Promise<void> {
  if (opts.bridge) {
    const given = BRIDGE_CONFLICTS.filter(([k]) => opts[k] !== undefined).map(([, flag]) => flag);
    if (given.length)
      throw new UsageError(
        `--bridge asks for the smallest stream and plays nothing: leave out ${given.join(', ')}`,
      );
    if (opts.input === false) throw new UsageError('--bridge is input only: leave out --no-input');
  }
  const o: ConnectOpts = opts.bridge ? { ...opts, ...BRIDGE_STREAM, video: 'none', audio: 'none' } : opts;
  const resolution = o.resolution;
  if (resolution !== undefined && !isResolutionPreset(resolution))
    throw new UsageError(
      `--resolution must be one of ${Object.keys(RESOLUTION_PRESETS).join(', ')}, got "${resolution}"`,
    );
  if (o.fps !== undefined && o.fps !== '30' && o.fps !== '60')
    throw new UsageError(`--fps must be 30 or 60, got "${o.fps}"`);
  if (o.codec !== undefined && o.codec !== 'h264' && o.codec !== 'h265')
    throw new UsageError(`--codec must be h264 or h265, got "${o.codec}"`);
  const bitrate = o.bitrate === undefined ? undefined : Number(o.bitrate);
  if (bitrate !== undefined && (!Number.isInteger(bitrate) || bitrate < 500 || bitrate > 100_000))
    throw new UsageError(`--bitrate takes kbit/s from 500 to 100000, got "${o.bitrate}"`);
  if (o.loginPin !== undefined && !/^\d{4}$/.test(o.loginPin))
    throw new UsageError('--login-pin is the 4-digit passcode of the console user');
  const durationMs = parseDuration(o.duration);
  const decoder = o.decoder === undefined ? undefined : parseDecoderSetting(o.decoder);
  const pictureMode = o.picture === undefined ? undefined : parsePictureMode(o.picture);
  const pictureKbps = o.pictureKbps === undefined ? undefined : Number(o.pictureKbps);
  if (
    pictureKbps !== undefined &&
    (!Number.isInteger(pictureKbps) || pictureKbps < 100 || pictureKbps > 1_000_000)
  )
    throw new UsageError(`--picture-kbps takes kbit/s from 100 to 1000000, got "${o.pictureKbps}"`);
  // lines carry console text (names, warnings): terminal-safe
  const toStderr = (line: string): void => {
    process.stderr.write(`${safeLines(line)}\n`);
  };
  // the terminal picture takes over these lines while it is up
  let log = toStderr;
  // the bridge keeps one status line under its log lines
  const statusLine = o.bridge ? new StatusLine() : undefined;
  if (statusLine) log = (line) => statusLine.log(safeLines(line));
  const err = (line: string) => log(line);

  const profile = await ProfileStore.fromEnv().get(name);
  const codec = o.codec ?? profile.settings.codec;
  if (codec === 'h265' && profile.kind !== 'PS5')
    throw new UsageError(`--codec h265: "${profile.name}" is a ${profile.kind}, which streams H.264 only`);
  // a bad key map fails here, before the console is contacted
  const keymap = o.input === false ? undefined : resolveKeymap(o.keymap, profile.settings.keymap);
  const picture = {
    layout: 'screen' as const,
    mode: pictureMode,
    kbps: pictureKbps,
    hint: keymap ? `${keymap.exitHotkey} leaves` : 'ctrl+c leaves',
  };
  const { video, audio } = createSinks(
    {
      video: { option: o.video, setting: profile.settings.videoSink },
      audio: { option: o.audio, setting: profile.settings.audioSink },
    },
    {
      picture,
      decoder,
      log: (kind, m) => err(`  ${kind}: ${m}`),
      notice: (kind, m) => err(`  ${kind}: ${m}`),
    },
  );
  const screen = video instanceof TerminalPictureSink ? video : undefined;
  if (!screen && (o.picture !== undefined || o.pictureKbps !== undefined))
    throw new UsageError('--picture and --picture-kbps go with --video terminal');
  if (screen) {
    // the terminal is asked what it draws before anything else reads stdin
    await screen.prepare();
    log = screen.routeLog(toStderr);
  }
  const session = new RemotePlaySession(
    sessionOptionsFromProfile(profile, {
      ...(resolution !== undefined ? { resolution } : {}),
      ...(o.fps !== undefined ? { fps: Number(o.fps) as FpsPreset } : {}),
      ...(bitrate !== undefined ? { bitrateKbps: bitrate } : {}),
      codec: codec as VideoCodec,
      ...(o.host !== undefined ? { host: o.host } : {}),
      senkusha: o.senkusha !== false,
    }),
  );
  const host = o.host ?? profile.host;
  err(`connecting to ${profile.kind} "${profile.name}" at ${host}`);

  let info: StreamInfo | undefined;
  let lastWrite = 0;
  let writing: Promise<void> = Promise.resolve();
  const statsDoc = (s: SessionStats, reason?: CloseReason) => ({
    profile: profile.name,
    state: session.state,
    ...s,
    heartbeats: session.heartbeats,
    sinks: {
      video: { kind: video.kind, ...video.stats() },
      audio: { kind: audio.kind, ...audio.stats() },
    },
    ...(screen ? { picture: screen.pictureStats() } : {}),
    ...(info ? { streamInfo: info } : {}),
    ...(reason ? { closed: { code: reason.code, message: reason.message } } : {}),
  });
  const writeStats = (s: SessionStats, reason?: CloseReason) => {
    const path = o.statsJson;
    if (!path) return;
    const text = `${JSON.stringify(statsDoc(s, reason), null, 2)}\n`;
    writing = writing.then(() =>
      writeFileAtomic(path, text, 0o644).catch((e: unknown) => {
        err(`warning: cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }),
    );
  };

  session.on('state', (s) => {
    const text = STATE_TEXT[s];
    if (text) err(`  ${text}...`);
  });
  session.on('streamInfo', (i) => {
    info = i;
    err(`  ${describeInfo(i)}`);
  });
  session.on('warning', (m) => err(`  warning: ${m}`));
  session.on('stats', (s) => {
    const now = Date.now();
    if (session.state !== 'closed' && now - lastWrite < STATS_WRITE_INTERVAL_MS) return;
    lastWrite = now;
    if (session.state !== 'closed') writeStats(s);
  });
  session.on('console', (m) => {
    switch (m.type) {
      case 'loginPinRequest':
        if (o.loginPin) session.sendLoginPin(o.loginPin);
        else {
          err('  the console asks for the login passcode of its user: run again with --login-pin NNNN');
          void session.disconnect('the console asked for a login passcode');
        }
        return;
      case 'loginResult':
        err(m.ok ? '  login passcode accepted' : '  login passcode rejected');
        if (!m.ok) void session.disconnect('the console rejected the login passcode');
        return;
      case 'displayBlocked':
        err(m.blocked ? '  the console shows protected content it will not stream' : '  streaming again');
        return;
      default:
        return;
    }
  });
  // STREAMINFO starts the sinks; a player that (re)starts asks the console for an IDR
  const media = o.bridge
    ? { close: async () => {} }
    : attachSinks(session, video, audio, { title: `rptui — ${profile.nickname}` });

  // A signal ends the session the clean way in every phase (DISCONNECT once there is a stream,
  // the ctrl connection closed before). A second Ctrl-C stops waiting for the console.
  let interrupted: NodeJS.Signals | 'key' | undefined;
  let play: PlayInput | undefined;
  const stop = (sig: NodeJS.Signals | 'key') => {
    if (interrupted && sig === 'SIGINT') {
      // the terminal is put back by the exit hooks of the input and the picture
      err('  interrupted again: not waiting for the console');
      process.exit(130);
    }
    interrupted ??= sig;
    const why = sig === 'SIGHUP' ? 'the terminal hung up' : sig === 'key' ? 'left' : 'interrupted';
    void session.disconnect(session.state === 'streaming' ? `disconnected (${why})` : why);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of signals) process.on(sig, stop);
  let timer: NodeJS.Timeout | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  let reason: CloseReason;
  try {
    try {
      await session.start();
      err(
        `  streaming; ${durationMs !== undefined ? `disconnecting after ${durationMs / 1000} s` : 'Ctrl-C to stop'}`,
      );
      if (durationMs !== undefined) timer = setTimeout(() => void session.disconnect(), durationMs);
      if (keymap) {
        play = new PlayInput({
          session,
          keymap,
          pads: o.gamepad !== false,
          log: err,
          // over the picture: the keyboard protocol's codes in turn with its bytes
          ...(screen ? { output: screen.terminalWriter() } : {}),
        });
        await play.start();
        if (statusLine) {
          const input = play;
          const update = () => statusLine.set(safeText(bridgeStatus(profile.name, session, input)));
          update();
          statusTimer = setInterval(update, 1000);
        }
      } else screen?.captureKeys(() => stop('key'));
    } catch (e) {
      if (!interrupted) throw e;
    }
    reason = await session.closed();
  } finally {
    play?.stop(); // the terminal first, before anything else can fail
    if (timer) clearTimeout(timer);
    if (statusTimer) clearInterval(statusTimer);
    statusLine?.end();
    for (const sig of signals) process.off(sig, stop);
    await media.close();
  }
  const final = session.stats;
  writeStats(final, reason);
  await writing;
  const s = final;
  err(
    `${reason.code === 'user' ? reason.message : 'session ended'}: ${s.video.frames} video frames (${s.video.lost} lost), ${s.audio.frames} audio frames, ` +
      `${s.packets.received} packets, ${s.packets.forged} forged, ${s.packets.malformed} malformed, RTT ${s.rttMs} ms`,
  );
  if (o.json) printJson(statsDoc(final, reason));
  // after a hang-up, die by it: a shell expects that, and Node's own exit would try to put a
  // terminal that is gone back into cooked mode (and abort when it cannot)
  if (interrupted === 'SIGHUP') {
    // a SIGHUP sent by someone else leaves the terminal there: cooked mode back, if it takes
    try {
      if (process.stdin.isTTY) process.stdin.setRawMode(false);
    } catch {
      // it is gone
    }
    process.kill(process.pid, 'SIGHUP');
  }
  if (reason.code === 'error') throw reason.error;
  if (reason.code === 'console-lost')
    throw new NetworkError(reason.message, {
      hint: 'the console stopped answering: check that it is on and on the network, then connect again',
    });
  if (reason.code === 'console-disconnected')
    throw new RptuiError('network', reason.message, {
      hint: 'the console closed the stream (another client, rest mode or a game that forbids streaming); connect again',
    });
}
