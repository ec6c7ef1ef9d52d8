import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AvPacketFields, formatAvPacket, parseAvPacket } from '../../src/proto-stack/avpacket.js';
import { fromHex, toHex } from '../../src/proto-stack/bytes.js';
import { RptuiError } from '../../src/proto-stack/errors.js';
import { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import { verifyGmac } from '../../src/proto-stack/takion.js';
import { loadVectors } from '../helpers/vectors.js';

const takion = loadVectors('takion');
const byName = (name: string) => takion.cases.find((c: { name: string }) => c.name === name);

describe('takion.json av_packet_parse_v9_video', () => {
  it('parses the header fields and data range', () => {
    const c = byName('av_packet_parse_v9_video');
    const bytes = fromHex(c.inputs.packet);
    const p = parseAvPacket(bytes, c.inputs.version);
    const e = c.expected;
    expect(p.packetIndex).toBe(e.packet_index);
    expect(p.frameIndex).toBe(e.frame_index);
    expect(p.unitIndex).toBe(e.unit_index);
    expect(p.unitsTotal).toBe(e.units_in_frame_total);
    expect(p.fecUnits).toBe(e.units_in_frame_fec);
    expect(p.codec).toBe(e.codec);
    expect(p.adaptiveStreamIndex).toBe(e.adaptive_stream_index);
    expect(p.isVideo).toBe(e.is_video);
    expect(p.headerSize).toBe(e.data_offset);
    expect(p.data.length).toBe(e.data_size);
    expect(p.data.byteOffset - bytes.byteOffset).toBe(e.data_offset);
  });
});

describe('takion.json real_video_v9 (headers)', () => {
  const c = byName('real_video_v9');
  for (const pk of c.expected.packets) {
    it(`packet ${pk.index}`, () => {
      const bytes = fromHex(pk.packet);
      const p = parseAvPacket(bytes, 9);
      const d = pk.derived;
      expect(p.isVideo).toBe(d.is_video);
      expect(p.naluInfo !== undefined).toBe(d.uses_nalu_info_structs);
      expect(p.packetIndex).toBe(d.packet_index);
      expect(p.frameIndex).toBe(d.frame_index);
      expect(p.unitIndex).toBe(d.unit_index);
      expect(p.unitsTotal).toBe(d.units_in_frame_total);
      expect(p.fecUnits).toBe(d.units_in_frame_fec);
      expect(p.codec).toBe(d.codec);
      expect(toHex(p.gmac)).toBe(d.gmac);
      expect(p.keyPos).toBe(d.key_pos);
      expect(p.adaptiveStreamIndex).toBe(d.adaptive_stream_index);
      expect(p.headerSize).toBe(d.data_offset);
      expect(p.data.length).toBe(pk.data_size);
      // Re-formatting the parsed header reproduces the packet bar the GMAC (written by the caller).
      const again = formatAvPacket(p, p.data);
      again.set(p.gmac, 10);
      expect(toHex(again)).toBe(pk.packet);
    });
  }
});

const realVideo = () => {
  const c = byName('real_video_v9');
  return { c, packets: c.expected.packets as { packet: string; decrypted_data: string }[] };
};
describe('takion.json real_video_v9 (decrypt at key_pos + 16)', () => {
  it('decrypts all 24 payloads byte-exact with gkcrypt index 3', () => {
    const { c, packets } = realVideo();
    const crypt = new GkCrypt(c.inputs.index, fromHex(c.inputs.handshake_key), fromHex(c.inputs.ecdh_secret));
    for (const pk of packets) {
      const p = parseAvPacket(fromHex(pk.packet), 9);
      expect(toHex(crypt.crypt(p.data, p.keyPos + 16))).toBe(pk.decrypted_data);
    }
    expect(packets.length).toBe(24);
  });
});
describe('takion.json real_video_v9 (GMAC)', () => {
  it('every packet tag verifies at its key_pos', () => {
    const { c, packets } = realVideo();
    const crypt = new GkCrypt(c.inputs.index, fromHex(c.inputs.handshake_key), fromHex(c.inputs.ecdh_secret));
    for (const pk of packets) {
      const bytes = fromHex(pk.packet);
      expect(verifyGmac(bytes, crypt, parseAvPacket(bytes, 9).keyPos)).toBe(true);
    }
  });
});

describe('pyrp_stream_packets.json parse_video', () => {
  it('parses a NALU-flagged header', () => {
    const c = loadVectors('pyrp_stream_packets').cases.find(
      (x: { name: string }) => x.name === 'parse_video',
    );
    const bytes = fromHex(c.inputs.packet);
    expect(bytes.length).toBe(c.inputs.length);
    const p = parseAvPacket(bytes, 9);
    const e = c.expected;
    expect(p.isVideo ? 2 : 3).toBe(e.base_type);
    expect(p.keyPos).toBe(e.key_pos);
    expect(p.packetIndex).toBe(e.packet_index);
    expect(p.unitIndex).toBe(e.unit_index);
    expect(p.frameIndex).toBe(e.frame_index);
    expect(p.unitsTotal).toBe(e.units_in_frame_total);
    expect(p.sourceUnits).toBe(e.units_source);
    expect(p.fecUnits).toBe(e.units_fec);
    expect(p.naluInfo?.length).toBe(3);
    expect(p.headerSize).toBe(24);
  });
});

describe('audio headers', () => {
  const base: AvPacketFields = {
    isVideo: false,
    version: 9,
    packetIndex: 7,
    frameIndex: 0x1234,
    unitIndex: 0,
    unitsTotal: 3,
    fecUnits: 2,
    sourceUnits: 1,
    unitSize: 40,
    codec: 5,
    keyPos: 0xdeadbeef,
  };
  it('v9: data at 19, unit word bit fields', () => {
    const bytes = formatAvPacket(base, new Uint8Array(120).fill(9));
    expect(toHex(bytes.subarray(0, 10))).toBe('0300071234000228' + '21' + '05');
    const p = parseAvPacket(bytes, 9);
    expect(p.headerSize).toBe(19);
    expect([p.unitsTotal, p.unitSize, p.fecUnits, p.sourceUnits, p.keyPos]).toEqual([
      3, 40, 2, 1, 0xdeadbeef,
    ]);
    expect(p.isHaptics).toBe(false);
  });
  it('v12: one marker byte after the header, 0x02 = haptics; NALU flag adds 3', () => {
    const bytes = formatAvPacket(
      { ...base, version: 12, audioMarker: 2, naluInfo: new Uint8Array([1, 2, 3]) },
      new Uint8Array(120),
    );
    expect(bytes[0]).toBe(0x13);
    expect(bytes[22]).toBe(2);
    const p = parseAvPacket(bytes, 12);
    expect(p.headerSize).toBe(23);
    expect(p.isHaptics).toBe(true);
    expect(p.data.length).toBe(120);
    expect(parseAvPacket(formatAvPacket({ ...base, version: 12 }, new Uint8Array(1)), 12).isHaptics).toBe(
      false,
    );
  });
  it('video: adaptive stream index in the top 3 bits of byte 20', () => {
    const bytes = formatAvPacket(
      { ...base, isVideo: true, unitsTotal: 1500, unitIndex: 1499, fecUnits: 1000, adaptiveStreamIndex: 5 },
      new Uint8Array(3),
    );
    expect(bytes[20]).toBe(0xa0);
    const p = parseAvPacket(bytes, 12);
    expect([p.unitIndex, p.unitsTotal, p.fecUnits, p.sourceUnits, p.adaptiveStreamIndex]).toEqual([
      1499, 1500, 1000, 500, 5,
    ]);
  });
  it('rejects fields that do not fit', () => {
    expect(() => formatAvPacket({ ...base, fecUnits: 16 }, new Uint8Array(1))).toThrow(RptuiError);
    expect(() => formatAvPacket({ ...base, isVideo: true, unitIndex: 2048 }, new Uint8Array(1))).toThrow(
      /unitIndex/,
    );
  });
});

// Senkusha's pings (docs/protocol.md §10.1). Facts: chiaki lib/src/takion.c
// chiaki_takion_v7_av_packet_format_header / _parse (base header 0x12 bytes, +3 for video, +3 for
// NALU info; unit word fec:10 | total-1:11 | unit:11 for audio too) and pyremoteplay
// StreamTest._get_test_packet (byte 0 = AUDIO, u16 at 5 = 0x1f + 0x20 * ping, byte 7 = 0xfc,
// byte 9 = 0xff, tag at 22).
describe('v7 headers', () => {
  const ping = (unitIndex: number): AvPacketFields => ({
    isVideo: false,
    version: 7,
    packetIndex: 0,
    frameIndex: 0,
    unitIndex,
    unitsTotal: 0x800,
    fecUnits: 0,
    codec: 0xff,
    keyPos: 0,
  });
  it('audio: the video unit word, data at 18', () => {
    for (const i of [0, 1, 9]) {
      const bytes = formatAvPacket(ping(i), new Uint8Array(0x224 - 18));
      expect(bytes.length).toBe(0x224);
      // both references' layouts give the same bytes
      expect(toHex(bytes.subarray(0, 18))).toBe(
        `03000000000${(0x1f + 0x20 * i).toString(16).padStart(3, '0')}fc00ff${'00'.repeat(8)}`,
      );
      const p = parseAvPacket(bytes, 7);
      expect([p.isVideo, p.headerSize, p.unitIndex, p.unitsTotal, p.fecUnits, p.codec]).toEqual([
        false,
        18,
        i,
        0x800,
        0,
        0xff,
      ]);
      expect(p.data.length).toBe(0x224 - 18);
    }
  });
  it('audio: the unit index has 11 bits, not 8 as in v9', () => {
    const bytes = formatAvPacket({ ...ping(1500), frameIndex: 0xbeef }, new Uint8Array(8));
    // 1500 = 0x5dc: 0x5dc << 21 | 0x7ff << 10 = 0xbb9ffc00
    expect(toHex(bytes.subarray(3, 9))).toBe('beefbb9ffc00');
    expect(parseAvPacket(bytes, 7).unitIndex).toBe(1500);
    expect(parseAvPacket(bytes, 9).unitIndex).toBe(1500 >>> 3);
    expect(() => formatAvPacket(ping(2048), new Uint8Array(1))).toThrow(/unitIndex/);
  });
  it('video: 21-byte header as in v9; NALU info adds 3 to either', () => {
    const video = { ...ping(0), isVideo: true, unitsTotal: 1, codec: 0 };
    expect(parseAvPacket(formatAvPacket(video, new Uint8Array(5)), 7).headerSize).toBe(21);
    const naluInfo = new Uint8Array([7, 8, 9]);
    const audio = parseAvPacket(formatAvPacket({ ...ping(0), naluInfo }, new Uint8Array(5)), 7);
    expect(audio.headerSize).toBe(21);
    expect(toHex(audio.naluInfo ?? new Uint8Array(0))).toBe('070809');
    expect(parseAvPacket(formatAvPacket({ ...video, naluInfo }, new Uint8Array(5)), 7).headerSize).toBe(24);
  });
});

describe('fuzz', () => {
  const typedOnly = (bytes: Uint8Array, version: 7 | 9 | 12) => {
    try {
      const p = parseAvPacket(bytes, version);
      expect(p.headerSize + p.data.length).toBe(bytes.length);
    } catch (e) {
      expect(e).toBeInstanceOf(RptuiError);
    }
  };
  it('random bytes give a packet or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom<7 | 9 | 12>(7, 9, 12), (b, v) =>
        typedOnly(b, v),
      ),
      { numRuns: 3000 },
    );
  });
  it('mutated real packets give a packet or a typed error', () => {
    const packets = byName('real_video_v9').expected.packets.map((p: { packet: string }) =>
      fromHex(p.packet),
    );
    fc.assert(
      fc.property(
        fc.nat(packets.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(),
        (i, muts, cut) => {
          const b = Uint8Array.from(packets[i] as Uint8Array);
          for (const [pos, val] of muts) b[pos % b.length] = val;
          typedOnly(b.subarray(0, cut % (b.length + 1)), 9);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
