import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAvPacket } from '../../src/proto-stack/avpacket.js';
import { toHex } from '../../src/proto-stack/bytes.js';
import { drainEvents, drainTransmits, earliest } from '../../src/proto-stack/machine.js';
import {
  IP_UDP_OVERHEAD,
  SENKUSHA_CHANNEL,
  SENKUSHA_FALLBACK,
  SENKUSHA_PING_SIZE,
  SenkushaClient,
  type SenkushaClientEvent,
  type SenkushaClientOptions,
  type SenkushaClientState,
  SenkushaConsole,
  type SenkushaConsoleEvent,
  type SenkushaConsoleOptions,
} from '../../src/proto-stack/senkusha.js';
import {
  decodeTakionMessage,
  encodeTakionMessage,
  type TakionMessage,
} from '../../src/proto-stack/streamconnection.js';
import { baseType, parseControl, TakionEndpoint, TakionType } from '../../src/proto-stack/takion.js';
import { mutatedBytes } from '../helpers/fuzz.js';

type Dir = 'c2s' | 's2c';
/** 'drop' loses the datagram, a number delays it by that many extra ms. */
type Filter = (d: Uint8Array, dir: Dir) => 'drop' | number | undefined;

/**
 * A SenkushaClient and a SenkushaConsole joined by a link with a fixed one-way latency per
 * direction, on a test clock that jumps from one wakeup (delivery or timer) to the next.
 */
class Link {
  now = 1000;
  readonly client: SenkushaClient;
  readonly console: SenkushaConsole;
  readonly clientEvents: (SenkushaClientEvent & { at: number })[] = [];
  readonly consoleEvents: SenkushaConsoleEvent[] = [];
  readonly sent: Record<Dir, Uint8Array[]> = { c2s: [], s2c: [] };
  filter: Filter | undefined;
  consoleAlive = true;
  private readonly latency: Record<Dir, number>;
  private flight: { at: number; seq: number; dir: Dir; bytes: Uint8Array }[] = [];
  private seq = 0;

  constructor(
    opts: {
      client?: SenkushaClientOptions;
      /** Options of a new console, or a console to share with an earlier link. */
      console?: Partial<SenkushaConsoleOptions> | SenkushaConsole;
      latency?: Record<Dir, number>;
      now?: number;
    } = {},
  ) {
    let tag = 0x5eed0000;
    this.now = opts.now ?? this.now;
    this.client = new SenkushaClient({ pingTag: () => tag++, ...opts.client });
    this.console =
      opts.console instanceof SenkushaConsole
        ? opts.console
        : new SenkushaConsole({ now: this.now, ...opts.console });
    this.latency = opts.latency ?? { c2s: 3, s2c: 2 };
  }

  get final(): SenkushaClientEvent | undefined {
    return this.clientEvents.find((e) => e.type === 'done' || e.type === 'failed');
  }

  start(): void {
    this.client.start(this.now);
    this.collect();
  }

  /** Runs until the client finished (or reached `until`), then lets what is in flight arrive. */
  run(until?: SenkushaClientState, limitMs = 120_000): void {
    const end = this.now + limitMs;
    while (!this.final && this.client.state !== until) {
      const next = earliest(
        ...this.flight.map((f) => f.at),
        this.client.pollTimeout(),
        this.consoleAlive ? this.console.pollTimeout() : undefined,
      );
      if (next === undefined || next > end) throw new Error(`probe stuck in ${this.client.state}`);
      this.step(next);
    }
    if (until === undefined) this.settle();
  }

  /** Delivers everything still in flight (timers included) for up to `ms`. */
  settle(ms = 10_000): void {
    const end = this.now + ms;
    while (this.flight.length > 0 && this.now <= end) this.step(Math.min(...this.flight.map((f) => f.at)));
  }

  inject(dir: Dir, bytes: Uint8Array): void {
    if (dir === 'c2s') {
      if (this.consoleAlive) this.console.handle(bytes, this.now);
    } else this.client.handle(bytes, this.now);
    this.collect();
  }

  private step(at: number): void {
    this.now = Math.max(this.now, at);
    for (;;) {
      const due = this.flight.filter((f) => f.at <= this.now).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.flight.splice(this.flight.indexOf(due), 1);
      this.inject(due.dir, due.bytes);
    }
    this.client.handleTimeout(this.now);
    if (this.consoleAlive) this.console.handleTimeout(this.now);
    this.collect();
  }

