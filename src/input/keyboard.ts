/**
 * Terminal keyboard -> controller state (sans-I/O: bytes and the current time in, states out).
 *
 * TerminalInputDecoder turns raw tty bytes into key events: legacy sequences (plain bytes, ctrl
 * letters, ESC-prefixed alt keys, CSI/SS3 cursor and function keys with xterm modifiers) and kitty
 * keyboard protocol sequences (CSI-u with press/repeat/release), plus the terminal's answers to
 * the kitty capability query.
 *
 * KeyboardController applies a key map. With the kitty protocol active it uses the terminal's
 * real releases. Otherwise a key counts as held while its auto-repeat keeps arriving: the first
 * press holds for `initialHoldMs` (the OS waits that long before repeating), each repeat extends
 * the hold by `releaseTimeoutMs`. Sticks and triggers can instead toggle on each fresh press.
 */
import { concatBytes, fromAscii, fromUtf8 } from '../proto-stack/bytes.js';
import {
  BUTTONS,
  type ButtonName,
  type Control,
  type ControllerState,
  IDLE_STATE,
  STICK_MAX,
  STICK_MIN,
  stateEqual,
  TRIGGERS,
  type TriggerName,
} from '../proto-stack/controller.js';
import type { Keymap, StickMode } from './keymap.js';
import {
  csiUKeyName,
  decodeEventType,
  decodeModifiers,
  type KeyEventType,
  KITTY_DISABLE,
  KITTY_ENABLE,
  KITTY_QUERY,
  LETTER_KEYS,
  type Modifiers,
  NO_MODS,
  splitCsiParams,
  TILDE_KEYS,
} from './kitty.js';

export interface KeyEvent {
  kind: 'key';
  /** Base key name: "a", "space", "up", "f5", "left_shift" ... (lower case). */
  key: string;
  mods: Modifiers;
  type: KeyEventType;
  /** Came as a CSI sequence (kitty reports every key so when its protocol is on). */
  csi: boolean;
}

export type TerminalEvent = KeyEvent | { kind: 'kitty-flags'; flags: number } | { kind: 'device-attributes' };

/** Canonical combo name as key maps spell it: ctrl+alt+shift+super+key. */
export function comboName(key: string, mods: Modifiers): string {
  const parts: string[] = [];
  if (mods.ctrl) parts.push('ctrl');
  if (mods.alt) parts.push('alt');
  if (mods.shift) parts.push('shift');
  if (mods.super) parts.push('super');
  parts.push(key);
  return parts.join('+');
}

/** How long an incomplete escape sequence may wait for its remaining bytes. */
export const ESC_TIMEOUT_MS = 25;
const MAX_SEQUENCE = 64;

const key = (k: string, mods: Modifiers = NO_MODS, type: KeyEventType = 'press', csi = false): KeyEvent => ({
  kind: 'key',
  key: k,
  mods,
  type,
  csi,
});

function controlByteKey(b: number): KeyEvent | undefined {
  switch (b) {
    case 0x0d:
      return key('enter');
    case 0x09:
      return key('tab');
    case 0x1b:
      return key('escape');
    case 0x7f:
    case 0x08:
      return key('backspace');
    case 0x00:
      return key('space', { ...NO_MODS, ctrl: true });
  }
  if (b >= 0x01 && b <= 0x1a) return key(String.fromCharCode(b + 0x60), { ...NO_MODS, ctrl: true });
  if (b >= 0x1c && b <= 0x1f) return key(String.fromCharCode(b + 0x40), { ...NO_MODS, ctrl: true });
  return undefined;
}

function textKey(ch: string, alt: boolean): KeyEvent {
  if (ch === ' ') return key('space', { ...NO_MODS, alt });
  const lower = ch.toLowerCase();
  return key(lower, { ...NO_MODS, alt, shift: lower !== ch });
}

