import { describe, expect, it } from 'vitest';
import { ascii, fromBase64, fromHex, toBase64, toHex } from '../../src/proto-stack/bytes.js';
import { UsageError } from '../../src/proto-stack/errors.js';
import { aeropause, ambassadorFromAeropause, RpCrypt, registBright } from '../../src/proto-stack/rpcrypt.js';
import * as tables from '../../src/proto-stack/rpcrypt-tables.js';
import type { Target } from '../../src/proto-stack/target.js';
import { loadVectors, vectorCase } from '../helpers/vectors.js';

const rpcrypt = loadVectors('rpcrypt');
const keyTables = loadVectors('rpcrypt_key_tables');
const generated = loadVectors('generated_chiaki');
const regist = loadVectors('regist');
const pyrp = loadVectors('pyrp_register');

describe('rpcrypt tables', () => {
  const byName: Record<string, Uint8Array> = {
    session_keys_a_ps4: tables.SESSION_KEYS_A_PS4,
    session_keys_a_ps5: tables.SESSION_KEYS_A_PS5,
    session_keys_b_ps4: tables.SESSION_KEYS_B_PS4,
    session_keys_b_ps5: tables.SESSION_KEYS_B_PS5,
    regist_keys_0_ps4: tables.REGIST_KEYS_0_PS4,
    regist_keys_0_ps5: tables.REGIST_KEYS_0_PS5,
    regist_keys_1_ps4: tables.REGIST_KEYS_1_PS4,
    regist_keys_1_ps5: tables.REGIST_KEYS_1_PS5,
    hmac_key_ps4: tables.HMAC_KEY_PS4,
    hmac_key_ps5: tables.HMAC_KEY_PS5,
    hmac_key_ps4_pre10: tables.HMAC_KEY_PS4_PRE10,
    echo_a_ps4_pre10: tables.ECHO_A_PS4_PRE10,
    echo_b_ps4_pre10: tables.ECHO_B_PS4_PRE10,
    regist_aes_key_ps4_pre10: tables.REGIST_AES_KEY_PS4_PRE10,
  };
  it('every transcribed table equals the vector file, with the stated length', () => {
    const all = { ...keyTables.tables, ...keyTables.constants } as Record<string, string>;
    expect(Object.keys(all).sort()).toEqual(Object.keys(byName).sort());
    for (const [name, hex] of Object.entries(all)) {
      expect(toHex(byName[name]), name).toBe(hex);
      expect(byName[name].length, name).toBe(keyTables.lengths[name]);
    }
  });
});

describe('rpcrypt.json', () => {
  for (const name of ['bright_ambassador_ps4_pre10', 'bright_ambassador_ps4_10']) {
    it(name, () => {
      const { inputs, expected } = vectorCase(rpcrypt, name);
      const c = RpCrypt.forSession(inputs.target, fromHex(inputs.nonce), fromHex(inputs.morning));
      expect(toHex(c.bright)).toBe(expected.bright);
      expect(toHex(c.ambassador)).toBe(expected.ambassador);
    });
  }

  it('iv_ps4_pre10', () => {
    const { inputs, expected } = vectorCase(rpcrypt, 'iv_ps4_pre10');
    const c = RpCrypt.forSession(inputs.target, fromHex(inputs.nonce), fromHex(inputs.morning));
    expect(toHex(c.iv(0))).toBe(expected.iv_counter_0);
    expect(toHex(c.iv(0x0102030405060708n))).toBe(expected.iv_counter_0x0102030405060708);
  });

  for (const name of ['iv_regist_ps4', 'iv_regist_ps5']) {
    it(name, () => {
      const { inputs, expected } = vectorCase(rpcrypt, name);
      const c = new RpCrypt(
        inputs.target,
        registBright(inputs.target, inputs.key_0_off, inputs.pin),
        fromHex(inputs.ambassador),
      );
      expect(toHex(c.iv(inputs.counter))).toBe(expected.iv);
    });
  }

  for (const name of ['bright_regist_ps4', 'bright_regist_ps5']) {
    it(name, () => {
      const { inputs, expected } = vectorCase(rpcrypt, name);
      expect(toHex(registBright(inputs.target, inputs.key_0_off, inputs.pin))).toBe(expected.bright);
    });
  }

  for (const name of ['encrypt_ps4_pre10', 'decrypt_ps4_pre10']) {
    it(name, () => {
      const { inputs, expected } = vectorCase(rpcrypt, name);
      const c = RpCrypt.forSession(inputs.target, fromHex(inputs.nonce), fromHex(inputs.morning));
      // The JSON number loses precision above 2^53; the case name says 0x0102030405060708.
      const counter = 0x0102030405060708n;
      expect(Number(counter)).toBe(inputs.counter);
      for (const sub of expected.cases) {
        const input = fromHex(sub.input);
        const out = inputs.direction === 'encrypt' ? c.encrypt(counter, input) : c.decrypt(counter, input);
        expect(toHex(out)).toBe(sub.output);
        expect(out.length).toBe(sub.length);
        // and back again
        const back = inputs.direction === 'encrypt' ? c.decrypt(counter, out) : c.encrypt(counter, out);
        expect(toHex(back)).toBe(sub.input);
      }
    });
  }
});

