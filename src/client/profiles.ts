/**
 * Pairing profiles: one per registered console, in `<config dir>/profiles.json` (mode 0600,
 * written atomically under a lock file, validated on every load). A file that does not validate
 * is reported with its path (never with its content: it may be a link to anything) and left
 * untouched: every mutation loads first, so a corrupt file stops the write.
 */
import * as v from 'valibot';
import {
  type LockHolder,
  type LockOptions,
  parseConfigJson,
  profilesPath,
  readConfigText,
  withFileLock,
  writeFileAtomic,
} from '../common/config-dir.js';
import { isoDatetime, noArray, safeParse } from '../common/schema.js';
import type { PlatformFacts } from '../media/hwdecode.js';
import { UsageError } from '../proto-stack/errors.js';
import { replaceUnsafe } from '../proto-stack/text.js';

export const RESOLUTIONS = ['360p', '540p', '720p', '1080p'] as const;

const nonEmpty = () => v.pipe(v.string(), v.minLength(1));

export const ProfileSettingsSchema = noArray(
  v.object({
    resolution: v.optional(v.picklist(RESOLUTIONS), '720p'),
    fps: v.optional(v.union([v.literal(30), v.literal(60)]), 60),
    /** kbit/s; 'auto' = the usual bitrate for the resolution. */
    bitrate: v.optional(
      v.union([v.literal('auto'), v.pipe(v.number(), v.integer(), v.minValue(500), v.maxValue(100_000))]),
      'auto',
    ),
    /** The codec asked of the console: h265 (HEVC) is for a PS5 only. */
    codec: v.optional(v.picklist(['h264', 'h265']), 'h264'),
    /** A --video spec: 'ffplay' (a window), 'terminal', 'file:PATH' or 'none' (parsed by src/media/sinks.ts). */
    videoSink: v.optional(nonEmpty(), 'ffplay'),
    /** A --audio spec ('speaker', 'file:PATH', 'none'), or 'auto' (resolveAudioSinkSpec: speaker or none). */
    audioSink: v.optional(nonEmpty(), 'auto'),
    /** Keymap name or path. */
    keymap: v.optional(nonEmpty(), 'default'),
  }),
);
export type ProfileSettings = v.InferOutput<typeof ProfileSettingsSchema>;

/** What a machine can decode in hardware, for platformDefaults (see media/hwdecode.ts). */
/**
 * Settings a new profile gets on this machine instead of the schema's defaults. A Pi 4 decodes
 * 1080p60 H.264 only with its hardware decoder, so 1080p only when the player can use it; a Pi 5
 * has no H.264 decoder but an HEVC one, so a PS5 is asked for HEVC (its A76 cores decode it in
 * software too when the player cannot use the hardware), at 1080p when the hardware is there.
 */
export function platformDefaults(kind: 'PS4' | 'PS5', f: PlatformFacts): Partial<ProfileSettings> {
  if (f.piGeneration === 5 && kind === 'PS5')
    return { codec: 'h265', ...(f.hevcHardware ? { resolution: '1080p' } : {}) };
  if (f.piGeneration === 4 && f.h264Hardware) return { resolution: '1080p' };
  return {};
}

const hex = (bytes: number) =>
  v.pipe(v.string(), v.regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `${bytes} bytes as hex`));

export const PROFILE_NAME_RE = /^[^\s/\\\p{Cc}][^/\\\p{Cc}]{0,63}$/u;

export const ProfileSchema = noArray(
  v.object({
    name: v.pipe(
      v.string(),
      v.regex(PROFILE_NAME_RE, 'a name of 1-64 characters, no slashes or control characters'),
    ),
    kind: v.picklist(['PS4', 'PS5']),
    target: v.union([
      v.literal(800),
      v.literal(900),
      v.literal(1000),
      v.literal(1000000),
      v.literal(1000100),
    ]),
    /** Address the console answered from (IPv4 or a host name). */
    host: nonEmpty(),
    /** The console's MAC as 12 hex digits: DDP host-id = PS4-Mac/PS5-Mac. */
    hostId: hex(6),
    nickname: v.string(),
    /** RegistKey bytes as hex (the console sends 8). */
    registKey: v.pipe(v.string(), v.regex(/^(?:[0-9a-fA-F]{2}){1,32}$/, 'hex bytes')),
    /** RP-Key ("morning"), 16 bytes as hex. */
    rpKey: hex(16),
    /** PSN account id: 8 bytes little-endian, base64. */
    accountId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9+/]{11}=$/, '8 bytes as base64')),
    createdAt: isoDatetime(),
    /** Missing or partial: the defaults fill it in. */
    settings: v.optional(ProfileSettingsSchema, {}),
  }),
);
export type Profile = v.InferOutput<typeof ProfileSchema>;
/** What a caller supplies: settings may be partial or missing. */
export type ProfileInput = v.InferInput<typeof ProfileSchema>;

const FileSchema = v.pipe(
  noArray(v.object({ version: v.literal(1), profiles: v.array(ProfileSchema) })),
  v.check(
    (f) => new Set(f.profiles.map((p) => p.name)).size === f.profiles.length,
    'two profiles have the same name',
  ),
);

/** `base`, or `base-2`, `base-3`... whichever is not taken (control characters become "-"). */
export function uniqueProfileName(base: string, taken: Iterable<string>): string {
  const names = new Set(taken);
  const clean = replaceUnsafe(base.replace(/[/\\]/g, '-'), '-').trim().slice(0, 56) || 'console';
  if (!names.has(clean)) return clean;
  for (let i = 2; ; i++) if (!names.has(`${clean}-${i}`)) return `${clean}-${i}`;
}

/**
 * The profiles in the text of a profiles file; `path` names it in errors, which say where the
 * file is wrong, never what it holds.
 */
