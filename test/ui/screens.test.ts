// The TUI's screens driven through an in-memory terminal (blessed on PassThrough streams): the
// stream screen against a scripted session (console messages, stats, input, console lost) and
// game pad navigation of the home screen through the real PadManager with a scripted pad.
import { EventEmitter } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { type Profile, type ProfileInput, ProfileStore } from '../../src/client/profiles.js';
import type {
  ConsoleMessage,
  RemotePlaySessionApi,
  SessionEvents,
  SessionState,
  SessionStats,
} from '../../src/common/session-api.js';
import type { PadInfo } from '../../src/input/gamepad/index.js';
import { BUTTONS, type ControllerState, IDLE_STATE, withButton } from '../../src/proto-stack/controller.js';
import { ConsoleRefusedError } from '../../src/proto-stack/errors.js';
import { SimulatedConsole } from '../../src/simulator/index.js';
import { App, type Layer } from '../../src/ui/app.js';
import { ConsoleMonitor } from '../../src/ui/monitor.js';
import { HomeScreen } from '../../src/ui/screens/home.js';
import { KeymapScreen } from '../../src/ui/screens/keymap.js';
import { RegisterDialog } from '../../src/ui/screens/register-dialog.js';
import { StreamScreen } from '../../src/ui/screens/stream.js';
import { useHarness } from '../helpers/cli.js';

const CROSS = 1 << BUTTONS.indexOf('cross');

function fakeTerminal(cols = 100, rows = 30) {
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
  const output = Object.assign(new PassThrough(), { isTTY: true, columns: cols, rows });
  output.resume(); // the escape codes are not needed: the screen buffer is read instead
  return { input, output };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

/** What the screen shows, as text lines. */
function screenText(app: App): string {
  const lines = (app.screen as unknown as { lines: [unknown, string][][] }).lines;
  return lines.map((l) => l.map((c) => c[1]).join('')).join('\n');
}

async function waitScreen(app: App, pattern: string | RegExp, timeoutMs = 2000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await tick();
    const s = screenText(app);
    if (typeof pattern === 'string' ? s.includes(pattern) : pattern.test(s)) return s;
    if (Date.now() > deadline) throw new Error(`screen never showed ${String(pattern)}:\n${s}`);
  }
}

const profileInput = (name: string, host: string): ProfileInput => ({
  name,
  kind: 'PS5',
  target: 1000100,
  host,
  hostId: 'AABBCCDDEEFF',
  nickname: `${name}-nick`,
  registKey: '3132333435363738',
  rpKey: '00112233445566778899aabbccddeeff',
  accountId: 'AAAAAAAAAAA=',
  createdAt: new Date(0).toISOString(),
  settings: { videoSink: 'none', audioSink: 'none' },
});

const stats = (kbps: number, fps: number, extra: Partial<SessionStats> = {}): SessionStats => ({
  video: { frames: 100, recovered: 2, lost: 1, skipped: 0, fps, kbps },
  audio: { frames: 50, lost: 0 },
  packets: { received: 1000, lost: 3, malformed: 0, forged: 0 },
  rttMs: 2.5,
  probe: { measured: true, rttMs: 2, mtu: 1454 },
  rumble: 0,
  uptimeMs: 3000,
  ...extra,
});

/** A session that does what the test says and records what the UI asked of it. */
class ScriptedSession implements RemotePlaySessionApi {
  private readonly emitter = new EventEmitter();
  state: SessionState = 'idle';
  stats = stats(0, 0);
  readonly controller: ControllerState[] = [];
  readonly calls: string[] = [];

