import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReorderQueue } from '../../src/proto-stack/reorderqueue.js';
import { loadVectors } from '../helpers/vectors.js';

const v = loadVectors('reorderqueue');

describe('ReorderQueue (reorderqueue.json)', () => {
  it('runs the reference operation script', () => {
    let q: ReorderQueue<number> | undefined;
    // user tag -> seq numbers it was dropped with
    let drops = new Map<number, number[]>();
    const onDrop = (seq: number, user: number) => drops.set(user, [...(drops.get(user) ?? []), seq]);
    let checks = 0;
    for (const op of v.ops) {
      const where = JSON.stringify(op);
      switch (op.op) {
        case 'init16':
          q = new ReorderQueue<number>({ bits: 16, sizeExp: op.size_exp, begin: op.begin, onDrop });
          break;
        case 'expect_size':
          expect(q!.size, where).toBe(op.size);
          break;
        case 'expect_count':
          expect(q!.count, where).toBe(op.count);
          break;
        case 'set_drop_strategy':
          q!.dropStrategy = op.strategy;
          break;
        case 'push':
          q!.push(op.seq_num, op.user);
          continue;
        case 'pull': {
          const r = q!.pull();
          expect(r !== undefined, where).toBe(op.expect_pulled);
          if (op.expect_pulled) {
            if ('expect_user' in op) expect(r!.item, where).toBe(op.expect_user);
            if ('expect_seq_num' in op) expect(r!.seq, where).toBe(op.expect_seq_num);
          }
          break;
        }
        case 'expect_drop_count':
          expect(drops.get(op.user)?.length ?? 0, where).toBe(op.count);
          break;
        case 'expect_drop_seq_num':
          expect(drops.get(op.user)?.at(-1), where).toBe(op.seq_num);
          break;
        case 'reset_drop_record':
          drops = new Map();
          continue;
        case 'expect_drops_exactly':
          expect([...drops.keys()].sort(), where).toEqual([...op.users].sort());
          break;
        default:
          throw new Error(`unknown op ${op.op}`);
      }
      checks++;
    }
    expect(checks).toBeGreaterThan(30);
  });

  it('32-bit queue delivers any arrival order within the window in order, across the wrap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(fc.nat(), { minLength: 16, maxLength: 16 }),
        (begin, keys) => {
          const q = new ReorderQueue<number>({ bits: 32, sizeExp: 4, begin });
          const order = keys.map((k, i) => ({ k, i })).sort((a, b) => a.k - b.k || a.i - b.i);
          const out: number[] = [];
          for (const { i } of order) {
            q.push((begin + i) >>> 0, i);
            for (let r = q.pull(); r; r = q.pull()) out.push(r.item);
          }
          expect(out).toEqual(Array.from({ length: 16 }, (_, i) => i));
          expect(q.begin).toBe((begin + 16) >>> 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('peek, dropAt and skip', () => {
    const dropped: number[] = [];
    const q = new ReorderQueue<string>({ bits: 32, sizeExp: 2, begin: 10, onDrop: (s) => dropped.push(s) });
    q.push(11, 'b');
    q.push(12, 'c');
    expect(q.peek(0)).toBeUndefined();
    expect(q.peek(1)).toEqual({ seq: 11, item: 'b' });
    q.dropAt(2);
    expect(dropped).toEqual([12]);
    expect(q.count).toBe(2);
    q.skip();
    expect(q.pull()).toEqual({ seq: 11, item: 'b' });
    expect(q.count).toBe(0);
  });

  it('fuzz: any push/pull sequence keeps count within size and returns increasing seqs', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(16 as const, 32 as const),
        fc.constantFrom<'end' | 'begin'>('end', 'begin'),
        fc.array(fc.oneof(fc.integer({ min: -40, max: 40 }), fc.constant(null)), { maxLength: 200 }),
        (bits, strategy, ops) => {
          const mod = bits === 16 ? 0x10000 : 0x1_0000_0000;
          const start = mod - 10; // exercise the wrap
          const q = new ReorderQueue<number>({ bits, sizeExp: 3, begin: start, dropStrategy: strategy });
          let last: number | undefined;
          for (const op of ops) {
            if (op === null) {
              const r = q.pull();
              if (r && last !== undefined) expect(r.seq).not.toBe(last);
              if (r) last = r.seq;
            } else q.push((((q.begin + op) % mod) + mod) % mod, op);
            expect(q.count).toBeGreaterThanOrEqual(0);
            expect(q.count).toBeLessThanOrEqual(q.size);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
