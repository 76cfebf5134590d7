// npm run validate [-- --dir DIR]: Terraform's own `init -backend=false` and `validate` on every stack, offline,
// with the Terraform and providers of `npm run setup` (docs/engines.md).
//   - With --dir DIR: every stack file DIR holds as it is (DIR/stacks/<stack>/cdk.tf.json and/or cdk.tf).
//   - Without: the project as configured now (OMNIGLUE_CONFIG and OMNIGLUE_ENV as for `npm run synth`), in both
//     forms: the JSON into cdktf.out, as `npm run synth` writes it, and the HCL of `cdktf synth --hcl` into
//     .cache/validate/hcl, which is kept so that a diagnostic's file can be read.
// Exits 1 when any stack file is invalid, naming stack, file and Terraform's diagnostics; 2 on a usage error.
import { spawnSync } from 'child_process';
import { mkdirSync } from 'fs';
import * as path from 'path';
import { REPOSITORY_ROOT } from '../lib/paths';
import { formatValidation, validateOutdirs } from './terraform-validate';

const USAGE = 'usage: npm run validate [-- --dir DIR]';
export const DEFAULT_OUTDIR = path.join(REPOSITORY_ROOT, 'cdktf.out');
export const HCL_OUTDIR = path.join(REPOSITORY_ROOT, '.cache', 'validate', 'hcl');

/**
 * The app's own synth command (cdktf.json's `app`), as the cdktf CLI runs it: CDKTF_OUTDIR is where it writes,
 * and SYNTH_HCL_OUTPUT=true makes the App write cdk.tf instead of cdk.tf.json (cdktf lib/app.js, App constructor;
 * `cdktf synth --hcl` sets the same variable: @cdktf/cli-core src/lib/synth-stack.js, SynthStack.synth).
 */
export function synthesize(outdir: string, form: 'json' | 'hcl', env: NodeJS.ProcessEnv = process.env): void {
  // cdktf's App creates only the last level of its outdir.
  mkdirSync(path.dirname(outdir), { recursive: true });
  const result = spawnSync(process.execPath, [path.join(REPOSITORY_ROOT, 'scripts', 'synth-app.mjs')], {
    cwd: REPOSITORY_ROOT,
    env: { ...env, CDKTF_OUTDIR: outdir, SYNTH_HCL_OUTPUT: form === 'hcl' ? 'true' : 'false' },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`synthesis (${form}) failed:\n${result.stdout}${result.stderr}`);
}

function parseArgs(argv: readonly string[]): { dir?: string } {
  const options: { dir?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--dir' && argv[i + 1] !== undefined) options.dir = argv[++i];
    else if (arg.startsWith('--dir=')) options.dir = arg.slice('--dir='.length);
    else throw new UsageError(`unexpected argument '${arg}'`);
  }
  return options;
}

class UsageError extends Error {}

async function main(argv: readonly string[]): Promise<number> {
  const { dir } = parseArgs(argv);
  const started = Date.now();
  let outdirs: string[];
  if (dir !== undefined) {
    outdirs = [path.resolve(dir)];
  } else {
    synthesize(DEFAULT_OUTDIR, 'json');
    synthesize(HCL_OUTDIR, 'hcl');
    outdirs = [DEFAULT_OUTDIR, HCL_OUTDIR];
  }
  const results = await validateOutdirs(outdirs);
  for (const result of results) (result.valid ? console.log : console.error)(formatValidation(result));
  const failed = results.filter((result) => !result.valid);
  const elapsed = `${((Date.now() - started) / 1000).toFixed(1)} s`;
  if (failed.length > 0) {
    console.error(`validate: ${failed.length} of ${results.length} stack files invalid: ${failed.map((result) => `${result.stack} (${path.basename(result.file)})`).join(', ')} (${elapsed})`);
    return 1;
  }
  console.log(`validate: all ${results.length} stack files valid (${elapsed})`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: Error) => {
      // Missing engines, a missing DIR and a failed synthesis each explain themselves in one message.
      console.error(`validate: ${error.message}`);
      if (error instanceof UsageError) console.error(USAGE);
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
