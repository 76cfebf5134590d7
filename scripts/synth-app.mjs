#!/usr/bin/env node
// The cdktf app command (cdktf.json). esbuild bundles main.ts and its modules into one CommonJS file in a few
// tens of milliseconds, with packages left external, and Node runs it: about 1.1 s in all, against 1.8 s when a
// TypeScript loader hooks every require (measured with `npm run bench`). Nothing is type-checked here:
// `npm test` runs `tsc --noEmit` once.
import { buildSync } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
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

// Start from empty stack folders, under the CLI too: an earlier synth's files (cdk.tf beside a new cdk.tf.json, a
// removed stack) would otherwise mislead a review and make Terraform see two configurations in one folder.
// The manifest goes too: a configuration error leaves none, so nothing stale can be deployed (see main.ts).
const outdir = process.env.CDKTF_OUTDIR ?? path.join(root, 'cdktf.out');
rmSync(path.join(outdir, 'stacks'), { recursive: true, force: true });
rmSync(path.join(outdir, 'manifest.json'), { force: true });

createRequire(import.meta.url)(bundle);

// Run directly, say what was written and from which configuration; under the CLI, it reports itself.
if (process.env.CDKTF_OUTDIR === undefined) {
  const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
  const configuration = process.env.OMNIGLUE_CONFIG ?? 'omniglue.config.json';
  const environment = process.env.OMNIGLUE_ENV ? `, environment ${process.env.OMNIGLUE_ENV}` : '';
  for (const [name, stack] of Object.entries(manifest.stacks)) console.log(`${name}: ${path.join(path.relative(process.cwd(), outdir), stack.synthesizedStackPath)}`);
  console.log(`(configuration ${configuration}${environment})`);
}