  /** Takes what both sides queued (call after driving a machine directly). */
  collect(): void {
    for (const e of drainEvents(this.client)) this.clientEvents.push({ ...e, at: this.now });
    this.consoleEvents.push(...drainEvents(this.console));
    const out: [Dir, Uint8Array[]][] = [
      ['c2s', drainTransmits(this.client)],
      ['s2c', this.consoleAlive ? drainTransmits(this.console) : []],
    ];
    for (const [dir, list] of out)
      for (const bytes of list) {
        this.sent[dir].push(bytes);
        const f = this.filter?.(bytes, dir);
        if (f === 'drop') continue;
        this.flight.push({ at: this.now + this.latency[dir] + (f ?? 0), seq: this.seq++, dir, bytes });
      }
  }

  /** Protobuf messages that left one side, with their channel. */
  messages(dir: Dir): { channel: number; m: TakionMessage }[] {
    const out: { channel: number; m: TakionMessage }[] = [];
    for (const d of this.sent[dir]) {
      if (baseType(d) !== TakionType.Control) continue;
      const c = parseControl(d).chunk;
      if (c.type === 'data') out.push({ channel: c.channel, m: decodeTakionMessage(c.body.subarray(1)) });
    }
    return out;
  }

  av(dir: Dir): Uint8Array[] {
    return this.sent[dir].filter((d) => baseType(d) === TakionType.Audio || baseType(d) === TakionType.Video);
  }
}

const isAudio = (d: Uint8Array) => baseType(d) === TakionType.Audio;
const isVideo = (d: Uint8Array) => baseType(d) === TakionType.Video;

