// Bundles src/cli.ts into dist/cli.js with esbuild (fast: well under a second), so `bin/rptui`
// starts without a TypeScript loader. Type checking is `npm run typecheck`, separately.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli.ts'],
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
