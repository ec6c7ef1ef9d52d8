/**
 * V8 grows its young generation (two semi-spaces) up to 32 MiB in a process that allocates at a
 * steady rate, as a stream session does (datagram buffers, decrypted units, frames): ~30 MiB of
 * RSS for objects that die within milliseconds. A growth factor of 1 keeps it at its first size
 * (2 MiB): scavenges run more often and cost as little each (next to nothing survives them).
 * Measured with `npm run bench -- live` (1080p60 15 Mbit/s): see README "Performance".
 * The flag is read whenever the young generation would grow, so setting it here works. Even so
 * the young generation reaches 4 MiB; bin/rptui's first line caps it at 2 MiB
 * (--max-semi-space-size=1, read at start-up only). This call is what is left for node started
 * otherwise (`node bin/rptui`).
 */
import { setFlagsFromString } from 'node:v8';

export function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
