/**
 * `rptui pcoip decode --mgmt HEX|@FILE` prints the chunks of PCoIP management messages;
 * `rptui pcoip decode --data HEX|@FILE --key HEX` decrypts a Salsa20/12 data packet and prints its
 * message; `rptui pcoip token TOKEN` splits a View token (SCS1 key masks, connection tag).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ascii, fromHex, toHex } from '../proto-stack/bytes.js';
import { UsageError } from '../proto-stack/errors.js';
import {
  type DecodedMgmt,
  decapsulate,
  decodeDataMessage,
  decodeMgmtStream,
  type PcoipCipher,
  parsePcoipToken,
} from '../proto-stack/pcoip/index.js';
import { safeLines } from '../proto-stack/text.js';
import { jsonText, print, printJson } from './output.js';

/** HEX (spaces and colons allowed) or @FILE (raw bytes). */
function readInput(arg: string, what: string): Uint8Array {
  if (arg.startsWith('@')) {
    try {
      return new Uint8Array(readFileSync(arg.slice(1)));
    } catch (e) {
      throw new UsageError(`cannot read ${arg.slice(1)}: ${(e as Error).message}`);
    }
  }
  const hex = arg.replace(/[\s:]/g, '').replace(/^0x/i, '');
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex))
    throw new UsageError(
      `${what} is not hex: ${arg.slice(0, 40)}`,
      'give hex digits, or @FILE to read raw bytes from a file',
    );
  if (hex.length === 0) throw new UsageError(`${what} is empty`);
  return fromHex(hex);
}

const CIPHERS: Record<string, PcoipCipher> = {
  salsa20: 'salsa20-12',
  'salsa20-12': 'salsa20-12',
  aes128: 'aes-128-gcm',
  'aes-128-gcm': 'aes-128-gcm',
  aes256: 'aes-256-gcm',
  'aes-256-gcm': 'aes-256-gcm',
};

function mgmtText(messages: DecodedMgmt[]): string {
  const out: string[] = [];
  messages.forEach((m, i) => {
    const purpose = m.purpose === undefined ? 'no ssig' : `${m.purposeName ?? 'unknown'} (${m.purpose})`;
    out.push(`MGMT message ${i + 1}: ${m.length} bytes, ${m.chunks.length} chunks, purpose ${purpose}`);
    const width = Math.max(0, ...m.chunks.map((c) => (c.name ?? '(unknown chunk)').length));
    for (const c of m.chunks) {
      const tag = /^[\x20-\x7e]{4}$/.test(c.tag) ? c.tag : toHex(ascii(c.tag));
      const value = c.value ? c.value.text : `${c.data.length} bytes: ${toHex(c.data) || '(empty)'}`;
      out.push(`  ${tag.padEnd(8)}${(c.name ?? '(unknown chunk)').padEnd(width)}  ${value}`);
    }
    for (const w of m.warnings) out.push(`  warning: ${w}`);
  });
  return `${out.join('\n')}\n`;
}

interface DecodeOpts {
  mgmt?: string;
  data?: string;
  key?: string;
  cipher: string;
  json?: boolean;
}

function decode(opts: DecodeOpts): string {
  if ((opts.mgmt === undefined) === (opts.data === undefined))
    throw new UsageError(
      'give exactly one of --mgmt or --data',
      'rptui pcoip decode --mgmt HEX|@FILE, or --data HEX|@FILE --key HEX',
    );
  if (opts.mgmt !== undefined) {
    if (opts.key !== undefined) throw new UsageError('--key only applies to --data');
    const messages = decodeMgmtStream(readInput(opts.mgmt, '--mgmt'));
    return opts.json ? `${jsonText({ messages })}\n` : mgmtText(messages);
  }
  const cipher = CIPHERS[opts.cipher.toLowerCase()];
  if (!cipher) throw new UsageError(`unknown cipher ${opts.cipher}`, 'use salsa20, aes128 or aes256');
  if (opts.key === undefined)
    throw new UsageError('--data needs --key', 'the 32-byte s12k key from the MGMT exchange, as hex');
  const key = readInput(opts.key, '--key');
  const packet = decapsulate(readInput(opts.data!, '--data'), key, cipher);
  const message = decodeDataMessage(packet.message);
  if (opts.json) return `${jsonText({ packet, message })}\n`;
  const type =
    message.typeName === undefined ? 'unknown type' : `${message.typeName} (${message.typeDescription})`;
  const lines = [
    `Salsa20/12 packet: spi 0x${packet.spi.toString(16).padStart(8, '0')}, serial ${packet.serial}, iv ${toHex(packet.iv)}, trailer ok`,
    `data message: type ${message.type} ${type}, serial_no ${message.serialNo}, unknown ${toHex(message.unknown)}`,
    `  body (${message.body.length} bytes): ${toHex(message.body) || '(empty)'}`,
    ...[...packet.warnings, ...message.warnings].map((w) => `  warning: ${w}`),
  ];
  return `${lines.join('\n')}\n`;
}

export const register = (program: Command): void => {
  const pcoip = program
    .command('pcoip')
    .description('decode PCoIP management messages, data packets and tokens');
  pcoip
    .command('decode')
    .description('decode MGMT messages (--mgmt) or a Salsa20/12 data packet (--data --key)')
    .option('--mgmt <hex|@file>', 'one or more MGMT messages, as hex or @file of raw bytes')
    .option('--data <hex|@file>', 'one encrypted data packet, as hex or @file of raw bytes')
    .option('--key <hex>', 'data key (32 bytes hex, the s12k chunk after de-obfuscation)')
    .option(
      '--cipher <name>',
      'data encapsulation: salsa20, aes128 or aes256 (AES is undocumented)',
      'salsa20',
    )
    .option('--json', 'print JSON')
    .action((opts: DecodeOpts) => {
      process.stdout.write(safeLines(decode(opts)));
    });
  pcoip
    .command('token')
    .description('split a PCoIP token: SCS1 key masks and the connection tag')
    .argument('<token>', 'the token (reservation_vcs_tag)')
    .option('--json', 'print JSON')
    .action((token: string, opts: { json?: boolean }) => {
      const t = parsePcoipToken(token);
      if (opts.json) {
        printJson(t);
        return;
      }
      const lines = t.obfuscated
        ? [
            'SCS1 token: keys are obfuscated',
            `  server key mask: ${toHex(t.serverKeyXor!)}`,
            `  client key mask: ${toHex(t.clientKeyXor!)}`,
            `  connection tag:  ${t.connectionTag}`,
          ]
        : ['plain token: keys are exchanged verbatim', `  connection tag: ${t.connectionTag}`];
      for (const w of t.warnings) lines.push(`  warning: ${w}`);
      print(lines.join('\n'));
    });
};
