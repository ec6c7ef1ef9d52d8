/**
 * The simulator's log of a console session: each ConsoleSession event as the event-log entry (and
 * text line) that `rptui simulate` prints and writes with --json-events. Tests read these fields.
 */
import { type ConsoleEvent, type GateAnswer, messageName } from '../proto-stack/consolesession.js';
import { CTRL } from '../proto-stack/ctrl.js';
import type { TakionMessage } from '../proto-stack/streamconnection.js';
import type { EventLog } from './events.js';
import type { Remote } from './host.js';

export interface LogContext {
  /** The client's UDP address, once known. */
  peer: Remote | undefined;
  /** Datagrams the driver tampered with (--tamper-after) and forged (--flood). */
  tampered: () => number;
  flooded?: () => number;
  /** The AV network's fault counters. */
  network: () => Record<string, number>;
  /** Log every AV datagram (`av-sent`), not only each frame's first. */
  logDatagrams?: boolean;
}

/** The parts of a message worth a log field. */
function messageDetail(m: TakionMessage): Record<string, unknown> {
  switch (m.type) {
    case 'disconnect':
      return { reason: m.reason };
    case 'corruptFrame':
      return { start: m.start, end: m.end };
    case 'controllerConnection':
      return { connected: m.connected, controllerType: m.controllerType };
    case 'streamInfo':
      return {
        resolutions: m.streamInfo.resolutions.length,
        audioHeaderBytes: m.streamInfo.audioHeader.length,
      };
    default:
      return {};
  }
}

/** A ConsoleSession event as the simulator's log line(s). */
export function logConsoleEvent(ev: EventLog, e: ConsoleEvent, ctx: LogContext): void {
  switch (e.type) {
    case 'ctrlSent':
      ev.emit(
        e.message === 'KEYBOARD_OPEN' ? 'keyboard' : 'ctrl',
        e.message === 'KEYBOARD_OPEN'
          ? { dir: 'out', action: 'open', text: '' }
          : { dir: 'out', message: e.message, ...(e.sessionId ? { sessionId: e.sessionId } : {}) },
        `  ctrl -> ${e.message}`,
      );
      return;
    case 'ctrlReceived':
      if (e.msgType === CTRL.KEYBOARD_TEXT_CHANGE_REQ)
        ev.emit(
          'keyboard',
          { dir: 'in', action: 'text', text: e.detail?.text },
          `  keyboard <- text ${JSON.stringify(e.detail?.text)}`,
        );
      else if (e.msgType === CTRL.KEYBOARD_CLOSE_REQ)
        ev.emit(
          'keyboard',
          { dir: 'in', action: 'close', accepted: e.detail?.accepted },
          `  keyboard <- ${e.detail?.accepted ? 'accept' : 'reject'}`,
        );
      ev.emit(
        'ctrl',
        { dir: 'in', message: e.name, ...(e.detail ?? {}) },
        e.msgType === CTRL.GOTO_BED ? '  ctrl <- GOTO_BED: going to rest mode' : undefined,
      );
      return;
    case 'ctrlWarning':
      ev.emit('ctrl', { dir: 'in', warning: e.message }, `  ctrl: ${e.message}`);
      return;
    case 'senkusha': {
      const p = e.event;
      const text: Partial<Record<typeof p.type, string>> = {
        connected: '  senkusha: probe connected (UDP 9297)',
        disconnected: '  senkusha: probe finished',
      };
      ev.emit(
        'senkusha',
        p.type === 'lost' ? { type: 'lost', message: p.error.message } : { ...p },
        text[p.type],
      );
      return;
    }
    case 'takionConnected':
      ev.emit(
        'takion',
        { state: 'connected', from: `${ctx.peer?.address}:${ctx.peer?.port}` },
        '  Takion connected',
      );
      return;
    case 'takionWarning':
      ev.emit('takion', { warning: e.message }, `  Takion: ${e.message}`);
      return;
    case 'big': {
      const s = e.launchSpec;
      ev.emit(
        'stream',
        {
          dir: 'in',
          message: 'BIG',
          clientVersion: e.big.clientVersion,
          width: s.width,
          height: s.height,
          fps: s.maxFps,
          bitrateKbps: s.bitrateKbps,
          codec: s.codec,
          mtu: s.mtu,
          rtt: s.rtt,
        },
        `  stream <- BIG ${s.width}x${s.height}@${s.maxFps} ${s.bitrateKbps} kbps`,
      );
      ev.emit('stream', { dir: 'out', message: 'BANG' }, '  stream -> BANG');
      return;
    }
    case 'bangRefused':
      ev.emit(
        'stream',
        { dir: 'out', message: 'BANG', rejected: e.error.message },
        `  stream -> BANG (refused: ${e.error.message})`,
      );
      return;
    case 'streamInfoSent': {
      const r = e.streamInfo.resolutions[0];
      ev.emit(
        'stream',
        { dir: 'out', message: 'STREAMINFO', width: r?.width, height: r?.height },
        `  stream -> STREAMINFO ${r?.width}x${r?.height}`,
      );
      return;
    }
    case 'streamReceived': {
      const m = e.message;
      if (m.type === 'big') return; // logged with its launch spec
      const name = messageName(m);
      ev.emit(
        'stream',
        { dir: 'in', message: name, channel: e.channel, ...messageDetail(m) },
        m.type === 'heartbeat' ? undefined : `  stream <- ${name}`,
      );
      return;
    }
    case 'dataReceived':
      ev.emit('stream', {
        dir: 'in',
        message: 'DATA',
        channel: e.channel,
        dataType: e.dataType,
        bytes: e.bytes,
      });
      return;
    case 'streamWarning':
      ev.emit('stream', { dir: 'in', warning: e.message }, `  stream: ${e.message}`);
      return;
    case 'controller':
      ev.emit('controller', { ...e.event }, `  controller ${JSON.stringify(e.event)}`);
      return;
    case 'keyframe':
      ev.emit(
        'keyframe',
        {
          request: e.request,
          outcome: e.outcome,
          nextFrameIndex: e.nextFrameIndex,
          clipFrame: e.clipFrame,
        },
        e.outcome === 'restart'
          ? `  ${e.request}: restarting from the key frame at clip frame ${e.clipFrame} (wire frame ${e.nextFrameIndex})`
          : undefined,
      );
      return;
    case 'avSent': {
      const p = e.send;
      if (p.kind === 'video' && p.unitIndex === 0)
        ev.emit('frame-sent', {
          frameIndex: p.frameIndex,
          keyframe: p.keyframe,
          unitsTotal: p.unitsTotal,
          fecUnits: p.fecUnits,
          clipFrame: p.clipFrame,
          keyPos: e.keyPos,
        });
      if (ctx.logDatagrams)
        ev.emit('av-sent', {
          kind: p.kind,
          frameIndex: p.frameIndex,
          unitIndex: p.unitIndex,
          keyPos: e.keyPos,
        });
      return;
    }
    case 'rumbleSent':
      ev.emit(
        'rumble',
        { dir: 'out', left: e.left, right: e.right },
        `  rumble -> left ${e.left} right ${e.right}`,
      );
      return;
    case 'qualitySent':
      ev.emit('stream', { dir: 'out', message: 'CONNECTIONQUALITY', ...e.quality });
      return;
    case 'stats': {
      const s = e.stats;
      ev.emit(
        'stats',
        {
          final: e.final,
          ...s,
          tampered: ctx.tampered(),
          flooded: ctx.flooded?.() ?? 0,
          ...(s.av ? { av: { ...s.av, ...ctx.network() } } : {}),
        },
        e.final
          ? `  session stats: ${s.gmacFailures} GMAC failures, ${s.datagramsIn} datagrams in`
          : undefined,
      );
      return;
    }
    case 'ended':
      ev.emit('session', { state: 'ended', reason: e.reason }, `session ended: ${e.reason}`);
      return;
  }
}

