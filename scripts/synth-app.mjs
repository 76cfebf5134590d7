#!/usr/bin/env node
// The cdktf app command (cdktf.json). esbuild bundles main.ts and its modules into one CommonJS file in a few
// tens of milliseconds, with packages left external, and Node runs it: about 0.7 s in all, against 1.2 s when a
// TypeScript loader hooks every require (measured with `npm run bench`). Nothing is type-checked here:
// `npm test` runs `tsc --noEmit` once.
import { buildSync } from 'esbuild';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { clearGeneratedFiles, outdirProblem, removeOrphanedStacks } from './synth-output.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// One directory below the root, like every source module, so REPOSITORY_ROOT (lib/paths.ts) resolves the same.
const bundle = path.join(root, '.gen', 'app.cjs');

const build = (entry, outfile) =>
  buildSync({
    entryPoints: [path.join(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'warning',
  });

// Each environment has its own output directory (lib/environment-output.ts, the one definition, bundled on its own
// first). Cleared first, so that a failure at any later step (the app's bundle included) leaves no manifest to deploy.
const layout = path.join(root, '.gen', 'environment-output.cjs');
build('lib/environment-output.ts', layout);
const { environmentOutdir } = createRequire(import.meta.url)(layout);
const outdir = process.env.CDKTF_OUTDIR ?? path.join(root, environmentOutdir(process.env.OMNIGLUE_ENV || undefined));
// The environments' directories sit below cdktf.out/environments/, which this layout creates; a CDKTF_OUTDIR is the caller's.
if (process.env.CDKTF_OUTDIR === undefined) mkdirSync(path.dirname(outdir), { recursive: true });
const unwritable = outdirProblem(outdir);
if (unwritable !== undefined) {
  console.error(unwritable);
  process.exit(1);
}
clearGeneratedFiles(outdir);

build('main.ts', bundle);

createRequire(import.meta.url)(bundle);
removeOrphanedStacks(outdir);

// Run directly, say what was written and from which configuration; under the CLI, it reports itself.
if (process.env.CDKTF_OUTDIR === undefined) {
  const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
  const configuration = process.env.OMNIGLUE_CONFIG ?? 'omniglue.config.json';
  const environment = process.env.OMNIGLUE_ENV ? `, environment ${process.env.OMNIGLUE_ENV}` : '';
  for (const [name, stack] of Object.entries(manifest.stacks)) console.log(`${name}: ${path.join(path.relative(process.cwd(), outdir), stack.synthesizedStackPath)}`);
  // Warnings the constructs recorded (level @cdktf/warn; the cdktf CLI prints them from the manifest itself, @cdktf/cli-core synth.js).
  for (const stack of Object.values(manifest.stacks)) {
    for (const annotation of stack.annotations ?? []) if (annotation.level === '@cdktf/warn') console.warn(`Warning: ${annotation.message} (${annotation.constructPath})`);
  }
  console.log(`(configuration ${configuration}${environment})`);
}
