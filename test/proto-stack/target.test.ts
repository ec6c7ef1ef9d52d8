import { describe, expect, it } from 'vitest';
import { ParseError } from '../../src/proto-stack/errors.js';
import { parseRpVersion, rpVersionString, targetFromDiscovery } from '../../src/proto-stack/target.js';

describe('target', () => {
  it('maps discovery facts to the protocol generation', () => {
    expect(targetFromDiscovery(false, '07020001')).toBe(900);
    expect(targetFromDiscovery(false, '08520011')).toBe(1000);
    expect(targetFromDiscovery(false, '06000000')).toBe(800);
    expect(targetFromDiscovery(true, '08050001')).toBe(1000100);
    expect(targetFromDiscovery(true, '01000000')).toBe(1000000);
  });
  it('round-trips RP-Version strings', () => {
    for (const t of [800, 900, 1000, 1000100] as const)
      expect(parseRpVersion(rpVersionString(t), t > 1000)).toBe(t);
    expect(parseRpVersion('5.0', false)).toBe(900);
    expect(() => parseRpVersion('7.5', false)).toThrow(ParseError);
  });
});