  on<E extends keyof SessionEvents>(event: E, listener: SessionEvents[E]): this {
    this.emitter.on(event, listener as (...a: unknown[]) => void);
    return this;
  }
  off<E extends keyof SessionEvents>(event: E, listener: SessionEvents[E]): this {
    this.emitter.off(event, listener as (...a: unknown[]) => void);
    return this;
  }
  emit<E extends keyof SessionEvents>(event: E, ...args: Parameters<SessionEvents[E]>): void {
    this.emitter.emit(event, ...args);
  }
  setState(s: SessionState): void {
    this.state = s;
    this.emit('state', s);
  }
  async start(): Promise<void> {
    this.setState('requesting');
    this.setState('streaming');
    this.emit('streamInfo', {
      width: 1280,
      height: 720,
      fps: 60,
      codec: 'h264',
      bitrateKbps: 10000,
      audio: { sampleRate: 48000, channels: 2, frameSize: 480 },
      serverType: 'PS5',
    });
  }
  setController(state: ControllerState): void {
    this.controller.push(state);
  }
  sendLoginPin(pin: string): void {
    this.calls.push(`pin ${pin}`);
  }
  keyboardSetText(text: string): void {
    this.calls.push(`text ${text}`);
  }
  keyboardAccept(): void {
    this.calls.push('accept');
  }
  keyboardReject(): void {
    this.calls.push('reject');
  }
  requestIdr(): void {
    this.calls.push('idr');
  }
  async standby(): Promise<void> {
    this.calls.push('standby');
    this.close('user', 'standby requested');
  }
  async disconnect(): Promise<void> {
    this.calls.push('disconnect');
    this.close('user', 'disconnected by the user');
  }
  close(code: 'user' | 'console-lost', message: string): void {
    this.setState('closed');
    this.emit('closed', { code, message });
  }
  console(m: ConsoleMessage): void {
    this.emit('console', m);
  }
}

/** The layer under the stream screen (stands for home). */
class Base implements Layer {
  readonly hints = 'base';
  readonly keys: string[] = [];
  render(): void {}
  handleKey(_ch: string | undefined, key: { name?: string }): void {
    this.keys.push(key.name ?? '');
  }
  destroy(): void {}
}

const h = useHarness();
let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function makeApp(opts: Partial<Parameters<typeof App.create>[0]> = {}) {
  const term = fakeTerminal();
  const app = await App.create({
    color: true,
    gamepad: false,
    input: term.input,
    output: term.output,
    terminal: 'xterm-256color',
    ...opts,
  });
  cleanup.push(() => app.destroy());
  return { app, term };
}

