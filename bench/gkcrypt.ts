/**
 * gkcrypt backends side by side: node:crypto (OpenSSL, AES-NI) against @noble/ciphers (pure JS),
 * for the two hot paths of a stream: key stream generation (MB/s) and 4-byte GMAC tags over a
 * 1400-byte packet (tags/s). Both backends get identical counter blocks / IVs and their outputs
 * are compared before timing, so the numbers are for equal work.
 */
import { createCipheriv } from 'node:crypto';
import { ecb, gcm } from '@noble/ciphers/aes.js';
import { counterAdd, counterBlocks, GkCrypt } from '../src/proto-stack/gkcrypt.js';

const TIME_MS = 400;

function measure(fn: () => void): number {
  for (let i = 0; i < 20; i++) fn(); // warm up
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < TIME_MS) {
    for (let i = 0; i < 16; i++) fn();
    n += 16;
    t = performance.now();
  }
  return (n * 1000) / (t - t0); // operations per second
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export async function run(): Promise<void> {
  const g = new GkCrypt(3, new Uint8Array(16).fill(0x42), new Uint8Array(32).fill(0x17));
  const rows: string[][] = [];

  for (const size of [65536, 1400]) {
    let pos = 0;
    // noble path: same hand-built counter blocks, then ECB (noble refuses to reuse a cipher
    // object for a second encrypt, so each call sets up the key schedule again)
    const nobleKs = (p: number, len: number) => {
      const skip = p % 16;
      const blocks = Math.ceil((skip + len) / 16);
      return ecb(g.keyBase, { disablePadding: true })
        .encrypt(counterBlocks(g.iv, Math.floor(p / 16), blocks))
        .subarray(skip, skip + len);
    };
    if (!equal(nobleKs(4096 + 5, size), g.keyStream(4096 + 5, size))) throw new Error('key streams differ');
    const node = measure(() => {
      g.keyStream(pos, size);
      pos += size;
    });
    pos = 0;
    const noble = measure(() => {
      nobleKs(pos, size);
      pos += size;
    });
    const mb = (ops: number) => ((ops * size) / 1e6).toFixed(0);
    rows.push([`key stream, ${size} B chunks (MB/s)`, mb(node), mb(noble), (node / noble).toFixed(1)]);
  }

  const packet = new Uint8Array(1400).map((_, i) => (i * 31) & 0xff);
  const gmacKey = new Uint8Array(16).fill(0x5a);
  const nobleTag = (p: number) =>
    gcm(gmacKey, counterAdd(g.iv, Math.floor(p / 16)), packet).encrypt(new Uint8Array(0));
  const nodeTag = (p: number) => {
    const c = createCipheriv('aes-128-gcm', gmacKey, counterAdd(g.iv, Math.floor(p / 16)));
    c.setAAD(packet);
    c.final();
    return new Uint8Array(c.getAuthTag());
  };
  if (!equal(nobleTag(4096), nodeTag(4096))) throw new Error('GCM tags differ');
  let kp = 0;
  const nodeTags = measure(() => {
    nodeTag(kp);
    kp += 1400;
  });
  kp = 0;
  const nobleTags = measure(() => {
    nobleTag(kp);
    kp += 1400;
  });
  // the real call path, including GMAC key selection and the 4-byte cut
  kp = 0;
  const gkTags = measure(() => {
    g.gmac(packet, kp);
    kp += 1400;
  });
  const k = (ops: number) => `${(ops / 1000).toFixed(0)}k`;
  rows.push([
    'GMAC 4-byte tags of 1400 B (tags/s)',
    k(nodeTags),
    k(nobleTags),
    (nodeTags / nobleTags).toFixed(1),
  ]);
  rows.push(['GkCrypt.gmac (node:crypto, tags/s)', k(gkTags), '-', '-']);

  const head = ['gkcrypt', 'node:crypto', '@noble/ciphers', 'node/noble'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows])
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
}
