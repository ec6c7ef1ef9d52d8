// PlayInput with a fake terminal, a fake process and a fake session: raw mode and the kitty
// protocol are always undone (stop, exit hotkey, Ctrl-C, signals, hang-up, process exit, uncaught
// error), the exit hotkey ends the session with a disconnect, rumble reaches the pad or is counted.
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PlayInput, type PlayInputOptions, resolveKeymap } from '../../src/client/play-input.js';
import type { ConsoleMessage } from '../../src/common/session-api.js';
import type { PadInfo } from '../../src/input/gamepad/index.js';
import { parseKeymap } from '../../src/input/keymap.js';
import { KITTY_DISABLE, KITTY_ENABLE, KITTY_QUERY } from '../../src/input/kitty.js';
import { type ControllerState, IDLE_STATE, isPressed } from '../../src/proto-stack/controller.js';
import { useHarness } from '../helpers/cli.js';

class FakeTty extends EventEmitter {
  raw: boolean[] = [];
  paused = true;
  constructor(readonly isTTY: boolean) {
    super();
  }
  setRawMode(r: boolean) {
    this.raw.push(r);
  }
  resume() {
    this.paused = false;
  }
  pause() {
    this.paused = true;
  }
  type(s: string) {
    this.emit('data', Buffer.from(s, 'utf8'));
  }
  /** Raw mode is off now (never switched on, or switched back). */
  get restored(): boolean {
    return this.raw.at(-1) !== true;
  }
}

class FakeSession extends EventEmitter {
  states: ControllerState[] = [];
  disconnects: (string | undefined)[] = [];
  setController(s: ControllerState) {
    this.states.push(s);
  }
  async disconnect(message?: string) {
    this.disconnects.push(message);
  }
  console(m: ConsoleMessage) {
    this.emit('console', m);
  }
}

const map = parseKeymap(
  { keys: { space: 'cross', w: 'left_stick_up', c: 'l3' }, initialHoldMs: 60, releaseTimeoutMs: 30 },
  'test.json',
  'test',
);

let open: PlayInput[] = [];
afterEach(() => {
  for (const p of open) p.stop();
  open = [];
});

function setup(o: Partial<PlayInputOptions> & { tty?: boolean } = {}) {
  const tty = new FakeTty(o.tty ?? true);
  const session = new FakeSession();
  const proc = new EventEmitter();
  const written: string[] = [];
  const logs: string[] = [];
  const play = new PlayInput({
    session,
    keymap: map,
    input: tty,
    output: { write: (s: string) => written.push(s) },
    log: (l) => logs.push(l),
    pads: false,
    proc,
    ...o,
  });
  open.push(play);
  /** Nothing of ours is left listening on the terminal or the process. */
  const detached = () =>
    tty.listenerCount('data') === 0 &&
    tty.listenerCount('error') === 0 &&
    tty.listenerCount('end') === 0 &&
    proc.eventNames().length === 0 &&
    session.listenerCount('console') === 0;
  return { tty, session, proc, written, logs, play, detached };
}

