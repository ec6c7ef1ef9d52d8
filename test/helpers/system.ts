// Facts about this machine's processes and tools that tests skip or assert on.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Whether a process with this pid exists. */
export function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether an executable of this name is on PATH (for tools rptui itself never runs: Xvfb, import...). */
export function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, name)));
}
