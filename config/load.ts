import * as fs from 'fs';
import * as path from 'path';
import { parseDocument as parseYamlDocument } from 'yaml';
import { z } from 'zod';
import { configSchema, OmniglueConfig } from './schema';
import { quantityToNumber } from './validators';
import { deepMerge, isPlainObject, Json } from '../lib/deep-merge';
import { isolationProblems, NamedConfig } from '../lib/environment-isolation';
import { REPOSITORY_ROOT } from '../lib/paths';
import { MAX_ASPECT_RATIO, withinDinoAspectLimit } from '../lib/throughput-mode';

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
  let text: string;
  try {
    text = JSON.stringify(input) ?? String(input);
  } catch {
    return ' (received a value too deeply nested to show)';
  }
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

/** Environment variables the conversion Job sets, and those an image's Python must keep. */
export const RESERVED_JOB_ENVIRONMENT = ['HOME', 'PATH', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONUNBUFFERED', 'PYTHONDONTWRITEBYTECODE', 'LD_LIBRARY_PATH', 'LD_PRELOAD'];
/** Memory Triton needs besides /dev/shm: the server, three networks' weights and their CUDA/ORT workspaces on the host. */
export const MIN_TRITON_MEMORY_MIB = 4096;

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
  const { enabled: throughput, imageWidth, imageHeight } = conversion.throughputMode;
  if (throughput && triton.gpusPerReplica === 0) {
    problems.push(
      'conversion.throughputMode batches DINOv2 on a GPU, but triton.gpusPerReplica is 0 (CPU-only replicas), where batching gains nothing and ' +
        'warming up at the full batch takes minutes: set throughputMode.enabled to false or give each replica a GPU',
    );
  }
  if (throughput && !withinDinoAspectLimit(imageWidth, imageHeight)) {
    problems.push(
      `conversion.throughputMode.imageWidth x imageHeight (${imageWidth} x ${imageHeight}) must have an aspect ratio of at most ${MAX_ASPECT_RATIO}:1: ` +
        'DINOv2 needs one 14-px patch on the shorter side',
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
  if (monitoring.installKubePrometheusStack && !monitoring.prometheusOperator) {
    problems.push(
      'monitoring.prometheusOperator is false while monitoring.installKubePrometheusStack is true: kube-prometheus-stack runs the Prometheus Operator; ' +
        'set prometheusOperator to false only for your own Prometheus without it',
    );
  }
  if (monitoring.installAlertRules && !monitoring.prometheusOperator) {
    problems.push(
      'monitoring.installAlertRules needs a Prometheus Operator to evaluate its PrometheusRule, but monitoring.prometheusOperator is false: ' +
        'set installAlertRules to false (the rules are in charts/omniglue-alerts, to load into your Prometheus yourself)',
    );
  }
  const podMonitorLabels = Object.keys(monitoring.podMonitorLabels);
  if (podMonitorLabels.length > 0 && (monitoring.installKubePrometheusStack || !monitoring.prometheusOperator)) {
    problems.push(
      `monitoring.podMonitorLabels (${podMonitorLabels.join(', ')}) label the PodMonitor created for your own operator-managed Prometheus, ` +
        'but there is none: it needs monitoring.installKubePrometheusStack false and monitoring.prometheusOperator true',
    );
  }
  const ruleLabels = Object.keys(monitoring.ruleLabels);
  if (ruleLabels.length > 0 && !monitoring.installAlertRules) {
    problems.push(`monitoring.ruleLabels (${ruleLabels.join(', ')}) label the alerts' PrometheusRule, but monitoring.installAlertRules is false`);
  }
  if (conversion.useGpu && !conversion.dependenciesPreinstalled) {
    problems.push(
      'conversion.useGpu needs conversion.dependenciesPreinstalled with an image that has onnxruntime-gpu ' +
        '(docker build --build-arg ONNXRUNTIME_PACKAGE=onnxruntime-gpu==1.19.2 -f scripts/Dockerfile.conversion scripts): ' +
        'the default pip requirements are CPU builds and would hold a GPU without using it',
    );
  }
  const reservedEnvironment = Object.keys(conversion.extraEnv).filter((name) => RESERVED_JOB_ENVIRONMENT.includes(name));
  if (reservedEnvironment.length > 0) {
    problems.push(
      `conversion.extraEnv may not set ${reservedEnvironment.join(', ')}: the Job sets them itself or the image's Python needs them as they are (reserved: ${RESERVED_JOB_ENVIRONMENT.join(', ')})`,
    );
  }
  const reservedNamespaces = new Map<string, string>([
    ['default', 'the default namespace holds no Pod Security level of its own; give the workload its own namespace'],
    [monitoring.namespace, 'it is monitoring.namespace, and the restricted Pod Security level would stop node-exporter there'],
    [config.addons.nvidiaDevicePluginNamespace, 'it is addons.nvidiaDevicePluginNamespace, whose privileged pods the restricted level would stop'],
  ]);
  const namespaceClash = config.namespace.startsWith('kube-') ? 'kube-* namespaces belong to Kubernetes' : reservedNamespaces.get(config.namespace);
  if (namespaceClash !== undefined) {
    problems.push(`namespace '${config.namespace}' cannot hold the serving workload: ${namespaceClash}; choose another, e.g. "omniglue"`);
  }
  const tritonMemoryMiB = (quantityToNumber(triton.resources.memoryLimit) - triton.shmSizeMiB * 2 ** 20) / 2 ** 20;
  if (tritonMemoryMiB < MIN_TRITON_MEMORY_MIB && triton.shmSizeMiB * 2 ** 20 < quantityToNumber(triton.resources.memoryLimit)) {
    problems.push(
      `triton.shmSizeMiB (${triton.shmSizeMiB}) leaves Triton ${Math.round(tritonMemoryMiB)} MiB of triton.resources.memoryLimit (${triton.resources.memoryLimit}); ` +
        `it needs at least ${MIN_TRITON_MEMORY_MIB} MiB besides /dev/shm: lower shmSizeMiB or raise memoryLimit`,
    );
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
  const depthProblems = nestingProblems(raw as Json);
  if (depthProblems.length > 0) throw new ConfigError(source, depthProblems);
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

/** Environment names: what OMNIGLUE_ENV may hold and the keys of the file's `environments` map. */
const ENVIRONMENT_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Refuses documents nested deeper than any setting goes. Text is never refused for what it holds: `${` and `%{`
 * reach Terraform escaped (lib/terraform-text.ts), so every value arrives as written.
 */
function nestingProblems(value: Json, at: string[] = [], depth = 0): string[] {
  if (depth > 32) return [`${at.join('.')}: nested more than 32 levels deep`];
  const entries: [string, Json][] = Array.isArray(value) ? value.map((item, index) => [String(index), item]) : isPlainObject(value) ? Object.entries(value) : [];
  return entries.flatMap(([key, item]) => nestingProblems(item, [...at, key], depth + 1));
}

/** Parses the file's JSON, refusing duplicate keys (JSON.parse silently keeps the last). */
function parseJsonDocument(text: string, file: string): Json {
  let document: Json;
  try {
    document = JSON.parse(text) as Json;
  } catch (error) {
    throw new ConfigError(file, [`not valid JSON: ${(error as Error).message}`]);
  }
  // JSON is YAML 1.2, and the yaml parser reports duplicate keys with their line, which JSON.parse cannot.
  const duplicates = parseYamlDocument(text, { uniqueKeys: true }).errors.filter((error) => error.code === 'DUPLICATE_KEY');
  if (duplicates.length > 0) {
    const lines = text.split('\n');
    throw new ConfigError(
      file,
      duplicates.map((error) => {
        const line = error.linePos?.[0].line;
        const key = line === undefined ? undefined : /^\s*"((?:[^"\\]|\\.)*)"/.exec(lines[line - 1].slice((error.linePos?.[0].col ?? 1) - 1))?.[1];
        return `duplicate key${key === undefined ? '' : ` "${key}"`} at line ${line ?? '?'}: JSON parsers keep only the last value; keep one`;
      }),
    );
  }
  return document;
}

/** The base with one environment's overlay; the overlay's `state` replaces the base's whole (another backend). */
function applyOverlay(base: Record<string, Json>, overlay: Json): Json {
  const merged = deepMerge(base, overlay);
  if (isPlainObject(overlay) && isPlainObject(merged) && Object.hasOwn(overlay, 'state')) merged.state = overlay.state;
  return merged;
}

/** Validates the base and every environment of a configuration document; returns the requested one. */
export function parseConfigDocument(document: Json, file: string, environment?: string): OmniglueConfig {
  if (!isPlainObject(document)) throw new ConfigError(file, ['the file must hold a JSON object']);
  const depthProblems = nestingProblems(document);
  if (depthProblems.length > 0) throw new ConfigError(file, depthProblems);
  const { environments = {}, $schema: _schema, ...base } = document;
  if (!isPlainObject(environments)) throw new ConfigError(file, ['environments: must be an object of environment name to overlay']);
  const names = Object.keys(environments);
  const badNames = names.filter((name) => !ENVIRONMENT_NAME.test(name));
  if (badNames.length > 0) {
    throw new ConfigError(
      file,
      badNames.map((name) => `environments: '${name}' is not an environment name: use lower-case letters, digits and "-" (at most 63)`),
    );
  }
  if (environment !== undefined && !ENVIRONMENT_NAME.test(environment)) {
    throw new ConfigError(file, [`OMNIGLUE_ENV '${environment}' is not an environment name: use lower-case letters, digits and "-" (known: ${names.join(', ') || 'none'})`]);
  }
  if (environment !== undefined && !Object.hasOwn(environments, environment)) {
    throw new ConfigError(file, [`environment '${environment}' (OMNIGLUE_ENV) is not defined; known environments: ${names.length > 0 ? names.join(', ') : 'none'}`]);
  }
  // Every environment is checked at every synth: a typo in one must not wait until someone deploys it.
  const problems: string[] = [];
  const baseProblems = new Set<string>();
  let selected: OmniglueConfig | undefined;
  const parsed: NamedConfig[] = [];
  for (const name of [undefined, ...names]) {
    try {
      const config = parseConfig(name === undefined ? base : applyOverlay(base, environments[name]), file);
      parsed.push({ name, config });
      if (name === environment) selected = config;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      if (name === undefined) error.problems.forEach((problem) => baseProblems.add(problem));
      // A problem of the base shows once, not again under every environment that inherits it.
      const own = name === undefined ? error.problems : error.problems.filter((problem) => !baseProblems.has(problem));
      problems.push(...own.map((problem) => (name === undefined ? problem : `environments.${name}: ${problem}`)));
    }
  }
  // Environments are checked against each other only once each is valid on its own.
  if (problems.length === 0) problems.push(...isolationProblems(parsed));
  if (problems.length > 0 || selected === undefined) {
    throw new ConfigError(environment === undefined ? file : `${file}, environment '${environment}'`, problems);
  }
  return selected;
}

/** Reads the configuration file, validates it with every environment overlay, and returns the selected one. */
export function loadConfig(options: LoadConfigOptions = {}): OmniglueConfig {
  const file = options.file ?? process.env.OMNIGLUE_CONFIG ?? DEFAULT_CONFIG_FILE;
  const environment = options.environment ?? (process.env.OMNIGLUE_ENV || undefined);
  // Messages name the file as the user would type it: relative to where they run synth, when it is below.
  const relative = path.relative(process.cwd(), file);
  const shown = relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
  let document: Json = {};
  if (fs.existsSync(file)) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(shown, [`cannot read the file: ${(error as Error).message}`]);
    }
    // Editors on Windows may start the file with a byte-order mark, which JSON.parse refuses.
    document = parseJsonDocument(text.replace(/^\uFEFF/, ''), shown);
  } else if (options.file !== undefined || process.env.OMNIGLUE_CONFIG !== undefined) {
    throw new ConfigError(shown, ['file not found']);
  }
  return parseConfigDocument(document, shown, environment);
}
