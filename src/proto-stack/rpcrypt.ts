/**
 * rpcrypt: the session-level crypto of Remote Play (docs/protocol.md §3.1). It encrypts the registration
 * payload and answer (§2), the ctrl request headers and messages (§3.3, §3.4) and the launch spec.
 *
 * A context is a 16-byte AES key ("bright") and a 16-byte IV seed ("ambassador"). Every message
 * is its own AES-128-CFB128 stream whose IV is HMAC-SHA256(hmac key of the target, ambassador ||
 * counter as u64 BE), truncated to 16 bytes.
 */
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { ByteWriter, concatBytes } from './bytes.js';
import { UsageError } from './errors.js';
import {
  ECHO_A_PS4_PRE10,
  ECHO_B_PS4_PRE10,
  HMAC_KEY_PS4,
  HMAC_KEY_PS4_PRE10,
  HMAC_KEY_PS5,
  REGIST_AES_KEY_PS4_PRE10,
  REGIST_KEYS_0_PS4,
  REGIST_KEYS_0_PS5,
  REGIST_KEYS_1_PS4,
  REGIST_KEYS_1_PS5,
  SESSION_KEYS_A_PS4,
  SESSION_KEYS_A_PS5,
  SESSION_KEYS_B_PS4,
  SESSION_KEYS_B_PS5,
} from './rpcrypt-tables.js';
import { isPre10, isPs5, type Target } from './target.js';

export const RPCRYPT_KEY_SIZE = 16;

/** The IV HMAC key by target. PS5 of unknown firmware (1000000) uses the PS4 key, as the reference does. */
function hmacKey(target: Target): Uint8Array {
  if (isPre10(target)) return HMAC_KEY_PS4_PRE10;
  return target === 1000100 ? HMAC_KEY_PS5 : HMAC_KEY_PS4;
}

function need16(what: string, b: Uint8Array): void {
  if (b.length !== RPCRYPT_KEY_SIZE)
    throw new UsageError(`rpcrypt: ${what} must be ${RPCRYPT_KEY_SIZE} bytes, got ${b.length}`);
}

function counterBig(counter: bigint | number): bigint {
  const c = BigInt(counter);
  if (c < 0n || c > 0xffffffffffffffffn) throw new UsageError(`rpcrypt: counter ${c} out of u64 range`);
  return c;
}

export class RpCrypt {
  readonly target: Target;
  readonly bright: Uint8Array;
  readonly ambassador: Uint8Array;
  private readonly hmacKey: Uint8Array;

  constructor(target: Target, bright: Uint8Array, ambassador: Uint8Array) {
    need16('bright', bright);
    need16('ambassador', ambassador);
    this.target = target;
    this.bright = Uint8Array.from(bright);
    this.ambassador = Uint8Array.from(ambassador);
    this.hmacKey = hmacKey(target);
  }

  /** Session context from the console's RP-Nonce and the RP-Key stored at registration. */
  static forSession(target: Target, nonce: Uint8Array, morning: Uint8Array): RpCrypt {
    need16('nonce', nonce);
    need16('morning', morning);
    const bright = new Uint8Array(16);
    const ambassador = new Uint8Array(16);
    if (isPre10(target)) {
      for (let i = 0; i < 16; i++) {
        ambassador[i] = ((nonce[i] - i - 0x27) & 0xff) ^ ECHO_A_PS4_PRE10[i];
        bright[i] = ((morning[i] - i + 0x34) & 0xff) ^ ECHO_B_PS4_PRE10[i] ^ nonce[i];
      }
    } else if (isPs5(target)) {
      const a = (nonce[0] >> 3) * 0x70;
      const b = (nonce[7] >> 3) * 0x70;
      for (let i = 0; i < 16; i++) {
        ambassador[i] = ((nonce[i] - 0x2d - i) & 0xff) ^ SESSION_KEYS_A_PS5[a + i];
        bright[i] = ((morning[i] + 0x18 + i) & 0xff) ^ nonce[i] ^ SESSION_KEYS_B_PS5[b + i];
      }
    } else {
      const a = (nonce[0] >> 3) * 0x70;
      const b = (nonce[7] >> 3) * 0x70;
      for (let i = 0; i < 16; i++) {
        ambassador[i] = ((nonce[i] + 0x36 + i) & 0xff) ^ SESSION_KEYS_A_PS4[a + i];
        bright[i] = (((SESSION_KEYS_B_PS4[b + i] ^ morning[i]) + 0x21 + i) & 0xff) ^ nonce[i];
      }
    }
    return new RpCrypt(target, bright, ambassador);
  }

