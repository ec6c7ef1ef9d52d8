import { describe, expect, it } from 'vitest';
import { ParseError } from '../../src/errors.js';
import { fromHex, toHex, view } from '../../src/proto-stack/bytes.js';
import { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import { KeyState } from '../../src/proto-stack/keystate.js';
import {
  A_RWND,
  applyGmac,
  dataChunk,
  dataContChunk,
  encodeControl,
  gmacOffset,
  keyPosOffset,
  parseControl,
  readKeyPosLow,
  TakionType,
  verifyGmac,
} from '../../src/proto-stack/takion.js';
import { loadVectors } from '../helpers/vectors.js';

const sp = loadVectors('pyrp_stream_packets');
const tk = loadVectors('takion');
const pyrpCrypt = loadVectors('pyrp_crypt');
// biome-ignore lint/suspicious/noExplicitAny: free-form vector JSON
const byName = (v: any, name: string) => v.cases.find((x: { name: string }) => x.name === name);

describe('takion codec (pyrp_stream_packets.json)', () => {
  it('INIT', () => {
    const c = byName(sp, 'init');
    const i = c.inputs;
    const p = encodeControl(
      { tag: i.tag_remote },
      {
        type: 'init',
        tag: i.tag,
        aRwnd: i.a_rwnd,
        outStreams: i.outbound_streams,
        inStreams: i.inbound_streams,
        initialTsn: i.initial_tsn,
      },
    );
    expect(toHex(p)).toBe(c.expected.packet);
    const back = parseControl(p);
    expect(back.tag).toBe(i.tag_remote);
    expect(back.chunk).toEqual({
      type: 'init',
      tag: i.tag,
      aRwnd: i.a_rwnd,
      outStreams: i.outbound_streams,
      inStreams: i.inbound_streams,
      initialTsn: i.initial_tsn,
    });
  });

  it('parse INIT_ACK (65 bytes) and re-encode it', () => {
    const c = byName(sp, 'parse_init_ack');
    const bytes = fromHex(c.inputs.packet);
    expect(bytes.length).toBe(65);
    const p = parseControl(bytes);
    const e = c.expected;
    expect(bytes[0] & 0xf).toBe(e.base_type);
    expect(bytes[13]).toBe(e.chunk_type);
    expect(p.chunk.type).toBe('initAck');
    if (p.chunk.type !== 'initAck') return;
    expect(p.chunk.tag).toBe(e.tag);
    expect(p.chunk.aRwnd).toBe(e.a_rwnd);
    expect(p.chunk.outStreams).toBe(e.outbound_streams);
    expect(p.chunk.inStreams).toBe(e.inbound_streams);
    expect(p.chunk.initialTsn).toBe(e.initial_tsn);
    expect(toHex(p.chunk.cookie)).toBe(e.cookie);
    expect(toHex(encodeControl({ tag: p.tag, keyPos: p.keyPos, gmac: p.gmac }, p.chunk))).toBe(
      c.inputs.packet,
    );
  });

  it('COOKIE', () => {
    const c = byName(sp, 'cookie');
    const p = encodeControl(
      { tag: c.inputs.tag_remote },
      { type: 'cookie', cookie: fromHex(c.inputs.cookie) },
    );
    expect(toHex(p)).toBe(c.expected.packet);
    expect(parseControl(p).chunk).toEqual({ type: 'cookie', cookie: fromHex(c.inputs.cookie) });
  });

  it('parse COOKIE_ACK', () => {
    const c = byName(sp, 'parse_cookie_ack');
    const bytes = fromHex(c.inputs.packet);
    const p = parseControl(bytes);
    expect(bytes[0] & 0xf).toBe(c.expected.base_type);
    expect(bytes[13]).toBe(c.expected.chunk_type);
    expect(p.chunk).toEqual({ type: 'cookieAck' });
    expect(toHex(encodeControl({ tag: p.tag }, p.chunk))).toBe(c.inputs.packet);
  });

  it('DATA_ACK build with explicit gmac, and parse', () => {
    const c = byName(sp, 'data_ack');
    const i = c.inputs;
    const gmac = new Uint8Array(4);
    view(gmac).setUint32(0, i.gmac);
    const p = encodeControl(
      { tag: i.tag_remote, gmac, keyPos: i.key_pos },
      {
        type: 'dataAck',
        cumulativeTsn: i.tsn,
        aRwnd: i.a_rwnd,
        gapAckBlocks: i.gap_ack_blocks,
        dupTsns: i.dup_tsns,
      },
    );
    expect(toHex(p)).toBe(c.expected.packet);

    const pc = byName(sp, 'parse_data_ack');
    const parsed = parseControl(fromHex(pc.inputs.packet));
    const e = pc.expected;
    expect(parsed.tag).toBe(e.tag);
    expect(view(parsed.gmac).getUint32(0)).toBe(e.gmac);
    expect(parsed.keyPos).toBe(e.key_pos);
    expect(parsed.chunk).toEqual({
      type: 'dataAck',
      cumulativeTsn: e.tsn,
      aRwnd: e.a_rwnd,
      gapAckBlocks: e.gap_ack_blocks_count,
      dupTsns: e.dup_tsns_count,
    });
  });

  it('DATA and continuation layouts (9- and 8-byte data headers)', () => {
    const data = Uint8Array.from([1, 2, 3]);
    const first = encodeControl({ tag: 7, flags: 0 }, dataChunk(100, 1, 0, data));
    expect(toHex(first)).toBe('0000000007000000000000000000000010000000640001000000010203');
    const cont = encodeControl({ tag: 7, flags: 1 }, dataContChunk(101, 1, data));
    expect(toHex(cont)).toBe('000000000700000000000000000001000f0000006500010000010203');
    const p = parseControl(cont);
    expect(p.flags).toBe(1);
    expect(p.chunk).toEqual({ type: 'data', tsn: 101, channel: 1, body: data });
  });

  it('rejects malformed control packets with ParseError', () => {
    const ok = encodeControl({ tag: 1 }, { type: 'cookieAck' });
    const bad: Uint8Array[] = [
      ok.subarray(0, 16),
      Uint8Array.from([...ok, 0]), // length disagrees with chunk_len
      (() => {
        const b = ok.slice();
        b[13] = 0x55; // unknown chunk type
        return b;
      })(),
      (() => {
        const b = ok.slice();
        b[0] = 2; // not control
        return b;
      })(),
      encodeControl({ tag: 1 }, dataChunk(1, 1, 0, new Uint8Array(0))).subarray(0, 17 + 4), // DATA shorter than header
    ];
    for (const b of bad) expect(() => parseControl(b), toHex(b)).toThrow(ParseError);
    const ack = encodeControl(
      { tag: 1 },
      { type: 'dataAck', cumulativeTsn: 1, aRwnd: A_RWND, gapAckBlocks: 1, dupTsns: 0 },
    );
    expect(() => parseControl(ack)).toThrow(/DATA_ACK/); // claims a gap block it does not carry
  });
});

describe('GMAC field rules', () => {
  it('offsets per base type (PROTOCOL §4 table)', () => {
    const table: [TakionType, number | undefined, number | undefined][] = [
      [TakionType.Control, 5, 9],
      [TakionType.FeedbackHistory, 8, 4],
      [TakionType.Video, 10, 14],
      [TakionType.Audio, 10, 14],
      [TakionType.Handshake, undefined, undefined],
      [TakionType.Congestion, 7, 11],
      [TakionType.FeedbackState, 8, 4],
      [TakionType.ClientInfo, undefined, undefined],
    ];
    for (const [t, g, k] of table) {
      expect(gmacOffset(t)).toBe(g);
      expect(keyPosOffset(t)).toBe(k);
    }
  });

  it('pyrp_crypt.json gmac_local_remote: applyGmac/verifyGmac on control packets', () => {
    const c = byName(pyrpCrypt, 'gmac_local_remote');
    const hk = fromHex(c.inputs.handshake_key);
    const secret = fromHex(c.inputs.secret);
    for (const t of c.expected.tags) {
      const crypt = new GkCrypt(t.cipher_index, hk, secret);
      const p = fromHex(t.data);
      applyGmac(p, crypt, t.key_pos);
      expect(toHex(p.subarray(5, 9))).toBe(t.gmac);
      expect(readKeyPosLow(p)).toBe(t.key_pos);
      expect(verifyGmac(p, crypt, t.key_pos)).toBe(true);
      p[p.length - 1] ^= 0x40;
      expect(verifyGmac(p, crypt, t.key_pos)).toBe(false);
    }
  });

  it('takion.json real_video_v9: every packet tag verifies (gkcrypt index 3, key_pos via one KeyState)', () => {
    const c = byName(tk, 'real_video_v9');
    const crypt = new GkCrypt(c.inputs.index, fromHex(c.inputs.handshake_key), fromHex(c.inputs.ecdh_secret));
    const ks = new KeyState();
    let verified = 0;
    for (const pk of c.expected.packets) {
      const bytes = fromHex(pk.packet);
      const keyPos = ks.requestPos(readKeyPosLow(bytes) as number, false);
      expect(keyPos).toBe(pk.derived.key_pos);
      expect(toHex(bytes.subarray(10, 14))).toBe(pk.derived.gmac);
      expect(verifyGmac(bytes, crypt, keyPos), `packet ${pk.index}`).toBe(true);
      ks.commit(keyPos);
      // and re-tagging reproduces the console's tag (key_pos kept in the tag input for AV)
      const copy = bytes.slice();
      copy.fill(0, 10, 14);
      applyGmac(copy, crypt, keyPos);
      expect(toHex(copy)).toBe(pk.packet);
      verified++;
    }
    expect(verified).toBe(24);
  });

  it('applyGmac refuses packets without a GMAC field; verifyGmac says false', () => {
    const crypt = new GkCrypt(2, new Uint8Array(16), new Uint8Array(32));
    expect(() => applyGmac(Uint8Array.from([4, 0, 0]), crypt, 0)).toThrow(/cannot tag/);
    expect(() => applyGmac(Uint8Array.from([2, 0, 0]), crypt, 0)).toThrow(/cannot tag/);
    expect(verifyGmac(new Uint8Array(0), crypt, 0)).toBe(false);
    expect(verifyGmac(Uint8Array.from([8, 1, 2, 3]), crypt, 0)).toBe(false);
  });
});
