/**
 * Pure pieces of the stream screen: which key combos are the screen's own hotkeys (only when the
 * key map does not give them to a control: the map always wins, so nothing a user bound is ever
 * stolen), and per-interval deltas of the session's counters for the graphs.
 */
import type { Keymap } from '../input/keymap.js';

export type StreamHotkey = 'leave' | 'standby' | 'stats' | 'text' | 'help' | 'log' | 'video' | 'picture';

/** Default combos; the key map's exitHotkey leaves too. */
export const STREAM_HOTKEYS: Readonly<Record<string, StreamHotkey>> = {
  'ctrl+c': 'leave',
  'ctrl+x': 'standby',
  'ctrl+g': 'stats',
  'ctrl+t': 'text',
  'ctrl+l': 'log',
  'ctrl+o': 'video',
  'ctrl+p': 'picture',
  '?': 'help',
  'shift+/': 'help', // "?" as the kitty protocol reports it
};

/** The hotkey `combo` triggers with `map`, if any. */
export function hotkeyFor(combo: string, map: Keymap): StreamHotkey | undefined {
  if (combo === map.exitHotkey) return 'leave';
  if (map.keys[combo] !== undefined) return undefined;
  const h = STREAM_HOTKEYS[combo];
  // the controller looks up "shift+x" and then "x": a hotkey only when both are free
  if (h && combo.startsWith('shift+') && map.keys[combo.slice(6)] !== undefined) return undefined;
  return h;
}

/** Per-interval deltas of monotonically growing counters (a reset counts as 0). */
export function delta(now: number, before: number | undefined): number {
  return before === undefined || now < before ? 0 : now - before;
}
