// pairAndStore (src/client/pairing.ts: rptui register and the TUI's register dialog) against an in-process simulated
// PS5 on 127.0.0.135: a pairing is stored whole or the user is told exactly what is left where.
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pairAndStore } from '../../src/client/pairing.js';
import { ProfileStore } from '../../src/client/profiles.js';
import { ConfigError } from '../../src/proto-stack/errors.js';
import { SimulatedConsole } from '../../src/simulator/index.js';
import { useHarness } from '../helpers/cli.js';

const h = useHarness();
const HOST = '127.0.0.135';
const PIN = '31415926';

async function console5(): Promise<{ sim: SimulatedConsole; requests: () => string[] }> {
  const sim = await SimulatedConsole.start({ host: HOST, kind: 'PS5', pin: PIN, nickname: 'Den' });
  h.defer(() => sim.stop());
  const seen: string[] = [];
  sim.events.on((e) => {
    if (e.event === 'request') seen.push(String(e.proto));
  });
  return { sim, requests: () => seen };
}

/**
 * Pairs while the config dir `cfg` turns into a file the moment the PIN goes out: the console
 * accepts, and every write after that fails. Resolves with the error.
 */
function pairBreakingDir(store: ProfileStore, cfg: string): Promise<ConfigError> {
  const onStep = (text: string) => {
    if (!text.includes('sending the PIN')) return;
    renameSync(cfg, `${cfg}.moved`);
    writeFileSync(cfg, '');
  };
  return pairAndStore({ host: HOST, pin: PIN, accountId: '42', ps5: true, store, onStep }).catch((e) => e);
}

let tmp: string | undefined;
beforeEach(() => {
  tmp = process.env.TMPDIR;
});
afterEach(() => {
  if (tmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = tmp;
});

describe('pairAndStore', () => {
  it('asks the console nothing when the config dir cannot be created', async () => {
    const { requests } = await console5();
    const file = join(h.tempDir(), 'not-a-dir');
    writeFileSync(file, '');
    const store = new ProfileStore(join(file, 'rptui', 'profiles.json'));
    const err = await pairAndStore({ host: HOST, pin: PIN, accountId: '42', ps5: true, store }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/cannot create the directory .*not-a-dir\/rptui: ENOTDIR/);
    expect(requests()).toEqual([]); // no discovery probe, no search, no PIN sent
  });

  it('keeps a pairing it could not store in a 0600 recovery file that profiles import takes', async () => {
    const { sim } = await console5();
    process.env.TMPDIR = h.tempDir('rptui-tmp-');
    const cfg = join(h.tempDir(), 'cfg');
    const store = new ProfileStore(join(cfg, 'profiles.json'));
    const err = await pairBreakingDir(store, cfg);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(
      new RegExp(
        `^paired with PS5 "Den" at ${HOST}, but could not store the profile: cannot read .*: ENOTDIR$`,
      ),
    );
    const record = /kept in (\S+); once the problem is fixed, run: rptui profiles import \1 /.exec(
      err.hint ?? '',
    )?.[1];
    expect(record?.startsWith(process.env.TMPDIR)).toBe(true); // the config dir was no place for it
    expect(statSync(record!).mode & 0o777).toBe(0o600);
    // the console holds the pairing, and the record holds its keys
    const kept = JSON.parse(readFileSync(record!, 'utf8')).profiles[0];
    expect(sim.state.data.paired).toHaveLength(1);
    expect(kept.registKey).toBe(sim.state.data.paired[0].registKey);
    expect(kept.rpKey).toBe(sim.state.data.paired[0].morning);
    // fixed: the record is imported, no new pairing needed
    rmSync(cfg);
    renameSync(`${cfg}.moved`, cfg);
    const imported = await store.importProfiles(await new ProfileStore(record!).list());
    expect(imported.map((i) => [i.action, i.profile.name])).toEqual([['added', 'Den']]);
    expect((await store.get('Den')).registKey).toBe(sim.state.data.paired[0].registKey);
  });

  it('says what to do when not even a recovery file can be written', async () => {
    await console5();
    const base = h.tempDir();
    process.env.TMPDIR = join(base, 'tmp-is-a-file');
    writeFileSync(process.env.TMPDIR, '');
    const cfg = join(base, 'cfg');
    mkdirSync(cfg);
    const store = new ProfileStore(join(cfg, 'profiles.json'));
    const err = await pairBreakingDir(store, cfg);
    expect(err.message).toMatch(/^paired with PS5 "Den" .* but could not store the profile/);
    expect(err.hint).toMatch(
      /^nothing could be kept \(cannot create the directory .*tmp-is-a-file: EEXIST\): remove this device in the console's Remote Play settings, then pair again/,
    );
  });
});
