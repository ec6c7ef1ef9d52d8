// The whole stream session with no sockets and a test clock: session init and ctrl request
// (formatted by the client, parsed by the console and back), CtrlClient <-> CtrlConsole,
// TakionEndpoint pair, StreamConnectionClient <-> StreamConnectionConsole, feedback and congestion
// packets, wired the way src/client/session.ts and src/simulator/stream.ts wire them. Checks the
// timing rules end to end: SESSION_ID after the answer, heartbeats both ways every second,
// congestion every 200 ms, zero GMAC failures, DISCONNECT, and "console lost" within 5 s.
import { describe, expect, it } from 'vitest';
import { IDLE_STATE, withButton } from '../../src/proto-stack/controller.js';
import { FeedbackSender } from '../../src/proto-stack/feedbacksender.js';
import { fromHex } from '../../src/proto-stack/bytes.js';
import { formatCongestion } from '../../src/proto-stack/congestion.js';
import {
  CtrlClient,
  type CtrlClientEvent,
  CtrlConsole,
  type CtrlConsoleEvent,
} from '../../src/proto-stack/ctrl.js';
import {
  type ControllerLogEvent,
  FeedbackConsoleDecoder,
  formatFeedbackPacket,
} from '../../src/proto-stack/feedback.js';
import { RpCrypt } from '../../src/proto-stack/rpcrypt.js';
import {
  formatCtrlRequest,
  formatCtrlResponse,
  formatSessionInitRequest,
  formatSessionInitResponse,
  parseCtrlRequest,
  parseCtrlResponse,
  parseSessionInitRequest,
  parseSessionInitResponse,
  registKeyBytes,
  SERVER_TYPE,
} from '../../src/proto-stack/session.js';
import {
  type StreamClientEvent,
  StreamConnectionClient,
  StreamConnectionConsole,
  type StreamConsoleEvent,
  type StreamOutput,
} from '../../src/proto-stack/streamconnection.js';
import { TakionEndpoint, type TakionEvent, TakionType } from '../../src/proto-stack/takion.js';
import { isPs5, type Target } from '../../src/proto-stack/target.js';
import { h264ParameterSets } from '../../src/simulator/stream-media.js';

const REGIST_KEY = '6532343566653135';
const MORNING = fromHex('00112233445566778899aabbccddeeff');
const NONCE = fromHex('0f1e2d3c4b5a69788796a5b4c3d2e1f0');