describe('generated_chiaki.json session keys and counter encryption', () => {
  for (const s of generated.session) {
    it(`target ${s.target} nonce ${s.nonce}`, () => {
      const c = RpCrypt.forSession(s.target, fromHex(s.nonce), fromHex(s.morning));
      expect(toHex(c.bright)).toBe(s.bright);
      expect(toHex(c.ambassador)).toBe(s.ambassador);
      // The ctrl header values are rpcrypt encryptions at local counters 0..4 (docs/protocol.md §3.3).
      expect(toBase64(c.encrypt(0, fromHex(s.regist_key_bytes)))).toBe(s['RP-Auth']);
      expect(toBase64(c.encrypt(1, fromHex(s.did)))).toBe(s['RP-Did']);
      expect(toBase64(c.encrypt(2, ascii('Win10.0.0\0')))).toBe(s['RP-OSType']);
      expect(toBase64(c.encrypt(3, new Uint8Array(4)))).toBe(s['RP-StartBitrate']);
      expect(toBase64(c.encrypt(4, Uint8Array.of(2, 0, 0, 0)))).toBe(s['RP-StreamingType_hevc_counter4']);
      expect(toHex(c.decrypt(0, fromBase64(s['RP-Auth'])))).toBe(s.regist_key_bytes);
    });
  }
});

describe('aeropause', () => {
  for (const a of generated.aeropause) {
    it(`generated target ${a.target} key_1_off ${a.key_1_off}`, () => {
      const amb = fromHex(a.ambassador);
      const aero = aeropause(a.target, amb, a.key_1_off);
      expect(toHex(aero)).toBe(a.aeropause);
      expect(toHex(ambassadorFromAeropause(a.target, aero, a.key_1_off))).toBe(a.ambassador);
    });
  }
  it('regist.json aeropause_ps4_pre10 and its inverse', () => {
    const { inputs, expected } = vectorCase(regist, 'aeropause_ps4_pre10');
    const aero = aeropause(900, fromHex(inputs.ambassador), 0);
    expect(toHex(aero)).toBe(expected.aeropause);
    expect(toHex(ambassadorFromAeropause(900, aero, 0))).toBe(inputs.ambassador);
  });
  it('pyrp_register.json key_1 (zero ambassador, offset 8)', () => {
    const { inputs, expected } = vectorCase(pyrp, 'key_1');
    expect(toHex(aeropause(1000, fromHex(inputs.nonce), inputs.key_1_off))).toBe(expected.key_1);
  });
  it('inverts for every offset and target', () => {
    const amb = Uint8Array.from({ length: 16 }, (_, i) => (i * 37 + 11) & 0xff);
    for (const t of [800, 900, 1000, 1000000, 1000100] as Target[])
      for (let off = 0; off < 32; off++)
        expect(toHex(ambassadorFromAeropause(t, aeropause(t, amb, off), off))).toBe(toHex(amb));
  });
});

describe('regist bright', () => {
  it('regist.json pin_bright_ps4_pre10', () => {
    const { inputs, expected } = vectorCase(regist, 'pin_bright_ps4_pre10');
    expect(toHex(registBright(900, 0, inputs.pin))).toBe(expected.bright);
    expect(toHex(registBright(800, 0, inputs.pin))).toBe(expected.bright);
  });
  it('pyrp_register.json key_0', () => {
    const { inputs, expected } = vectorCase(pyrp, 'key_0');
    expect(toHex(registBright(1000, inputs.key_0_off, inputs.pin))).toBe(expected.key_0);
  });
  it('pyrp_register.json encrypt_payload (CFB over the inner header at counter 0)', () => {
    const { inputs, expected } = vectorCase(pyrp, 'encrypt_payload');
    const c = new RpCrypt(1000, fromHex(inputs.key), fromHex(inputs.nonce));
    const out = c.encrypt(inputs.counter, ascii(inputs.plaintext_ascii));
    expect(toHex(out)).toBe(expected.ciphertext);
    expect(out.length).toBe(expected.length);
  });
  it('rejects a PIN that is not 8 digits and bad offsets with a UsageError', () => {
    expect(() => registBright(1000, 1, 123456789)).toThrow(UsageError);
    expect(() => registBright(1000, 1, -1)).toThrow(UsageError);
    expect(() => registBright(1000, 1, 1.5)).toThrow(UsageError);
    expect(() => registBright(1000, 32, 1)).toThrow(UsageError);
    expect(() => aeropause(1000, new Uint8Array(15), 1)).toThrow(UsageError);
  });
});

describe('RpCrypt', () => {
  it('uses the PS4 HMAC key for a PS5 of unknown firmware and the PS5 key for 1000100', () => {
    const amb = fromHex('3e7e7a825973adab2f694346bd44dab5');
    const key = new Uint8Array(16);
    const ps4 = toHex(new RpCrypt(1000, key, amb).iv(0));
    expect(toHex(new RpCrypt(1000000, key, amb).iv(0))).toBe(ps4);
    expect(toHex(new RpCrypt(1000100, key, amb).iv(0))).toBe(
      vectorCase(rpcrypt, 'iv_regist_ps5').expected.iv,
    );
  });
  it('accepts number and bigint counters alike and rejects out-of-range counters', () => {
    const c = new RpCrypt(1000, new Uint8Array(16), new Uint8Array(16));
    expect(toHex(c.iv(5))).toBe(toHex(c.iv(5n)));
    expect(toHex(c.iv(5))).not.toBe(toHex(c.iv(6)));
    expect(() => c.iv(-1)).toThrow(UsageError);
    expect(() => c.iv(1n << 64n)).toThrow(UsageError);
  });
  it('copies its key material (later changes to the caller buffers do not leak in)', () => {
    const key = new Uint8Array(16);
    const c = new RpCrypt(1000, key, new Uint8Array(16));
    const before = toHex(c.encrypt(0, new Uint8Array(16)));
    key[0] = 1;
    expect(toHex(c.encrypt(0, new Uint8Array(16)))).toBe(before);
  });
});
