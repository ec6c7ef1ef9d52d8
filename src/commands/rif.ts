/**
 * `rptui rif FILE... [--json]`: reads PS4 license files (RIF, RIFA container, RIDX index; the kind
 * comes from the magic), prints one row per license and warnings for anything inconsistent. When a
 * RIDX and its RIFA are both given they are cross-checked (offsets, sizes, labels).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { toHex } from '../proto-stack/bytes.js';
import { ParseError, RptuiError, UsageError } from '../proto-stack/errors.js';
import {
  accountText,
  crossCheck,
  detectLicenseKind,
  type LicenseKind,
  parseRidx,
  parseRif,
  parseRifa,
  type Ridx,
  type Rif,
  type Rifa,
  validityText,
} from '../proto-stack/rif/index.js';
import { safeLines } from '../proto-stack/text.js';
import { printJson } from './output.js';

type Parsed =
  | { file: string; kind: 'rif'; rif: Rif; size: number }
  | { file: string; kind: 'rifa'; rifa: Rifa; size: number }
  | { file: string; kind: 'ridx'; ridx: Ridx; size: number };

interface Report {
  files: (Parsed & { crossCheck?: { rifa: string; warnings: string[] } })[];
  errors: { file: string; error: string; hint?: string; usage?: boolean }[];
}

function read(file: string): Parsed {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const kind: LicenseKind | undefined = detectLicenseKind(bytes);
  switch (kind) {
    case 'rif':
      return { file, kind, rif: parseRif(bytes), size: bytes.length };
    case 'rifa':
      return { file, kind, rifa: parseRifa(bytes), size: bytes.length };
    case 'ridx':
      return { file, kind, ridx: parseRidx(bytes), size: bytes.length };
    default:
      throw new ParseError('rif', `not a license file (magic ${toHex(bytes.subarray(0, 4)) || 'missing'})`, {
        hint: 'expected "RIF\\0" (a RIF), "rifa" (a RIF container) or "xdir" (a RIF index)',
      });
  }
}

/** A RIF's extra warnings in a single-RIF file: anything past 0x400 bytes. */
function rifFileWarnings(p: Parsed): string[] {
  if (p.kind === 'rif' && p.size > 0x400)
    return [`${p.size - 0x400} bytes after the RIF (a RIF is 0x400 bytes)`];
  return [];
}

/** Pairs each RIDX with the RIFA of the same service id, or with the only RIFA given. */
function pairIndexes(parsed: Parsed[]): Map<Parsed, Parsed> {
  const rifas = parsed.filter((p) => p.kind === 'rifa');
  const pairs = new Map<Parsed, Parsed>();
  for (const p of parsed) {
    if (p.kind !== 'ridx') continue;
    const same = rifas.find((r) => r.kind === 'rifa' && r.rifa.serviceId === p.ridx.serviceId);
    const match = same ?? (rifas.length === 1 ? rifas[0] : undefined);
    if (match) pairs.set(p, match);
  }
  return pairs;
}

const hex8 = (v: number): string => `0x${v.toString(16).padStart(8, '0')}`;

function rifRow(r: Rif): string[] {
  return [
    r.contentId || '(empty)',
    r.typeName ?? `unknown 0x${r.type.toString(16).padStart(3, '0')}`,
    r.skuName ?? `unknown ${r.skuFlag}`,
    validityText(r),
    accountText(r.accountId),
    `extra=${hex8(r.extraFlags)} unknown=${hex8(r.unknownFlags)}`,
  ];
}

function table(rows: string[][]): string[] {
  const head = ['CONTENT ID', 'TYPE', 'SKU', 'VALIDITY', 'ACCOUNT', 'FLAGS'];
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}`);
}

function printText(report: Report): string {
  const out: string[] = [];
  for (const p of report.files) {
    const warnings: string[] = [...rifFileWarnings(p)];
    if (p.kind === 'rif') {
      out.push(
        `${p.file}: RIF, version ${p.rif.version}, ${p.rif.contentTypeName ?? 'unknown content type'}`,
      );
      out.push(...table([rifRow(p.rif)]));
      warnings.push(...p.rif.warnings);
      if (p.rif.secretIvFromContentId)
        out.push('  note: secret IV = SHA-256(content id)[0..16], the debug fPKG pattern');
    } else if (p.kind === 'rifa') {
      const n = p.rifa.entries.length;
      out.push(`${p.file}: RIFA for service ${p.rifa.serviceId}, ${n} RIF${n === 1 ? '' : 's'}`);
      out.push(...table(p.rifa.entries.filter((e) => e.rif).map((e) => rifRow(e.rif!))));
      warnings.push(...p.rifa.warnings);
      for (const e of p.rifa.entries)
        if (e.rif) warnings.push(...e.rif.warnings.map((w) => `${e.rif!.contentId}: ${w}`));
    } else {
      const n = p.ridx.entries.length;
      out.push(
        `${p.file}: RIDX (RIF index) version ${p.ridx.version} for service ${p.ridx.serviceId}, ${n} entr${n === 1 ? 'y' : 'ies'}`,
      );
      out.push('  LABEL             OFFSET   SIZE     DIGEST');
      for (const e of p.ridx.entries)
        out.push(
          `  ${e.label.padEnd(16)}  0x${e.rifOffset.toString(16).padEnd(6)} 0x${e.rifSize.toString(16).padEnd(6)} ${toHex(e.digest)}`,
        );
      warnings.push(...p.ridx.warnings);
      if (p.crossCheck) {
        const cc = p.crossCheck;
        out.push(
          cc.warnings.length === 0
            ? `  cross-checked with ${cc.rifa}: offsets, sizes and labels match`
            : `  cross-checked with ${cc.rifa}: ${cc.warnings.length} mismatch${cc.warnings.length === 1 ? '' : 'es'}`,
        );
        warnings.push(...cc.warnings);
      } else out.push('  not cross-checked: give its RIFA file too');
    }
    for (const w of warnings) out.push(`  warning: ${w}`);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

function rifReport(files: string[]): Report {
  const report: Report = { files: [], errors: [] };
  for (const file of files) {
    try {
      report.files.push(read(file));
    } catch (e) {
      if (!(e instanceof RptuiError)) throw e;
      report.errors.push({
        file,
        error: e.message,
        hint: e.hint,
        ...(e instanceof UsageError ? { usage: true } : {}),
      });
    }
  }
  for (const [ridx, rifa] of pairIndexes(report.files)) {
    if (ridx.kind !== 'ridx' || rifa.kind !== 'rifa') continue;
    const entry = report.files.find((f) => f === ridx)!;
    Object.assign(entry, {
      crossCheck: { rifa: rifa.file, warnings: crossCheck(ridx.ridx, rifa.rifa, rifa.size) },
    });
  }
  return report;
}

export const register = (program: Command): void => {
  program
    .command('rif')
    .description(
      'read PS4 license files (RIF, RIFA container, RIDX index); a RIDX is checked against its RIFA',
    )
    .argument('<file...>', 'license files; the kind is detected from the magic')
    .option('--json', 'print JSON')
    .action((files: string[], opts: { json?: boolean }) => {
      const report = rifReport(files);
      if (opts.json) printJson(report);
      else process.stdout.write(safeLines(printText(report)));
      if (report.errors.length > 0) {
        const text = report.errors.map((e) => `${e.file}: ${e.error}`).join('; ');
        const hint =
          report.errors[0].hint ??
          (report.files.length > 0 ? 'the files that could be read are listed above' : undefined);
        if (report.errors.some((e) => e.usage)) throw new UsageError(text, hint);
        throw new RptuiError('parse', text, { hint });
      }
    });
};
