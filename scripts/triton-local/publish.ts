/**
 * Publishes the model repository for `npm run triton:local` with the conversion Job's own program and command line,
 * then lays out the tree Triton serves (publish_local.py, wrappers.py).
 *
 * - Stand-in weights (default): the Job's `cli.main` runs in .venv-triton with the random-weight stand-ins of the
 *   three networks (test/support/stand_in_networks.py) in place of the TensorFlow/PyTorch exports.
 * - `--weights DIR`: the Job's own entry point (scripts/convert_models_to_onnx.py) runs in the conversion toolchain
 *   (.venv, scripts/requirements-conversion.txt) on the official weight files in DIR, exactly as the Job would run
 *   on downloaded ones.
 * The version name is a hash of everything that shapes the published files, so a second start finds the version
 * published and the Job's code skips the work ("already-published").
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { contentHash, filesUnder } from '../../lib/content-hash';
import { REPOSITORY_ROOT } from '../../lib/paths';
import { throughputArguments, type ThroughputMode } from '../../lib/throughput-mode';
import { buildModelContract, checkEnsembleConsistency, loadModelRepository, MODEL_REPOSITORY_DIR } from '../../lib/triton-model-config';

/** The Job's weight files by name, as the pinned URLs name them (scripts/omniglue_conversion/weights.py). */
export const WEIGHT_FILES = { superpoint: 'sp_v6.tgz', dinov2: 'dinov2_vitb14_pretrain.pth', omniglue: 'og_export.zip' } as const;
/** The Job's default (config/schema.ts `minSampleMatches`); the stand-ins give about 80 on the demo pair. */
const MIN_SAMPLE_MATCHES = 10;
const HERE = path.join(REPOSITORY_ROOT, 'scripts', 'triton-local');
export const VENV_TRITON = path.join(REPOSITORY_ROOT, '.venv-triton');
const STAND_INS = 'test/support/stand_in_networks.py';
const CONVERSION_VENV_PYTHON = path.join(REPOSITORY_ROOT, '.venv', 'bin', 'python');

export interface PublishOptions {
  /** Where versions are published and served from: <workDir>/repository/versions/<v>, <workDir>/serving/<v>. */
  workDir: string;
  throughput?: ThroughputMode;
  /** A directory holding the official weight files (WEIGHT_FILES). */
  weightsDir?: string;
  /** Progress lines (the Job's JSON log lines are kept for errors). */
  log: (line: string) => void;
}

export interface Published {
  version: string;
  /** The version directory exactly as the Job published it. */
  published: string;
  /** The repository Triton serves: python-backend wrappers of the published ONNX files, the ensemble as published. */
  serving: string;
  /** The model contract the Job was given. */
  contract: string;
}

/** The arguments the stack gives the Job (constructs/model-conversion-job.ts), for CPU-only replicas. */
export function jobArguments(contract: string, outputRoot: string, version: string, options: Pick<PublishOptions, 'throughput' | 'weightsDir'>): string[] {
  const args = [
    '--model-configs', MODEL_REPOSITORY_DIR,
    '--contract', contract,
    '--output-root', outputRoot,
    '--version', version,
    '--work-dir', path.join(outputRoot, '.work'),
    '--sample-image0', path.join(REPOSITORY_ROOT, 'assets', 'demo1.jpg'),
    '--sample-image1', path.join(REPOSITORY_ROOT, 'assets', 'demo2.jpg'),
    '--min-sample-matches', String(MIN_SAMPLE_MATCHES),
  ];
  if (options.weightsDir !== undefined) {
    for (const [name, file] of Object.entries(WEIGHT_FILES)) args.push('--weights-url', `${name}=file://${path.resolve(options.weightsDir, file)}`);
  }
  // KIND_CPU: Triton refuses KIND_GPU instance groups on a machine without a GPU; the Job publishes this variant for
  // CPU-only replicas (triton.gpusPerReplica 0), and it is the only one a GPU-less server can load.
  args.push('--instance-kind', 'cpu');
  if (options.throughput !== undefined) args.push(...throughputArguments(options.throughput));
  return args;
}

