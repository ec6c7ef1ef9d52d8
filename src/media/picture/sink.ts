/**
 * `--video terminal`: the picture drawn in the terminal itself (kitty graphics, sixel, iTerm2
 * images, or half-block / ASCII text cells), for a player used over SSH.
 *
 * ffmpeg decodes in a child process (decoder.ts) into frames of exactly the picture's size, at
 * most `maxFps` of them. Frames are never queued: the sink keeps the newest decoded frame only,
 * and draws it when the terminal has taken the previous one and the byte budget (`kbps`) allows;
 * every frame it had no time for is skipped. The access units going into ffmpeg are dropped (and
 * a key frame asked for) when ffmpeg falls behind, as for ffplay. So a slow terminal or SSH link
 * costs frame rate, never the session's own timing. Image modes (sixel, kitty, iTerm2) shrink the
 * image when the budget cannot carry ~15 frames a second, and grow it back when it can.
 *
 * Two layouts:
 * - 'screen' (rptui connect): the alternate screen, the picture over all of it but the last
 *   line, which is a status line (stream, picture mode, fps, kbit/s, latency, keys, notices).
 *   The terminal is restored on close(), on process exit (crash included) and survives a
 *   terminal that hung up. Resizing the terminal re-lays the picture out.
 * - 'pane' (the TUI): draws into the rectangle the host gives (setRect), toggled with show()
 *   and hide(); the host says when it drew over the rectangle (invalidate()).
 */

import type { RptuiError } from '../../proto-stack/errors.js';
import type { SinkOptions, TerminalPictureOptions, VideoInfo, VideoSink } from '../sink-types.js';
import { childEnv, findTool, KeyframeGate, SinkEvents } from '../tools.js';
import {
  cellSize,
  choosePictureMode,
  type PictureChoice,
  type PictureMode,
  type TerminalAnswers,
} from './caps.js';
import { type DecodedFrame, FrameDecoder } from './decoder.js';
import { type PictureOutput, TtyWriter, writeTerminalNow } from './output.js';
import { type ProbeInput, probeTerminal } from './probe.js';
import { type CellRect, layoutPicture, PictureView } from './view.js';

/** Default byte budget: what SSH over a so-so Wi-Fi link carries next to the stream itself. */
export const DEFAULT_PICTURE_KBPS = 12_000;
export const DEFAULT_PICTURE_FPS = 30;

/** The picture's statistics (`picture` in --stats-json). */
export interface PictureStats {
  mode: PictureMode | 'none';
  /** Pixels the decoder makes (text modes: cells, two rows per cell for blocks). */
  width: number;
  height: number;
  /** Over the last second: frames drawn, kbit/s written to the terminal, mean ms from decoder input to terminal. */
  fps: number;
  kbps: number;
  latencyMs: number;
  /** Since start: frames drawn, decoded frames skipped (newest wins), bytes written to the terminal. */
  shown: number;
  skipped: number;
  bytes: number;
}

// as for ffplay: past 1 MiB queued for ffmpeg non-key frames are dropped, past 16 MiB all are
const CONGESTED_BYTES = 1 << 20;
const STUCK_BYTES = 16 << 20;
/** Image modes aim for at least this frame rate within the budget, shrinking the image if need be. */
const TARGET_FPS = 15;
const MIN_SCALE = 0.2;
/** Bytes per pixel to start from, before frames were measured (sixel; PNG in base64). */
const START_BYTES_PER_PIXEL: Partial<Record<PictureMode, number>> = { sixel: 0.5, kitty: 1.5, iterm: 1.5 };
const RESCALE_INTERVAL_MS = 3000;
const NOTICE_MS = 6000;
/** ffmpeg may die this often a minute before the sink gives up. */
const MAX_RESTARTS = 3;

const ENTER_SCREEN = '\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[0m\x1b[2J';
const LEAVE_SCREEN = '\x1b[0m\x1b[2J\x1b[?7h\x1b[?25h\x1b[?1049l';

const enc = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

function defaultTerminalSize(): { cols: number; rows: number } | undefined {
  for (const s of [process.stdout, process.stderr])
    if (s.isTTY && s.columns > 0 && s.rows > 0) return { cols: s.columns, rows: s.rows };
  return undefined;
}

