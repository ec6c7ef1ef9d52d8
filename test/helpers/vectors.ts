// Loads the known-answer vectors in test/vectors (their sources: test/vectors/README.md; override
// the folder with RPTUI_VECTORS_DIR). A missing file fails the test loudly: a layer is not done
// until its vectors pass, so skipping silently would hide exactly what matters.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const vectorsDir = process.env.RPTUI_VECTORS_DIR ?? resolve(repoRoot, 'test', 'vectors');

// biome-ignore lint/suspicious/noExplicitAny: vector files are free-form JSON, each test narrows what it reads
export function loadVectors(name: string): any {
  return JSON.parse(readFileSync(join(vectorsDir, `${name}.json`), 'utf8'));
}

/** The case called `name` in a loaded vector file; throws when it is missing. */
// biome-ignore lint/suspicious/noExplicitAny: vector files are free-form JSON, each test narrows what it reads
export function vectorCase(file: any, name: string): any {
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const c = file.cases.find((x: any) => x.name === name);
  if (!c) throw new Error(`vector case ${name} missing`);
  return c;
}
