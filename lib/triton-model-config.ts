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

/** Parses one config.pbtxt; errors name the file (and the line, for syntax errors). */
const parsedConfigs = new Map<string, RawConfig>();

/** Parses a config.pbtxt; the same text parses to the same message, so it is parsed once per process. */
function parseModelConfig(configText: string, file: string): RawConfig {
  const known = parsedConfigs.get(configText);
  if (known !== undefined) return structuredClone(known);
  const raw = parseModelConfigText(configText, file);
  parsedConfigs.set(configText, raw);
  return structuredClone(raw);
}

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

function dimsAgree(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === -1 || b[i] === -1 || d === b[i]);
}

/** A tensor's shape as a request carries it: a batching model's dims get the leading batch dimension. */
export function fullDims(spec: TensorSpec, maxBatchSize: number): number[] {
  return maxBatchSize > 0 ? [-1, ...spec.dims] : spec.dims;
}

interface TensorEnd {
  spec: TensorSpec;
  maxBatchSize: number;
}

/**
 * Triton core's ensemble_utils.cc `ValidateTensorConsistency`: dims agree with -1 as a wildcard, or else the full
 * dims do, which lets a non-batching step's `[1, d...]` feed a batching model's `[d...]` (and back).
 */
function tensorsAgree(a: TensorEnd, b: TensorEnd): boolean {
  return dimsAgree(a.spec.dims, b.spec.dims) || dimsAgree(fullDims(a.spec, a.maxBatchSize), fullDims(b.spec, b.maxBatchSize));
}

function describe({ spec, maxBatchSize }: TensorEnd): string {
  return `${spec.dataType} [${fullDims(spec, maxBatchSize).join(', ')}]`;
}

/**
 * Checks the ensemble's data flow against the configs of its steps, the way Triton
 * would when loading it, plus the shape agreement Triton only discovers per request.
 * Returns human-readable problems; an empty list means consistent.
 */
