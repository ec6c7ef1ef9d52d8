/**
 * `rptui doctor`: everything rptui uses, checked at once, each with its status and, when
 * something is missing, the exact command that fixes it on Debian / Raspberry Pi OS. The checks
 * read the machine only through a Host (src/host.ts) and the injectable probes of DoctorOptions,
 * so tests run them against a made-up machine.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { platformDefaults } from '../client/profiles.js';
import type { Host } from '../common/host.js';
import { hintFor } from '../common/net.js';
import { type Discovery, discoverPads } from '../input/gamepad/index.js';
import {
  type DecodeProbe,
  hardwareDecoder,
  probeDecoding,
  readPiModel,
  whyNoHardware,
} from '../media/hwdecode.js';
import { locateSpeakerModule } from '../media/speaker.js';
import { findTool } from '../media/tools.js';
import { DDP_PORT_PS4, DDP_PORT_PS5 } from '../proto-stack/discovery.js';
import { SESSION_PORT } from '../proto-stack/session.js';
import { parseTerminalAnswers, type TerminalAnswers } from './terminal.js';

/** ok; missing (with a fix); warn: works, but worse; not-needed here; info: a fact. */
export type CheckStatus = 'ok' | 'missing' | 'warn' | 'not-needed' | 'info';

export interface Check {
  id: string;
  label: string;
  status: CheckStatus;
  detail: string;
  /** The command (or step) that fixes it. */
  fix?: string;
}

export interface Section {
  title: string;
  checks: Check[];
}

export interface DoctorReport {
  sections: Section[];
  summary: Record<CheckStatus, number>;
}

export interface DoctorOptions {
  host: Host;
  /** Game pads per backend (default: discoverPads on this machine). */
  pads?: () => Promise<Discovery>;
  /**
   * The terminal's replies to TERMINAL_QUERY (default: none; the command asks its terminal).
   * Undefined: not asked (not a terminal, or the TUI owns it).
   */
  terminal?: () => Promise<string | undefined>;
  /** Where the `speaker` package is (default: resolved from here, without loading it). */
  speakerModule?: () => string | undefined;
  /** The installed package's root (config/ files, version). */
  packageRoot?: string;
  /**
   * Loopback address `rptui simulate` / `--simulate` would use: its ports are tried there (bound
   * for a moment). Undefined: not tried (the TUI, whose own simulator may hold them).
   */
  simulateHost?: string;
}

export const MIN_NODE = '20.19.0';

const NODE_FIX =
  'Install Node.js 20.19 or newer: on Raspberry Pi OS / Debian trixie `sudo apt install -y nodejs npm`; ' +
  'on bookworm the NodeSource packages: `curl -fsSL https://deb.nodesource.com/setup_22.x | sudo -E bash - && sudo apt install -y nodejs`';
const FFMPEG_FIX = 'sudo apt install -y ffmpeg';
const UDEV_RULES = '70-rptui-pads.rules';
const SIM_TCP_PORTS = [SESSION_PORT];
const SIM_UDP_PORTS = [9296, DDP_PORT_PS5];

/** a.b.c >= min (both dotted numbers). */
export function versionAtLeast(version: string, min: string): boolean {
  const a = version.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const b = min.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/** The ALSA cards of /proc/asound/cards: "0: bcm2835 Headphones". */
export function parseSoundCards(text: string): string[] {
  const cards: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+\[[^\]]*\]:\s*(.*?)\s*$/.exec(line);
    if (m) cards.push(`${m[1]}: ${m[2].split(' - ').pop() ?? m[2]}`);
  }
  return cards;
}

/** The root of the rptui package this code runs from (the folder of its package.json). */
export function findPackageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'rptui')
        return dir;
    } catch {
      // not here: one folder up
    }
  }
  return from;
}

const relogin = 'then log out and in again (or reboot) for it to count';

