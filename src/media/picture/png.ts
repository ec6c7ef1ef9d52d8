/**
 * PNG files for the kitty and iTerm2 image protocols: 8-bit RGB, every row with the Sub filter
 * (a cheap one-pass predictor that suits video: neighbouring pixels are alike), deflated by zlib
 * on libuv's thread pool so the event loop never waits for the compression.
 */
import { promisify } from 'node:util';
import { crc32, deflate } from 'node:zlib';
import { concatBytes } from '../../proto-stack/bytes.js';
import type { RgbFrame } from './frame.js';

const deflateAsync = promisify(deflate);
const SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Rows prefixed with their filter byte (1 = Sub): what IDAT compresses. A copy, so the frame may be reused. */
export function pngScanlines(frame: RgbFrame): Uint8Array {
  const { width: w, height: h, data } = frame;
  const stride = w * 3;
  const out = new Uint8Array(h * (stride + 1));
  for (let y = 0; y < h; y++) {
    const src = y * stride;
    const dst = y * (stride + 1);
    out[dst] = 1;
    for (let i = 0; i < 3 && i < stride; i++) out[dst + 1 + i] = data[src + i];
    for (let i = 3; i < stride; i++) out[dst + 1 + i] = (data[src + i] - data[src + i - 3]) & 0xff;
  }
  return out;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  dv.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)) >>> 0);
  return out;
}

/**
 * The frame as a PNG file. The pixels are copied before this returns, so the caller may reuse
 * `frame` at once; zlib `level` 1 is fast and still shrinks video frames several times.
 */
export function encodePng(frame: RgbFrame, level = 1): Promise<Uint8Array> {
  const rows = pngScanlines(frame);
  const header = new Uint8Array(13);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, frame.width);
  dv.setUint32(4, frame.height);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type RGB
  return deflateAsync(rows, { level }).then((idat) =>
    concatBytes(SIGNATURE, chunk('IHDR', header), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))),
  );
}
