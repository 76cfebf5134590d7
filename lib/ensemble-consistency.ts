/**
 * The ensemble's data flow checked against the configs of its steps, the way Triton checks it when loading the
 * ensemble (core ensemble_utils.cc `ValidateEnsembleConfig`), plus the shape agreement Triton only discovers per
 * request, the steps that could never run and the steps that serve no output.
 */
import { EnsembleStep, fullDims, LoadedModelRepository, TensorSpec, TritonModelConfig } from './triton-model-config';

interface TensorEnd {
  spec: TensorSpec;
  maxBatchSize: number;
}

/** Who writes a tensor: an ensemble input or a step output, with its spec where the model declares one. */
interface Producer {
  by: string;
  end?: TensorEnd;
}

/** The repository seen as a graph: the steps with their models, and every tensor's producers. */
interface Flow {
  readonly repo: LoadedModelRepository;
  readonly models: Map<string, TritonModelConfig>;
  readonly producers: Map<string, Producer[]>;
}

const label = (index: number, step: EnsembleStep) => `step ${index + 1} (${step.modelName})`;

function dimsAgree(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === -1 || b[i] === -1 || d === b[i]);
}

/**
 * Triton core's ensemble_utils.cc `ValidateTensorConsistency`: dims agree with -1 as a wildcard, or else the full
 * dims do, which lets a non-batching step's `[1, d...]` feed a batching model's `[d...]` (and back).
 */
function tensorsAgree(a: TensorEnd, b: TensorEnd): boolean {
  return dimsAgree(a.spec.dims, b.spec.dims) || dimsAgree(fullDims(a.spec, a.maxBatchSize), fullDims(b.spec, b.maxBatchSize));
}

function describeEnd({ spec, maxBatchSize }: TensorEnd): string {
  return `${spec.dataType} [${fullDims(spec, maxBatchSize).join(', ')}]`;
}

function flowOf(repo: LoadedModelRepository): Flow {
  const { ensemble } = repo;
  const models = new Map(repo.models.map((m) => [m.name, m]));
  const producers = new Map<string, Producer[]>();
  const add = (tensor: string, producer: Producer) => producers.set(tensor, [...(producers.get(tensor) ?? []), producer]);
  for (const input of ensemble.inputs) add(input.name, { by: `ensemble input "${input.name}"`, end: { spec: input, maxBatchSize: ensemble.maxBatchSize } });
  ensemble.steps.forEach((step, index) => {
    const model = models.get(step.modelName);
    for (const [modelOutput, tensor] of Object.entries(step.outputMap)) {
      const spec = model?.outputs.find((t) => t.name === modelOutput);
      add(tensor, { by: `${label(index, step)} output "${modelOutput}"`, end: spec && model ? { spec, maxBatchSize: model.maxBatchSize } : undefined });
    }
  });
  return { repo, models, producers };
}

/** Each step against its own model's config: the model exists, takes the batch, and has the mapped tensors. */
function stepProblems({ repo: { ensemble }, models }: Flow): string[] {
  return ensemble.steps.flatMap((step, index) => {
    const model = models.get(step.modelName);
    const at = label(index, step);
    if (!model) return [`${at}: model "${step.modelName}" is not in the model repository`, ...emptyInputNames(step, at)];
    return [
      // ensemble_utils.cc ValidateEnsembleConfig: a batching step must take the ensemble's largest batch.
      ...(model.maxBatchSize !== 0 && model.maxBatchSize < ensemble.maxBatchSize ? [`${at}: max_batch_size ${model.maxBatchSize} is below the ensemble's ${ensemble.maxBatchSize}`] : []),
      ...Object.keys(step.inputMap)
        .filter((modelInput) => !model.inputs.some((t) => t.name === modelInput))
        .map((modelInput) => `${at}: input_map key "${modelInput}" is not an input of model "${model.name}" (inputs: ${model.inputs.map((t) => t.name).join(', ')})`),
      ...emptyInputNames(step, at),
      ...Object.keys(step.outputMap)
        .filter((modelOutput) => !model.outputs.some((t) => t.name === modelOutput))
        .map((modelOutput) => `${at}: output_map key "${modelOutput}" is not an output of model "${model.name}" (outputs: ${model.outputs.map((t) => t.name).join(', ')})`),
      ...model.inputs
        .filter((input) => !(input.name in step.inputMap) && !input.optional)
        .map((input) => `${at}: required input "${input.name}" of model "${model.name}" has no input_map entry`),
    ];
  });
}

