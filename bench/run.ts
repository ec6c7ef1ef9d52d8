/**
 * `npm run bench [name...]`: imports every bench/*.ts module (except this one) in name order and
 * awaits its exported `run()`. A module joins the run just by existing and exporting
 * `run(): Promise<void>`; nothing here needs editing. Optional arguments filter by file name.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const self = basename(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);

const files = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== self)
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

let ran = 0;
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { run?: unknown };
  if (typeof mod.run !== 'function') continue;
  console.log(`\n== bench/${f}`);
  await (mod.run as () => Promise<void>)();
  ran++;
}
if (ran === 0) {
  console.error(`no bench module with run() matched ${filters.join(' ') || '(all)'}`);
  process.exitCode = 1;
}
