import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AudioEvent,
  AudioReceiver,
  formatAudioHeader,
  packetizeAudio,
  padOpusPacket,
  parseAudioHeader,
} from '../../src/proto-stack/audio.js';
import { formatAvPacket, parseAvPacket } from '../../src/proto-stack/avpacket.js';
import { fromHex, toHex } from '../../src/proto-stack/bytes.js';
import { UsageError } from '../../src/proto-stack/errors.js';
import { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import { drainEvents } from '../../src/proto-stack/machine.js';
import { feed } from '../helpers/machine.js';

const frame = (i: number, size = 40) => Uint8Array.from({ length: size }, (_, j) => (i * 7 + j) & 0xff);
const frames = (n: number, size = 40) => Array.from({ length: n }, (_, i) => frame(i, size));

describe('audio header', () => {
  it('parses and formats the 14-byte STREAMINFO audio header (mic format from docs/protocol.md §5)', () => {
    const bytes = fromHex('01100000bb80000001e000000001');
    const h = parseAudioHeader(bytes);
    expect(h).toEqual({ channels: 1, bits: 16, rate: 48000, frameSize: 480, unknown: 1 });
    expect(toHex(formatAudioHeader(h))).toBe('01100000bb80000001e000000001');
    expect(() => parseAudioHeader(bytes.subarray(0, 13))).toThrow(/14 bytes/);
  });
});

const crypt = new GkCrypt(3, new Uint8Array(16).fill(1), new Uint8Array(32).fill(2));

/** Console -> wire -> client, keeping the packets whose index passes `keep`. */
function transmit(src: Uint8Array[], version: 9 | 12, keep: (n: number) => boolean, fecUnits = 2) {
  let keyPos = 0;
  const rx = new AudioReceiver();
  const ev: AudioEvent[] = [];
  packetizeAudio(src, { version, firstFrameIndex: 1, fecUnits }).forEach((p, n) => {
    const bytes = formatAvPacket({ ...p.fields, keyPos }, crypt.crypt(p.data, keyPos + 16));
    keyPos += p.data.length + 16;
    if (!keep(n)) return;
    const parsed = parseAvPacket(bytes, version);
    ev.push(...feed(rx, { ...parsed, data: crypt.crypt(parsed.data, parsed.keyPos + 16) }, 0));
  });
  rx.flush();
  ev.push(...drainEvents(rx));
  return { ev, rx };
}

describe('AudioReceiver', () => {
  it('in-order stream: every frame once, in order, no copies used', () => {
    const src = frames(50);
    for (const version of [9, 12] as const) {
      const { ev, rx } = transmit(src, version, () => true);
      expect(ev.map((e) => e.type)).toEqual(Array(50).fill('frame'));
      ev.forEach((e, i) => {
        if (e.type !== 'frame') return;
        expect(e.index).toBe(i + 1);
        expect(toHex(e.data)).toBe(toHex(src[i]));
        expect(e.recovered).toBe(false);
      });
      expect(rx.stats()).toMatchObject({
        framesReceived: 50,
        framesRecovered: 0,
        framesLost: 0,
        packetsReceived: 50,
      });
    }
  });

  it('a lost packet is replaced by the redundant copy in the next packets', () => {
    const src = frames(40);
    const lostPackets = new Set([5, 17, 18, 30]); // 17+18: two in a row, still covered by 2 copies
    const { ev, rx } = transmit(src, 9, (n) => !lostPackets.has(n));
    const got = ev.filter((e) => e.type === 'frame');
    expect(got.length).toBe(40);
    got.forEach((e, i) => {
      if (e.type === 'frame') expect(toHex(e.data)).toBe(toHex(src[i]));
    });
    expect(rx.stats().framesRecovered).toBe(4);
    expect(rx.takePacketStats()).toEqual({ received: 36, lost: 4 });
  });

  it('frames beyond the redundancy are reported lost, once, in order', () => {
    const src = frames(40);
    const lostPackets = new Set([10, 11, 12, 13]); // frames 11..14; copies of 11, 12 are gone too
    const { ev, rx } = transmit(src, 9, (n) => !lostPackets.has(n));
    const seq = ev.map((e) =>
      e.type === 'frame' ? e.index : e.type === 'lost' ? -e.index * 100 - e.count : 0,
    );
    // frames 13 and 14 come back as copies in packets 14 and 15; 11 and 12 are lost
    expect(seq.slice(8, 14)).toEqual([9, 10, -1102, 13, 14, 15]);
    expect(rx.stats()).toMatchObject({ framesLost: 2, framesRecovered: 2, framesReceived: 38 });
  });

  it('a lost first packet is filled in from the copies in the next one', () => {
    const src = frames(10);
    const { ev } = transmit(src, 9, (n) => n !== 0);
    expect(ev.map((e) => (e.type === 'frame' ? e.index : -1))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(ev[0].type === 'frame' && ev[0].recovered).toBe(true);
  });

  it('copies before the first frame are skipped at stream start', () => {
    const { ev } = transmit(frames(3), 9, () => true, 3);
    expect(ev.map((e) => (e.type === 'frame' ? e.index : -1))).toEqual([1, 2, 3]);
  });

  it('v12 haptics packets go to their own in-order stream', () => {
    const pcm = frames(5, 120);
    const rx = new AudioReceiver();
    const out: AudioEvent[] = [];
    const pk = packetizeAudio(pcm, { version: 12, firstFrameIndex: 1, haptics: true, fecUnits: 0 });
    for (const p of [pk[0], pk[2], pk[1], pk[3], pk[4]]) {
      const parsed = parseAvPacket(formatAvPacket(p.fields, p.data), 12);
      expect(parsed.isHaptics).toBe(true);
      out.push(...feed(rx, parsed, 0));
    }
    expect(out.map((e) => (e.type === 'haptics' ? e.index : -1))).toEqual([1, 3, 4, 5]);
    expect(rx.stats().framesReceived).toBe(0);
  });

  it('packetizeAudio pads shorter Opus packets to the unit size (RFC 6716 code 3 padding)', () => {
    const short = Uint8Array.of(0xfc, 9, 8, 7); // code 0: one frame
    const long = frame(1, 10);
    const out = packetizeAudio([short, long], { version: 9, firstFrameIndex: 1, fecUnits: 0 });
    expect(out[0].fields.unitSize).toBe(10);
    // TOC code 3, frame count 1 with the padding flag, 10 - 4 - 2 = 4 padding bytes, frame, zeros
    expect(toHex(out[0].data)).toBe('ff4104090807' + '00000000');
    expect(toHex(padOpusPacket(short, 5))).toBe('ff01090807');
    // code 2 (two frames, first one 1 byte long) becomes code 3 VBR with the same length byte
    expect(toHex(padOpusPacket(Uint8Array.of(0xfe, 1, 0xaa, 0xbb), 7))).toBe('ffc20101aabb00');
  });

  it('packetizeAudio refuses frames that do not fit fixed-size units', () => {
    const haptic = { version: 12 as const, firstFrameIndex: 1, haptics: true };
    expect(() => packetizeAudio([frame(0, 40), frame(1, 41)], haptic)).toThrow(UsageError);
    const code3 = Uint8Array.of(0xfb, 0x01, 1, 2, 3);
    expect(() => packetizeAudio([code3, frame(1, 41)], { version: 9, firstFrameIndex: 1 })).toThrow(/code 3/);
    expect(() => packetizeAudio([frame(0, 256)], { version: 9, firstFrameIndex: 1 })).toThrow(/255/);
    expect(() => packetizeAudio(frames(2), { version: 9, firstFrameIndex: 1, haptics: true })).toThrow(/v12/);
  });

  it('drops malformed packets and counts them', () => {
    const rx = new AudioReceiver();
    const base = {
      frameIndex: 1,
      unitsTotal: 3,
      fecUnits: 2,
      sourceUnits: 1,
      unitSize: 4,
      codec: 5,
      isHaptics: false,
    };
    expect(feed(rx, { ...base, data: new Uint8Array(11) }, 0)).toEqual([]);
    expect(feed(rx, { ...base, codec: 6, data: new Uint8Array(12) }, 0)).toEqual([]);
    expect(feed(rx, { ...base, sourceUnits: 2, data: new Uint8Array(12) }, 0)).toEqual([]);
    expect(rx.stats().packetsDropped).toBe(3);
  });

  it('fuzz: arbitrary packets give only events, bounded', () => {
    const arb = fc.record({
      frameIndex: fc.integer({ min: 0, max: 0xffff }),
      unitsTotal: fc.integer({ min: 1, max: 256 }),
      fecUnits: fc.integer({ min: 0, max: 15 }),
      sourceUnits: fc.integer({ min: 0, max: 15 }),
      unitSize: fc.integer({ min: 0, max: 255 }),
      codec: fc.constantFrom(5, 5, 5, 3),
      isHaptics: fc.boolean(),
      data: fc.uint8Array({ maxLength: 200 }),
    });
    fc.assert(
      fc.property(fc.array(arb, { maxLength: 50 }), (pkts) => {
        const rx = new AudioReceiver();
        let n = 0;
        for (const p of pkts) {
          // make a fair share self-consistent so they get past validation
          const q =
            n++ % 2
              ? p
              : {
                  ...p,
                  unitsTotal: p.fecUnits + p.sourceUnits,
                  data: new Uint8Array(p.unitSize * (p.fecUnits + p.sourceUnits)),
                };
          for (const e of feed(rx, q, 0)) expect(['frame', 'lost', 'haptics']).toContain(e.type);
        }
        rx.flush();
        const s = rx.stats();
        expect(s.packetsReceived).toBe(pkts.length);
      }),
      { numRuns: 500 },
    );
  });
});