describe('PlayInput on a terminal', () => {
  it('raw mode and the kitty query at start, a one-line hint; keys reach the session synchronously', async () => {
    const { tty, session, written, logs, play } = setup();
    await play.start();
    expect(tty.raw).toEqual([true]);
    expect(tty.paused).toBe(false);
    expect(written).toEqual([KITTY_QUERY]);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain('key map "test" (test.json)');
    expect(logs[0]).toContain('ctrl+q or ctrl+c leaves the stream');
    tty.type('\x1b[?1;2c'); // no kitty: the timed release
    tty.type(' ');
    expect(session.states).toHaveLength(1);
    expect(isPressed(session.states[0], 'cross')).toBe(true);
    play.stop();
    expect(tty.raw).toEqual([true, false]);
    expect(tty.paused).toBe(true);
    // the held button is let go before the terminal is handed back
    expect(session.states.at(-1)).toBe(IDLE_STATE);
    play.stop(); // idempotent
    expect(tty.raw).toEqual([true, false]);
  });

  it('the exit hotkey restores the terminal, releases held controls and disconnects', async () => {
    const { tty, session, written, logs, play, detached } = setup();
    await play.start();
    tty.type('\x1b[?1u\x1b[?62;c'); // a kitty terminal
    expect(written).toEqual([KITTY_QUERY, KITTY_ENABLE]);
    expect(play.kittyActive).toBe(true);
    tty.type('\x1b[119u'); // w down
    expect(session.states.at(-1)?.leftY).toBe(-32768);
    tty.type('\x1b[113;5u'); // ctrl+q
    expect(session.disconnects).toEqual(['disconnected by the user']);
    expect(written.at(-1)).toBe(KITTY_DISABLE);
    expect(tty.restored).toBe(true);
    expect(session.states.at(-1)).toBe(IDLE_STATE);
    expect(logs.at(-1)).toContain('ctrl+q: leaving the stream');
    expect(detached()).toBe(true);
    // nothing after leaving reaches the session
    const n = session.states.length;
    tty.type(' ');
    expect(session.states).toHaveLength(n);
  });

  it('legacy exit hotkey byte (0x11) and ctrl+c (0x03) both leave', async () => {
    for (const [bytes, message] of [
      ['\x11', 'disconnected by the user'],
      ['\x03', 'disconnected (interrupted)'],
    ]) {
      const { tty, session, play, detached } = setup();
      await play.start();
      tty.type(' ');
      tty.type(bytes);
      expect(session.disconnects).toEqual([message]);
      // ctrl+c is not also "c" (L3) for the console: only the press of space and the release
      expect(session.states.map((s) => s.buttons)).toEqual([session.states[0].buttons, 0]);
      expect(isPressed(session.states[0], 'cross')).toBe(true);
      expect(tty.raw).toEqual([true, false]);
      expect(detached()).toBe(true);
    }
  });

  it('ctrl+c after a lone escape key still leaves; ctrl+c bound to a control plays instead', async () => {
    const a = setup();
    await a.play.start();
    a.tty.type('\x1b');
    await new Promise((r) => setTimeout(r, 40)); // longer than the escape timeout
    a.tty.type('\x03');
    expect(a.session.disconnects).toEqual(['disconnected (interrupted)']);
    expect(a.session.states).toEqual([]);
    // kitty's ctrl+c
    const k = setup();
    await k.play.start();
    k.tty.type('\x1b[?1u\x1b[?62;c\x1b[99;5u');
    expect(k.session.disconnects).toEqual(['disconnected (interrupted)']);
    expect(k.session.states).toEqual([]);

    const bound = parseKeymap({ keys: { 'ctrl+c': 'circle' } }, 'ctrlc.json', 'ctrlc');
    const b = setup({ keymap: bound });
    await b.play.start();
    expect(b.logs[0]).toContain('ctrl+q leaves the stream');
    expect(b.logs[0]).not.toContain('ctrl+c');
    b.tty.type('\x03');
    expect(b.session.disconnects).toEqual([]);
    expect(isPressed(b.session.states[0], 'circle')).toBe(true);
    expect(b.tty.raw).toEqual([true]);
  });

  it.each(['SIGINT', 'SIGTERM'])('%s restores the terminal and disconnects', async (sig) => {
    const { tty, session, proc, written, play, detached } = setup();
    await play.start();
    tty.type('\x1b[?1u\x1b[?62;c');
    proc.emit(sig);
    expect(tty.restored).toBe(true);
    expect(written.at(-1)).toBe(KITTY_DISABLE);
    expect(session.disconnects).toEqual(['disconnected (interrupted)']);
    expect(detached()).toBe(true);
  });

  it('SIGHUP: disconnects without writing to the dead terminal', async () => {
    const { tty, session, proc, written, logs, play, detached } = setup();
    await play.start();
    tty.type('\x1b[?1u\x1b[?62;c');
    const before = { written: written.length, logs: logs.length, raw: tty.raw.length };
    proc.emit('SIGHUP');
    expect(session.disconnects).toEqual(['disconnected (the terminal hung up)']);
    expect(written).toHaveLength(before.written);
    expect(logs).toHaveLength(before.logs);
    expect(tty.raw).toHaveLength(before.raw);
    expect(detached()).toBe(true);
  });

  it('a read error on the terminal (EIO) ends play like a hang-up', async () => {
    const { tty, session, play, detached } = setup();
    await play.start();
    tty.emit('error', Object.assign(new Error('read EIO'), { code: 'EIO' }));
    expect(session.disconnects).toEqual(['disconnected (the terminal went away)']);
    expect(detached()).toBe(true);
  });

  it('process exit and uncaught errors put the terminal back and send nothing more', async () => {
    for (const event of ['exit', 'uncaughtExceptionMonitor']) {
      const { tty, session, proc, written, logs, play } = setup();
      await play.start();
      tty.type('\x1b[?1u\x1b[?62;c');
      tty.type('\x1b[119u');
      const sent = session.states.length;
      const logged = logs.length;
      proc.emit(event, event === 'exit' ? 1 : new Error('boom'));
      expect(tty.raw).toEqual([true, false]);
      expect(written.at(-1)).toBe(KITTY_DISABLE);
      expect(session.states).toHaveLength(sent);
      expect(logs).toHaveLength(logged);
      expect(proc.eventNames()).toEqual([]);
    }
  });

  it('the terminal ending (end of input) ends play like a hang-up', async () => {
    const { tty, session, play, detached } = setup();
    await play.start();
    tty.emit('end');
    expect(session.disconnects).toEqual(['disconnected (the terminal went away)']);
    expect(detached()).toBe(true);
  });

  it('a failing pad start still restores the terminal', async () => {
    const { tty, play, detached } = setup({
      pads: {
        discover: async () => {
          throw new Error('no pads today');
        },
      },
    });
    await expect(play.start()).rejects.toThrow('no pads today');
    expect(tty.raw).toEqual([true, false]);
    expect(detached()).toBe(true);
  });
});