  /** Registration context: the PIN-derived key and the client's random ambassador (docs/protocol.md §2). */
  static forRegist(target: Target, ambassador: Uint8Array, key0Off: number, pin: number): RpCrypt {
    return new RpCrypt(target, registBright(target, key0Off, pin), ambassador);
  }

  iv(counter: bigint | number): Uint8Array {
    const msg = new ByteWriter(24).bytes(this.ambassador).u64(counterBig(counter)).finish();
    const mac = createHmac('sha256', this.hmacKey).update(msg).digest();
    return new Uint8Array(mac.buffer, mac.byteOffset, 16).slice();
  }

  encrypt(counter: bigint | number, data: Uint8Array): Uint8Array {
    const c = createCipheriv('aes-128-cfb', this.bright, this.iv(counter));
    return concatBytes(c.update(data), c.final());
  }

  decrypt(counter: bigint | number, data: Uint8Array): Uint8Array {
    const d = createDecipheriv('aes-128-cfb', this.bright, this.iv(counter));
    return concatBytes(d.update(data), d.final());
  }
}

function checkPin(pin: number): void {
  if (!Number.isInteger(pin) || pin < 0 || pin > 99_999_999)
    throw new UsageError(`the PIN must be a number of at most 8 digits, got ${pin}`);
}

function checkOff(what: string, off: number): void {
  if (!Number.isInteger(off) || off < 0 || off > 0x1f)
    throw new UsageError(`rpcrypt: ${what} must be 0..31, got ${off}`);
}

/**
 * Registration AES key ("bright") from the PIN. PS4 >= 8 and PS5 read a column of their table at
 * key0Off and mix the PIN (u32 BE) into bytes 12..15; older PS4 firmware mixes it into bytes 0..3
 * of a fixed key and ignores key0Off.
 */
export function registBright(target: Target, key0Off: number, pin: number): Uint8Array {
  checkPin(pin);
  const p = [(pin >>> 24) & 0xff, (pin >>> 16) & 0xff, (pin >>> 8) & 0xff, pin & 0xff];
  if (isPre10(target)) {
    const key = Uint8Array.from(REGIST_AES_KEY_PS4_PRE10);
    for (let i = 0; i < 4; i++) key[i] ^= p[i];
    return key;
  }
  checkOff('key_0_off', key0Off);
  const table = isPs5(target) ? REGIST_KEYS_0_PS5 : REGIST_KEYS_0_PS4;
  const key = new Uint8Array(16);
  for (let i = 0; i < 16; i++) key[i] = table[i * 0x20 + key0Off];
  for (let i = 0; i < 4; i++) key[12 + i] ^= p[i];
  return key;
}

/**
 * The obfuscated ambassador that travels inside the registration payload. For old PS4 firmware
 * key1Off is ignored (a fixed mask is used instead of the table).
 */
export function aeropause(target: Target, ambassador: Uint8Array, key1Off: number): Uint8Array {
  need16('ambassador', ambassador);
  const out = new Uint8Array(16);
  if (isPre10(target)) {
    for (let i = 0; i < 16; i++) out[i] = ((ambassador[i] - i - 0x29) & 0xff) ^ ECHO_B_PS4_PRE10[i];
    return out;
  }
  checkOff('key_1_off', key1Off);
  const ps5 = isPs5(target);
  const table = ps5 ? REGIST_KEYS_1_PS5 : REGIST_KEYS_1_PS4;
  const c = ps5 ? -0x2d : 0x29;
  for (let i = 0; i < 16; i++) out[i] = ((ambassador[i] ^ table[i * 0x20 + key1Off]) + c + i) & 0xff;
  return out;
}

/** Inverse of aeropause(): what the console does to recover the client's ambassador. */
export function ambassadorFromAeropause(target: Target, aero: Uint8Array, key1Off: number): Uint8Array {
  need16('aeropause', aero);
  const out = new Uint8Array(16);
  if (isPre10(target)) {
    for (let i = 0; i < 16; i++) out[i] = ((aero[i] ^ ECHO_B_PS4_PRE10[i]) + i + 0x29) & 0xff;
    return out;
  }
  checkOff('key_1_off', key1Off);
  const ps5 = isPs5(target);
  const table = ps5 ? REGIST_KEYS_1_PS5 : REGIST_KEYS_1_PS4;
  const c = ps5 ? -0x2d : 0x29;
  for (let i = 0; i < 16; i++) out[i] = ((aero[i] - c - i) & 0xff) ^ table[i * 0x20 + key1Off];
  return out;
}
