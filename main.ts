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
  // cdktf's App creates its outdir without parents.
  fs.mkdirSync(outdir, { recursive: true });
  const app = new App({ outdir });
  createStacks(app, config, { environment });
  app.synth();
}

try {
  main();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  // A configuration error is the user's to fix: its message, no stack trace, nothing synthesized.
  if (process.env.CDKTF_OUTDIR === undefined) {
    console.error(error.message);
    process.exit(1);
  }
  // Under the cdktf CLI, anything the app writes is printed twice when the app exits non-zero: live, then again
  // in the CLI's error block (@cdktf/commons src/util.js `shell`, @cdktf/cli-core src/lib/synth-stack.js). Printed
  // once to stdout with a clean exit and no manifest (scripts/synth-app.mjs removed it), the CLI fails on its own
  // with "synthesis failed ... manifest.json was not created" and exits 1.
  console.log(`${error.message}\nNothing was synthesized.`);
  process.exit(0);
}