describe('PlayInput without a terminal', () => {
  it('stdin that is not a tty: no raw mode, no escape sequences, keys still read', async () => {
    const { tty, session, written, logs, play } = setup({ tty: false });
    await play.start();
    expect(tty.raw).toEqual([]);
    expect(written).toEqual([]);
    expect(logs[0]).toContain('stdin is not a terminal');
    tty.type(' ');
    expect(isPressed(session.states[0], 'cross')).toBe(true);
    expect(play.stats.inputs).toBe(session.states.length); // the bridge's status line counts these
    tty.type('\x11');
    expect(session.disconnects).toHaveLength(1);
    expect(tty.raw).toEqual([]);
  });

  it('a pipe that ends leaves the stream to --duration or a signal, and says so', async () => {
    const { tty, session, proc, logs, play } = setup({ tty: false });
    await play.start();
    tty.type(' ');
    tty.emit('end');
    expect(session.disconnects).toEqual([]);
    expect(logs.at(-1)).toBe('  stdin ended: keys no longer reach the console; the stream goes on');
    proc.emit('SIGTERM');
    expect(session.disconnects).toEqual(['disconnected (interrupted)']);
  });
});

describe('rumble', () => {
  it('without pads every rumble is counted as unplayed', async () => {
    const { session, logs, play } = setup();
    await play.start();
    session.console({ type: 'rumble', left: 200, right: 10 });
    session.console({ type: 'displayBlocked', blocked: false });
    expect(play.stats).toEqual({ rumbleToPad: 0, rumbleUnplayed: 1, inputs: 0 });
    play.stop();
    expect(logs.at(-1)).toBe('  rumble: 0 played on the pad, 1 without a pad to play them');
  });

  it('goes to the pad that can play it; the pad state reaches the session', async () => {
    const info: PadInfo = {
      id: 'evdev:/dev/input/event7',
      backend: 'evdev',
      name: 'Wireless Controller',
      family: 'dualshock4',
      vendorId: 0x054c,
      productId: 0x09cc,
      path: '/dev/input/event7',
      readable: true,
      rumble: true,
    };
    const motors: [number, number][] = [];
    let padState: ((s: ControllerState) => void) | undefined;
    const { session, logs, play } = setup({
      pads: {
        discover: async () => ({ pads: [info], backends: [] }),
        open: async (_i, onState) => {
          padState = onState;
          return { state: IDLE_STATE, close() {}, rumble: (a, b) => motors.push([a, b]) > 0 };
        },
      },
    });
    await play.start();
    expect(logs.some((l) => l.includes('game pad: Wireless Controller (054c:09cc, dualshock4)'))).toBe(true);
    session.console({ type: 'rumble', left: 255, right: 64 });
    expect(motors).toEqual([[255, 64]]);
    expect(play.stats).toMatchObject({ rumbleToPad: 1, rumbleUnplayed: 0 });
    expect(play.stats.pad).toContain('Wireless Controller');
    padState?.({ ...IDLE_STATE, leftX: 1000 });
    expect(session.states.at(-1)?.leftX).toBe(1000);
  });
});

describe('resolveKeymap', () => {
  const h = useHarness();
  const env = () => {
    const d = h.tempDir('rptui-play-');
    return { dir: d, env: { RPTUI_CONFIG_DIR: d } };
  };

  it('the option first, then the profile setting, then the built-in default', () => {
    const { env: e } = env();
    expect(resolveKeymap(undefined, undefined, e).name).toBe('default');
    expect(resolveKeymap(undefined, 'default', e).keys.space).toBe('cross');
    expect(() => resolveKeymap('nope', 'default', e)).toThrow(/no key map named "nope"/);
  });

  it('a path loads that file; a bad entry names the file and the key', () => {
    const { dir, env: e } = env();
    const good = join(dir, 'mine.json');
    writeFileSync(good, JSON.stringify({ keys: { x: 'cross' }, exitHotkey: 'ctrl+e' }));
    const m = resolveKeymap(good, 'default', e);
    expect(m).toMatchObject({ name: 'mine', exitHotkey: 'ctrl+e', source: good });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ keys: { x: 'cross', y: 'jump' } }));
    expect(() => resolveKeymap(bad, undefined, e)).toThrow(`key map ${bad}: key "y": unknown control "jump"`);
  });
});
