// A made-up machine for the code that reads one through src/host.ts: files by path (folders follow
// from them), canned answers for the commands it runs, a user and its groups, and which sockets
// bind. Everything not given is absent: no file, no command, no groups.
import { basename, dirname } from 'node:path';
import type { Host, RunResult } from '../../src/common/host.js';

export interface FakeMachine {
  platform?: NodeJS.Platform;
  arch?: string;
  nodeVersion?: string;
  nodeFlags?: string[];
  env?: NodeJS.ProcessEnv;
  /** path -> content; each file's folders exist too. */
  files?: Record<string, string>;
  /** Folders with these entries, beyond those the files make (e.g. /dev/video10). */
  entries?: Record<string, string[]>;
  /** Paths this user may not open (default: every existing path may be). */
  denied?: (path: string, mode: 'r' | 'w' | 'rw') => boolean;
  /** Answer for a command by its file name and arguments; undefined: it does not exist. */
  run?: (name: string, args: readonly string[]) => Partial<RunResult> | undefined;
  user?: { name: string; uid: number; groups: string[]; configuredGroups?: string[] };
  /** Error code for a bind, undefined when it works (default: every bind works). */
  bind?: (protocol: 'udp' | 'tcp', address: string, port: number) => string | undefined;
}

export function fakeHost(m: FakeMachine = {}): Host & { ran: string[] } {
  const files = m.files ?? {};
  const children = new Map<string, Set<string>>();
  const add = (dir: string, entry: string) => {
    if (!children.has(dir)) children.set(dir, new Set());
    children.get(dir)!.add(entry);
  };
  for (const path of Object.keys(files)) {
    for (let p = path; dirname(p) !== p; p = dirname(p)) add(dirname(p), basename(p));
  }
  for (const [dir, names] of Object.entries(m.entries ?? {})) {
    for (let p = dir; dirname(p) !== p; p = dirname(p)) add(dirname(p), basename(p));
    for (const n of names) add(dir, n);
  }
  const exists = (path: string) =>
    path in files || children.has(path) || (children.get(dirname(path))?.has(basename(path)) ?? false);
  const ran: string[] = [];
  return {
    ran,
    platform: m.platform ?? 'linux',
    arch: m.arch ?? 'arm64',
    nodeVersion: m.nodeVersion ?? '20.19.2',
    nodeFlags: m.nodeFlags ?? [],
    env: m.env ?? {},
    readText: (path) => files[path],
    list: (dir) => [...(children.get(dir) ?? [])].sort(),
    exists,
    canAccess: (path, mode) => exists(path) && !(m.denied?.(path, mode) ?? false),
    run: async (command, args) => {
      ran.push([basename(command), ...args].join(' '));
      const r = m.run?.(basename(command), args);
      if (r === undefined) return { code: null, stdout: '', stderr: '', error: 'ENOENT' };
      return { code: 0, stdout: '', stderr: '', ...r };
    },
    user: () => ({ configuredGroups: [], ...(m.user ?? { name: 'pi', uid: 1000, groups: ['pi'] }) }),
    tryBind: async (protocol, address, port) => m.bind?.(protocol, address, port),
  };
}

/** `ffmpeg -decoders` text with these video decoders (the real heading, one line each). */
export function decoderListing(names: string[]): string {
  const head = [
    'Decoders:',
    ' V..... = Video',
    ' A..... = Audio',
    ' S..... = Subtitle',
    ' .F.... = Frame-level multithreading',
    ' ..S... = Slice-level multithreading',
    ' ...X.. = Codec is experimental',
    ' ....B. = Supports draw_horiz_band',
    ' .....D = Supports direct rendering method 1',
    ' ------',
  ];
  return [...head, ...names.map((n) => ` V....D ${n.padEnd(20)} ${n} decoder`), ''].join('\n');
}

/** A Raspberry Pi as its device tree and V4L2 sysfs show it. */
export function piFiles(model: string, v4l2: Record<string, string> = {}): Record<string, string> {
  const files: Record<string, string> = { '/proc/device-tree/model': `${model}\0` };
  for (const [dev, name] of Object.entries(v4l2)) {
    files[`/sys/class/video4linux/${dev}/name`] = `${name}\n`;
    files[`/dev/${dev}`] = '';
  }
  return files;
}
