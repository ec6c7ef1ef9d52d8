import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/proto-stack/bytes.js';
import { formatCongestion, parseCongestion } from '../../src/proto-stack/congestion.js';
import { ParseError } from '../../src/proto-stack/errors.js';
import { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import { verifyGmac } from '../../src/proto-stack/takion.js';
import { loadVectors, vectorCase } from '../helpers/vectors.js';

const c = vectorCase(loadVectors('takion'), 'format_congestion');

describe('congestion (takion.json format_congestion)', () => {
  const crypt = new GkCrypt(c.inputs.index, fromHex(c.inputs.handshake_key), fromHex(c.inputs.ecdh_secret));
  const report = {
    word0: c.inputs.word_0,
    received: c.inputs.received,
    lost: c.inputs.lost,
    keyPos: c.inputs.key_pos,
  };

  it('formats the packet before and after GMAC byte-exact', () => {
    expect(toHex(formatCongestion(report))).toBe(c.expected.packet_before_mac);
    expect(toHex(formatCongestion(report, crypt))).toBe(c.expected.packet_with_mac);
  });

  it('parses it back and the tag verifies (key_pos zeroed while tagging)', () => {
    const p = fromHex(c.expected.packet_with_mac);
    const parsed = parseCongestion(p);
    expect(parsed).toMatchObject({
      word0: c.inputs.word_0,
      received: c.inputs.received,
      lost: c.inputs.lost,
    });
    expect(parsed.keyPos).toBe(c.inputs.key_pos);
    expect(toHex(parsed.gmac)).toBe(c.expected.packet_with_mac.slice(14, 22));
    expect(verifyGmac(p, crypt, c.inputs.key_pos)).toBe(true);
    expect(verifyGmac(p, crypt, c.inputs.key_pos + 16)).toBe(false);
  });

  it('saturates counters instead of wrapping', () => {
    const p = parseCongestion(formatCongestion({ received: 70000, lost: -3, keyPos: 0 }));
    expect(p.received).toBe(0xffff);
    expect(p.lost).toBe(0);
  });

  it('fuzz: parseCongestion only throws ParseError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        try {
          const r = parseCongestion(b);
          expect(b.length).toBe(15);
          expect(r.received).toBeLessThanOrEqual(0xffff);
        } catch (e) {
          expect(e).toBeInstanceOf(ParseError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
