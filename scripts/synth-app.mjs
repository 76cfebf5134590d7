#!/usr/bin/env node
// The cdktf app command (cdktf.json). esbuild bundles main.ts and its modules into one CommonJS file in a few
// tens of milliseconds, with packages left external, and Node runs it: about 0.7 s in all, against 1.2 s when a
// TypeScript loader hooks every require (measured with `npm run bench`). Nothing is type-checked here:
// `npm test` runs `tsc --noEmit` once.
import { buildSync } from 'esbuild';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { clearGeneratedFiles, outdirProblem, removeOrphanedStacks } from './synth-output.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// One directory below the root, like every source module, so REPOSITORY_ROOT (lib/paths.ts) resolves the same.
const bundle = path.join(root, '.gen', 'app.cjs');

// Cleared first, so that a failure at any later step (the bundle included) leaves no manifest to deploy.
const outdir = process.env.CDKTF_OUTDIR ?? path.join(root, 'cdktf.out');
const unwritable = outdirProblem(outdir);
if (unwritable !== undefined) {
  console.error(unwritable);
  process.exit(1);
}
clearGeneratedFiles(outdir);

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

createRequire(import.meta.url)(bundle);
removeOrphanedStacks(outdir);

// Run directly, say what was written and from which configuration; under the CLI, it reports itself.
if (process.env.CDKTF_OUTDIR === undefined) {
  const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
  const configuration = process.env.OMNIGLUE_CONFIG ?? 'omniglue.config.json';
  const environment = process.env.OMNIGLUE_ENV ? `, environment ${process.env.OMNIGLUE_ENV}` : '';
  for (const [name, stack] of Object.entries(manifest.stacks)) console.log(`${name}: ${path.join(path.relative(process.cwd(), outdir), stack.synthesizedStackPath)}`);
  console.log(`(configuration ${configuration}${environment})`);
}
