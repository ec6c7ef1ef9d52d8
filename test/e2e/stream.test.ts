// End to end: the real CLI (./bin/rptui) pairs with and streams from `rptui simulate` child
// processes, PS4 on 127.0.0.12 and PS5 on 127.0.0.13: handshake, STREAMINFO, heartbeats both
// ways, zero GMAC failures, DISCONNECT; refusal of altered keys; a tampered datagram; a vanishing
// console.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, spawnCli, useHarness } from '../helpers/cli.js';
import { finalStats, received, startSimulator } from '../helpers/simulator.js';

const h = useHarness();
const ACCOUNT = '1234567890123456789';
const PIN = '13572468';

interface Stats {
  video: { frames: number; recovered: number; lost: number; fps: number; kbps: number };
  audio: { frames: number };
  packets: { received: number; lost: number; malformed: number; forged: number };
  rttMs: number;
  heartbeats: { ctrlReceived: number; streamReceived: number };
  streamInfo?: { width: number; height: number; serverType: string };
  closed?: { code: string };
}

const noStackTrace = (text: string) => expect(text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);

describe.each([
  // PS4: the console process is killed (its ctrl connection closes); PS5: it freezes (SIGSTOP),
  // so only the silence on Takion and ctrl tells the client it is gone.
  { kind: 'PS4', host: '127.0.0.12', ps5: false, serverType: 'PS4', vanish: 'SIGKILL' as const },
  { kind: 'PS5', host: '127.0.0.13', ps5: true, serverType: 'PS5', vanish: 'SIGSTOP' as const },
])('stream session with a simulated $kind on $host', ({ kind, host, ps5, serverType, vanish }) => {
  it('registers, streams 5 s with heartbeats both ways and zero GMAC failures, disconnects cleanly; altered keys are refused', async () => {
    const cfg = h.tempDir();
    const cli = (...args: string[]) => runCli(args, { configDir: cfg, timeoutMs: 30_000 });
    const sim = await startSimulator(h, { host, ps5, pin: PIN, name: `stream-${kind}` });
    let r = await cli('register', '--host', host, '--pin', PIN, '--account-id', ACCOUNT, '--name', 'tv');
    expect(r.code).toBe(0);

    const statsPath = join(cfg, 'stats.json');
    const started = Date.now();
    r = await cli(
      'connect',
      'tv',
      '--duration',
      '5',
      '--video',
      'none',
      '--audio',
      'none',
      '--stats-json',
      statsPath,
      '--json',
    );
    const elapsed = Date.now() - started;
    expect(r.code, r.stderr).toBe(0);
    expect(elapsed).toBeGreaterThan(5000);
    expect(elapsed).toBeLessThan(15_000);
    // progress and stream info on stderr
    expect(r.stderr).toContain('stream handshake (BIG/BANG, stream info)');
    expect(r.stderr).toContain(
      `stream: 1280x720 @ 60 fps, H264, 10000 kbps; audio 2 ch 48000 Hz; console ${serverType}`,
    );
    expect(r.stderr).toContain('disconnected by the user');

    const stats = JSON.parse(readFileSync(statsPath, 'utf8')) as Stats;
    expect(JSON.parse(r.stdout)).toEqual(stats);
    expect(stats.closed?.code).toBe('user');
    expect(stats.streamInfo).toMatchObject({ width: 1280, height: 720, serverType });
    for (const key of ['frames', 'recovered', 'lost', 'fps', 'kbps'] as const)
      expect(typeof stats.video[key]).toBe('number');
    expect(typeof stats.audio.frames).toBe('number');
    expect(stats.packets.forged).toBe(0);
    expect(stats.packets.lost).toBe(0);
    expect(stats.packets.received).toBeGreaterThan(10);
    expect(stats.rttMs).toBeGreaterThanOrEqual(0);
    expect(stats.rttMs).toBeLessThan(1000); // loopback; generous for a loaded machine
    // the console's heartbeats reached the client on both channels
    expect(stats.heartbeats.streamReceived).toBeGreaterThanOrEqual(4);
    expect(stats.heartbeats.ctrlReceived).toBeGreaterThanOrEqual(4);

    const ev = sim.events();
    const big = received(ev, 'BIG');
    expect(big).toHaveLength(1);
    expect(big[0]).toMatchObject({
      clientVersion: ps5 ? 12 : 9,
      width: 1280,
      height: 720,
      fps: 60,
      bitrateKbps: 10000,
    });
    expect(ev.some((e) => e.event === 'stream' && e.dir === 'out' && e.message === 'BANG')).toBe(true);
    expect(ev.some((e) => e.event === 'stream' && e.dir === 'out' && e.message === 'STREAMINFO')).toBe(true);
    expect(received(ev, 'STREAMINFOACK')).toHaveLength(1);
    // the client's heartbeats reached the console on both channels
    expect(received(ev, 'HEARTBEAT').length).toBeGreaterThanOrEqual(4);
    expect(
      ev.filter((e) => e.event === 'ctrl' && e.message === 'HEARTBEAT_REP').length,
    ).toBeGreaterThanOrEqual(4);
    const disconnect = received(ev, 'DISCONNECT');
    expect(disconnect).toHaveLength(1);
    expect(disconnect[0].reason).toBe('Client Disconnecting');
    const periodic = ev.filter((e) => e.event === 'stats' && e.final === false);
    expect(periodic.length).toBeGreaterThanOrEqual(4);
    const [fin] = finalStats(ev);
    expect(fin).toMatchObject({ gmacFailures: 0 });
    expect(fin.feedbackState).toBeGreaterThan(10);
    expect(fin.congestion).toBeGreaterThan(10);
    expect(periodic.every((e) => e.gmacFailures === 0)).toBe(true);

    // altered keys: a RegistKey the console never handed out, then a wrong RP-Key
    const profilesPath = join(cfg, 'profiles.json');
    const doc = JSON.parse(readFileSync(profilesPath, 'utf8'));
    const tv = doc.profiles[0];
    const flip = (hex: string) => (hex[0] === '6' ? '7' : '6') + hex.slice(1);
    doc.profiles.push({ ...tv, name: 'bad-regist', registKey: flip(tv.registKey) });
    doc.profiles.push({ ...tv, name: 'bad-rpkey', rpKey: flip(tv.rpKey) });
    writeFileSync(profilesPath, JSON.stringify(doc));

    r = await cli('connect', 'bad-regist', '--duration', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "rptui: the console refused the session: it does not recognise this profile's pairing keys (RP-Application-Reason 80108b02)",
    );
    expect(r.stderr).toMatch(/hint: .*pair again/);
    noStackTrace(r.stderr);
    await sim.waitFor(
      (e) => e.event === 'refusal' && e.proto === 'session-init' && e.reason === 'not-paired',
    );

    r = await cli('connect', 'bad-rpkey', '--duration', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "rptui: the console refused the ctrl connection: it does not recognise this profile's pairing keys",
    );
    noStackTrace(r.stderr);
    await sim.waitFor((e) => e.event === 'refusal' && e.proto === 'ctrl' && e.reason === 'auth');
  });

  it('a tampered datagram is counted and dropped, the session goes on; a vanished console is "lost" within 5 s', async () => {
    const cfg = h.tempDir();
    const state = join(h.tempDir(), 'console.json');
    let sim = await startSimulator(h, { host, ps5, pin: PIN, state, args: ['--tamper-after', '3'] });
    let r = await runCli(
      ['register', '--host', host, '--pin', PIN, '--account-id', ACCOUNT, '--name', 'tv'],
      {
        configDir: cfg,
      },
    );
    expect(r.code).toBe(0);

    const statsPath = join(cfg, 'stats.json');
    r = await runCli(['connect', 'tv', '--duration', '3', '--stats-json', statsPath], { configDir: cfg });
    expect(r.code, r.stderr).toBe(0);
    const stats = JSON.parse(readFileSync(statsPath, 'utf8')) as Stats;
    expect(stats.packets.forged).toBe(1);
    expect(r.stderr).toMatch(/\d+ packets, 1 forged, 0 malformed/);
    let ev = sim.events();
    const tampered = ev.filter((e) => e.event === 'stream' && e.action === 'tampered');
    expect(tampered).toHaveLength(1);
    // heartbeats kept flowing after the bad packet, and the session ended cleanly
    expect(received(ev, 'HEARTBEAT').filter((e) => e.t > tampered[0].t).length).toBeGreaterThanOrEqual(2);
    expect(stats.heartbeats.streamReceived).toBeGreaterThanOrEqual(2);
    expect(received(ev, 'DISCONNECT')).toHaveLength(1);
    expect(finalStats(ev)[0]).toMatchObject({ gmacFailures: 0 });

    // the same console again, without tampering: Ctrl-C ends the stream with a DISCONNECT
    await sim.stop();
    sim = await startSimulator(h, { host, ps5, pin: PIN, state });
    const interrupted = spawnCli(['connect', 'tv'], { configDir: cfg });
    const interruptedExit = new Promise<number | null>((resolve) =>
      interrupted.on('close', (c) => resolve(c)),
    );
    await sim.waitFor((e) => e.event === 'stream' && e.dir === 'in' && e.message === 'HEARTBEAT', 10_000);
    interrupted.kill('SIGINT');
    expect(await interruptedExit).toBe(0);
    await sim.waitFor((e) => e.event === 'stream' && e.dir === 'in' && e.message === 'DISCONNECT');
    await sim.waitFor((e) => e.event === 'session' && e.state === 'ended');

    // then it disappears mid-stream
    const heartbeatsBefore = received(sim.events(), 'HEARTBEAT').length;
    const client = spawnCli(['connect', 'tv'], { configDir: cfg });
    h.defer(async () => {
      if (client.exitCode === null && client.signalCode === null) client.kill('SIGKILL');
    });
    let stderr = '';
    client.stderr?.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    const exited = new Promise<number | null>((resolve) => client.on('close', (code) => resolve(code)));
    await sim.waitFor(
      (e) =>
        e.event === 'stream' &&
        e.dir === 'in' &&
        e.message === 'HEARTBEAT' &&
        received(sim.events(), 'HEARTBEAT').length > heartbeatsBefore,
      10_000,
    );
    ev = sim.events();
    expect(ev.some((e) => e.event === 'stream' && e.message === 'STREAMINFO')).toBe(true);
    const killedAt = Date.now();
    sim.proc.kill(vanish);
    // a frozen process ignores SIGTERM until continued: the harness must not wait on it
    if (vanish === 'SIGSTOP') h.defer(async () => void sim.proc.kill('SIGKILL'));
    const code = await Promise.race([
      exited,
      new Promise<string>((resolve) => setTimeout(() => resolve('hang'), 8000)),
    ]);
    expect(code, stderr).toBe(1);
    expect(Date.now() - killedAt).toBeLessThan(5000);
    expect(stderr).toMatch(/^rptui: console lost: /m);
    expect(stderr).toMatch(/^hint: /m);
    expect(stderr).not.toContain('internal error');
    noStackTrace(stderr);
  });
});
