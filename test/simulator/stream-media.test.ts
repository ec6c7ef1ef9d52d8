// The simulator's STREAMINFO media: H.264 SPS/PPS generated per resolution, read back here with
// an independent Exp-Golomb reader, emulation prevention, and the audio header.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nalUnits } from '../../src/proto-stack/annexb.js';
import { UsageError } from '../../src/proto-stack/errors.js';
import { RESOLUTION_PRESETS } from '../../src/proto-stack/launchspec.js';
import { audioHeader, escapeRbsp, h264ParameterSets } from '../../src/simulator/stream-media.js';

/** Removes emulation-prevention bytes (00 00 03 -> 00 00). */
function unescapeRbsp(b: Uint8Array): Uint8Array {
  const out: number[] = [];
  let zeros = 0;
  for (const x of b) {
    if (zeros >= 2 && x === 3) {
      zeros = 0;
      continue;
    }
    out.push(x);
    zeros = x === 0 ? zeros + 1 : 0;
  }
  return Uint8Array.from(out);
}

class BitReader {
  private pos = 0;
  constructor(private readonly b: Uint8Array) {}
  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const bit = (this.b[this.pos >> 3] >> (7 - (this.pos & 7))) & 1;
      v = v * 2 + bit;
      this.pos++;
    }
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) zeros++;
    return 2 ** zeros - 1 + this.u(zeros);
  }
  se(): number {
    const k = this.ue();
    return k % 2 ? (k + 1) / 2 : -k / 2;
  }
}

/** The SPS fields this test cares about, read by the H.264 syntax (Main profile). */
function readSps(rbsp: Uint8Array) {
  const r = new BitReader(rbsp);
  const profile = r.u(8);
  r.u(8);
  const level = r.u(8);
  r.ue(); // sps id
  r.ue(); // log2_max_frame_num_minus4
  expect(r.ue()).toBe(2); // poc type 2
  r.ue(); // max refs
  r.u(1);
  const mbW = r.ue() + 1;
  const mbH = r.ue() + 1;
  expect(r.u(1)).toBe(1); // frame_mbs_only
  r.u(1);
  let cropR = 0;
  let cropB = 0;
  if (r.u(1)) {
    r.ue();
    cropR = r.ue();
    r.ue();
    cropB = r.ue();
  }
  expect(r.u(1)).toBe(1); // vui present
  expect([r.u(1), r.u(1), r.u(1), r.u(1)]).toEqual([0, 0, 0, 0]);
  expect(r.u(1)).toBe(1); // timing info
  const tick = r.u(32);
  const scale = r.u(32);
  return {
    profile,
    level,
    width: mbW * 16 - 2 * cropR,
    height: mbH * 16 - 2 * cropB,
    fps: scale / (2 * tick),
  };
}

describe('h264ParameterSets', () => {
  it.each(Object.entries(RESOLUTION_PRESETS))('%s: SPS + PPS that describe exactly that picture', (_, p) => {
    for (const fps of [30, 60]) {
      const bytes = h264ParameterSets(p.width, p.height, fps);
      const nals = nalUnits(bytes, 'h264');
      expect(nals.map((n) => n.type)).toEqual([7, 8]);
      expect(Array.from(bytes.subarray(0, 4))).toEqual([0, 0, 0, 1]);
      const sps = unescapeRbsp(bytes.subarray(nals[0].payload + 1, nals[0].end));
      expect(readSps(sps)).toEqual({ profile: 77, level: 42, width: p.width, height: p.height, fps });
      const pps = new BitReader(unescapeRbsp(bytes.subarray(nals[1].payload + 1, nals[1].end)));
      expect([pps.ue(), pps.ue(), pps.u(1)]).toEqual([0, 0, 0]); // ids, CAVLC
    }
  });

  it('rejects sizes H.264 4:2:0 cannot describe', () => {
    expect(() => h264ParameterSets(1281, 720, 60)).toThrow(UsageError);
    expect(() => h264ParameterSets(0, 720, 60)).toThrow(UsageError);
    expect(() => h264ParameterSets(1280, 720, 0)).toThrow(UsageError);
  });

  it('emulation prevention round-trips and leaves no start code inside a NAL', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => {
        const esc = escapeRbsp(raw);
        expect(unescapeRbsp(esc)).toEqual(raw);
        for (let i = 0; i + 2 < esc.length; i++)
          expect(esc[i] === 0 && esc[i + 1] === 0 && esc[i + 2] <= 2).toBe(false);
      }),
    );
  });
});

describe('audioHeader', () => {
  it('is the 14-byte STREAMINFO layout: channels, bits, rate, frame size, reserved', () => {
    expect(Array.from(audioHeader())).toEqual([2, 16, 0, 0, 0xbb, 0x80, 0, 0, 1, 0xe0, 0, 0, 0, 0]);
  });
});
