// The import rules of docs/architecture.md: each folder of src/ imports only from the floors below
// it, no folder has an import circle (type-only imports count: they couple the code all the same),
// and the sans-I/O core touches no socket, timer, clock, file or environment.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/vectors.js';

/** What each top-level part of src/ may import besides itself. */
const ALLOWED: Record<string, readonly string[]> = {
  'proto-stack': [],
  common: ['proto-stack'],
  media: ['proto-stack', 'common'],
  input: ['proto-stack', 'common'],
  client: ['proto-stack', 'common', 'media', 'input'],
  simulator: ['proto-stack', 'common', 'media'],
  doctor: ['proto-stack', 'common', 'media', 'input', 'client'],
  ui: ['proto-stack', 'common', 'media', 'input', 'client', 'simulator', 'doctor'],
  commands: ['proto-stack', 'common', 'media', 'input', 'client', 'simulator', 'doctor', 'ui'],
  'cli.ts': ['proto-stack', 'common', 'commands'],
};

/** Packages and builtins the core may use: crypto and codecs, nothing that does I/O. */
const CORE_PACKAGES = ['node:crypto', 'protobufjs', '@noble/curves', '@noble/ciphers'];
const CORE_FORBIDDEN: [string, RegExp][] = [
  ['Date.now()', /\bDate\.now\(/],
  ['setTimeout()', /\bsetTimeout\(/],
  ['setInterval()', /\bsetInterval\(/],
  ['performance.now()', /\bperformance\.now\(/],
  ['process', /\bprocess\./],
];

interface Violation {
  file: string;
  problem: string;
}

/** Relative module specifiers of a TypeScript file (static, re-exports, dynamic, type-only). */
function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g))
    out.push(m[1]);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) out.push(m[1]);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]);
  return out;
}

const partOf = (rel: string): string => (rel.includes('/') ? rel.split('/')[0] : rel);

/** Checks a tree given as { path relative to src: text }. */
function checkTree(files: ReadonlyMap<string, string>): Violation[] {
  const problems: Violation[] = [];
  const graph = new Map<string, string[]>();
  for (const [file, text] of files) {
    const from = partOf(file);
    const deps: string[] = [];
    for (const spec of importsOf(text)) {
      if (!spec.startsWith('.')) {
        if (from === 'proto-stack' && !CORE_PACKAGES.some((p) => spec === p || spec.startsWith(`${p}/`)))
          problems.push({ file, problem: `the sans-I/O core imports ${spec}` });
        continue;
      }
      const target = relative('/src', resolve('/src', dirname(file), spec.replace(/\.js$/, '.ts')));
      deps.push(target);
      const to = partOf(target);
      if (to !== from && !(ALLOWED[from] ?? []).includes(to))
        problems.push({ file, problem: `${from} may not import ${to} (${target})` });
    }
    graph.set(file, deps);
    if (from === 'proto-stack')
      for (const [name, re] of CORE_FORBIDDEN)
        if (re.test(text)) problems.push({ file, problem: `the sans-I/O core uses ${name}` });
  }
  for (const cycle of cycles(graph))
    problems.push({ file: cycle[0], problem: `import circle: ${cycle.join(' -> ')}` });
  return problems;
}

/** Strongly connected components with more than one file (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1) out.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

function sourceTree(): Map<string, string> {
  const src = join(repoRoot, 'src');
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.set(relative(src, p), readFileSync(p, 'utf8'));
    }
  };
  walk(src);
  return files;
}

describe('import rules (docs/architecture.md)', () => {
  it('src/ keeps them', () => {
    expect(checkTree(sourceTree())).toEqual([]);
  });

  it('the check fails for an upward or sideways import, a circle, and I/O in the core', () => {
    const tree = new Map([
      ['proto-stack/a.ts', "import { b } from './b.js';\nimport { readFileSync } from 'node:fs';\n"],
      ['proto-stack/b.ts', "import type { A } from './a.js';\nexport const t = () => Date.now();\n"],
      ['media/sink.ts', "import type { S } from '../client/session.js';\n"],
      ['client/session.ts', "export * from '../ui/app.js';\n"],
      ['ui/app.ts', "const m = await import('../commands/x.js');\n"],
      ['common/ok.ts', "import { x } from '../proto-stack/a.js';\n"],
    ]);
    expect(checkTree(tree).map((v) => v.problem)).toEqual([
      'the sans-I/O core imports node:fs',
      'the sans-I/O core uses Date.now()',
      'media may not import client (client/session.ts)',
      'client may not import ui (ui/app.ts)',
      'ui may not import commands (commands/x.ts)',
      'import circle: proto-stack/a.ts -> proto-stack/b.ts',
    ]);
  });
});
