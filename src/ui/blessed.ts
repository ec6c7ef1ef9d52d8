/**
 * blessed is loaded on demand: every other command of the CLI shares the bundle, and none of them
 * should pay for loading a terminal UI library they do not use.
 */
import type { Widgets } from 'blessed';
import { safeText } from '../proto-stack/text.js';

export type Blessed = typeof import('blessed');
export type { Widgets };

let lib: Blessed | undefined;

export async function loadBlessed(): Promise<Blessed> {
  lib ??= ((await import('blessed')) as unknown as { default: Blessed }).default;
  return lib;
}

/** The loaded library; only valid after loadBlessed() (the app awaits it before building anything). */
export function blessed(): Blessed {
  if (!lib) throw new Error('blessed used before loadBlessed()');
  return lib;
}

/** What a widget gets for a key press: blessed's key info, or one synthesized from a gamepad. */
export interface KeyInfo {
  name?: string;
  full?: string;
  ctrl?: boolean;
  meta?: boolean;
  shift?: boolean;
  sequence?: string;
}

/**
 * Text shown inside a tagged widget: made terminal-safe (one line: control characters, newlines
 * included, become escapes), and never read as blessed tags.
 */
export function esc(text: string): string {
  return safeText(text).replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'));
}
