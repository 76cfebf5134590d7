import * as fs from 'fs';
import * as path from 'path';
import * as protobuf from 'protobufjs';
import * as textformat from 'protobufjs/ext/textformat';
import { REPOSITORY_ROOT } from './paths';

/** Absolute path of this repository's Triton model repository. */
export const MODEL_REPOSITORY_DIR = path.join(REPOSITORY_ROOT, 'model_repository');

const SCHEMA_PATH = path.join(REPOSITORY_ROOT, 'lib', 'triton-model-config.proto');

export interface TensorSpec {
  name: string;
  /** Triton data type, e.g. 'TYPE_FP32'. */
  dataType: string;
  /** Full shape when maxBatchSize is 0; -1 marks a dynamic dimension. */
  dims: number[];
  /** Inputs only: Triton may run the model without it. */
  optional?: boolean;
}

export interface EnsembleStep {
  modelName: string;
  /** Model input name -> ensemble tensor name. */
  inputMap: Record<string, string>;
  /** Model output name -> ensemble tensor name. */
  outputMap: Record<string, string>;
}

/** One `model_warmup` input: its type, full shape and where its data comes from. */
export interface WarmupInput {
  dataType: string;
  dims: number[];
  /** zero_data / random_data, the file name under the model's warmup/ directory, or 'unset' (Triton refuses that). */
  data: 'zero' | 'random' | { file: string } | 'unset';
}

export interface WarmupSample {
  name: string;
  batchSize: number;
  count: number;
  inputs: Record<string, WarmupInput>;
}

export interface TritonModelConfig {
  name: string;
  platform: string;
  backend: string;
  maxBatchSize: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  instanceGroups: { kind: string; count: number }[];
  /** `model_warmup` samples, run by every instance while the model loads. */
  warmups: WarmupSample[];
  /** Histogram buckets set in `model_metrics`, by metric family. */
  histogramBuckets: Record<string, number[]>;
  /** Ensemble steps in file order; empty for other models. */
  steps: EnsembleStep[];
  /** The config.pbtxt text as read, for hashing or shipping verbatim. */
  configText: string;
  /** Absolute path of the model's directory. */
  directory: string;
}

export interface LoadedModelRepository {
  root: string;
  /** Every model of the repository, the ensemble included, sorted by name. */
  models: TritonModelConfig[];
  ensemble: TritonModelConfig;
  /** The model called `name`; throws when the repository has none. */
  model(name: string): TritonModelConfig;
}

/** What the conversion Job needs to validate ONNX files without a protobuf schema. */
export interface ModelContract {
  ensemble: string;
  models: Record<string, { platform: string; maxBatchSize: number; inputs: TensorSpec[]; outputs: TensorSpec[] }>;
  steps: EnsembleStep[];
}

let configType: protobuf.Type | undefined;

function modelConfigType(): protobuf.Type {
  configType ??= protobuf.loadSync(SCHEMA_PATH).lookupType('inference.ModelConfig');
  return configType;
}

interface RawTensor {
  name: string;
  dataType: string;
  dims: number[];
  optional?: boolean;
}

interface RawConfig {
  name: string;
  platform: string;
  backend: string;
  maxBatchSize: number;
  input: RawTensor[];
  output: RawTensor[];
  instanceGroup: { kind: string; count: number }[];
  modelWarmup: {
    name: string;
    batchSize: number;
    count: number;
    inputs: Record<string, RawTensor & { zeroData?: boolean; randomData?: boolean; inputDataFile?: string }>;
  }[];
  ensembleScheduling?: { step: { modelName: string; inputMap: Record<string, string>; outputMap: Record<string, string> }[] };
  modelMetrics?: { metricControl: { metricIdentifier?: { family: string }; histogramOptions?: { buckets: number[] } }[] };
}

const parsedConfigs = new Map<string, RawConfig>();

/** Parses a config.pbtxt; the same text parses to the same message, so it is parsed once per process. */
function parseModelConfig(configText: string, file: string): RawConfig {
  const known = parsedConfigs.get(configText);
  if (known !== undefined) return structuredClone(known);
  const raw = parseModelConfigText(configText, file);
  parsedConfigs.set(configText, raw);
  return structuredClone(raw);
}