describe('stream screen', () => {
  async function streaming() {
    const { app, term } = await makeApp();
    const base = new Base();
    app.pushScreen(base);
    const session = new ScriptedSession();
    const dir = h.tempDir('rptui-ui-');
    const profile = (await new ProfileStore(join(dir, 'p.json')).add(
      profileInput('den', '127.0.0.47'),
    )) as Profile;
    const screen = new StreamScreen({
      app,
      profile,
      status: { status: 'ready', misses: 0 },
      createSession: () => session,
      env: { RPTUI_CONFIG_DIR: dir },
    });
    app.pushScreen(screen);
    await screen.start();
    await waitScreen(app, 'streaming');
    return { app, term, session, screen, base };
  }

  it('draws stream info, graphs and counters from the session stats', async () => {
    const { app, session } = await streaming();
    for (let i = 0; i < 5; i++) session.emit('stats', stats(8000 + i * 100, 59.9));
    const s = await waitScreen(app, '8.4 Mbit/s');
    expect(s).toContain('1280x720 @ 60 fps');
    // a 30-row terminal has room for graphs 3 rows tall: name, then value, then the third row
    const lines = s.split('\n');
    const at = (name: string) => lines.findIndex((l) => l.startsWith(` ${name} `));
    expect(lines[at('fps') + 1]).toMatch(/^ 59\.9\s/);
    expect(lines[at('RTT') + 1]).toMatch(/^ 2\.5 ms\s/);
    expect(lines[at('bitrate') + 1]).toMatch(/^ 8\.4 Mbit\/s\s/);
    // the newest bitrate sample is the highest: a full column in all three rows
    for (let r = 0; r < 3; r++) expect(lines[at('bitrate') + r]).toMatch(/█\s*$/);
    expect(s).toContain('frames 100 (FEC-recovered 2, lost 1)');
    expect(s).toContain('packets 1000 (lost 3, forged 0, malformed 0)');
    expect(s).toMatch(/[▁▂▃▄▅▆▇█]{5}/);
  });

  it('sends mapped keys to the session as they arrive, hotkeys never', async () => {
    const { app, term, session } = await streaming();
    term.input.write(' ');
    // delivered in the same tick as the bytes: no timer, no render in between
    expect(session.controller.at(-1)?.buttons).toBe(CROSS);
    // timed release: no auto-repeat follows, so the button goes up again
    await new Promise((r) => setTimeout(r, 700));
    expect(session.controller.at(-1)?.buttons).toBe(0);
    const n = session.controller.length;
    term.input.write('\x07'); // ctrl+g: graphs off, nothing sent
    await waitScreen(app, /^(?![\s\S]*bitrate)/);
    expect(session.controller.length).toBe(n);
    term.input.write('\x1b[24~'); // F12: not mapped, not a hotkey
    await tick();
    expect(session.controller.length).toBe(n);
    expect(screenText(app)).toContain('streaming');
  });

  it('asks for the login passcode and types text for the on-screen keyboard', async () => {
    const { app, term, session } = await streaming();
    session.console({ type: 'loginPinRequest' });
    await waitScreen(app, 'Console login');
    term.input.write('12');
    term.input.write('\r');
    await waitScreen(app, 'the passcode is 4 digits');
    term.input.write('34\r');
    await tick();
    expect(session.calls).toContain('pin 1234');

    session.console({ type: 'keyboardOpen', text: 'abc' });
    await waitScreen(app, 'The console asks for text');
    term.input.write('de\r');
    await tick();
    expect(session.calls.slice(-2)).toEqual(['text abcde', 'accept']);
    // keys go to the console again afterwards
    term.input.write(' ');
    await tick();
    expect(session.controller.at(-1)?.buttons).toBe(CROSS);

    session.console({ type: 'keyboardOpen', text: '' });
    await waitScreen(app, 'The console asks for text');
    term.input.write('\x1b');
    await waitScreen(app, /^(?![\s\S]*asks for text)/);
    expect(session.calls.at(-1)).toBe('reject');
  });

  it('leaves with the exit hotkey and goes back on console lost', async () => {
    const a = await streaming();
    a.term.input.write('\x11'); // ctrl+q
    await waitScreen(a.app, 'left the stream');
    expect(a.session.calls).toContain('disconnect');
    expect(a.app.currentScreen).toBe(a.base);

    const b = await streaming();
    b.session.close('console-lost', 'console lost: no answer for 5 s');
    const s = await waitScreen(b.app, 'console lost');
    expect(s).toContain('no answer for 5 s');
    expect(b.app.currentScreen).toBe(b.base);
  });

  it('ctrl+c leaves the stream without the same key also quitting the app', async () => {
    const { app, term, session, base } = await streaming();
    let quit = false;
    void app.waitForQuit().then(() => {
      quit = true;
    });
    term.input.write('\x03');
    await waitScreen(app, 'left the stream');
    await tick();
    expect(session.calls).toContain('disconnect');
    expect(app.currentScreen).toBe(base);
    expect(quit).toBe(false);
    expect(base.keys).toEqual([]); // the home screen did not get the ctrl+c either
  });

  it('random terminal input never breaks the stream screen', async () => {
    const { app, term, session, screen } = await streaming();
    // every byte except the hotkeys (they would leave, or open dialogs that wait for answers)
    const hot = new Set([0x03, 0x07, 0x0c, 0x0f, 0x11, 0x14, 0x18, 0x3f]);
    const chunk = fc.uint8Array({ minLength: 1, maxLength: 24 }).map((b) => b.filter((x) => !hot.has(x)));
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 20 }), (chunks) => {
        for (const c of chunks) term.input.write(Buffer.from(c));
        for (const s of session.controller) {
          expect(Number.isInteger(s.buttons)).toBe(true);
          expect(Math.abs(s.leftX)).toBeLessThanOrEqual(32768);
        }
      }),
      { numRuns: 60 },
    );
    await tick();
    expect(app.currentScreen).toBe(screen);
    expect(app.logText.join('\n')).not.toContain('internal error');
    expect(screenText(app)).toContain('streaming');
  });

  it('standby asks first; ctrl+t sends typed text; a failed session shows its error and hint', async () => {
    const a = await streaming();
    a.term.input.write('\x18'); // ctrl+x
    await waitScreen(a.app, 'Put "den-nick" in rest mode');
    a.term.input.write('n');
    await waitScreen(a.app, /^(?![\s\S]*rest mode)/);
    expect(a.session.calls).not.toContain('standby');
    a.term.input.write('\x14'); // ctrl+t
    await waitScreen(a.app, 'Text for the console');
    a.term.input.write('hi\r');
    await tick();
    expect(a.session.calls.slice(-2)).toEqual(['text hi', 'accept']);
    a.term.input.write('\x18');
    await waitScreen(a.app, 'Put "den-nick" in rest mode');
    a.term.input.write('y');
    await waitScreen(a.app, 'standby requested');
    expect(a.session.calls).toContain('standby');
    expect(a.app.currentScreen).toBe(a.base);

    const b = await streaming();
    b.session.setState('closed');
    b.session.emit('closed', {
      code: 'error',
      message: 'the console refused the session',
      error: new ConsoleRefusedError('the console refused the session: in use by another client', {
        hint: 'close the other Remote Play client',
      }),
    });
    const s = await waitScreen(b.app, 'Cannot stream from "den"');
    expect(s).toContain('in use by another client');
    expect(s).toContain('hint: close the other Remote Play client');
  });
});

