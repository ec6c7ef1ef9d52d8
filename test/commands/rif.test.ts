// Runs ./bin/rptui rif as child processes on the committed fixtures (vitest's global setup rebuilds
// dist/ first), and checks that the fixtures are what test/proto-stack/rif/fixtures.ts builds. Independent runs
// go in parallel: each costs a node start-up.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/proto-stack/bytes.js';
import { runStateless as rptui, useHarness } from '../helpers/cli.js';
import { FIXTURES, fixtureDir } from '../proto-stack/rif/fixtures.js';

const h = useHarness();
const fx = (name: string) => join('test', 'fixtures', 'rif', name);

describe('license fixtures', () => {
  it('are exactly what the builder makes', () => {
    for (const [name, build] of Object.entries(FIXTURES))
      expect(toHex(readFileSync(join(fixtureDir, name))), name).toBe(toHex(build()));
  });
});

describe('rptui rif', () => {
  it('prints table rows, cross-checks indexes and lists every mismatch', async () => {
    const [free, good, bad, alone, fake] = await Promise.all([
      rptui('rif', fx('playroom-free.rif')),
      rptui('rif', fx('kds-container.rif'), fx('kds-container.idx')),
      rptui('rif', fx('kds-container-bad.idx'), fx('kds-container.rif')),
      rptui('rif', fx('kds-container.idx')),
      rptui('rif', fx('debug-fake.rif')),
    ]);
    expect(free.code).toBe(0);
    expect(free.stdout).toContain('playroom-free.rif: RIF, version 1, PS4GD');
    expect(free.stdout).toMatch(/CONTENT ID\s+TYPE\s+SKU\s+VALIDITY\s+ACCOUNT\s+FLAGS/);
    expect(free.stdout).toMatch(
      /IP9100-CUSA00001_00-PLAYROOM00000000\s+Isolated \("free"\)\s+full game\s+2013-11-15T00:00:00Z \.\. never expires\s+none\s+extra=0x00000000 unknown=0x00040000/,
    );
    expect(free.stdout).not.toContain('warning');

    expect(good.code).toBe(0);
    expect(good.stdout).toContain('RIFA for service EP0001-CUSA09999_00, 2 RIFs');
    expect(good.stdout).toMatch(
      /SYNTHETICDLC0001\s+KDS \(NPDRM\)\s+not bootable\s+2024-12-09T21:44:19Z \.\. 2027-01-01T00:00:00Z\s+0xabcdef0102347891/,
    );
    expect(good.stdout).toContain(
      'cross-checked with test/fixtures/rif/kds-container.rif: offsets, sizes and labels match',
    );

    // mismatches are warnings, not failures
    expect(bad.code).toBe(0);
    expect(bad.stdout).toContain('4 mismatches');
    expect(bad.stdout).toContain('warning: entry 0 (SYNTHETICGAME002): label does not match');
    expect(bad.stdout).toContain('warning: entry 1 (SYNTHETICDLC0001): RIF size 0x3f0, a RIF is 0x400');
    expect(bad.stdout).toContain(
      'warning: entry 1 (SYNTHETICDLC0001): offset 0x810 is not on a RIF boundary',
    );
    expect(bad.stdout).toContain(
      'warning: RIF at 0x800 (EP0001-CUSA09999_00-SYNTHETICDLC0001) has no index entry',
    );

    expect(alone.stdout).toContain('not cross-checked: give its RIFA file too');
    expect(fake.stdout).toContain('Debug ("fake")');
    expect(fake.stdout).toContain('note: secret IV = SHA-256(content id)[0..16], the debug fPKG pattern');
    expect(fake.stdout).toContain('warning: Debug ("fake") license carries account id 0x1122334455667788');
  });

  it('--json gives machine-readable output', async () => {
    const r = await rptui('rif', fx('kds-container.rif'), fx('kds-container.idx'), '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.files[0].rifa.entries[0].rif).toMatchObject({
      contentId: 'EP0001-CUSA09999_00-SYNTHETICGAME001',
      typeName: 'KDS (NPDRM)',
      accountId: String(0xabcdef0102347891n),
      endTimestamp: '9223372036854775807',
    });
    expect(j.files[1].crossCheck).toEqual({ rifa: 'test/fixtures/rif/kds-container.rif', warnings: [] });
    expect(j.errors).toEqual([]);
  });

  it('--json carries the validity as dates beside the raw timestamps, like the text', async () => {
    const [kds, free, fake] = await Promise.all([
      rptui('rif', fx('kds-container.rif'), '--json'),
      rptui('rif', fx('playroom-free.rif'), '--json'),
      rptui('rif', fx('debug-fake.rif'), '--json'),
    ]);
    const validity = (rif: Record<string, unknown>) => ({
      startTimestamp: rif.startTimestamp,
      startDate: rif.startDate,
      endTimestamp: rif.endTimestamp,
      endDate: rif.endDate,
    });
    const [game, dlc] = JSON.parse(kds.stdout).files[0].rifa.entries.map(
      (e: { rif: Record<string, unknown> }) => e.rif,
    );
    // the raw numbers stay (decimal strings: 64-bit), the dates sit next to them
    expect(Object.keys(game).slice(3, 7)).toEqual(['startTimestamp', 'startDate', 'endTimestamp', 'endDate']);
    expect(validity(game)).toEqual({
      startTimestamp: String(0x675764b3),
      startDate: '2024-12-09T21:44:19Z',
      endTimestamp: '9223372036854775807',
      endDate: 'never',
    });
    expect(validity(dlc)).toEqual({
      startTimestamp: String(0x675764b3),
      startDate: '2024-12-09T21:44:19Z',
      endTimestamp: '1798761600',
      endDate: '2027-01-01T00:00:00Z',
    });
    expect(validity(JSON.parse(free.stdout).files[0].rif)).toEqual({
      startTimestamp: String(0x52856400),
      startDate: '2013-11-15T00:00:00Z',
      endTimestamp: '9223372036854775807',
      endDate: 'never',
    });
    // a start of 0 is "always", as the text output says
    expect(validity(JSON.parse(fake.stdout).files[0].rif)).toEqual({
      startTimestamp: '0',
      startDate: 'always',
      endTimestamp: '9223372036854775807',
      endDate: 'never',
    });
  });

  it('fails with a message on a file that is not a license, a truncated one, or a missing one', async () => {
    const dir = h.tempDir('rptui-rif-');
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, 'hello world');
    const short = join(dir, 'short.rif');
    writeFileSync(short, readFileSync(join(fixtureDir, 'playroom-free.rif')).subarray(0, 0x200));
    const [notLicense, truncated, missing, none] = await Promise.all([
      rptui('rif', junk),
      rptui('rif', fx('playroom-free.rif'), short),
      rptui('rif', join(dir, 'does-not-exist.rif')),
      rptui('rif'),
    ]);
    expect(notLicense.code).toBe(1);
    expect(notLicense.stderr).toMatch(/not a license file \(magic 68656c6c\)/);
    expect(notLicense.stderr).toMatch(/hint: expected "RIF\\0"/);
    expect(truncated.code).toBe(1);
    expect(truncated.stdout).toContain('PLAYROOM00000000'); // the readable file is still listed
    expect(truncated.stderr).toMatch(/truncated: a RIF is 0x400 bytes, 512 available/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read/);
    expect(none.code).toBe(2);
  });
});
