/**
 * ECDH on secp256k1 for the stream session (docs/protocol.md §5): a fresh key pair per stream, the
 * public key (65 bytes, uncompressed) is signed with HMAC-SHA256(handshake_key, public key) and
 * the shared secret is the 32-byte X coordinate of the shared point.
 *
 * node:crypto (OpenSSL) rather than @noble/curves: one key agreement per session needs no speed,
 * and @noble/curves' secp256k1 stays in memory for the whole session (`npm run bench -- live`:
 * RSS while streaming 75 -> 73 MiB with this change), against a goal of 70 MB on a Pi.
 * The tests check this against @noble/curves and the reference vectors.
 */
import { createECDH, createHmac, type ECDH, timingSafeEqual } from 'node:crypto';
import { AuthError, ParseError, UsageError } from './errors.js';

export const ECDH_PUBLIC_KEY_SIZE = 65;
export const ECDH_SECRET_SIZE = 32;

const CURVE = 'secp256k1';

function hmacSig(handshakeKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', handshakeKey).update(publicKey).digest());
}

export class Ecdh {
  readonly publicKey: Uint8Array;

  private constructor(private readonly key: ECDH) {
    this.publicKey = new Uint8Array(key.getPublicKey(null, 'uncompressed'));
  }

  static generate(): Ecdh {
    const key = createECDH(CURVE);
    key.generateKeys();
    return new Ecdh(key);
  }

  static fromPrivateKey(k: Uint8Array): Ecdh {
    const key = createECDH(CURVE);
    try {
      if (k.length !== 32) throw new Error('not 32 bytes');
      key.setPrivateKey(k); // refuses 0 and anything >= the group order
    } catch {
      throw new UsageError('ecdh: private key must be 32 bytes and a valid secp256k1 scalar');
    }
    return new Ecdh(key);
  }

  /** HMAC-SHA256 of our public key with the session's handshake key (sent in BIG / BANG). */
  sign(handshakeKey: Uint8Array): Uint8Array {
    return hmacSig(handshakeKey, this.publicKey);
  }

  /**
   * Checks the peer's signature over its public key, then returns the 32-byte shared secret.
   * A wrong signature means the peer does not hold our handshake key: AuthError.
   */
  sharedSecret(peerPub: Uint8Array, peerSig: Uint8Array, handshakeKey: Uint8Array): Uint8Array {
    const expected = hmacSig(handshakeKey, peerPub);
    if (peerSig.length !== expected.length || !timingSafeEqual(peerSig, expected)) {
      throw new AuthError('The peer ECDH public key signature does not match the handshake key', {
        hint: 'The stream session was not set up by this client (or was tampered with); reconnect.',
      });
    }
    if (peerPub.length !== ECDH_PUBLIC_KEY_SIZE || peerPub[0] !== 0x04)
      throw new ParseError(
        'ecdh',
        `peer public key must be 65 bytes starting with 04, got ${peerPub.length}`,
      );
    let shared: Uint8Array;
    try {
      shared = this.key.computeSecret(peerPub);
    } catch (e) {
      throw new ParseError('ecdh', 'peer public key is not a point on secp256k1', { cause: e });
    }
    if (shared.length !== ECDH_SECRET_SIZE) throw new ParseError('ecdh', 'shared secret is not 32 bytes');
    return new Uint8Array(shared);
  }
}
