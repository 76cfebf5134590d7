import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { configSchema, OmniglueConfig } from './schema';
import { quantityToNumber } from './validators';
import { deepMerge, isPlainObject, Json } from '../lib/deep-merge';
import { REPOSITORY_ROOT } from '../lib/paths';

export const DEFAULT_CONFIG_FILE = path.join(REPOSITORY_ROOT, 'omniglue.config.json');

/** A configuration problem, reported before anything is synthesized. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid configuration (${source}):\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function describeReceived(input: unknown): string {
  if (input === undefined) return '';
  const text = JSON.stringify(input);
  return ` (received ${text.length > 80 ? `${text.slice(0, 77)}...` : text})`;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const setting = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    return `${setting}: unknown setting(s) ${issue.keys.map((key) => `'${key}'`).join(', ')}; check the spelling against the configuration reference in README.md`;
  }
  if (issue.code === 'invalid_key') {
    // A record key failed its own check; its message is the one that says what is allowed.
    return `${setting}: ${issue.issues[0]?.message ?? issue.message}${describeReceived(issue.input)}`;
  }
  if (issue.code === 'invalid_type') {
    const expected = issue.expected === 'int' ? 'a whole number' : `of type ${issue.expected}`;
    return `${setting}: must be ${expected}${describeReceived(issue.input)}`;
  }
  return `${setting}: ${issue.message}${describeReceived(issue.input)}`;
}

/** Rules that relate two settings; each names both and suggests the fix. */
export function crossCheck(config: OmniglueConfig): string[] {
  const problems: string[] = [];
  const { triton, modelRepository, autoscaling, monitoring, conversion } = config;
  if (triton.replicas.min > triton.replicas.max) {
    problems.push(
      `triton.replicas.min (${triton.replicas.min}) must be less than or equal to triton.replicas.max (${triton.replicas.max})`,
    );
  }
  if (modelRepository.accessMode === 'ReadWriteOnce' && triton.replicas.max > 1) {
    problems.push(
      `modelRepository.accessMode ${modelRepository.accessMode} allows one node to mount the volume, but triton.replicas.max is ${triton.replicas.max}: ` +
        'use ReadWriteMany storage (NFS, EFS, Filestore, Azure Files), or set triton.replicas.max to 1',
    );
  }
  if (quantityToNumber(triton.resources.memoryLimit) < quantityToNumber(triton.resources.memoryRequest)) {
    problems.push(
      `triton.resources.memoryLimit (${triton.resources.memoryLimit}) must be at least triton.resources.memoryRequest (${triton.resources.memoryRequest})`,
    );
  }
  if (triton.shmSizeMiB * 2 ** 20 >= quantityToNumber(triton.resources.memoryLimit)) {
    problems.push(
      `triton.shmSizeMiB (${triton.shmSizeMiB}) must be smaller than triton.resources.memoryLimit (${triton.resources.memoryLimit}): ` +
        '/dev/shm is memory-backed and counts against the limit',
    );
  }
  const engineBuildSeconds = conversion.tensorrtFp16 ? triton.expectedEngineBuildSeconds : 0;
  const startupNeeded = triton.expectedModelLoadSeconds + triton.expectedWarmupSeconds + engineBuildSeconds;
  if (triton.startupTimeoutSeconds < startupNeeded) {
    const engineBuild = conversion.tensorrtFp16 ? ` + triton.expectedEngineBuildSeconds (${engineBuildSeconds}, TensorRT is on)` : '';
    problems.push(
      `triton.startupTimeoutSeconds (${triton.startupTimeoutSeconds}) is shorter than triton.expectedModelLoadSeconds (${triton.expectedModelLoadSeconds}) + ` +
        `triton.expectedWarmupSeconds (${triton.expectedWarmupSeconds})${engineBuild} = ${startupNeeded} s: ` +
        'the kubelet would kill Triton while it loads and warms up the models; raise startupTimeoutSeconds',
    );
  }
  if (conversion.tensorrtFp16 && triton.gpusPerReplica === 0) {
    problems.push(
      'conversion.tensorrtFp16 needs a GPU, but triton.gpusPerReplica is 0 (CPU-only replicas): set tensorrtFp16 to false or give each replica a GPU',
    );
  }
  if (autoscaling.enabled && triton.gpusPerReplica === 0) {
    problems.push(
      'autoscaling.enabled scales on GPU utilization, but triton.gpusPerReplica is 0: give each replica a GPU or set autoscaling.enabled to false',
    );
  }
  if (monitoring.installKubePrometheusStack && monitoring.existingPrometheusUrl !== undefined) {
    problems.push(
      'monitoring.existingPrometheusUrl is set while monitoring.installKubePrometheusStack is true: choose one Prometheus (set installKubePrometheusStack to false to use yours)',
    );
  }
  if (!monitoring.installKubePrometheusStack && monitoring.existingPrometheusUrl === undefined && monitoring.installPrometheusAdapter) {
    problems.push(
      'monitoring.installKubePrometheusStack is false, so prometheus-adapter needs monitoring.existingPrometheusUrl (e.g. "http://prometheus-operated.monitoring.svc:9090")',
    );
  }
  if (monitoring.installAlertRules && !monitoring.installKubePrometheusStack && monitoring.existingPrometheusUrl === undefined) {
    problems.push(
      'monitoring.installAlertRules needs a Prometheus Operator to evaluate its PrometheusRule: keep monitoring.installKubePrometheusStack, ' +
        'or set monitoring.existingPrometheusUrl for your own operator-managed Prometheus, or set installAlertRules to false',
    );
  }
  if (conversion.useGpu && !conversion.dependenciesPreinstalled) {
    problems.push(
      'conversion.useGpu needs conversion.dependenciesPreinstalled with an image that has onnxruntime-gpu ' +
        '(docker build --build-arg ONNXRUNTIME_PACKAGE=onnxruntime-gpu==1.19.2 -f scripts/Dockerfile.conversion scripts): ' +
        'the default pip requirements are CPU builds and would hold a GPU without using it',
    );
  }
  const reservedEnvironment = Object.keys(conversion.extraEnv).filter((name) => ['HOME', 'PYTHONPATH', 'PYTHONUNBUFFERED', 'PYTHONDONTWRITEBYTECODE'].includes(name));
  if (reservedEnvironment.length > 0) {
    problems.push(`conversion.extraEnv may not set ${reservedEnvironment.join(', ')}: the Job sets them itself`);
  }
  if (quantityToNumber(conversion.memoryLimit) < quantityToNumber(conversion.memoryRequest)) {
    problems.push(
      `conversion.memoryLimit (${conversion.memoryLimit}) must be at least conversion.memoryRequest (${conversion.memoryRequest})`,
    );
  }
  return problems;
}