/** Group membership that a device needs: ok, added but not active in this login yet, or missing. */
function groupCheck(host: Host, id: string, label: string, group: string, forWhat: string): Check {
  const u = host.user();
  if (u.uid === 0) return { id, label, status: 'ok', detail: `running as root: ${forWhat} needs no group` };
  if (u.groups.includes(group)) return { id, label, status: 'ok', detail: `${u.name} is in "${group}"` };
  if (u.configuredGroups.includes(group))
    return {
      id,
      label,
      status: 'missing',
      detail: `${u.name} was added to "${group}" after this login began: ${forWhat} is denied until the next login`,
      fix: 'log out and in again (or reboot)',
    };
  return {
    id,
    label,
    status: 'missing',
    detail: `${u.name} is not in "${group}": ${forWhat} is denied`,
    fix: `sudo usermod -aG ${group} ${u.name || '$USER'}, ${relogin}`,
  };
}

function systemSection(host: Host, root: string): Section {
  const checks: Check[] = [];
  let version: string | undefined;
  try {
    // the package's own file, not the machine's: read directly
    version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    version = undefined;
  }
  checks.push({ id: 'rptui', label: 'rptui', status: 'info', detail: `${version ?? '?'} at ${root}` });
  const nodeOk = versionAtLeast(host.nodeVersion, MIN_NODE);
  checks.push({
    id: 'node',
    label: 'Node.js',
    status: nodeOk ? 'ok' : 'missing',
    detail:
      `${host.nodeVersion}${nodeOk ? '' : ` (rptui needs ${MIN_NODE} or newer)`}` +
      (host.nodeFlags.length ? `, started with ${host.nodeFlags.join(' ')}` : ''),
    ...(nodeOk ? {} : { fix: NODE_FIX }),
  });
  const pi = readPiModel(host);
  const os = host.readText('/etc/os-release')?.match(/^PRETTY_NAME="?([^"\n]*)"?$/m)?.[1];
  checks.push({
    id: 'machine',
    label: 'Machine',
    status: 'info',
    detail: [pi?.model ?? `${host.platform} ${host.arch}`, pi ? host.arch : undefined, os]
      .filter((x) => x !== undefined)
      .join(', '),
  });
  return { title: 'System', checks };
}

