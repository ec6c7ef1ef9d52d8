// Runs ./bin/rptui pcoip as a child process on the committed fixtures (vitest's global setup rebuilds
// dist/ first), and checks that the fixtures are what test/pcoip/fixtures.ts builds.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/proto-stack/bytes.js';
import { repoRoot } from '../helpers/vectors.js';
import { DATA_KEY_HEX, FIXTURES, fixtureDir } from './fixtures.js';

const rptui = (...args: string[]) => {
  const r = spawnSync(join(repoRoot, 'bin', 'rptui'), args, {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const fx = (name: string) => `@${join('test', 'fixtures', 'pcoip', name)}`;

describe('PCoIP fixtures', () => {
  it('are exactly what the builder makes', () => {
    for (const [name, build] of Object.entries(FIXTURES))
      expect(toHex(readFileSync(join(fixtureDir, name))), name).toBe(toHex(build()));
  });
});

describe('rptui pcoip decode --mgmt', () => {
  it('prints every chunk of a file', () => {
    const r = rptui('pcoip', 'decode', '--mgmt', fx('invite.mgmt'));
    expect(r.code).toBe(0);
    expect(r.out).toContain('MGMT message 1: 240 bytes, 17 chunks, purpose Invite (0)');
    expect(r.out).toMatch(/psec\s+Security type\s+Salsa20-256-round12 \(3\)/);
    expect(r.out).toMatch(new RegExp(`s12k\\s+Salsa20-256-round12 key\\s+${DATA_KEY_HEX}`));
    expect(r.out).toMatch(/s12t\s+Salsa20-256-round12 SPI\s+0x00001234/);
    expect(r.out).toMatch(/menc\s+Media encoding\s+PCM 16-bit LE 48000 Hz stereo \(4\)/);
    expect(r.out).toMatch(/zzzz\s+\(unknown chunk\)\s+4 bytes: 01020304/);
  });

  it('reads hex (spaces allowed), several messages, and --json', () => {
    const hex = `${toHex(readFileSync(join(fixtureDir, 'bye.mgmt')))} 0000000000000000`;
    const r = rptui('pcoip', 'decode', '--mgmt', hex);
    expect(r.code).toBe(0);
    expect(r.out).toContain('MGMT message 1: 32 bytes, 2 chunks, purpose Bye (4)');
    expect(r.out).toContain('MGMT message 2: 8 bytes, 0 chunks, purpose no ssig');
    expect(r.out).toContain('warning: message has no chunks');
    const j = JSON.parse(rptui('pcoip', 'decode', '--mgmt', fx('bye.mgmt'), '--json').out);
    expect(j.messages[0].chunks[1]).toMatchObject({ tag: 'byec', name: 'Bye reason', data: '00000000' });
  });

  it('a chunk size beyond the message fails with exit 1 and a message', () => {
    const r = rptui('pcoip', 'decode', '--mgmt', '000000000000000c73736967ffffffff00000000');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/pcoip-mgmt: chunk "ssig" at offset 8 says 4294967295 bytes but only 4 are left/);
  });
});

describe('rptui pcoip decode --data', () => {
  it('decrypts the Salsa20/12 fixture and prints the message', () => {
    const r = rptui('pcoip', 'decode', '--data', fx('audio-salsa.pkt'), '--key', DATA_KEY_HEX);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Salsa20/12 packet: spi 0x00001234, serial 0, iv a1a2a3a4a5a6a7a8, trailer ok');
    expect(r.out).toContain('data message: type 12 HDA (audio channel), serial_no 7, unknown 000000');
    expect(r.out).toContain('body (12 bytes): 0102030405060708090a0b0c');
    const j = JSON.parse(
      rptui('pcoip', 'decode', '--data', fx('audio-salsa.pkt'), '--key', DATA_KEY_HEX, '--json').out,
    );
    expect(j.message).toMatchObject({
      type: 12,
      typeName: 'HDA',
      serialNo: 7,
      body: '0102030405060708090a0b0c',
    });
  });

  it('fails clearly on a wrong key, AES, bad hex and missing options', () => {
    let r = rptui('pcoip', 'decode', '--data', fx('audio-salsa.pkt'), '--key', 'ff'.repeat(32));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/trailer is [0-9a-f]{8}, not deadbeef/);
    expect(r.err).toMatch(/hint: the key is wrong/);
    r = rptui(
      'pcoip',
      'decode',
      '--data',
      fx('audio-salsa.pkt'),
      '--key',
      DATA_KEY_HEX,
      '--cipher',
      'aes128',
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/AES-128 encapsulation is undocumented/);
    r = rptui('pcoip', 'decode', '--data', 'xyz', '--key', DATA_KEY_HEX);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--data is not hex/);
    expect(rptui('pcoip', 'decode', '--data', fx('audio-salsa.pkt')).err).toMatch(/--data needs --key/);
    expect(rptui('pcoip', 'decode').code).toBe(2);
    expect(rptui('pcoip', 'decode', '--mgmt', '00', '--data', '00').code).toBe(2);
    expect(rptui('pcoip', 'decode', '--data', '@no/such/file', '--key', DATA_KEY_HEX).err).toMatch(
      /cannot read/,
    );
  });
});

describe('rptui pcoip token', () => {
  it('splits an SCS1 token and a plain one', () => {
    const mask = Buffer.alloc(32, 7).toString('base64');
    const r = rptui('pcoip', 'token', `SCS1${mask}${mask}TAG-0123456789`);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`server key mask: ${'07'.repeat(32)}`);
    expect(r.out).toContain('connection tag:  TAG-0123456789');
    expect(rptui('pcoip', 'token', 'plain').out).toContain('plain token: keys are exchanged verbatim');
  });
});
