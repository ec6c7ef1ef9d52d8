// The picture pane in a blessed screen, in tmux at 80x24 and larger (picture-pane-app.ts): the
// clip's bars inside the pane's box and nowhere else, the text around it intact, the toggle
// taking the picture away and bringing it back, a dialog over the pane left readable, and a
// resized terminal followed.
import { afterEach, describe, expect, it } from 'vitest';
import { findTool } from '../../src/media/tools.js';
import { type Box, cellsImage, compareBars, saturatedBox } from '../helpers/picture.js';
import { onPath } from '../helpers/system.js';
import { repoRoot } from '../helpers/vectors.js';
import { Tmux } from './tmux.js';

const MAX_ERROR = 40;
let term: Tmux | undefined;
afterEach(async () => {
  await term?.kill();
  term = undefined;
});

function start(width: number, height: number, mode = 'blocks'): Tmux {
  const t = new Tmux();
  term = t;
  t.start({
    command: [
      'sh',
      '-c',
      `cd '${repoRoot}' && exec '${process.execPath}' --import tsx test/ui/picture-pane-app.ts ${mode}`,
    ],
    width,
    height,
  });
  return t;
}

/** The pane's picture, once it shows: the bars' box in the pane image (two pixels per cell). */
async function bars(
  t: Tmux,
  cols: number,
  rows: number,
  minWidth: number,
): Promise<{ box: Box; screen: string }> {
  let box: Box | undefined;
  let screen = '';
  let off = 'no picture';
  // A capture can catch a frame half drawn (its lower rows still black): wait for one whole frame
  // with the clip's colours; a picture that never gets them fails with the last colours seen.
  await t
    .waitFor(() => {
      screen = t.tmux('capture-pane', '-p', '-e', '-N');
      const img = cellsImage(screen, cols, rows);
      box = saturatedBox(img);
      if (box === undefined || box.width < minWidth) return false;
      const bad = compareBars(img, box).filter((r) => r.error >= MAX_ERROR);
      off = bad.map((r) => `${r.name}: ${r.shown} vs ${r.expected}`).join('; ');
      return bad.length === 0;
    }, 15_000)
    .catch((e) => {
      throw new Error(`${(e as Error).message}; colours off: ${off}`);
    });
  return { box: box!, screen };
}

const noPicture = (t: Tmux, cols: number, rows: number) =>
  saturatedBox(cellsImage(t.tmux('capture-pane', '-p', '-e', '-N'), cols, rows)) === undefined;

describe.skipIf(!findTool('ffmpeg').found || !onPath('tmux'))('the picture pane in a blessed screen', () => {
  it('80x24: inside the box, text around it intact; toggles off and on; a dialog over it stays readable', async () => {
    const t = start(80, 24);
    const { box } = await bars(t, 80, 24, 60);
    // the box: columns 1..78, rows 2..20 (19 rows); the picture fits its width, centred in its height
    expect(box.x).toBeGreaterThanOrEqual(1);
    expect(box.x + box.width).toBeLessThanOrEqual(79);
    expect(box.y).toBeGreaterThanOrEqual(2 * 2);
    expect(box.y + box.height).toBeLessThanOrEqual(21 * 2);
    const text = t.capture();
    expect(text.split('\n')[0]).toBe(' pane demo: streaming');
    expect(text).toContain(' p picture  d dialog  q quit');

    t.send('p');
    await t.waitFor(() => noPicture(t, 80, 24) && t.capture().includes('picture off'), 5000);
    t.send('p');
    await bars(t, 80, 24, 60); // back from the next key frame

    t.send('d');
    await t.waitFor('A DIALOG OVER THE PANE', 5000);
    // the picture stops under the dialog: its text is still there a while later
    await new Promise((r) => setTimeout(r, 600));
    expect(t.capture()).toContain('A DIALOG OVER THE PANE');
    t.send('d');
    await t.waitFor((s) => !s.includes('A DIALOG'), 5000);
    const again = await bars(t, 80, 24, 60);
    expect(again.screen).not.toContain('DIALOG');
    t.send('q');
    await t.waitFor('[exited 0]', 5000);
  }, 60_000);

  it('120x40, then resized to 100x30: the picture follows the box', async () => {
    const t = start(120, 40);
    const big = await bars(t, 120, 40, 110);
    expect(big.box.width).toBeGreaterThan(100);
    t.resize(100, 30);
    await t.waitFor(() => {
      const b = saturatedBox(cellsImage(t.tmux('capture-pane', '-p', '-e', '-N'), 100, 30));
      return b !== undefined && b.x + b.width <= 99 && b.width >= 80;
    }, 15_000);
    await bars(t, 100, 30, 80);
    t.send('q');
    await t.waitFor('[exited 0]', 5000);
  }, 60_000);
});
