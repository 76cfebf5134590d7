// What a synth may remove from cdktf.out, and what it must keep. Terraform keeps its own files in each stack's
// directory: .terraform/ (the backend it was initialised with, which `init -migrate-state` compares against),
// .terraform.lock.hcl and terraform.tfstate.d/. Those stay; only the configuration a synth writes is replaced, and
// a stack that no longer exists loses its directory, as cdktf's own CLI does (@cdktf/cli-core synth-stack.js,
// orphanedDirectories).
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';

/** Files a synth writes into a stack directory: a stale cdk.tf beside a new cdk.tf.json would be read too. */
export const GENERATED_FILES = ['cdk.tf', 'cdk.tf.json'];

/** Before a synth: no manifest (a failed synth leaves none to deploy) and no generated stack files. */
export function clearGeneratedFiles(outdir) {
  rmSync(path.join(outdir, 'manifest.json'), { force: true });
  const stacks = path.join(outdir, 'stacks');
  if (!existsSync(stacks)) return;
  for (const stack of readdirSync(stacks)) {
    for (const file of GENERATED_FILES) rmSync(path.join(stacks, stack, file), { force: true });
  }
}

/** After a synth: directories of stacks the manifest no longer lists. */
export function removeOrphanedStacks(outdir) {
  const stacks = path.join(outdir, 'stacks');
  const manifest = path.join(outdir, 'manifest.json');
  if (!existsSync(stacks) || !existsSync(manifest)) return;
  const current = new Set(Object.keys(JSON.parse(readFileSync(manifest, 'utf8')).stacks ?? {}));
  for (const stack of readdirSync(stacks)) if (!current.has(stack)) rmSync(path.join(stacks, stack), { recursive: true, force: true });
}

/**
 * Why a synth cannot write to `outdir`, or undefined. cdktf's App creates the directory itself, but not its parent,
 * and fails with a bare ENOENT stack trace (cdktf lib/app.js, `new App`: mkdirSync without `recursive`).
 */
export function outdirProblem(outdir) {
  const parent = path.dirname(path.resolve(outdir));
  if (!existsSync(parent)) return `cannot synthesize into ${outdir}: its parent directory ${parent} does not exist; create it, or set CDKTF_OUTDIR to a directory whose parent exists`;
  if (!statSync(parent).isDirectory()) return `cannot synthesize into ${outdir}: ${parent} is not a directory`;
  return undefined;
}