async function videoSection(host: Host): Promise<{ section: Section; probe: DecodeProbe }> {
  const checks: Check[] = [];
  const env = host.env;
  const ffplay = findTool('ffplay', { env });
  const ffmpeg = findTool('ffmpeg', { env });
  const versionOf = async (path: string) =>
    /version (\S+)/.exec((await host.run(path, ['-hide_banner', '-version'])).stdout)?.[1] ??
    'version unknown';
  if (ffplay.found)
    checks.push({
      id: 'ffplay',
      label: 'ffplay',
      status: 'ok',
      detail: `${ffplay.path} (${await versionOf(ffplay.path)}): the video window`,
    });
  else
    checks.push({
      id: 'ffplay',
      label: 'ffplay',
      status: 'missing',
      detail: `${ffplay.message}: no video window (recording to a file still works)`,
      fix: FFMPEG_FIX,
    });
  if (ffmpeg.found)
    checks.push({
      id: 'ffmpeg',
      label: 'ffmpeg',
      status: 'ok',
      detail: `${ffmpeg.path} (${await versionOf(ffmpeg.path)}${ffmpeg.via === 'ffmpeg-static' ? ', from the ffmpeg-static package' : ''}): recording to .mkv, the in-terminal picture`,
    });
  else
    checks.push({
      id: 'ffmpeg',
      label: 'ffmpeg',
      status: 'missing',
      detail: `${ffmpeg.message}: no .mkv recording (raw .h264 instead) and no in-terminal picture`,
      fix: FFMPEG_FIX,
    });

  const probe = await probeDecoding(host, {
    ffplay: ffplay.found ? ffplay.path : undefined,
    ffmpeg: ffmpeg.found ? ffmpeg.path : undefined,
  });
  const pi = probe.pi?.generation;
  for (const codec of ['h264', 'hevc'] as const) {
    const name = codec === 'h264' ? 'H.264' : 'HEVC';
    const id = `decode-${codec}`;
    const label = `${name} decoding`;
    if (!ffplay.found) {
      checks.push({ id, label, status: 'not-needed', detail: 'no ffplay to decode with' });
      continue;
    }
    const hw = hardwareDecoder(codec, probe);
    if (hw) {
      checks.push({ id, label, status: 'ok', detail: `hardware: ${hw.reason}` });
      continue;
    }
    const why = whyNoHardware(codec, probe);
    const device = probe.v4l2.find((d) => d.role === (codec === 'h264' ? 'h264-m2m' : 'hevc-request'));
    if (device && !device.usable) {
      const u = host.user();
      checks.push({
        id,
        label,
        status: 'missing',
        detail: `software: ${why}`,
        fix: `sudo usermod -aG video ${u.name || '$USER'}, ${relogin}`,
      });
    } else if ((pi === 4 && codec === 'h264') || (pi === 5 && codec === 'hevc')) {
      // the machine has the decoder, the player cannot use it: 1080p60 will not keep up
      checks.push({
        id,
        label,
        status: 'warn',
        detail: `software (${why}): use 720p`,
        fix:
          codec === 'h264'
            ? "Raspberry Pi OS's ffmpeg has h264_v4l2m2m: sudo apt install -y ffmpeg"
            : "Raspberry Pi OS's ffmpeg 7 (trixie) has the drm hwaccel: sudo apt install -y ffmpeg",
      });
    } else {
      checks.push({
        id,
        label,
        status: pi === undefined || pi >= 5 ? 'ok' : 'warn',
        detail: `software (${why})`,
      });
    }
  }
  checks.push({
    id: 'v4l2',
    label: 'V4L2 devices',
    status: 'info',
    detail:
      probe.v4l2.length === 0
        ? 'none'
        : probe.v4l2.map((d) => `${d.node} ${d.name}${d.usable ? '' : ' (no access)'}`).join('; '),
  });
  if (env.RPTUI_DECODER)
    checks.push({
      id: 'decoder-env',
      label: 'Decoder setting',
      status: 'info',
      detail: `$RPTUI_DECODER=${env.RPTUI_DECODER} replaces the automatic choice`,
    });
  checks.push(displayCheck(host));
  return { section: { title: 'Video', checks }, probe };
}

/** Where the ffplay window can go: X11, Wayland, KMS/DRM (SDL's drivers), and which one it will. */
function displayCheck(host: Host): Check {
  const env = host.env;
  const id = 'display';
  const label = 'Video output';
  const usable: string[] = [];
  const notes: string[] = [];
  if (env.DISPLAY) {
    const local = /^(?:unix)?:(\d+)/.exec(env.DISPLAY);
    if (local && !host.exists(`/tmp/.X11-unix/X${local[1]}`))
      notes.push(`DISPLAY=${env.DISPLAY} has no X server socket`);
    else usable.push(`x11 (DISPLAY=${env.DISPLAY})`);
  }
  if (env.WAYLAND_DISPLAY) {
    const socket = env.WAYLAND_DISPLAY.startsWith('/')
      ? env.WAYLAND_DISPLAY
      : join(env.XDG_RUNTIME_DIR ?? '/run/user/0', env.WAYLAND_DISPLAY);
    if (host.exists(socket)) usable.push(`wayland (${env.WAYLAND_DISPLAY})`);
    else notes.push(`WAYLAND_DISPLAY=${env.WAYLAND_DISPLAY} has no socket at ${socket}`);
  }
  const cards = host.list('/dev/dri').filter((e) => /^card\d+$/.test(e));
  const cardOk = cards.filter((c) => host.canAccess(`/dev/dri/${c}`, 'rw'));
  if (cardOk.length > 0) usable.push(`kmsdrm (/dev/dri/${cardOk[0]})`);
  else if (cards.length > 0)
    notes.push(`/dev/dri/${cards[0]} is not readable and writable (the "video" group)`);
  const pi = readPiModel(host) !== undefined;
  if (env.SDL_VIDEODRIVER)
    return {
      id,
      label,
      status: 'ok',
      detail: `SDL_VIDEODRIVER=${env.SDL_VIDEODRIVER} chooses; usable here: ${usable.join(', ') || 'none found'}`,
    };
  if (usable.some((u) => u.startsWith('x11') || u.startsWith('wayland')))
    return { id, label, status: 'ok', detail: `a window on ${usable[0]}; usable: ${usable.join(', ')}` };
  if (pi && cardOk.length > 0)
    return {
      id,
      label,
      status: 'ok',
      detail: "no X or Wayland: the picture goes to the Pi's screen through KMS/DRM (chosen by itself)",
    };
  const fix =
    cards.length > 0 && cardOk.length === 0
      ? `sudo usermod -aG video ${host.user().name || '$USER'}, ${relogin}`
      : cardOk.length > 0
        ? 'SDL_VIDEODRIVER=kmsdrm rptui ... (the screen of this machine), or DISPLAY=:0 when its desktop runs'
        : 'run rptui from the desktop, or with DISPLAY=:0 when the desktop runs; --video file:out.mkv records instead';
  return {
    id,
    label,
    status: 'missing',
    detail: `no display for the window${notes.length ? ` (${notes.join('; ')})` : ''}${usable.length ? `; usable: ${usable.join(', ')}` : ''}`,
    fix,
  };
}