describe('home screen', () => {
  it('keeps the selection visible in a list longer than the screen', async () => {
    const { app, term } = await makeApp();
    const dir = h.tempDir('rptui-ui-');
    const store = new ProfileStore(join(dir, 'profiles.json'));
    const one = await store.add(profileInput('console-00', '127.0.0.48'));
    // one file write instead of 40 adds
    const names = Array.from({ length: 40 }, (_, i) => `console-${String(i).padStart(2, '0')}`);
    await writeFile(
      store.path,
      JSON.stringify({ version: 1, profiles: names.map((name) => ({ ...one, name })) }),
    );
    const monitor = new ConsoleMonitor(
      () => [],
      () => app.render(),
      { probe: async () => undefined },
    );
    cleanup.push(() => monitor.stop());
    const home = new HomeScreen({
      app,
      store,
      monitor,
      connect: () => undefined,
      openSettings: () => undefined,
      openKeymap: () => undefined,
      register: { broadcast: false, probeHosts: [], env: { RPTUI_CONFIG_DIR: h.tempDir('rptui-ui-') } },
    });
    app.pushScreen(home);
    await home.reload();
    await waitScreen(app, /Consoles \(1-\d+ of 40\)/);
    for (let i = 0; i < 35; i++) term.input.write('\x1b[B');
    const s = await waitScreen(app, /> console-35/);
    expect(s).toMatch(/Consoles \(\d+-\d+ of 40\)/);
    expect(s).not.toContain('console-00 ');
  });
});

