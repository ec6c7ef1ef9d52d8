/**
 * gkcrypt backends side by side: node:crypto (OpenSSL, AES-NI) against @noble/ciphers (pure JS),
 * for the two hot paths of a stream: key stream generation (MB/s) and 4-byte GMAC tags over a
 * 1400-byte packet (tags/s); then the receive path gkcrypt uses (the whole tag in WebAssembly,
 * gkcrypt-wasm.ts; payloads decrypted from a key stream window) against node:crypto's AES-GCM as
 * a packet check would call it. Both backends get identical counter blocks / IVs and their
 * outputs are compared before timing, so the numbers are for equal work. Each figure: median
 * (range) of RUNS measurements of 300 ms, with the machine.
 */
import { createCipheriv } from 'node:crypto';
import { ecb, gcm } from '@noble/ciphers/aes.js';
import { counterAdd, counterBlocks, GkCrypt } from '../src/proto-stack/gkcrypt.js';
import { fmtSpread, machine, RUNS, type Spread, spread } from './machine.js';

const TIME_MS = 300;

/** Operations per second, RUNS times. */
function measure(fn: () => void): Spread {
  for (let i = 0; i < 20; i++) fn(); // warm up
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < TIME_MS) {
      for (let i = 0; i < 16; i++) fn();
      n += 16;
      t = performance.now();
    }
    rates.push((n * 1000) / (t - t0));
  }
  return spread(rates);
}

const scale = (x: Spread, f: number): Spread => ({ median: x.median * f, min: x.min * f, max: x.max * f });

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
    const mb = (ops: Spread) => fmtSpread(scale(ops, size / 1e6), 0);
    rows.push([
      `key stream, ${size} B chunks (MB/s)`,
      mb(node),
      mb(noble),
      (node.median / noble.median).toFixed(1),
    ]);
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
  // node:crypto as a packet check would use it: the 4 zeroed tag bytes fed as three AAD pieces
  // (no packet copy), one cipher object per packet
  const zero4 = new Uint8Array(4);
  const nodeCheck = (p: number) => {
    const c = createCipheriv('aes-128-gcm', gmacKey, counterAdd(g.iv, Math.floor(p / 16)));
    c.setAAD(packet.subarray(0, 10));
    c.setAAD(zero4);
    c.setAAD(packet.subarray(14));
    c.final();
    return c.getAuthTag().readUInt32BE(0);
  };
  const ours = GkCrypt.fromKeys({ index: 3, keyBase: g.keyBase, iv: g.iv, gmacBase: gmacKey });
  if (ours.gmacWord(packet, 4096, 10) !== nodeCheck(4096)) throw new Error('GMAC paths differ');
  kp = 0;
  const nodeChecks = measure(() => {
    nodeCheck(kp);
    kp += 1400;
  });
  // the real call path: GMAC key selection (a refresh every 45000 key positions: SHA-256, key
  // schedule, GHASH tables), the tag fields zeroed in the input only
  kp = 0;
  const gkTags = measure(() => {
    ours.gmacWord(packet, kp, 10);
    kp += 1400;
  });
  // ... then its payload decrypted on the copy made for the tag, from the key stream window
  const rx = new GkCrypt(3, new Uint8Array(16).fill(0x42), new Uint8Array(32).fill(0x17));
  kp = 0;
  const received = measure(() => {
    rx.gmacWord(packet, kp, 10);
    rx.decrypt(packet, kp + 16, 21);
    kp += 1408;
  });
  const k = (ops: Spread) => `${fmtSpread(scale(ops, 1 / 1000), 0)}k`;
  rows.push([
    'GMAC 4-byte tags of 1400 B (tags/s)',
    k(nodeTags),
    k(nobleTags),
    (nodeTags.median / nobleTags.median).toFixed(1),
  ]);
  rows.push(['GMAC check, zeroed field as 3 AAD pieces (tags/s)', k(nodeChecks), '-', '-']);
  rows.push(['GkCrypt.gmacWord (WebAssembly GHASH + AES, tags/s)', k(gkTags), '-', '-']);
  rows.push(['  + GkCrypt.decrypt of the 1379 B payload (packets/s)', k(received), '-', '-']);

  console.log(`machine: ${machine()}; median (range) of ${RUNS} runs`);
  const head = ['gkcrypt', 'node:crypto', '@noble/ciphers', 'node/noble'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows])
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
}
