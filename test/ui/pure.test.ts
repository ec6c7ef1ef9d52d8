// The TUI's pure helpers: graphs, formatting, status transitions, hotkeys, key map edits, pad
// menu keys, dialog sizing and settings validation.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FoundConsole } from '../../src/client/discovery.js';
import { keymapJson, loadKeymap, parseKeymap } from '../../src/input/keymap.js';
import { BUTTONS, IDLE_STATE, withButton } from '../../src/proto-stack/controller.js';
import { padMenuKeys } from '../../src/ui/app.js';
import {
  barGraph,
  fitText,
  formatDuration,
  formatKbps,
  History,
  sparkline,
  wrapText,
} from '../../src/ui/format.js';
import { nextStatus } from '../../src/ui/monitor.js';
import { rebind } from '../../src/ui/screens/keymap.js';
import { checkSetting } from '../../src/ui/screens/settings.js';
import { delta, hotkeyFor } from '../../src/ui/stream-input.js';
import { makeTheme, noColorRequested } from '../../src/ui/theme.js';
import { TextField, wrappedHeight } from '../../src/ui/widgets/dialog.js';

describe('wrapText', () => {
  it('breaks at spaces, and a word longer than a line wherever it must', () => {
    expect(wrapText('open this address in a browser', 12)).toEqual(['open this', 'address in a', 'browser']);
    expect(wrapText('see https://example.com/abcdef now', 10)).toEqual([
      'see',
      'https://ex',
      'ample.com/',
      'abcdef now',
    ]);
    expect(wrapText('', 5)).toEqual(['']);
    expect(wrapText('abc', 0)).toEqual(['a', 'b', 'c']);
  });

  it('keeps every character in order and no line is wider than asked (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'b', ' ', '/') }),
        fc.integer({ min: 1, max: 12 }),
        (text, w) => {
          const lines = wrapText(text, w);
          expect(lines.every((l) => l.length <= w)).toBe(true);
          expect(lines.join('').replace(/ /g, '')).toBe(text.replace(/ /g, ''));
        },
      ),
    );
  });
});

describe('sparkline', () => {
  it('scales to the largest value and right-aligns the newest sample', () => {
    expect(sparkline([1, 2, 4, 8], 6)).toBe('  ▁▂▄█');
    expect(sparkline([0, 0], 3)).toBe('   ');
    expect(sparkline([5, 10], 2, 20)).toBe('▂▄');
    expect(sparkline([1, 2, 3], 2)).toBe('▆█');
    expect(sparkline([1], 0)).toBe('');
  });

  it('taller graphs stack the levels, top row first', () => {
    expect(barGraph([4, 8], 2, 2)).toEqual([' █', '██']);
    expect(barGraph([1, 16], 3, 2)).toEqual(['  █', ' ▁█']);
    expect(barGraph([3], 1, 3, 24)).toEqual([' ', ' ', '▃']);
    fc.assert(
      fc.property(
        fc.array(fc.double()),
        fc.integer({ min: 0, max: 80 }),
        fc.integer({ min: 1, max: 5 }),
        (v, w, rows) => {
          const g = barGraph(v, w, rows);
          expect(g).toHaveLength(rows);
          for (const line of g) expect([...line].length).toBe(w);
        },
      ),
    );
  });

  it('is always exactly `width` bars or blanks, whatever the values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double(), fc.integer())),
        fc.integer({ min: 0, max: 200 }),
        (values, width) => {
          const s = sparkline(values, width);
          expect([...s].length).toBe(width);
          expect(s).toMatch(/^[ ▁▂▃▄▅▆▇█]*$/);
        },
      ),
    );
  });
});