/** Parses one config.pbtxt; errors name the file (and the line, for syntax errors). */
function parseModelConfigText(configText: string, file: string): RawConfig {
  const type = modelConfigType();
  try {
    const message = textformat.fromText(type, configText);
    // defaults: true so that absent scalars read as Triton reads them (0, '', KIND_AUTO)
    return type.toObject(message, { enums: String, longs: Number, defaults: true, arrays: true, objects: true }) as RawConfig;
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

function toTensorSpec(raw: RawTensor, withOptional: boolean): TensorSpec {
  const spec: TensorSpec = { name: raw.name, dataType: raw.dataType, dims: raw.dims.map(Number) };
  if (withOptional && raw.optional) spec.optional = true;
  return spec;
}

function loadModel(directory: string): TritonModelConfig {
  const file = path.join(directory, 'config.pbtxt');
  if (!fs.existsSync(file)) {
    throw new Error(`${file}: missing; Triton treats every directory of the model repository as a model and needs its config.pbtxt`);
  }
  const configText = fs.readFileSync(file, 'utf8');
  const raw = parseModelConfig(configText, file);
  const directoryName = path.basename(directory);
  // Triton takes the directory name when `name` is absent, and refuses a config whose name differs.
  const name = raw.name === '' ? directoryName : raw.name;
  if (name !== directoryName) {
    throw new Error(`${file}: name "${name}" does not match its directory "${directoryName}"; Triton refuses to load it. Rename one of them.`);
  }
  return {
    name,
    platform: raw.platform,
    backend: raw.backend,
    maxBatchSize: raw.maxBatchSize,
    inputs: raw.input.map((t) => toTensorSpec(t, true)),
    outputs: raw.output.map((t) => toTensorSpec(t, false)),
    // Triton reads an absent (0) count as one instance per GPU listed.
    instanceGroups: raw.instanceGroup.map((g) => ({ kind: g.kind, count: g.count === 0 ? 1 : g.count })),
    warmups: raw.modelWarmup.map((w) => ({
      name: w.name,
      batchSize: w.batchSize,
      count: w.count,
      inputs: Object.fromEntries(
        Object.entries(w.inputs).map(([input, v]) => [
          input,
          { dataType: v.dataType, dims: v.dims.map(Number), data: v.zeroData ? 'zero' : v.randomData ? 'random' : v.inputDataFile ? { file: v.inputDataFile } : 'unset' },
        ]),
      ),
    })),
    histogramBuckets: Object.fromEntries(
      (raw.modelMetrics?.metricControl ?? []).map((control) => [control.metricIdentifier?.family ?? '', (control.histogramOptions?.buckets ?? []).map(Number)]),
    ),
    steps: (raw.ensembleScheduling?.step ?? []).map((s) => ({
      modelName: s.modelName,
      inputMap: { ...s.inputMap },
      outputMap: { ...s.outputMap },
    })),
    configText,
    directory,
  };
}

/**
 * Parses every model directory under `root` against Triton's schema (the subset in
 * triton-model-config.proto). Unknown fields, syntax errors and name mismatches throw.
 */
export function loadModelRepository(root: string, ensembleName = 'omniglue_ensemble'): LoadedModelRepository {
  const absoluteRoot = path.resolve(root);
  if (!fs.existsSync(absoluteRoot) || !fs.statSync(absoluteRoot).isDirectory()) {
    throw new Error(`model repository ${absoluteRoot} is not a directory`);
  }
  const models = fs
    .readdirSync(absoluteRoot, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => loadModel(path.join(absoluteRoot, name)));
  const byName = new Map(models.map((m) => [m.name, m]));
  const model = (name: string): TritonModelConfig => {
    const found = byName.get(name);
    if (!found) {
      throw new Error(`model "${name}" is not in the model repository ${absoluteRoot} (models: ${[...byName.keys()].join(', ')})`);
    }
    return found;
  };
  const ensemble = byName.get(ensembleName);
  if (!ensemble) {
    throw new Error(`${path.join(absoluteRoot, ensembleName, 'config.pbtxt')}: missing; the ensemble "${ensembleName}" is not in the model repository`);
  }
  if (ensemble.platform !== 'ensemble') {
    throw new Error(`${path.join(ensemble.directory, 'config.pbtxt')}: platform is "${ensemble.platform}", expected "ensemble"`);
  }
  return { root: absoluteRoot, models, ensemble, model };
}

/** A JSON-serialisable summary of the repository for tools without a protobuf schema. */
export function buildModelContract(repo: LoadedModelRepository): ModelContract {
  const models: ModelContract['models'] = {};
  for (const m of repo.models) {
    models[m.name] = {
      platform: m.platform,
      maxBatchSize: m.maxBatchSize,
      inputs: m.inputs.map((t) => ({ ...t, dims: [...t.dims] })),
      outputs: m.outputs.map((t) => ({ ...t, dims: [...t.dims] })),
    };
  }
  return {
    ensemble: repo.ensemble.name,
    models,
    steps: repo.ensemble.steps.map((s) => ({ modelName: s.modelName, inputMap: { ...s.inputMap }, outputMap: { ...s.outputMap } })),
  };
}

/** A tensor's shape as a request carries it: a batching model's dims get the leading batch dimension. */
export function fullDims(spec: TensorSpec, maxBatchSize: number): number[] {
  return maxBatchSize > 0 ? [-1, ...spec.dims] : spec.dims;
}
