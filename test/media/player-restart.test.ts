// A video player that (re)starts needs a key frame, end to end and in process: a simulated PS5
// with its stream service on 127.0.0.52, a RemotePlaySession, and the real ffplay sink (SDL's
// dummy video driver: it decodes with no display). Closing the window and reopening it must make
// the session send IDRREQUEST, the simulator restart from a key frame at once (its `keyframe`
// event, outcome restart), and the new player start with that key frame.
import { describe, expect, it } from 'vitest';
import { RemotePlaySession } from '../../src/client/session.js';
import { FfplaySink } from '../../src/media/ffplay.js';
import { attachSinks, createAudioSink } from '../../src/media/sinks.js';
import { findTool } from '../../src/media/tools.js';
import type { SimEvent } from '../../src/simulator/events.js';
import { SimulatedConsole } from '../../src/simulator/index.js';
import { startStreamService } from '../../src/simulator/stream.js';
import { useHarness } from '../helpers/cli.js';

const h = useHarness();
const HOST = '127.0.0.52';
const REGIST_KEY = '3132333435363738';
const MORNING = '00112233445566778899aabbccddeeff';
const haveFfplay = findTool('ffplay').found;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(10);
  }
}

describe.skipIf(!haveFfplay)('a player restart asks the console for an IDR', () => {
  it('ffplay reopened after its window closed: IDRREQUEST, the simulator restarts from a key frame, the new player starts with it', async () => {
    const sim = await SimulatedConsole.start({ host: HOST, kind: 'PS5', pin: '12345678' });
    h.defer(() => sim.stop());
    const events: SimEvent[] = [];
    sim.events.on((e) => events.push(e));
    await startStreamService(sim, {});
    await sim.state.addPairing({
      accountId: 'AAAAAAAAAAA=',
      registKey: REGIST_KEY,
      morning: MORNING,
      pairedAt: new Date().toISOString(),
    });
    const session = new RemotePlaySession({
      host: HOST,
      target: 1000100,
      registKey: REGIST_KEY,
      rpKey: MORNING,
      localAddress: '127.0.0.1',
    });
    h.defer(() => session.disconnect());
    const video = new FfplaySink({ env: { SDL_VIDEODRIVER: 'dummy', SDL_AUDIODRIVER: 'dummy' } });
    let closed = 0;
    video.on('closed', () => closed++);
    let asked = 0;
    video.on('needKeyframe', () => asked++);
    const media = attachSinks(session, video, createAudioSink('none'), { title: 'player restart test' });
    h.defer(() => media.close());

    await session.start();
    await until(() => video.stats().written > 30, 'the first player shows frames');
    const first = video.pid;
    expect(first).toBeDefined();
    const idrIn = () =>
      events.filter((e) => e.event === 'stream' && e.dir === 'in' && e.message === 'IDRREQUEST');
    const keyframeEvents = () => events.filter((e) => e.event === 'keyframe');
    const sent = () => events.filter((e) => e.event === 'frame-sent');

    // the user closes the window: the session goes on without video
    process.kill(first as number, 'SIGTERM');
    await until(() => closed === 1, 'the sink reports the window closed');
    expect(session.state).toBe('streaming');

    // Reopen mid-GOP (the fixture has a key frame every 60 frames), so the console cannot answer
    // with a key frame it was about to send anyway, nor hold the request for one just sent.
    await until(() => {
      const c = Number(sent().at(-1)?.clipFrame) % 60;
      return c >= 15 && c <= 40;
    }, 'the clip in the middle of a GOP');
    const idrBefore = idrIn().length;
    const keyBefore = keyframeEvents().length;
    const writtenBefore = video.stats().written;
    const askedBefore = asked;
    video.reopen?.();
    expect(video.pid).toBeDefined();
    expect(video.pid).not.toBe(first);
    expect(asked).toBe(askedBefore + 1);

    await until(() => keyframeEvents().length > keyBefore, 'the simulator hears the key frame request');
    expect(idrIn().length).toBe(idrBefore + 1);
    const k = keyframeEvents()[keyBefore];
    expect(k).toMatchObject({ request: 'IDRREQUEST', outcome: 'restart' });
    expect(Number(k.clipFrame) % 60).toBe(0);
    // the next frame the console sends is that key frame, and the new player starts with it
    const at = events.indexOf(k);
    await until(() => events.slice(at).some((e) => e.event === 'frame-sent'), 'the next frame leaves');
    const next = events.slice(at).find((e) => e.event === 'frame-sent');
    expect(next).toMatchObject({ keyframe: true, clipFrame: k.clipFrame, frameIndex: k.nextFrameIndex });
    await until(() => video.stats().written > writtenBefore + 30, 'the new player shows frames');
    expect(closed).toBe(1);
    expect(session.stats.video.lost).toBe(0);
  }, 20_000);
});
