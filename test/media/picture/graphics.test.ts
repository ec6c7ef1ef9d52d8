// PNG files and the kitty / iTerm2 image sequences, on known pixels: the PNG is taken apart again
// (chunk CRCs, zlib, Sub filter) and must give back the pixels; ffmpeg must read it too; the
// sequences must carry that file whole, in chunks of 4096 base64 characters for kitty.
import { execFileSync } from 'node:child_process';
import { crc32, inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RgbFrame } from '../../../src/media/picture/frame.js';
import {
  itermImage,
  KITTY_GRAPHICS_QUERY,
  KITTY_IDS,
  kittyDelete,
  kittyImage,
} from '../../../src/media/picture/graphics.js';
import { encodePng } from '../../../src/media/picture/png.js';
import { TermBuffer } from '../../../src/media/picture/termbuf.js';

function frame(width: number, height: number, pixel: (x: number, y: number) => number[]): RgbFrame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * 3);
  return { width, height, data };
}

/** Takes a PNG apart: checks signature and CRCs, undoes the Sub filter; returns the pixels. */
function readPng(png: Uint8Array): RgbFrame {
  const b = Buffer.from(png);
  expect([...b.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let at = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  const types: string[] = [];
  while (at < b.length) {
    const len = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    const body = b.subarray(at + 8, at + 8 + len);
    expect(b.readUInt32BE(at + 8 + len)).toBe(crc32(b.subarray(at + 4, at + 8 + len)) >>> 0);
    types.push(type);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      expect([...body.subarray(8)]).toEqual([8, 2, 0, 0, 0]);
    } else if (type === 'IDAT') idat.push(body);
    at += 12 + len;
  }
  expect(types).toEqual(['IHDR', 'IDAT', 'IEND']);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 3;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (stride + 1)]).toBe(1);
    for (let i = 0; i < stride; i++) {
      const v = raw[y * (stride + 1) + 1 + i];
      data[y * stride + i] = (v + (i >= 3 ? data[y * stride + i - 3] : 0)) & 0xff;
    }
  }
  return { width, height, data };
}

describe('PNG', () => {
  it('round-trips known pixels', async () => {
    const f = frame(5, 3, (x, y) => [x * 50, y * 100, 255 - x * 40]);
    const back = readPng(await encodePng(f));
    expect(back.width).toBe(5);
    expect(back.height).toBe(3);
    expect([...back.data]).toEqual([...f.data]);
  });

  it('copies the pixels before it returns: the frame may be reused at once', async () => {
    const f = frame(4, 4, () => [10, 20, 30]);
    const pending = encodePng(f);
    f.data.fill(255);
    const back = readPng(await pending);
    expect(back.data.every((v, i) => v === [10, 20, 30][i % 3])).toBe(true);
  });

  it('is read by ffmpeg as the same picture', async () => {
    const f = frame(16, 9, (x, y) => [x * 16, y * 28, (x * y) % 256]);
    const rgb = execFileSync(
      'ffmpeg',
      ['-v', 'error', '-f', 'png_pipe', '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
      {
        input: await encodePng(f),
      },
    );
    expect([...rgb]).toEqual([...f.data]);
  });

  it('round-trips any picture (fuzz)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.uint8Array({ minLength: 432, maxLength: 432 }),
        async (w, h, bytes) => {
          const f = { width: w, height: h, data: bytes.subarray(0, w * h * 3) };
          expect([...readPng(await encodePng(f)).data]).toEqual([...f.data]);
        },
      ),
      { numRuns: 100 },
    );
  });
});

const KITTY_APC = /\x1b_G([^;]*);([^\x1b]*)\x1b\\/g;

describe('kitty graphics', () => {
  it('sends a big file in 4096-character chunks, keys on the first, m=1 on all but the last', async () => {
    // noise does not compress: a file of several chunks
    let seed = 1;
    const noise = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 24;
    };
    const png = await encodePng(frame(64, 64, () => [noise(), noise(), noise()]));
    const out = new TermBuffer();
    kittyImage(png, KITTY_IDS[0], { cols: 40, rows: 12 }, out);
    const s = Buffer.from(out.view()).toString('latin1');
    const chunks = [...s.matchAll(KITTY_APC)];
    expect(chunks.map((c) => c[0]).join('')).toBe(s);
    expect(chunks.length).toBe(Math.ceil(Buffer.from(png).toString('base64').length / 4096));
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks[0][1]).toBe(`a=T,f=100,t=d,i=${KITTY_IDS[0]},q=2,C=1,c=40,r=12,m=1`);
    for (const c of chunks.slice(1, -1)) expect(c[1]).toBe('m=1');
    expect(chunks.at(-1)![1]).toBe('m=0');
    for (const c of chunks.slice(0, -1)) expect(c[2].length).toBe(4096);
    expect(Buffer.from(chunks.map((c) => c[2]).join(''), 'base64').equals(Buffer.from(png))).toBe(true);
  });

  it('sends a small file as one command, deletes by id, and queries with a 1x1 image', () => {
    const out = new TermBuffer();
    kittyImage(new Uint8Array([1, 2, 3]), 7, { cols: 1, rows: 1 }, out);
    expect(Buffer.from(out.view()).toString('latin1')).toBe(
      '\x1b_Ga=T,f=100,t=d,i=7,q=2,C=1,c=1,r=1,m=0;AQID\x1b\\',
    );
    out.reset();
    kittyDelete(7, out);
    expect(Buffer.from(out.view()).toString('latin1')).toBe('\x1b_Ga=d,d=I,i=7,q=2\x1b\\');
    expect(KITTY_GRAPHICS_QUERY).toMatch(/^\x1b_Gi=\d+,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\$/);
  });
});

describe('iTerm2 images', () => {
  it('carries the file, its size and the cell box in one OSC 1337', () => {
    const png = new Uint8Array([9, 8, 7, 6, 5]);
    const out = new TermBuffer();
    itermImage(png, { cols: 80, rows: 22 }, out);
    const s = Buffer.from(out.view()).toString('latin1');
    const m = /^\x1b\]1337;File=([^:]*):([A-Za-z0-9+/=]*)\x07$/.exec(s);
    expect(m).not.toBeNull();
    expect(m![1].split(';')).toEqual([
      'inline=1',
      'size=5',
      'width=80',
      'height=22',
      'preserveAspectRatio=0',
      'doNotMoveCursor=1',
    ]);
    expect([...Buffer.from(m![2], 'base64')]).toEqual([...png]);
  });
});
