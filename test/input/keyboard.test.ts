import { describe, expect, it } from 'vitest';
import { KeyboardController, type TerminalEvent, TerminalInputDecoder } from '../../src/input/keyboard.js';
import { type Keymap, parseKeymap } from '../../src/input/keymap.js';
import { KITTY_DISABLE, KITTY_ENABLE, KITTY_QUERY } from '../../src/input/kitty.js';
import { isPressed } from '../../src/proto-stack/controller.js';

const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
const keys = (evs: TerminalEvent[]): string[] =>
  evs.map((e) =>
    e.kind === 'key'
      ? `${e.mods.ctrl ? 'ctrl+' : ''}${e.mods.alt ? 'alt+' : ''}${e.mods.shift ? 'shift+' : ''}${e.key}:${e.type}`
      : e.kind,
  );

const testMap = (over: Record<string, unknown> = {}): Keymap =>
  parseKeymap(
    {
      keys: {
        space: 'cross',
        w: 'left_stick_up',
        s: 'left_stick_down',
        up: 'dpad_up',
        '3': 'r2',
        'shift+x': 'square',
      },
      releaseTimeoutMs: 120,
      initialHoldMs: 550,
      ...over,
    },
    'test.json',
    'test',
  );

describe('terminal input decoder: legacy sequences', () => {
  it('plain, shifted, ctrl, alt, enter, backspace, utf-8', () => {
    const d = new TerminalInputDecoder();
    expect(keys(d.feed(enc('aA\x11\x1bx\r\x7f\x09é '), 0))).toEqual([
      'a:press',
      'shift+a:press',
      'ctrl+q:press',
      'alt+x:press',
      'enter:press',
      'backspace:press',
      'tab:press',
      'é:press',
      'space:press',
    ]);
  });

  it('cursor and function keys in CSI and SS3 form, with xterm modifiers', () => {
    const d = new TerminalInputDecoder();
    const seq = '\x1b[A\x1bOB\x1b[1;5C\x1b[D\x1bOP\x1b[15~\x1b[24;2~\x1b[H\x1b[Z\x1b[3~';
    expect(keys(d.feed(enc(seq), 0))).toEqual([
      'up:press',
      'down:press',
      'ctrl+right:press',
      'left:press',
      'f1:press',
      'f5:press',
      'shift+f12:press',
      'home:press',
      'shift+tab:press',
      'delete:press',
    ]);
  });

  it('keeps a sequence split across reads, and turns a lone ESC into Escape after a timeout', () => {
    const d = new TerminalInputDecoder();
    expect(d.feed(enc('\x1b['), 0)).toEqual([]);
    expect(keys(d.feed(enc('1;5A'), 1))).toEqual(['ctrl+up:press']);
    expect(d.feed(enc('\x1b'), 10)).toEqual([]);
    expect(d.nextWakeup()).toBe(35);
    expect(d.flush(34)).toEqual([]);
    expect(keys(d.flush(35))).toEqual(['escape:press']);
    expect(d.nextWakeup()).toBeUndefined();
  });
});

/**
 * Sequences as kitty 0.3x sends them with flags 1|2|8 (disambiguate, event types, all keys as
 * escape codes): 'a' press/repeat/release, space, shift+x, the up arrow and F5 with event types,
 * a bare left shift, and the answers to the capability query.
 */
const KITTY = {
  queryAnswer: '\x1b[?0u\x1b[?62;c',
  aPress: '\x1b[97u',
  aRepeat: '\x1b[97;1:2u',
  aRelease: '\x1b[97;1:3u',
  spacePress: '\x1b[32u',
  spaceRepeat: '\x1b[32;1:2u',
  spaceRelease: '\x1b[32;1:3u',
  shiftPress: '\x1b[57441;2u',
  shiftXPress: '\x1b[120;2u',
  xReleaseAfterShift: '\x1b[120;1:3u',
  shiftRelease: '\x1b[57441;1:3u',
  upPress: '\x1b[A',
  upRepeat: '\x1b[1;1:2A',
  upRelease: '\x1b[1;1:3A',
  f5Release: '\x1b[15;1:3~',
  wPress: '\x1b[119u',
  wRelease: '\x1b[119;1:3u',
  ctrlQ: '\x1b[113;5u',
};

describe('terminal input decoder: kitty keyboard protocol', () => {
  it('decodes press, repeat and release events', () => {
    const d = new TerminalInputDecoder();
    const seq = [
      KITTY.aPress,
      KITTY.aRepeat,
      KITTY.aRelease,
      KITTY.shiftPress,
      KITTY.shiftXPress,
      KITTY.upRepeat,
    ];
    expect(keys(d.feed(enc(seq.join('') + KITTY.upRelease + KITTY.f5Release + KITTY.ctrlQ), 0))).toEqual([
      'a:press',
      'a:repeat',
      'a:release',
      'shift+left_shift:press',
      'shift+x:press',
      'up:repeat',
      'up:release',
      'f5:release',
      'ctrl+q:press',
    ]);
  });

  it('recognises the answers to the capability query', () => {
    const d = new TerminalInputDecoder();
    expect(d.feed(enc(KITTY.queryAnswer), 0)).toEqual([
      { kind: 'kitty-flags', flags: 0 },
      { kind: 'device-attributes' },
    ]);
  });
});

