/**
 * The stream screen: one session with a console. While it is on top (and no dialog is open),
 * stdin bytes go through the key map straight to the session — decoded by the input layer's
 * terminal decoder (kitty protocol with real releases where the terminal has it, timed release
 * otherwise) and sent before anything is drawn. A few Ctrl combos the key map leaves free are the
 * screen's hotkeys. Video and audio go to the sinks the profile names (video `terminal`: the picture
 * in a pane of this screen, ctrl+p hides it for the graphs); statistics are drawn as one-line
 * graphs twice a second.
 */

import { resolveKeymap } from '../../client/play-input.js';
import type { Profile } from '../../client/profiles.js';
import { wake } from '../../client/wake.js';
import type {
  CloseReason,
  ConsoleMessage,
  RemotePlaySessionApi,
  SessionState,
  SessionStats,
  StreamInfo,
} from '../../common/session-api.js';
import { ControllerInput } from '../../input/controller-input.js';
import { type Keymap, loadKeymap } from '../../input/keymap.js';
import { CallbackOutput } from '../../media/picture/output.js';
import { TerminalPictureSink } from '../../media/picture/sink.js';
import {
  type AudioSink,
  attachSinks,
  createSinks,
  type SinkOptions,
  type VideoSink,
} from '../../media/sinks.js';
import { fromHex } from '../../proto-stack/bytes.js';
import { type ControllerState, IDLE_STATE, pressedButtons } from '../../proto-stack/controller.js';
import { wakeCredential } from '../../proto-stack/discovery.js';
import { RptuiError } from '../../proto-stack/errors.js';
import type { App, Layer, PadConsumer } from '../app.js';
import { blessed, esc, type KeyInfo, type Widgets } from '../blessed.js';
import { barGraph, fitText, formatDuration, formatKbps, History } from '../format.js';
import type { ConsoleStatus } from '../monitor.js';
import { PicturePane } from '../picture-pane.js';
import { delta, hotkeyFor, type StreamHotkey } from '../stream-input.js';
import { ConfirmDialog, type Dialog, MessageDialog, PromptDialog, TextField } from '../widgets/dialog.js';

export interface StreamScreenOptions {
  app: App;
  profile: Profile;
  status: ConsoleStatus;
  createSession: (profile: Profile) => RemotePlaySessionApi;
  env?: NodeJS.ProcessEnv;
  sinkOptions?: SinkOptions;
  /** Called once the screen has closed itself (back on the home screen). */
  onClosed?: (reason: CloseReason | undefined) => void;
}

/** The input line redraws at most this often. */
const INPUT_RENDER_DELAY_MS = 50;
/** 2 samples a second: one minute of history. */
const HISTORY = 120;
const STATE_WORDS: Record<SessionState, string> = {
  idle: 'starting',
  waking: 'waking the console',
  requesting: 'session request',
  ctrl: 'ctrl connection',
  probing: 'measuring RTT and MTU',
  takion: 'Takion handshake',
  handshake: 'stream handshake',
  streaming: 'streaming',
  closing: 'closing',
  closed: 'closed',
};

export class StreamScreen implements Layer, PadConsumer {
  readonly help: string[];
  private readonly box: Widgets.BoxElement;
  private session: RemotePlaySessionApi | undefined;
  private state: SessionState = 'idle';
  private info: StreamInfo | undefined;
  private stats: SessionStats | undefined;
  private readonly graphs = {
    kbps: new History(HISTORY),
    fps: new History(HISTORY),
    loss: new History(HISTORY),
    fec: new History(HISTORY),
    lost: new History(HISTORY),
    rtt: new History(HISTORY),
  };
  private showStats = true;
  private keymap: Keymap | undefined;
  /** Keys (fed from the App's raw input) and the App's pad states, while game input is on. */
  private input: ControllerInput | undefined;
  /** The pad state as the App last reported it (kept across dialogs). */
  private pad: ControllerState = IDLE_STATE;
  private inputRender: NodeJS.Timeout | undefined;
  private video: VideoSink | undefined;
  private audio: AudioSink | undefined;
  private media: { close(): Promise<void> } | undefined;
  /** The terminal picture (video output `terminal`) and the box it is drawn in. */
  private picture: { sink: TerminalPictureSink; box: Widgets.BoxElement; pane: PicturePane } | undefined;
  private lastInput = '';
  private inputCount = 0;
  private consoleDialog: Dialog | undefined;
  private keyboardText = '';
  private closing = false;
  private finished = false;
  /** Dialogs this screen opened; closed with it. */
  private readonly dialogs = new Set<Dialog>();
  private gameInput = false;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  constructor(private readonly o: StreamScreenOptions) {
    this.box = blessed().box({
      parent: o.app.body,
      top: 0,
      left: 0,
      width: '100%',
      height: '100%',
      tags: true,
    });
    this.closedPromise = new Promise((r) => {
      this.resolveClosed = r;
    });
    this.help = [];
  }