/** The gate's answer to a session request (the RegistKey only with --debug). */
export function logSessionInit(
  ev: EventLog,
  from: string,
  o: GateAnswer<{ accountId: string }>,
  debug: boolean,
): void {
  if (o.kind === 'nonce') {
    ev.emit(
      'request',
      { proto: 'session-init', from, registKey: o.registKey, rpVersion: o.rpVersion },
      `session request from ${from} (RP-Version ${o.rpVersion}${debug ? `, RegistKey ${o.registKey}` : ''})`,
    );
    ev.emit(
      'answer',
      { proto: 'session-init', to: from, accountId: o.client.accountId },
      `  -> nonce for paired account ${o.client.accountId}`,
    );
    return;
  }
  ev.emit('request', { proto: 'session-init', from }, `session request from ${from}`);
  if (o.kind === 'refused')
    ev.emit(
      'refusal',
      { proto: 'session-init', from, reason: o.reason, code: o.code.toString(16), message: o.message },
      `  -> session refused (${o.reason}): RP-Application-Reason ${o.code.toString(16)}`,
    );
}

/** The gate's answer to a ctrl request (the request itself is logged before it is judged). */
export function logCtrlAnswer(ev: EventLog, from: string, o: GateAnswer<{ accountId: string }>): void {
  if (o.kind === 'refused')
    ev.emit(
      'refusal',
      { proto: 'ctrl', from, reason: o.reason, code: o.code.toString(16), message: o.message },
      o.reason === 'in-use' ? '  -> ctrl refused: in use' : `  -> ctrl refused (${o.reason}): ${o.message}`,
    );
  else if (o.kind === 'accepted')
    ev.emit(
      'answer',
      {
        proto: 'ctrl',
        to: from,
        serverType: o.serverType,
        osType: o.info.osType,
        streamingType: o.info.streamingType,
        accountId: o.client.accountId,
      },
      `  -> ctrl open for account ${o.client.accountId} (${o.info.osType})`,
    );
}
