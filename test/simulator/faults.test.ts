import { describe, expect, it } from 'vitest';
import type { AvMeta } from '../../src/proto-stack/avpacket.js';
import { UsageError } from '../../src/proto-stack/errors.js';
import { type DropRecord, FaultInjector, fecOutcome } from '../../src/simulator/faults.js';
import { tick } from '../helpers/machine.js';

const meta = (i: number): AvMeta => ({
  kind: 'video',
  frameIndex: i >> 3,
  unitIndex: i & 7,
  unitsTotal: 8,
  fecUnits: 2,
});
const dg = (i: number) => Uint8Array.of(i >> 8, i & 0xff);
const id = (d: Uint8Array) => (d[0] << 8) | d[1];

/** Hands in n datagrams 1 ms apart, ticking every millisecond until nothing is held. */
function run(f: FaultInjector, n: number, drops: DropRecord[] = []): number[] {
  const out: number[] = [];
  let t = 0;
  for (; t < n; t++) {
    f.handle({ bytes: dg(t), meta: meta(t) }, t);
    const r = tick(f, t);
    out.push(...r.out.map(id));
    drops.push(...r.events);
  }
  for (let w = f.pollTimeout(); w !== undefined; w = f.pollTimeout())
    out.push(...tick(f, Math.max(w, t)).out.map(id));
  return out;
}

describe('FaultInjector', () => {
  it('passes everything through, in order, when every fault is off', () => {
    const f = new FaultInjector();
    expect(f.passThrough).toBe(true);
    expect(run(f, 100)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(f.pollTimeout()).toBeUndefined();
    expect(f.stats).toEqual({ pushed: 100, delivered: 100, dropped: 0, duplicated: 0, reordered: 0 });
  });

  it('drops about the asked share, logs each drop with its frame and unit, and reports each as an event', () => {
    const f = new FaultInjector({ loss: 0.05, seed: 42 });
    const seen: DropRecord[] = [];
    const out = run(f, 20_000, seen);
    expect(f.stats.dropped).toBeGreaterThan(800);
    expect(f.stats.dropped).toBeLessThan(1200);
    expect(out.length + f.stats.dropped).toBe(20_000);
    expect(seen).toEqual(f.drops);
    const delivered = new Set(out);
    for (const d of f.drops) {
      const i = d.frameIndex * 8 + d.unitIndex;
      expect(delivered.has(i)).toBe(false);
      expect(d.t).toBe(i);
      expect([d.kind, d.unitsTotal, d.fecUnits]).toEqual(['video', 8, 2]);
    }
  });

  it('is deterministic per seed', () => {
    const a = new FaultInjector({ loss: 0.1, reorder: 0.1, dup: 0.1, jitterMs: 3, seed: 7 });
    const b = new FaultInjector({ loss: 0.1, reorder: 0.1, dup: 0.1, jitterMs: 3, seed: 7 });
    const c = new FaultInjector({ loss: 0.1, reorder: 0.1, dup: 0.1, jitterMs: 3, seed: 8 });
    const ra = run(a, 2000);
    expect(run(b, 2000)).toEqual(ra);
    expect(run(c, 2000)).not.toEqual(ra);
  });

  it('reorders by holding a datagram until after the next one', () => {
    const f = new FaultInjector({ reorder: 0.2, seed: 1 });
    const out = run(f, 1000);
    expect(f.stats.reordered).toBeGreaterThan(100);
    expect([...out].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    let inversions = 0;
    for (let i = 1; i < out.length; i++) if (out[i] < out[i - 1]) inversions++;
    expect(inversions).toBeGreaterThan(50);
    // a held datagram with nothing after it still goes out
    const g = new FaultInjector({ reorder: 1, seed: 1 });
    g.handle({ bytes: dg(5), meta: meta(5) }, 0);
    expect(tick(g, 0).out).toEqual([]);
    expect(g.pollTimeout()).toBe(10);
    expect(tick(g, 10).out.map(id)).toEqual([5]);
  });

  it('duplicates and jitters within the bound', () => {
    const f = new FaultInjector({ dup: 0.1, jitterMs: 5, seed: 9 });
    const due: number[] = [];
    for (let t = 0; t <= 505; t++) {
      if (t < 500) f.handle({ bytes: dg(t), meta: meta(t) }, t);
      for (const d of tick(f, t).out) due.push(t - id(d));
    }
    expect(f.stats.duplicated).toBeGreaterThan(20);
    expect(due.length).toBe(500 + f.stats.duplicated);
    expect(Math.max(...due)).toBeLessThanOrEqual(5);
    expect(new Set(due).size).toBeGreaterThan(3);
  });

  it('bounds the drop log', () => {
    const f = new FaultInjector({ loss: 1, maxDropLog: 10 });
    run(f, 100);
    expect(f.drops.length).toBe(10);
    expect(f.drops[9].t).toBe(99);
    expect(f.stats.dropped).toBe(100);
  });

  it('rejects out-of-range options with a UsageError', () => {
    expect(() => new FaultInjector({ loss: 1.5 })).toThrow(UsageError);
    expect(() => new FaultInjector({ dup: -0.1 })).toThrow(UsageError);
    expect(() => new FaultInjector({ reorder: Number.NaN })).toThrow(UsageError);
    expect(() => new FaultInjector({ jitterMs: -1 })).toThrow(UsageError);
  });
});

describe('fecOutcome', () => {
  it('a frame is recoverable iff no more units were dropped than it has FEC units', () => {
    const d = (frameIndex: number, unitIndex: number, kind: 'video' | 'audio' = 'video'): DropRecord => ({
      kind,
      frameIndex,
      unitIndex,
      unitsTotal: 6,
      fecUnits: 2,
      t: 0,
    });
    const o = fecOutcome([d(1, 0), d(2, 0), d(2, 5), d(3, 1), d(3, 2), d(3, 4), d(4, 0, 'audio')]);
    expect(o.get(1)).toMatchObject({ dropped: 1, recoverable: true });
    expect(o.get(2)).toMatchObject({ dropped: 2, recoverable: true });
    expect(o.get(3)).toMatchObject({ dropped: 3, recoverable: false });
    expect(o.has(4)).toBe(false);
  });
});
