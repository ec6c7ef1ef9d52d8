// Runs ./bin/rptui rif as a child process on the committed fixtures (vitest's global setup rebuilds
// dist/ first), and checks that the fixtures are what test/rif/fixtures.ts builds.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/proto-stack/bytes.js';
import { repoRoot } from '../helpers/vectors.js';
import { FIXTURES, fixtureDir } from './fixtures.js';

const rptui = (...args: string[]) => {
  const r = spawnSync(join(repoRoot, 'bin', 'rptui'), args, {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const fx = (name: string) => join('test', 'fixtures', 'rif', name);

describe('license fixtures', () => {
  it('are exactly what the builder makes', () => {
    for (const [name, build] of Object.entries(FIXTURES))
      expect(toHex(readFileSync(join(fixtureDir, name))), name).toBe(toHex(build()));
  });
});

describe('rptui rif', () => {
  it('prints a table row for a free RIF', () => {
    const r = rptui('rif', fx('playroom-free.rif'));
    expect(r.code).toBe(0);
    expect(r.out).toContain('playroom-free.rif: RIF, version 1, PS4GD');
    expect(r.out).toMatch(/CONTENT ID\s+TYPE\s+SKU\s+VALIDITY\s+ACCOUNT\s+FLAGS/);
    expect(r.out).toMatch(
      /IP9100-CUSA00001_00-PLAYROOM00000000\s+Isolated \("free"\)\s+full game\s+2013-11-15T00:00:00Z \.\. never expires\s+none\s+extra=0x00000000 unknown=0x00040000/,
    );
    expect(r.out).not.toContain('warning');
  });

  it('reads a RIFA and cross-checks its index', () => {
    const r = rptui('rif', fx('kds-container.rif'), fx('kds-container.idx'));
    expect(r.code).toBe(0);
    expect(r.out).toContain('RIFA for service EP0001-CUSA09999_00, 2 RIFs');
    expect(r.out).toMatch(
      /SYNTHETICDLC0001\s+KDS \(NPDRM\)\s+not bootable\s+2024-12-09T21:44:19Z \.\. 2027-01-01T00:00:00Z\s+0xabcdef0102347891/,
    );
    expect(r.out).toContain(
      'cross-checked with test/fixtures/rif/kds-container.rif: offsets, sizes and labels match',
    );
  });

  it('lists each mismatch of a bad index as a warning, still exit 0', () => {
    const r = rptui('rif', fx('kds-container-bad.idx'), fx('kds-container.rif'));
    expect(r.code).toBe(0);
    expect(r.out).toContain('4 mismatches');
    expect(r.out).toContain('warning: entry 0 (SYNTHETICGAME002): label does not match');
    expect(r.out).toContain('warning: entry 1 (SYNTHETICDLC0001): offset 0x810 is not on a RIF boundary');
    expect(r.out).toContain(
      'warning: RIF at 0x800 (EP0001-CUSA09999_00-SYNTHETICDLC0001) has no index entry',
    );
  });

  it('says when an index was not cross-checked, and flags a fake RIF', () => {
    expect(rptui('rif', fx('kds-container.idx')).out).toContain('not cross-checked: give its RIFA file too');
    const r = rptui('rif', fx('debug-fake.rif'));
    expect(r.out).toContain('Debug ("fake")');
    expect(r.out).toContain('note: secret IV = SHA-256(content id)[0..16], the debug fPKG pattern');
    expect(r.out).toContain('warning: Debug ("fake") license carries account id 0x1122334455667788');
  });

  it('--json gives machine-readable output', () => {
    const r = rptui('rif', fx('kds-container.rif'), fx('kds-container.idx'), '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.files[0].rifa.entries[0].rif).toMatchObject({
      contentId: 'EP0001-CUSA09999_00-SYNTHETICGAME001',
      typeName: 'KDS (NPDRM)',
      accountId: String(0xabcdef0102347891n),
      endTimestamp: '9223372036854775807',
    });
    expect(j.files[1].crossCheck).toEqual({ rifa: 'test/fixtures/rif/kds-container.rif', warnings: [] });
    expect(j.errors).toEqual([]);
  });

  it('fails with a message on a file that is not a license, a truncated one, or a missing one', () => {
    const dir = tmpdir();
    const junk = join(dir, `rptui-rif-junk-${process.pid}.bin`);
    writeFileSync(junk, 'hello world');
    const short = join(dir, `rptui-rif-short-${process.pid}.rif`);
    writeFileSync(short, readFileSync(join(fixtureDir, 'playroom-free.rif')).subarray(0, 0x200));
    let r = rptui('rif', junk);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not a license file \(magic 68656c6c\)/);
    expect(r.err).toMatch(/hint: expected "RIF\\0"/);
    r = rptui('rif', fx('playroom-free.rif'), short);
    expect(r.code).toBe(1);
    expect(r.out).toContain('PLAYROOM00000000');
    expect(r.err).toMatch(/truncated: a RIF is 0x400 bytes, 512 available/);
    r = rptui('rif', join(dir, 'does-not-exist.rif'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot read/);
    expect(rptui('rif').code).not.toBe(0);
  });
});
