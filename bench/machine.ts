/**
 * What every benchmark prints with its figures: the machine and its load (figures from a busy,
 * shared machine mean little without them), and repeated measurements as median and range.
 */
import { cpus, loadavg, totalmem } from 'node:os';

/** One line: CPU model and count, memory, Node, load average now. */
export function machineLine(): string {
  const c = cpus();
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return (
    `machine: ${c.length} x ${c[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
    `Node ${process.versions.node}; load average ${load}`
  );
}

/** Median and range of repeated measurements, e.g. "5.2 (4.9 .. 5.8)". */
export function medianRange(values: number[], digits = 1): string {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return 'n/a';
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return `${median.toFixed(digits)} (${v[0].toFixed(digits)} .. ${v[v.length - 1].toFixed(digits)})`;
}