/** Validates raw configuration (already merged for the environment) and fills in the defaults. */
export function parseConfig(raw: unknown, source = 'inline configuration'): OmniglueConfig {
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(source, result.error.issues.map(formatIssue));
  const problems = crossCheck(result.data);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return result.data;
}

export interface LoadConfigOptions {
  /** Configuration file. @default omniglue.config.json at the repository root, or $OMNIGLUE_CONFIG */
  readonly file?: string;
  /** Environment overlay from the file's `environments` map. @default $OMNIGLUE_ENV, or none */
  readonly environment?: string;
}

/** Reads the configuration file, applies the environment overlay and validates the result. */
export function loadConfig(options: LoadConfigOptions = {}): OmniglueConfig {
  const file = options.file ?? process.env.OMNIGLUE_CONFIG ?? DEFAULT_CONFIG_FILE;
  const environment = options.environment ?? (process.env.OMNIGLUE_ENV || undefined);
  let document: Json = {};
  if (fs.existsSync(file)) {
    try {
      document = JSON.parse(fs.readFileSync(file, 'utf8')) as Json;
    } catch (error) {
      throw new ConfigError(file, [`not valid JSON: ${(error as Error).message}`]);
    }
  } else if (options.file !== undefined || process.env.OMNIGLUE_CONFIG !== undefined) {
    throw new ConfigError(file, ['file not found']);
  }
  if (!isPlainObject(document)) throw new ConfigError(file, ['the file must hold a JSON object']);
  const { environments, $schema: _schema, ...base } = document;
  let merged: Json = base;
  if (environment !== undefined) {
    const overlays = isPlainObject(environments) ? environments : {};
    if (!(environment in overlays)) {
      const known = Object.keys(overlays);
      throw new ConfigError(file, [
        `environment '${environment}' (OMNIGLUE_ENV) is not defined; known environments: ${known.length > 0 ? known.join(', ') : 'none'}`,
      ]);
    }
    merged = deepMerge(base, overlays[environment]);
  }
  return parseConfig(merged, environment === undefined ? file : `${file}, environment '${environment}'`);
}
