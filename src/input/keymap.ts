/**
 * Key maps: which terminal key drives which controller control. The built-in map is
 * config/keymaps/default.json; users add `<config dir>/keymaps/<name>.json` (config dir =
 * $RPTUI_CONFIG_DIR, else $XDG_CONFIG_HOME/rptui, else ~/.config/rptui). Every file is validated;
 * a bad entry is a ConfigError naming the file and the key.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as v from 'valibot';
import { configDir, parseJsonFile } from '../common/config-dir.js';
import { noArray, safeParse } from '../common/schema.js';
import { CONTROLS, type Control, isControl } from '../proto-stack/controller.js';
import { ConfigError } from '../proto-stack/errors.js';

/** The config dir is shared with profiles; re-exported for key map users. */
export { configDir };

export type StickMode = 'hold' | 'toggle';

export interface Keymap {
  name: string;
  description?: string;
  /** Canonical key spec ("w", "space", "ctrl+q", "f1") -> control. */
  keys: Record<string, Control>;
  /** Legacy terminals: a held key is released when no auto-repeat came for this long. */
  releaseTimeoutMs: number;
  /** Legacy terminals: the first press is held this long while waiting for auto-repeat to start. */
  initialHoldMs: number;
  /** Stick directions: held while the key is down, or latched on/off by each press. */
  stickMode: StickMode;
  triggerMode: StickMode;
  /** Leaves the stream; never forwarded to the console. */
  exitHotkey: string;
  /** Where it came from, for messages. */
  source: string;
}

const NAMED_KEYS = new Set([
  'space',
  'enter',
  'tab',
  'backspace',
  'escape',
  'up',
  'down',
  'left',
  'right',
  'home',
  'end',
  'pageup',
  'pagedown',
  'insert',
  'delete',
  ...Array.from({ length: 12 }, (_, i) => `f${i + 1}`),
  ...Array.from({ length: 10 }, (_, i) => `kp_${i}`),
  'kp_decimal',
  'kp_divide',
  'kp_multiply',
  'kp_subtract',
  'kp_add',
  'kp_enter',
  'kp_equal',
  'caps_lock',
  'left_shift',
  'right_shift',
  'left_ctrl',
  'right_ctrl',
  'left_alt',
  'right_alt',
  'left_super',
  'right_super',
]);

const MODIFIER_ORDER = ['ctrl', 'alt', 'shift', 'super'] as const;

/**
 * Canonical form of a key spec: modifiers in the order ctrl+alt+shift+super, then the key.
 * Returns an error text instead for anything we could never receive.
 */
export function normalizeKeySpec(spec: string): { key: string } | { error: string } {
  const s = spec.trim();
  if (s === '') return { error: 'empty key name' };
  // "ctrl++" means ctrl and the plus key.
  const parts = s.endsWith('++') ? [...s.slice(0, -2).split('+'), '+'] : s.split('+');
  const key = parts.pop() ?? '';
  const mods = new Set<string>();
  for (const m of parts) {
    const lower = m.toLowerCase();
    const canon = lower === 'control' ? 'ctrl' : lower === 'meta' || lower === 'option' ? 'alt' : lower;
    if (!(MODIFIER_ORDER as readonly string[]).includes(canon))
      return { error: `unknown modifier "${m}" (use ctrl, alt, shift or super)` };
    mods.add(canon);
  }
  let base: string;
  if ([...key].length === 1) {
    if (key === ' ') base = 'space';
    else if (/^[A-Z]$/.test(key))
      return {
        error: `"${key}" is upper case; write "${key.toLowerCase()}" or "shift+${key.toLowerCase()}"`,
      };
    else if (key.codePointAt(0)! < 0x21 || key === '\x7f')
      return { error: 'control characters are not key names' };
    else base = key;
  } else {
    base = key.toLowerCase();
    if (base === 'return') base = 'enter';
    if (base === 'esc') base = 'escape';
    if (base === 'del') base = 'delete';
    if (!NAMED_KEYS.has(base))
      return {
        error: `unknown key "${key}" (a single character, or one of: ${[...NAMED_KEYS].slice(0, 15).join(', ')}, f1..f12, kp_0..kp_9, left_shift, ...)`,
      };
  }
  return { key: [...MODIFIER_ORDER.filter((m) => mods.has(m)), base].join('+') };
}

const ms = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

const rawSchema = noArray(
  v.strictObject({
    name: v.optional(v.pipe(v.string(), v.minLength(1))),
    description: v.optional(v.string()),
    keys: noArray(v.record(v.string(), v.string()), 'record'),
    releaseTimeoutMs: v.optional(ms(20, 2000), 120),
    initialHoldMs: v.optional(ms(0, 3000), 550),
    stickMode: v.optional(v.picklist(['hold', 'toggle']), 'hold'),
    triggerMode: v.optional(v.picklist(['hold', 'toggle']), 'hold'),
    exitHotkey: v.optional(v.string(), 'ctrl+q'),
  }),
);