  get hints(): string {
    const exit = this.keymap?.exitHotkey ?? 'ctrl+q';
    const picture = this.picture ? '  ctrl+p picture' : '';
    return `${exit} leave  ctrl+x standby  ctrl+g graphs${picture}  ctrl+t text  ctrl+l log`;
  }

  /** Loads the key map, wakes the console if it rests, then starts the session. */
  async start(): Promise<void> {
    const { app, profile } = this.o;
    try {
      const keymap = this.loadKeymap();
      this.help.push(
        `Keys go to the console through the key map "${keymap.name}",`,
        'except these (unless the key map binds them to a control):',
        '',
        `${keymap.exitHotkey}, ctrl+c  leave the stream`,
        'ctrl+x          put the console in standby (asks first)',
        'ctrl+g          show/hide the graphs',
        'ctrl+t          type text for the console',
        'ctrl+l          show/hide the log pane',
        'ctrl+o          open the video window again after it was closed',
        'ctrl+p          picture in the terminal off / on (video output "terminal")',
        '?               this help',
        '',
        'Without the kitty keyboard protocol a held key counts as released',
        `${keymap.releaseTimeoutMs} ms after its last auto-repeat.`,
      );
      this.enterGameInput();
      if (this.o.status.status === 'standby') {
        this.setState('waking');
        await wake({
          host: profile.host,
          credential: wakeCredential(fromHex(profile.registKey)),
          kind: profile.kind,
          timeoutMs: 30_000,
        });
        app.log(`"${profile.name}" is awake`);
      }
      if (this.closing) {
        this.finish({ code: 'user', message: 'left before the stream started' });
        return;
      }
      const session = this.o.createSession(profile);
      this.session = session;
      this.attach(session);
      app.log(`connecting to ${profile.kind} "${profile.nickname}" at ${profile.host}`);
      await session.start();
    } catch (err) {
      // a session reports its failures through 'closed' first (finish() is then a no-op); this
      // ends the screen when the key map, waking or creating the session failed
      const error =
        err instanceof RptuiError
          ? err
          : new RptuiError('internal', (err as Error)?.message ?? String(err), { cause: err });
      this.finish({ code: 'error', message: error.message, error });
    }
  }

  /** The profile's key map; a broken one is reported and the built-in default used instead. */
  private loadKeymap(): Keymap {
    const name = this.o.profile.settings.keymap;
    try {
      this.keymap = resolveKeymap(undefined, name, this.o.env);
    } catch (err) {
      this.o.app.notify(`key map "${name}": ${(err as Error).message}; using the default map`, 'warn');
      this.keymap = loadKeymap('default', this.o.env);
    }
    return this.keymap;
  }

  private attach(s: RemotePlaySessionApi): void {
    const { app } = this.o;
    s.on('state', (st) => app.guard(() => this.setState(st)));
    s.on('streamInfo', (info) => app.guard(() => this.onStreamInfo(info)));
    this.attachMedia(s);
    s.on('console', (m) => app.guard(() => this.onConsoleMessage(m)));
    s.on('stats', (st) => app.guard(() => this.onStats(st)));
    s.on('warning', (w) => app.log(`stream: ${w}`));
    s.on('closed', (r) => app.guard(() => this.finish(r)));
  }

  private setState(st: SessionState): void {
    if (this.state === st) return;
    this.state = st;
    this.o.app.log(`stream: ${STATE_WORDS[st]}`);
    this.o.app.render();
  }

