// The picture in the terminal, end to end: `rptui connect --video terminal --picture blocks` in a
// tmux pane against `rptui simulate`. The pane's cells (tmux capture-pane with colours) must show
// the clip's colour bars where its first frame has them (each bar region's median colour within
// a mean error of 40/255 per channel, see test/helpers/picture.ts) and change over time; the
// status line and --stats-json carry the picture's figures; and every way out (Ctrl-C, SIGHUP,
// the terminal closed, a watch-only session's q) disconnects and leaves the terminal as it was.
// Loopback addresses of this file: 127.0.0.120-127.0.0.122.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findTool } from '../../src/media/tools.js';
import { rptuiBin, useHarness } from '../helpers/cli.js';
import { type Box, cellsImage, compareBars, saturatedBox } from '../helpers/picture.js';
import { disconnects, pairedSimulator } from '../helpers/simulator.js';
import { alive, descendantPids, onPath } from '../helpers/system.js';
import { shellQuote, Tmux } from '../ui/tmux.js';

/** Mean error per channel (0..255) a bar region may show: blocks average a 16x16 pixel cell. */
const MAX_ERROR = 40;

const h = useHarness();
let term: Tmux | undefined;
afterEach(async () => {
  await term?.kill();
  term = undefined;
});

const haveTools = findTool('ffmpeg').found && onPath('tmux');

/** `rptui connect tv --video terminal ...` in a fresh pane, between two `stty -g` snapshots. */
async function connectInTmux(cfg: string, width: number, height: number, extra: string[] = []) {
  const before = join(cfg, 'stty-before');
  const after = join(cfg, 'stty-after');
  const stats = join(cfg, 'stats.json');
  const stderr = join(cfg, 'stderr.txt');
  const connect = [process.execPath, rptuiBin(), 'connect', 'tv', '--video', 'terminal', '--audio', 'none']
    .concat(['--duration', '60', '--no-gamepad', '--stats-json', stats, ...extra])
    .map(shellQuote)
    .join(' ');
  await term?.kill();
  const t = new Tmux();
  term = t;
  t.start({
    command: [
      'sh',
      '-c',
      `stty -g > ${shellQuote(before)}; ${connect} 2>${shellQuote(stderr)}; echo "[rptui exited $?]"; stty -g > ${shellQuote(after)}`,
    ],
    env: { RPTUI_CONFIG_DIR: cfg },
    width,
    height,
  });
  const ended = async () => {
    await t.waitFor('[rptui exited', 15_000);
    await t.waitFor(() => existsSync(after) && readFileSync(after, 'utf8').trim() !== '', 5000);
    return t.capture();
  };
  const sttyRestored = () => readFileSync(after, 'utf8') === readFileSync(before, 'utf8');
  /** The pane's modes: the alternate screen and the cursor. */
  const modes = () => t.tmux('display-message', '-p', '#{alternate_on} #{cursor_flag}').trim();
  /** The rptui process (the pane runs sh, which runs our sh, which runs node). */
  const pid = (): number => descendantPids(Number(t.tmux('display-message', '-p', '#{pane_pid}').trim()))[1];
  const stderrText = () => (existsSync(stderr) ? readFileSync(stderr, 'utf8') : '');
  const statsDoc = () => JSON.parse(readFileSync(stats, 'utf8'));
  return { t, ended, sttyRestored, modes, pid, stderrText, statsDoc };
}

/**
 * The pane as an image (two pixels per cell) and where the bars are in it, once a whole frame
 * shows at `want` with the clip's colours: a capture can catch a frame half drawn, so one capture
 * proves nothing either way. Fails with the last place and colours seen.
 */
async function picture(t: Tmux, cols: number, rows: number, want: Box, timeoutMs = 10_000) {
  let seen: { img: ReturnType<typeof cellsImage>; box: Box } | undefined;
  let off = 'no coloured picture in the pane';
  await t
    .waitFor(() => {
      const img = cellsImage(t.tmux('capture-pane', '-p', '-e', '-N'), cols, rows);
      const box = saturatedBox(img);
      if (!box) return false;
      seen = { img, box };
      if (box.x !== want.x || box.y !== want.y || box.width !== want.width || box.height !== want.height) {
        off = `the picture at ${JSON.stringify(box)}`;
        return false;
      }
      const bad = compareBars(img, box).filter((r) => r.error >= MAX_ERROR);
      off = `colours off: ${bad.map((r) => `${r.name}: shown ${r.shown}, clip ${r.expected}`).join('; ')}`;
      return bad.length === 0;
    }, timeoutMs)
    .catch((e) => {
      throw new Error(`${(e as Error).message}; ${off}`);
    });
  return seen!;
}

