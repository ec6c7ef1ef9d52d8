// A small blessed screen laid out like the stream screen (a title line, a picture pane between
// text, a hint line) with the terminal picture in the pane, fed with the simulator's clip at
// 60 fps. picture-pane.test.ts runs it in tmux: p toggles the picture, d opens / closes a dialog
// over it, q quits. Argument: the picture mode (default blocks).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PictureMode } from '../../src/media/picture/caps.js';
import { CallbackOutput } from '../../src/media/picture/output.js';
import { probeTerminal } from '../../src/media/picture/probe.js';
import { TerminalPictureSink } from '../../src/media/picture/sink.js';
import { isKeyframe, splitAccessUnits } from '../../src/proto-stack/annexb.js';
import { loadBlessed } from '../../src/ui/blessed.js';
import { PicturePane } from '../../src/ui/picture-pane.js';
import { repoRoot } from '../helpers/vectors.js';

// the terminal is asked what it draws before blessed takes stdin (as the TUI must do)
const answers = await probeTerminal({ write: (s) => process.stdout.write(s) });
const b = await loadBlessed();
const screen = b.screen({ smartCSR: true, fullUnicode: true, warnings: false });
b.box({ parent: screen, top: 0, left: 0, width: '100%', height: 1, content: ' pane demo: streaming' });
const box = b.box({ parent: screen, top: 2, left: 1, width: '100%-2', height: '100%-5' });
const HINT = ' p picture  d dialog  q quit';
const hint = b.box({ parent: screen, bottom: 0, left: 0, width: '100%', height: 1, content: HINT });
const dialog = b.box({
  parent: screen,
  top: 'center',
  left: 'center',
  width: 30,
  height: 5,
  border: 'line',
  content: ' A DIALOG OVER THE PANE',
  hidden: true,
});

const sink = new TerminalPictureSink(
  {},
  {
    layout: 'pane',
    mode: (process.argv[2] ?? 'blocks') as PictureMode,
    answers,
    // blessed writes to stdout synchronously; the picture goes the same way, in turn with it
    output: new CallbackOutput((bytes) => screen.program.output.write(Buffer.from(bytes))),
  },
);
const pane = new PicturePane(screen, box, sink);
sink.start({ codec: 'h264', width: 1280, height: 720, fps: 60, title: 'pane demo' });

const frames = splitAccessUnits(
  readFileSync(join(repoRoot, 'test/fixtures/media/testsrc-720p60.h264')),
  'h264',
);
let i = 0;
const feed = setInterval(() => {
  const au = frames[i++ % frames.length];
  sink.write(au, isKeyframe(au, 'h264'));
}, 1000 / 60);
// the stream screen redraws its graphs twice a second
const redraw = setInterval(() => screen.render(), 500);

screen.key('p', () => {
  hint.setContent(`${HINT}  | ${pane.toggle() ? 'picture on' : 'picture off'}`);
  screen.render();
});
screen.key('d', () => {
  dialog.toggle();
  screen.render();
});
screen.key('q', async () => {
  clearInterval(feed);
  clearInterval(redraw);
  pane.destroy();
  await sink.close();
  screen.destroy();
  process.exit(0);
});
screen.render();
