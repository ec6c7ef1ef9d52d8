// Facts about this machine's processes and tools that tests skip or assert on, and an X server
// of their own for tests that show windows.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

/** The children of a process (none: an empty list). */
export function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

/** Children, grandchildren... of a process, each before its own children. */
export function descendantPids(pid: number): number[] {
  return childPids(pid).flatMap((c) => [c, ...descendantPids(c)]);
}

/** Whether an executable of this name is on PATH (for tools rptui itself never runs: Xvfb, import...). */
/** CPU seconds (user + system) a process used so far (NaN once it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

export function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, name)));
}

export interface Xvfb {
  /** The DISPLAY value, e.g. ":99". */
  display: string;
  stop(): void;
}

/** Starts Xvfb on a free display (it picks the number itself and says it on fd 3). */
export async function startXvfb(width = 1280, height = 720): Promise<Xvfb> {
  const xvfb: ChildProcess = spawn(
    'Xvfb',
    ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp'],
    { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] },
  );
  const display = await new Promise<string>((resolve, reject) => {
    let text = '';
    xvfb.stdio[3]!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('\n')) resolve(`:${text.trim()}`);
    });
    xvfb.once('exit', () => reject(new Error('Xvfb exited')));
  });
  return { display, stop: () => xvfb.kill('SIGTERM') };
}

export interface ProbedStream {
  codec_type: string;
  width?: number;
  height?: number;
  nb_read_frames?: string;
}

/** ffprobe's streams of a media file (or of these bytes, in `format`), frames counted by decoding. */
export function ffprobeStreams(input: string | { bytes: Uint8Array; format: string }): ProbedStream[] {
  const source = typeof input === 'string' ? [input] : ['-f', input.format, '-'];
  const out = execFileSync(
    'ffprobe',
    ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_type,width,height,nb_read_frames'].concat(
      ['-of', 'json', ...source],
    ),
    { encoding: 'utf8', ...(typeof input === 'string' ? {} : { input: input.bytes }) },
  );
  return JSON.parse(out).streams;
}
