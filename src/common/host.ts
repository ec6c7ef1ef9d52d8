/**
 * The machine rptui runs on, as one injectable interface: files it reads (/proc, /sys, /dev,
 * /etc/group), environment variables, commands it runs to ask tools what they can do, and
 * platform facts. `rptui doctor`, the decoder choice and the platform's profile defaults read the
 * machine only through it, so tests hand them a made-up machine (a Pi 4 with no sound card, say).
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';

export interface RunResult {
  /** Exit code; null when the command could not start, timed out or died by a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Why it did not run to an exit code (ENOENT, a timeout), else undefined. */
  error?: string;
}

export interface Host {
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  /** process.versions.node */
  readonly nodeVersion: string;
  /** The flags node was started with (process.execArgv), e.g. bin/rptui's memory settings. */
  readonly nodeFlags: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Text of a file, or undefined when it cannot be read. */
  readText(path: string): string | undefined;
  /** Entries of a directory (names), [] when it cannot be read. */
  list(dir: string): string[];
  exists(path: string): boolean;
  /** Whether this process may open `path` for reading ('r'), writing ('w') or both ('rw'). */
  canAccess(path: string, mode: 'r' | 'w' | 'rw'): boolean;
  /** Runs a command without a shell; never rejects. */
  run(command: string, args: readonly string[], timeoutMs?: number): Promise<RunResult>;
  /** The user's name and the groups this process has now (names), and those /etc/group gives the user. */
  user(): { name: string; uid: number | undefined; groups: string[]; configuredGroups: string[] };
  /**
   * Binds a socket for a moment (port 0: any free port; UDP with broadcast on) and closes it.
   * Resolves with undefined when that worked, else the error code (EADDRINUSE, EACCES...).
   */
  tryBind(protocol: 'udp' | 'tcp', address: string, port: number): Promise<string | undefined>;
}

const RUN_TIMEOUT_MS = 5000;

/** Group names from /etc/group text: gid -> name, and the groups that list `user` as a member. */
export function parseGroupFile(
  text: string,
  user: string,
): { byGid: Map<number, string>; memberOf: string[] } {
  const byGid = new Map<number, string>();
  const memberOf: string[] = [];
  for (const line of text.split('\n')) {
    const [name, , gid, members] = line.split(':');
    if (!name || gid === undefined || !/^\d+$/.test(gid)) continue;
    byGid.set(Number(gid), name);
    if ((members ?? '').split(',').includes(user)) memberOf.push(name);
  }
  return { byGid, memberOf };
}

/** This machine. */
export function realHost(env: NodeJS.ProcessEnv = process.env): Host {
  return {
    platform: process.platform,
    arch: process.arch,
    nodeVersion: process.versions.node,
    nodeFlags: process.execArgv,
    env,
    readText(path) {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return undefined;
      }
    },
    list(dir) {
      try {
        return readdirSync(dir).sort();
      } catch {
        return [];
      }
    },
    exists(path) {
      try {
        statSync(path);
        return true;
      } catch {
        return false;
      }
    },
    canAccess(path, mode) {
      const m =
        mode === 'r' ? constants.R_OK : mode === 'w' ? constants.W_OK : constants.R_OK | constants.W_OK;
      try {
        accessSync(path, m);
        return true;
      } catch {
        return false;
      }
    },
    run(command, args, timeoutMs = RUN_TIMEOUT_MS) {
      return new Promise((resolve) => {
        execFile(
          command,
          [...args],
          { env, timeout: timeoutMs, maxBuffer: 4 << 20, encoding: 'utf8' },
          (err, stdout, stderr) => {
            const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: unknown }) | null;
            if (e === null) resolve({ code: 0, stdout, stderr });
            else if (typeof e.code === 'number') resolve({ code: e.code, stdout, stderr });
            else
              resolve({
                code: null,
                stdout,
                stderr,
                error: e.killed ? `no answer within ${timeoutMs} ms` : String(e.code ?? e.message),
              });
          },
        );
      });
    },
    user() {
      let name = env.USER ?? '';
      try {
        name = userInfo().username;
      } catch {
        // no passwd entry (a container's made-up uid): keep $USER
      }
      const { byGid, memberOf } = parseGroupFile(this.readText('/etc/group') ?? '', name);
      const gids = process.getgroups?.() ?? [];
      return {
        name,
        uid: process.getuid?.(),
        groups: gids.map((g) => byGid.get(g) ?? String(g)),
        configuredGroups: memberOf,
      };
    },
    tryBind(protocol, address, port) {
      const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? String(e);
      return new Promise((resolve) => {
        if (protocol === 'tcp') {
          const server = createServer();
          server.once('error', (e) => resolve(code(e)));
          server.listen({ host: address, port, exclusive: true }, () =>
            server.close(() => resolve(undefined)),
          );
          return;
        }
        const sock = createSocket('udp4');
        sock.once('error', (e) => {
          sock.close();
          resolve(code(e));
        });
        sock.bind({ address, port, exclusive: true }, () => {
          try {
            sock.setBroadcast(true);
            sock.close(() => resolve(undefined));
          } catch (e) {
            sock.close();
            resolve(code(e));
          }
        });
      });
    },
  };
}
