/**
 * Validation of our files (profiles, PSN sign-in, key maps, simulator state) with valibot.
 * Why valibot and not zod: importing zod costs ~12 MiB RSS (zod/mini 11.5), valibot 1.3 MiB, and
 * the bundle keeps packages external, so an import loads the whole package (the goal is <= 70 MB
 * while streaming on a Raspberry Pi). The helpers here keep what zod did: issues worded like its
 * messages and never quoting a value (a file may be a link to anything, or hold secrets), no array
 * where an object or record is wanted, its ISO datetime and URL checks.
 */
import * as v from 'valibot';

/** What a value was, as zod named it in "received ...": never the value itself. */
function typeName(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'array';
  if (typeof input === 'number' && !Number.isFinite(input)) return String(input);
  return typeof input;
}

/** An unknown key of a strict object (valibot puts the key in the path; zod named it in the text). */
function isUnknownKey(issue: v.BaseIssue<unknown>): boolean {
  return issue.type === 'strict_object' && issue.expected === 'never';
}

/** A required key that is not there. */
function isMissingKey(issue: v.BaseIssue<unknown>): boolean {
  const last = issue.path?.at(-1);
  return issue.kind === 'schema' && last?.type === 'object' && last.origin === 'key' && !isUnknownKey(issue);
}

/** An issue's text, as zod (4) worded it; a schema's own message (e.g. '8 bytes as base64') wins. */
function issueText(issue: v.BaseIssue<unknown>): string {
  const req = issue.requirement;
  switch (issue.type) {
    case 'picklist':
      // valibot writes ("a" | "b"), zod wrote "a"|"b"
      return `Invalid option: expected one of ${issue.expected?.replace(/^\(|\)$/g, '').replaceAll(' | ', '|')}`;
    case 'literal':
      return `Invalid input: expected ${issue.expected}`;
    case 'min_length':
      return `Too small: expected string to have >=${req} characters`;
    case 'max_length':
      return `Too big: expected string to have <=${req} characters`;
    case 'min_value':
      return `Too small: expected number to be >=${req}`;
    case 'max_value':
      return `Too big: expected number to be <=${req}`;
    case 'integer':
      return Number.isFinite(issue.input)
        ? 'Invalid input: expected int, received number'
        : `Invalid input: expected number, received ${typeName(issue.input)}`;
    case 'regex':
      return `Invalid string: must match pattern ${req}`;
    case 'url':
      return 'Invalid URL';
  }
  if (isUnknownKey(issue)) return `Unrecognized key: "${String(issue.input)}"`;
  if (isMissingKey(issue)) return 'Invalid input: missing';
  if (issue.kind === 'schema' && issue.type !== 'union') {
    const expected = issue.type === 'strict_object' ? 'object' : issue.type;
    return `Invalid input: expected ${expected}, received ${typeName(issue.input)}`;
  }
  return 'Invalid input';
}

const CONFIG = { abortEarly: true, message: issueText } as const;

/** The first problem with a value: its text, and where (keys and indexes from the top). */
export interface Problem {
  message: string;
  path: string[];
}

/** Validates `input`: its output, or the first problem (as zod reported it: an unknown key at its object). */
export function safeParse<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
): { success: true; output: v.InferOutput<S> } | { success: false; problem: Problem } {
  const r = v.safeParse(schema, input, CONFIG);
  if (r.success) return { success: true, output: r.output };
  const issue = r.issues[0];
  const path = (issue.path ?? []).map((p) => String(p.key));
  return {
    success: false,
    problem: { message: issue.message, path: isUnknownKey(issue) ? path.slice(0, -1) : path },
  };
}

/** Validates `input`: its output, else a v.ValiError whose message is the first problem's text. */
export function parse<S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> {
  return v.parse(schema, input, CONFIG);
}

/**
 * `schema` (an object or a record) refusing an array, which valibot takes for an object and zod
 * did not (settings [] would be all defaults, keys ["cross"] a key "0").
 */
export function noArray<S extends v.GenericSchema>(schema: S, what = 'object') {
  return v.pipe(
    v.custom<v.InferInput<S>>(
      (input) => !Array.isArray(input),
      `Invalid input: expected ${what}, received array`,
    ),
    schema,
  );
}

/** A date that exists (leap years too). */
const DATE =
  '(?:(?:\\d\\d[2468][048]|\\d\\d[13579][26]|\\d\\d0[48]|[02468][048]00|[13579][26]00)-02-29|\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|(?:02)-(?:0[1-9]|1\\d|2[0-8])))';

/** zod's z.iso.datetime(): date, T, hh:mm:ss, any fraction, Z (what Date.toISOString writes). */
const ISO_DATETIME = new RegExp(`^${DATE}T(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d+)?Z$`);

export const isoDatetime = () => v.pipe(v.string(), v.regex(ISO_DATETIME, 'Invalid ISO datetime'));

/** zod's z.url(): trimmed, tabs and newlines dropped (as the URL parser does), then any URL it parses. */
export const url = () =>
  v.pipe(
    v.string(),
    v.transform((s) => s.trim().replace(/[\t\n\r]/g, '')),
    v.url(),
  );