/** Byte length of the UTF-8 sequence a lead byte starts (1 for invalid leads). */
const utf8Length = (b: number): number => (b >= 0xf0 && b < 0xf8 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1);

export class TerminalInputDecoder {
  private pending: Uint8Array = new Uint8Array(0);
  private pendingSince = 0;

  feed(bytes: Uint8Array, now: number): TerminalEvent[] {
    const buf = this.pending.length ? concatBytes(this.pending, bytes) : bytes;
    const out: TerminalEvent[] = [];
    const rest = this.parse(buf, out);
    if (rest < buf.length) {
      if (this.pending.length === 0 || rest > 0) this.pendingSince = now;
      this.pending = buf.slice(rest);
    } else {
      this.pending = new Uint8Array(0);
    }
    return out;
  }

  /** Resolves an incomplete sequence that waited ESC_TIMEOUT_MS: a lone ESC is the Escape key. */
  flush(now: number): TerminalEvent[] {
    if (this.pending.length === 0 || now - this.pendingSince < ESC_TIMEOUT_MS) return [];
    const p = this.pending;
    this.pending = new Uint8Array(0);
    if (p[0] !== 0x1b) return []; // a broken UTF-8 tail
    const out: TerminalEvent[] = [key('escape')];
    if (p.length > 1) this.parse(p.subarray(1), out, true);
    return out;
  }

  nextWakeup(): number | undefined {
    return this.pending.length ? this.pendingSince + ESC_TIMEOUT_MS : undefined;
  }

  /** Parses complete events; returns the offset of an incomplete tail (buf.length if none). */
  private parse(buf: Uint8Array, out: TerminalEvent[], final = false): number {
    let i = 0;
    while (i < buf.length) {
      const b = buf[i];
      if (b === 0x1b) {
        const used = this.escape(buf, i, out, final);
        if (used === 0) return i;
        i += used;
      } else if (b < 0x20 || b === 0x7f) {
        const ev = controlByteKey(b);
        if (ev) out.push(ev);
        i++;
      } else {
        const n = utf8Length(b);
        if (i + n > buf.length) return final ? buf.length : i;
        out.push(textKey(fromUtf8(buf.subarray(i, i + n)), false));
        i += n;
      }
    }
    return i;
  }

  /** Handles an ESC at buf[i]; returns bytes consumed, 0 if the sequence is incomplete. */
  private escape(buf: Uint8Array, i: number, out: TerminalEvent[], final: boolean): number {
    if (i + 1 >= buf.length) {
      if (!final) return 0;
      out.push(key('escape'));
      return 1;
    }
    const next = buf[i + 1];
    if (next === 0x5b /* [ */) {
      let j = i + 2;
      while (j < buf.length && !(buf[j] >= 0x40 && buf[j] <= 0x7e)) j++;
      if (j >= buf.length) {
        if (final || j - i > MAX_SEQUENCE) return buf.length - i; // garbage: drop it
        return 0;
      }
      const params = fromAscii(buf.subarray(i + 2, j));
      const ev = csiEvent(params, String.fromCharCode(buf[j]));
      if (ev) out.push(ev);
      return j + 1 - i;
    }
    if (next === 0x4f /* O */) {
      if (i + 2 >= buf.length) return final ? 2 : 0;
      const name = LETTER_KEYS.get(String.fromCharCode(buf[i + 2]));
      if (name) out.push(key(name));
      else if (buf[i + 2] === 0x4d /* M */) out.push(key('kp_enter'));
      return 3;
    }
    if (next === 0x1b) {
      out.push(key('escape'));
      return 1;
    }
    // ESC + key = alt + key
    if (next < 0x20 || next === 0x7f) {
      const ev = controlByteKey(next);
      if (ev) out.push({ ...ev, mods: { ...ev.mods, alt: true } });
      return 2;
    }
    const n = utf8Length(next);
    if (i + 1 + n > buf.length) return final ? buf.length - i : 0;
    out.push(textKey(fromUtf8(buf.subarray(i + 1, i + 1 + n)), true));
    return 1 + n;
  }
}

