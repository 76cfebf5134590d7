#!/usr/bin/env node
// The cdktf app command (cdktf.json). esbuild bundles main.ts and its modules into one CommonJS file in a few
// tens of milliseconds, with packages left external, and Node runs it: about 1.1 s in all, against 1.8 s when a
// TypeScript loader hooks every require (measured with `npm run bench`). Nothing is type-checked here:
// `npm test` runs `tsc --noEmit` once.
import { buildSync } from 'esbuild';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// One directory below the root, like every source module, so REPOSITORY_ROOT (lib/paths.ts) resolves the same.
const bundle = path.join(root, '.gen', 'app.cjs');

buildSync({
  entryPoints: [path.join(root, 'main.ts')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});

// Run directly (npm run synth), start from an empty output like `cdktf synth` does, so no file of an earlier
// synth (an old HCL rendering, a removed stack) is left to mislead a review. Under the CLI, it manages the output.
if (process.env.CDKTF_OUTDIR === undefined) rmSync(path.join(root, 'cdktf.out'), { recursive: true, force: true });

createRequire(import.meta.url)(bundle);
