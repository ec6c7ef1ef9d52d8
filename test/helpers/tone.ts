// Tone checks for decoded audio: the fixture clip carries a 1 kHz sine.

/** Magnitude of `freq` in `samples` (Goertzel), normalised by the sample count. */
export function goertzel(samples: ArrayLike<number>, freq: number, rate: number): number {
  const k = 2 * Math.cos((2 * Math.PI * freq) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < samples.length; i++) {
    const s0 = samples[i] + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - k * s1 * s2)) / samples.length;
}

/** The left channel of interleaved s16le stereo PCM, scaled to -1..1. */
export function leftChannel(pcm: Uint8Array): Float64Array {
  const dv = new DataView(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const out = new Float64Array(Math.floor(pcm.length / 4));
  for (let i = 0; i < out.length; i++) out[i] = dv.getInt16(i * 4, true) / 32768;
  return out;
}