function audioSection(host: Host, speakerModule: () => string | undefined): Section {
  const checks: Check[] = [];
  const linux = host.platform === 'linux';
  const pi = readPiModel(host) !== undefined;
  let haveCard = true;
  if (host.env.ALSA_CONFIG_PATH) {
    checks.push({
      id: 'sound-card',
      label: 'Sound device',
      status: 'ok',
      detail: `ALSA_CONFIG_PATH=${host.env.ALSA_CONFIG_PATH} chooses the device`,
    });
  } else if (linux) {
    const cards = parseSoundCards(host.readText('/proc/asound/cards') ?? '');
    haveCard = cards.length > 0;
    checks.push(
      haveCard
        ? { id: 'sound-card', label: 'Sound device', status: 'ok', detail: cards.join('; ') }
        : {
            id: 'sound-card',
            label: 'Sound device',
            status: 'missing',
            detail: 'no sound card: no sound (--audio file:out.wav records it)',
            fix: pi
              ? 'plug in HDMI or USB audio, or turn on the Pi\'s own: `echo "dtparam=audio=on" | sudo tee -a /boot/firmware/config.txt && sudo reboot`'
              : 'connect a sound device (USB, HDMI); check `aplay -l`',
          },
    );
    const pcm = host.list('/dev/snd').filter((e) => /^pcmC\d+D\d+p$/.test(e));
    if (haveCard && pcm.length > 0 && !pcm.some((p) => host.canAccess(`/dev/snd/${p}`, 'rw')))
      checks.push(groupCheck(host, 'sound-access', 'Sound permission', 'audio', 'opening /dev/snd'));
  }
  const mod = speakerModule();
  const built = mod !== undefined && host.exists(join(dirname(mod), 'build', 'Release', 'binding.node'));
  if (!haveCard)
    checks.push({
      id: 'speaker',
      label: 'speaker module',
      status: 'not-needed',
      detail: built
        ? 'installed; no sound card to play on'
        : 'not installed; no sound card to play on anyway',
    });
  else if (built)
    checks.push({
      id: 'speaker',
      label: 'speaker module',
      status: 'ok',
      detail: `built at ${dirname(mod!)}`,
    });
  else
    checks.push({
      id: 'speaker',
      label: 'speaker module',
      status: 'missing',
      detail:
        mod === undefined
          ? 'the optional `speaker` package is not installed (its build failed, or it was left out): no sound'
          : `the optional \`speaker\` package at ${dirname(mod)} was not built: no sound`,
      fix: 'sudo apt install -y libasound2-dev g++ make python3, then install rptui again (npm install -g rptui; in a checkout: npm ci)',
    });
  return { title: 'Audio', checks };
}