function formatRate(kbps: number): string {
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${Math.round(kbps)} kbit/s`;
}

export class TerminalPictureSink extends SinkEvents implements VideoSink {
  readonly kind = 'terminal';
  private readonly p: TerminalPictureOptions;
  private readonly env: NodeJS.ProcessEnv;
  private readonly layoutKind: 'screen' | 'pane';
  private readonly rate: number;
  private readonly maxFps: number;
  private info: VideoInfo | undefined;
  private answers: TerminalAnswers | undefined;
  private choice: PictureChoice | undefined;
  private output: PictureOutput | undefined;
  private ownOutput = false;
  private view: PictureView | undefined;
  private decoder: FrameDecoder | undefined;
  private ffmpeg: string | undefined;
  private readonly gate = new KeyframeGate(() => this.emit('needKeyframe'));
  private readonly restarts: number[] = [];
  private latest: DecodedFrame | undefined;
  private busy = false;
  private waitingDrain = false;
  private pumpTimer: NodeJS.Timeout | undefined;
  private tokens = 0;
  private refilledAt = performance.now();
  private scale = 1;
  private rescaledAt = 0;
  /** Encoded bytes per frame at the current size (moving average; 0 = not measured yet). */
  private bytesPerFrame = 0;
  private paneRect: CellRect | undefined;
  private shownNow = true;
  private screenOn = false;
  private tick: NodeJS.Timeout | undefined;
  private notice: { text: string; until: number } | undefined;
  private readonly deferred: string[] = [];
  private deferredTo: ((line: string) => void) | undefined;
  private keys: { stop(): void } | undefined;
  private resizeSource: NodeJS.WriteStream | undefined;
  private closing = false;
  private readonly totals = { shown: 0, skipped: 0, bytes: 0 };
  private window = { shown: 0, bytes: 0, latency: 0, samples: 0, since: performance.now() };
  private rates = { fps: 0, kbps: 0, latencyMs: 0 };

  constructor(opts: SinkOptions = {}, picture: TerminalPictureOptions = {}) {
    super(opts.log);
    this.p = picture;
    this.env = childEnv(opts.env);
    this.layoutKind = picture.layout ?? 'pane';
    this.rate = ((picture.kbps ?? DEFAULT_PICTURE_KBPS) * 1000) / 8;
    this.maxFps = picture.maxFps ?? DEFAULT_PICTURE_FPS;
    this.answers = picture.answers;
    this.output = picture.output;
  }

  /** The mode in use (known after prepare() or start()). */
  get mode(): PictureMode | undefined {
    return this.choice?.mode;
  }

  /** The running ffmpeg's process id (tests, diagnostics). */
  get pid(): number | undefined {
    return this.decoder?.pid;
  }

  /** Whether the picture holds the whole terminal now (screen layout, between start and close). */
  get active(): boolean {
    return this.screenOn;
  }

  /**
   * Asks the terminal what it draws and its cell size in pixels (screen layout, stdin a
   * terminal; not for blocks or ascii asked for by name, which need neither), before anything
   * else reads stdin. Optional: without it the environment alone decides.
   */
  async prepare(): Promise<PictureMode | undefined> {
    const mode = this.p.mode ?? 'auto';
    if (this.answers === undefined && mode !== 'blocks' && mode !== 'ascii' && this.layoutKind === 'screen') {
      const out = this.openOutput();
      if (out) this.answers = await probeTerminal({ input: this.p.input, write: (s) => out.write(enc(s)) });
    }
    this.choose();
    return this.choice?.mode;
  }

  private choose(): PictureChoice {
    this.choice ??= choosePictureMode(this.env, this.answers ?? {}, this.p.mode);
    return this.choice;
  }

  private openOutput(): PictureOutput | undefined {
    if (this.output) return this.output;
    try {
      this.output = TtyWriter.open('/dev/tty', (err) =>
        this.log(`the terminal went away (${err.code ?? err.message}); no more picture`),
      );
      this.ownOutput = true;
    } catch (e) {
      const err = e as RptuiError;
      this.warnOnce(`${err.message}: no picture (the session goes on). ${err.hint ?? ''}`.trim());
    }
    return this.output;
  }

  start(info: VideoInfo): void {
    if (this.closing) return;
    const prev = this.info;
    this.info = info;
    if (prev !== undefined) {
      // another STREAMINFO: a new decoder only if the stream changed
      if (
        prev.codec !== info.codec ||
        prev.fps !== info.fps ||
        prev.width * info.height !== info.width * prev.height
      )
        this.relayout(true);
      return;
    }
    const out = this.openOutput();
    if (!out) return;
    const tool = findTool('ffmpeg', { env: this.env });
    if (!tool.found) {
      this.warnOnce(`${tool.message}: no picture (the session goes on). ${tool.hint}`);
      return;
    }
    this.ffmpeg = tool.path;
    const choice = this.choose();
    const size = this.terminalSize();
    const a = this.answers ?? {};
    this.view = new PictureView({
      mode: choice.mode,
      colors: choice.colors,
      cell: cellSize(a, size?.cols ?? 0, size?.rows ?? 0, choice.mode),
      colorRegisters: a.colorRegisters,
      sixelMaxArea: a.sixelMaxArea,
      keepCursor: this.layoutKind === 'pane',
    });
    this.scale = this.startScale();
    if (this.layoutKind === 'screen') this.enterScreen();
    this.tick = setInterval(() => this.onTick(), 1000);
    this.tick.unref();
    this.relayout(true);
    const l = this.view.layout;
    this.log(
      `picture: ${choice.mode}${choice.mode === 'blocks' ? ` (${choice.colors === 'truecolor' ? '24-bit colour' : '256 colours'})` : ''}, ` +
        `${choice.reason}; ${l ? `${l.width}x${l.height}, ` : ''}up to ${this.maxFps} fps within ${formatRate((this.rate * 8) / 1000)}`,
    );
  }

  private terminalSize(): { cols: number; rows: number } | undefined {
    return (this.p.terminalSize ?? defaultTerminalSize)();
  }

  /** Image modes start at the size the budget can carry at TARGET_FPS (guessing the bytes per pixel). */
  private startScale(): number {
    const bpp = START_BYTES_PER_PIXEL[this.choice!.mode];
    const l = this.layoutFor(1);
    if (bpp === undefined || !l) return 1;
    const pixels = this.rate / (TARGET_FPS * bpp);
    return Math.max(MIN_SCALE, Math.min(1, Math.sqrt(pixels / (l.width * l.height))));
  }

  private rect(): CellRect | undefined {
    if (this.layoutKind === 'pane') return this.paneRect;
    const size = this.terminalSize() ?? { cols: 80, rows: 24 };
    // the last line is the status line
    return { left: 0, top: 0, cols: size.cols, rows: Math.max(1, size.rows - 1) };
  }

  private layoutFor(scale: number) {
    const rect = this.rect();
    const o = this.view?.o;
    if (!rect || !this.info || !o) return undefined;
    return layoutPicture(o.mode, rect, o.cell, this.info.width / this.info.height, scale, o.sixelMaxArea);
  }

  /** Lays the picture out again; a new decoder if its size changed (or `force`). */
  private relayout(force = false): void {
    const view = this.view;
    const info = this.info;
    if (!view || !info || this.closing) return;
    const rect = this.rect();
    const resized = rect ? view.configure(rect, info.width / info.height, this.scale) : false;
    if (!rect || !this.shownNow) {
      this.stopDecoder();
      return;
    }
    if (resized || force || !this.decoder) this.startDecoder();
  }

  private startDecoder(): void {
    this.stopDecoder();
    const l = this.view?.layout;
    const info = this.info;
    if (!l || !info || !this.ffmpeg) return;
    const dec: FrameDecoder = new FrameDecoder(
      this.ffmpeg,
      {
        codec: info.codec,
        fps: info.fps,
        width: l.width,
        height: l.height,
        everyNth: Math.max(1, Math.round(info.fps / this.maxFps)),
        // $RPTUI_PICTURE_ARGS: input/decoder options (split on spaces), e.g. a hardware decoder
        inputArgs: (this.env.RPTUI_PICTURE_ARGS ?? '').split(/\s+/).filter((a) => a !== ''),
      },
      this.env,
      (frame) => this.onFrame(dec, frame),
      (detail) => this.onDecoderExit(dec, detail),
    );
    this.decoder = dec;
    this.gate.restart();
  }

  private stopDecoder(): void {
    const dec = this.decoder;
    this.decoder = undefined;
    if (this.latest) {
      dec?.release(this.latest);
      this.latest = undefined;
    }
    if (dec) void dec.close();
  }

  private onDecoderExit(dec: FrameDecoder, detail: string): void {
    if (dec !== this.decoder || this.closing) return;
    this.decoder = undefined;
    const now = performance.now();
    this.restarts.push(now);
    while (this.restarts.length > 0 && now - this.restarts[0] > 60_000) this.restarts.shift();
    if (this.restarts.length <= MAX_RESTARTS) {
      this.log(`picture: ffmpeg stopped (${detail}); starting it again`);
      this.startDecoder();
    } else {
      this.warnOnce(`picture: ffmpeg keeps stopping (${detail}); no picture (the session goes on)`);
      this.emit('closed');
    }
  }

  write(frame: Uint8Array, keyframe: boolean): void {
    const dec = this.decoder;
    if (dec === undefined || !dec.alive || !this.gate.admit(keyframe)) {
      this.counters.dropped++;
      return;
    }
    const queued = dec.queued;
    if (queued > STUCK_BYTES || (!keyframe && queued > CONGESTED_BYTES)) {
      this.counters.dropped++;
      this.gate.restart();
      return;
    }
    dec.write(frame, this.gate.headerFor(frame, keyframe, dec.spec.codec));
    this.counters.written++;
    this.counters.bytes += frame.length;
  }

  /** Newest wins: a frame not drawn yet is replaced by the next one. */
  private onFrame(dec: FrameDecoder, frame: DecodedFrame): void {
    if (dec !== this.decoder) {
      dec.release(frame);
      return;
    }
    if (this.latest) {
      this.totals.skipped++;
      dec.release(this.latest);
    }
    this.latest = frame;
    this.pump();
  }

  private pump(): void {
    const out = this.output;
    const view = this.view;
    if (this.busy || !this.latest || !out || !view || this.closing || out.gone) return;
    if (out.pending > 0) {
      if (!this.waitingDrain) {
        this.waitingDrain = true;
        out.onDrain(() => {
          this.waitingDrain = false;
          this.pump();
        });
      }
      return;
    }
    const now = performance.now();
    this.tokens = Math.min(this.rate / 5, this.tokens + ((now - this.refilledAt) * this.rate) / 1000);
    this.refilledAt = now;
    if (this.tokens < 0) {
      if (!this.pumpTimer)
        this.pumpTimer = setTimeout(
          () => {
            this.pumpTimer = undefined;
            this.pump();
          },
          Math.ceil((-this.tokens * 1000) / this.rate),
        );
      return;
    }
    const frame = this.latest;
    const dec = this.decoder;
    this.latest = undefined;
    this.busy = true;
    const rendering = view.render(frame);
    dec?.release(frame); // render() copied what it needs
    rendering.then(
      (bytes) => this.drawn(bytes, frame.fedAt),
      (e: unknown) => {
        this.busy = false;
        this.log(`picture: cannot encode a frame: ${(e as Error).message}`);
      },
    );
  }

  private drawn(bytes: Uint8Array, fedAt: number): void {
    this.busy = false;
    const out = this.output;
    if (this.closing || !out) return;
    this.tokens -= bytes.length;
    this.totals.bytes += bytes.length;
    this.window.bytes += bytes.length;
    if (bytes.length > 0)
      this.bytesPerFrame =
        this.bytesPerFrame === 0 ? bytes.length : this.bytesPerFrame * 0.8 + bytes.length * 0.2;
    out.write(bytes, () => {
      this.totals.shown++;
      this.window.shown++;
      if (Number.isFinite(fedAt)) {
        this.window.latency += performance.now() - fedAt;
        this.window.samples++;
      }
    });
    this.pump();
  }

  private onTick(): void {
    const now = performance.now();
    const w = this.window;
    const secs = (now - w.since) / 1000;
    if (secs > 0)
      this.rates = {
        fps: w.shown / secs,
        kbps: (w.bytes * 8) / 1000 / secs,
        latencyMs: w.samples > 0 ? w.latency / w.samples : this.rates.latencyMs,
      };
    this.window = { shown: 0, bytes: 0, latency: 0, samples: 0, since: now };
    this.rescale(now);
    this.drawStatus();
  }

  /** Image modes: a smaller image when the budget cannot carry TARGET_FPS, a bigger one when it carries twice that. */
  private rescale(now: number): void {
    const mode = this.choice?.mode;
    if (mode === undefined || START_BYTES_PER_PIXEL[mode] === undefined) return;
    if (this.bytesPerFrame === 0 || now - this.rescaledAt < RESCALE_INTERVAL_MS) return;
    const budgetFps = this.rate / this.bytesPerFrame;
    if (budgetFps >= TARGET_FPS && (budgetFps < 2 * TARGET_FPS || this.scale >= 1)) return;
    // bytes grow with the area, i.e. with the square of the scale
    const next = Math.max(MIN_SCALE, Math.min(1, this.scale * Math.sqrt(budgetFps / TARGET_FPS)));
    if (Math.abs(next - this.scale) < 0.05 * this.scale) return;
    this.bytesPerFrame *= (next / this.scale) ** 2;
    this.scale = next;
    this.rescaledAt = now;
    this.relayout();
    const l = this.view?.layout;
    if (l)
      this.log(
        `picture: ${l.width}x${l.height} now, for ~${Math.round(Math.min(this.maxFps, this.rate / this.bytesPerFrame))} fps within ${formatRate((this.rate * 8) / 1000)}`,
      );
  }

  pictureStats(): PictureStats {
    const l = this.view?.layout;
    return {
      mode: this.view?.mode ?? 'none',
      width: l?.width ?? 0,
      height: l?.height ?? 0,
      fps: Math.round(this.rates.fps * 10) / 10,
      kbps: Math.round(this.rates.kbps),
      latencyMs: Math.round(this.rates.latencyMs * 10) / 10,
      ...this.totals,
    };
  }

  // ----------------------------------------------------------------------------------------------
  // The pane (TUI)

  /** Where the picture goes (pane layout); undefined: nowhere for now. */
  setRect(rect: CellRect | undefined): void {
    const same =
      rect &&
      this.paneRect &&
      Object.entries(rect).every(([k, v]) => this.paneRect?.[k as keyof CellRect] === v);
    if (same) return;
    if (this.paneRect && this.view && this.output) this.output.write(this.view.clear(this.paneRect));
    this.paneRect = rect;
    this.relayout();
  }

  get visible(): boolean {
    return this.shownNow;
  }

  /** Shows the picture again (a new decoder, from the next key frame). */
  show(): void {
    if (this.shownNow) return;
    this.shownNow = true;
    this.relayout(true);
  }

  /**
   * Takes the picture away and stops decoding until show(). `erase` false: the host has drawn
   * over the picture's cells already (a dialog on top), so only images floating above the text
   * (kitty) are removed.
   */
  hide(erase = true): void {
    if (!this.shownNow) return;
    this.shownNow = false;
    this.stopDecoder();
    if (this.view && this.output) this.output.write(this.view.clear(this.rect(), erase));
  }

  toggle(): boolean {
    if (this.shownNow) this.hide();
    else this.show();
    return this.shownNow;
  }

  /** The host drew over the picture (or cleared the screen): the next frame redraws all of it. */
  invalidate(): void {
    this.view?.invalidate();
  }

  // ----------------------------------------------------------------------------------------------
  // The screen (rptui connect)

  private enterScreen(): void {
    if (this.screenOn || !this.output) return;
    this.screenOn = true;
    this.output.write(enc(ENTER_SCREEN));
    process.on('exit', this.onExit);
    const src = [process.stdout, process.stderr].find((s) => s.isTTY);
    if (src && !this.p.terminalSize) {
      this.resizeSource = src;
      src.on('resize', this.onResize);
    }
  }

  private readonly onResize = (): void => {
    if (!this.screenOn || !this.output || !this.view) return;
    this.output.write(this.view.clear());
    this.output.write(enc('\x1b[0m\x1b[2J'));
    this.relayout();
    this.view.invalidate();
    this.drawStatus();
  };

  private restoreSequence(): string {
    // kitty images deleted (the cells go with the alternate screen)
    const images = this.view ? Buffer.from(this.view.clear(undefined, false)).toString('latin1') : '';
    // ESC \ first ends a sequence that was cut off mid-way (a sixel or kitty image)
    return `\x1b\\${images}${LEAVE_SCREEN}`;
  }

  /** process 'exit' (a crash included): put the terminal back, synchronously. */
  private readonly onExit = (): void => {
    this.keys?.stop();
    if (!this.screenOn) return;
    this.screenOn = false;
    this.output?.close();
    writeTerminalNow(this.restoreSequence());
  };

  /**
   * The status line: the stream, the picture's figures and the key hint, or a notice for a few
   * seconds. Written whole (padded to the width), so it needs no clearing.
   */
  private drawStatus(): void {
    if (!this.screenOn || !this.output) return;
    const size = this.terminalSize() ?? { cols: 80, rows: 24 };
    const width = Math.max(1, size.cols - 1);
    let text: string;
    if (this.notice && this.notice.until > performance.now()) text = ` ${this.notice.text}`;
    else {
      this.notice = undefined;
      const i = this.info;
      const s = this.pictureStats();
      const picture =
        s.shown === 0
          ? 'waiting for the first frame'
          : `${s.mode} ${s.width}x${s.height} ${s.fps.toFixed(0)} fps ${formatRate(s.kbps)} ${Math.round(s.latencyMs)} ms`;
      const stream = i ? `${i.width}x${i.height}@${i.fps} ${i.codec === 'hevc' ? 'HEVC' : 'H.264'}` : '';
      // the most useful first: a narrow terminal cuts the end
      text = ` ${[picture, this.p.hint, stream, i?.title].filter(Boolean).join('  |  ')}`;
    }
    const chars = [...text];
    const line =
      chars.length > width
        ? `${chars.slice(0, width - 1).join('')}…`
        : text.padEnd(width + text.length - chars.length);
    this.output.write(enc(`\x1b[${size.rows};1H\x1b[0;7m${line}\x1b[0m`));
  }

  /** Shows `text` on the status line for a few seconds (screen layout). */
  say(text: string): void {
    this.notice = { text: text.trim(), until: performance.now() + NOTICE_MS };
    this.drawStatus();
  }

  /**
   * A log function for whoever writes lines to the terminal while the picture is up: the line
   * goes to the status line instead, and to `write` (stderr) too, at once when that is not the
   * terminal, else after the picture is gone.
   */
  routeLog(write: (line: string) => void): (line: string) => void {
    this.deferredTo = write;
    const stderrIsTerminal = process.stderr.isTTY === true;
    return (line: string) => {
      if (!this.screenOn) {
        write(line);
        return;
      }
      this.say(line);
      if (stderrIsTerminal) this.deferred.push(line);
      else write(line);
    };
  }

  /** Writes terminal control text (the keyboard protocol's) in turn with the picture's bytes. */
  terminalWriter(): { write(s: string): void } {
    return {
      write: (s: string) => {
        if (this.output && !this.output.gone) this.output.write(enc(s));
      },
    };
  }

  /**
   * Watch-only sessions: stdin in raw mode (no echo over the picture), Ctrl-C, q and Escape call
   * `leave`. Undone by close() and on exit.
   */
  captureKeys(leave: () => void, input: ProbeInput = process.stdin): void {
    if (!input.isTTY || this.keys) return;
    const wasRaw = input.isRaw === true;
    const onData = (chunk: Buffer | string) => {
      const s = typeof chunk === 'string' ? chunk : chunk.toString('latin1');
      if (s.includes('\x03') || s === 'q' || s === '\x1b') leave();
    };
    try {
      input.setRawMode?.(true);
    } catch {
      return;
    }
    input.on('data', onData);
    input.resume();
    this.keys = {
      stop: () => {
        this.keys = undefined;
        input.off('data', onData);
        input.pause();
        try {
          input.setRawMode?.(wasRaw);
        } catch {
          // the terminal is gone
        }
      },
    };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.tick) clearInterval(this.tick);
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.keys?.stop();
    this.resizeSource?.off('resize', this.onResize);
    const dec = this.decoder;
    this.decoder = undefined;
    const out = this.output;
    const leaving = dec?.close();
    if (out && this.screenOn) {
      this.screenOn = false;
      process.off('exit', this.onExit);
      await drained(out, 500);
      if (out.midSequence || out.pending > 0) {
        // the terminal took no more: drop the rest; the restore starts by ending the cut sequence
        out.close();
        writeTerminalNow(this.restoreSequence());
      } else {
        out.write(enc(this.restoreSequence()));
        await drained(out, 500);
      }
    } else if (out && this.view && this.layoutKind === 'pane' && this.shownNow) {
      out.write(this.view.clear(this.rect()));
    }
    if (this.ownOutput) out?.close();
    await leaving;
    const write = this.deferredTo;
    if (write) for (const line of this.deferred.splice(0)) write(line);
  }
}

/** Resolves once `out` has nothing pending, or after `ms`. */
function drained(out: PictureOutput, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    out.onDrain(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