function emptyInputNames(step: EnsembleStep, at: string): string[] {
  return Object.entries(step.inputMap)
    .filter(([, tensor]) => tensor === '')
    .map(([modelInput]) => `${at}: input "${modelInput}" is mapped to an empty tensor name`);
}

/** Every edge: a tensor has one producer, and its consumers agree with it on data type and shape. */
function edgeProblems({ repo: { ensemble }, models, producers }: Flow): string[] {
  const problems = [...producers]
    .filter(([, entries]) => entries.length > 1)
    .map(([tensor, entries]) => `tensor "${tensor}" is produced more than once: by ${entries.map((e) => e.by).join(' and by ')}`);
  const checkEdge = (tensor: string, consumer: string, expected: TensorEnd | undefined) => {
    const produced = producers.get(tensor)?.[0];
    if (!produced) {
      problems.push(`tensor "${tensor}" consumed by ${consumer} is never produced (not an ensemble input nor any step's output)`);
    } else if (expected && produced.end && expected.spec.dataType !== produced.end.spec.dataType) {
      problems.push(`tensor "${tensor}": data type mismatch between ${produced.by} (${produced.end.spec.dataType}) and ${consumer} (${expected.spec.dataType})`);
    } else if (expected && produced.end && !tensorsAgree(expected, produced.end)) {
      problems.push(`tensor "${tensor}": shape mismatch between ${produced.by} (${describeEnd(produced.end)}) and ${consumer} (${describeEnd(expected)})`);
    }
  };
  const end = (spec: TensorSpec | undefined, maxBatchSize: number) => (spec ? { spec, maxBatchSize } : undefined);
  ensemble.steps.forEach((step, index) => {
    const model = models.get(step.modelName);
    for (const [modelInput, tensor] of Object.entries(step.inputMap)) {
      checkEdge(tensor, `${label(index, step)} input "${modelInput}"`, end(model?.inputs.find((t) => t.name === modelInput), model?.maxBatchSize ?? 0));
    }
  });
  for (const output of ensemble.outputs) {
    if (!producers.has(output.name)) problems.push(`ensemble output "${output.name}" is not produced by any step`);
    else checkEdge(output.name, `ensemble output "${output.name}"`, end(output, ensemble.maxBatchSize));
  }
  const consumed = new Set(ensemble.steps.flatMap((step) => Object.values(step.inputMap)));
  for (const input of ensemble.inputs) {
    if (!consumed.has(input.name)) problems.push(`ensemble input "${input.name}" is not consumed by any step`);
  }
  return problems;
}

/** Runs the steps in data order: whatever never becomes runnable waits on a cycle (or on a missing tensor, an edge problem). */
function cycleProblems({ repo: { ensemble }, producers }: Flow): string[] {
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
  const blocked = [...pending].filter((index) => Object.values(ensemble.steps[index].inputMap).every((t) => producers.has(t)));
  return blocked.length > 0 ? [`steps that can never run because their inputs wait on a cycle: ${blocked.map((i) => label(i, ensemble.steps[i])).join(', ')}`] : [];
}

/** A step whose outputs reach no ensemble output still runs for every request: pure waste, usually a mis-wired map. */
function deadStepProblems({ repo: { ensemble } }: Flow): string[] {
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
  return ensemble.steps.flatMap((step, index) => (contributing.has(index) ? [] : [`${label(index, step)} contributes to no ensemble output`]));
}

/** Human-readable problems of the ensemble's data flow; an empty list means consistent. */
export function checkEnsembleConsistency(repo: LoadedModelRepository): string[] {
  const flow = flowOf(repo);
  return [
    ...(repo.ensemble.steps.length === 0 ? [`ensemble "${repo.ensemble.name}" has no steps`] : []),
    ...stepProblems(flow),
    ...edgeProblems(flow),
    ...cycleProblems(flow),
    ...deadStepProblems(flow),
  ];
}
