// rptui doctor's checks on made-up machines (a Pi 4 with no ffplay, no sound card and a user
// outside the "input" group; a Pi 4 that has everything) and on this machine as it is.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { realHost } from '../../src/common/host.js';
import {
  type Check,
  type DoctorReport,
  findPackageRoot,
  formatReport,
  parseSoundCards,
  runDoctor,
  versionAtLeast,
} from '../../src/doctor/checks.js';
import { TERMINAL_QUERY } from '../../src/doctor/terminal.js';
import type { Discovery } from '../../src/input/gamepad/index.js';
import { decoderListing, type FakeMachine, fakeHost, piFiles } from '../helpers/host.js';
import { repoRoot } from '../helpers/vectors.js';

const PI4 = 'Raspberry Pi 4 Model B Rev 1.4';
const ASOUND =
  ' 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones\n                      bcm2835 Headphones\n';
const tmp = mkdtempSync(join(tmpdir(), 'rptui-doctor-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A PATH folder holding these tools (empty scripts: the fake host answers for them). */
function toolDir(tools: string[]): string {
  const dir = mkdtempSync(join(tmp, 'bin-'));
  for (const t of tools) writeFileSync(join(dir, t), '#!/bin/sh\n', { mode: 0o755 });
  return dir;
}

/** ffplay / ffmpeg answers of a Raspberry Pi OS bookworm ffmpeg (5.1, v4l2m2m decoders, no ffplay -hwaccel). */
const piFfmpeg: FakeMachine['run'] = (name, args) => {
  if (name !== 'ffplay' && name !== 'ffmpeg') return undefined;
  if (args.includes('-version'))
    return { stdout: `${name} version 5.1.6-0+deb12u1+rpt3 Copyright (c) 2000-2024\n` };
  if (args.includes('-decoders')) return { stdout: decoderListing(['h264', 'h264_v4l2m2m', 'hevc']) };
  if (args.includes('-hwaccels')) return { stdout: 'Hardware acceleration methods:\ndrm\n' };
  return { stdout: '' };
};

const noPads = async (): Promise<Discovery> => ({
  pads: [],
  backends: [
    { backend: 'hid', available: false, detail: 'node-hid is not installed' },
    { backend: 'evdev', available: true, detail: 'reads /dev/input/event*' },
  ],
});

const byId = (r: DoctorReport, id: string): Check => {
  const c = r.sections.flatMap((s) => s.checks).find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id}`);
  return c;
};

describe('a Pi 4 with no ffplay, no sound card and a user outside the input group', () => {
  const path = toolDir(['ffmpeg']);
  const host = fakeHost({
    nodeVersion: '18.19.0',
    nodeFlags: ['--max-semi-space-size=1'],
    env: { PATH: path, TERM: 'xterm-256color' },
    files: {
      ...piFiles(PI4, { video10: 'bcm2835-codec-decode', video11: 'bcm2835-codec-encode' }),
      '/dev/dri/card1': '',
      '/etc/ufw/ufw.conf': 'ENABLED=yes\n',
      '/etc/default/ufw': 'DEFAULT_INPUT_POLICY="DROP"\n',
      '/proc/sys/net/ipv4/ip_unprivileged_port_start': '1024\n',
    },
    run: piFfmpeg,
    user: { name: 'pi', uid: 1000, groups: ['pi', 'video'], configuredGroups: ['video'] },
    bind: (proto, _a, port) => (proto === 'tcp' && port === 9295 ? 'EADDRINUSE' : undefined),
  });
  const report = runDoctor({
    host,
    pads: noPads,
    terminal: async () => undefined,
    speakerModule: () => undefined,
    packageRoot: '/opt/rptui',
    simulateHost: '127.0.0.110',
  });

  it('says what is missing, each with the command that fixes it on Raspberry Pi OS', async () => {
    const r = await report;
    expect(byId(r, 'node')).toMatchObject({
      status: 'missing',
      detail: '18.19.0 (rptui needs 20.19.0 or newer), started with --max-semi-space-size=1',
    });
    expect(byId(r, 'node').fix).toMatch(/sudo apt install -y nodejs npm/);
    expect(byId(r, 'machine').detail).toContain(PI4);
    expect(byId(r, 'ffplay')).toMatchObject({ status: 'missing', fix: 'sudo apt install -y ffmpeg' });
    expect(byId(r, 'ffmpeg')).toMatchObject({ status: 'ok' });
    expect(byId(r, 'ffmpeg').detail).toContain('5.1.6-0+deb12u1+rpt3');
    expect(byId(r, 'decode-h264')).toMatchObject({
      status: 'not-needed',
      detail: 'no ffplay to decode with',
    });
    expect(byId(r, 'v4l2').detail).toBe(
      '/dev/video10 bcm2835-codec-decode; /dev/video11 bcm2835-codec-encode',
    );
    // no X, no Wayland: the Pi's screen through KMS/DRM
    expect(byId(r, 'display')).toMatchObject({ status: 'ok' });
    expect(byId(r, 'display').detail).toMatch(/KMS\/DRM \(chosen by itself\)/);
    expect(byId(r, 'sound-card')).toMatchObject({ status: 'missing' });
    expect(byId(r, 'sound-card').fix).toMatch(/dtparam=audio=on.*\/boot\/firmware\/config.txt/);
    expect(byId(r, 'speaker')).toMatchObject({ status: 'not-needed' });
    expect(byId(r, 'input-group')).toMatchObject({
      status: 'missing',
      fix: 'sudo usermod -aG input pi, then log out and in again (or reboot) for it to count',
    });
    expect(byId(r, 'hidraw')).toMatchObject({ status: 'not-needed' });
    expect(byId(r, 'hidraw').fix).toBe(
      'sudo cp /opt/rptui/config/udev/70-rptui-pads.rules /etc/udev/rules.d/ && sudo udevadm control --reload && sudo udevadm trigger',
    );
    expect(byId(r, 'backend-hid')).toMatchObject({ status: 'warn', detail: 'node-hid is not installed' });
    expect(byId(r, 'colour')).toMatchObject({ status: 'warn' });
    expect(byId(r, 'kitty-keyboard')).toMatchObject({
      status: 'info',
      detail: 'not asked (stdin/stdout is not a terminal)',
    });
    expect(byId(r, 'firewall')).toMatchObject({
      status: 'warn',
      fix: 'sudo ufw allow proto udp from any port 987,9302 to any',
    });
    expect(byId(r, 'sim-ports')).toMatchObject({
      status: 'warn',
      detail: 'on 127.0.0.110: TCP 9295: EADDRINUSE',
    });
    expect(byId(r, 'ps4-port')).toMatchObject({ status: 'not-needed' });
    expect(r.summary.missing).toBe(4);
  });

  it('prints one line per check with its fix below', async () => {
    const text = formatReport(await report);
    expect(text).toContain(
      '  MISSING    ffplay                ffplay not found on PATH: no video window (recording to a file still works)',
    );
    expect(text).toContain(`${' '.repeat(35)}fix: sudo apt install -y ffmpeg`);
    expect(text.at(-1)).toMatch(
      /^\d+ ok, 4 missing, \d+ warnings, \d+ not needed: the fix lines say what to run$/,
    );
  });
});

describe('a Pi 4 with everything, in a terminal that speaks the kitty protocols', () => {
  const path = toolDir(['ffplay', 'ffmpeg']);
  const speaker = join(tmp, 'speaker');
  const host = fakeHost({
    env: { PATH: path, COLORTERM: 'truecolor', DISPLAY: ':0' },
    files: {
      ...piFiles(PI4, { video10: 'bcm2835-codec-decode', video19: 'rpivid' }),
      '/proc/asound/cards': ASOUND,
      '/dev/snd/pcmC0D0p': '',
      '/dev/hidraw0': '',
      '/tmp/.X11-unix/X0': '',
      [join(speaker, 'build/Release/binding.node')]: '',
    },
    run: piFfmpeg,
    user: { name: 'pi', uid: 1000, groups: ['pi', 'video', 'input', 'audio'] },
  });
  const withPad = async (): Promise<Discovery> => ({
    pads: [
      {
        id: 'evdev:/dev/input/event5',
        backend: 'evdev',
        name: 'Wireless Controller',
        family: 'dualsense',
        vendorId: 0x054c,
        productId: 0x0ce6,
        path: '/dev/input/event5',
        readable: true,
        rumble: true,
        hidraw: '/dev/hidraw0',
      },
    ],
    backends: [{ backend: 'evdev', available: true, detail: 'reads /dev/input/event*' }],
  });
  const answers = '\x1b_Gi=31;OK\x1b\\\x1b[?0u\x1b[?62;4;22c';

  it('is all ok, with hardware H.264 and the picture in an X window', async () => {
    const r = await runDoctor({
      host,
      pads: withPad,
      terminal: async () => answers,
      speakerModule: () => join(speaker, 'index.js'),
      packageRoot: repoRoot,
      simulateHost: '127.0.0.110',
    });
    expect(byId(r, 'decode-h264')).toMatchObject({ status: 'ok' });
    expect(byId(r, 'decode-h264').detail).toBe(
      'hardware: h264_v4l2m2m on /dev/video10 (bcm2835-codec-decode)',
    );
    // the device is there, but this ffplay (5.1) has no -hwaccel: HEVC in software, said as such
    expect(byId(r, 'decode-hevc')).toMatchObject({ status: 'warn' });
    expect(byId(r, 'decode-hevc').detail).toMatch(/software .*no -hwaccel option/);
    expect(byId(r, 'display').detail).toMatch(/^a window on x11 \(DISPLAY=:0\); usable: x11 \(DISPLAY=:0\)$/);
    expect(byId(r, 'sound-card')).toMatchObject({ status: 'ok', detail: '0: bcm2835 Headphones' });
    expect(byId(r, 'speaker').status).toBe('ok');
    expect(byId(r, 'pads').detail).toBe('Wireless Controller via evdev at /dev/input/event5, rumble');
    expect(byId(r, 'hidraw')).toMatchObject({ status: 'ok', detail: '/dev/hidraw0 writable' });
    expect(byId(r, 'kitty-keyboard').status).toBe('ok');
    expect(byId(r, 'graphics')).toMatchObject({
      status: 'ok',
      detail: 'kitty graphics, sixel: a real picture in the terminal',
    });
    expect(byId(r, 'profile-defaults').detail).toMatch(/^PS4 1080p H\.264, PS5 1080p H\.264/);
    expect(byId(r, 'rptui').detail).toBe(`0.1.0 at ${repoRoot}`);
    expect(r.summary.missing).toBe(0);
  });

  it('says when the user joined a group after logging in, and what the video group blocks', async () => {
    const late = fakeHost({
      env: { PATH: path },
      files: piFiles(PI4, { video10: 'bcm2835-codec-decode' }),
      denied: (p) => p === '/dev/video10',
      run: piFfmpeg,
      user: { name: 'pi', uid: 1000, groups: ['pi'], configuredGroups: ['input'] },
    });
    const r = await runDoctor({ host: late, pads: noPads, speakerModule: () => undefined });
    expect(byId(r, 'input-group')).toMatchObject({
      status: 'missing',
      fix: 'log out and in again (or reboot)',
    });
    expect(byId(r, 'decode-h264')).toMatchObject({
      status: 'missing',
      fix: 'sudo usermod -aG video pi, then log out and in again (or reboot) for it to count',
    });
    expect(byId(r, 'decode-h264').detail).toMatch(/video10 is not readable and writable/);
    // no simulator address given (the TUI): its ports are not tried
    expect(r.sections.flatMap((s) => s.checks).some((c) => c.id === 'sim-ports')).toBe(false);
    // no terminal probe given (the TUI): not asked, and said so
    expect(byId(r, 'graphics').detail).toBe('not asked here (`rptui doctor` in the terminal asks it)');
  });
});

describe('helpers', () => {
  it('compares versions and reads ALSA card lists', () => {
    expect(versionAtLeast('20.19.0', '20.19.0')).toBe(true);
    expect(versionAtLeast('22.1.0', '20.19.0')).toBe(true);
    expect(versionAtLeast('20.18.9', '20.19.0')).toBe(false);
    expect(versionAtLeast('18.20.4', '20.19.0')).toBe(false);
    expect(parseSoundCards(ASOUND)).toEqual(['0: bcm2835 Headphones']);
    expect(parseSoundCards('--- no soundcards ---\n')).toEqual([]);
  });

  it('finds the package root from the sources and from the bundle', () => {
    expect(findPackageRoot(join(repoRoot, 'src', 'doctor'))).toBe(repoRoot);
    expect(findPackageRoot(join(repoRoot, 'dist'))).toBe(repoRoot);
    expect(findPackageRoot()).toBe(repoRoot);
  });
});

describe('this machine as it is', () => {
  it('runs every check and gives each a status and a detail; what is missing has a fix', async () => {
    const r = await runDoctor({
      host: realHost(),
      terminal: async () => TERMINAL_QUERY,
      simulateHost: '127.0.0.111',
    });
    const all = r.sections.flatMap((s) => s.checks);
    expect(r.sections.map((s) => s.title)).toEqual([
      'System',
      'Video',
      'Audio',
      'Input',
      'Terminal',
      'Network',
      'New profiles',
    ]);
    for (const c of all) {
      expect(c.detail.length).toBeGreaterThan(0);
      if (c.status === 'missing') expect(c.fix).toBeTruthy();
    }
    expect(byId(r, 'node').status).toBe('ok');
    expect(byId(r, 'node').detail.startsWith(process.versions.node)).toBe(true);
    expect(byId(r, 'sim-ports').status).toBe('ok');
    expect(byId(r, 'udp').status).toBe('ok');
    // the query itself as the "answer": no terminal replied to it
    expect(byId(r, 'kitty-keyboard').detail).toBe('the terminal did not answer the query');
    expect(Object.values(r.summary).reduce((a, b) => a + b, 0)).toBe(all.length);
  });
});