/** Validates parsed JSON; `source` names the file in every error. */
export function parseKeymap(json: unknown, source: string, fallbackName: string): Keymap {
  const r = safeParse(rawSchema, json);
  if (!r.success) {
    const { message, path } = r.problem;
    const where = path.length ? `"${path.join('.')}"` : 'the top level';
    throw new ConfigError(`key map ${source}: ${where}: ${message}`, {
      hint: 'see `rptui keymap show --json` for a valid example',
    });
  }
  const raw = r.output;
  const keys: Record<string, Control> = {};
  const origin: Record<string, string> = {};
  for (const [spec, control] of Object.entries(raw.keys)) {
    const n = normalizeKeySpec(spec);
    if ('error' in n) throw new ConfigError(`key map ${source}: key "${spec}": ${n.error}`);
    if (!isControl(control))
      throw new ConfigError(`key map ${source}: key "${spec}": unknown control "${control}"`, {
        hint: `controls are: ${CONTROLS.join(', ')}`,
      });
    if (origin[n.key] !== undefined)
      throw new ConfigError(`key map ${source}: key "${spec}" is the same key as "${origin[n.key]}"`);
    origin[n.key] = spec;
    keys[n.key] = control;
  }
  const exit = normalizeKeySpec(raw.exitHotkey);
  if ('error' in exit)
    throw new ConfigError(`key map ${source}: "exitHotkey" "${raw.exitHotkey}": ${exit.error}`);
  if (keys[exit.key] !== undefined)
    throw new ConfigError(
      `key map ${source}: key "${origin[exit.key]}" is also the exit hotkey; the exit hotkey cannot drive a control`,
    );
  return {
    name: raw.name ?? fallbackName,
    description: raw.description,
    keys,
    releaseTimeoutMs: raw.releaseTimeoutMs,
    initialHoldMs: raw.initialHoldMs,
    stickMode: raw.stickMode,
    triggerMode: raw.triggerMode,
    exitHotkey: exit.key,
    source,
  };
}

export function loadKeymapFile(path: string): Keymap {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read key map ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseKeymap(parseJsonFile(text, `key map ${path}`), path, basename(path).replace(/\.json$/, ''));
}

/** config/keymaps of the installation (works from src/ under tsx and from the dist/ bundle). */
export function builtinKeymapDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'config', 'keymaps');
    if (existsSync(join(candidate, 'default.json'))) return candidate;
    dir = dirname(dir);
  }
  throw new ConfigError('the built-in key maps (config/keymaps) are missing from this installation');
}

const NAME_RE = /^[A-Za-z0-9_.-]+$/;

/** A named map: the user's config dir first, then the built-in ones. */
export function loadKeymap(name = 'default', env: NodeJS.ProcessEnv = process.env): Keymap {
  if (!NAME_RE.test(name))
    throw new ConfigError(`key map name "${name}" may only contain letters, digits, "-", "_" and "."`);
  const user = join(configDir(env), 'keymaps', `${name}.json`);
  if (existsSync(user)) return loadKeymapFile(user);
  const builtin = join(builtinKeymapDir(), `${name}.json`);
  if (existsSync(builtin)) return loadKeymapFile(builtin);
  throw new ConfigError(`no key map named "${name}"`, {
    hint: `available: ${listKeymaps(env).join(', ')}; add your own as ${user}`,
  });
}

export function listKeymaps(env: NodeJS.ProcessEnv = process.env): string[] {
  const names = new Set<string>();
  for (const dir of [builtinKeymapDir(), join(configDir(env), 'keymaps')]) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith('.json')) names.add(f.slice(0, -5));
  }
  return [...names].sort();
}

/** Keys grouped by control, in control order (for help screens and `keymap show`). */
export function keysByControl(map: Keymap): [Control, string[]][] {
  return CONTROLS.map(
    (c) => [c, Object.keys(map.keys).filter((k) => map.keys[k] === c)] as [Control, string[]],
  ).filter(([, keys]) => keys.length > 0);
}

/** The JSON of a key map file (what parseKeymap reads back), under `name`. */
export function keymapJson(map: Keymap, name = map.name): Record<string, unknown> {
  return {
    name,
    ...(map.description ? { description: map.description } : {}),
    keys: map.keys,
    releaseTimeoutMs: map.releaseTimeoutMs,
    initialHoldMs: map.initialHoldMs,
    stickMode: map.stickMode,
    triggerMode: map.triggerMode,
    exitHotkey: map.exitHotkey,
  };
}