describe('SenkushaClient against SenkushaConsole', () => {
  it('measures the RTT of the link and finds MTU 1454 in and out on an open path', () => {
    const link = new Link({ latency: { c2s: 3, s2c: 2 } });
    link.start();
    link.run();
    const { final } = link;
    expect(final).toMatchObject({ type: 'done', rttMs: 5, mtuIn: 1454, mtuOut: 1454 });
    expect(
      link.clientEvents.filter((e) => e.type === 'progress').map((e) => e.type === 'progress' && e.step),
    ).toEqual(['connected', 'bang', 'rtt', 'mtuIn', 'mtuOut']);
    expect(link.clientEvents.find((e) => e.type === 'progress' && e.step === 'rtt')).toMatchObject({
      pongs: 10,
      pings: 10,
    });
    expect(link.client.stats).toMatchObject({ pings: 11, pongs: 11, stray: 0, malformed: 0, unexpected: 0 });

    // the client's messages in order, on their channels (docs/protocol.md §10.1)
    expect(link.messages('c2s').map(({ channel, m }) => [channel, m])).toEqual([
      [1, { type: 'takionProtocolRequest', versions: [9] }],
      [
        1,
        { type: 'big', big: expect.objectContaining({ clientVersion: 9, sessionKey: '', launchSpec: '' }) },
      ],
      [8, { type: 'senkusha', senkusha: { command: 0, echo: { state: true } } }],
      [8, { type: 'senkusha', senkusha: { command: 0, echo: { state: false } } }],
      [8, { type: 'senkusha', senkusha: { command: 1, mtu: { id: 1, mtuReq: 1454, num: 1 } } }],
      [
        8,
        {
          type: 'senkusha',
          senkusha: { command: 4, clientMtu: { id: 1, state: true, mtuReq: 1454, mtuDown: 1454 } },
        },
      ],
      [
        8,
        {
          type: 'senkusha',
          senkusha: { command: 4, clientMtu: { id: 2, state: false, mtuReq: 1454, mtuDown: 1454 } },
        },
      ],
      [1, { type: 'disconnect', reason: 'Client Disconnecting' }],
    ]);
    const big = link.messages('c2s')[1].m;
    expect(big.type === 'big' && big.big.encryptedKey.length).toBe(0);

    expect(link.consoleEvents.map((e) => e.type)).toEqual([
      'connected',
      'big',
      'echo',
      'echo',
      'mtuRequest',
      'clientMtu',
      'clientMtu',
      'disconnected',
    ]);
    expect(link.console.stats).toMatchObject({
      probes: 1,
      echoed: 11,
      mtuAnswers: 1,
      malformed: 0,
      ignored: 0,
    });
    expect(link.client.pollTimeout()).toBeUndefined();
  });

  it('finds an emulated path MTU of 1200 both ways', () => {
    const link = new Link({ console: { pathMtu: 1200 }, latency: { c2s: 1, s2c: 1 } });
    link.start();
    link.run();
    expect(link.final).toMatchObject({ type: 'done', rttMs: 2, mtuIn: 1200, mtuOut: 1200 });
    const asked = link
      .messages('c2s')
      .flatMap(({ m }) => (m.type === 'senkusha' && m.senkusha.mtu ? [m.senkusha.mtu] : []));
    // a fresh id per try; each size tried 3 times before it counts as too big
    expect(asked.map((a) => a.id)).toEqual(asked.map((_, i) => i + 1));
    expect(asked.slice(0, 4).map((a) => a.mtuReq)).toEqual([1454, 1454, 1454, 1015]);
    expect(asked.filter((a) => a.mtuReq === 1200).length).toBe(1);
    expect(asked.filter((a) => a.mtuReq === 1201).length).toBe(3);
    // every answer that got through is exactly the asked size
    const answers = link.av('s2c').filter(isVideo);
    expect(answers.every((d) => d.length + IP_UDP_OVERHEAD <= 1200)).toBe(true);
    expect(link.console.stats.pathDropped).toBeGreaterThan(0);
    // final CLIENT_MTU_COMMAND names the smallest size that failed
    const last = link.messages('c2s').at(-2)?.m;
    expect(last).toEqual({
      type: 'senkusha',
      senkusha: { command: 4, clientMtu: { id: 2, state: false, mtuReq: 1201, mtuDown: 1200 } },
    });
  });

  it('measures each direction on its own (only the way to the console limited to 1300)', () => {
    const link = new Link();
    link.filter = (d, dir) => (dir === 'c2s' && d.length + IP_UDP_OVERHEAD > 1300 ? 'drop' : undefined);
    link.start();
    link.run();
    expect(link.final).toMatchObject({ type: 'done', mtuIn: 1454, mtuOut: 1300 });
    // MTU out pings are padded to mtu - 28 and numbered by try
    const outPings = link.av('c2s').filter((d) => d.length !== SENKUSHA_PING_SIZE);
    expect(outPings.slice(0, 3).map((d) => [d.length, parseAvPacket(d, 7).unitIndex])).toEqual([
      [1454 - 28, 0],
      [1454 - 28, 1],
      [1454 - 28, 2],
    ]);
  });

  it('completes when some pings, pongs, MTU answers and a command are lost, or a pong comes late', () => {
    const link = new Link({ client: { deadlineMs: 30_000 } });
    const count: Record<string, number> = {};
    const nth = (key: string) => {
      count[key] = (count[key] ?? 0) + 1;
      return count[key];
    };
    link.filter = (d, dir) => {
      if (isAudio(d) && d.length === SENKUSHA_PING_SIZE) {
        const n = nth(dir);
        if (dir === 'c2s' && (n === 3 || n === 8)) return 'drop'; // pings 3 and 8 lost
        if (dir === 's2c' && n === 5) return 'drop'; // the 5th pong lost
        if (dir === 's2c' && n === 2) return 1500; // the 2nd pong after the 1 s pong timeout
      }
      if (dir === 's2c' && isVideo(d) && nth('mtu') === 1) return 'drop'; // first MTU answer lost
      if (dir === 'c2s' && baseType(d) === TakionType.Control && nth('ctl') === 4) return 'drop'; // echo on
      return undefined;
    };
    link.start();
    link.run();
    expect(link.final).toMatchObject({ type: 'done', rttMs: 5, mtuIn: 1454, mtuOut: 1454 });
    expect(link.clientEvents.find((e) => e.type === 'progress' && e.step === 'rtt')).toMatchObject({
      pongs: 6,
      pings: 10,
    });
    expect(link.client.stats.stray).toBe(1); // the late pong
    expect(link.client.takionStats?.retransmits).toBeGreaterThan(0);
    const asked = link
      .messages('c2s')
      .flatMap(({ m }) => (m.type === 'senkusha' && m.senkusha.mtu ? [m.senkusha.mtu.mtuReq] : []));
    expect(asked).toEqual([1454, 1454]);
  });

  it('fails within the deadline with the fallback values when nothing answers on 9297', () => {
    const link = new Link({ client: { deadlineMs: 2000 } });
    link.consoleAlive = false;
    const start = link.now;
    link.start();
    link.run();
    const { final } = link;
    expect(final).toMatchObject({ type: 'failed', reason: 'deadline', ...SENKUSHA_FALLBACK });
    expect(SENKUSHA_FALLBACK).toEqual({ rttMs: 1, mtuIn: 1454, mtuOut: 1454 });
    expect(link.clientEvents.at(-1)?.at).toBe(start + 2000);
    expect(link.sent.c2s.length).toBe(1); // the INIT; no DISCONNECT without a connection
    expect(link.client.pollTimeout()).toBeUndefined();
  });

  it('without a deadline to stop it first, the handshake step gives up after 5 s', () => {
    const link = new Link({ client: { deadlineMs: 60_000 } });
    link.consoleAlive = false;
    const start = link.now;
    link.start();
    link.run();
    const f = link.final;
    expect(f).toMatchObject({ type: 'failed', reason: 'timeout', ...SENKUSHA_FALLBACK });
    expect(f?.type === 'failed' && f.error.message).toMatch(/no answer from the console on UDP 9297/);
    expect(link.clientEvents.at(-1)?.at).toBe(start + 5000);
  });

  it('fails a step after 5 s and says DISCONNECT when the console goes quiet after the handshake', () => {
    const link = new Link({ client: { deadlineMs: 60_000 } });
    link.filter = (d, dir) =>
      dir === 's2c' && baseType(d) === TakionType.Control && d[13] === 0 ? 'drop' : undefined;
    link.start();
    link.run();
    expect(link.final).toMatchObject({ type: 'failed', reason: 'timeout', mtuIn: 1454 });
    const f = link.final;
    expect(f?.type === 'failed' && f.error.message).toMatch(/no TAKIONPROTOCOLREQUESTACK/);
    expect(link.messages('c2s').at(-1)?.m).toEqual({ type: 'disconnect', reason: 'Client Disconnecting' });
  });

  it('fails with noPong when the console acknowledges echo but answers no ping', () => {
    const link = new Link({ client: { deadlineMs: 60_000 } });
    link.filter = (d, dir) => (dir === 's2c' && isAudio(d) ? 'drop' : undefined);
    link.start();
    link.run();
    expect(link.final).toMatchObject({ type: 'failed', reason: 'noPong', rttMs: 1 });
    expect(link.client.stats.pings).toBe(10);
  });

  it('reports done with the measurements when only the last acknowledgement is missing', () => {
    const link = new Link({ client: { deadlineMs: 3000 } });
    link.filter = (_d, dir) => (dir === 's2c' && link.client.state === 'finish' ? 'drop' : undefined);
    link.start();
    link.run();
    expect(link.final).toMatchObject({ type: 'done', rttMs: 5, mtuIn: 1454, mtuOut: 1454 });
  });

  it('fails with disconnected when the console hangs up', () => {
    const now = 1000;
    const client = new SenkushaClient();
    const console = new TakionEndpoint({ role: 'console', now, encrypted: false });
    const events: SenkushaClientEvent[] = [];
    const pump = () => {
      for (let moved = true; moved; ) {
        const c2s = drainTransmits(client);
        const s2c = drainTransmits(console);
        for (const d of c2s) console.handle(d, now);
        for (const d of s2c) client.handle(d, now);
        events.push(...drainEvents(client));
        moved = c2s.length + s2c.length > 0;
      }
    };
    client.start(now);
    pump();
    expect(client.state).toBe('protocol');
    console.sendMessage(
      1,
      0,
      encodeTakionMessage({ type: 'disconnect', reason: 'Server shutting down' }),
      now,
    );
    pump();
    const final = events.at(-1);
    expect(final).toMatchObject({ type: 'failed', reason: 'disconnected', ...SENKUSHA_FALLBACK });
    expect(final?.type === 'failed' && final.error.message).toMatch(/Server shutting down/);
  });

  it('close() cancels once; the machine is inert afterwards', () => {
    const link = new Link();
    link.start();
    link.run('rtt');
    link.client.close(link.now);
    link.client.close(link.now);
    link.collect();
    const finals = link.clientEvents.filter((e) => e.type === 'done' || e.type === 'failed');
    expect(finals).toEqual([
      expect.objectContaining({ type: 'failed', reason: 'cancelled', ...SENKUSHA_FALLBACK }),
    ]);
    expect(link.messages('c2s').at(-1)?.m.type).toBe('disconnect');
    const before = link.clientEvents.length;
    link.settle();
    link.client.handle(link.sent.s2c[0], link.now);
    expect(drainEvents(link.client)).toEqual([]);
    expect(link.clientEvents.length).toBe(before);
    expect(link.client.pollTimeout()).toBeUndefined();
  });

  it('the console serves one probe after another', () => {
    const first = new Link();
    first.start();
    first.run();
    const second = new Link({ console: first.console, now: first.now + 100 });
    second.start();
    second.run();
    expect([first.final?.type, second.final?.type]).toEqual(['done', 'done']);
    expect(first.console.stats.probes).toBe(2);
  });
});

