import type { Command } from 'commander';
import { UsageError } from '../proto-stack/errors.js';
import type { FaultOptions } from '../simulator/faults.js';
import { SimulatedConsole } from '../simulator/index.js';
import { startStreamService } from '../simulator/stream.js';
import { HOLD_MS, HOLD_STEPS, type HoldStep } from '../simulator/stream-faults.js';

interface SimulateOpts {
  host: string;
  ps5?: boolean;
  pin: string;
  name?: string;
  standby?: boolean;
  state?: string;
  jsonEvents?: string;
  systemVersion?: string;
  allowLan?: boolean;
  bootTime: string;
  pairingClosed?: boolean;
  tamperAfter?: string;
  flood?: string;
  loginPin?: string;
  loss?: string;
  reorder?: string;
  dup?: string;
  jitter?: string;
  seed?: string;
  rumbleEvery?: string;
  keyboardAfter?: string;
  pro?: boolean;
  bitrateCap?: string;
  logDatagrams?: boolean;
  pathMtu?: string;
  senkusha?: boolean;
  registDelay?: string;
  hold?: string;
}

/** A number of seconds (0 < s <= 3600) as milliseconds, undefined when the option is absent. */
function secondsOption(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v <= 0 || v > 3600)
    throw new UsageError(`--${name} takes seconds (more than 0, at most 3600), got "${text}"`);
  return Math.round(v * 1000);
}