function csiEvent(params: string, finalChar: string): TerminalEvent | undefined {
  const prefix = /^[?<>=]/.test(params) ? params[0] : '';
  const body = prefix ? params.slice(1) : params;
  if (!/^[0-9;:]*$/.test(body)) return undefined;
  const fields = splitCsiParams(body);
  if (prefix === '?') {
    if (finalChar === 'u') return { kind: 'kitty-flags', flags: fields[0][0] ?? 0 };
    if (finalChar === 'c') return { kind: 'device-attributes' };
    return undefined;
  }
  if (prefix) return undefined;
  const mods = decodeModifiers(fields[1]?.[0] ?? 1);
  const type = decodeEventType(fields[1]?.[1]);
  let name: string | undefined;
  if (finalChar === 'u') name = csiUKeyName(fields[0][0] ?? -1);
  else if (finalChar === '~') {
    const n = fields[0][0] ?? -1;
    // xterm modifyOtherKeys: CSI 27 ; mods ; code ~
    name = n === 27 && fields[2]?.[0] !== undefined ? csiUKeyName(fields[2][0]) : TILDE_KEYS.get(n);
  } else if (finalChar === 'Z') return key('tab', { ...mods, shift: true }, type, true);
  else name = LETTER_KEYS.get(finalChar);
  return name ? key(name, mods, type, true) : undefined;
}

// ---------------------------------------------------------------------------------------------

export interface KeyboardUpdate {
  state: ControllerState;
  /** The state differs from the one returned last time. */
  changed: boolean;
  /** The exit hotkey was pressed. */
  exit: boolean;
  /** Other hotkeys pressed (the names KeyboardOptions.hotkey gave them), in order. */
  hotkeys: string[];
  /** Bytes to write to the terminal (enabling the kitty protocol once it is detected). */
  write?: string;
}

interface DownKey {
  control: Control;
  /** Legacy hold: released when the clock passes this; undefined = wait for a real release. */
  deadline: number | undefined;
}

const isButton = (c: Control): c is ButtonName => (BUTTONS as readonly string[]).includes(c);
const isTrigger = (c: Control): c is TriggerName => (TRIGGERS as readonly string[]).includes(c);

export interface KeyboardOptions {
  /** 'auto' (default) uses the kitty protocol when the terminal answers the query. */
  kitty?: 'auto' | 'off';
  /**
   * Key combos that are not game input (a screen's own keys): their name, else undefined. Asked
   * after the exit hotkey, before the key map, so the caller decides what the map may override.
   */
  hotkey?: (combo: string) => string | undefined;
}

export class KeyboardController {
  private readonly decoder = new TerminalInputDecoder();
  private readonly down = new Map<string, DownKey>();
  private readonly latched = new Set<Control>();
  private current: ControllerState = IDLE_STATE;
  private kitty = false;
  private kittyAnswered = false;

  constructor(
    readonly map: Keymap,
    private readonly opts: KeyboardOptions = {},
  ) {}

  get state(): ControllerState {
    return this.current;
  }

  /** True once the terminal confirmed the kitty protocol and we enabled it. */
  get kittyActive(): boolean {
    return this.kitty;
  }

  /** Write to the terminal when play starts (the kitty capability query). */
  startSequence(): string {
    return this.opts.kitty === 'off' ? '' : KITTY_QUERY;
  }

  /** Write to the terminal when play ends (restores its keyboard mode). */
  stopSequence(): string {
    return this.kitty ? KITTY_DISABLE : '';
  }

  feed(bytes: Uint8Array, now: number): KeyboardUpdate {
    const events = this.decoder.feed(bytes, now);
    return this.apply(events, now);
  }