async function inputSection(host: Host, discover: () => Promise<Discovery>, root: string): Promise<Section> {
  const checks: Check[] = [];
  let found: Discovery;
  try {
    found = await discover();
  } catch (err) {
    found = { pads: [], backends: [] };
    checks.push({
      id: 'pads',
      label: 'Game pads',
      status: 'warn',
      detail: `cannot list: ${(err as Error).message}`,
    });
  }
  for (const b of found.backends)
    checks.push({
      id: `backend-${b.backend}`,
      label: `Backend ${b.backend}`,
      status: b.available ? 'ok' : b.backend === 'evdev' && host.platform !== 'linux' ? 'not-needed' : 'warn',
      detail: b.detail,
    });
  const pads = found.pads;
  checks.push({
    id: 'pads',
    label: 'Game pads',
    status: pads.length > 0 ? 'ok' : 'info',
    detail:
      pads.length === 0
        ? 'none connected (the keyboard plays; pads are picked up when plugged in)'
        : pads
            .map(
              (p) =>
                `${p.name} via ${p.backend} at ${p.path}${p.readable ? '' : ' (not readable)'}${p.rumble ? ', rumble' : ''}`,
            )
            .join('; '),
  });
  if (host.platform === 'linux') {
    checks.push(
      groupCheck(host, 'input-group', 'Group "input"', 'input', 'reading game pads (/dev/input/event*)'),
    );
    // Rumble for Sony pads: a plain write to their /dev/hidraw* node, which udev gives root only.
    const sony = pads.filter((p) => p.backend === 'evdev' && p.hidraw !== undefined);
    const rulePath = `/etc/udev/rules.d/${UDEV_RULES}`;
    const fix = `sudo cp ${join(root, 'config', 'udev', UDEV_RULES)} /etc/udev/rules.d/ && sudo udevadm control --reload && sudo udevadm trigger`;
    const denied = sony.filter((p) => !host.canAccess(p.hidraw!, 'w'));
    if (denied.length > 0)
      checks.push({
        id: 'hidraw',
        label: 'Rumble (hidraw)',
        status: 'missing',
        detail: `${denied.map((p) => p.hidraw).join(', ')} not writable: no rumble`,
        fix,
      });
    else if (sony.length > 0)
      checks.push({
        id: 'hidraw',
        label: 'Rumble (hidraw)',
        status: 'ok',
        detail: `${sony.map((p) => p.hidraw).join(', ')} writable`,
      });
    else
      checks.push({
        id: 'hidraw',
        label: 'Rumble (hidraw)',
        status: host.exists(rulePath) ? 'ok' : 'not-needed',
        detail: host.exists(rulePath)
          ? `${rulePath} lets the "input" group write Sony pads' hidraw`
          : 'no Sony pad connected; for rumble later, Sony pads need a udev rule',
        ...(host.exists(rulePath) ? {} : { fix }),
      });
  }
  return { title: 'Input', checks };
}

