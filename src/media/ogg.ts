/**
 * Ogg (RFC 3533) demuxer for Ogg Opus files (RFC 7845): yields the audio packets of the first
 * logical stream, without the OpusHead / OpusTags header packets. Every page CRC is checked, so a
 * damaged file fails with a ParseError instead of producing garbage audio.
 */

import { concatBytes } from '../proto-stack/bytes.js';
import { ParseError } from '../proto-stack/errors.js';

export interface OpusHead {
  channels: number;
  preSkip: number;
  inputSampleRate: number;
  outputGain: number;
  mappingFamily: number;
}

export interface OggOpus {
  head: OpusHead;
  packets: Uint8Array[];
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

/** Ogg's CRC-32: polynomial 0x04c11db7, no reflection, zero init, no final XOR. */
export function oggCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++)
    crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ bytes[i]) & 0xff]) >>> 0;
  return crc;
}

/** All packets of the first logical stream, in order (continued packets joined). */
export function oggPackets(file: Uint8Array): Uint8Array[] {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const packets: Uint8Array[] = [];
  let partial: Uint8Array[] = [];
  let serial: number | undefined;
  let off = 0;
  while (off < file.length) {
    if (off + 27 > file.length) throw new ParseError('ogg', `truncated page header at offset ${off}`);
    if (file[off] !== 0x4f || file[off + 1] !== 0x67 || file[off + 2] !== 0x67 || file[off + 3] !== 0x53)
      throw new ParseError('ogg', `no OggS capture pattern at offset ${off}`, {
        hint: 'is this an .opus/.ogg file?',
      });
    if (file[off + 4] !== 0)
      throw new ParseError('ogg', `unsupported stream structure version ${file[off + 4]}`);
    const flags = file[off + 5];
    const pageSerial = dv.getUint32(off + 14, true);
    const storedCrc = dv.getUint32(off + 22, true);
    const nseg = file[off + 26];
    const bodyStart = off + 27 + nseg;
    if (bodyStart > file.length) throw new ParseError('ogg', `truncated segment table at offset ${off}`);
    let bodyLen = 0;
    for (let i = 0; i < nseg; i++) bodyLen += file[off + 27 + i];
    const end = bodyStart + bodyLen;
    if (end > file.length) throw new ParseError('ogg', `page at offset ${off} runs past the end of the file`);
    const page = file.slice(off, end);
    page.fill(0, 22, 26);
    if (oggCrc(page) !== storedCrc) throw new ParseError('ogg', `CRC mismatch in the page at offset ${off}`);
    if (serial === undefined) serial = pageSerial;
    if (pageSerial === serial) {
      if ((flags & 0x01) === 0 && partial.length > 0) partial = []; // continuation expected but missing
      let p = bodyStart;
      for (let i = 0; i < nseg; i++) {
        const lace = file[off + 27 + i];
        partial.push(file.subarray(p, p + lace));
        p += lace;
        if (lace < 255) {
          packets.push(partial.length === 1 ? partial[0] : concatBytes(...partial));
          partial = [];
        }
      }
    }
    off = end;
  }
  return packets;
}

const ascii = (b: Uint8Array, n: number) => String.fromCharCode(...b.subarray(0, n));

/** Reads an Ogg Opus file: its OpusHead and its audio packets (OpusTags skipped). */
export function readOggOpus(file: Uint8Array): OggOpus {
  const all = oggPackets(file);
  const headPkt = all[0];
  if (!headPkt || headPkt.length < 19 || ascii(headPkt, 8) !== 'OpusHead')
    throw new ParseError('ogg', 'first packet is not an OpusHead', { hint: 'the file is Ogg but not Opus' });
  const dv = new DataView(headPkt.buffer, headPkt.byteOffset, headPkt.byteLength);
  const head: OpusHead = {
    channels: headPkt[9],
    preSkip: dv.getUint16(10, true),
    inputSampleRate: dv.getUint32(12, true),
    outputGain: dv.getInt16(16, true),
    mappingFamily: headPkt[18],
  };
  if (head.channels < 1) throw new ParseError('ogg', 'OpusHead declares zero channels');
  let i = 1;
  if (all[i] && all[i].length >= 8 && ascii(all[i], 8) === 'OpusTags') i++;
  return { head, packets: all.slice(i) };
}