export function checkEnsembleConsistency(repo: LoadedModelRepository): string[] {
  const problems: string[] = [];
  const ensemble = repo.ensemble;
  const known = new Map(repo.models.map((m) => [m.name, m]));
  const label = (index: number, step: EnsembleStep) => `step ${index + 1} (${step.modelName})`;
  if (ensemble.steps.length === 0) problems.push(`ensemble "${ensemble.name}" has no steps`);

  // The spec of every ensemble tensor as written by its producer: an ensemble input or a step output.
  const producers = new Map<string, { by: string; end?: TensorEnd }[]>();
  const addProducer = (tensor: string, entry: { by: string; end?: TensorEnd }) => {
    producers.set(tensor, [...(producers.get(tensor) ?? []), entry]);
  };
  for (const input of ensemble.inputs) {
    addProducer(input.name, { by: `ensemble input "${input.name}"`, end: { spec: input, maxBatchSize: ensemble.maxBatchSize } });
  }

  ensemble.steps.forEach((step, index) => {
    const model = known.get(step.modelName);
    if (!model) {
      problems.push(`${label(index, step)}: model "${step.modelName}" is not in the model repository`);
    } else if (model.maxBatchSize !== 0 && model.maxBatchSize < ensemble.maxBatchSize) {
      // ensemble_utils.cc ValidateEnsembleConfig: a batching step must take the ensemble's largest batch.
      problems.push(`${label(index, step)}: max_batch_size ${model.maxBatchSize} is below the ensemble's ${ensemble.maxBatchSize}`);
    }
    for (const [modelInput, tensor] of Object.entries(step.inputMap)) {
      if (model && !model.inputs.some((t) => t.name === modelInput)) {
        problems.push(`${label(index, step)}: input_map key "${modelInput}" is not an input of model "${model.name}" (inputs: ${model.inputs.map((t) => t.name).join(', ')})`);
      }
      if (tensor === '') problems.push(`${label(index, step)}: input "${modelInput}" is mapped to an empty tensor name`);
    }
    for (const [modelOutput, tensor] of Object.entries(step.outputMap)) {
      const spec = model?.outputs.find((t) => t.name === modelOutput);
      if (model && !spec) {
        problems.push(`${label(index, step)}: output_map key "${modelOutput}" is not an output of model "${model.name}" (outputs: ${model.outputs.map((t) => t.name).join(', ')})`);
      }
      addProducer(tensor, { by: `${label(index, step)} output "${modelOutput}"`, end: spec && model ? { spec, maxBatchSize: model.maxBatchSize } : undefined });
    }
    for (const input of model?.inputs ?? []) {
      if (!(input.name in step.inputMap) && !input.optional) {
        problems.push(`${label(index, step)}: required input "${input.name}" of model "${model?.name}" has no input_map entry`);
      }
    }
  });

  for (const [tensor, entries] of producers) {
    if (entries.length > 1) {
      problems.push(`tensor "${tensor}" is produced more than once: by ${entries.map((e) => e.by).join(' and by ')}`);
    }
  }

  // Edges: every consumer agrees with the tensor's producer on data type and shape.
  const checkEdge = (tensor: string, consumer: string, expected: TensorEnd | undefined) => {
    const produced = producers.get(tensor)?.[0];
    if (!produced) {
      problems.push(`tensor "${tensor}" consumed by ${consumer} is never produced (not an ensemble input nor any step's output)`);
      return;
    }
    if (!expected || !produced.end) return;
    if (expected.spec.dataType !== produced.end.spec.dataType) {
      problems.push(`tensor "${tensor}": data type mismatch between ${produced.by} (${produced.end.spec.dataType}) and ${consumer} (${expected.spec.dataType})`);
    } else if (!tensorsAgree(expected, produced.end)) {
      problems.push(`tensor "${tensor}": shape mismatch between ${produced.by} (${describe(produced.end)}) and ${consumer} (${describe(expected)})`);
    }
  };
  const end = (spec: TensorSpec | undefined, maxBatchSize: number) => (spec ? { spec, maxBatchSize } : undefined);
  const consumers = new Map<string, number[]>();
  ensemble.steps.forEach((step, index) => {
    const model = known.get(step.modelName);
    for (const [modelInput, tensor] of Object.entries(step.inputMap)) {
      consumers.set(tensor, [...(consumers.get(tensor) ?? []), index]);
      checkEdge(tensor, `${label(index, step)} input "${modelInput}"`, end(model?.inputs.find((t) => t.name === modelInput), model?.maxBatchSize ?? 0));
    }
  });
  for (const output of ensemble.outputs) {
    const count = producers.get(output.name)?.length ?? 0;
    if (count === 0) problems.push(`ensemble output "${output.name}" is not produced by any step`);
    else checkEdge(output.name, `ensemble output "${output.name}"`, end(output, ensemble.maxBatchSize));
  }
  for (const input of ensemble.inputs) {
    if (!consumers.has(input.name)) problems.push(`ensemble input "${input.name}" is not consumed by any step`);
  }

  // Run the steps in data order: whatever never becomes runnable waits on a cycle (or on a missing tensor, reported above).
  const available = new Set(ensemble.inputs.map((t) => t.name));
  const pending = new Set(ensemble.steps.map((_, index) => index));
  for (let progress = true; progress; ) {
    progress = false;
    for (const index of [...pending]) {
      const step = ensemble.steps[index];
      if (Object.values(step.inputMap).every((t) => available.has(t))) {
        Object.values(step.outputMap).forEach((t) => available.add(t));
        pending.delete(index);
        progress = true;
      }
    }
  }
  const producedSomewhere = (t: string) => producers.has(t);
  const blocked = [...pending].filter((index) => Object.values(ensemble.steps[index].inputMap).every(producedSomewhere));
  if (blocked.length > 0) {
    problems.push(`steps that can never run because their inputs wait on a cycle: ${blocked.map((i) => label(i, ensemble.steps[i])).join(', ')}`);
  }

  // A step whose outputs reach no ensemble output still runs for every request: pure waste, usually a mis-wired map.
  const useful = new Set(ensemble.outputs.map((t) => t.name));
  const contributing = new Set<number>();
  for (let changed = true; changed; ) {
    changed = false;
    ensemble.steps.forEach((step, index) => {
      if (!contributing.has(index) && Object.values(step.outputMap).some((t) => useful.has(t))) {
        contributing.add(index);
        Object.values(step.inputMap).forEach((t) => useful.add(t));
        changed = true;
      }
    });
  }
  ensemble.steps.forEach((step, index) => {
    if (!contributing.has(index)) problems.push(`${label(index, step)} contributes to no ensemble output`);
  });
  return problems;
}
