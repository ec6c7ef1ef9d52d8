/**
 * Where rptui keeps its files, and how it writes them: atomically (temp file in the same
 * directory, fsync, rename) so a crash or a full disk never leaves a half-written file behind,
 * with mode 0600 because profiles hold pairing secrets.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, type FileHandle, link, mkdir, open, rename, rm, stat, utimes } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type * as v from 'valibot';
import { ConfigError } from '../proto-stack/errors.js';
import { safeParse } from './schema.js';

/** `$RPTUI_CONFIG_DIR`, else `$XDG_CONFIG_HOME/rptui`, else `~/.config/rptui`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RPTUI_CONFIG_DIR) return env.RPTUI_CONFIG_DIR;
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'rptui');
  return join(homedir(), '.config', 'rptui');
}

export function profilesPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'profiles.json');
}

/** The PSN sign-in (`rptui login`): account id, online id, refresh token. */
export function psnAccountPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'psn.json');
}

/** A file of ours (profiles, the PSN sign-in) is a few KiB; anything far larger is not one. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

/**
 * The text of a file of ours, undefined when there is none. Only a regular file of sane size is
 * read, without blocking (a FIFO in its place must not hang us); `what` names it in errors.
 */
export async function readConfigText(path: string, what: string): Promise<string | undefined> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read ${path}: ${e.code ?? e.message}`, {
      hint: `check the permissions of ${path}`,
      cause: err,
    });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_FILE_BYTES)
      throw new ConfigError(
        `${path} is not a ${what} (${st.isFile() ? `${st.size} bytes` : 'not a regular file'})`,
        { hint: `move it away to start over: mv ${path} ${path}.bak` },
      );
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * `text` (from the file `path`) as JSON validated with `schema` (a valibot schema, see ./schema.ts);
 * a ConfigError that names the path and `what` the file is, never quoting it; `hint` says what to
 * do about a damaged one.
 */
export function parseConfigJson<S extends v.GenericSchema>(
  text: string,
  path: string,
  schema: S,
  what: string,
  hint: string,
): v.InferOutput<S> {
  const parsed = safeParse(schema, parseJsonFile(text, path, hint));
  if (!parsed.success) {
    const { message, path: at } = parsed.problem;
    const where = at.length ? ` at ${at.join('.')}` : '';
    throw new ConfigError(`${path} is not a valid ${what}: ${message}${where}`, { hint });
  }
  return parsed.output;
}

/** readConfigText + parseConfigJson: undefined when there is no file. */
export async function readJsonFile<S extends v.GenericSchema>(
  path: string,
  schema: S,
  what: string,
  hint: string,
): Promise<v.InferOutput<S> | undefined> {
  const text = await readConfigText(path, what);
  return text === undefined ? undefined : parseConfigJson(text, path, schema, what, hint);
}

/**
 * JSON.parse for a file's text. A syntax error names the file (`what`, e.g. its path) and, where
 * the runtime tells it, the position; never the text, which may be any file a link points to.
 */
export function parseJsonFile(text: string, what: string, hint?: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const at = /position (\d+)/.exec((err as Error).message);
    let where = '';
    if (at) {
      const before = text.slice(0, Number(at[1]));
      where = ` (line ${before.split('\n').length}, column ${before.length - before.lastIndexOf('\n')})`;
    }
    throw new ConfigError(`${what} is not valid JSON${where}`, { hint });
  }
}

/** A ConfigError for a failed file operation, with a hint that fits the errno. */
function fileError(what: string, err: unknown, dir: string): ConfigError {
  const e = err as NodeJS.ErrnoException;
  return new ConfigError(`${what}: ${e.code ?? e.message}`, {
    hint:
      e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS'
        ? `check the permissions of ${dir} (or set RPTUI_CONFIG_DIR to a writable directory)`
        : e.code === 'ENOSPC' || e.code === 'EDQUOT'
          ? 'free some disk space and try again'
          : `check that ${dir} is a writable directory (or set RPTUI_CONFIG_DIR to one)`,
    cause: err,
  });
}

/** Creates `dir` (0700) and its parents when missing; a failure says which directory and why. */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw fileError(`cannot create the directory ${dir}`, err, dir);
  }
}

/**
 * Replaces `path` with `data` atomically. The directory is created (0700) when missing. The
 * temp file gets `mode` before any byte is written, so secrets are never world-readable, not
 * even for a moment.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  await ensureDir(dir);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    // open() applies the umask; chmod makes the mode exact.
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw fileError(`cannot write ${path}`, err, dir);
  }
}

/** A lock older than this is left over from a crashed process (a holder touches it every 5 s). */
const STALE_LOCK_MS = 30_000;
const LOCK_HEARTBEAT_MS = 5_000;

/** Who holds a lock, as written in the lock file. */
export interface LockHolder {
  pid: number;
  /** What the holder is doing, e.g. "pairing with 192.168.1.20". */
  purpose: string;
}

export interface LockOptions {
  /** How long to wait for another holder (ms). */
  waitMs?: number;
  /** Recorded in the lock file, so a process that has to wait can say what it waits for. */
  purpose?: string;
  /** Give up at once, without waiting, when the current holder matches (e.g. a second pairing). */
  failFast?: (holder: LockHolder) => boolean;
}

/**
 * The lock file's holder and the identity of the file it was read from, through one descriptor
 * (a separate stat and read could pair one holder's pid with the next holder's file).
 */
async function readLock(
  lock: string,
): Promise<{ ino: number; mtimeMs: number; holder?: LockHolder } | undefined> {
  const fh = await open(lock, 'r').catch(() => undefined);
  if (!fh) return undefined; // released meanwhile
  try {
    const st = await fh.stat();
    const text = await fh.readFile('utf8');
    const m = /^(\d+)(?: (.*))?$/.exec(text.trimEnd());
    const holder = m ? { pid: Number(m[1]), purpose: m[2] ?? 'changing it' } : undefined;
    return { ino: st.ino, mtimeMs: st.mtimeMs, holder };
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

/**
 * False when no process has this id (on this machine). Our own pid in a lock file is a leftover
 * of an earlier process with that pid: callers in this process take turns before the file.
 */
function holderAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the lock file `lock` that was seen with inode `seen`, unless another process replaced it
 * in the meantime (then that process's lock is put back).
 */
async function removeStaleLock(lock: string, seen: number): Promise<void> {
  const aside = `${lock}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    await rename(lock, aside);
  } catch {
    return; // someone else removed it first
  }
  const st = await stat(aside).catch(() => undefined);
  if (st && st.ino !== seen) await link(aside, lock).catch(() => undefined);
  await rm(aside, { force: true });
}

