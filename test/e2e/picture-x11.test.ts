// The picture in real terminal emulators with graphics, under Xvfb: `rptui connect --video
// terminal` (mode auto: the terminal is asked) against `rptui simulate`, in Debian's xterm
// started as a VT340 (sixel) and in kitty (kitty graphics, software OpenGL). A screenshot must
// show the clip's colour bars where its first frame has them: every bar region's median colour
// within a mean error of 40/255 per channel (test/helpers/picture.ts), in a picture of about the
// size the layout gives; two screenshots differ (it plays). Closing the terminal (the emulator
// killed: its shell gets SIGHUP) disconnects from the console and ends rptui.
// Loopback addresses of this file: 127.0.0.123-127.0.0.124.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTool } from '../../src/media/tools.js';
import { rptuiBin, useHarness } from '../helpers/cli.js';
import {
  compareBars,
  KITTY_ENV,
  kittyWindow,
  type RgbImage,
  saturatedBox,
  screenshot,
  xtermSixel,
} from '../helpers/picture.js';
import { disconnects, pairedSimulator } from '../helpers/simulator.js';
import { alive, descendantPids, onPath, startXvfb, type Xvfb } from '../helpers/system.js';
import { shellQuote } from '../ui/tmux.js';

/** Mean error per channel (0..255) a bar region may show (sixel: a 6x7x6 colour cube). */
const MAX_ERROR = 40;

const h = useHarness();
const haveX = findTool('ffmpeg').found && onPath('Xvfb') && onPath('import') && onPath('xwininfo');
let xvfb: Xvfb | undefined;
beforeAll(async () => {
  if (haveX) xvfb = await startXvfb(1280, 720);
});
afterAll(() => xvfb?.stop());

/**
 * Streams from a simulated console into a terminal emulator (`emulator(shellCommand)` gives its
 * command line); waits for a picture on the screen and returns what is needed to look at it.
 */
async function playIn(host: string, emulator: (cmd: string) => string[], env: Record<string, string> = {}) {
  const { cfg, sim } = await pairedSimulator(h, host);
  const stderr = join(cfg, 'stderr.txt');
  const connect = [process.execPath, rptuiBin(), 'connect', 'tv', '--video', 'terminal', '--audio', 'none']
    .concat(['--duration', '60', '--no-gamepad'])
    .map(shellQuote)
    .join(' ');
  const [cmd, ...args] = emulator(`${connect} 2>${shellQuote(stderr)}`);
  const term: ChildProcess = spawn(cmd, args, {
    env: { ...process.env, DISPLAY: xvfb!.display, RPTUI_CONFIG_DIR: cfg, LANG: 'C.UTF-8', ...env },
    stdio: 'ignore',
  });
  h.defer(async () => {
    if (term.exitCode === null) term.kill('SIGKILL');
  });
  const said = () => (existsSync(stderr) ? readFileSync(stderr, 'utf8') : '');
  /** Screenshots until one shows a picture of at least `minWidth` pixels. */
  const shot = async (
    minWidth: number,
  ): Promise<{ img: RgbImage; box: NonNullable<ReturnType<typeof saturatedBox>> }> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const img = screenshot(xvfb!.display);
      const box = saturatedBox(img);
      if (box && box.width >= minWidth) return { img, box };
      if (Date.now() > deadline) throw new Error(`no picture on the screen; rptui said:\n${said()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  return { sim, term, said, shot };
}

async function closeAndCheck(run: Awaited<ReturnType<typeof playIn>>): Promise<void> {
  const rptui = descendantPids(run.term.pid!);
  expect(rptui.length).toBeGreaterThan(0);
  // what a window manager's close does in the end: the emulator goes, its shell gets SIGHUP
  run.term.kill('SIGTERM');
  await run.sim.waitFor((e) => disconnects([e]).length > 0, 10_000);
  for (let i = 0; i < 100 && rptui.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
  expect(rptui.filter(alive)).toEqual([]);
}

/** It plays: a later screenshot differs from `first`. */
async function changes(
  run: Awaited<ReturnType<typeof playIn>>,
  first: RgbImage,
  minWidth: number,
): Promise<void> {
  const same = (img: RgbImage) => Buffer.from(img.data).equals(Buffer.from(first.data));
  let later = (await run.shot(minWidth)).img;
  for (let i = 0; i < 20 && same(later); i++) later = (await run.shot(minWidth)).img;
  expect(same(later)).toBe(false);
}

function checkBars(img: RgbImage, box: NonNullable<ReturnType<typeof saturatedBox>>, what: string): void {
  const results = compareBars(img, box);
  for (const r of results)
    expect(r.error, `${r.name}: shown ${r.shown}, clip ${r.expected}`).toBeLessThan(MAX_ERROR);
  console.info(
    `${what}: picture ${box.width}x${box.height} at ${box.x},${box.y}; mean error per bar region ${results.map((r) => r.error.toFixed(1)).join(', ')}`,
  );
}

describe.skipIf(!haveX || !onPath('xterm'))('sixel in xterm -ti vt340', () => {
  it('asks the terminal, draws sixel: the clip in the screenshot, playing; closing xterm disconnects', async () => {
    const run = await playIn('127.0.0.123', xtermSixel);
    const first = await run.shot(600);
    expect(run.said()).toMatch(/picture: sixel, the terminal draws sixel; \d+x\d+/);
    checkBars(first.img, first.box, 'xterm -ti vt340 (sixel)');
    await changes(run, first.img, 600);
    await closeAndCheck(run);
  }, 120_000);
});

describe.skipIf(!haveX || !onPath('kitty'))('kitty graphics in kitty', () => {
  it('asks the terminal, draws kitty images: the clip in the screenshot, playing; closing kitty disconnects', async () => {
    const run = await playIn('127.0.0.124', kittyWindow, KITTY_ENV);
    const first = await run.shot(500);
    expect(run.said()).toMatch(/picture: kitty, the terminal takes kitty graphics; \d+x\d+/);
    checkBars(first.img, first.box, 'kitty');
    await changes(run, first.img, 500);
    await closeAndCheck(run);
  }, 120_000);
});
