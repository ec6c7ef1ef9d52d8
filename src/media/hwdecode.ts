/**
 * Hardware video decoding for the ffplay window, and the facts about the machine it depends on.
 *
 * A Raspberry Pi 4 cannot decode 1080p60 H.264 in software, but has a stateful H.264 decoder
 * behind V4L2 memory-to-memory (`bcm2835-codec-decode`, /dev/video10; ffmpeg's `h264_v4l2m2m`).
 * Pis 4 and 5 have a stateless HEVC decoder behind the V4L2 request API (`rpivid` /
 * `rpi-hevc-dec`, /dev/video19) that Raspberry Pi OS's ffmpeg reaches through `-hwaccel drm`; a
 * Pi 5 has no H.264 decoder at all. Debian's ffmpeg lists the v4l2m2m decoders and the drm hwaccel
 * on any machine, so a decoder is only picked when the device behind it exists too.
 *
 * `auto` picks such a decoder for the stream's codec; `sw` never does; anything else is forced:
 * `v4l2m2m` (the codec's *_v4l2m2m decoder), a decoder name (`h264_v4l2m2m`) or an hwaccel name
 * (`drm`, `vaapi`...). The sink falls back to software once when the player cannot open it.
 */
import type { Host } from '../common/host.js';
import type { VideoCodec } from '../proto-stack/annexb.js';
import { UsageError } from '../proto-stack/errors.js';
import { findTool } from './tools.js';

export interface PiInfo {
  /** /proc/device-tree/model as written there, e.g. "Raspberry Pi 4 Model B Rev 1.4". */
  model: string;
  /** 1..5 (a Zero 2 counts as a 3, a 400 as a 4, a 500 as a 5); undefined when not recognised. */
  generation: number | undefined;
}

/** The Raspberry Pi this runs on, from the device tree; undefined on anything else. */
export function readPiModel(host: Host): PiInfo | undefined {
  const raw = host.readText('/proc/device-tree/model');
  if (raw === undefined) return undefined;
  const model = raw.replace(/\0/g, '').trim();
  if (!/^Raspberry Pi\b/.test(model)) return undefined;
  if (/\bZero 2\b/.test(model)) return { model, generation: 3 };
  if (/\bZero\b/.test(model)) return { model, generation: 1 };
  const n = /^Raspberry Pi (?:Compute Module )?(\d)/.exec(model);
  return { model, generation: n ? Number(n[1]) : undefined };
}

/** Names of the decoders in `ffmpeg -decoders` / `ffplay -decoders` output. */
export function parseDecoderList(text: string): string[] {
  const out: string[] = [];
  let body = false;
  for (const line of text.split('\n')) {
    if (!body) {
      body = /^\s*-{3,}\s*$/.test(line);
      continue;
    }
    const m = /^\s*[VASD][.A-Z]{5}\s+(\S+)/.exec(line);
    if (m) out.push(m[1]);
  }
  return out;
}

/** Names listed by `ffmpeg -hwaccels` (one per line after the heading). */
export function parseHwaccelList(text: string): string[] {
  const lines = text.split('\n').map((l) => l.trim());
  const start = lines.findIndex((l) => /^Hardware acceleration methods:?$/i.test(l));
  if (start < 0) return [];
  return lines.slice(start + 1).filter((l) => /^[a-z0-9_]+$/.test(l));
}

/** Whether ffplay's help lists a -hwaccel option (FFmpeg 7 and later). */
export const ffplayHasHwaccel = (helpText: string): boolean => /^-hwaccel\s/m.test(helpText);

export type V4l2Role = 'h264-m2m' | 'hevc-request' | 'other';

export interface V4l2Device {
  /** /dev/videoN */
  node: string;
  name: string;
  role: V4l2Role;
  /** Read and write permission (the `video` group on Debian). */
  usable: boolean;
}

function roleOf(name: string): V4l2Role {
  if (name === 'bcm2835-codec-decode') return 'h264-m2m';
  if (/^(rpivid|rpi-hevc-dec)/.test(name)) return 'hevc-request';
  return 'other';
}

/**
 * The V4L2 video devices with their driver names (sysfs). Where sysfs says nothing (a container
 * with /dev but no /sys) a Pi's fixed numbering is used: video10 decodes H.264, video19 HEVC.
 */