describe('streaming from the home screen', () => {
  // Failed in CI under load: Enter right after the settings screen closed streamed with the
  // settings of before, because the home list was still being read again.
  it('Enter while the list is read again streams the profile as stored, not as last shown', async () => {
    const { app } = await makeApp();
    const store = new ProfileStore(join(h.tempDir('rptui-ui-'), 'profiles.json'));
    await store.add(profileInput('tv', '127.0.0.48'));
    const monitor = new ConsoleMonitor(
      () => [],
      () => app.render(),
      { probe: async () => undefined },
    );
    cleanup.push(() => monitor.stop());
    const connected: string[] = [];
    const home = new HomeScreen({
      app,
      store,
      monitor,
      connect: (p) => connected.push(`${p.name} ${p.settings.videoSink}`),
      openSettings: () => undefined,
      openKeymap: () => undefined,
      register: { broadcast: false, probeHosts: [], env: { RPTUI_CONFIG_DIR: h.tempDir('rptui-ui-') } },
    });
    app.pushScreen(home);
    await home.reload();
    const shown = home.selected?.settings.videoSink;
    await store.update('tv', (p) => ({ ...p, settings: { ...p.settings, videoSink: 'terminal' } }));
    const reading = home.reload(); // as coming back from the settings screen does
    home.handleKey(undefined, { name: 'enter' });
    home.handleKey(undefined, { name: 'enter' }); // a second Enter meanwhile starts nothing more
    expect(connected).toEqual([]);
    await reading;
    await tick();
    expect(shown).not.toBe('terminal');
    expect(connected).toEqual(['tv terminal']);
  });
});

describe('register dialog', () => {
  it('offers the consoles discovery found; picking one and the right PIN pairs and stores it', async () => {
    const { app, term } = await makeApp();
    const sim = await SimulatedConsole.start({
      host: '127.0.0.47',
      kind: 'PS5',
      pin: '31415926',
      nickname: 'Attic',
    });
    cleanup.push(() => sim.stop());
    const dir = h.tempDir('rptui-ui-');
    const store = new ProfileStore(join(dir, 'profiles.json'));
    app.pushScreen(new Base());
    const paired: string[] = [];
    const dialog = new RegisterDialog(app, {
      store,
      broadcast: false,
      probeHosts: ['127.0.0.47'],
      defaultAccountId: '1234567890',
      env: { RPTUI_CONFIG_DIR: dir },
      onPaired: (p) => paired.push(`${p.name} ${p.host} ${p.kind}`),
    });
    app.openDialog(dialog);
    dialog.start();
    await waitScreen(app, /Attic\s+PS5\s+127\.0\.0\.47\s+ready/);
    term.input.write('\x1b[A'); // up: from the address field to the console found
    await waitScreen(app, /> Attic/);
    term.input.write('\r');
    await waitScreen(app, /Address:\s+127\.0\.0\.47/);
    term.input.write('31415926\r\r\r\r'); // PIN, account id (prefilled), name, [ Register ]
    await waitScreen(app, /^(?![\s\S]*Register a console)/, 10_000);
    expect(paired).toEqual(['Attic 127.0.0.47 PS5']);
    expect((await store.list()).map((p) => p.nickname)).toEqual(['Attic']);
  });
});

/** An App whose one game pad the test drives: press(button) = press and release. */
async function appWithPad() {
  let send: ((s: ControllerState) => void) | undefined;
  const pad: PadInfo = {
    id: 'evdev:/dev/input/event9',
    backend: 'evdev',
    name: 'Test Pad',
    family: 'dualshock4',
    vendorId: 0x054c,
    productId: 0x09cc,
    path: '/dev/input/event9',
    readable: true,
    rumble: false,
  };
  const { app } = await makeApp({
    gamepad: true,
    padOptions: {
      discover: async () => ({ pads: [pad], backends: [] }),
      open: async (_info, onState) => {
        send = onState;
        return { state: IDLE_STATE, close: () => undefined };
      },
    },
  });
  await waitScreen(app, 'pad: Test Pad');
  const press = (b: (typeof BUTTONS)[number]) => {
    send?.(withButton(IDLE_STATE, b, true));
    send?.(IDLE_STATE);
  };
  return { app, press };
}

