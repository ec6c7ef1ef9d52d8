// End-to-end tests run ./bin/rptui, which runs dist/cli.js: rebuild it once per test run so the
// CLI under test is always the current source.
import { execFileSync } from 'node:child_process';
import { repoRoot } from './vectors.js';

export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'inherit' });
}
