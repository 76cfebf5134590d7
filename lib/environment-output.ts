import * as path from 'path';

/**
 * Where each environment's synthesized stacks go, relative to the repository root: `cdktf.out` without
 * OMNIGLUE_ENV (as always), `cdktf.out/environments/<env>` for a named one. Terraform keeps `.terraform/` (the
 * backend it was initialised with) and the lock file in each stack's directory, so each environment has its own:
 * switching OMNIGLUE_ENV never meets "Backend configuration changed", and never offers to migrate one environment's
 * state into another's. scripts/synth-app.mjs, scripts/cdktf-run.ts, the review and the local state paths
 * (config/state-location.ts) all read this one definition.
 */
export const BASE_OUTDIR = 'cdktf.out';

export function environmentOutdir(environment: string | undefined): string {
  return environment === undefined || environment === '' ? BASE_OUTDIR : `${BASE_OUTDIR}/environments/${environment}`;
}

/**
 * Why `outdir` (absolute) must not receive this environment's synthesis, or undefined. Another environment's
 * directory below cdktf.out would give this one its `.terraform/` and, with local state, wrong relative paths;
 * directories elsewhere (a review's temporary base, a test's) are not Terraform working directories of ours.
 */
export function outdirConflict(outdir: string, environment: string | undefined, repositoryRoot: string): string | undefined {
  const managed = path.join(repositoryRoot, BASE_OUTDIR);
  const expected = path.join(repositoryRoot, environmentOutdir(environment));
  const resolved = path.resolve(outdir);
  if (resolved === expected || (resolved !== managed && !resolved.startsWith(`${managed}${path.sep}`))) return undefined;
  const which = environment === undefined ? 'without OMNIGLUE_ENV' : `OMNIGLUE_ENV ${environment}`;
  const wanted = environmentOutdir(environment);
  return (
    `${which} synthesizes into ${wanted} (its own .terraform/ and state paths), but the output directory is ${path.relative(repositoryRoot, resolved)}: ` +
    `run npm run synth, deploy, diff or destroy (they choose it), or give the cdktf CLI --output ${wanted}`
  );
}