describe.skipIf(!haveTools)('rptui connect --video terminal in tmux', () => {
  it("80x24: the clip's colour bars, moving; the status line; picture.* in the stats; Ctrl-C restores the terminal", async () => {
    const { cfg, sim } = await pairedSimulator(h, '127.0.0.120');
    const run = await connectInTmux(cfg, 80, 24, ['--picture', 'blocks']);
    const { t } = run;
    await t.waitFor(/blocks 80x46 \d+ fps .* \d+ ms {2}\| {2}ctrl\+q leaves/, 20_000);
    expect(run.modes()).toBe('1 0'); // alternate screen, cursor hidden

    // 80 columns, 23 rows of picture above the status line: 80x46 pixels
    const first = await picture(t, 80, 24, { x: 0, y: 0, width: 80, height: 46 });
    const results = compareBars(first.img, first.box);
    console.info(
      `blocks 80x24, mean error per bar region: ${results.map((r) => r.error.toFixed(1)).join(', ')}`,
    );
    // it moves: the clip's line and square travel
    const a = t.tmux('capture-pane', '-p', '-e', '-N');
    let b = a;
    for (let i = 0; i < 40 && b === a; i++) {
      await new Promise((r) => setTimeout(r, 50));
      b = t.tmux('capture-pane', '-p', '-e', '-N');
    }
    expect(b).not.toBe(a);

    // the stats file carries the picture's figures (written every second)
    let doc = run.statsDoc();
    for (let i = 0; i < 40 && !(doc.picture?.shown > 30); i++) {
      await new Promise((r) => setTimeout(r, 100));
      doc = run.statsDoc();
    }
    expect(doc.picture).toMatchObject({ mode: 'blocks', width: 80, height: 46 });
    expect(doc.picture.fps).toBeGreaterThan(0);
    expect(doc.picture.kbps).toBeGreaterThan(0);
    expect(doc.picture.latencyMs).toBeGreaterThan(0);
    expect(doc.sinks.video.kind).toBe('terminal');

    // a bigger terminal: the picture is laid out again, larger
    t.resize(100, 30);
    await t.waitFor(/blocks 100x56 \d+ fps/, 10_000);
    // the new size decodes from the next key frame on
    await picture(t, 100, 30, { x: 0, y: 0, width: 100, height: 56 });

    t.send('C-c');
    await sim.waitFor((e) => disconnects([e]).length > 0, 5000);
    const end = await run.ended();
    expect(end).toContain('[rptui exited 0]');
    expect(end).not.toContain('▀'); // the picture went with the alternate screen
    expect(run.modes()).toBe('0 1');
    expect(run.sttyRestored()).toBe(true);
    // the lines that went to the status line are in stderr (a file here) too
    expect(run.stderrText()).toContain('picture: blocks (24-bit colour), as asked; 80x46');
    expect(run.stderrText()).toContain('disconnected (interrupted)');
  }, 90_000);

  it('200x60: the picture is 200x112 pixels, centred, with the same bars; SIGHUP disconnects and restores', async () => {
    const { cfg, sim } = await pairedSimulator(h, '127.0.0.121');
    const run = await connectInTmux(cfg, 200, 60, ['--picture', 'blocks']);
    const { t } = run;
    await t.waitFor(/blocks 200x112 \d+ fps/, 20_000);
    await picture(t, 200, 60, { x: 0, y: 2, width: 200, height: 112 });

    process.kill(run.pid(), 'SIGHUP');
    await sim.waitFor((e) => disconnects([e]).length > 0, 5000);
    expect(await run.ended()).toContain('[rptui exited 129]');
    expect(run.modes()).toBe('0 1');
    expect(run.sttyRestored()).toBe(true);
  }, 90_000);

  it('the terminal closed under it (tmux killed): DISCONNECT, and rptui exits; watch-only: q leaves', async () => {
    const { cfg, sim } = await pairedSimulator(h, '127.0.0.122');
    let run = await connectInTmux(cfg, 80, 24, ['--picture', 'blocks']);
    await run.t.waitFor(/blocks 80x46 \d+ fps/, 20_000);
    const pid = run.pid();
    expect(alive(pid)).toBe(true);
    await run.t.kill();
    term = undefined;
    await sim.waitFor((e) => disconnects([e]).length > 0, 5000);
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive(pid)).toBe(false);

    // --no-input: the keyboard is not the controller, but the terminal is still raw (no echo over
    // the picture) and q leaves
    run = await connectInTmux(cfg, 80, 24, ['--picture', 'ascii', '--no-input']);
    await run.t.waitFor(/ascii 80x23 \d+ fps/, 20_000);
    await sim.waitFor((e) => e.event === 'stream' && e.message === 'STREAMINFOACK');
    run.t.type('zz');
    await new Promise((r) => setTimeout(r, 300));
    expect(run.t.capture()).not.toContain('zz');
    run.t.type('q');
    await sim.waitFor(() => disconnects(sim.events()).length === 2, 5000);
    expect(await run.ended()).toContain('[rptui exited 0]');
    expect(run.modes()).toBe('0 1');
    expect(run.sttyRestored()).toBe(true);
    expect(sim.events().filter((e) => e.event === 'controller')).toEqual([]);
  }, 90_000);
});
