/**
 * What a simulated console remembers across restarts, like a real one: its identity (MAC =
 * host-id, nickname, firmware) and its paired clients with their secrets. Stored as JSON, written
 * atomically with mode 0600; without a state file the console lives in memory only.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as v from 'valibot';
import { parseJsonFile, writeFileAtomic } from '../common/config-dir.js';
import { noArray, safeParse } from '../common/schema.js';
import { toHex } from '../proto-stack/bytes.js';
import { ConfigError, UsageError } from '../proto-stack/errors.js';
import type { ConsoleKind } from '../proto-stack/target.js';

const PairedClientSchema = noArray(
  v.object({
    /** PSN account id, 8 bytes LE as base64 (what the client sent in Np-AccountId). */
    accountId: v.string(),
    /** The RegistKey handed out, as the hex text sent in PS4-/PS5-RegistKey. */
    registKey: v.pipe(v.string(), v.regex(/^[0-9a-fA-F]+$/)),
    /** RP-Key ("morning") handed out, 16 bytes hex. */
    morning: v.pipe(v.string(), v.regex(/^[0-9a-fA-F]{32}$/)),
    pairedAt: v.string(),
  }),
);
export type PairedClient = v.InferOutput<typeof PairedClientSchema>;

const StateSchema = noArray(
  v.object({
    version: v.literal(1),
    kind: v.picklist(['PS4', 'PS5']),
    hostId: v.pipe(v.string(), v.regex(/^[0-9A-F]{12}$/)),
    nickname: v.pipe(v.string(), v.minLength(1)),
    systemVersion: v.pipe(v.string(), v.regex(/^\d{8}$/)),
    paired: v.array(PairedClientSchema),
  }),
);
export type ConsoleStateData = v.InferOutput<typeof StateSchema>;

export const DEFAULT_SYSTEM_VERSION: Record<ConsoleKind, string> = { PS4: '12020001', PS5: '09600001' };

/** A locally administered unicast MAC, so it can never clash with real hardware. */
function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0] & 0xfc) | 0x02;
  return toHex(b).toUpperCase();
}

/** The state in the text of a state file; errors name `path` and what is wrong, never the text. */
export function parseStateText(text: string, path: string): ConsoleStateData {
  const hint = 'give --state a new file name, or delete this one to forget the paired clients';
  const parsed = safeParse(StateSchema, parseJsonFile(text, path, hint));
  if (!parsed.success)
    throw new ConfigError(`${path} is not a simulator state file: ${parsed.problem.message}`, { hint });
  return parsed.output;
}

export class ConsoleState {
  private constructor(
    readonly path: string | undefined,
    readonly data: ConsoleStateData,
  ) {}

  /**
   * Loads `path` (or starts fresh when it does not exist / no path). `nickname` and
   * `systemVersion` override what was stored; the kind must match a stored one.
   */
  static async open(
    path: string | undefined,
    want: { kind: ConsoleKind; nickname?: string; systemVersion?: string },
  ): Promise<ConsoleState> {
    let stored: ConsoleStateData | undefined;
    if (path) {
      let text: string | undefined;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw new ConfigError(
            `cannot read the simulator state ${path}: ${(err as NodeJS.ErrnoException).code}`,
            {
              cause: err,
            },
          );
        }
      }
      if (text !== undefined) stored = parseStateText(text, path);
    }
    if (stored && stored.kind !== want.kind) {
      throw new UsageError(
        `the state file ${path} belongs to a simulated ${stored.kind}`,
        stored.kind === 'PS5'
          ? 'add --ps5, or use another --state file'
          : 'drop --ps5, or use another --state file',
      );
    }
    const data: ConsoleStateData = {
      version: 1,
      kind: want.kind,
      hostId: stored?.hostId ?? randomMac(),
      nickname: want.nickname ?? stored?.nickname ?? `${want.kind}-sim`,
      systemVersion: want.systemVersion ?? stored?.systemVersion ?? DEFAULT_SYSTEM_VERSION[want.kind],
      paired: stored?.paired ?? [],
    };
    const state = new ConsoleState(path, data);
    await state.save();
    return state;
  }

  /**
   * Remembers a client. A console keeps every registered device, several under one account (each
   * with its own keys); only a repeat of the same RegistKey replaces its earlier entry.
   */
  async addPairing(p: PairedClient): Promise<void> {
    const key = p.registKey.toLowerCase();
    this.data.paired = [...this.data.paired.filter((q) => q.registKey.toLowerCase() !== key), p];
    await this.save();
  }

  async save(): Promise<void> {
    if (this.path) await writeFileAtomic(this.path, `${JSON.stringify(this.data, null, 2)}\n`, 0o600);
  }
}
