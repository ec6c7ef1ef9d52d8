/**
 * ECDH on secp256k1 for the stream session (docs/protocol.md §5): a fresh key pair per stream, the
 * public key (65 bytes, uncompressed) is signed with HMAC-SHA256(handshake_key, public key) and
 * the shared secret is the 32-byte X coordinate of the shared point.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { AuthError, ParseError, UsageError } from './errors.js';

export const ECDH_PUBLIC_KEY_SIZE = 65;
export const ECDH_SECRET_SIZE = 32;

function hmacSig(handshakeKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', handshakeKey).update(publicKey).digest());
}

export class Ecdh {
  readonly publicKey: Uint8Array;
  private readonly privateKey: Uint8Array;

  private constructor(privateKey: Uint8Array) {
    this.privateKey = privateKey;
    this.publicKey = secp256k1.getPublicKey(privateKey, false);
  }

  static generate(): Ecdh {
    return new Ecdh(secp256k1.utils.randomSecretKey());
  }

  static fromPrivateKey(k: Uint8Array): Ecdh {
    if (k.length !== 32 || !secp256k1.utils.isValidSecretKey(k))
      throw new UsageError('ecdh: private key must be 32 bytes and a valid secp256k1 scalar');
    return new Ecdh(k.slice());
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
      shared = secp256k1.getSharedSecret(this.privateKey, peerPub, true);
    } catch (e) {
      throw new ParseError('ecdh', 'peer public key is not a point on secp256k1', { cause: e });
    }
    return shared.slice(1, 1 + ECDH_SECRET_SIZE);
  }
}
