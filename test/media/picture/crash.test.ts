// A crash while the picture holds the terminal: the process 'exit' handler must put the terminal
// back (alternate screen left, cursor shown) before Node prints the error. Runs a script with the
// screen-layout sink in a tmux pane and reads the pane's modes after it died.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findTool } from '../../../src/media/tools.js';
import { onPath } from '../../helpers/system.js';
import { repoRoot } from '../../helpers/vectors.js';
import { shellQuote, Tmux } from '../../ui/tmux.js';

let term: Tmux | undefined;
afterEach(async () => {
  await term?.kill();
  term = undefined;
});

const SCRIPT = `
import { TerminalPictureSink } from './src/media/picture/sink.ts';
const sink = new TerminalPictureSink({}, { layout: 'screen', mode: 'blocks', answers: {} });
sink.start({ codec: 'h264', width: 1280, height: 720, fps: 60, title: 'crash test' });
console.error('picture up: ' + sink.active);
setTimeout(() => { throw new Error('a bug in rptui'); }, 300);
`;

describe.skipIf(!findTool('ffmpeg').found || !onPath('tmux'))('the terminal after a crash', () => {
  it('leaves the alternate screen and shows the cursor again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rptui-crash-'));
    const stderr = join(dir, 'stderr.txt');
    const t = new Tmux();
    term = t;
    t.start({
      command: [
        'sh',
        '-c',
        `cd ${shellQuote(repoRoot)} && '${process.execPath}' --import tsx --input-type=module -e ${shellQuote(SCRIPT)} 2>${shellQuote(stderr)}`,
      ],
      width: 80,
      height: 24,
    });
    await t.waitFor('[exited', 15_000);
    const said = readFileSync(stderr, 'utf8');
    rmSync(dir, { recursive: true, force: true });
    expect(said).toContain('picture up: true');
    expect(said).toContain('Error: a bug in rptui');
    expect(t.capture()).toMatch(/\[exited [1-9]\d*\]/);
    // back on the main screen, cursor visible
    expect(t.tmux('display-message', '-p', '#{alternate_on} #{cursor_flag}').trim()).toBe('0 1');
  }, 30_000);
});