function wholeSession(target: Target) {
  let now = 10_000;
  // --- session init: the console answers only the RegistKey it knows
  const initReq = parseSessionInitRequest(
    formatSessionInitRequest({ target, host: '10.0.0.2', registKeyText: REGIST_KEY }),
  );
  expect(initReq?.registKeyText).toBe(REGIST_KEY);
  const initRes = parseSessionInitResponse(formatSessionInitResponse(NONCE));
  if (!initRes?.ok) throw new Error('session init failed');
  const clientRp = RpCrypt.forSession(target, initRes.nonce, MORNING);
  const consoleRp = RpCrypt.forSession(target, NONCE, MORNING);

  // --- ctrl request and answer
  const req = formatCtrlRequest({
    target,
    host: '10.0.0.2',
    crypt: clientRp,
    registKey: registKeyBytes(REGIST_KEY),
  });
  const info = parseCtrlRequest(req.bytes, () => [
    { crypt: consoleRp, registKey: registKeyBytes(REGIST_KEY), client: 'paired' },
  ]);
  if (!info) throw new Error('ctrl request incomplete');
  const serverType = isPs5(target) ? SERVER_TYPE.ps5 : SERVER_TYPE.ps4;
  const answer = parseCtrlResponse(formatCtrlResponse(consoleRp, serverType), clientRp);
  if (!answer) throw new Error('ctrl answer incomplete');
  expect(answer.serverType).toBe(serverType);
  const answeredAt = now;

  const ctrlC = new CtrlClient({
    target,
    crypt: clientRp,
    remoteCounter: answer.remoteCounter,
    localCounter: req.localCounter,
    now,
  });
  const ctrlS = new CtrlConsole({ target, crypt: consoleRp, remoteCounter: info.clientCounter, now });

  const log = {
    ctrlC: [] as Array<CtrlClientEvent & { at: number }>,
    ctrlS: [] as Array<CtrlConsoleEvent & { at: number }>,
    takionC: [] as TakionEvent[],
    takionS: [] as TakionEvent[],
    streamC: [] as StreamClientEvent[],
    streamS: [] as StreamConsoleEvent[],
    controller: [] as ControllerLogEvent[],
    congestion: 0,
  };
  let tc: TakionEndpoint | undefined;
  let ts: TakionEndpoint | undefined;
  let sc: StreamConnectionClient | undefined;
  let ss: StreamConnectionConsole | undefined;
  let feedback: FeedbackSender | undefined;
  let nextCongestion: number | undefined;
  const decoder = new FeedbackConsoleDecoder();
  /** false: the console neither hears nor says anything (it vanished). */
  let consoleAlive = true;

  const apply = (t: TakionEndpoint, out: StreamOutput[], onCrypt?: (o: StreamOutput) => void) => {
    for (const o of out) {
      if (o.kind === 'crypt') {
        t.setCrypt(o.local, o.remote);
        onCrypt?.(o);
      } else t.sendMessage(o.channel, o.dataType, o.payload, now);
    }
  };
  const sendFeedback = (outputs: ReturnType<FeedbackSender['update']>) => {
    if (tc?.state !== 'connected') return;
    for (const o of outputs) {
      const kp = tc.allocKeyPos(o.payload.length + 16);
      tc.sendRaw(formatFeedbackPacket(o.type, o.seq, o.payload, tc.localCrypt, kp), kp);
    }
  };

  const clientSide = (): Uint8Array[] => {
    const c = ctrlC.poll(now);
    for (const e of c.events) {
      log.ctrlC.push({ ...e, at: now });
      if (e.type === 'sessionId' && !tc) {
        tc = new TakionEndpoint({ role: 'client', now });
        sc = new StreamConnectionClient({
          target,
          sessionId: e.sessionId,
          rpcrypt: clientRp,
          launch: { width: 1280, height: 720, maxFps: 60, bitrateKbps: 10000, mtu: 1454, rtt: 1 },
        });
        tc.connect(now);
      }
    }
    toConsoleCtrl.push(...c.send);
    if (!tc || !sc) return [];
    for (const e of tc.drainEvents()) {
      log.takionC.push(e);
      if (e.type === 'connected') sc.start(now);
      else if (e.type === 'message') {
        ctrlC.noteConsoleActivity(now);
        sc.handleMessage(e, now);
      }
    }
    const r = sc.poll(now);
    log.streamC.push(...r.events);
    if (tc.state === 'connected') apply(tc, r.out);
    if (r.events.some((e) => e.type === 'connected')) {
      feedback = new FeedbackSender(isPs5(target), now);
      nextCongestion = now + 200;
    }
    if (feedback) sendFeedback(feedback.tick(now));
    if (nextCongestion !== undefined && now >= nextCongestion && tc.state === 'connected') {
      const kp = tc.allocKeyPos(15);
      tc.sendRaw(formatCongestion({ received: 0, lost: 0, keyPos: kp }), kp);
      nextCongestion += 200;
    }
    return tc.poll(now);
  };

  const consoleSide = (): Uint8Array[] => {
    const c = ctrlS.poll(now);
    for (const e of c.events) log.ctrlS.push({ ...e, at: now });
    toClientCtrl.push(...c.send);
    if (!ts) return [];
    for (const e of ts.drainEvents()) {
      log.takionS.push(e);
      if (e.type === 'connected')
        ss = new StreamConnectionConsole({
          target,
          sessionId: ctrlS.sessionId,
          rpcrypt: consoleRp,
          now,
          streamInfo: (spec) => ({
            resolutions: [
              {
                width: spec.width,
                height: spec.height,
                videoHeader: h264ParameterSets(spec.width, spec.height, 60),
              },
            ],
            audioHeader: new Uint8Array([2, 16, 0, 0, 0xbb, 0x80, 0, 0, 1, 0xe0, 0, 0, 0, 0]),
          }),
        });
      else if (e.type === 'message') ss?.handleMessage(e, now);
      else if (e.type === 'packet') {
        ss?.noteClientActivity(now);
        if (e.packetType === TakionType.Congestion) log.congestion++;
        else log.controller.push(...decoder.accept(e.bytes));
      }
    }
    if (ss) {
      const r = ss.poll(now);
      log.streamS.push(...r.events);
      apply(ts, r.out, (o) => o.kind === 'crypt' && decoder.setCrypt(o.remote));
    }
    return ts.poll(now);
  };

  const toConsoleCtrl: Uint8Array[] = [];
  const toClientCtrl: Uint8Array[] = [];
  /** Delivers one datagram at a time and lets its receiver act on it before the next one. */
  const settle = () => {
    const q: Array<['c2s' | 's2c', Uint8Array]> = [];
    for (let round = 0; round < 20_000; round++) {
      const next = q.shift();
      if (next) {
        const [dir, d] = next;
        if (dir === 'c2s') {
          if (!consoleAlive) continue;
          ts ??= new TakionEndpoint({ role: 'console', now });
          ts.handleDatagram(d, now);
          for (const x of consoleSide()) q.push(['s2c', x]);
        } else {
          tc?.handleDatagram(d, now);
          for (const x of clientSide()) q.push(['c2s', x]);
        }
        continue;
      }
      for (const d of clientSide()) q.push(['c2s', d]);
      if (consoleAlive) for (const d of consoleSide()) q.push(['s2c', d]);
      const up = toConsoleCtrl.splice(0);
      const down = toClientCtrl.splice(0);
      if (consoleAlive) {
        for (const b of up) ctrlS.feed(b, now);
        for (const b of down) ctrlC.feed(b, now);
      }
      if (q.length === 0 && up.length + down.length === 0) return;
    }
    throw new Error('did not settle');
  };
  /** Advances the clock to each machine's next wakeup (at most `step` ms at a time). */
  const advance = (ms: number, step = 50) => {
    const end = now + ms;
    settle();
    while (now < end) {
      const wakeups = [
        ctrlC.nextWakeup(),
        tc?.nextWakeup(),
        sc?.nextWakeup(),
        feedback?.nextWakeup(),
        nextCongestion,
      ];
      if (consoleAlive) wakeups.push(ctrlS.nextWakeup(), ts?.nextWakeup(), ss?.nextWakeup());
      const due = wakeups.filter((t): t is number => t !== undefined && t > now);
      now = Math.min(end, now + step, ...due);
      settle();
    }
  };
  return {
    log,
    answeredAt,
    advance,
    get now() {
      return now;
    },
    get takion() {
      return { tc: tc as TakionEndpoint, ts: ts as TakionEndpoint };
    },
    get stream() {
      return { sc: sc as StreamConnectionClient };
    },
    press: (pressed: boolean) =>
      sendFeedback(feedback?.update(withButton(IDLE_STATE, 'cross', pressed), now) ?? []),
    vanish: () => {
      consoleAlive = false;
    },
  };
}

