/**
 * Runs omniglue_ensemble the way Triton's ensemble scheduler does, from the repository's own config.pbtxt files:
 * a step runs once every ensemble tensor in its input_map exists, each input_map entry feeds a model input from an
 * ensemble tensor, each output_map entry publishes a model output under an ensemble tensor name. Like Triton,
 * every tensor handed to a model and every tensor it returns is checked against that model's config: data type,
 * rank and each fixed dim (-1 accepts any size, including 0). A batching model's tensors carry the batch dimension
 * in front of its config dims; a non-batching step's `[1, d...]` reaches it as a batch of one (Triton core
 * ensemble_scheduler.cc `ReshapeTensorDims`: dims of another rank are taken as already batched).
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { fullDims, type LoadedModelRepository, type TensorSpec } from '../../lib/triton-model-config';

const ORT_TYPES: Record<string, Tensor.Type> = { TYPE_FP32: 'float32', TYPE_UINT8: 'uint8', TYPE_INT32: 'int32', TYPE_INT64: 'int64' };

export interface StepRun {
  modelName: string;
  /** Model input name -> tensor fed. */
  inputs: Record<string, Tensor>;
  /** Model output name -> tensor returned. */
  outputs: Record<string, Tensor>;
}

export interface EnsembleRun {
  outputs: Record<string, Tensor>;
  /** Every ensemble tensor, by its ensemble name. */
  tensors: Record<string, Tensor>;
  /** The steps in the order they ran. */
  steps: StepRun[];
}

export function conformanceProblems(where: string, spec: TensorSpec, tensor: Tensor, maxBatchSize = 0): string[] {
  const problems: string[] = [];
  if (tensor.type !== ORT_TYPES[spec.dataType]) problems.push(`${where}: type ${tensor.type}, config says ${spec.dataType}`);
  const dims = fullDims(spec, maxBatchSize);
  const fits = tensor.dims.length === dims.length && dims.every((d, i) => d === -1 || d === tensor.dims[i]);
  if (!fits) problems.push(`${where}: shape [${tensor.dims.join(', ')}], config dims [${dims.join(', ')}]`);
  if (maxBatchSize > 0 && tensor.dims[0] > maxBatchSize) problems.push(`${where}: batch ${tensor.dims[0]} exceeds max_batch_size ${maxBatchSize}`);
  return problems;
}

export async function runEnsemble(
  repo: LoadedModelRepository,
  sessionFor: (modelName: string) => Promise<InferenceSession>,
  inputs: Record<string, Tensor>,
): Promise<EnsembleRun> {
  const ensemble = repo.ensemble;
  const tensors: Record<string, Tensor> = {};
  const problems: string[] = [];
  for (const spec of ensemble.inputs) {
    if (!inputs[spec.name]) throw new Error(`ensemble input ${spec.name} missing`);
    problems.push(...conformanceProblems(`ensemble input ${spec.name}`, spec, inputs[spec.name]));
    tensors[spec.name] = inputs[spec.name];
  }
  const pending = [...ensemble.steps];
  const steps: StepRun[] = [];
  while (pending.length > 0) {
    const index = pending.findIndex((s) => Object.values(s.inputMap).every((t) => t in tensors));
    if (index < 0) throw new Error(`no step can run: ${pending.map((s) => s.modelName).join(', ')} wait for missing tensors`);
    const [step] = pending.splice(index, 1);
    const config = repo.model(step.modelName);
    const feeds: Record<string, Tensor> = {};
    for (const [modelInput, tensorName] of Object.entries(step.inputMap)) {
      const spec = config.inputs.find((t) => t.name === modelInput);
      if (!spec) throw new Error(`${step.modelName} has no input ${modelInput}`);
      problems.push(...conformanceProblems(`${step.modelName} input ${modelInput} <- ${tensorName}`, spec, tensors[tensorName], config.maxBatchSize));
      feeds[modelInput] = tensors[tensorName];
    }
    if (problems.length > 0) throw new Error(problems.join('\n'));
    const session = await sessionFor(step.modelName);
    const results = await session.run(feeds, Object.keys(step.outputMap));
    for (const [modelOutput, tensorName] of Object.entries(step.outputMap)) {
      const spec = config.outputs.find((t) => t.name === modelOutput);
      if (!spec) throw new Error(`${step.modelName} has no output ${modelOutput}`);
      problems.push(...conformanceProblems(`${step.modelName} output ${modelOutput}`, spec, results[modelOutput], config.maxBatchSize));
      tensors[tensorName] = results[modelOutput];
    }
    if (problems.length > 0) throw new Error(problems.join('\n'));
    steps.push({ modelName: step.modelName, inputs: feeds, outputs: results as Record<string, Tensor> });
  }
  const outputs: Record<string, Tensor> = {};
  for (const spec of ensemble.outputs) {
    problems.push(...conformanceProblems(`ensemble output ${spec.name}`, spec, tensors[spec.name]));
    outputs[spec.name] = tensors[spec.name];
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return { outputs, tensors, steps };
}