/** `answers`: undefined when there was no terminal to ask, null when it was not to be asked. */
function terminalSection(host: Host, answers: TerminalAnswers | undefined | null): Section {
  const env = host.env;
  const checks: Check[] = [];
  const truecolor = /^(truecolor|24bit)$/i.test(env.COLORTERM ?? '');
  checks.push(
    truecolor
      ? { id: 'colour', label: 'Colour', status: 'ok', detail: `24-bit (COLORTERM=${env.COLORTERM})` }
      : {
          id: 'colour',
          label: 'Colour',
          status: 'warn',
          detail: `${/256/.test(env.TERM ?? '') ? '256' : '16'} colours (TERM=${env.TERM ?? 'unset'}; COLORTERM does not say truecolor)`,
          fix: 'a terminal with 24-bit colour sets COLORTERM=truecolor; over SSH add `SendEnv COLORTERM` (client) and `AcceptEnv COLORTERM` (server)',
        },
  );
  if (!answers?.answered) {
    const why =
      answers === null
        ? 'not asked here (`rptui doctor` in the terminal asks it)'
        : answers === undefined
          ? 'not asked (stdin/stdout is not a terminal)'
          : 'the terminal did not answer the query';
    checks.push({ id: 'kitty-keyboard', label: 'Key releases', status: 'info', detail: why });
    checks.push({ id: 'graphics', label: 'Terminal graphics', status: 'info', detail: why });
    return { title: 'Terminal', checks };
  }
  checks.push(
    answers.kittyKeyboard
      ? {
          id: 'kitty-keyboard',
          label: 'Key releases',
          status: 'ok',
          detail: 'kitty keyboard protocol: real key releases',
        }
      : {
          id: 'kitty-keyboard',
          label: 'Key releases',
          status: 'warn',
          detail: `no kitty keyboard protocol${env.TMUX ? ' (tmux does not pass it on)' : ''}: a held key is guessed from auto-repeat`,
          fix: 'use kitty, WezTerm, foot, Ghostty, Alacritty 0.13+ or iTerm2 3.5+ (over SSH: the terminal you type in), or a game pad',
        },
  );
  const kinds = [
    answers.kittyGraphics ? 'kitty graphics' : undefined,
    answers.sixel ? 'sixel' : undefined,
  ].filter((k) => k !== undefined);
  checks.push(
    kinds.length > 0
      ? {
          id: 'graphics',
          label: 'Terminal graphics',
          status: 'ok',
          detail: `${kinds.join(', ')}: a real picture in the terminal`,
        }
      : {
          id: 'graphics',
          label: 'Terminal graphics',
          status: 'warn',
          detail: 'neither kitty graphics nor sixel: a picture in the terminal is drawn with coloured blocks',
          fix: 'kitty, WezTerm, Ghostty (kitty graphics), foot or xterm -ti vt340 (sixel)',
        },
  );
  return { title: 'Terminal', checks };
}

/** Whether the simulator's ports are free on `address` (each bound for a moment). */
async function simulatorPorts(host: Host, simulateHost: string): Promise<Check> {
  const busy: string[] = [];
  for (const port of SIM_TCP_PORTS) {
    const e = await host.tryBind('tcp', simulateHost, port);
    if (e !== undefined) busy.push(`TCP ${port}: ${e}`);
  }
  for (const port of SIM_UDP_PORTS) {
    const e = await host.tryBind('udp', simulateHost, port);
    if (e !== undefined) busy.push(`UDP ${port}: ${e}`);
  }
  return busy.length === 0
    ? {
        id: 'sim-ports',
        label: 'Simulator ports',
        status: 'ok',
        detail: `TCP ${SIM_TCP_PORTS.join(',')}, UDP ${SIM_UDP_PORTS.join(',')} free on ${simulateHost} (rptui --simulate)`,
      }
    : {
        id: 'sim-ports',
        label: 'Simulator ports',
        status: 'warn',
        detail: `on ${simulateHost}: ${busy.join('; ')}`,
        fix: hintFor(busy[0].split(': ')[1]),
      };
}

