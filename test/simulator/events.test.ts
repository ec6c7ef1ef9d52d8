import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog, type SimEvent } from '../../src/simulator/events.js';
import { useHarness } from '../helpers/cli.js';
import { readSimEvents } from '../helpers/simulator.js';

const h = useHarness();

describe('EventLog', () => {
  it('prints what clients sent made terminal-safe, and writes it as safe JSON to a 0600 file', () => {
    const path = join(h.tempDir(), 'events.jsonl');
    const printed: string[] = [];
    const log = new EventLog({ jsonPath: path, print: (l) => printed.push(l), now: () => 1 });
    const text = 'hi\u009b2J\u202e\x1b[31m';
    log.emit('keyboard', { dir: 'in', text }, `  keyboard <- text ${JSON.stringify(text)}`);
    expect(printed).toEqual([`  keyboard <- text "hi\\x9b2J\\u202e\\u001b[31m"`]);
    const line = readFileSync(path, 'utf8');
    expect(line).toBe('{"t":1,"event":"keyboard","dir":"in","text":"hi\\u009b2J\\u202e\\u001b[31m"}\n');
    expect(JSON.parse(line).text).toBe(text);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('keeps pairing keys out of the file and the listeners unless debug is on', () => {
    for (const debug of [false, true]) {
      const path = join(h.tempDir(), 'events.jsonl');
      const seen: SimEvent[] = [];
      const log = new EventLog({ jsonPath: path, debug });
      log.on((e) => seen.push(e));
      log.emit('paired', {
        accountId: 'x3HEK6t1aw8=',
        registKey: '3132',
        morning: 'ab'.repeat(16),
        credential: '7',
      });
      const want = debug
        ? { registKey: '3132', morning: 'ab'.repeat(16), credential: '7' }
        : { registKey: '<redacted>', morning: '<redacted>', credential: '<redacted>' };
      expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ accountId: 'x3HEK6t1aw8=', ...want });
      expect(seen[0]).toMatchObject(want);
    }
  });

  it('is read by tests line by line, a line still being written left for the next read', () => {
    const path = join(h.tempDir(), 'events.jsonl');
    new EventLog({ jsonPath: path, now: () => 1 }).emit('listening', { host: '127.0.0.2' }, 'listening');
    appendFileSync(path, '{"t":2,"event":"sess'); // what a reader may see mid-write
    expect(readSimEvents(path)).toEqual([{ t: 1, event: 'listening', host: '127.0.0.2' }]);
    appendFileSync(path, 'ion","state":"ended"}\n');
    expect(readSimEvents(path).map((e) => e.event)).toEqual(['listening', 'session']);
  });
});