describe('wire layout (chiaki senkusha.c / takion.c, pyremoteplay StreamTest)', () => {
  const link = new Link();
  link.start();
  link.run();

  it('a ping is a 0x224-byte v7 AUDIO packet: codec 0xff, frame 0, unit = ping, units field 0x7ff, tag at 22', () => {
    const pings = link.av('c2s').filter((d) => d.length === SENKUSHA_PING_SIZE);
    expect(pings.length).toBe(10);
    pings.forEach((d, i) => {
      const unitWord = ((i << 21) | (0x7ff << 10)) >>> 0;
      expect(toHex(d.subarray(0, 22))).toBe(
        `03` +
          `0000` +
          `0000` +
          unitWord.toString(16).padStart(8, '0') +
          `ff` +
          '00'.repeat(4) +
          '00'.repeat(4) +
          '00'.repeat(4),
      );
      expect(toHex(d.subarray(22, 26))).toBe((0x5eed0000 + i).toString(16));
      expect(d.subarray(26).every((b) => b === 0)).toBe(true);
    });
    // pyremoteplay writes the same unit word as u16 0x1f + 0x20 * i at offset 5 and 0xfc at 7
    expect(toHex(pings[1].subarray(5, 8))).toBe('003ffc');
  });

  it('the console echoes a ping byte for byte', () => {
    const pings = link.av('c2s').filter((d) => d.length === SENKUSHA_PING_SIZE);
    const pongs = link.av('s2c').filter(isAudio);
    expect(toHex(pongs[0])).toBe(toHex(pings[0]));
  });

  it('an MTU answer is a v7 VIDEO packet of mtu - 28 bytes whose frame index is the request id', () => {
    const answers = link.av('s2c').filter(isVideo);
    expect(answers.length).toBe(1);
    const d = answers[0];
    expect(d.length).toBe(1454 - 28);
    expect(toHex(d.subarray(0, 5))).toBe('0200000001');
    const p = parseAvPacket(d, 7);
    expect([p.isVideo, p.frameIndex, p.headerSize, p.unitIndex, p.unitsTotal]).toEqual([true, 1, 21, 0, 1]);
    // followed by the console's MTU report on channel 8 (pyremoteplay reads mtu_req / mtu_sent)
    expect(link.messages('s2c').find(({ m }) => m.type === 'senkusha' && m.senkusha.command === 1)).toEqual({
      channel: SENKUSHA_CHANNEL,
      m: { type: 'senkusha', senkusha: { command: 1, mtu: { id: 1, mtuReq: 1454, mtuSent: 1454, num: 1 } } },
    });
  });
});

