import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readOggOpus } from '../../src/media/ogg.js';
import { OpusPcmDecoder, wavHeader } from '../../src/media/opus.js';
import { AudioReceiver, packetizeAudio, padOpusPacket } from '../../src/proto-stack/audio.js';
import { formatAvPacket, parseAvPacket } from '../../src/proto-stack/avpacket.js';
import { toHex } from '../../src/proto-stack/bytes.js';
import { ParseError } from '../../src/proto-stack/errors.js';
import { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import { drainEvents } from '../../src/proto-stack/machine.js';
import { feed } from '../helpers/machine.js';
import { goertzel, leftChannel } from '../helpers/tone.js';
import { repoRoot } from '../helpers/vectors.js';

const { packets } = readOggOpus(
  new Uint8Array(readFileSync(join(repoRoot, 'test/fixtures/media/tone-1khz-48k-stereo.opus'))),
);

describe('Opus decode', () => {
  it('decodes the fixture tone: 48 kHz stereo, energy at 1 kHz, ~2000 zero crossings per second', async () => {
    const dec = await OpusPcmDecoder.create();
    const chunks = packets.map((p) => dec.decode(p));
    dec.free();
    expect(chunks[1].length).toBe(960 * 2 * 2); // 20 ms of s16 stereo
    const pcm = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      pcm.set(c, o);
      o += c.length;
    }
    const x = leftChannel(pcm).subarray(4800, 4800 + 48000); // skip the encoder's start-up
    const at1k = goertzel(x, 1000, 48000);
    for (const f of [500, 800, 1200, 2000]) expect(at1k).toBeGreaterThan(10 * goertzel(x, f, 48000)); // 100x the power
    let crossings = 0;
    for (let i = 1; i < x.length; i++) if (x[i - 1] < 0 !== x[i] < 0) crossings++;
    expect(crossings).toBeGreaterThan(1950);
    expect(crossings).toBeLessThan(2050);
  });

  it('conceals lost frames with one frame of PCM each and keeps decoding', async () => {
    const dec = await OpusPcmDecoder.create();
    for (const p of packets.slice(0, 20)) dec.decode(p);
    const plc = dec.conceal(2);
    expect(plc.length).toBe(2 * 960 * 4);
    // concealment of a steady tone is not silence
    expect(leftChannel(plc).some((v) => Math.abs(v) > 0.01)).toBe(true);
    expect(dec.decode(packets[22]).length).toBe(960 * 4);
    expect(() => dec.decode(new Uint8Array(0))).toThrow(ParseError);
    dec.free();
    expect(() => dec.decode(packets[0])).toThrow(/after free/);
  });

  it('fixture -> AV audio packets -> 15 % packet loss -> receiver -> decoder with concealment: still the tone', async () => {
    const crypt = new GkCrypt(3, new Uint8Array(16).fill(3), new Uint8Array(32).fill(4));
    const rx = new AudioReceiver();
    const dec = await OpusPcmDecoder.create();
    const pcm: Uint8Array[] = [];
    let keyPos = 0;
    let s = 5;
    let dropped = 0;
    let trailingDropped = 0;
    for (const p of packetizeAudio(packets, { version: 12, firstFrameIndex: 1, fecUnits: 2 })) {
      const bytes = formatAvPacket({ ...p.fields, keyPos }, crypt.crypt(p.data, keyPos + 16));
      keyPos += p.data.length + 16;
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      if (s / 2 ** 32 < 0.15) {
        dropped++;
        trailingDropped++;
        continue;
      }
      trailingDropped = 0;
      const q = parseAvPacket(bytes, 12);
      for (const e of feed(rx, { ...q, data: crypt.crypt(q.data, q.keyPos + 16) }, 0)) {
        if (e.type === 'frame') pcm.push(dec.decode(e.data));
        else if (e.type === 'lost') pcm.push(dec.conceal(e.count));
      }
    }
    rx.flush();
    for (const e of drainEvents(rx)) if (e.type === 'frame') pcm.push(dec.decode(e.data));
    dec.free();
    expect(dropped).toBeGreaterThan(5);
    expect(rx.stats().framesRecovered).toBeGreaterThan(3);
    const all = new Uint8Array(pcm.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of pcm) {
      all.set(c, o);
      o += c.length;
    }
    // every frame position is accounted for (decoded, recovered or concealed), except frames whose
    // packets were the last ones sent: nothing after them tells the receiver they existed
    expect(all.length).toBe((packets.length - trailingDropped) * 960 * 4);
    const x = leftChannel(all).subarray(4800, 4800 + 48000);
    const at1k = goertzel(x, 1000, 48000);
    for (const f of [500, 800, 1200, 2000])
      expect(at1k).toBeGreaterThan(Math.sqrt(20) * goertzel(x, f, 48000)); // 20x the power
  });

  it('padded Opus packets (variable-bitrate sources in fixed units) decode to the same PCM', async () => {
    const plain = await OpusPcmDecoder.create();
    const padded = await OpusPcmDecoder.create();
    for (const p of packets.slice(0, 30)) {
      const a = plain.decode(p);
      const b = padded.decode(padOpusPacket(p, 200));
      expect(Buffer.compare(a, b)).toBe(0);
    }
    plain.free();
    padded.free();
  });

  it('writes a canonical 44-byte WAV header', () => {
    expect(toHex(wavHeader(48000, 2, 192000))).toBe(
      `52494646${'24ee0200'}57415645666d7420${'10000000'}0100${'0200'}80bb0000${'00ee0200'}0400${'1000'}64617461${'00ee0200'}`,
    );
  });
});
