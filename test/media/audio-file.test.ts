// The WAV file sink: header patched with the final size on close; ffprobe reads the result.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AudioFileSink } from '../../src/media/audio-file.js';
import { createAudioSink } from '../../src/media/sinks.js';
import { findTool } from '../../src/media/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'rptui-wav-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const haveFfprobe = findTool('ffprobe').found;

/** `seconds` of a sine at `hz`, s16le interleaved, cut into 20 ms chunks. */
function tone(hz: number, seconds: number, rate: number, channels: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const perChunk = rate / 50;
  for (let start = 0; start < seconds * rate; start += perChunk) {
    const pcm = new Int16Array(perChunk * channels);
    for (let i = 0; i < perChunk; i++) {
      const v = Math.round(10000 * Math.sin((2 * Math.PI * hz * (start + i)) / rate));
      for (let c = 0; c < channels; c++) pcm[i * channels + c] = v;
    }
    chunks.push(new Uint8Array(pcm.buffer));
  }
  return chunks;
}

describe('file:out.wav', () => {
  it('writes PCM after a header that carries the final size', async () => {
    const path = join(dir, 'out.wav');
    const sink = createAudioSink(`file:${path}`);
    sink.start({ sampleRate: 48000, channels: 2 });
    const chunks = tone(1000, 1.5, 48000, 2);
    for (const c of chunks) sink.write(c);
    await sink.close();
    const wav = readFileSync(path);
    const dataBytes = 1.5 * 48000 * 4;
    expect(wav.length).toBe(44 + dataBytes);
    expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wav.readUInt32LE(4)).toBe(36 + dataBytes);
    expect(wav.toString('ascii', 8, 16)).toBe('WAVEfmt ');
    expect(wav.readUInt16LE(22)).toBe(2);
    expect(wav.readUInt32LE(24)).toBe(48000);
    expect(wav.toString('ascii', 36, 40)).toBe('data');
    expect(wav.readUInt32LE(40)).toBe(dataBytes);
    expect(Buffer.compare(wav.subarray(44), Buffer.concat(chunks))).toBe(0);
    expect(sink.stats()).toEqual({ written: chunks.length, dropped: 0, bytes: dataBytes });
    if (haveFfprobe) {
      const out = execFileSync('ffprobe', [
        '-v',
        'error',
        '-show_entries',
        'stream=codec_name,sample_rate,channels,duration',
        '-of',
        'json',
        path,
      ]);
      const stream = JSON.parse(out.toString()).streams[0];
      expect(stream).toMatchObject({ codec_name: 'pcm_s16le', sample_rate: '48000', channels: 2 });
      expect(Number(stream.duration)).toBeCloseTo(1.5, 3);
    }
  });

  it('honours the stream format (mono 24 kHz)', async () => {
    const path = join(dir, 'mono.wav');
    const sink = new AudioFileSink(path);
    sink.start({ sampleRate: 24000, channels: 1 });
    for (const c of tone(440, 0.5, 24000, 1)) sink.write(c);
    await sink.close();
    const wav = readFileSync(path);
    expect(wav.readUInt16LE(22)).toBe(1);
    expect(wav.readUInt32LE(24)).toBe(24000);
    expect(wav.readUInt32LE(28)).toBe(48000); // byte rate
    expect(wav.readUInt32LE(40)).toBe(24000);
  });

  it('writes before start() use the 48 kHz stereo default; an empty recording is a valid empty WAV', async () => {
    const early = new AudioFileSink(join(dir, 'early.wav'));
    early.write(new Uint8Array(192));
    await early.close();
    const wav = readFileSync(join(dir, 'early.wav'));
    expect(wav.readUInt32LE(24)).toBe(48000);
    expect(wav.readUInt32LE(40)).toBe(192);

    const empty = new AudioFileSink(join(dir, 'empty.wav'));
    empty.start({ sampleRate: 48000, channels: 2 });
    await empty.close();
    expect(readFileSync(join(dir, 'empty.wav')).length).toBe(44);
    // close() twice and write() after close are harmless.
    await empty.close();
    empty.write(new Uint8Array(4));
    expect(empty.stats().dropped).toBe(1);
  });

  it('an unwritable path is an error event, never a throw', async () => {
    writeFileSync(join(dir, 'plain'), '');
    const errors: string[] = [];
    const sink = new AudioFileSink(join(dir, 'plain', 'x.wav'));
    sink.on('error', (e) => errors.push(e.message));
    sink.start({ sampleRate: 48000, channels: 2 });
    sink.write(new Uint8Array(8));
    await sink.close();
    expect(errors).toEqual([expect.stringMatching(/^Cannot write the audio recording .*x\.wav: ENOTDIR/)]);
  });
});
