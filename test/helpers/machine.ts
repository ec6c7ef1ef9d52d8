// Test-side driving of a Machine (src/proto-stack/machine.ts): fire its due timers, then take
// everything it queued. Drivers interleave these per input; tests mostly want both at once.
import { drainEvents, drainTransmits, type Machine } from '../../src/proto-stack/machine.js';

export function tick<E, T>(m: Machine<never, E, T>, now: number): { out: T[]; events: E[] } {
  m.handleTimeout(now);
  return { out: drainTransmits(m), events: drainEvents(m) };
}

/** Feeds one input and takes the events it caused. */
export function feed<I, E, T>(m: Machine<I, E, T>, input: I, now: number): E[] {
  m.handle(input, now);
  return drainEvents(m);
}

/** Feeds one input and takes what it made the machine send. */
export function transmitsFor<I, E, T>(m: Machine<I, E, T>, input: I, now: number): T[] {
  m.handle(input, now);
  return drainTransmits(m);
}