describe('formatting', () => {
  it('bitrates, durations and fixed-width cells', () => {
    expect(formatKbps(0)).toBe('0 kbit/s');
    expect(formatKbps(Number.NaN)).toBe('0 kbit/s');
    expect(formatKbps(640)).toBe('640 kbit/s');
    expect(formatKbps(15_250)).toBe('15.3 Mbit/s');
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(61_500)).toBe('1:01');
    expect(formatDuration(3_725_000)).toBe('1:02:05');
    expect(fitText('abc', 5)).toBe('abc  ');
    expect(fitText('abcdef', 4)).toBe('abc…');
    expect(fitText('abc', 0)).toBe('');
  });

  it('History keeps the last values', () => {
    const h = new History(3);
    for (const v of [1, 2, 3, 4, Number.POSITIVE_INFINITY]) h.push(v);
    expect(h.values).toEqual([3, 4, 0]);
    expect(h.last).toBe(0);
    expect(delta(10, 4)).toBe(6);
    expect(delta(3, 4)).toBe(0);
    expect(delta(3, undefined)).toBe(0);
  });
});

describe('live status', () => {
  const found = (status: 'ready' | 'standby') => ({ status, runningAppName: 'Game' }) as FoundConsole;
  it('one missed poll keeps the last status, two make it offline', () => {
    const ready = nextStatus(undefined, found('ready'));
    expect(ready.status).toBe('ready');
    const once = nextStatus(ready, undefined);
    expect(once.status).toBe('ready');
    expect(nextStatus(once, undefined).status).toBe('offline');
    expect(nextStatus(undefined, undefined).status).toBe('offline');
    expect(nextStatus(once, found('standby')).status).toBe('standby');
  });
});

describe('stream hotkeys', () => {
  const map = loadKeymap('default', {});
  it('the exit hotkey and free ctrl combos are hotkeys; mapped keys never are', () => {
    expect(hotkeyFor('ctrl+q', map)).toBe('leave');
    expect(hotkeyFor('ctrl+x', map)).toBe('standby');
    expect(hotkeyFor('ctrl+t', map)).toBe('text');
    expect(hotkeyFor('space', map)).toBeUndefined();
    expect(hotkeyFor('x', map)).toBeUndefined();
    const taken = parseKeymap({ keys: { 'ctrl+x': 'square', '/': 'share' } }, 'test', 'test');
    expect(hotkeyFor('ctrl+x', taken)).toBeUndefined();
    expect(hotkeyFor('shift+/', taken)).toBeUndefined();
    expect(hotkeyFor('shift+/', map)).toBe('help');
  });
});

describe('key map edits', () => {
  const map = loadKeymap('default', {});
  it('rebinding replaces the control keys and moves a key off its old control', () => {
    const m = rebind(map, 'cross', 'z', false);
    expect(Object.entries(m.keys).filter(([, c]) => c === 'cross')).toEqual([['z', 'cross']]);
    const moved = rebind(map, 'triangle', 'space', false);
    expect(moved.keys.space).toBe('triangle');
    expect(Object.keys(moved.keys).filter((k) => moved.keys[k] === 'triangle')).toEqual(['space']);
    const added = rebind(map, 'cross', 'z', true);
    expect(
      Object.keys(added.keys)
        .filter((k) => added.keys[k] === 'cross')
        .sort(),
    ).toEqual(['enter', 'space', 'z']);
  });

  it('the exit hotkey can be rebound and never drives a control; saved JSON loads back', () => {
    const exit = rebind(map, 'leave stream (hotkey)', 'f10', false);
    expect(exit.exitHotkey).toBe('f10');
    const stolen = rebind(map, 'cross', 'ctrl+q', false);
    expect(stolen.exitHotkey).not.toBe('ctrl+q');
    for (const m of [exit, stolen]) {
      const back = parseKeymap(keymapJson(m, 'mine'), 'mine.json', 'mine');
      expect(back.keys).toEqual(m.keys);
      expect(back.exitHotkey).toBe(m.exitHotkey);
      expect(back.name).toBe('mine');
    }
  });
});

