// The nightly fuzz runner (scripts/fuzz.ts) against targets with known bugs: it must find them,
// name the seed and a replay command, shrink the input, stop a hang, and exit 1.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/vectors.js';

function fuzz(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/fuzz.ts', '--module', 'test/scripts/broken-targets.ts', ...args],
      { cwd: repoRoot, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

describe('npm run fuzz', () => {
  it('counts the inputs of a sound parser and exits 0', async () => {
    const r = await fuzz('--target', 'fine', '--runs', '5000', '--seed', '3');
    expect(r.out).toMatch(/^fine\s+5,000\s+[\d.]+\s+[\d,]+\s+[\d.]+ %\s+[\d,]+\s+ok$/m);
    expect(r.out).toMatch(/^total\s+5,000 .* all ok; untyped errors: 0, hangs: 0$/m);
    expect(r.code).toBe(0);
  });

  it('reports an untyped error with its seed, a replay command and the shrunk input; the replay fails alike', async () => {
    const r = await fuzz('--target', 'untyped', '--runs', '5000', '--seed', '11');
    expect(r.code).toBe(1);
    expect(r.out).toContain('UNTYPED ERROR in untyped: TypeError: unchecked read');
    expect(r.out).toContain('minimal input (1 bytes): 42');
    const replay = /replay: npm run fuzz -- --target untyped --seed (-?\d+) --path (\S+)/.exec(r.out);
    expect(replay?.[1]).toBe('11');
    const again = await fuzz('--target', 'untyped', '--seed', '11', '--path', replay![2]);
    expect(again.code).toBe(1);
    expect(again.out).toContain('minimal input (1 bytes): 42');
  });

  it('stops a parser that hangs and minimizes the input it hung on', async () => {
    const r = await fuzz('--target', 'hang', '--runs', '5000', '--seed', '5', '--hang-ms', '400');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/HANG in hang: input \d+ did not return within 400 ms/);
    expect(r.out).toContain('minimal input (1 bytes): 99');
    expect(r.out).toMatch(/hangs: 1$/m);
  });

  it('fails a target that cannot reach its budget in the time box, and an input slower than the limit', async () => {
    let r = await fuzz('--target', 'slow', '--runs', '100000', '--seconds', '1');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/UNDER BUDGET in slow: \d+ of 100000 inputs within the 1 s time box/);
    r = await fuzz('--target', 'slow', '--runs', '50', '--input-ms', '1');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/UNTYPED ERROR in slow: Error: one input took \d+ ms \(limit 1 ms\)/);
  });
});
