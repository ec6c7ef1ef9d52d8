/**
 * Where rptui keeps its files, and how it writes them: atomically (temp file in the same
 * directory, fsync, rename) so a crash or a full disk never leaves a half-written file behind,
 * with mode 0600 because profiles hold pairing secrets.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from '../errors.js';

/** `$RPTUI_CONFIG_DIR`, else `$XDG_CONFIG_HOME/rptui`, else `~/.config/rptui`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RPTUI_CONFIG_DIR) return env.RPTUI_CONFIG_DIR;
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'rptui');
  return join(homedir(), '.config', 'rptui');
}

export function profilesPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'profiles.json');
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
