// Fuzz: random and mutated bytes into every Takion parser and into TakionEndpoint.handle.
// Only typed errors (parsers) or counted drops (endpoint) are allowed; no crash, no hang.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCongestion } from '../../src/proto-stack/congestion.js';
import { ParseError, RptuiError } from '../../src/proto-stack/errors.js';
import { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import { drainEvents } from '../../src/proto-stack/machine.js';
import {
  parseControl,
  readKeyPosLow,
  TakionEndpoint,
  TakionType,
  verifyGmac,
} from '../../src/proto-stack/takion.js';
import { step, TakionPair } from '../helpers/takion-pair.js';

/** Real traffic of a session with crypt: control chunks of every kind, AV, feedback, congestion. */
const TAGS = { client: { tag: 0x1111 }, console: { tag: 0x2222 } };

/** Same tags and keys as every fuzzed pair, so mutated samples reach the deep paths. */
function recordSession(): { pair: TakionPair; samples: Uint8Array[] } {
  const pair = new TakionPair(TAGS);
  pair.connect();
  pair.client.sendMessage(1, 0, new Uint8Array(3000).fill(7), pair.now);
  pair.pump();
  pair.setCrypt();
  pair.console.sendMessage(1, 0, Uint8Array.from([8, 13, 1, 2]), pair.now);
  for (const t of [TakionType.Video, TakionType.Audio]) {
    const av = new Uint8Array(60);
    av[0] = t;
    pair.console.sendRaw(av, pair.console.allocKeyPos(60));
  }
  for (const [t, n] of [
    [TakionType.FeedbackState, 37],
    [TakionType.FeedbackHistory, 20],
    [TakionType.Congestion, 15],
  ]) {
    const p = new Uint8Array(n);
    p[0] = t;
    pair.client.sendRaw(p, pair.client.allocKeyPos(n));
  }
  pair.pump();
  return { pair, samples: [...pair.sent.c2s, ...pair.sent.s2c] };
}

const { samples } = recordSession();

const mutated = fc
  .tuple(
    fc.constantFrom(...samples),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
    fc.option(fc.nat(), { nil: undefined }),
    fc.option(fc.uint8Array({ maxLength: 8 }), { nil: undefined }),
  )
  .map(([s, flips, cut, extra]) => {
    let b = s.slice();
    for (const [i, x] of flips) if (b.length) b[i % b.length] ^= x;
    if (cut !== undefined) b = b.subarray(0, cut % (b.length + 1));
    if (extra) b = Uint8Array.from([...b, ...extra]);
    return b;
  });
const randomControl = fc.uint8Array({ maxLength: 80 }).map((b) => {
  if (b.length) b[0] &= 0xf0; // control base type, so the parser gets past byte 0
  return b;
});
const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 200 }), randomControl, mutated);

describe('takion fuzz', () => {
  it('recorded traffic covers every packet kind', () => {
    const kinds = new Set(samples.map((d) => (d[0] & 0xf) * 256 + (d[0] & 0xf ? 0 : d[13])));
    // control: INIT, INIT_ACK, COOKIE, COOKIE_ACK, DATA, DATA_ACK; and types 1, 2, 3, 5, 6
    expect(kinds.size).toBe(11);
  });

  it('parseControl / parseCongestion: only ParseError', () => {
    fc.assert(
      fc.property(anyBytes, (b) => {
        for (const parse of [parseControl, parseCongestion]) {
          try {
            parse(b);
          } catch (e) {
            if (!(e instanceof ParseError)) throw e;
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('verifyGmac / readKeyPosLow: never throw on any bytes', () => {
    const crypt = new GkCrypt(3, new Uint8Array(16), new Uint8Array(32));
    fc.assert(
      fc.property(anyBytes, fc.nat(), (b, kp) => {
        const low = readKeyPosLow(b);
        expect(low === undefined || (low >= 0 && low <= 0xffffffff)).toBe(true);
        expect(typeof verifyGmac(b, crypt, kp)).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('handle() in every state: counted drops only, typed events, session still works', () => {
    fc.assert(
      fc.property(fc.array(anyBytes, { minLength: 1, maxLength: 30 }), fc.boolean(), (dgrams, withCrypt) => {
        const pair = new TakionPair(TAGS);
        // fresh endpoints in their first states take the noise as well
        const idle = [
          new TakionEndpoint({ role: 'console', now: 0 }),
          new TakionEndpoint({ role: 'client', now: 0 }),
        ];
        idle[1].connect(0);
        pair.connect();
        if (withCrypt) pair.setCrypt();
        const all = [pair.client, pair.console, ...idle];
        const inBefore = all.map((ep) => ep.stats.datagramsIn);
        const t0 = performance.now();
        for (const d of dgrams) {
          for (const ep of [pair.client, pair.console, ...idle]) {
            ep.handle(d, pair.now);
            step(ep, pair.now);
          }
        }
        pair.pump();
        expect(performance.now() - t0).toBeLessThan(2000);
        all.forEach((ep, i) => {
          for (const e of drainEvents(ep))
            if (e.type === 'error' || e.type === 'lost') expect(e.error).toBeInstanceOf(RptuiError);
          // the pair's own pump may deliver answers to noise, so at least every noise datagram counts
          expect(ep.stats.datagramsIn - inBefore[i]).toBeGreaterThanOrEqual(dgrams.length);
        });
        if (withCrypt) {
          // forged packets cannot pass GMAC, so the session is intact
          const before = pair.messages('console').length;
          pair.client.sendMessage(1, 0, Uint8Array.from([1, 2, 3]), pair.now);
          pair.pump();
          expect(pair.messages('console').length).toBe(before + 1);
          expect(pair.client.state).toBe('connected');
          expect(pair.console.state).toBe('connected');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a tampered copy of every recorded datagram is dropped and counted once crypt is on', () => {
    const pair = new TakionPair();
    pair.connect();
    pair.setCrypt();
    let n = 0;
    for (const s of samples) {
      const t = s[0] & 0xf;
      if (![0, 2, 3].includes(t)) continue; // what a client receives with a GMAC field
      const bad = s.slice();
      bad[bad.length - 1] ^= 0x10;
      const before = pair.client.stats;
      const counted = before.gmacFailures + before.tagMismatches + before.malformed + before.unexpected;
      pair.client.handle(bad, pair.now);
      const after = pair.client.stats;
      expect(after.gmacFailures + after.tagMismatches + after.malformed + after.unexpected).toBe(counted + 1);
      n++;
    }
    expect(n).toBeGreaterThan(5);
    expect(drainEvents(pair.client).filter((e) => e.type === 'message' || e.type === 'av')).toEqual([]);
  });
});
