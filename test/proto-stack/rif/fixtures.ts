// Builds the synthetic license fixtures in test/fixtures/rif from the document's layouts. Nothing
// here comes from a real console: ids, accounts and dates are made up, and the secret, IV and
// signature fields are SHA-256-derived filler (no real key material). Regenerate with
//   npx tsx test/proto-stack/rif/fixtures.ts
// fixtures.test.ts checks that the committed files equal what this builds.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ascii } from '../../../src/proto-stack/bytes.js';
import { encodeRidx, encodeRif, encodeRifa, NEVER_EXPIRES } from '../../../src/proto-stack/rif/index.js';

/** Deterministic filler bytes: SHA-256 chained over a label. */
export function filler(label: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let block = createHash('sha256').update(label).digest();
  for (let i = 0; i < n; i += 32) {
    out.set(block.subarray(0, Math.min(32, n - i)), i);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

const secrets = (label: string) => ({
  secretIv: filler(`${label}/iv`, 0x10),
  encryptedSecret: filler(`${label}/secret`, 0x90),
  signature: filler(`${label}/signature`, 0x100),
});

export const SERVICE = 'EP0001-CUSA09999_00';
export const GAME = `${SERVICE}-SYNTHETICGAME001`;
export const DLC = `${SERVICE}-SYNTHETICDLC0001`;
export const ACCOUNT = 0xabcdef0102347891n;

/** An isolated ("free") RIF, like the document's Playroom example. */
export function freeRif(): Uint8Array {
  return encodeRif({
    version: 1,
    unknown06: 0xffff,
    startTimestamp: 0x52856400n, // 2013-11-15, the document's example value
    endTimestamp: NEVER_EXPIRES,
    contentId: 'IP9100-CUSA00001_00-PLAYROOM00000000',
    type: 0x101,
    drmType: 0x0f,
    contentType: 0x1a,
    skuFlag: 3,
    unknownFlags: 0x00040000,
    unknown6B: 3,
    ...secrets('free'),
  });
}

/** A debug ("fake") RIF whose secret IV follows the fPKG pattern, carrying an account id it should
 * not have (so the inspector has something to warn about). */
export function fakeRif(): Uint8Array {
  const contentIdField = new Uint8Array(0x30);
  contentIdField.set(ascii('UP0001-CUSA00002_00-FAKEPKGSAMPLE001'));
  const iv = createHash('sha256').update(contentIdField).digest().subarray(0, 16);
  return encodeRif({
    version: 1,
    unknown06: 0xffff,
    accountId: 0x1122334455667788n,
    contentIdField,
    type: 0x200,
    contentType: 0x1a,
    skuFlag: 3,
    unknown64: 1,
    unknown6B: 1,
    ...secrets('fake'),
    secretIv: iv,
  });
}

function kds(contentId: string, contentType: number, sku: number, end: bigint): Uint8Array {
  return encodeRif({
    version: 1,
    unknown06: 0x0002,
    accountId: ACCOUNT,
    startTimestamp: 0x675764b3n, // the document's example value, 2024-12-09
    endTimestamp: end,
    contentId,
    type: 0x000,
    contentType,
    skuFlag: sku,
    unknown64: 1,
    unknown6B: 1,
    ...secrets(contentId),
  });
}

/** A RIFA with the game's KDS license and one add-on license that expires. */
export function kdsRifa(): Uint8Array {
  return encodeRifa(SERVICE, [
    kds(GAME, 0x1a, 3, NEVER_EXPIRES),
    kds(DLC, 0x1b, 0, 1798761600n), // 2027-01-01
  ]);
}

/** The matching index: entries point at 0x400 and 0x800. */
export function kdsIndex(): Uint8Array {
  return encodeRidx({
    serviceId: SERVICE,
    unknown1C: 1,
    entries: [
      { label: 'SYNTHETICGAME001', rifOffset: 0x400n, digest: filler('digest/game', 8) },
      { label: 'SYNTHETICDLC0001', rifOffset: 0x800n, digest: filler('digest/dlc', 8) },
    ],
  });
}

/** An index that does not fit the RIFA: a wrong label, a misaligned offset, a wrong size. */
export function kdsIndexBad(): Uint8Array {
  return encodeRidx({
    serviceId: SERVICE,
    entries: [
      { label: 'SYNTHETICGAME002', rifOffset: 0x400n, digest: filler('digest/game', 8) },
      { label: 'SYNTHETICDLC0001', rifOffset: 0x810n, rifSize: 0x3f0n, digest: filler('digest/dlc', 8) },
    ],
  });
}

export const FIXTURES: Record<string, () => Uint8Array> = {
  'playroom-free.rif': freeRif,
  'debug-fake.rif': fakeRif,
  'kds-container.rif': kdsRifa,
  'kds-container.idx': kdsIndex,
  'kds-container-bad.idx': kdsIndexBad,
};

export const fixtureDir = fileURLToPath(new URL('../../fixtures/rif/', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, build] of Object.entries(FIXTURES)) writeFileSync(join(fixtureDir, name), build());
}