describe('SenkushaConsole is strict', () => {
  /** A bare Takion client next to the console, zero latency. */
  function bare() {
    const now = 1000;
    const client = new TakionEndpoint({ role: 'client', now, encrypted: false });
    const console = new SenkushaConsole({ now });
    const received: Uint8Array[] = [];
    const pump = () => {
      for (let i = 0; i < 100; i++) {
        const c2s = drainTransmits(client);
        const s2c = drainTransmits(console);
        if (c2s.length === 0 && s2c.length === 0) return;
        for (const d of c2s) console.handle(d, now);
        for (const d of s2c) {
          received.push(d);
          client.handle(d, now);
        }
      }
    };
    client.connect(now);
    pump();
    const send = (m: TakionMessage, channel = SENKUSHA_CHANNEL) => {
      client.sendMessage(channel, 0, encodeTakionMessage(m), now);
      pump();
    };
    const raw = (d: Uint8Array) => {
      client.sendRaw(d, 0);
      pump();
    };
    return { client, console, received, send, raw };
  }

  it('serves no command before BANG and echoes nothing while echo is off', () => {
    const b = bare();
    b.send({ type: 'senkusha', senkusha: { command: 0, echo: { state: true } } });
    b.send({ type: 'senkusha', senkusha: { command: 1, mtu: { id: 1, mtuReq: 1000, num: 1 } } });
    expect(b.console.stats.ignored).toBe(2);
    b.send(
      {
        type: 'big',
        big: { clientVersion: 9, sessionKey: '', launchSpec: '', encryptedKey: new Uint8Array(0) },
      },
      1,
    );
    const p = new Uint8Array(SENKUSHA_PING_SIZE);
    p[0] = 3;
    b.raw(p);
    expect(b.received.filter(isAudio).length).toBe(0);
    b.send({ type: 'senkusha', senkusha: { command: 0, echo: { state: true } } });
    b.raw(Uint8Array.from(p));
    expect(b.received.filter(isAudio).length).toBe(1);
    // sizes a console cannot send are not answered
    b.send({ type: 'senkusha', senkusha: { command: 1, mtu: { id: 7, mtuReq: 9000, num: 1 } } });
    b.send({ type: 'senkusha', senkusha: { command: 1, mtu: { id: 8, mtuReq: 40, num: 1 } } });
    expect(b.received.filter(isVideo).length).toBe(0);
    expect(b.console.stats.ignored).toBe(5);
  });

  it('refuses a BIG of an unknown version and then serves nothing', () => {
    const b = bare();
    b.send(
      {
        type: 'big',
        big: { clientVersion: 12, sessionKey: '', launchSpec: '', encryptedKey: new Uint8Array(0) },
      },
      1,
    );
    expect(drainEvents(b.console)).toContainEqual({ type: 'big', clientVersion: 12, accepted: false });
    b.send({ type: 'senkusha', senkusha: { command: 0, echo: { state: true } } });
    expect(b.console.stats.ignored).toBe(1);
  });

  it('answers TAKIONPROTOCOLREQUEST with the version it shares', () => {
    const b = bare();
    b.send({ type: 'takionProtocolRequest', versions: [12, 9] }, 1);
    b.send({ type: 'takionProtocolRequest', versions: [12] }, 1);
    const acks = b.received
      .filter((d) => baseType(d) === TakionType.Control && parseControl(d).chunk.type === 'data')
      .map((d) => {
        const c = parseControl(d).chunk;
        return c.type === 'data' ? decodeTakionMessage(c.body.subarray(1)) : undefined;
      });
    expect(acks).toEqual([
      { type: 'takionProtocolRequestAck', version: 9 },
      { type: 'takionProtocolRequestAck', version: undefined },
    ]);
  });
});

