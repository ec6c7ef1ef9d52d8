/**
 * Where rptui keeps its files, and how it writes them: atomically (temp file in the same
 * directory, fsync, rename) so a crash or a full disk never leaves a half-written file behind,
 * with mode 0600 because profiles hold pairing secrets.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../proto-stack/errors.js';

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

/**
 * Reads a JSON file of ours and validates it with `schema`; undefined when there is no file. A
 * file that cannot be read, parsed or validated is a ConfigError naming the path (and `what` the
 * file is); `hint` says what to do about a damaged one.
 */
export async function readJsonFile<S extends z.ZodType>(
  path: string,
  schema: S,
  what: string,
  hint: string,
): Promise<z.output<S> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read ${path}: ${e.code ?? e.message}`, {
      hint: `check the permissions of ${path}`,
      cause: err,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path} is not valid JSON (${(err as Error).message})`, { hint, cause: err });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first.path.length ? ` at ${first.path.join('.')}` : '';
    throw new ConfigError(`${path} is not a valid ${what}: ${first.message}${where}`, { hint });
  }
  return parsed.data;
}

/**
 * Replaces `path` with `data` atomically. The directory is created (0700) when missing. The
 * temp file gets `mode` before any byte is written, so secrets are never world-readable, not
 * even for a moment.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
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
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`cannot write ${path}: ${e.code ?? e.message}`, {
      hint:
        e.code === 'EACCES' || e.code === 'EPERM'
          ? `check the permissions of ${dir} (or set RPTUI_CONFIG_DIR to a writable directory)`
          : e.code === 'ENOSPC'
            ? 'free some disk space and try again'
            : `check that ${dir} is a writable directory`,
      cause: err,
    });
  }
}

/** A lock older than this is left over from a crashed process (a real holder needs milliseconds). */
const STALE_LOCK_MS = 30_000;

/**
 * Runs `fn` while holding `<path>.lock` (created exclusively), so two rptui processes that
 * read-modify-write the same file cannot lose each other's change. Waits up to `waitMs` for a
 * holder; a stale lock is taken over.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, waitMs = 3000): Promise<T> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + waitMs;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 }).catch(() => undefined);
  for (;;) {
    try {
      const fh = await open(lock, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') {
        throw new ConfigError(`cannot create the lock file ${lock}: ${code ?? (err as Error).message}`, {
          hint: `check that ${dirname(path)} is a writable directory`,
          cause: err,
        });
      }
      const st = await stat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new ConfigError(`${path} is being changed by another rptui process (${lock} exists)`, {
          hint: `wait for the other command to finish; if none is running, delete ${lock}`,
        });
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
