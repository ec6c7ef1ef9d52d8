// The speaker sink runs the native `speaker` module in a child process. With ALSA pointed at a
// `file` PCM (ALSA_CONFIG_PATH), the real path is exercised: the PCM must arrive in that file.
// With the machine's own ALSA setup (no sound card here) the child aborts, and this process must
// survive and say so clearly.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alsaReason, SpeakerSink } from '../../src/media/speaker.js';
import { alive } from '../helpers/system.js';

const dir = mkdtempSync(join(tmpdir(), 'rptui-speaker-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const haveSpeaker = (() => {
  try {
    createRequire(import.meta.url).resolve('speaker');
    return true;
  } catch {
    return false;
  }
})();

/** A machine with a real sound card would play the "no device" test out loud, so it runs only here-like. */
const noSoundCard =
  !existsSync('/proc/asound/cards') || readFileSync('/proc/asound/cards', 'utf8').includes('no soundcards');

function pattern(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

describe.skipIf(!haveSpeaker)('speaker in a child process', () => {
  it('plays PCM into an ALSA file device', async () => {
    const raw = join(dir, 'played.raw');
    const conf = join(dir, 'asound.conf');
    writeFileSync(
      conf,
      `pcm.!default {\n  type file\n  slave { pcm { type null } }\n  file "${raw}"\n  format "raw"\n}\n`,
    );
    const warnings: string[] = [];
    const sink = new SpeakerSink({ env: { ALSA_CONFIG_PATH: conf } });
    sink.on('warning', (m) => warnings.push(m));
    let closed = 0;
    sink.on('closed', () => closed++);
    sink.start({ sampleRate: 48000, channels: 2 });
    expect(alive(sink.pid)).toBe(true);
    // 0.2 s in 20 ms chunks (queue limit is 0.5 s, so nothing is dropped).
    const chunks = Array.from({ length: 10 }, (_, i) => pattern(3840, i));
    for (const c of chunks) sink.write(c);
    for (let i = 0; i < 100 && !sink.opened; i++) await new Promise((r) => setTimeout(r, 20));
    expect(sink.opened).toBe(true);
    const pid = sink.pid;
    await sink.close();
    expect(alive(pid)).toBe(false);
    expect(warnings).toEqual([]);
    expect(closed).toBe(0);
    expect(sink.stats()).toEqual({ written: 10, dropped: 0, bytes: 38400 });
    const played = readFileSync(raw);
    const sent = Buffer.concat(chunks);
    // ALSA may round the end up to a period with silence; what was sent comes first, intact.
    expect(played.length).toBeGreaterThanOrEqual(sent.length);
    expect(Buffer.compare(played.subarray(0, sent.length), sent)).toBe(0);
  });

  it('drops what would queue up beyond 0.4 s instead of playing late', async () => {
    const raw = join(dir, 'burst.raw');
    const conf = join(dir, 'burst.conf');
    writeFileSync(
      conf,
      `pcm.!default {\n  type file\n  slave { pcm { type null } }\n  file "${raw}"\n  format "raw"\n}\n`,
    );
    const sink = new SpeakerSink({ env: { ALSA_CONFIG_PATH: conf } });
    sink.start({ sampleRate: 48000, channels: 2 });
    // 2 s in one burst of 20 ms chunks: only about 0.4 s of it may be accepted.
    for (let i = 0; i < 100; i++) sink.write(pattern(3840, i));
    const s = sink.stats();
    expect(s.written).toBeGreaterThanOrEqual(19); // 20, give or take float rounding
    expect(s.written).toBeLessThanOrEqual(21);
    expect(s.written + s.dropped).toBe(100);
    // Time passing drains the estimate: after 0.25 s about that much fits again.
    await new Promise((r) => setTimeout(r, 250));
    for (let i = 0; i < 100; i++) sink.write(pattern(3840, i));
    const more = sink.stats().written - s.written;
    expect(more).toBeGreaterThanOrEqual(12);
    expect(more).toBeLessThanOrEqual(21);
    await sink.close();
    expect(readFileSync(raw).length).toBeGreaterThanOrEqual(sink.stats().bytes);
  });

  it.skipIf(!noSoundCard)('with no sound device: this process survives and says why, once', async () => {
    const logs: string[] = [];
    const sink = new SpeakerSink({ env: { ALSA_CONFIG_PATH: undefined }, log: (m) => logs.push(m) });
    const warnings: string[] = [];
    sink.on('warning', (m) => warnings.push(m));
    let closed = 0;
    sink.on('closed', () => closed++);
    sink.start({ sampleRate: 48000, channels: 2 });
    const pid = sink.pid;
    for (let i = 0; i < 5; i++) sink.write(pattern(3840, i));
    for (let i = 0; i < 150 && closed === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(1);
    expect(alive(pid)).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^No sound device could be opened \(this machine has no sound card; ALSA: cannot find card .+\): audio is off, the session goes on/,
    );
    expect(warnings[0]).toContain('--audio file:out.wav');
    expect(logs).toEqual(warnings);
    // Later writes are dropped quietly; close is harmless.
    for (let i = 0; i < 5; i++) sink.write(pattern(3840, i));
    await sink.close();
    expect(sink.stats().dropped).toBe(5);
    expect(warnings).toHaveLength(1);
  });

  it('a child that dies without an ALSA word: says plainly the device could not be opened', async () => {
    // the child's node fails before the speaker loads: its stderr is a stack and Node's banner
    const sink = new SpeakerSink({ env: { NODE_OPTIONS: `--require ${join(dir, 'missing.cjs')}` } });
    const warnings: string[] = [];
    sink.on('warning', (m) => warnings.push(m));
    let closed = 0;
    sink.on('closed', () => closed++);
    sink.start({ sampleRate: 48000, channels: 2 });
    for (let i = 0; i < 150 && closed === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(1);
    expect(warnings).toEqual([
      'No sound device could be opened: audio is off, the session goes on. Use --audio file:out.wav to record the sound instead, or --audio none',
    ]);
    await sink.close();
  });

  it.skipIf(!noSoundCard)(
    'run from the TypeScript sources by tsx (RPTUI_DEV=1): quotes ALSA',
    () => {
      // tsx keeps function names by wrapping them in a helper the child's source text lacks
      const script = join(dir, 'no-card.ts');
      const src = resolve(import.meta.dirname, '../../src/media/speaker.ts');
      writeFileSync(
        script,
        `import { SpeakerSink } from ${JSON.stringify(src)};\n` +
          `const sink = new SpeakerSink({ env: { ALSA_CONFIG_PATH: undefined } });\n` +
          `sink.on('warning', (m) => console.log(JSON.stringify(m)));\n` +
          `sink.on('closed', () => void sink.close());\n` +
          `sink.start({ sampleRate: 48000, channels: 2 });\n`,
      );
      const tsx = resolve(import.meta.dirname, '../../node_modules/.bin/tsx');
      const out = execFileSync(tsx, [script], { encoding: 'utf8', timeout: 8000 });
      expect(
        out
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      ).toEqual([
        expect.stringMatching(
          /^No sound device could be opened \(this machine has no sound card; ALSA: cannot find card '0'\): audio is off, the session goes on\. Use --audio file:out\.wav/,
        ),
      ]);
    },
    10_000,
  );
});

describe('alsaReason', () => {
  const prefix = (file: string, fn: string) => `ALSA lib ${file}:855:(${fn}) `;
  it('quotes the telling ALSA line without its source location', () => {
    expect(
      alsaReason(`${prefix('confmisc.c', 'parse_card')}cannot find card '0'\nnode: pcm_params.c:2354: x`),
    ).toBe("this machine has no sound card; ALSA: cannot find card '0'");
    expect(
      alsaReason(
        `${prefix('conf.c', 'snd_config_expand')}Evaluate error: No such file or directory\n` +
          `${prefix('pcm.c', 'snd_pcm_open_noupdate')}Unknown PCM hw:7\n` +
          '[../deps/mpg123/src/output/alsa.c:165] error: cannot open device hw:7\n',
      ),
    ).toBe('ALSA: Unknown PCM hw:7');
    expect(alsaReason('[../deps/mpg123/src/output/alsa.c:165] error: cannot open device default')).toBe(
      'ALSA: cannot open device default',
    );
  });

  it('finds nothing in a JavaScript crash', () => {
    expect(
      alsaReason(
        '[eval]:1\nReferenceError: __name is not defined\n    at speakerChildMain ([eval]:1:126)\n\nNode.js v20.20.2\n',
      ),
    ).toBe('');
    expect(alsaReason('')).toBe('');
  });
});
