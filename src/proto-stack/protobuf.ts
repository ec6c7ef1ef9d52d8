/**
 * The stream-connection schema (docs/protocol.md §5) for protobufjs. proto/takion.proto is the
 * source of truth; scripts/gen-proto.mjs compiles it ahead of time into takion-schema.ts (a JSON
 * descriptor), so the sans-I/O core reads no file and searches no folder. Field names are kept as
 * in the .proto file (snake_case).
 */
import protobuf from 'protobufjs';
import { ParseError, RptuiError } from './errors.js';
import { TAKION_SCHEMA } from './takion-schema.js';

let root: protobuf.Root | undefined;

/** The parsed tkproto schema, built once on first use. */
export function takionRoot(): protobuf.Root {
  if (!root) {
    root = protobuf.Root.fromJSON(TAKION_SCHEMA);
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