export function listV4l2Devices(host: Host, pi: PiInfo | undefined): V4l2Device[] {
  const sys = '/sys/class/video4linux';
  const fromSys = host.list(sys).filter((e) => /^video\d+$/.test(e));
  const entries = fromSys.length > 0 ? fromSys : host.list('/dev').filter((e) => /^video\d+$/.test(e));
  const devices = entries.map((e) => {
    const known = host.readText(`${sys}/${e}/name`)?.trim();
    const guessed =
      pi === undefined
        ? undefined
        : e === 'video10'
          ? 'bcm2835-codec-decode'
          : e === 'video19'
            ? 'rpivid'
            : undefined;
    const name = known ?? (guessed ? `${guessed} (guessed from the Pi's numbering)` : 'unknown');
    const node = `/dev/${e}`;
    return { node, name, role: roleOf(known ?? guessed ?? ''), usable: host.canAccess(node, 'rw') };
  });
  return devices.sort((a, b) => Number(a.node.slice(10)) - Number(b.node.slice(10)));
}

/** What the player can decode in hardware here. */
export interface DecodeProbe {
  /** Decoders of the player (ffplay -decoders); [] when it could not be asked. */
  decoders: string[];
  /** hwaccels of ffmpeg (ffmpeg -hwaccels); [] without ffmpeg. */
  hwaccels: string[];
  /** ffplay takes -hwaccel. */
  playerHwaccel: boolean;
  v4l2: V4l2Device[];
  pi: PiInfo | undefined;
}

/** Asks the player and ffmpeg (either path may be missing) and reads the V4L2 devices. */
export async function probeDecoding(
  host: Host,
  tools: { ffplay?: string; ffmpeg?: string },
): Promise<DecodeProbe> {
  const ask = async (path: string | undefined, ...args: string[]) =>
    path === undefined ? '' : (await host.run(path, ['-hide_banner', ...args])).stdout;
  const [decoders, help, hwaccels] = await Promise.all([
    ask(tools.ffplay, '-decoders'),
    ask(tools.ffplay, '-h'),
    ask(tools.ffmpeg, '-hwaccels'),
  ]);
  const pi = readPiModel(host);
  return {
    decoders: parseDecoderList(decoders),
    hwaccels: parseHwaccelList(hwaccels),
    playerHwaccel: ffplayHasHwaccel(help),
    v4l2: listV4l2Devices(host, pi),
    pi,
  };
}

export interface DecoderChoice {
  /** 'sw', 'v4l2m2m', a decoder name or an hwaccel name. */
  name: string;
  /** ffplay arguments that select it (none for software: ffplay's default decoder). */
  args: string[];
  hardware: boolean;
  /** Why this one, in words. */
  reason: string;
}

export const SOFTWARE: DecoderChoice = { name: 'sw', args: [], hardware: false, reason: 'software decoding' };

/** A --decoder value: auto, sw, v4l2m2m, a decoder or an hwaccel name. Throws UsageError. */
export function parseDecoderSetting(value: string): string {
  const v = value.trim();
  if (/^[a-z0-9_]+$/.test(v)) return v;
  throw new UsageError(
    `--decoder "${value}" is not a decoder name`,
    'Use auto (hardware where rptui finds it), sw, v4l2m2m, drm, or a name from ffplay -decoders',
  );
}

/** The hardware decoder `auto` would use for `codec`, with the reason; undefined for none. */
export function hardwareDecoder(codec: VideoCodec, p: DecodeProbe): DecoderChoice | undefined {
  const m2m = `${codec}_v4l2m2m`;
  const h264Device = p.v4l2.find((d) => d.role === 'h264-m2m' && d.usable);
  if (codec === 'h264' && h264Device && p.decoders.includes(m2m)) {
    return {
      name: 'v4l2m2m',
      args: ['-vcodec', m2m],
      hardware: true,
      reason: `${m2m} on ${h264Device.node} (${h264Device.name})`,
    };
  }
  const hevcDevice = p.v4l2.find((d) => d.role === 'hevc-request' && d.usable);
  if (codec === 'hevc' && hevcDevice && p.hwaccels.includes('drm') && p.playerHwaccel) {
    return {
      name: 'drm',
      args: ['-hwaccel', 'drm'],
      hardware: true,
      reason: `the drm hwaccel on ${hevcDevice.node} (${hevcDevice.name})`,
    };
  }
  return undefined;
}

