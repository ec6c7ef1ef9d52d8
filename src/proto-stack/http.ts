/**
 * The small HTTP/1.1 dialect the consoles speak on TCP 9295 (registration, session init, ctrl)
 * and in DDP datagrams. Client side and console side (simulator).
 *
 * Parsing follows what the references accept: lines end in CRLF or LF, a header is `Key: Value`
 * (the space is optional; surrounding blanks are trimmed), keys are matched case-insensitively.
 * The stream parsers return null while the head is incomplete and throw ParseError on anything
 * malformed, including a head that grows past MAX_HEAD without ending (so a chatty peer cannot
 * make a reader buffer forever).
 */

import { ascii, concatBytes, fromUtf8, utf8 } from './bytes.js';
import { ParseError, UsageError } from './errors.js';

const LAYER = 'http';
/** Longest head we wait for; console heads are a few hundred bytes. */
export const MAX_HEAD = 16 * 1024;
/** Largest body readHttpResponse/readHttpRequest accept; console bodies are below 2 KiB. */
export const MAX_BODY = 1024 * 1024;

export interface HttpHead {
  status: number;
  reason: string;
  /** Lower-case key -> value; the first occurrence of a key wins. */
  headers: Map<string, string>;
  /** Bytes up to and including the blank line (the whole input for a complete-block parse). */
  headerLength: number;
  /** Headers as sent (original case, file order). */
  rawHeaders: Array<[string, string]>;
}

export interface HttpRequestHead {
  method: string;
  path: string;
  headers: Map<string, string>;
  headerLength: number;
  rawHeaders: Array<[string, string]>;
}

const LF = 0x0a;
const CR = 0x0d;

/** Offset just past the blank line that ends a head (CRLF CRLF, LF LF or mixed), or -1. */
function headEnd(buf: Uint8Array): number {
  for (let i = buf.indexOf(LF); i !== -1; i = buf.indexOf(LF, i + 1)) {
    let j = i + 1;
    if (buf[j] === CR) j++;
    if (buf[j] === LF) return j + 1;
  }
  return -1;
}

/** Rejects control bytes other than tab/CR/LF: they never occur in a console's head. */
function headText(buf: Uint8Array, layer: string): string {
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if ((b < 0x20 && b !== 0x09 && b !== CR && b !== LF) || b === 0x7f)
      throw new ParseError(layer, `control byte 0x${b.toString(16)} at offset ${i}`);
  }
  // UTF-8: console names may hold any character; invalid sequences decode to U+FFFD, never throw.
  return fromUtf8(buf);
}

function splitLines(text: string): string[] {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * Parses `Key: Value` lines (also the decrypted registration answer). Blank lines are skipped;
 * a line without a colon or with an empty key is malformed.
 */
export function parseHeaderLines(lines: string[], layer = LAYER): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of lines) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0)
      throw new ParseError(layer, `malformed header line "${line.slice(0, 40)}" (expected "Key: Value")`);
    out.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return out;
}

/** `Key: Value` lines of a whole buffer (e.g. the decrypted registration answer). */
export function parseHeaderBlock(buf: Uint8Array, layer = LAYER): Array<[string, string]> {
  return parseHeaderLines(splitLines(headText(buf, layer)), layer);
}

function headerMap(raw: Array<[string, string]>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of raw) {
    const key = k.toLowerCase();
    if (!m.has(key)) m.set(key, v);
  }
  return m;
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/;

/**
 * Parses a complete response head whose end is the end of `buf` (a UDP datagram, or a head cut
 * at headerLength); the blank line is optional. Throws ParseError when malformed.
 */
export function parseHttpResponseText(buf: Uint8Array, layer = LAYER): HttpHead {
  if (buf.length > MAX_HEAD) throw new ParseError(layer, `header longer than ${MAX_HEAD} bytes`);
  const lines = splitLines(headText(buf, layer));
  const m = STATUS_LINE.exec(lines[0] ?? '');
  if (!m) throw new ParseError(layer, `not an HTTP response: status line "${(lines[0] ?? '').slice(0, 40)}"`);
  const rawHeaders = parseHeaderLines(lines.slice(1), layer);
  return {
    status: Number(m[1]),
    reason: (m[2] ?? '').trim(),
    headers: headerMap(rawHeaders),
    headerLength: buf.length,
    rawHeaders,
  };
}

const RESPONSE_PREFIX = ascii('HTTP/');

/** Stream side: null until the blank line has arrived, then the parsed head. */
export function parseHttpResponseHead(buf: Uint8Array, layer = LAYER): HttpHead | null {
  const n = Math.min(buf.length, RESPONSE_PREFIX.length);
  for (let i = 0; i < n; i++)
    if (buf[i] !== RESPONSE_PREFIX[i]) throw new ParseError(layer, 'the answer is not HTTP (wrong service?)');
  const end = headEnd(buf.subarray(0, MAX_HEAD + 1));
  if (end === -1) {
    if (buf.length > MAX_HEAD) throw new ParseError(layer, `header longer than ${MAX_HEAD} bytes`);
    return null;
  }
  return parseHttpResponseText(buf.subarray(0, end), layer);
}

