/**
 * PCoIP key-exchange obfuscation. The VMware View token ("reservation_vcs_tag") either carries two
 * XOR masks for the keys exchanged over MGMT (an "SCS1" token of at least 104 characters) or is used
 * verbatim as the connection tag (the `ctag` chunk).
 *
 * Layout (the document's character ranges are inclusive): "SCS1", 44 base64 characters of the
 * server key mask (token[4..47]), 44 of the client key mask (token[48..91]), then the connection tag.
 * 44 base64 characters hold 32 bytes, the size of the largest key (s12k / 2key).
 */

import { fromBase64, toBase64 } from '../bytes.js';
import { ParseError } from '../errors.js';

const LAYER = 'pcoip-scs1';
const MIN_LENGTH = 104;

export interface PcoipToken {
  obfuscated: boolean;
  /** XOR mask for keys the server sends (SCS1 tokens only) */
  serverKeyXor?: Uint8Array;
  /** XOR mask for keys the client sends (SCS1 tokens only) */
  clientKeyXor?: Uint8Array;
  /** the connection tag exchanged in the ctag chunk */
  connectionTag: string;
  warnings: string[];
}

function mask(token: string, from: number, to: number, which: string, warnings: string[]): Uint8Array {
  const part = token.slice(from, to + 1);
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(part, LAYER);
  } catch {
    throw new ParseError(LAYER, `${which} key mask (token characters ${from}..${to}) is not base64: ${part}`);
  }
  if (bytes.length !== 32) warnings.push(`${which} key mask decodes to ${bytes.length} bytes, expected 32`);
  return bytes;
}

/** Splits a PCoIP token into its key masks and connection tag. */
export function parsePcoipToken(token: string): PcoipToken {
  const warnings: string[] = [];
  if (!token.startsWith('SCS1') || token.length < MIN_LENGTH) {
    if (token.startsWith('SCS1'))
      warnings.push(
        `token starts with SCS1 but is ${token.length} characters (< ${MIN_LENGTH}); used verbatim as the document says`,
      );
    return { obfuscated: false, connectionTag: token, warnings };
  }
  return {
    obfuscated: true,
    serverKeyXor: mask(token, 4, 47, 'server', warnings),
    clientKeyXor: mask(token, 48, 91, 'client', warnings),
    connectionTag: token.slice(92),
    warnings,
  };
}

/**
 * Removes (or applies: XOR is its own inverse) the obfuscation of a key from a MGMT key chunk.
 * The mask's first key.length bytes are used, so a 16-byte AES-128 key takes half a 32-byte mask.
 */
export function xorKey(key: Uint8Array, keyMask: Uint8Array): Uint8Array {
  if (key.length > keyMask.length)
    throw new ParseError(LAYER, `key is ${key.length} bytes but the mask only ${keyMask.length}`);
  return key.map((b, i) => b ^ keyMask[i]);
}

/** Builds an SCS1 token from two 32-byte masks and a connection tag (the inverse of parsePcoipToken). */
export function makeScs1Token(
  serverKeyXor: Uint8Array,
  clientKeyXor: Uint8Array,
  connectionTag: string,
): string {
  if (serverKeyXor.length !== 32 || clientKeyXor.length !== 32)
    throw new ParseError(LAYER, 'SCS1 key masks must be 32 bytes each');
  const token = `SCS1${toBase64(serverKeyXor)}${toBase64(clientKeyXor)}${connectionTag}`;
  if (token.length < MIN_LENGTH)
    throw new ParseError(
      LAYER,
      `connection tag must be at least ${MIN_LENGTH - 92} characters for an SCS1 token`,
    );
  return token;
}