describe('garbage never throws', () => {
  // real datagrams of a whole probe, both ways, as seeds
  const ref = new Link();
  ref.start();
  ref.run();
  const seeds = [...ref.sent.c2s, ...ref.sent.s2c];
  const stages: SenkushaClientState[] = [
    'connect',
    'protocol',
    'bang',
    'echoOn',
    'rtt',
    'mtuIn',
    'clientMtu',
    'mtuOut',
  ];

  it('mutated and random datagrams into a client and a console mid-probe: no throw, the probe still ends', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...stages),
        fc.array(fc.oneof(mutatedBytes(seeds, 8), fc.uint8Array({ maxLength: 64 })), {
          minLength: 1,
          maxLength: 6,
        }),
        (stage, junk) => {
          const link = new Link({ client: { deadlineMs: 60_000 } });
          link.start();
          link.run(stage);
          for (const d of junk) {
            link.inject('s2c', d);
            link.inject('c2s', d);
          }
          link.run();
          expect(['done', 'failed']).toContain(link.final?.type);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a fresh console and client take anything', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(mutatedBytes(seeds, 4), fc.uint8Array({ maxLength: 1500 })), { maxLength: 20 }),
        (junk) => {
          const console = new SenkushaConsole({ now: 0 });
          const client = new SenkushaClient();
          client.start(0);
          for (const d of junk) {
            console.handle(d, 1);
            client.handle(d, 1);
          }
          drainTransmits(console);
          drainEvents(console);
          drainTransmits(client);
          return drainEvents(client).every((e) => e.type !== 'done');
        },
      ),
      { numRuns: 500 },
    );
  });
});