/** Why `auto` decodes `codec` in software here (for the log and the doctor). */
export function whyNoHardware(codec: VideoCodec, p: DecodeProbe): string {
  const role: V4l2Role = codec === 'h264' ? 'h264-m2m' : 'hevc-request';
  const device = p.v4l2.find((d) => d.role === role);
  const what = codec === 'h264' ? 'H.264' : 'HEVC';
  if (device === undefined) return `no ${what} decoder device (V4L2) on this machine`;
  if (!device.usable) return `${device.node} is not readable and writable by this user (the "video" group)`;
  if (codec === 'h264') return `the player has no h264_v4l2m2m decoder`;
  if (!p.hwaccels.includes('drm')) return `ffmpeg has no drm hwaccel (Raspberry Pi OS's ffmpeg has it)`;
  return 'this ffplay has no -hwaccel option (FFmpeg 7 and later have it)';
}

/** The decoder for a setting and the stream's codec; `probe` is needed for `auto` only. */
export function chooseDecoder(setting: string, codec: VideoCodec, probe?: DecodeProbe): DecoderChoice {
  if (setting === 'sw') return SOFTWARE;
  if (setting === 'auto') {
    if (probe === undefined) return SOFTWARE;
    return (
      hardwareDecoder(codec, probe) ?? {
        ...SOFTWARE,
        reason: `software decoding: ${whyNoHardware(codec, probe)}`,
      }
    );
  }
  if (setting === 'v4l2m2m')
    return {
      name: setting,
      args: ['-vcodec', `${codec}_v4l2m2m`],
      hardware: true,
      reason: `--decoder ${setting}`,
    };
  // A decoder name has its codec before an underscore (h264_v4l2m2m); an hwaccel name has none.
  const args = setting.includes('_') ? ['-vcodec', setting] : ['-hwaccel', setting];
  return { name: setting, args, hardware: true, reason: `--decoder ${setting}` };
}

/**
 * Whether a player's stderr says it could not open or set up the decoder it was given (the
 * v4l2m2m device missing or busy, an unknown or failing hwaccel, an option this ffplay lacks).
 */
export function decoderFailed(stderr: string): boolean {
  return /can't configure decoder|Could not find a valid device|Failed to set value .*hwaccel|Option not found|hwaccel|hw_?device|v4l2|vulkan|Failed to open file .* or configure filtergraph|Unknown decoder/i.test(
    stderr,
  );
}

/**
 * The SDL video driver to give ffplay when the environment names no display: on a Pi with a
 * DRM card and no X or Wayland (a session started over SSH), KMS/DRM puts the picture on its own
 * screen. Undefined when SDL should choose by itself.
 */
export function autoVideoDriver(host: Host, env: NodeJS.ProcessEnv): 'kmsdrm' | undefined {
  if (env.DISPLAY || env.WAYLAND_DISPLAY || env.SDL_VIDEODRIVER) return undefined;
  if (host.platform !== 'linux' || readPiModel(host) === undefined) return undefined;
  return host.list('/dev/dri').some((e) => /^card\d+$/.test(e)) ? 'kmsdrm' : undefined;
}

/** What a new profile's stream defaults depend on (client/profiles.ts platformDefaults). */
export interface PlatformFacts {
  /** Raspberry Pi generation (1..5), undefined elsewhere. */
  piGeneration: number | undefined;
  h264Hardware: boolean;
  hevcHardware: boolean;
}

/** The PlatformFacts of this machine; asks the player only on a Pi. */
export async function platformFacts(host: Host): Promise<PlatformFacts> {
  const pi = readPiModel(host);
  if (pi === undefined) return { piGeneration: undefined, h264Hardware: false, hevcHardware: false };
  const path = (tool: 'ffplay' | 'ffmpeg') => {
    const r = findTool(tool, { env: host.env });
    return r.found ? r.path : undefined;
  };
  const probe = await probeDecoding(host, { ffplay: path('ffplay'), ffmpeg: path('ffmpeg') });
  return {
    piGeneration: pi.generation,
    h264Hardware: hardwareDecoder('h264', probe) !== undefined,
    hevcHardware: hardwareDecoder('hevc', probe) !== undefined,
  };
}
