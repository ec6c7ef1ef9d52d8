import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TerminalInputDecoder } from '../../src/input/keyboard.js';
import {
  configDir,
  keysByControl,
  listKeymaps,
  loadKeymap,
  loadKeymapFile,
  normalizeKeySpec,
  parseKeymap,
} from '../../src/input/keymap.js';
import { ascii } from '../../src/proto-stack/bytes.js';
import { CONTROLS } from '../../src/proto-stack/controller.js';
import { ConfigError } from '../../src/proto-stack/errors.js';
import { useHarness } from '../helpers/cli.js';

const tmp = useHarness('all').tempDir('rptui-keymap-');

describe('key maps', () => {
  it('the default map is valid, binds every control and leaves the stream with ctrl+q', () => {
    const m = loadKeymap('default', { RPTUI_CONFIG_DIR: join(tmp, 'none') });
    expect(m.name).toBe('default');
    expect(m.exitHotkey).toBe('ctrl+q');
    expect(new Set(Object.values(m.keys))).toEqual(new Set(CONTROLS));
    expect(m.keys.space).toBe('cross');
    expect(keysByControl(m)[0]).toEqual(['cross', ['space', 'enter']]);
  });

  it('normalises key specs', () => {
    expect(normalizeKeySpec('Shift+Ctrl+A')).toEqual({ error: expect.stringContaining('upper case') });
    expect(normalizeKeySpec('shift+control+a')).toEqual({ key: 'ctrl+shift+a' });
    expect(normalizeKeySpec('ctrl++')).toEqual({ key: 'ctrl++' });
    expect(normalizeKeySpec(' ')).toEqual({ error: 'empty key name' });
    expect(normalizeKeySpec('Return')).toEqual({ key: 'enter' });
    expect(normalizeKeySpec('F5')).toEqual({ key: 'f5' });
    expect(normalizeKeySpec('hyper+a')).toEqual({ error: expect.stringContaining('unknown modifier') });
  });

  it('a bad entry is a ConfigError naming the file and the key', () => {
    const bad =
      (keys: Record<string, string>, extra = {}) =>
      () =>
        parseKeymap({ keys, ...extra }, '/x/my.json', 'my');
    expect(bad({ w: 'jump' })).toThrow(ConfigError);
    expect(bad({ w: 'jump' })).toThrow('key map /x/my.json: key "w": unknown control "jump"');
    expect(bad({ flarp: 'cross' })).toThrow('key "flarp": unknown key "flarp"');
    expect(bad({ W: 'cross' })).toThrow('key "W": "W" is upper case');
    expect(bad({ enter: 'cross', Return: 'circle' })).toThrow('key "Return" is the same key as "enter"');
    expect(bad({ 'ctrl+q': 'cross' })).toThrow('key "ctrl+q" is also the exit hotkey');
    expect(bad({ a: 'cross' }, { stickMode: 'sticky' })).toThrow(/"stickMode"/);
    expect(bad({ a: 'cross' }, { releaseTimeout: 5 })).toThrow(/releaseTimeout/);
  });

  it('loads user maps from the config dir first, and reports bad JSON with the path', () => {
    const dir = join(tmp, 'cfg');
    mkdirSync(join(dir, 'keymaps'), { recursive: true });
    writeFileSync(
      join(dir, 'keymaps', 'mine.json'),
      JSON.stringify({ keys: { x: 'cross' }, stickMode: 'toggle' }),
    );
    writeFileSync(join(dir, 'keymaps', 'broken.json'), '{ "keys": ');
    const env = { RPTUI_CONFIG_DIR: dir };
    const m = loadKeymap('mine', env);
    expect(m).toMatchObject({
      name: 'mine',
      keys: { x: 'cross' },
      stickMode: 'toggle',
      releaseTimeoutMs: 120,
    });
    expect(listKeymaps(env)).toEqual(['broken', 'default', 'mine']);
    expect(() => loadKeymap('broken', env)).toThrow(
      `key map ${join(dir, 'keymaps', 'broken.json')} is not valid JSON`,
    );
    expect(() => loadKeymap('nope', env)).toThrow('no key map named "nope"');
    expect(() => loadKeymap('../etc', env)).toThrow(ConfigError);
    expect(() => loadKeymapFile(join(dir, 'missing.json'))).toThrow(/cannot read key map/);
  });

  it('finds the config dir from RPTUI_CONFIG_DIR, XDG_CONFIG_HOME, then ~/.config', () => {
    expect(configDir({ RPTUI_CONFIG_DIR: '/a', XDG_CONFIG_HOME: '/b' })).toBe('/a');
    expect(configDir({ XDG_CONFIG_HOME: '/b' })).toBe('/b/rptui');
    expect(configDir({})).toMatch(/\.config\/rptui$/);
  });
});

describe('key map parser fuzz', () => {
  it('any JSON value is either a valid map or a ConfigError', () => {
    const keyish = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('w', 'ctrl+q', 'shift+x', 'f5', 'kp_1', '+'),
    );
    const controlish = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom(...CONTROLS));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record(
            { keys: fc.dictionary(keyish, controlish), exitHotkey: keyish },
            { requiredKeys: ['keys'] },
          ),
        ),
        (json) => {
          try {
            const m = parseKeymap(json, 'fuzz.json', 'fuzz');
            for (const c of Object.values(m.keys)) expect(CONTROLS).toContain(c);
          } catch (e) {
            expect(e).toBeInstanceOf(ConfigError);
            expect((e as Error).message).toContain('fuzz.json');
          }
        },
      ),
      { numRuns: 1500 },
    );
  });
});

describe('terminal decoder fuzz', () => {
  it('random and mutated input never throws and never hangs', () => {
    const seeds = ['\x1b[97;1:3u', '\x1b[1;5A', '\x1bOP', 'abc', '\x1b[?0u\x1b[?62;c', '\x1b[27;5;113~'];
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 40 }),
          fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([s, i, v]) => {
            const b = ascii(s);
            b[i % b.length] = v;
            return b;
          }),
        ),
        fc.nat({ max: 5 }),
        (bytes, split) => {
          const d = new TerminalInputDecoder();
          d.feed(bytes.subarray(0, split), 0);
          d.feed(bytes.subarray(split), 1);
          d.flush(1000);
          expect(d.nextWakeup()).toBeUndefined();
        },
      ),
      { numRuns: 3000 },
    );
  });
});
