/**
 * DDP, the UDP discovery protocol (docs/protocol.md §1): SRCH asks a console for its state, WAKEUP
 * (with the user credential derived from the RegistKey) wakes it from standby, LAUNCH is the
 * variant one reference sends to open Remote Play. Requests are `<CMD> * HTTP/1.1` with
 * `key:value` lines; answers are `HTTP/1.1 200 Ok` (ready) or `620 Server Standby` with the
 * console's facts. Client side and console side (simulator).
 */

import { concatBytes, utf8 } from './bytes.js';
import { ConfigError, ParseError, UsageError } from './errors.js';
import { parseHttpRequestText, parseHttpResponseText } from './http.js';
import { type Target, targetFromDiscovery } from './target.js';

const LAYER = 'discovery';

export const DDP_PORT_PS4 = 987;
export const DDP_PORT_PS5 = 9302;
/**
 * Local ports a client sends discovery and wake-up from, tried in order (any port after them):
 * both references use 9303 for a PS5, one noting that a PS5 needs it (docs/protocol.md §1).
 */
export const DDP_CLIENT_PORTS: readonly number[] = Array.from({ length: 17 }, (_, i) => 9303 + i);
export const DDP_VERSION_PS4 = '00020020';
export const DDP_VERSION_PS5 = '00030010';
export const DDP_STATUS_READY = 200;
export const DDP_STATUS_STANDBY = 620;

export type DdpCommand = 'SRCH' | 'WAKEUP' | 'LAUNCH';
const COMMANDS: readonly DdpCommand[] = ['SRCH', 'WAKEUP', 'LAUNCH'];

function checkCredential(credential: string | undefined, cmd: DdpCommand): string {
  if (credential === undefined || !/^\d{1,20}$/.test(credential))
    throw new UsageError(
      `${cmd} needs a user credential (a decimal number), got ${JSON.stringify(credential)}`,
      'the credential comes from the RegistKey of a registered profile (rptui register)',
    );
  return credential;
}

/**
 * A request datagram. Each console gets its own protocol version; like the reference C client we
 * append one NUL byte (consoles accept it with or without).
 */
export function formatDdpRequest(cmd: DdpCommand, opts: { ps5: boolean; credential?: string }): Uint8Array {
  const lines = [`${cmd} * HTTP/1.1`];
  switch (cmd) {
    case 'SRCH':
      break;
    case 'WAKEUP':
      lines.push(
        'client-type:vr',
        'auth-type:R',
        'model:w',
        'app-type:r',
        `user-credential:${checkCredential(opts.credential, cmd)}`,
      );
      break;
    case 'LAUNCH':
      lines.push(`user-credential:${checkCredential(opts.credential, cmd)}`, 'client-type:a', 'auth-type:C');
      break;
    default:
      throw new UsageError(`unknown DDP command ${JSON.stringify(cmd)}`);
  }
  lines.push(`device-discovery-protocol-version:${opts.ps5 ? DDP_VERSION_PS5 : DDP_VERSION_PS4}`);
  return concatBytes(utf8(`${lines.join('\n')}\n`), Uint8Array.of(0));
}

/** Datagrams may carry trailing NULs (the reference C client sends one). */
function trimNul(buf: Uint8Array): Uint8Array {
  let n = buf.length;
  while (n > 0 && buf[n - 1] === 0) n--;
  return buf.subarray(0, n);
}

/** Console side: what a client asked. Keys of `fields` are lower-case. */
export function parseDdpRequest(buf: Uint8Array): { command: DdpCommand; fields: Map<string, string> } {
  const req = parseHttpRequestText(trimNul(buf), LAYER);
  const command = COMMANDS.find((c) => c === req.method);
  if (!command || req.path !== '*')
    throw new ParseError(LAYER, `unknown request "${req.method} ${req.path.slice(0, 20)}"`);
  if (command !== 'SRCH') {
    const cred = req.headers.get('user-credential');
    if (cred === undefined || !/^\d{1,20}$/.test(cred))
      throw new ParseError(LAYER, `${command} without a valid user-credential`);
  }
  return { command, fields: req.headers };
}

export interface DdpHost {
  status: 'ready' | 'standby' | 'unknown';
  statusCode: number;
  /** The console's MAC as 12 upper-case hex digits (= PS4-/PS5-Mac of registration). */
  hostId: string;
  hostName: string;
  hostType: 'PS4' | 'PS5';
  /** 0 when the console did not say. */
  requestPort: number;
  systemVersion: string;
  protocolVersion: string;
  runningAppTitleId?: string;
  runningAppName?: string;
  target: Target;
}

