/**
 * The console's side of DDP: SRCH is answered with the power state (200 ready / 620 standby),
 * a WAKEUP is honoured only with the credential of a paired client, like a real console, and
 * never answered (a console just boots).
 */

import { fromHex } from '../proto-stack/bytes.js';
import {
  DDP_STATUS_READY,
  DDP_STATUS_STANDBY,
  DDP_VERSION_PS4,
  DDP_VERSION_PS5,
  formatDdpResponse,
  parseDdpRequest,
  wakeCredential,
} from '../proto-stack/discovery.js';
import { ConfigError, ParseError } from '../proto-stack/errors.js';
import type { ConsoleHost, UdpHandler } from './host.js';

/** What consoles put in host-request-port. */
const HOST_REQUEST_PORT = 997;

/** The paired client whose RegistKey yields `credential`, if any. */
function pairedBy(sim: ConsoleHost, credential: string) {
  return sim.state.data.paired.find((p) => {
    try {
      return wakeCredential(fromHex(p.registKey)) === credential;
    } catch (err) {
      if (err instanceof ConfigError || err instanceof ParseError) return false;
      throw err;
    }
  });
}

export function ddpHandler(sim: ConsoleHost): UdpHandler {
  return (data, from) => {
    const who = `${from.address}:${from.port}`;
    let req: ReturnType<typeof parseDdpRequest>;
    try {
      req = parseDdpRequest(data);
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
      sim.events.emit(
        'refusal',
        { proto: 'ddp', from: from.address, reason: 'malformed', message: err.message },
        `DDP from ${who}: malformed request ignored (${err.message})`,
      );
      return undefined;
    }
    const command = req.command;
    sim.events.emit(
      'request',
      { proto: 'ddp', command, from: from.address, port: from.port },
      `DDP ${command} from ${who}`,
    );
    switch (command) {
      case 'SRCH': {
        const d = sim.state.data;
        const statusCode = sim.power === 'ready' ? DDP_STATUS_READY : DDP_STATUS_STANDBY;
        sim.events.emit(
          'answer',
          { proto: 'ddp', command, to: from.address, status: sim.power, statusCode },
          `  -> ${statusCode} ${sim.power}`,
        );
        return formatDdpResponse({
          statusCode,
          hostId: d.hostId,
          hostName: d.nickname,
          hostType: sim.kind,
          requestPort: HOST_REQUEST_PORT,
          systemVersion: d.systemVersion,
          protocolVersion: sim.kind === 'PS5' ? DDP_VERSION_PS5 : DDP_VERSION_PS4,
        });
      }
      case 'WAKEUP': {
        const credential = req.fields.get('user-credential') ?? '';
        const client = pairedBy(sim, credential);
        if (!client) {
          sim.events.emit(
            'refusal',
            { proto: 'ddp', command, from: from.address, reason: 'unknown-credential' },
            '  -> ignored: the credential belongs to no paired client',
          );
        } else if (sim.power === 'standby') {
          sim.events.emit(
            'answer',
            { proto: 'ddp', command, to: from.address, accountId: client.accountId, action: 'booting' },
            '  -> valid credential: waking up',
          );
          sim.wakeUp(from);
        } else {
          sim.events.emit(
            'ignored',
            { proto: 'ddp', command, from: from.address, reason: 'already-awake' },
            '  -> already awake',
          );
        }
        return undefined;
      }
      case 'LAUNCH':
        sim.events.emit(
          'ignored',
          { proto: 'ddp', command, from: from.address, reason: 'unsupported' },
          '  -> LAUNCH is not simulated',
        );
        return undefined;
    }
  };
}