  tick(now: number): KeyboardUpdate {
    const events = this.decoder.flush(now);
    for (const [k, d] of this.down) if (d.deadline !== undefined && d.deadline <= now) this.release(k);
    return this.apply(events, now);
  }

  /** When tick() must run next (a legacy hold expiring or a pending escape), if ever. */
  nextWakeup(): number | undefined {
    let t = this.decoder.nextWakeup();
    for (const d of this.down.values())
      if (d.deadline !== undefined && (t === undefined || d.deadline < t)) t = d.deadline;
    return t;
  }

  private apply(events: TerminalEvent[], now: number): KeyboardUpdate {
    let exit = false;
    let write: string | undefined;
    const hotkeys: string[] = [];
    for (const ev of events) {
      if (ev.kind === 'kitty-flags') {
        if (!this.kittyAnswered && this.opts.kitty !== 'off') {
          this.kittyAnswered = true;
          this.kitty = true;
          write = KITTY_ENABLE;
        }
        continue;
      }
      if (ev.kind === 'device-attributes') {
        this.kittyAnswered = true; // no kitty answer came first: legacy terminal
        continue;
      }
      if (ev.type !== 'release') {
        const combo = comboName(ev.key, ev.mods);
        if (combo === this.map.exitHotkey) {
          exit = true;
          continue;
        }
        const hot = this.opts.hotkey?.(combo);
        if (hot !== undefined) {
          if (ev.type === 'press') hotkeys.push(hot); // auto-repeats do not fire it again
          continue;
        }
      }
      this.onKey(ev, now);
    }
    const next = this.compute();
    const changed = !stateEqual(next, this.current);
    if (changed) this.current = next;
    return { state: this.current, changed, exit, hotkeys, ...(write ? { write } : {}) };
  }

  private modeOf(c: Control): StickMode {
    if (isButton(c)) return 'hold';
    return isTrigger(c) ? this.map.triggerMode : this.map.stickMode;
  }

  private onKey(ev: KeyEvent, now: number): void {
    const real = this.kitty && ev.csi;
    const held = this.down.get(ev.key);
    if (ev.type === 'release') {
      if (held) this.release(ev.key);
      return;
    }
    if (held) {
      // auto-repeat (legacy) or a repeat event: only extends a timed hold
      if (held.deadline !== undefined) held.deadline = real ? undefined : now + this.map.releaseTimeoutMs;
      return;
    }
    const control = this.map.keys[comboName(ev.key, ev.mods)] ?? this.map.keys[ev.key];
    if (!control) return;
    const deadline = real ? undefined : now + Math.max(this.map.initialHoldMs, this.map.releaseTimeoutMs);
    this.down.set(ev.key, { control, deadline });
    if (this.modeOf(control) === 'toggle') {
      if (this.latched.has(control)) this.latched.delete(control);
      else this.latched.add(control);
    }
  }

  private release(k: string): void {
    this.down.delete(k);
  }

  private compute(): ControllerState {
    const active = new Set<Control>(this.latched);
    for (const d of this.down.values()) if (this.modeOf(d.control) === 'hold') active.add(d.control);
    if (active.size === 0) return IDLE_STATE;
    let buttons = 0;
    BUTTONS.forEach((b, i) => {
      if (active.has(b)) buttons |= 1 << i;
    });
    const axis = (neg: Control, pos: Control): number => {
      const v = (active.has(pos) ? 1 : 0) - (active.has(neg) ? 1 : 0);
      return v > 0 ? STICK_MAX : v < 0 ? STICK_MIN : 0;
    };
    return {
      ...IDLE_STATE,
      buttons,
      l2: active.has('l2') ? 255 : 0,
      r2: active.has('r2') ? 255 : 0,
      leftX: axis('left_stick_left', 'left_stick_right'),
      leftY: axis('left_stick_up', 'left_stick_down'),
      rightX: axis('right_stick_left', 'right_stick_right'),
      rightY: axis('right_stick_up', 'right_stick_down'),
    };
  }
}
