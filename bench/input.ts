/**
 * What a key press costs before it leaves as a datagram (the timing half of two tests, issue 12:
 * tests assert behaviour, benchmarks timings). Terminal bytes -> KeyboardController (kitty
 * protocol: real press and release events) -> FeedbackSender -> an encrypted, GMAC-tagged
 * feedback datagram, as ClientSession sends it. Per key event, median over 5000 events after a
 * warm-up of 1000; RUNS runs. Goal: well under 1 ms (a frame at 60 fps is 16.7 ms).
 */
import { KeyboardController } from '../src/input/keyboard.js';
import { loadKeymap } from '../src/input/keymap.js';
import { FEEDBACK_KEY_POS_EXTRA, formatFeedbackPacket } from '../src/proto-stack/feedback.js';
import { FeedbackSender } from '../src/proto-stack/feedbacksender.js';
import { GkCrypt } from '../src/proto-stack/gkcrypt.js';
import { fmtSpread, machine, RUNS, spread } from './machine.js';

const WARMUP = 1000;
const EVENTS = 5000;

/** Median microseconds from a key's bytes to its datagram, over EVENTS events. */
function once(): number {
  const kb = new KeyboardController(loadKeymap('default', { RPTUI_CONFIG_DIR: '/nonexistent' }));
  kb.feed(Buffer.from('\x1b[?0u\x1b[?62;c'), 0); // the terminal answers: kitty protocol on
  const sender = new FeedbackSender(true, 0);
  const crypt = new GkCrypt(2, new Uint8Array(16).fill(1), new Uint8Array(32).fill(2));
  // space and w, each pressed and released
  const keys = ['\x1b[32u', '\x1b[32;1:3u', '\x1b[119u', '\x1b[119;1:3u'].map((k) => Buffer.from(k));
  let keyPos = 0;
  let sent = 0;
  const times = new Float64Array(EVENTS);
  for (let i = 0; i < WARMUP + EVENTS; i++) {
    const t0 = performance.now();
    sender.handle(kb.feed(keys[i % 4], i).state, i);
    for (let o = sender.pollTransmit(); o; o = sender.pollTransmit()) {
      formatFeedbackPacket(o.type, o.seq, o.payload, crypt, keyPos);
      keyPos += o.payload.length + FEEDBACK_KEY_POS_EXTRA;
      sent++;
    }
    if (i >= WARMUP) times[i - WARMUP] = (performance.now() - t0) * 1000;
  }
  if (sent !== WARMUP + EVENTS) throw new Error(`expected one datagram per key event, got ${sent}`);
  times.sort();
  return times[EVENTS >> 1];
}

export async function run(): Promise<void> {
  const us = spread(Array.from({ length: RUNS }, once));
  console.log(
    `key bytes -> encrypted, tagged feedback datagram: ${fmtSpread(us, 1)} us per key event ` +
      `(median of ${EVENTS}; ${RUNS} runs; goal well under 1000 us) (${machine()})`,
  );
}