const REQUEST_LINE = /^([A-Z]{1,16}) (\S+) HTTP\/1\.[01]$/;
/** The registration request repeats " HTTP/1.1" on a line of its own (both references do). */
const STRAY_VERSION_LINE = /^\s*HTTP\/1\.[01]\s*$/;

/** Parses a complete request head (the blank line optional), e.g. a DDP datagram. */
export function parseHttpRequestText(buf: Uint8Array, layer = LAYER): HttpRequestHead {
  if (buf.length > MAX_HEAD) throw new ParseError(layer, `header longer than ${MAX_HEAD} bytes`);
  const lines = splitLines(headText(buf, layer));
  const m = REQUEST_LINE.exec(lines[0] ?? '');
  if (!m) throw new ParseError(layer, `not an HTTP request: request line "${(lines[0] ?? '').slice(0, 40)}"`);
  let rest = lines.slice(1);
  if (rest.length > 0 && STRAY_VERSION_LINE.test(rest[0])) rest = rest.slice(1);
  const rawHeaders = parseHeaderLines(rest, layer);
  return { method: m[1], path: m[2], headers: headerMap(rawHeaders), headerLength: buf.length, rawHeaders };
}

/** Stream side (console): null until the blank line has arrived, then the parsed head. */
export function parseHttpRequestHead(buf: Uint8Array, layer = LAYER): HttpRequestHead | null {
  // Fail fast on bytes that cannot start a request line (an upper-case method then a space).
  const n = Math.min(buf.length, 17);
  for (let i = 0; i < n; i++) {
    const b = buf[i];
    if (b === 0x20 && i > 0) break;
    if (b < 0x41 || b > 0x5a || i === 16) throw new ParseError(layer, 'not an HTTP request');
  }
  const end = headEnd(buf.subarray(0, MAX_HEAD + 1));
  if (end === -1) {
    if (buf.length > MAX_HEAD) throw new ParseError(layer, `header longer than ${MAX_HEAD} bytes`);
    return null;
  }
  return parseHttpRequestText(buf.subarray(0, end), layer);
}

/** Content-Length of a head: undefined when absent, ParseError when not a sane number. */
export function contentLength(headers: Map<string, string>, layer = LAYER): number | undefined {
  const v = headers.get('content-length');
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v)) throw new ParseError(layer, `bad Content-Length "${v.slice(0, 20)}"`);
  const n = Number(v);
  if (n > MAX_BODY) throw new ParseError(layer, `Content-Length ${n} is larger than ${MAX_BODY}`);
  return n;
}

/**
 * A whole response: null until head and Content-Length body bytes are there (no Content-Length
 * means no body). `rest` are the bytes after the body (e.g. ctrl messages following the answer).
 */
export function readHttpResponse(
  buf: Uint8Array,
  layer = LAYER,
): { head: HttpHead; body: Uint8Array; rest: Uint8Array } | null {
  const head = parseHttpResponseHead(buf, layer);
  if (!head) return null;
  const len = contentLength(head.headers, layer) ?? 0;
  if (buf.length < head.headerLength + len) return null;
  const bodyEnd = head.headerLength + len;
  return { head, body: buf.subarray(head.headerLength, bodyEnd), rest: buf.subarray(bodyEnd) };
}

/** A whole request, like readHttpResponse (console side). */
export function readHttpRequest(
  buf: Uint8Array,
  layer = LAYER,
): { head: HttpRequestHead; body: Uint8Array; rest: Uint8Array } | null {
  const head = parseHttpRequestHead(buf, layer);
  if (!head) return null;
  const len = contentLength(head.headers, layer) ?? 0;
  if (buf.length < head.headerLength + len) return null;
  const bodyEnd = head.headerLength + len;
  return { head, body: buf.subarray(head.headerLength, bodyEnd), rest: buf.subarray(bodyEnd) };
}

function headerLines(headers: Array<[string, string]>): string {
  let s = '';
  for (const [k, v] of headers) {
    if (/[\r\n:]/.test(k) || k === '' || /[\r\n]/.test(v))
      throw new UsageError(`HTTP header "${k.slice(0, 40)}" has a line break or colon in its name or value`);
    s += `${k}: ${v}\r\n`;
  }
  return s;
}

/**
 * Request bytes, exactly: `firstLine` CRLF, each header as `Key: Value` CRLF in the given order,
 * CRLF, body. Nothing is added (callers write their own Content-Length where the wire has one).
 */
export function formatHttpRequest(
  firstLine: string,
  headers: Array<[string, string]>,
  body?: Uint8Array,
): Uint8Array {
  const head = utf8(`${firstLine}\r\n${headerLines(headers)}\r\n`);
  return body && body.length > 0 ? concatBytes(head, body) : head;
}

/** Response bytes: `HTTP/1.1 <status> <reason>` CRLF, headers as given, CRLF, body. */
export function formatHttpResponse(
  status: number,
  reason: string,
  headers: Array<[string, string]>,
  body?: Uint8Array,
): Uint8Array {
  if (!Number.isInteger(status) || status < 100 || status > 999 || /[\r\n]/.test(reason))
    throw new UsageError(`bad HTTP status line ${status} "${reason.slice(0, 40)}"`);
  const head = utf8(`HTTP/1.1 ${status} ${reason}\r\n${headerLines(headers)}\r\n`);
  return body && body.length > 0 ? concatBytes(head, body) : head;
}
