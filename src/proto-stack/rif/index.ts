// PS4 license files from the project's seed document: RIF, RIFA container and RIDX index.
import { bytesEqual } from '../bytes.js';
import { RIDX_MAGIC } from './ridx.js';
import { RIF_MAGIC } from './rif.js';
import { RIFA_MAGIC } from './rifa.js';

export * from './ridx.js';
export * from './rif.js';
export * from './rifa.js';

export type LicenseKind = 'rif' | 'rifa' | 'ridx';

/** Tells the file kind from its first four bytes; undefined when none matches. */
export function detectLicenseKind(bytes: Uint8Array): LicenseKind | undefined {
  const head = bytes.subarray(0, 4);
  if (bytesEqual(head, RIF_MAGIC)) return 'rif';
  if (bytesEqual(head, RIFA_MAGIC)) return 'rifa';
  if (bytesEqual(head, RIDX_MAGIC)) return 'ridx';
  return undefined;
}
