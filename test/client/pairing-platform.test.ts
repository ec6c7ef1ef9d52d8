// A console paired on a Raspberry Pi 5 (a made-up one) gets that machine's stream defaults: a PS5
// is asked for HEVC, at 1080p since the player can use the Pi's HEVC decoder. Simulated PS5 on
// 127.0.0.115 (this file's loopback address).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pairAndStore } from '../../src/client/pairing.js';
import { ProfileStore } from '../../src/client/profiles.js';
import { SimulatedConsole } from '../../src/simulator/index.js';
import { useHarness } from '../helpers/cli.js';
import { decoderListing, fakeHost, piFiles } from '../helpers/host.js';

const h = useHarness();

describe('pairing on a Raspberry Pi 5', () => {
  it("stores the platform's defaults in the new profile: HEVC, 1080p", async () => {
    const sim = await SimulatedConsole.start({
      host: '127.0.0.115',
      kind: 'PS5',
      pin: '12345678',
      bootMs: 50,
    });
    h.defer(() => sim.stop());
    const bin = h.tempDir('rptui-register-bin-');
    for (const tool of ['ffplay', 'ffmpeg']) writeFileSync(join(bin, tool), '#!/bin/sh\n', { mode: 0o755 });
    const pi5 = fakeHost({
      env: { PATH: bin },
      files: piFiles('Raspberry Pi 5 Model B Rev 1.0', { video19: 'rpi-hevc-dec' }),
      run: (_n, args) => ({
        stdout: args.includes('-decoders')
          ? decoderListing(['h264', 'hevc'])
          : args.includes('-hwaccels')
            ? 'Hardware acceleration methods:\ndrm\n'
            : '-hwaccel hwaccel name  use HW accelerated decoding\n',
      }),
    });
    const store = new ProfileStore(join(h.tempDir(), 'profiles.json'));
    const { profile } = await pairAndStore({
      host: '127.0.0.115',
      pin: '12345678',
      accountId: '1234567890123456789',
      store,
      machine: pi5,
    });
    expect(profile.settings).toMatchObject({ codec: 'h265', resolution: '1080p', fps: 60 });
    expect((await store.get(profile.name)).settings.codec).toBe('h265');
  });
});