function checkWeightsDir(dir: string): void {
  const missing = Object.values(WEIGHT_FILES).filter((file) => !fs.existsSync(path.join(dir, file)));
  if (missing.length > 0) throw new Error(`--weights ${dir} lacks ${missing.join(', ')} (the files the Job downloads: ${Object.values(WEIGHT_FILES).join(', ')})`);
  if (!fs.existsSync(CONVERSION_VENV_PYTHON)) {
    throw new Error(`--weights needs the conversion toolchain (TensorFlow, tf2onnx, PyTorch) in .venv: ${CONVERSION_VENV_PYTHON} is missing; run \`npm run setup\``);
  }
}

function run(python: string, args: string[], what: string): string {
  const result = spawnSync(python, args, { cwd: REPOSITORY_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error !== undefined) throw new Error(`${what}: cannot run ${python}: ${result.error.message}`);
  if (result.status !== 0) {
    const tail = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`${what} failed (exit ${result.status}):\n${tail}`);
  }
  return result.stdout;
}

export function publishRepository(options: PublishOptions): Published {
  const python = path.join(VENV_TRITON, 'bin', 'python');
  if (!fs.existsSync(python)) throw new Error(`${python} is missing: run \`npm run setup\` (scripts/setup/steps/40-venv-triton.sh)`);
  if (options.weightsDir !== undefined) checkWeightsDir(options.weightsDir);
  const repo = loadModelRepository(MODEL_REPOSITORY_DIR);
  const problems = checkEnsembleConsistency(repo);
  if (problems.length > 0) throw new Error(`model_repository/ is inconsistent:\n${problems.join('\n')}`);
  const contractJson = `${JSON.stringify(buildModelContract(repo), null, 2)}\n`;

  const under = (dir: string, keep: (key: string) => boolean) =>
    filesUnder(dir).filter((f) => keep(f.key)).map((f) => ({ key: `${path.relative(REPOSITORY_ROOT, dir)}/${f.key}`, content: f.content }));
  const isPython = (key: string) => key.endsWith('.py');
  const sources = [
    ...under(MODEL_REPOSITORY_DIR, () => true),
    ...under(path.join(REPOSITORY_ROOT, 'scripts', 'omniglue_conversion'), isPython),
    ...under(HERE, isPython),
    { key: STAND_INS, content: fs.readFileSync(path.join(REPOSITORY_ROOT, STAND_INS)) },
  ];
  const weights = options.weightsDir === undefined ? 'stand-ins' : Object.values(WEIGHT_FILES).map((f) => {
    const stat = fs.statSync(path.join(options.weightsDir!, f));
    return `${f}:${stat.size}:${stat.mtimeMs}`;
  });
  const version = `local-${contentHash(sources, { contractJson, throughput: options.throughput ?? null, weights }, 12)}`;

  const outputRoot = path.join(options.workDir, 'repository');
  fs.mkdirSync(outputRoot, { recursive: true });
  const contract = path.join(options.workDir, `contract-${version}.json`);
  fs.writeFileSync(contract, contractJson);
  const argv = jobArguments(contract, outputRoot, version, options);
  const driver = path.join(HERE, 'publish_local.py');
  const serveRoot = path.join(options.workDir, 'serving');
  const started = Date.now();
  if (options.weightsDir !== undefined) {
    options.log(`publishing ${version} with the Job's program and toolchain (.venv) from ${options.weightsDir}`);
    run(CONVERSION_VENV_PYTHON, [path.join(REPOSITORY_ROOT, 'scripts', 'convert_models_to_onnx.py'), ...argv], 'the conversion Job');
    options.log(`published in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } else {
    options.log(`publishing ${version} with the Job's program and stand-in networks`);
  }
  const stdout = run(python, [driver, '--serve-root', serveRoot, ...(options.weightsDir === undefined ? ['--stand-ins'] : []), '--', ...argv], 'publishing');
  const paths = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { published: string; serving: string };
  options.log(`repository ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${path.relative(REPOSITORY_ROOT, paths.serving)}`);
  return { version, published: paths.published, serving: paths.serving, contract };
}
