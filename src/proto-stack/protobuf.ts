/**
 * Loads proto/takion.proto (the stream-connection schema, PROTOCOL §5) with protobufjs.
 *
 * The .proto file ships in the package ("files" in package.json) and stays the single source of
 * truth. Its path is found by walking up from this module's directory to the first directory that
 * holds proto/takion.proto: that is two levels up when running src/proto-stack/*.ts through tsx or
 * vitest, and one level up from the esbuild bundle dist/cli.js. The schema is read once, lazily, on
 * first use (a static resource read, not network I/O). RPTUI_PROTO_DIR is deliberately not
 * consulted: proto-stack must not read the environment.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { ConfigError, ParseError, RptuiError } from './errors.js';

const SCHEMA_FILE = join('proto', 'takion.proto');

/** Finds proto/takion.proto above `startDir` (exported for tests). */
export function findSchemaPath(startDir: string): string {
  let dir = startDir;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, SCHEMA_FILE);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new ConfigError(`cannot find ${SCHEMA_FILE} above ${startDir}`, {
    hint: 'the rptui installation is incomplete: the proto/ directory must sit next to dist/ and src/',
  });
}

let root: protobuf.Root | undefined;

/** The parsed tkproto schema (field names kept as in the .proto file, snake_case). */
export function takionRoot(): protobuf.Root {
  if (!root) {
    const path = findSchemaPath(dirname(fileURLToPath(import.meta.url)));
    root = protobuf.parse(readFileSync(path, 'utf8'), { keepCase: true }).root;
    root.resolveAll();
  }
  return root;
}

export function takionType(name: string): protobuf.Type {
  return takionRoot().lookupType(`tkproto.${name}`);
}

/**
 * Decodes `bytes` as message `type`. protobufjs reports truncation, bad wire types and missing
 * required fields with its own errors (and deep nesting of unknown groups can exhaust the stack);
 * all of them become ParseError so network input only ever yields typed errors.
 */
export function decodeProto(type: protobuf.Type, bytes: Uint8Array, layer = 'protobuf'): protobuf.Message {
  try {
    return type.decode(bytes);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new ParseError(layer, `bad ${type.name} message: ${msg}`, { cause: e });
  }
}

/** Encodes a plain object (snake_case fields) as message `type`; rejects objects that do not fit. */
export function encodeProto(type: protobuf.Type, value: Record<string, unknown>): Uint8Array {
  const problem = type.verify(value);
  if (problem) throw new RptuiError('internal', `cannot encode ${type.name}: ${problem}`);
  return type.encode(type.fromObject(value)).finish();
}
