/**
 * Runs omniglue_ensemble the way Triton's ensemble scheduler does, from the repository's own config.pbtxt files,
 * after the load-time checks Triton's onnxruntime backend applies to every model (`loadProblems`):
 * a step runs once every ensemble tensor in its input_map exists, each input_map entry feeds a model input from an
 * ensemble tensor, each output_map entry publishes a model output under an ensemble tensor name. Like Triton,
 * every tensor handed to a model and every tensor it returns is checked against that model's config: data type,
 * rank and each fixed dim (-1 accepts any size, including 0). A batching model's tensors carry the batch dimension
 * in front of its config dims; a non-batching step's `[1, d...]` reaches it as a batch of one (Triton core
 * ensemble_scheduler.cc `ReshapeTensorDims`: dims of another rank are taken as already batched).
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { fullDims, type LoadedModelRepository, type TensorSpec, type TritonModelConfig } from '../../lib/triton-model-config';

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

/**
 * What Triton's onnxruntime backend checks when it loads a model against its config (triton-inference-server/
 * onnxruntime_backend src/onnxruntime.cc ValidateInputs and ValidateOutputs, src/onnxruntime_utils.cc
 * CompareDimsSupported): each config tensor exists in the model with the same element type; with max_batch_size > 0
 * the model's first dim must be -1 and the rest is compared with the config dims; a dynamic model dim accepts any
 * config dim for an input, but an output's dims must be equal exactly (compare_exact), -1 against -1.
 */
export function loadProblems(config: TritonModelConfig, session: InferenceSession): string[] {
  const problems: string[] = [];
  const check = (kind: 'input' | 'output', specs: TensorSpec[], metadata: readonly InferenceSession.ValueMetadata[]) => {
    for (const spec of specs) {
      const where = `model ${config.name} ${kind} ${spec.name}`;
      const found = metadata.find((m) => m.name === spec.name);
      if (!found || !found.isTensor) {
        problems.push(`${where}: not a tensor of the ONNX model (it has ${metadata.map((m) => m.name).join(', ')})`);
        continue;
      }
      if (found.type !== ORT_TYPES[spec.dataType]) problems.push(`${where}: ONNX type ${found.type}, config says ${spec.dataType}`);
      const model = found.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
      if (config.maxBatchSize > 0 && model[0] !== -1) problems.push(`${where}: batching needs a dynamic first dim, ONNX has [${model.join(', ')}]`);
      const expected = fullDims(spec, config.maxBatchSize);
      const fits = model.length === expected.length && model.every((d, i) => (kind === 'input' && d === -1) || d === expected[i]);
      if (!fits) problems.push(`${where}: ONNX shape [${model.join(', ')}] against config [${expected.join(', ')}]${kind === 'output' ? ' (outputs compare exactly)' : ''}`);
    }
  };
  check('input', config.inputs, session.inputMetadata);
  check('output', config.outputs, session.outputMetadata);
  return problems;
}

/** Sessions whose interface has passed loadProblems. */
const loaded = new WeakSet<InferenceSession>();

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
    if (!loaded.has(session)) {
      // Once per session, as Triton checks a model once when it loads it.
      problems.push(...loadProblems(config, session));
      loaded.add(session);
    }
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
