// `terraform init -backend=false` and `terraform validate -json` on every stack of a synthesized output directory,
// offline, with the engines of `npm run setup` (scripts/engines.ts). Used by `npm run validate` (scripts/validate.ts)
// and the engine tier (test/engines/terraform-validate.test.ts).
import { execFile } from 'child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { enginePaths, terraformEnv } from './engines';

/** The files a cdktf synth writes per stack: JSON by default, HCL with `--hcl` (cdktf App hclOutput). */
export const STACK_FORMS = ['cdk.tf.json', 'cdk.tf'] as const;

/** A diagnostic as `terraform validate -json` prints it (Terraform internal/command/views/json/diagnostic.go). */
export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly summary: string;
  readonly detail?: string;
  readonly range?: { readonly filename: string; readonly start: { readonly line: number; readonly column: number }; readonly end: { readonly line: number; readonly column: number } };
}

export interface StackValidation {
  readonly stack: string;
  /** The stack file as found in the output directory. */
  readonly file: string;
  /** No error among `diagnostics`. */
  readonly valid: boolean;
  readonly diagnostics: readonly Diagnostic[];
  /** Errors that say what this Terraform cannot judge, each with why (ENGINE_LIMITATIONS); they do not fail. */
  readonly notJudged: readonly { readonly diagnostic: Diagnostic; readonly why: string }[];
  /** What `terraform init` printed when it failed (it has no JSON output in Terraform 1.5). */
  readonly initError?: string;
  readonly seconds: number;
}

const run = promisify(execFile);

/**
 * Errors of Terraform 1.5.7 about settings that only later Terraform releases know, which users need anyway (the
 * README states the minimum). With `init -backend=false` the backend block itself is not read, but a
 * terraform_remote_state data source's `config` is checked against this release's backend schema.
 */
export const ENGINE_LIMITATIONS: readonly { readonly matches: (diagnostic: Diagnostic) => boolean; readonly why: string }[] = [
  {
    matches: (diagnostic) => diagnostic.summary === 'Invalid backend configuration' && /unexpected attribute "use_lockfile"/.test(diagnostic.detail ?? ''),
    why: 'the s3 backend\'s use_lockfile needs Terraform >= 1.10 (Terraform v1.10 upgrade guide, "S3 Native State Locking"); 1.5.7 predates it',
  },
];

/** Every stack file of an output directory: DIR/stacks/<stack>/cdk.tf.json and DIR/stacks/<stack>/cdk.tf. */
export function stackFiles(outdir: string): { stack: string; file: string }[] {
  const stacks = path.join(outdir, 'stacks');
  if (!existsSync(stacks)) throw new Error(`${outdir} has no stacks/ directory: synthesize first (npm run synth, or npm run synth:hcl)`);
  const found = readdirSync(stacks, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => STACK_FORMS.filter((form) => existsSync(path.join(stacks, entry.name, form))).map((form) => ({ stack: entry.name, file: path.join(stacks, entry.name, form) })));
  if (found.length === 0) throw new Error(`${stacks} holds no ${STACK_FORMS.join(' or ')}`);
  return found.sort((a, b) => a.file.localeCompare(b.file));
}

/**
 * A working copy of one stack file in a directory of its own: Terraform reads every .tf and .tf.json beside it, so
 * a cdk.tf left next to a cdk.tf.json would be read twice. Only the stack file and its asset directories travel:
 * not the user's .terraform/, state or lock file (whose hashes are the registry's, not our mirror's).
 */
function workingCopy(file: string): string {
  const work = mkdtempSync(path.join(os.tmpdir(), 'omniglue-validate-'));
  cpSync(file, path.join(work, path.basename(file)));
  const stackDir = path.dirname(file);
  for (const entry of readdirSync(stackDir, { withFileTypes: true })) {
    if (entry.isDirectory() && !['.terraform', 'terraform.tfstate.d'].includes(entry.name)) cpSync(path.join(stackDir, entry.name), path.join(work, entry.name), { recursive: true });
  }
  return work;
}

