import { describe, expect, it } from 'vitest';
import { fromHex, toHex, view } from '../../src/proto-stack/bytes.js';
import { ParseError } from '../../src/proto-stack/errors.js';
import { GkCrypt } from '../../src/proto-stack/gkcrypt.js';
import { KeyState } from '../../src/proto-stack/keystate.js';
import { drainEvents } from '../../src/proto-stack/machine.js';
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
import { step, TakionPair } from '../helpers/takion-pair.js';
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
  it('offsets per base type (docs/protocol.md §4 table)', () => {
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

describe('TakionEndpoint (client + console in memory)', () => {
  const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
  const chunkOf = (d: Uint8Array) => (d[0] === 0 && d.length >= 17 ? d[13] : -1);

  it('handshake: INIT -> INIT_ACK -> COOKIE -> COOKIE_ACK, tags and TSNs as the reference', () => {
    const pair = new TakionPair({ client: { tag: 0x4823 }, console: { tag: 0x15cf154f } });
    pair.connect();
    expect(pair.client.state).toBe('connected');
    expect(pair.console.state).toBe('connected');
    expect(pair.events.client).toEqual([{ type: 'connected' }]);
    expect(pair.events.console).toEqual([{ type: 'connected' }]);
    expect(pair.sent.c2s.map(chunkOf)).toEqual([1, 0x0a]);
    expect(pair.sent.s2c.map(chunkOf)).toEqual([2, 0x0b]);
    const init = parseControl(pair.sent.c2s[0]);
    expect(init.tag).toBe(0);
    expect(init.chunk).toMatchObject({ type: 'init', tag: 0x4823, initialTsn: 0x4823, aRwnd: A_RWND });
    expect(pair.sent.s2c[0]).toHaveLength(65);
    const initAck = parseControl(pair.sent.s2c[0]);
    expect(initAck.tag).toBe(0x4823);
    expect(initAck.chunk).toMatchObject({ type: 'initAck', tag: 0x15cf154f, initialTsn: 0x15cf154f });
    expect(parseControl(pair.sent.c2s[1]).tag).toBe(0x15cf154f);
    expect(pair.sent.s2c[1]).toHaveLength(17);
    expect(pair.client.remoteTag).toBe(0x15cf154f);
    expect(pair.console.remoteTag).toBe(0x4823);
    expect(pair.client.pollTimeout()).toBe(pair.now + 4000); // only the silence timer is armed
  });

  it('exchanges messages both ways; each is acknowledged with a 29-byte DATA_ACK', () => {
    const pair = new TakionPair({ client: { tag: 1000 }, console: { tag: 5000 } });
    pair.connect();
    const tsn = pair.client.sendMessage(1, 0, bytes(40), pair.now);
    expect(tsn).toBe(1000); // first DATA uses the initial TSN = our tag
    pair.pump();
    pair.console.sendMessage(1, 0, bytes(20, 2), pair.now);
    pair.console.sendMessage(9, 7, bytes(3, 3), pair.now);
    pair.pump();
    expect(pair.messages('console')).toEqual([
      { type: 'message', channel: 1, dataType: 0, payload: bytes(40), tsn: 1000 },
    ]);
    expect(pair.messages('client').map((m) => [m.channel, m.dataType, m.tsn, m.payload])).toEqual([
      [1, 0, 5000, bytes(20, 2)],
      [9, 7, 5001, bytes(3, 3)],
    ]);
    expect(pair.events.client.filter((e) => e.type === 'acked')).toEqual([{ type: 'acked', tsn: 1000 }]);
    const acks = pair.sent.s2c.filter((d) => chunkOf(d) === 3);
    expect(acks).toHaveLength(1);
    expect(acks[0]).toHaveLength(29);
    expect(pair.client.inFlightCount).toBe(0);
    expect(pair.console.inFlightCount).toBe(0);
  });

  it('splits a BIG-sized message into DATA + continuation pieces by MTU and reassembles it', () => {
    const pair = new TakionPair({ client: { mtu: 1454 } });
    pair.connect();
    const big = bytes(3000, 5);
    pair.client.sendMessage(1, 0, big, pair.now);
    pair.pump();
    const data = pair.sent.c2s.filter((d) => chunkOf(d) === 0);
    // first piece 1454-50-26 = 1378 data bytes, then 1379, then the rest 243
    expect(data.map((d) => d.length)).toEqual([1404, 1404, 243 + 25]);
    expect(data.map((d) => d[14])).toEqual([0, 0, 1]); // flags: last piece only
    expect(data.map((d) => (parseControl(d).chunk as { tsn: number }).tsn)).toEqual([
      pair.client.localTag,
      pair.client.localTag + 1,
      pair.client.localTag + 2,
    ]);
    const msgs = pair.messages('console');
    expect(msgs).toHaveLength(1);
    expect(msgs[0].payload).toEqual(big);
    expect(pair.client.inFlightCount).toBe(0);
  });

  it('resends a lost DATA chunk after 200 ms', () => {
    const pair = new TakionPair();
    pair.connect();
    let dropped = 0;
    pair.filter = (d, dir) => (dir === 'c2s' && chunkOf(d) === 0 && dropped++ === 0 ? [] : [d]);
    pair.client.sendMessage(1, 0, bytes(10), pair.now);
    pair.pump();
    expect(pair.messages('console')).toHaveLength(0);
    expect(pair.client.pollTimeout()).toBe(pair.now + 200);
    pair.advance(199);
    expect(pair.messages('console')).toHaveLength(0);
    pair.advance(1);
    expect(pair.messages('console')).toHaveLength(1);
    expect(pair.client.stats.retransmits).toBe(1);
    expect(pair.client.inFlightCount).toBe(0);
  });

  it('delivers reordered chunks in TSN order with one cumulative ack', () => {
    const pair = new TakionPair();
    pair.connect();
    const held: Uint8Array[] = [];
    pair.filter = (d, dir) => {
      if (dir === 'c2s' && chunkOf(d) === 0 && held.length === 0) {
        held.push(d);
        return [];
      }
      return [d];
    };
    for (let i = 0; i < 3; i++) pair.client.sendMessage(1, 0, bytes(5, i), pair.now);
    pair.pump();
    expect(pair.messages('console')).toHaveLength(0);
    expect(pair.sent.s2c.filter((d) => chunkOf(d) === 3)).toHaveLength(0);
    pair.inject('c2s', held[0]);
    pair.pump();
    expect(pair.messages('console').map((m) => m.payload)).toEqual([bytes(5, 0), bytes(5, 1), bytes(5, 2)]);
    const acks = pair.sent.s2c.filter((d) => chunkOf(d) === 3).map((d) => parseControl(d).chunk);
    expect(acks).toEqual([expect.objectContaining({ cumulativeTsn: pair.client.localTag + 2 })]);
    expect(pair.client.inFlightCount).toBe(0);
  });

  it('drops duplicates, and re-acks a resent chunk whose ack was lost', () => {
    const pair = new TakionPair();
    pair.connect();
    pair.filter = (d) => [d, d];
    pair.client.sendMessage(1, 0, bytes(8), pair.now);
    pair.pump();
    expect(pair.messages('console')).toHaveLength(1);
    expect(pair.console.stats.duplicates).toBe(1);
    // now lose every DATA_ACK once: the client resends, the console re-acks
    let acksLost = 0;
    pair.filter = (d, dir) => (dir === 's2c' && chunkOf(d) === 3 && acksLost++ === 0 ? [] : [d]);
    pair.client.sendMessage(1, 0, bytes(8, 9), pair.now);
    pair.pump();
    expect(pair.client.inFlightCount).toBe(1);
    pair.advance(200);
    expect(pair.client.inFlightCount).toBe(0);
    expect(pair.messages('console')).toHaveLength(2);
    expect(pair.console.stats.duplicates).toBe(2);
  });

  it('never has more than 16 chunks in flight and delivers everything in order', () => {
    const pair = new TakionPair();
    pair.connect();
    let peak = 0;
    let acks = 0;
    pair.filter = (d, dir) => {
      peak = Math.max(peak, pair.client.inFlightCount);
      // lose every other DATA_ACK
      return dir === 's2c' && chunkOf(d) === 3 && acks++ % 2 === 0 ? [] : [d];
    };
    for (let i = 0; i < 40; i++) pair.client.sendMessage(1, 0, bytes(4, i), pair.now);
    expect(pair.client.inFlightCount).toBe(16);
    expect(pair.client.pendingCount).toBe(24);
    pair.advance(3000);
    expect(peak).toBeLessThanOrEqual(16);
    expect(pair.messages('console').map((m) => m.payload)).toEqual(
      Array.from({ length: 40 }, (_, i) => bytes(4, i)),
    );
    expect(pair.client.inFlightCount + pair.client.pendingCount).toBe(0);
  });

  it('drops control packets with a foreign tag', () => {
    const pair = new TakionPair();
    pair.connect();
    const forged = encodeControl(
      { tag: (pair.client.localTag + 1) >>> 0, flags: 1 },
      dataChunk(pair.console.localTag, 1, 0, bytes(4)),
    );
    pair.inject('s2c', forged);
    expect(pair.client.stats.tagMismatches).toBe(1);
    expect(pair.messages('client')).toHaveLength(0);
    pair.console.sendMessage(1, 0, bytes(4, 4), pair.now);
    pair.pump();
    expect(pair.messages('client').map((m) => m.payload)).toEqual([bytes(4, 4)]);
  });

  it('after setCrypt: everything is tagged and verified; a tampered packet is counted, dropped, resent', () => {
    const pair = new TakionPair();
    pair.connect();
    pair.setCrypt();
    let flipped = 0;
    pair.filter = (d, dir) => {
      if (dir === 's2c' && chunkOf(d) === 0 && flipped++ === 0) {
        const t = d.slice();
        t[t.length - 1] ^= 0x01;
        return [t];
      }
      return [d];
    };
    pair.console.sendMessage(1, 0, bytes(30), pair.now);
    pair.client.sendMessage(1, 0, bytes(30, 3), pair.now);
    pair.pump();
    expect(pair.client.stats.gmacFailures).toBe(1);
    expect(pair.messages('client')).toHaveLength(0);
    pair.advance(200);
    expect(pair.messages('client').map((m) => m.payload)).toEqual([bytes(30)]);
    expect(pair.messages('console').map((m) => m.payload)).toEqual([bytes(30, 3)]);
    expect(pair.console.stats.gmacFailures).toBe(0);
    // every datagram since setCrypt carries a tag that verifies at its own key_pos
    const local = pair.client.localCrypt as GkCrypt;
    const after = pair.sent.c2s.slice(2);
    expect(after.length).toBeGreaterThan(1);
    for (const d of after) expect(verifyGmac(d, local, readKeyPosLow(d) as number)).toBe(true);
    const kps = after.map((d) => readKeyPosLow(d) as number);
    expect(kps).toEqual([...kps].sort((a, b) => a - b));
    expect(new Set(kps).size).toBe(kps.length);
    expect(pair.client.state).toBe('connected');
  });

  it('BANG flow: the ack of the message that switches crypt on is tagged, zero GMAC failures', () => {
    const pair = new TakionPair();
    pair.connect();
    const hk = new Uint8Array(16).fill(1);
    const secret = new Uint8Array(32).fill(2);
    // console: BANG goes out untagged, then its crypt is on (STREAMINFO is tagged)
    pair.console.sendMessage(1, 0, bytes(12), pair.now);
    pair.console.setCrypt(new GkCrypt(3, hk, secret), new GkCrypt(2, hk, secret));
    pair.console.sendMessage(1, 0, bytes(40, 4), pair.now);
    const [bang, streamInfo] = step(pair.console, pair.now);
    // client: BANG handled, crypt switched on from its event, only then poll (which builds the ack)
    pair.client.handle(bang, pair.now);
    expect(drainEvents(pair.client).map((e) => e.type)).toEqual(['message']);
    pair.client.setCrypt(new GkCrypt(2, hk, secret), new GkCrypt(3, hk, secret));
    pair.client.handle(streamInfo, pair.now);
    expect(drainEvents(pair.client).map((e) => e.type)).toEqual(['message']);
    pair.pump();
    expect(pair.client.stats.gmacFailures).toBe(0);
    expect(pair.console.stats.gmacFailures).toBe(0);
    expect(pair.console.inFlightCount).toBe(0);
    const ack = pair.sent.c2s.at(-1) as Uint8Array;
    expect(parseControl(ack).chunk).toMatchObject({
      type: 'dataAck',
      cumulativeTsn: pair.console.localTag + 1,
    });
    expect(verifyGmac(ack, pair.client.localCrypt as GkCrypt, 0)).toBe(true);
  });

  it('BANG flow with its ack lost: the untagged resend is a duplicate (not a GMAC failure) and is re-acked', () => {
    const pair = new TakionPair();
    pair.connect();
    const hk = new Uint8Array(16).fill(1);
    const secret = new Uint8Array(32).fill(2);
    pair.console.sendMessage(1, 0, bytes(12), pair.now);
    pair.console.setCrypt(new GkCrypt(3, hk, secret), new GkCrypt(2, hk, secret));
    const [bang] = step(pair.console, pair.now);
    pair.client.handle(bang, pair.now);
    pair.client.setCrypt(new GkCrypt(2, hk, secret), new GkCrypt(3, hk, secret));
    step(pair.client, pair.now); // the DATA_ACK is lost
    expect(pair.console.inFlightCount).toBe(1);
    pair.advance(200);
    expect(pair.console.stats.retransmits).toBe(1);
    expect(pair.client.stats.gmacFailures).toBe(0);
    expect(pair.client.stats.duplicates).toBe(1);
    expect(pair.console.inFlightCount).toBe(0);
    expect(pair.console.stats.gmacFailures).toBe(0);
    expect(pair.messages('client').map((m) => m.payload)).toEqual([bytes(12)]); // exactly once
  });

  it('AV packets: postponed before crypt, then authenticated and delivered with the extended key_pos', () => {
    const pair = new TakionPair();
    pair.connect();
    const av = (n: number) => {
      const p = new Uint8Array(21 + n);
      p[0] = TakionType.Video;
      return p;
    };
    // console has crypt first (as after BANG); client not yet: the packet is held
    const hk = new Uint8Array(16).fill(5);
    const secret = new Uint8Array(32).fill(6);
    pair.console.setCrypt(new GkCrypt(3, hk, secret), new GkCrypt(2, hk, secret));
    const kp1 = pair.console.allocKeyPos(100);
    pair.console.sendRaw(av(100), kp1);
    pair.pump();
    expect(pair.events.client.filter((e) => e.type === 'av')).toHaveLength(0);
    pair.client.setCrypt(new GkCrypt(2, hk, secret), new GkCrypt(3, hk, secret));
    const kp2 = pair.console.allocKeyPos(50);
    const tampered = av(50);
    pair.console.sendRaw(tampered, kp2);
    const out = step(pair.console, pair.now);
    out[0][30] ^= 0x80;
    pair.inject('s2c', out[0]);
    const kp3 = pair.console.allocKeyPos(50);
    pair.console.sendRaw(av(50), kp3);
    pair.pump();
    const avs = pair.events.client.filter((e) => e.type === 'av');
    expect(avs.map((e) => (e.type === 'av' ? [e.packetType, e.keyPos, e.bytes.length] : []))).toEqual([
      [TakionType.Video, kp1, 121],
      [TakionType.Video, kp3, 71],
    ]);
    expect(kp1).toBe(0);
    expect(kp3).toBeGreaterThan(kp2);
    expect(pair.client.stats.gmacFailures).toBe(1);
  });

  it('console receives tagged feedback/congestion as packet events', () => {
    const pair = new TakionPair();
    pair.connect();
    pair.setCrypt();
    const fb = new Uint8Array(12 + 25);
    fb[0] = TakionType.FeedbackState;
    pair.client.sendRaw(fb, pair.client.allocKeyPos(25 + 16));
    pair.pump();
    const evs = pair.events.console.filter((e) => e.type === 'packet');
    expect(evs).toHaveLength(1);
    expect(evs[0]).toMatchObject({ packetType: TakionType.FeedbackState, keyPos: 0 });
  });

  it('reports the console lost after 4 s of silence (client) and closes', () => {
    const pair = new TakionPair();
    pair.connect();
    pair.advance(1000);
    pair.consoleAlive = false;
    const silentFrom = pair.now;
    pair.advance(5000);
    const lost = pair.events.client.filter((e) => e.type === 'lost');
    expect(lost).toHaveLength(1);
    expect(lost[0].type === 'lost' && lost[0].error.message).toMatch(/Console lost/);
    expect(pair.client.state).toBe('closed');
    expect(pair.client.pollTimeout()).toBeUndefined();
    expect(pair.now - silentFrom).toBeGreaterThanOrEqual(4000);
    expect(() => pair.client.sendMessage(1, 0, bytes(1), pair.now)).toThrow(/state closed/);
  });

  it('gives up the handshake after 3 INITs 5 s apart', () => {
    const pair = new TakionPair();
    pair.consoleAlive = false;
    pair.connect();
    pair.advance(16_000, 1000);
    expect(pair.sent.c2s.map(chunkOf)).toEqual([1, 1, 1]);
    const errs = pair.events.client.filter((e) => e.type === 'error');
    expect(errs).toHaveLength(1);
    expect(errs[0].type === 'error' && errs[0].error.message).toMatch(/no INIT_ACK/);
    expect(pair.client.state).toBe('closed');
  });

  it('survives a lost INIT_ACK and a lost COOKIE_ACK', () => {
    const pair = new TakionPair();
    const lose = new Set([2, 0x0b]);
    pair.filter = (d, dir) => {
      const c = chunkOf(d);
      if (dir === 's2c' && lose.has(c)) {
        lose.delete(c);
        return [];
      }
      return [d];
    };
    pair.connect();
    pair.advance(11_000, 1000);
    expect(pair.client.state).toBe('connected');
    expect(pair.console.state).toBe('connected');
  });
});
