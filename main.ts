import * as fs from 'fs';
import * as path from 'path';
import { App } from 'cdktf';
import { ConfigError, loadConfig } from './config/load';
import { environmentOutdir, outdirConflict } from './lib/environment-output';
import { REPOSITORY_ROOT } from './lib/paths';
import { createStacks } from './stacks';

function main(): void {
  const environment = process.env.OMNIGLUE_ENV || undefined;
  const config = loadConfig({ environment });
  // Each environment synthesizes into its own directory (lib/environment-output.ts); the cdktf CLI names one itself.
  const outdir = process.env.CDKTF_OUTDIR ?? path.join(REPOSITORY_ROOT, environmentOutdir(environment));
  const conflict = outdirConflict(outdir, environment, REPOSITORY_ROOT);
  if (conflict !== undefined) throw new ConfigError('OMNIGLUE_ENV', [conflict]);
  // cdktf's App creates its outdir without parents: this layout's parents are made here, a CDKTF_OUTDIR's are the caller's.
  if (process.env.CDKTF_OUTDIR === undefined) fs.mkdirSync(path.dirname(outdir), { recursive: true });
  const app = new App({ outdir });
  createStacks(app, config, { environment });
  app.synth();
}

/**
 * Whether the cdktf CLI runs this app: it sets all of these for its app command (@cdktf/cli-core
 * src/lib/synth-stack.js, `SynthStack.synth`), where a pipeline that only redirects the output sets CDKTF_OUTDIR.
 */
function runByCdktfCli(env: NodeJS.ProcessEnv): boolean {
  return env.CDKTF_OUTDIR !== undefined && env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS === 'true' && env.SYNTH_HCL_OUTPUT !== undefined;
}

try {
  main();
} catch (error) {
  // A configuration error is the user's to fix: its message, no stack trace, nothing synthesized. (A construct's
  // ValidationError on a configuration the loader accepted would be a bug here: it keeps its stack trace.)
  if (!(error instanceof ConfigError)) throw error;
  const message = error.message;
  if (!runByCdktfCli(process.env)) {
    console.error(message);
    process.exit(1);
  }
  // Under the cdktf CLI, anything the app writes is printed twice when the app exits non-zero: live, then again
  // in the CLI's error block (@cdktf/commons src/util.js `shell`, @cdktf/cli-core src/lib/synth-stack.js). Printed
  // once to stdout with a clean exit and no manifest (scripts/synth-app.mjs removed it), the CLI fails on its own
  // with "synthesis failed ... manifest.json was not created" and exits 1.
  console.log(`${message}\nNothing was synthesized.`);
  process.exit(0);
}
