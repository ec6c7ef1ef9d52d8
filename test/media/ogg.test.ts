import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { oggCrc, readOggOpus } from '../../src/media/ogg.js';
import { ascii } from '../../src/proto-stack/bytes.js';
import { RptuiError } from '../../src/proto-stack/errors.js';
import { repoRoot } from '../helpers/vectors.js';

const file = join(repoRoot, 'test/fixtures/media/tone-1khz-48k-stereo.opus');
const bytes = new Uint8Array(readFileSync(file));

describe('Ogg Opus demuxer', () => {
  it('yields the same packets as ffprobe, headers skipped', () => {
    const { head, packets } = readOggOpus(bytes);
    expect(head.channels).toBe(2);
    expect(head.inputSampleRate).toBe(48000);
    const probe = JSON.parse(
      execFileSync(
        'ffprobe',
        ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'packet=size', '-of', 'json', file],
        { encoding: 'utf8' },
      ),
    ).packets.map((p: { size: string }) => Number(p.size));
    expect(packets.map((p) => p.length)).toEqual(probe);
    expect(packets.length).toBe(101); // 2 s of 20 ms frames + the encoder's pre-skip frame
    // constant bitrate: every unit has the same size (an AV audio unit is fixed-size)
    expect(new Set(packets.map((p) => p.length)).size).toBe(1);
    // TOC byte: config 31 = CELT FB 20 ms, stereo
    expect(packets[0][0] >> 3).toBe(31);
    expect((packets[0][0] >> 2) & 1).toBe(1);
  });
  it('CRC matches the known check value of the Ogg polynomial', () => {
    expect(oggCrc(ascii('123456789')).toString(16)).toBe('89a1897f');
  });
  it('rejects damage with typed errors', () => {
    const bad = bytes.slice();
    bad[200] ^= 1;
    expect(() => readOggOpus(bad)).toThrow(/CRC/);
    expect(() => readOggOpus(bytes.subarray(0, 100))).toThrow(RptuiError);
    expect(() => readOggOpus(new Uint8Array(10))).toThrow(/OggS|truncated/);
  });
  it('fuzz: mutated and random files give packets or typed errors', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(bytes.length),
        (muts, cut) => {
          const b = bytes.slice(0, cut);
          for (const [p, v] of muts) if (p < b.length) b[p] = v;
          try {
            readOggOpus(b);
          } catch (e) {
            expect(e).toBeInstanceOf(RptuiError);
          }
        },
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        const withMagic = Uint8Array.from([0x4f, 0x67, 0x67, 0x53, ...b]);
        for (const x of [b, withMagic]) {
          try {
            readOggOpus(x);
          } catch (e) {
            expect(e).toBeInstanceOf(RptuiError);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
