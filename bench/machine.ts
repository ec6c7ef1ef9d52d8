/**
 * What every bench figure is printed with: the machine it was measured on (CPU model, cores,
 * load average at that moment, Node version) and, since one run on a shared machine proves
 * little, the median and range of several runs.
 */
import { cpus, loadavg } from 'node:os';

/** Runs per figure. */
export const RUNS = 3;

/** "AMD EPYC 9B14, 2 cores, load 1.52 1.64 1.71, Node v20.20.2" (load: 1, 5 and 15 minutes). */
export function machine(): string {
  const c = cpus();
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return `${c[0]?.model.trim() ?? 'unknown CPU'}, ${c.length} cores, load ${load}, Node ${process.version}`;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(xs: number[]): Spread {
  if (xs.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s[s.length - 1] };
}

/** "65.3 (61.2-70.1)" with `digits` decimals. */
export function fmtSpread(x: Spread, digits = 1): string {
  return `${x.median.toFixed(digits)} (${x.min.toFixed(digits)}-${x.max.toFixed(digits)})`;
}