/** --loss/--reorder/--dup/--jitter/--seed as FaultInjector options (undefined when none is given). */
function faultOptions(o: SimulateOpts): FaultOptions | undefined {
  const num = (name: string, text: string | undefined, max: number, unit: string) => {
    if (text === undefined) return undefined;
    const v = Number(text);
    if (text.trim() === '' || !Number.isFinite(v) || v < 0 || v > max)
      throw new UsageError(`--${name} takes ${unit}, got "${text}"`);
    return v;
  };
  const f: FaultOptions = {
    loss: num('loss', o.loss, 1, 'a probability from 0 to 1 (0.05 = 5 %)'),
    reorder: num('reorder', o.reorder, 1, 'a probability from 0 to 1'),
    dup: num('dup', o.dup, 1, 'a probability from 0 to 1'),
    jitterMs: num('jitter', o.jitter, 10_000, 'milliseconds (0-10000)'),
  };
  if (o.seed !== undefined) {
    const seed = Number(o.seed);
    if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed takes an integer, got "${o.seed}"`);
    f.seed = seed;
  }
  return Object.values(f).some((v) => v !== undefined) ? f : undefined;
}

export const register = (program: Command): void => {
  program
    .command('simulate')
    .description(
      'play a PS4/PS5 on a local address: discovery, wake-up, PIN registration and stream sessions',
    )
    .option('--host <address>', 'the only address to listen on (loopback unless --allow-lan)', '127.0.0.2')
    .option('--ps5', 'simulate a PS5 (default: a PS4)')
    .option('--pro', 'a PS4 Pro (RP-Server-Type 1): serves 1080p to PS4 clients')
    .option('--pin <digits>', 'the 8-digit registration PIN the console "shows"', '12345678')
    .option('--name <name>', 'console nickname (default: remembered in --state, else PS4-sim / PS5-sim)')
    .option('--standby', 'start in rest mode (discovery says standby until a paired client wakes it)')
    .option('--state <file>', 'remember identity and paired clients in this file across restarts')
    .option('--json-events <file>', 'write one JSON object per line for every event (for tests)')
    .option('--system-version <digits>', 'firmware as discovery reports it, e.g. 12020001 (PS4 12.02)')
    .option('--allow-lan', 'allow a non-loopback --host (the console is then reachable from the network)')
    .option('--boot-time <ms>', 'how long waking up takes', '1000')
    .option('--pairing-closed', 'refuse every registration, as a console whose pairing screen is not open')
    .option('--regist-delay <s>', 'answer a registration only after s seconds, as a slow console')
    .option(
      '--login-pin <digits>',
      'the console user has this 4-digit login passcode (asked before streaming)',
    )
    .option('--loss <p>', 'drop this fraction of video/audio datagrams, e.g. 0.05 (each drop is logged)')
    .option('--reorder <p>', 'send this fraction of AV datagrams after the next one')
    .option('--dup <p>', 'send this fraction of AV datagrams twice')
    .option('--jitter <ms>', 'delay each AV datagram by a random 0..ms')
    .option('--seed <n>', 'seed of the fault dice (default 1): the same seed repeats the same faults')
    .option('--rumble-every <s>', 'while streaming, send a rumble message every s seconds (on, off, on, ...)')
    .option('--keyboard-after <s>', 'open the on-screen keyboard s seconds after streaming started')
    .option('--bitrate-cap <kbps>', 'stream at most this video bitrate, whatever the client asks')
    .option('--log-datagrams', 'with --json-events: log every AV datagram sent, with its key_pos ("av-sent")')
    .option(
      '--path-mtu <bytes>',
      "Senkusha: lose datagrams larger than this (a client's MTU search finds it)",
    )
    .option(
      '--flood <pps>',
      "test: send the client this many forged video datagrams a second (a spoofed console's)",
    )
    .option('--no-senkusha', 'leave UDP 9297 closed, as a console that does not answer the RTT/MTU probe')
    .option(
      '--hold <step>',
      `test: answer this step late, as a slow console: ${HOLD_STEPS.map((st) => `${st} (${HOLD_MS[st]} ms)`).join(', ')}`,
    )
    .option(
      '--tamper-after <n>',
      'test: flip one bit in the nth stream datagram sent after the stream handshake',
    )
    .addHelpText(
      'after',
      '\nListens on UDP 987 (PS4) or 9302 (PS5) for discovery, UDP and TCP 9295 for registration and\n' +
        'stream session requests, UDP 9296 for the stream (one paired client at a time) and UDP 9297\n' +
        "for the client's RTT/MTU probe (Senkusha), all on\n" +
        '--host only. PS4 discovery uses port 987, which needs root on Linux unless\n' +
        'net.ipv4.ip_unprivileged_port_start allows it; --ps5 needs no privileges. Bound to one address,\n' +
        'it does not hear LAN broadcasts: find it with `rptui discover --host ADDRESS`. Stop with Ctrl-C.\n\n' +
        'A stream plays the committed test clip closest to the requested resolution (H.264 360p/720p/1080p,\n' +
        'HEVC 720p for a PS5 asked for H.265) with a 1 kHz Opus tone at the bitrate the client asks\n' +
        '(frames padded with filler data, key frames several times larger), FEC-protected as a console does;\n' +
        'CORRUPTFRAME/IDRREQUEST restart it from a key frame. --loss/--reorder/--dup/--jitter apply to\n' +
        'AV datagrams only; --json-events logs every dropped one ("drop") and every frame sent.\n' +
        'Pairing keys (RegistKey, RP-Key) are logged only with --debug; the --json-events file is 0600.\n' +
        'While streaming it reports CONNECTIONQUALITY every second (loss = datagrams --loss dropped in it).\n\n' +
        'Example (two terminals):\n  rptui simulate --ps5 --pin 11112222\n' +
        '  rptui discover --host 127.0.0.2 && rptui register --host 127.0.0.2 --pin 11112222 --account-id 1234567890\n' +
        '  rptui connect PS5-sim --duration 10',
    )
    .action(async (o: SimulateOpts, cmd: Command) => {
      const bootMs = Number(o.bootTime);
      if (!Number.isInteger(bootMs) || bootMs < 0 || bootMs > 600_000) {
        throw new UsageError(`--boot-time takes milliseconds (0-600000), got "${o.bootTime}"`);
      }
      const tamperAfter = o.tamperAfter === undefined ? undefined : Number(o.tamperAfter);
      if (tamperAfter !== undefined && (!Number.isInteger(tamperAfter) || tamperAfter < 1)) {
        throw new UsageError(`--tamper-after takes a datagram number (1 or more), got "${o.tamperAfter}"`);
      }
      if (o.loginPin !== undefined && !/^\d{4}$/.test(o.loginPin)) {
        throw new UsageError(`--login-pin takes 4 digits, got "${o.loginPin}"`);
      }
      if (o.pro && o.ps5) throw new UsageError('--pro is a PS4 Pro: leave out --ps5');
      const bitrateCapKbps = o.bitrateCap === undefined ? undefined : Number(o.bitrateCap);
      if (bitrateCapKbps !== undefined && (!Number.isInteger(bitrateCapKbps) || bitrateCapKbps < 100))
        throw new UsageError(`--bitrate-cap takes kbit/s (100 or more), got "${o.bitrateCap}"`);
      const floodPps = o.flood === undefined ? undefined : Number(o.flood);
      if (floodPps !== undefined && (!Number.isInteger(floodPps) || floodPps < 1 || floodPps > 1_000_000))
        throw new UsageError(`--flood takes datagrams a second (1 to 1000000), got "${o.flood}"`);
      const pathMtu = o.pathMtu === undefined ? undefined : Number(o.pathMtu);
      if (pathMtu !== undefined && (!Number.isInteger(pathMtu) || pathMtu < 576 || pathMtu > 1500))
        throw new UsageError(`--path-mtu takes bytes from 576 to 1500, got "${o.pathMtu}"`);
      if (o.hold !== undefined && !(HOLD_STEPS as readonly string[]).includes(o.hold))
        throw new UsageError(`--hold takes one of ${HOLD_STEPS.join(', ')}, got "${o.hold}"`);
      const faults = faultOptions(o);
      const rumbleEveryMs = secondsOption('rumble-every', o.rumbleEvery);
      const keyboardAfterMs = secondsOption('keyboard-after', o.keyboardAfter);
      const registDelayMs = secondsOption('regist-delay', o.registDelay);
      const sim = await SimulatedConsole.start({
        host: o.host,
        kind: o.ps5 ? 'PS5' : 'PS4',
        pin: o.pin,
        nickname: o.name,
        standby: o.standby,
        statePath: o.state,
        eventsPath: o.jsonEvents,
        systemVersion: o.systemVersion,
        allowLan: o.allowLan,
        bootMs,
        pairingClosed: o.pairingClosed,
        registDelayMs,
        debug: cmd.optsWithGlobals().debug === true,
        print: (line) => process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`),
      });
      await startStreamService(sim, {
        tamperAfter,
        floodPps,
        loginPin: o.loginPin,
        faults,
        rumbleEveryMs,
        keyboardAfterMs,
        pro: o.pro,
        bitrateCapKbps,
        logDatagrams: o.logDatagrams,
        pathMtu,
        noSenkusha: o.senkusha === false,
        hold: o.hold as HoldStep | undefined,
      }).catch(async (err) => {
        await sim.stop();
        throw err;
      });
      process.stdout.write(`registration PIN: ${o.pin}   (Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => {
        const done = () => resolve();
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      await sim.stop();
    });
};