describe.each([1000, 1000100] as const)('whole session in memory, target %i', (target) => {
  it('SESSION_ID after the answer, handshake, heartbeats, feedback, congestion, zero GMAC failures, DISCONNECT', () => {
    const s = wholeSession(target);
    s.advance(1000);
    const sid = s.log.ctrlC.find((e) => e.type === 'sessionId');
    expect(sid?.type === 'sessionId' && sid.fallback).toBe(false);
    expect(sid?.at).toBeGreaterThanOrEqual(s.answeredAt + 300); // never in the answer's write
    expect(s.log.streamC.map((e) => e.type)).toEqual(['bang', 'streamInfo', 'connected']);

    s.press(true);
    s.press(false);
    s.advance(5000);
    const hbClient = s.log.streamC.filter((e) => e.type === 'heartbeat').length;
    const hbConsole = s.log.streamS.filter(
      (e) => e.type === 'received' && e.message.type === 'heartbeat',
    ).length;
    expect(hbClient).toBeGreaterThanOrEqual(5);
    expect(hbConsole).toBeGreaterThanOrEqual(5);
    expect(s.log.ctrlC.filter((e) => e.type === 'heartbeat').length).toBeGreaterThanOrEqual(5);
    expect(
      s.log.ctrlS.filter((e) => e.type === 'received' && e.name === 'HEARTBEAT_REP').length,
    ).toBeGreaterThanOrEqual(5);
    // congestion every 200 ms: about 25 in 5 s
    expect(s.log.congestion).toBeGreaterThanOrEqual(24);
    expect(s.log.controller).toEqual([
      { type: 'controller', button: 'cross', pressed: true },
      { type: 'controller', button: 'cross', pressed: false },
    ]);

    s.stream.sc.disconnect();
    s.advance(100);
    expect(s.log.streamS.at(-1)).toEqual({ type: 'disconnected', reason: 'Client Disconnecting' });
    expect(s.takion.tc.stats.gmacFailures).toBe(0);
    expect(s.takion.ts.stats.gmacFailures).toBe(0);
    expect(s.takion.tc.stats.retransmits).toBe(0);
    expect(s.log.takionC.filter((e) => e.type === 'lost' || e.type === 'error')).toEqual([]);
  });

  it('a console that goes silent is reported lost within 5 s', () => {
    const s = wholeSession(target);
    s.advance(2000);
    expect(s.log.streamC.some((e) => e.type === 'connected')).toBe(true);
    s.vanish();
    const from = s.now;
    s.advance(6000);
    const lost = [
      ...s.log.takionC.filter((e) => e.type === 'lost').map(() => 'takion'),
      ...s.log.ctrlC.filter((e) => e.type === 'lost').map((e) => `ctrl@${e.at - from}`),
    ];
    expect(lost[0]).toBe('takion');
    const takionLost = s.log.takionC.find((e) => e.type === 'lost');
    expect(takionLost?.type === 'lost' && takionLost.error.message).toMatch(
      /^Console lost: no stream traffic/,
    );
    // the ctrl channel agrees within its own 5 s limit
    const ctrlLost = s.log.ctrlC.find((e) => e.type === 'lost');
    expect(ctrlLost && ctrlLost.at - from).toBeLessThanOrEqual(5000);
  });
});
