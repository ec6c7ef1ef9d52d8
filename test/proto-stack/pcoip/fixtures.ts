// Builds the synthetic PCoIP fixtures in test/fixtures/pcoip from the document's tables. Nothing
// here is a capture: keys, addresses and tags are made up. Regenerate with
//   npx tsx test/proto-stack/pcoip/fixtures.ts
// fixtures.test.ts checks that the committed files equal what this builds.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromHex } from '../../../src/proto-stack/bytes.js';
import {
  encapsulateSalsa,
  encodeDataMessage,
  encodeMgmt,
  MEDIA_TYPE,
  mgmtChunk,
} from '../../../src/proto-stack/pcoip/index.js';

export const DATA_KEY_HEX = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
export const DATA_IV_HEX = 'a1a2a3a4a5a6a7a8';

/** An Invite: security, Salsa20/12 key material, connection, transport, one Audio media section,
 * and one chunk the document does not know ("zzzz"), which must survive a re-encode. */
export function inviteMgmt(): Uint8Array {
  return encodeMgmt([
    mgmtChunk('ssig', 0),
    mgmtChunk('psec', 3),
    mgmtChunk('s12k', DATA_KEY_HEX),
    mgmtChunk('s12s', 'cafef00d'),
    mgmtChunk('s12t', 0x1234),
    mgmtChunk('cipa', '192.0.2.10'),
    mgmtChunk('cprt', 4172),
    mgmtChunk('ctag', 'SYNTHETICTAG'),
    mgmtChunk('penc', [1]),
    mgmtChunk('pcap', [1]),
    mgmtChunk('pclr', true),
    mgmtChunk('psak', false),
    mgmtChunk('pmtu', 1300),
    mgmtChunk('mtyp', MEDIA_TYPE.audio),
    mgmtChunk('menc', 4),
    mgmtChunk('audi', true),
    { tag: 'zzzz', data: fromHex('01020304') },
  ]);
}

/** A Bye with its reason. */
export function byeMgmt(): Uint8Array {
  return encodeMgmt([mgmtChunk('ssig', 4), mgmtChunk('byec', 0)]);
}

/** An HDA (audio) data message, Salsa20/12-encapsulated with DATA_KEY_HEX. */
export function audioPacket(): Uint8Array {
  const message = encodeDataMessage({
    type: 12,
    unknown: fromHex('000000'),
    serialNo: 7,
    body: fromHex('0102030405060708090a0b0c'),
  });
  return encapsulateSalsa(message, {
    key: fromHex(DATA_KEY_HEX),
    spi: 0x1234,
    serial: 0,
    iv: fromHex(DATA_IV_HEX),
  });
}

export const FIXTURES: Record<string, () => Uint8Array> = {
  'invite.mgmt': inviteMgmt,
  'bye.mgmt': byeMgmt,
  'audio-salsa.pkt': audioPacket,
};

export const fixtureDir = fileURLToPath(new URL('../../fixtures/pcoip/', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, build] of Object.entries(FIXTURES)) writeFileSync(join(fixtureDir, name), build());
}