  private onStreamInfo(info: StreamInfo): void {
    this.info = info;
    this.o.app.log(
      `stream info: ${info.width}x${info.height} @ ${info.fps} fps, ${info.codec}, ${info.bitrateKbps} kbit/s, ${info.serverType}`,
    );
    this.o.app.render();
  }

  /**
   * The profile's video and audio outputs, wired to the session (STREAMINFO starts them). A sink
   * that cannot be made (bad spec, missing directory) is replaced by none, with a notice.
   */
  private attachMedia(s: RemotePlaySessionApi): void {
    const { app, profile } = this.o;
    const { video, audio } = createSinks(
      {
        video: { setting: profile.settings.videoSink },
        audio: { setting: profile.settings.audioSink },
      },
      {
        ...this.o.sinkOptions,
        // blessed writes to the terminal synchronously: the picture goes the same way, in turn
        picture: {
          ...this.o.sinkOptions?.picture,
          layout: 'pane',
          output: new CallbackOutput((b) => app.writeTerminal(b)),
        },
        log: (_kind, m) => app.log(m),
        notice: (kind, m) => app.notify(`${kind}: ${m}`, 'warn'),
      },
    );
    video.on('warning', (m) => app.notify(`video: ${m}`, 'warn'));
    video.on('error', (e) => app.notify(`video: ${e.message}`, 'warn'));
    video.on('closed', () =>
      app.notify(
        `the video window closed; the stream goes on${video.reopen ? ' (ctrl+o opens it again)' : ''}`,
      ),
    );
    audio.on('warning', (m) => app.notify(`audio: ${m}`, 'warn'));
    audio.on('error', (e) => app.notify(`audio: ${e.message}`, 'warn'));
    this.video = video;
    this.audio = audio;
    if (video instanceof TerminalPictureSink) {
      const box = blessed().box({ parent: this.box, top: 3, left: 1, width: '100%-2', height: 1 });
      this.picture = { sink: video, box, pane: new PicturePane(app.screen, box, video) };
    }
    this.media = attachSinks(s, video, audio, { title: `rptui — ${profile.nickname}` });
  }

  private onStats(st: SessionStats): void {
    const prev = this.stats;
    this.stats = st;
    if (this.state !== 'streaming') return;
    const g = this.graphs;
    g.kbps.push(st.video.kbps);
    g.fps.push(st.video.fps);
    const lost = delta(st.packets.lost, prev?.packets.lost);
    const got = delta(st.packets.received, prev?.packets.received);
    g.loss.push(got + lost > 0 ? (100 * lost) / (got + lost) : 0);
    // per second, whatever the stats cadence
    const dt = prev ? st.uptimeMs - prev.uptimeMs : 0;
    const perSecond = (n: number) => (dt > 0 ? (n * 1000) / dt : 0);
    g.fec.push(perSecond(delta(st.video.recovered, prev?.video.recovered)));
    g.lost.push(perSecond(delta(st.video.lost, prev?.video.lost)));
    g.rtt.push(st.rttMs);
    this.o.app.render();
  }

  private onConsoleMessage(m: ConsoleMessage): void {
    const { app } = this.o;
    switch (m.type) {
      case 'loginPinRequest':
        app.log('the console asks for the user login passcode');
        this.openConsoleDialog(
          new PromptDialog(
            app,
            'Console login',
            ['The console user has a passcode. Type it to sign in (4 digits).'],
            new TextField('Passcode', '', { mask: true, maxLength: 4 }),
            (v) => {
              if (!/^\d{4}$/.test(v)) return 'the passcode is 4 digits';
              this.session?.sendLoginPin(v);
              return undefined;
            },
          ),
        );
        return;
      case 'loginResult':
        app.notify(
          m.ok ? 'signed in on the console' : 'the console refused the passcode',
          m.ok ? 'ok' : 'error',
        );
        return;
      case 'keyboardOpen':
        this.keyboardText = m.text;
        this.openTextDialog(true);
        return;
      case 'keyboardText':
        this.keyboardText = m.text;
        return;
      case 'keyboardClosed':
        if (this.consoleDialog) {
          app.closeDialog(this.consoleDialog);
          this.consoleDialog = undefined;
        }
        app.log('the console closed its on-screen keyboard');
        return;
      case 'rumble':
        app.rumble(m.left, m.right);
        return;
      case 'displayBlocked':
        app.notify(
          m.blocked
            ? 'the console hides this screen from Remote Play (protected content)'
            : 'picture is back',
          m.blocked ? 'warn' : 'info',
        );
        return;
      case 'connectionQuality':
        app.log(`connection: target ${m.targetBitrateKbps} kbit/s, rtt ${m.rttMs} ms, loss ${m.loss}`);
        return;
    }
  }