/** Client side: a console's answer to SRCH. ParseError when it is not a PlayStation's answer. */
export function parseDdpResponse(buf: Uint8Array): DdpHost {
  const res = parseHttpResponseText(trimNul(buf), LAYER);
  const h = res.headers;
  const hostId = h.get('host-id') ?? '';
  if (!/^[0-9a-fA-F]{12}$/.test(hostId))
    throw new ParseError(
      LAYER,
      `answer without a valid host-id (got ${JSON.stringify(hostId.slice(0, 20))})`,
    );
  const protocolVersion = h.get('device-discovery-protocol-version') ?? '';
  const type = h.get('host-type')?.toUpperCase();
  if (type !== undefined && type !== 'PS4' && type !== 'PS5')
    throw new ParseError(LAYER, `unknown host-type ${JSON.stringify(type.slice(0, 20))}`);
  // The protocol version decides the generation (as in the reference); host-type is the fallback.
  const ps5 = protocolVersion !== '' ? protocolVersion === DDP_VERSION_PS5 : type === 'PS5';
  const hostType = type ?? (ps5 ? 'PS5' : 'PS4');
  const portText = h.get('host-request-port');
  let requestPort = 0;
  if (portText !== undefined) {
    requestPort = /^\d{1,5}$/.test(portText) ? Number(portText) : -1;
    if (requestPort < 1 || requestPort > 65535)
      throw new ParseError(LAYER, `bad host-request-port ${JSON.stringify(portText.slice(0, 20))}`);
  }
  const systemVersion = h.get('system-version') ?? '';
  const host: DdpHost = {
    status:
      res.status === DDP_STATUS_READY ? 'ready' : res.status === DDP_STATUS_STANDBY ? 'standby' : 'unknown',
    statusCode: res.status,
    hostId: hostId.toUpperCase(),
    hostName: h.get('host-name') ?? '',
    hostType,
    requestPort,
    systemVersion,
    protocolVersion,
    target: targetFromDiscovery(ps5, systemVersion),
  };
  const titleId = h.get('running-app-titleid');
  const appName = h.get('running-app-name');
  if (titleId) host.runningAppTitleId = titleId;
  if (appName) host.runningAppName = appName;
  return host;
}

/** Console side: the answer to SRCH. statusCode 200 = ready, 620 = standby. */
export function formatDdpResponse(host: Omit<DdpHost, 'target' | 'status'>): Uint8Array {
  const reason =
    host.statusCode === DDP_STATUS_READY
      ? 'Ok'
      : host.statusCode === DDP_STATUS_STANDBY
        ? 'Server Standby'
        : 'Unknown';
  const fields: Array<[string, string | number | undefined]> = [
    ['host-id', host.hostId],
    ['host-type', host.hostType],
    ['host-name', host.hostName],
    ['host-request-port', host.requestPort],
    ['device-discovery-protocol-version', host.protocolVersion],
    ['system-version', host.systemVersion],
    ['running-app-titleid', host.runningAppTitleId],
    ['running-app-name', host.runningAppName],
  ];
  let text = `HTTP/1.1 ${host.statusCode} ${reason}\n`;
  for (const [k, v] of fields) {
    if (v === undefined) continue;
    if (/[\r\n\0]/.test(String(v)))
      throw new UsageError(`DDP ${k} must be one line, got ${JSON.stringify(v)}`);
    text += `${k}:${v}\n`;
  }
  return utf8(text);
}

/**
 * WAKEUP user-credential from the stored RegistKey bytes: they hold hex text (8 ASCII hex digits,
 * zero padded), read as a hex number and sent in decimal (docs/protocol.md §1).
 */
export function wakeCredential(registKey: Uint8Array): string {
  let n = registKey.indexOf(0);
  if (n === -1) n = registKey.length;
  let text = '';
  for (let i = 0; i < n; i++) text += String.fromCharCode(registKey[i]);
  if (!/^[0-9a-fA-F]{1,16}$/.test(text))
    throw new ConfigError('the stored RegistKey does not hold the hex text a console hands out', {
      hint: 're-register the console (rptui register) to get a valid key',
    });
  return BigInt(`0x${text}`).toString(10);
}
