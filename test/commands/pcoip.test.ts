// Runs ./bin/rptui pcoip as child processes on the committed fixtures (vitest's global setup rebuilds
// dist/ first), and checks that the fixtures are what test/proto-stack/pcoip/fixtures.ts builds. Independent
// runs go in parallel: each costs a node start-up.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/proto-stack/bytes.js';
import { runStateless as rptui } from '../helpers/cli.js';
import { DATA_KEY_HEX, FIXTURES, fixtureDir } from '../proto-stack/pcoip/fixtures.js';

const fx = (name: string) => `@${join('test', 'fixtures', 'pcoip', name)}`;

describe('PCoIP fixtures', () => {
  it('are exactly what the builder makes', () => {
    for (const [name, build] of Object.entries(FIXTURES))
      expect(toHex(readFileSync(join(fixtureDir, name))), name).toBe(toHex(build()));
  });
});

describe('rptui pcoip decode --mgmt', () => {
  it('prints every chunk of a file', async () => {
    const r = await rptui('pcoip', 'decode', '--mgmt', fx('invite.mgmt'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('MGMT message 1: 240 bytes, 17 chunks, purpose Invite (0)');
    expect(r.stdout).toMatch(/psec\s+Security type\s+Salsa20-256-round12 \(3\)/);
    expect(r.stdout).toMatch(new RegExp(`s12k\\s+Salsa20-256-round12 key\\s+${DATA_KEY_HEX}`));
    expect(r.stdout).toMatch(/s12t\s+Salsa20-256-round12 SPI\s+0x00001234/);
    expect(r.stdout).toMatch(/menc\s+Media encoding\s+PCM 16-bit LE 48000 Hz stereo \(4\)/);
    expect(r.stdout).toMatch(/zzzz\s+\(unknown chunk\)\s+4 bytes: 01020304/);
  });

  it('reads hex (spaces allowed), several messages, and --json; fails on a chunk past the end', async () => {
    const hex = `${toHex(readFileSync(join(fixtureDir, 'bye.mgmt')))} 0000000000000000`;
    const [text, json, bad] = await Promise.all([
      rptui('pcoip', 'decode', '--mgmt', hex),
      rptui('pcoip', 'decode', '--mgmt', fx('bye.mgmt'), '--json'),
      rptui('pcoip', 'decode', '--mgmt', '000000000000000c73736967ffffffff00000000'),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('MGMT message 1: 32 bytes, 2 chunks, purpose Bye (4)');
    expect(text.stdout).toContain('MGMT message 2: 8 bytes, 0 chunks, purpose no ssig');
    expect(text.stdout).toContain('warning: message has no chunks');
    expect(JSON.parse(json.stdout).messages[0].chunks[1]).toMatchObject({
      tag: 'byec',
      name: 'Bye reason',
      data: '00000000',
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /pcoip-mgmt: chunk "ssig" at offset 8 says 4294967295 bytes but only 4 are left/,
    );
  });
});

describe('rptui pcoip decode --data', () => {
  it('decrypts the Salsa20/12 fixture and prints the message', async () => {
    const [text, json] = await Promise.all([
      rptui('pcoip', 'decode', '--data', fx('audio-salsa.pkt'), '--key', DATA_KEY_HEX),
      rptui('pcoip', 'decode', '--data', fx('audio-salsa.pkt'), '--key', DATA_KEY_HEX, '--json'),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(
      'Salsa20/12 packet: spi 0x00001234, serial 0, iv a1a2a3a4a5a6a7a8, trailer ok',
    );
    expect(text.stdout).toContain('data message: type 12 HDA (audio channel), serial_no 7, unknown 000000');
    expect(text.stdout).toContain('body (12 bytes): 0102030405060708090a0b0c');
    expect(JSON.parse(json.stdout).message).toMatchObject({
      type: 12,
      typeName: 'HDA',
      serialNo: 7,
      body: '0102030405060708090a0b0c',
    });
  });

  it('fails clearly on a wrong key, AES, bad hex and missing options', async () => {
    const pkt = fx('audio-salsa.pkt');
    const [wrongKey, aes, badHex, noKey, nothing, both, noFile] = await Promise.all([
      rptui('pcoip', 'decode', '--data', pkt, '--key', 'ff'.repeat(32)),
      rptui('pcoip', 'decode', '--data', pkt, '--key', DATA_KEY_HEX, '--cipher', 'aes128'),
      rptui('pcoip', 'decode', '--data', 'xyz', '--key', DATA_KEY_HEX),
      rptui('pcoip', 'decode', '--data', pkt),
      rptui('pcoip', 'decode'),
      rptui('pcoip', 'decode', '--mgmt', '00', '--data', '00'),
      rptui('pcoip', 'decode', '--data', '@no/such/file', '--key', DATA_KEY_HEX),
    ]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/trailer is [0-9a-f]{8}, not deadbeef/);
    expect(wrongKey.stderr).toMatch(/hint: the key is wrong/);
    expect(aes.code).toBe(1);
    expect(aes.stderr).toMatch(/AES-128 encapsulation is undocumented/);
    expect(badHex.code).toBe(2);
    expect(badHex.stderr).toMatch(/--data is not hex/);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/--data needs --key/);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/exactly one of --mgmt or --data/);
    expect(both.code).toBe(2);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toMatch(/cannot read/);
  });
});

describe('rptui pcoip token', () => {
  it('splits an SCS1 token and a plain one', async () => {
    const mask = Buffer.alloc(32, 7).toString('base64');
    const [scs1, plain] = await Promise.all([
      rptui('pcoip', 'token', `SCS1${mask}${mask}TAG-0123456789`),
      rptui('pcoip', 'token', 'plain'),
    ]);
    expect(scs1.code).toBe(0);
    expect(scs1.stdout).toContain(`server key mask: ${'07'.repeat(32)}`);
    expect(scs1.stdout).toContain('connection tag:  TAG-0123456789');
    expect(plain.stdout).toContain('plain token: keys are exchanged verbatim');
  });
});