async function networkSection(host: Host, simulateHost: string | undefined): Promise<Section> {
  const checks: Check[] = [];
  const udp = await host.tryBind('udp', '0.0.0.0', 0);
  checks.push(
    udp === undefined
      ? { id: 'udp', label: 'UDP broadcast', status: 'ok', detail: 'discovery and wake-up can send' }
      : {
          id: 'udp',
          label: 'UDP broadcast',
          status: 'missing',
          detail: `cannot open a UDP socket: ${udp}`,
          fix: hintFor(udp),
        },
  );
  // A stateful firewall lets the console's answers to our stream through, but not the answers to
  // a broadcast (they come from the console's address, not the one we sent to).
  const ufw = /^ENABLED=yes/m.test(host.readText('/etc/ufw/ufw.conf') ?? '');
  const drop = /^DEFAULT_INPUT_POLICY="?(DROP|REJECT)/m.test(host.readText('/etc/default/ufw') ?? '');
  checks.push(
    ufw && drop
      ? {
          id: 'firewall',
          label: 'Firewall',
          status: 'warn',
          detail: 'ufw drops incoming packets: consoles answering discovery are not seen',
          fix: `sudo ufw allow proto udp from any port ${DDP_PORT_PS4},${DDP_PORT_PS5} to any`,
        }
      : {
          id: 'firewall',
          label: 'Firewall',
          status: 'ok',
          detail: 'no ufw firewall dropping incoming packets',
        },
  );
  if (simulateHost !== undefined) checks.push(await simulatorPorts(host, simulateHost));
  const start = Number(host.readText('/proc/sys/net/ipv4/ip_unprivileged_port_start')?.trim() ?? '1024');
  const privileged = host.user().uid === 0 || host.platform !== 'linux' || start <= DDP_PORT_PS4;
  checks.push({
    id: 'ps4-port',
    label: `UDP ${DDP_PORT_PS4}`,
    status: privileged ? 'ok' : 'not-needed',
    detail: privileged
      ? `a simulated PS4 can listen on UDP ${DDP_PORT_PS4}`
      : `only a simulated PS4 needs to listen on UDP ${DDP_PORT_PS4} (below ${start}: root only)`,
    ...(privileged ? {} : { fix: 'sudo sysctl net.ipv4.ip_unprivileged_port_start=0' }),
  });
  return { title: 'Network', checks };
}

function profileSection(probe: DecodeProbe): Section {
  const facts = {
    piGeneration: probe.pi?.generation,
    h264Hardware: hardwareDecoder('h264', probe) !== undefined,
    hevcHardware: hardwareDecoder('hevc', probe) !== undefined,
  };
  const describe = (kind: 'PS4' | 'PS5') => {
    const d = platformDefaults(kind, facts);
    return `${kind} ${d.resolution ?? '720p'} ${d.codec === 'h265' ? 'HEVC' : 'H.264'}`;
  };
  return {
    title: 'New profiles',
    checks: [
      {
        id: 'profile-defaults',
        label: 'Stream defaults',
        status: 'info',
        detail: `${describe('PS4')}, ${describe('PS5')} (rptui profiles / the settings screen change them)`,
      },
    ],
  };
}

/** Runs every check. Never throws: a probe that fails becomes a check that says so. */
export async function runDoctor(o: DoctorOptions): Promise<DoctorReport> {
  const host = o.host;
  const root = o.packageRoot ?? findPackageRoot();
  const raw = o.terminal === undefined ? null : await o.terminal();
  const video = await videoSection(host);
  const sections = [
    systemSection(host, root),
    video.section,
    audioSection(host, o.speakerModule ?? locateSpeakerModule),
    await inputSection(host, o.pads ?? (() => discoverPads({ platform: host.platform })), root),
    terminalSection(host, typeof raw === 'string' ? parseTerminalAnswers(raw) : raw),
    await networkSection(host, o.simulateHost),
    profileSection(video.probe),
  ];
  const summary: Record<CheckStatus, number> = { ok: 0, missing: 0, warn: 0, 'not-needed': 0, info: 0 };
  for (const s of sections) for (const c of s.checks) summary[c.status]++;
  return { sections, summary };
}

const MARK: Record<CheckStatus, string> = {
  ok: 'ok',
  missing: 'MISSING',
  warn: 'warn',
  'not-needed': 'not needed',
  info: '-',
};

/** The report as lines of text: one line per check, its fix indented below. */
export function formatReport(r: DoctorReport): string[] {
  const lines: string[] = [];
  for (const s of r.sections) {
    lines.push(s.title);
    for (const c of s.checks) {
      lines.push(`  ${MARK[c.status].padEnd(11)}${c.label.padEnd(22)}${c.detail}`);
      if (c.fix && c.status !== 'ok') lines.push(`  ${' '.repeat(33)}fix: ${c.fix}`);
    }
    lines.push('');
  }
  const m = r.summary;
  lines.push(
    `${m.ok} ok, ${m.missing} missing, ${m.warn} warnings, ${m['not-needed']} not needed` +
      (m.missing > 0 ? ': the fix lines say what to run' : ''),
  );
  return lines;
}