describe('game pad navigation', () => {
  it('D-pad moves, cross selects, circle goes back, through the real PadManager', async () => {
    const { app, press } = await appWithPad();
    const dir = h.tempDir('rptui-ui-');
    const store = new ProfileStore(join(dir, 'profiles.json'));
    await store.add(profileInput('first', '127.0.0.48'));
    await store.add(profileInput('second', '127.0.0.49'));
    const connected: string[] = [];
    let home: HomeScreen | undefined;
    const monitor = new ConsoleMonitor(
      () => (home?.list ?? []).map((p) => ({ host: p.host, kind: p.kind })),
      () => app.render(),
      { probe: async () => undefined },
    );
    cleanup.push(() => monitor.stop());
    home = new HomeScreen({
      app,
      store,
      monitor,
      connect: (p) => connected.push(p.name),
      openSettings: () => undefined,
      openKeymap: () => undefined,
      register: { broadcast: false, probeHosts: [], env: { RPTUI_CONFIG_DIR: h.tempDir('rptui-ui-') } },
    });
    app.pushScreen(home);
    await home.reload();
    await waitScreen(app, /> first/);
    press('dpad_down');
    await waitScreen(app, /> second/);
    press('cross');
    expect(connected).toEqual(['second']);
    // a dialog: circle closes it
    home.handleKey('r', {});
    await waitScreen(app, 'Rename "second"');
    press('circle');
    await waitScreen(app, /^(?![\s\S]*Rename)/);
    press('dpad_up');
    await waitScreen(app, /> first/);
  });

  it('works the key map screen: cross starts a rebind, circle cancels it, circle again goes back', async () => {
    const { app, press } = await appWithPad();
    const dir = h.tempDir('rptui-ui-');
    const base = new Base();
    app.pushScreen(base);
    app.pushScreen(
      new KeymapScreen(app, new ProfileStore(join(dir, 'p.json')), undefined, { RPTUI_CONFIG_DIR: dir }),
    );
    await waitScreen(app, /> cross/);
    press('dpad_down');
    await waitScreen(app, /> circle/);
    press('cross');
    await waitScreen(app, 'Press the key for CIRCLE');
    press('circle');
    await waitScreen(app, 'rebinding cancelled');
    expect(app.currentScreen).not.toBe(base);
    press('circle');
    await waitScreen(app, /^(?![\s\S]*Key map)/);
    expect(app.currentScreen).toBe(base);
  });
});

describe('help with the system check', () => {
  it('shows the doctor report under the help, made once, scrolling when it is long', async () => {
    let made = 0;
    let finish: (lines: string[]) => void = () => undefined;
    const report = Array.from({ length: 60 }, (_, i) => `  ok         Check ${i + 1}`);
    const { app, term } = await makeApp({
      systemReport: () => {
        made++;
        return new Promise((r) => {
          finish = r;
        });
      },
    });
    app.pushScreen(new Base());
    term.input.write('?');
    await waitScreen(app, 'checking...');
    finish(report);
    // 30 rows: the first lines of the help, the report further down
    let s = await waitScreen(app, /lines 1-\d+ of \d+: ↑\/↓ scroll, Esc close/);
    expect(s).toContain('System check (rptui doctor)');
    expect(s).not.toContain('Check 60');
    term.input.write('\x1b[F'); // End
    s = await waitScreen(app, 'Check 60');
    expect(s).not.toContain('? help (F1 inside dialogs)');
    term.input.write('\x1b[A'); // Up
    await waitScreen(app, /lines \d+-\d+ of \d+/);
    term.input.write('\r');
    await waitScreen(app, /^(?![\s\S]*Check 60)/);
    // asked again: the report that was made, not a new one
    term.input.write('?');
    await waitScreen(app, 'System check (rptui doctor)');
    expect(made).toBe(1);
  });
});