/** Callers in this process that hold or wait for each lock: they take turns here before the file. */
const turns = new Map<string, { purpose: string; done: Promise<void> }>();

function inUse(path: string, lock: string, who: string): ConfigError {
  return new ConfigError(`${path} is in use: ${who} (lock file ${lock})`, {
    hint: `wait for the other rptui command to finish and try again; if none is running, delete ${lock}`,
  });
}

/**
 * Runs `fn` while holding `<path>.lock` (created exclusively), so two rptui processes that
 * read-modify-write the same file cannot lose each other's change. Waits up to `waitMs` for a
 * holder; a lock whose process is gone, or that nobody touched for 30 s, is taken over. Callers
 * within one process queue among themselves first (not reentrant: a holder that asks again for
 * the same lock waits for itself until `waitMs` runs out).
 */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const lock = `${path}.lock`;
  const dir = dirname(path);
  const deadline = Date.now() + (opts.waitMs ?? 15_000);
  const purpose = (opts.purpose ?? 'changing it').replace(/\n/g, ' ');

  for (let turn = turns.get(lock); turn; turn = turns.get(lock)) {
    const left = deadline - Date.now();
    if (opts.failFast?.({ pid: process.pid, purpose: turn.purpose }) || left <= 0) {
      throw inUse(path, lock, `rptui process ${process.pid} is ${turn.purpose}`);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([turn.done, new Promise((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
  }
  let release = () => {};
  turns.set(lock, { purpose, done: new Promise<void>((r) => (release = r)) });
  try {
    return await withLockFile(path, lock, dir, purpose, deadline, opts, fn);
  } finally {
    turns.delete(lock);
    release();
  }
}

async function withLockFile<T>(
  path: string,
  lock: string,
  dir: string,
  purpose: string,
  deadline: number,
  opts: LockOptions,
  fn: () => Promise<T>,
): Promise<T> {
  await ensureDir(dir);
  for (;;) {
    let fh: FileHandle;
    try {
      fh = await open(lock, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw fileError(`cannot create the lock file ${lock}`, err, dir);
      }
      const seen = await readLock(lock);
      if (!seen) continue; // released meanwhile
      const { holder } = seen;
      if (Date.now() - seen.mtimeMs > STALE_LOCK_MS || (holder && !holderAlive(holder.pid))) {
        await removeStaleLock(lock, seen.ino);
        continue;
      }
      const who = holder ? `rptui process ${holder.pid} is ${holder.purpose}` : 'another rptui process';
      if ((holder && opts.failFast?.(holder)) || Date.now() > deadline) throw inUse(path, lock, who);
      await new Promise((r) => setTimeout(r, 25));
      continue;
    }
    try {
      await fh.writeFile(`${process.pid} ${purpose}\n`);
    } catch (err) {
      await rm(lock, { force: true }).catch(() => undefined);
      throw fileError(`cannot write the lock file ${lock}`, err, dir);
    } finally {
      await fh.close();
    }
    break;
  }
  // a long holder (a pairing waits for the console) keeps its lock fresh
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(lock, now, now).catch(() => undefined);
  }, LOCK_HEARTBEAT_MS);
  heartbeat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    // a lock that cannot be removed (its directory went away) is stale once we exit
    await rm(lock, { force: true }).catch(() => undefined);
  }
}