  /** The text box for the console's on-screen keyboard (or typed on request with ctrl+t). */
  private openTextDialog(requested: boolean): void {
    this.openConsoleDialog(
      new PromptDialog(
        this.o.app,
        requested ? 'The console asks for text' : 'Text for the console',
        [
          requested
            ? 'The console opened its on-screen keyboard. Type the text; Enter sends it.'
            : 'Type the text; Enter sends it to the console (its on-screen keyboard must be open).',
        ],
        new TextField('Text', this.keyboardText, { maxLength: 512 }),
        (v) => {
          this.session?.keyboardSetText(v);
          this.session?.keyboardAccept();
          this.o.app.log(`sent text (${[...v].length} characters)`);
          return undefined;
        },
        () => {
          if (requested) this.session?.keyboardReject();
        },
      ),
    );
  }

  private openConsoleDialog(d: Dialog): void {
    if (this.consoleDialog) this.o.app.closeDialog(this.consoleDialog);
    this.leaveGameInput();
    this.consoleDialog = d;
    this.openOwnDialog(d);
  }

  private openOwnDialog(d: Dialog): void {
    this.dialogs.add(d);
    this.o.app.openDialog(d);
  }

  // ----------------------------------------------------------------------------------------------
  // Input

  private enterGameInput(): void {
    if (this.gameInput || this.finished || !this.keymap) return;
    const keymap = this.keymap;
    this.gameInput = true;
    this.input = new ControllerInput({
      keymap,
      output: { write: (s) => this.o.app.writeTerminal(s) },
      pads: false, // the App's PadManager (it also drives the menus) reports through padState()
      hotkey: (combo) => hotkeyFor(combo, keymap),
      onHotkey: (h) => this.hotkey(h as StreamHotkey),
      onExit: () => this.hotkey('leave'),
      onState: (st) => this.pushController(st),
    });
    this.input.setPadState(this.pad);
    void this.input.start();
    this.o.app.setRawInput((data) =>
      this.input?.feed(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
    );
  }

  /** Stops game input (a dialog opens, or the stream ends): no key stays held on the console. */
  private leaveGameInput(): void {
    if (!this.gameInput) return;
    this.gameInput = false;
    this.o.app.setRawInput(undefined);
    this.input?.stop(); // hands the idle state on when something was held
    this.input = undefined;
  }

  padState(state: ControllerState): void {
    this.pad = state;
    this.input?.setPadState(state);
  }

  /** Sends the combined state now; the screen redraws later. */
  private pushController(s: ControllerState): void {
    if (this.session && this.session.state === 'streaming') this.session.setController(s);
    const buttons = pressedButtons(s);
    if (buttons.length || s.leftX || s.leftY || s.rightX || s.rightY || s.l2 || s.r2) {
      this.inputCount++;
      const sticks = [
        s.leftX || s.leftY ? `left stick ${s.leftX},${s.leftY}` : '',
        s.rightX || s.rightY ? `right stick ${s.rightX},${s.rightY}` : '',
        s.l2 ? 'l2' : '',
        s.r2 ? 'r2' : '',
      ].filter(Boolean);
      this.lastInput = [...buttons, ...sticks].join(' + ');
      this.renderSoon();
    }
  }

  /**
   * Redraws for input a moment later: the input line is cosmetic, and a redraw in the same tick
   * would delay the next socket reads (and, with the simulator in this process, the console's).
   */
  private renderSoon(): void {
    if (this.inputRender) return;
    this.inputRender = setTimeout(() => {
      this.inputRender = undefined;
      this.o.app.render();
    }, INPUT_RENDER_DELAY_MS);
  }

  private hotkey(h: StreamHotkey): void {
    const { app } = this.o;
    switch (h) {
      case 'leave':
        void this.leave();
        return;
      case 'stats':
        this.showStats = !this.showStats;
        app.render();
        return;
      case 'log':
        app.toggleLog();
        return;
      case 'picture':
        if (!this.picture) app.notify('the video output is not the terminal (settings: Video output)');
        else app.notify(this.picture.pane.toggle() ? 'picture on' : 'picture off: graphs');
        app.render();
        return;
      case 'video':
        if (this.video?.reopen) {
          this.video.reopen();
          app.notify('opening the video window again');
        } else app.notify(`the video output "${this.video?.kind ?? 'none'}" has no window to open`);
        return;
      case 'text':
        this.openTextDialog(false);
        return;
      case 'help':
        this.leaveGameInput();
        this.openOwnDialog(
          new MessageDialog(
            app,
            'Help',
            this.help.map((l) => esc(l)),
          ),
        );
        return;
      case 'standby':
        this.leaveGameInput();
        this.openOwnDialog(
          new ConfirmDialog(
            app,
            'Standby',
            [esc(`Put "${this.o.profile.nickname}" in rest mode and leave the stream?`)],
            () => void this.standby(),
          ),
        );
        return;
    }
  }

  /** Back on top after a dialog closed: keys go to the console again. */
  resume(): void {
    // a dialog closed and this screen is on top again: none of its dialogs is still open
    this.dialogs.clear();
    this.consoleDialog = undefined;
    if (!this.finished && !this.closing) this.enterGameInput();
  }

  /** Leaves the stream (clean DISCONNECT). */
  async leave(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.o.app.notify('leaving the stream...');
    this.leaveGameInput();
    if (this.session && this.session.state !== 'idle') await this.session.disconnect();
    else if (!this.session) this.finish({ code: 'user', message: 'left the stream' });
    await this.closedPromise;
  }

  private async standby(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.o.app.notify(`putting "${this.o.profile.nickname}" in rest mode...`);
    await this.session?.standby();
    await this.closedPromise;
  }

  private finish(reason: CloseReason): void {
    if (this.finished) return;
    this.finished = true;
    const { app } = this.o;
    this.leaveGameInput();
    if (this.consoleDialog) app.closeDialog(this.consoleDialog);
    this.consoleDialog = undefined;
    this.dropPicture();
    const sinks = this.media?.close();
    for (const d of this.dialogs) app.closeDialog(d);
    this.dialogs.clear();
    app.popScreen(this);
    if (reason.code === 'error') {
      // the whole message and its hint, not just what fits the status line
      app.showError(`Cannot stream from "${this.o.profile.name}"`, reason.error ?? reason.message);
    } else {
      const level =
        reason.code === 'user' ? 'info' : reason.code === 'console-disconnected' ? 'warn' : 'error';
      app.notify(reason.code === 'user' ? `left the stream: ${reason.message}` : reason.message, level);
    }
    void Promise.resolve(sinks).then(() => {
      this.resolveClosed();
      this.o.onClosed?.(reason);
    });
  }

  /** Stops following the picture's box (before the sink closes and the box goes). */
  private dropPicture(): void {
    if (!this.picture) return;
    this.picture.pane.destroy();
    this.picture.box.destroy();
    this.picture = undefined;
  }

  // ----------------------------------------------------------------------------------------------
  // Drawing

  render(): void {
    const { app, profile } = this.o;
    const t = app.theme;
    const width = Math.max(20, (this.box.width as number) - 1);
    const info = this.info;
    const st = this.stats;
    const stateWord = STATE_WORDS[this.state];
    const stateText = this.state === 'streaming' ? t.ok(stateWord) : t.warn(stateWord);
    const lines: string[] = [];
    lines.push(
      `${t.bold(esc(` ${profile.name}`))} ${esc(`(${profile.kind} "${profile.nickname}" at ${profile.host})`)}  ${stateText}`,
    );
    lines.push(
      info
        ? esc(
            ` ${info.width}x${info.height} @ ${info.fps} fps  ${info.codec}  ${formatKbps(info.bitrateKbps)} asked  ${info.serverType}` +
              (st ? `  up ${formatDuration(st.uptimeMs)}` : ''),
          )
        : t.dim(' waiting for the stream info...'),
    );
    lines.push('');
    const height = (this.box.height as number) || 21;
    const picture = this.picture;
    if (picture) {
      // the picture takes what the text leaves: 3 lines above, 5 below
      const rows = height - 8;
      if (picture.pane.shown && rows >= 4) {
        picture.box.top = 3;
        picture.box.height = rows;
        picture.box.show();
        for (let i = 0; i < rows; i++) lines.push('');
      } else picture.box.hide();
    }
    if (this.showStats && !picture?.box.visible) {
      const g = this.graphs;
      // taller graphs when the screen has room: 8 lines are text, the rest is shared by 6 graphs
      const rows = Math.max(1, Math.min(4, Math.floor((height - 8) / 6)));
      const label = rows === 1 ? 23 : 13;
      const graphW = Math.max(4, width - label - 2);
      const graph = (name: string, v: string, h: History, max?: number) => {
        const bars = barGraph(h.values, graphW, rows, max).map((b) => t.accent(b));
        if (rows === 1) return [` ${fitText(name, 10)}${fitText(v, 13)} ${bars[0]}`];
        return bars.map((b, i) => ` ${fitText(i === 0 ? name : i === 1 ? v : '', label)} ${b}`);
      };
      lines.push(
        ...graph('bitrate', formatKbps(g.kbps.last), g.kbps),
        ...graph('fps', g.fps.last.toFixed(1), g.fps, info?.fps),
        ...graph('loss', `${g.loss.last.toFixed(1)} %`, g.loss),
        ...graph('FEC fixes', `${g.fec.last.toFixed(1)}/s`, g.fec),
        ...graph('lost frames', `${g.lost.last.toFixed(1)}/s`, g.lost),
        ...graph('RTT', `${g.rtt.last.toFixed(1)} ms`, g.rtt),
        '',
      );
    }
    if (st) {
      lines.push(
        esc(
          ` frames ${st.video.frames} (FEC-recovered ${st.video.recovered}, lost ${st.video.lost})  audio ${st.audio.frames}`,
        ),
        esc(
          ` packets ${st.packets.received} (lost ${st.packets.lost}, forged ${st.packets.forged}, malformed ${st.packets.malformed})  rumble ${st.rumble}`,
        ),
      );
    }
    const sink = (name: string, s: VideoSink | AudioSink | undefined, spec: string) => {
      if (!s || s.kind === 'none') return `${name} ${s?.kind ?? spec}`;
      const x = s.stats();
      if (picture && s === picture.sink) {
        const p = picture.sink.pictureStats();
        return `${name} terminal ${p.mode} ${p.width}x${p.height} ${p.fps.toFixed(0)} fps ${formatKbps(p.kbps)} ${p.latencyMs.toFixed(0)} ms (${x.written} in, ${p.skipped} skipped)`;
      }
      return `${name} ${s.kind} (${x.written} written, ${x.dropped} dropped)`;
    };
    lines.push(
      esc(
        ` ${sink('video', this.video, profile.settings.videoSink)}  ${sink('audio', this.audio, profile.settings.audioSink)}`,
      ),
    );
    const mode = this.input?.keyboard.kittyActive
      ? 'kitty protocol (real key releases)'
      : 'timed key release';
    lines.push(
      esc(
        ` keys: map "${this.keymap?.name ?? profile.settings.keymap}", ${mode}  inputs ${this.inputCount}${this.lastInput ? `  last: ${this.lastInput}` : ''}`,
      ),
    );
    this.box.setContent(lines.join('\n'));
  }

  handleKey(_ch: string | undefined, key: KeyInfo): void {
    // only reached while game input is off (before the key map loaded, or after the end)
    if (key.name === 'escape') void this.leave();
  }

  async dispose(): Promise<void> {
    if (!this.finished) await this.leave();
  }

  destroy(): void {
    this.leaveGameInput();
    this.dropPicture();
    if (this.inputRender) clearTimeout(this.inputRender);
    this.box.destroy();
  }
}