/** Runs the project's Terraform offline (terraformEnv) in `cwd`; never throws for a non-zero exit. */
export async function runTerraform(args: readonly string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { terraform: binary } = enginePaths('terraform');
  try {
    const { stdout, stderr } = await run(binary, [...args], { cwd, env: terraformEnv(), maxBuffer: 64 * 2 ** 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr || failed.message };
  }
}

export async function validateStackFile(stack: string, file: string): Promise<StackValidation> {
  const started = Date.now();
  const work = workingCopy(file);
  const seconds = () => (Date.now() - started) / 1000;
  try {
    const init = await runTerraform(['init', '-backend=false', '-input=false', '-no-color'], work);
    if (init.code !== 0) return { stack, file, valid: false, diagnostics: [], notJudged: [], initError: (init.stderr || init.stdout).trim(), seconds: seconds() };
    const validate = await runTerraform(['validate', '-json', '-no-color'], work);
    const report = JSON.parse(validate.stdout) as { valid: boolean; diagnostics: Diagnostic[] };
    const limitation = (diagnostic: Diagnostic) => (diagnostic.severity === 'error' ? ENGINE_LIMITATIONS.find((known) => known.matches(diagnostic)) : undefined);
    const diagnostics = report.diagnostics.filter((diagnostic) => limitation(diagnostic) === undefined);
    const notJudged = report.diagnostics.flatMap((diagnostic) => {
      const known = limitation(diagnostic);
      return known === undefined ? [] : [{ diagnostic, why: known.why }];
    });
    return { stack, file, valid: !diagnostics.some((diagnostic) => diagnostic.severity === 'error'), diagnostics, notJudged, seconds: seconds() };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Runs `jobs` with at most `limit` at once, keeping their order in the results. */
async function pool<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const index = next++;
      results[index] = await jobs[index]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

/**
 * Validates every stack file of each output directory, two Terraform processes at a time by default (each
 * validate starts both providers, a few hundred MB; the machine has two cores).
 */
export async function validateOutdirs(outdirs: readonly string[], concurrency = 2): Promise<StackValidation[]> {
  enginePaths('terraform', 'providerMirror');
  const files = outdirs.flatMap((outdir) => stackFiles(outdir));
  return pool(
    files.map(({ stack, file }) => () => validateStackFile(stack, file)),
    concurrency,
  );
}

/** A diagnostic as one block of text: where (the file in the output directory, line and column), what, why. */
export function formatDiagnostic(result: StackValidation, diagnostic: Diagnostic, label: string = diagnostic.severity): string {
  const range = diagnostic.range;
  const where = range === undefined ? result.file : `${path.join(path.dirname(result.file), range.filename)}:${range.start.line}:${range.start.column}`;
  const detail = diagnostic.detail ? `\n    ${diagnostic.detail.replace(/\n/g, '\n    ')}` : '';
  return `  ${where}: ${label}: ${diagnostic.summary}${detail}`;
}

/** The report of one stack file: a status line, then its diagnostics (warnings too) or init's output. */
export function formatValidation(result: StackValidation, relativeTo = process.cwd()): string {
  const relative = path.relative(relativeTo, result.file);
  const shown = { ...result, file: relative.startsWith('..') ? result.file : relative };
  const status = result.valid ? 'valid' : 'INVALID';
  const lines = [`validate: ${result.stack} (${shown.file}): ${status} (${result.seconds.toFixed(1)} s)`];
  if (result.initError !== undefined) lines.push(`  terraform init failed:\n    ${result.initError.replace(/\n/g, '\n    ')}`);
  lines.push(...result.diagnostics.map((diagnostic) => formatDiagnostic(shown, diagnostic)));
  lines.push(...result.notJudged.map(({ diagnostic, why }) => `${formatDiagnostic(shown, diagnostic, 'not judged')}\n    (${why})`));
  return lines.join('\n');
}
