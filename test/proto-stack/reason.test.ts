import { describe, expect, it } from 'vitest';
import { parseReason, REASON, reasonInfo } from '../../src/proto-stack/reason.js';

describe('RP-Application-Reason', () => {
  it('parses hex header values', () => {
    expect(parseReason('80108b09')).toBe(REASON.registFailed);
    expect(parseReason('0x80108B10')).toBe(REASON.inUse);
    expect(parseReason('nope')).toBeUndefined();
    expect(parseReason(undefined)).toBeUndefined();
  });
  it('explains known and unknown codes', () => {
    expect(reasonInfo(REASON.registFailed).message).toMatch(/wrong PIN/);
    expect(reasonInfo(REASON.inUse).hint).toMatch(/other Remote Play client/);
    expect(reasonInfo(0x12345678).message).toContain('0x12345678');
  });
});