describe('game pad menu keys', () => {
  it('only fresh presses of the D-pad, cross and circle become keys', () => {
    const down = withButton(IDLE_STATE, 'dpad_down', true);
    expect(padMenuKeys(IDLE_STATE, down).map((k) => k.name)).toEqual(['down']);
    expect(padMenuKeys(down, down)).toEqual([]);
    const both = withButton(withButton(IDLE_STATE, 'cross', true), 'circle', true);
    expect(padMenuKeys(IDLE_STATE, both).map((k) => k.name)).toEqual(['enter', 'escape']);
    expect(padMenuKeys(IDLE_STATE, withButton(IDLE_STATE, 'square', true))).toEqual([]);
    expect(BUTTONS).toContain('dpad_up');
  });
});

describe('dialog pieces', () => {
  it('wrappedHeight counts wrapped rows without tags', () => {
    expect(wrappedHeight(['{bold}abc{/bold}', '', 'x'.repeat(25)], 10)).toBe(1 + 1 + 3);
  });

  it('TextField takes printable text only', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 3 })), (chunks) => {
        const f = new TextField('x', '', { maxLength: 20 });
        for (const ch of chunks) f.handleKey(ch, { name: ch });
        expect(f.value).not.toMatch(/\p{Cc}/u);
        expect([...f.value].length).toBeLessThanOrEqual(20);
      }),
    );
    const f = new TextField('PIN', '12');
    f.handleKey(undefined, { name: 'backspace' });
    expect(f.value).toBe('1');
    f.handleKey('\x15', { name: 'u', ctrl: true });
    expect(f.value).toBe('');
  });

  it('settings values are checked before they are saved', () => {
    expect(checkSetting('videoSink', 'ffplay')).toBeUndefined();
    expect(checkSetting('videoSink', 'file:')).toMatch(/needs a path/);
    expect(checkSetting('videoSink', 'vlc')).toMatch(/not a video output/);
    expect(checkSetting('audioSink', 'auto')).toBeUndefined();
    expect(checkSetting('bitrate', '400')).toMatch(/500 to 100000/);
    expect(checkSetting('bitrate', '8000')).toBeUndefined();
  });
});

describe('theme', () => {
  it('NO_COLOR turns colour tags off but keeps inverse and bold', () => {
    expect(noColorRequested({ NO_COLOR: '1' })).toBe(true);
    expect(noColorRequested({ NO_COLOR: '' })).toBe(false);
    expect(noColorRequested({})).toBe(false);
    const plain = makeTheme(false);
    expect(plain.ok('ready')).toBe('ready');
    expect(plain.selected('x')).toBe('{inverse}x{/inverse}');
    expect(makeTheme(true).ok('ready')).toBe('{green-fg}ready{/green-fg}');
  });
});

describe('wrapText: aligned columns and hanging indents', () => {
  it('breaks at spaces, keeps aligned columns, hangs continuation lines, cuts long words', () => {
    expect(wrapText('  ok   ffplay   /usr/bin/ffplay', 80)).toEqual(['  ok   ffplay   /usr/bin/ffplay']);
    // continuation under the last column that starts on the first line
    expect(wrapText('  ok   ffplay   the video window here', 28)).toEqual([
      '  ok   ffplay   the video',
      '                window here',
    ]);
    expect(wrapText('  fix: sudo usermod -aG input pi', 16, 2)).toEqual([
      '  fix: sudo',
      '    usermod -aG',
      '    input pi',
    ]);
    expect(wrapText('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
    expect(wrapText('', 10)).toEqual(['']);
  });

  it('never makes a line wider than asked and loses no word (fuzz)', () => {
    const word = fc.stringMatching(/^[a-z0-9/.-]{1,30}$/);
    fc.assert(
      fc.property(
        fc.nat({ max: 6 }),
        fc.array(word, { maxLength: 15 }),
        fc.integer({ min: 1, max: 60 }),
        fc.nat({ max: 8 }),
        (indent, words, width, hang) => {
          const lines = wrapText(' '.repeat(indent) + words.join(' '), width, hang);
          for (const l of lines) expect([...l].length).toBeLessThanOrEqual(width);
          expect(lines.join('').replace(/ /g, '')).toBe(words.join(''));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
