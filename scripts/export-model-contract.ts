/**
 * Writes the model contract (tensor names, types and shapes of every model and the
 * ensemble wiring) as JSON, for the Python conversion Job and its tests, which
 * validate ONNX files against it without a protobuf schema.
 *
 * Usage: npx tsx scripts/export-model-contract.ts OUT.json
 */
import * as fs from 'fs';
import * as path from 'path';
import { checkEnsembleConsistency } from '../lib/ensemble-consistency';
import { buildModelContract, loadModelRepository, MODEL_REPOSITORY_DIR } from '../lib/triton-model-config';

function main(argv: string[]): number {
  if (argv.length !== 1) {
    process.stderr.write('usage: npx tsx scripts/export-model-contract.ts OUT.json\n');
    return 2;
  }
  const repo = loadModelRepository(MODEL_REPOSITORY_DIR);
  const problems = checkEnsembleConsistency(repo);
  if (problems.length > 0) {
    // Exporting an inconsistent contract would only move the failure into the cluster Job.
    process.stderr.write(`model repository ${repo.root} is inconsistent:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  }
  const out = path.resolve(argv[0]);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(buildModelContract(repo), null, 2)}\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