describe('keyboard controller with the kitty protocol', () => {
  const kittyController = (map = testMap()): KeyboardController => {
    const k = new KeyboardController(map);
    expect(k.startSequence()).toBe(KITTY_QUERY);
    const u = k.feed(enc(KITTY.queryAnswer), 0);
    expect(u.write).toBe(KITTY_ENABLE);
    expect(k.kittyActive).toBe(true);
    expect(k.stopSequence()).toBe(KITTY_DISABLE);
    return k;
  };

  it('holds a button from press to release, through repeats, with no timer', () => {
    const k = kittyController();
    let u = k.feed(enc(KITTY.spacePress), 1000);
    expect(u.changed).toBe(true);
    expect(isPressed(u.state, 'cross')).toBe(true);
    expect(k.nextWakeup()).toBeUndefined();
    u = k.feed(enc(KITTY.spaceRepeat), 1600);
    expect(u.changed).toBe(false);
    expect(k.tick(9000).changed).toBe(false);
    u = k.feed(enc(KITTY.spaceRelease), 9001);
    expect(u.changed).toBe(true);
    expect(isPressed(u.state, 'cross')).toBe(false);
  });

  it('moves the stick while w is down and centres it on release', () => {
    const k = kittyController();
    expect(k.feed(enc(KITTY.wPress), 0).state.leftY).toBe(-32768);
    expect(k.feed(enc(KITTY.wRelease), 5).state.leftY).toBe(0);
  });

  it('releases a shifted binding even if shift went up first', () => {
    const k = kittyController();
    expect(isPressed(k.feed(enc(KITTY.shiftPress + KITTY.shiftXPress), 0).state, 'square')).toBe(true);
    expect(isPressed(k.feed(enc(KITTY.shiftRelease), 1).state, 'square')).toBe(true);
    expect(isPressed(k.feed(enc(KITTY.xReleaseAfterShift), 2).state, 'square')).toBe(false);
  });

  it('the exit hotkey exits and touches nothing else', () => {
    const k = kittyController();
    const u = k.feed(enc(KITTY.ctrlQ), 0);
    expect(u.exit).toBe(true);
    expect(u.changed).toBe(false);
  });
});

describe('keyboard controller in a legacy terminal (timed release)', () => {
  const legacy = (map = testMap()): KeyboardController => {
    const k = new KeyboardController(map);
    k.feed(enc('\x1b[?1;2c'), 0); // device attributes without a kitty answer
    expect(k.kittyActive).toBe(false);
    return k;
  };

  it('a tap holds the button for initialHoldMs, then releases', () => {
    const k = legacy();
    expect(isPressed(k.feed(enc(' '), 100).state, 'cross')).toBe(true);
    expect(k.nextWakeup()).toBe(650);
    expect(k.tick(649).changed).toBe(false);
    const u = k.tick(650);
    expect(u.changed).toBe(true);
    expect(isPressed(u.state, 'cross')).toBe(false);
    expect(k.nextWakeup()).toBeUndefined();
  });

  it('a held key stays down while auto-repeat arrives and goes up releaseTimeoutMs after the last one', () => {
    const k = legacy();
    k.feed(enc(' '), 0);
    // OS auto-repeat: first after 500 ms, then every 33 ms until the key is let go at ~1000 ms
    let t = 500;
    for (; t <= 1000; t += 33) {
      expect(k.tick(t).changed).toBe(false);
      expect(k.feed(enc(' '), t).changed).toBe(false);
    }
    const last = t - 33;
    expect(k.nextWakeup()).toBe(last + 120);
    expect(isPressed(k.tick(last + 119).state, 'cross')).toBe(true);
    expect(isPressed(k.tick(last + 120).state, 'cross')).toBe(false);
  });

  it('tmux-style arrows (CSI) are timed too when kitty is off', () => {
    const k = legacy();
    expect(isPressed(k.feed(enc('\x1b[A'), 0).state, 'dpad_up')).toBe(true);
    expect(isPressed(k.tick(550).state, 'dpad_up')).toBe(false);
  });

  it('toggle mode latches a stick direction on a fresh press and ignores auto-repeat', () => {
    const k = legacy(testMap({ stickMode: 'toggle' }));
    expect(k.feed(enc('w'), 0).state.leftY).toBe(-32768);
    for (let t = 500; t < 800; t += 33) k.feed(enc('w'), t);
    expect(k.tick(5000).state.leftY).toBe(-32768);
    expect(k.feed(enc('s'), 6000).state.leftY).toBe(0); // up + down cancel
    expect(k.feed(enc('w'), 7000).state.leftY).toBe(32767);
  });

  it('triggers go to 255 and back', () => {
    const k = legacy();
    expect(k.feed(enc('3'), 0).state.r2).toBe(255);
    expect(k.tick(550).state.r2).toBe(0);
  });

  it('ctrl+q (0x11) is the exit hotkey; unmapped keys change nothing', () => {
    const k = legacy();
    expect(k.feed(enc('z'), 0).changed).toBe(false);
    expect(k.feed(enc('\x11'), 0).exit).toBe(true);
  });
});