export function parseProfilesText(text: string, path: string): Profile[] {
  const hint = `fix the file by hand, or move it away to start over (rptui never overwrites it): mv ${path} ${path}.bak`;
  return parseConfigJson(text, path, FileSchema, 'profiles file', hint).profiles;
}

/** The profiles file seen from inside its lock: reads and writes that nobody else interleaves. */
export interface LockedProfiles {
  list(): Promise<Profile[]>;
  add(input: ProfileInput): Promise<Profile>;
  update(name: string, change: (p: Profile) => ProfileInput): Promise<Profile>;
}

/** What importProfiles did with one profile. */
export interface Imported {
  profile: Profile;
  /** added; replaced the keys of the stored profile of the same console and account; or added under another name. */
  action: 'added' | 'replaced' | 'renamed';
}

export class ProfileStore {
  constructor(readonly path: string) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): ProfileStore {
    return new ProfileStore(profilesPath(env));
  }

  /** All profiles; a missing file is an empty list. */
  async list(): Promise<Profile[]> {
    const text = await readConfigText(this.path, 'profiles file');
    return text === undefined ? [] : parseProfilesText(text, this.path);
  }

  async find(name: string): Promise<Profile | undefined> {
    return (await this.list()).find((p) => p.name === name);
  }

  async get(name: string): Promise<Profile> {
    const all = await this.list();
    const p = all.find((q) => q.name === name);
    if (!p) {
      throw new UsageError(
        `no profile named "${name}"`,
        all.length
          ? `known profiles: ${all.map((q) => q.name).join(', ')}`
          : 'register a console first: rptui register --help',
      );
    }
    return p;
  }

  /**
   * Runs `fn` holding the profiles file's lock (created, with its directory, first: a config dir
   * that cannot be written fails here, before `fn` does anything). Everything `fn` reads through
   * `tx` stays true until it returns.
   */
  async withLock<T>(
    purpose: string,
    fn: (tx: LockedProfiles) => Promise<T>,
    opts: { failFast?: (holder: LockHolder) => boolean } = {},
  ): Promise<T> {
    const tx: LockedProfiles = {
      list: () => this.list(),
      add: (input) => this.addLocked(input),
      update: (name, change) => this.updateLocked(name, change),
    };
    const lock: LockOptions = { purpose, failFast: opts.failFast };
    return withFileLock(this.path, () => fn(tx), lock);
  }

  /** Adds a new profile; its name must be free. Returns the stored (validated) profile. */
  async add(input: ProfileInput): Promise<Profile> {
    return withFileLock(this.path, () => this.addLocked(input));
  }

  private async addLocked(input: ProfileInput): Promise<Profile> {
    const all = await this.list();
    const profile = validate(input);
    if (all.some((p) => p.name === profile.name)) {
      throw new UsageError(
        `a profile named "${profile.name}" already exists`,
        'pick another --name, or remove it first: rptui profiles rm',
      );
    }
    await this.save([...all, profile]);
    return profile;
  }

  /** Replaces the profile called `name` with `change(profile)`. */
  async update(name: string, change: (p: Profile) => ProfileInput): Promise<Profile> {
    return withFileLock(this.path, () => this.updateLocked(name, change));
  }

  private async updateLocked(name: string, change: (p: Profile) => ProfileInput): Promise<Profile> {
    const all = await this.list();
    const i = all.findIndex((p) => p.name === name);
    if (i < 0) await this.get(name); // throws the usual "no profile" error
    const next = validate(change(all[i]));
    if (next.name !== name && all.some((p) => p.name === next.name)) {
      throw new UsageError(`a profile named "${next.name}" already exists`);
    }
    const copy = all.slice();
    copy[i] = next;
    await this.save(copy);
    return next;
  }

  async rename(from: string, to: string): Promise<Profile> {
    return this.update(from, (p) => ({ ...p, name: to }));
  }

  async remove(name: string): Promise<Profile> {
    return withFileLock(this.path, () => this.removeLocked(name));
  }

  private async removeLocked(name: string): Promise<Profile> {
    const all = await this.list();
    const p = all.find((q) => q.name === name);
    if (!p) return this.get(name);
    await this.save(all.filter((q) => q !== p));
    return p;
  }

  /**
   * Stores `profiles` (e.g. read from a file a failed pairing left): a profile of a console and
   * account already stored gives that profile its keys (name and settings stay); a new one whose
   * name is taken gets a free name.
   */
  async importProfiles(profiles: readonly Profile[]): Promise<Imported[]> {
    return withFileLock(this.path, async () => {
      const all = await this.list();
      const done: Imported[] = [];
      for (const p of profiles) {
        const i = all.findIndex((q) => q.hostId === p.hostId && q.accountId === p.accountId);
        if (i >= 0) {
          const { name: _n, settings: _s, ...keys } = p;
          all[i] = validate({ ...all[i], ...keys });
          done.push({ profile: all[i], action: 'replaced' });
        } else {
          const name = uniqueProfileName(
            p.name,
            all.map((q) => q.name),
          );
          all.push({ ...p, name });
          done.push({ profile: { ...p, name }, action: name === p.name ? 'added' : 'renamed' });
        }
      }
      await this.save(all);
      return done;
    });
  }

  private async save(profiles: Profile[]): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify({ version: 1, profiles }, null, 2)}\n`, 0o600);
  }
}

function validate(input: ProfileInput): Profile {
  const r = safeParse(ProfileSchema, input);
  if (!r.success) {
    const { message, path } = r.problem;
    const where = path.length ? ` ${path.join('.')}` : '';
    throw new UsageError(`invalid profile${where}: ${message}`);
  }
  return r.output;
}
