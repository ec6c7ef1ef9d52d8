/**
 * Opus -> PCM s16le (interleaved) with the pure-WASM `opus-decoder` package, so no native build is
 * needed. Lost frames are concealed by libopus' packet-loss concealment (an empty packet), trimmed
 * to one frame. AvAudioDecoder turns the receive path's Opus events into PCM; also a WAV header
 * writer for `--audio file:PATH`.
 */
import type { OpusDecoder } from 'opus-decoder';
import type { AudioHeader } from '../proto-stack/audio.js';
import type { AvOutput } from '../proto-stack/avreceiver.js';
import { ParseError, UsageError } from '../proto-stack/errors.js';

export interface OpusPcmOptions {
  channels?: number;
  /** Output rate; the console sends 48 kHz. */
  sampleRate?: 8000 | 12000 | 16000 | 24000 | 48000;
  /** Samples per channel of one frame, used for concealment until a real frame was decoded. */
  frameSamples?: number;
}

/** Float [-1, 1] planes -> interleaved signed 16-bit little-endian bytes. */
export function floatToS16le(planes: Float32Array[], samples: number): Uint8Array {
  const ch = planes.length;
  const out = new Uint8Array(samples * ch * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < samples; i++)
    for (let c = 0; c < ch; c++) {
      const v = Math.max(-1, Math.min(1, planes[c][i]));
      dv.setInt16((i * ch + c) * 2, Math.round(v < 0 ? v * 0x8000 : v * 0x7fff), true);
    }
  return out;
}

export class OpusPcmDecoder {
  readonly channels: number;
  readonly sampleRate: number;
  private frameSamples: number;
  private freed = false;

  private constructor(
    private readonly dec: OpusDecoder<OpusPcmOptions['sampleRate']>,
    opts: Required<OpusPcmOptions>,
  ) {
    this.channels = opts.channels;
    this.sampleRate = opts.sampleRate;
    this.frameSamples = opts.frameSamples;
  }

  static async create(opts: OpusPcmOptions = {}): Promise<OpusPcmDecoder> {
    const o: Required<OpusPcmOptions> = {
      channels: opts.channels ?? 2,
      sampleRate: opts.sampleRate ?? 48000,
      frameSamples: opts.frameSamples ?? 480,
    };
    if (o.channels < 1 || o.channels > 2)
      throw new UsageError(`Opus output supports 1 or 2 channels, not ${o.channels}`);
    // Loaded on first use: a session without audio (--audio none, the controller bridge) never
    // needs its WASM, embedded as text (~1 MiB less RSS in `npm run bench -- live`).
    const { OpusDecoder } = await import('opus-decoder');
    const dec = new OpusDecoder({ channels: o.channels, sampleRate: o.sampleRate });
    await dec.ready;
    return new OpusPcmDecoder(dec, o);
  }

  /** Decodes one Opus packet to interleaved s16le. Throws ParseError for a packet libopus rejects. */
  decode(packet: Uint8Array): Uint8Array {
    this.alive();
    if (packet.length === 0)
      throw new ParseError('opus', 'empty Opus packet (use conceal() for a lost frame)');
    const r = this.dec.decodeFrame(packet);
    if (r.errors.length > 0 || r.samplesDecoded === 0)
      throw new ParseError('opus', `undecodable packet: ${r.errors[0]?.message ?? 'no samples'}`);
    this.frameSamples = r.samplesDecoded;
    return floatToS16le(r.channelData, r.samplesDecoded);
  }

  /** PCM standing in for `frames` lost frames (libopus concealment, one frame length each). */
  conceal(frames = 1): Uint8Array {
    this.alive();
    const want = this.frameSamples * frames;
    const out = new Uint8Array(want * this.channels * 2);
    let have = 0;
    while (have < want) {
      const r = this.dec.decodeFrame(new Uint8Array(0));
      if (r.samplesDecoded === 0) break; // no concealment available: the rest stays silent
      const n = Math.min(r.samplesDecoded, want - have);
      out.set(floatToS16le(r.channelData, n), have * this.channels * 2);
      have += n;
    }
    return out;
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.dec.free();
  }

  private alive(): void {
    if (this.freed) throw new UsageError('Opus decoder used after free()');
  }
}

/** 44-byte RIFF/WAVE header for PCM s16le. Use dataBytes = 0xffffffff - 36 when streaming of unknown length. */
export function wavHeader(sampleRate: number, channels: number, dataBytes: number): Uint8Array {
  const h = new Uint8Array(44);
  const dv = new DataView(h.buffer);
  const tag = (o: number, s: string) => {
    for (let i = 0; i < 4; i++) h[o + i] = s.charCodeAt(i);
  };
  tag(0, 'RIFF');
  dv.setUint32(4, Math.min(0xffffffff, 36 + dataBytes), true);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true); // PCM
  dv.setUint16(22, channels, true);
  dv.setUint32(24, sampleRate, true);
  dv.setUint32(28, sampleRate * channels * 2, true);
  dv.setUint16(32, channels * 2, true);
  dv.setUint16(34, 16, true);
  tag(36, 'data');
  dv.setUint32(40, Math.min(0xffffffff, dataBytes), true);
  return h;
}

/** Lost frames beyond this many in a row are not concealed (the gap is skipped instead). */
const MAX_CONCEAL_FRAMES = 25;

const OPUS_RATES = [8000, 12000, 16000, 24000, 48000] as const;

/** The Opus events of AvReceiver -> PCM s16le interleaved, in the STREAMINFO format. */
export class AvAudioDecoder {
  readonly sampleRate: number;
  readonly channels: number;
  readonly stats = { decoded: 0, concealed: 0, errors: 0 };

  private constructor(private readonly dec: OpusPcmDecoder) {
    this.sampleRate = dec.sampleRate;
    this.channels = dec.channels;
  }

  /** Throws ParseError for an audio header the Opus decoder cannot produce (rate, channels). */
  static async create(header: AudioHeader): Promise<AvAudioDecoder> {
    const rate = OPUS_RATES.find((r) => r === header.rate);
    if (rate === undefined || header.channels < 1 || header.channels > 2)
      throw new ParseError(
        'audio-header',
        `the console announced ${header.channels} channel(s) at ${header.rate} Hz; Opus output supports 1-2 channels at ${OPUS_RATES.join('/')} Hz`,
      );
    const dec = await OpusPcmDecoder.create({
      channels: header.channels,
      sampleRate: rate,
      frameSamples: header.frameSize > 0 ? header.frameSize : 480,
    });
    return new AvAudioDecoder(dec);
  }

  /** PCM for an `opus` or `opusLost` output; undefined for every other output. */
  pcm(o: AvOutput): Uint8Array | undefined {
    if (o.type === 'opus') {
      try {
        const pcm = this.dec.decode(o.packet);
        this.stats.decoded++;
        return pcm;
      } catch (err) {
        if (!(err instanceof ParseError)) throw err;
        this.stats.errors++;
        return this.conceal(1);
      }
    }
    if (o.type === 'opusLost') return this.conceal(Math.min(o.count, MAX_CONCEAL_FRAMES));
    return undefined;
  }

  free(): void {
    this.dec.free();
  }

  private conceal(frames: number): Uint8Array {
    this.stats.concealed += frames;
    return this.dec.conceal(frames);
  }
}
