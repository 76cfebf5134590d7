import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkEnsembleConsistency } from '../lib/ensemble-consistency';
import { buildModelContract, loadModelRepository, MODEL_REPOSITORY_DIR } from '../lib/triton-model-config';

const ONNX_MODELS = [
  'dinov2',
  'dinov2_keypoint_sampler',
  'dinov2_preprocess',
  'omniglue',
  'omniglue_match_extraction',
  'superpoint',
  'superpoint_keypoints',
  'superpoint_preprocess',
];

// Models the ensemble runs once per image: two instances each, so image0's and image1's chains overlap.
const PER_IMAGE_MODELS = ['superpoint_preprocess', 'superpoint', 'superpoint_keypoints', 'dinov2_preprocess', 'dinov2', 'dinov2_keypoint_sampler'];

const tempDirs: string[] = [];

function copyRepository(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-repo-'));
  tempDirs.push(dir);
  fs.cpSync(MODEL_REPOSITORY_DIR, dir, { recursive: true });
  return dir;
}

function edit(root: string, model: string, from: string, to: string): void {
  const file = path.join(root, model, 'config.pbtxt');
  const text = fs.readFileSync(file, 'utf8');
  if (!text.includes(from)) throw new Error(`test setup: ${file} does not contain ${from}`);
  fs.writeFileSync(file, text.replace(from, to));
}

function problemsAfter(model: string, from: string, to: string): string[] {
  const root = copyRepository();
  edit(root, model, from, to);
  return checkEnsembleConsistency(loadModelRepository(root));
}

afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('loadModelRepository', () => {
  const repo = loadModelRepository(MODEL_REPOSITORY_DIR);

  test('parses every model of the repository', () => {
    expect(repo.models.map((m) => m.name)).toEqual([...ONNX_MODELS.slice(0, 4), 'omniglue_ensemble', ...ONNX_MODELS.slice(4)]);
    expect(repo.root).toBe(MODEL_REPOSITORY_DIR);
  });

  test.each(ONNX_MODELS)('%s runs on ONNX Runtime on GPU instances without batching', (name) => {
    const model = repo.model(name);
    expect(model.platform).toBe('onnxruntime_onnx');
    expect(model.maxBatchSize).toBe(0);
    expect(model.instanceGroups).toEqual([{ kind: 'KIND_GPU', count: PER_IMAGE_MODELS.includes(name) ? 2 : 1 }]);
    expect(model.configText).toMatch(/^default_model_filename: "model\.onnx"$/m);
    expect(model.configText).not.toMatch(/optimization/);
    expect(model.directory).toBe(path.join(MODEL_REPOSITORY_DIR, name));
  });

  test('reads the ensemble with its 14 steps and the contract tensors', () => {
    const ensemble = repo.ensemble;
    expect(ensemble.platform).toBe('ensemble');
    expect(ensemble.maxBatchSize).toBe(0);
    expect(ensemble.steps).toHaveLength(14);
    expect(ensemble.inputs).toEqual([
      { name: 'image0', dataType: 'TYPE_UINT8', dims: [-1, -1, 3] },
      { name: 'image1', dataType: 'TYPE_UINT8', dims: [-1, -1, 3] },
    ]);
    expect(ensemble.outputs).toEqual([
      { name: 'matches_kp0', dataType: 'TYPE_FP32', dims: [-1, 2] },
      { name: 'matches_kp1', dataType: 'TYPE_FP32', dims: [-1, 2] },
      { name: 'match_confidences', dataType: 'TYPE_FP32', dims: [-1] },
    ]);
    expect(ensemble.steps[13]).toEqual({
      modelName: 'omniglue_match_extraction',
      inputMap: {
        soft_assignment: 'soft_assignment',
        keypoints0: 'matcher_keypoints0',
        keypoints1: 'matcher_keypoints1',
        scores0: 'matcher_scores0',
        scores1: 'matcher_scores1',
      },
      outputMap: { matches_kp0: 'matches_kp0', matches_kp1: 'matches_kp1', match_confidences: 'match_confidences' },
    });
  });

  test('gives every model at least one GPU instance per ensemble step that uses it', () => {
    const stepsPerModel = new Map<string, number>();
    for (const step of repo.ensemble.steps) stepsPerModel.set(step.modelName, (stepsPerModel.get(step.modelName) ?? 0) + 1);
    // The six per-image models are exactly the ones used by more than one step (once per image).
    expect([...stepsPerModel].filter(([, steps]) => steps > 1).map(([name]) => name).sort()).toEqual([...PER_IMAGE_MODELS].sort());
    for (const [name, steps] of stepsPerModel) {
      const gpuInstances = repo.model(name).instanceGroups.filter((g) => g.kind === 'KIND_GPU').reduce((sum, g) => sum + g.count, 0);
      expect({ name, gpuInstances: Math.min(gpuInstances, steps) }).toEqual({ name, gpuInstances: steps });
    }
  });

  test('keeps the keypoint dim dynamic (-1) from keypoint extraction to the ensemble outputs', () => {
    const keypointTensors = [
      ...repo.model('superpoint_keypoints').outputs,
      ...repo.model('dinov2_keypoint_sampler').inputs.filter((t) => ['keypoints', 'descriptors', 'scores'].includes(t.name)),
      ...repo.model('dinov2_keypoint_sampler').outputs,
      ...repo.model('omniglue').inputs.filter((t) => !/^(width|height)/.test(t.name)),
    ];
    expect(keypointTensors).toHaveLength(3 + 3 + 4 + 8);
    for (const t of keypointTensors) expect([t.name, t.dims[1]]).toEqual([t.name, -1]);
    expect(repo.model('omniglue').outputs[0].dims).toEqual([1, -1, -1]);
    expect(repo.ensemble.outputs.map((t) => t.dims)).toEqual([[-1, 2], [-1, 2], [-1]]);
    const allDims = repo.models.flatMap((m) => [...m.inputs, ...m.outputs].flatMap((t) => t.dims));
    expect(allDims).not.toContain(1024);
  });

  test('fails for a model that is not in the repository', () => {
    expect(() => repo.model('superglue')).toThrow(/model "superglue" is not in the model repository .*\(models: dinov2, /);
  });

  test('fails with the file and line of a syntax error', () => {
    const root = copyRepository();
    edit(root, 'superpoint', 'dims: [ 1, -1, -1, 1 ]', 'dims: [ 1, -1, -1, 1');
    expect(() => loadModelRepository(root)).toThrow(/superpoint[/\\]config\.pbtxt: expected ']' \(line 1[0-9]\)/);
  });

  test('fails on a field Triton does not know', () => {
    const root = copyRepository();
    edit(root, 'dinov2', 'max_batch_size: 0', 'max_batch_sise: 0');
    expect(() => loadModelRepository(root)).toThrow(/dinov2[/\\]config\.pbtxt: .*unknown field 'max_batch_sise' \(line \d+\)/);
  });

  test('fails on an unknown enum value', () => {
    const root = copyRepository();
    edit(root, 'omniglue', 'kind: KIND_GPU', 'kind: KIND_TPU');
    expect(() => loadModelRepository(root)).toThrow(/omniglue[/\\]config\.pbtxt: .*kind: enum value expected/);
  });

  test('fails when the name differs from the directory', () => {
    const root = copyRepository();
    edit(root, 'dinov2', 'name: "dinov2"', 'name: "dinov2_vitb14"');
    expect(() => loadModelRepository(root)).toThrow(/dinov2[/\\]config\.pbtxt: name "dinov2_vitb14" does not match its directory "dinov2"/);
  });

  test('fails when the ensemble is missing', () => {
    const root = copyRepository();
    fs.rmSync(path.join(root, 'omniglue_ensemble'), { recursive: true });
    expect(() => loadModelRepository(root)).toThrow(/the ensemble "omniglue_ensemble" is not in the model repository/);
  });

  test('fails for a model directory without config.pbtxt', () => {
    const root = copyRepository();
    fs.mkdirSync(path.join(root, 'notes'));
    expect(() => loadModelRepository(root)).toThrow(/notes[/\\]config\.pbtxt: missing/);
  });
});

describe('checkEnsembleConsistency', () => {
  test('finds no problem in the repository', () => {
    expect(checkEnsembleConsistency(loadModelRepository(MODEL_REPOSITORY_DIR))).toEqual([]);
  });

  test('reports an input_map key that is not an input of the model', () => {
    const problems = problemsAfter('omniglue_ensemble', 'input_map { key: "prob_nms" value: "prob_nms0" }', 'input_map { key: "prob_nm" value: "prob_nms0" }');
    expect(problems).toContain('step 3 (superpoint_keypoints): input_map key "prob_nm" is not an input of model "superpoint_keypoints" (inputs: prob_nms, descriptors_raw, width, height)');
    expect(problems).toContain('step 3 (superpoint_keypoints): required input "prob_nms" of model "superpoint_keypoints" has no input_map entry');
  });

  test('reports an output_map key that is not an output of the model', () => {
    const problems = problemsAfter('omniglue_ensemble', 'output_map { key: "features" value: "dinov2_features1" }', 'output_map { key: "feature" value: "dinov2_features1" }');
    expect(problems).toContain('step 11 (dinov2): output_map key "feature" is not an output of model "dinov2" (outputs: features)');
  });

  test('reports a data type mismatch along an edge', () => {
    const problems = problemsAfter('superpoint_preprocess', 'name: "width"\n    data_type: TYPE_INT32', 'name: "width"\n    data_type: TYPE_INT64');
    expect(problems).toContain(
      'tensor "width0": data type mismatch between step 1 (superpoint_preprocess) output "width" (TYPE_INT64) and step 3 (superpoint_keypoints) input "width" (TYPE_INT32)',
    );
  });

  test('reports a shape mismatch along an edge', () => {
    const problems = problemsAfter('superpoint_keypoints', 'name: "keypoints"\n    data_type: TYPE_FP32\n    dims: [ 1, -1, 2 ]', 'name: "keypoints"\n    data_type: TYPE_FP32\n    dims: [ 1, -1, 3 ]');
    expect(problems).toContain(
      'tensor "keypoints0": shape mismatch between step 3 (superpoint_keypoints) output "keypoints" (TYPE_FP32 [1, -1, 3]) and step 6 (dinov2_keypoint_sampler) input "keypoints" (TYPE_FP32 [1, -1, 2])',
    );
  });

  // Triton core ensemble_utils.cc ValidateTensorConsistency: a batching step's [d...] meets a non-batching step's
  // [1, d...] through the full dims [-1, d...]; anything else of another rank is a mismatch.
  function batchingSuperpoint(root: string, dims: { image: string; prob: string; raw: string }): void {
    edit(root, 'superpoint', 'max_batch_size: 0', 'max_batch_size: 8');
    edit(root, 'superpoint', 'dims: [ 1, -1, -1, 1 ]', `dims: ${dims.image}`);
    edit(root, 'superpoint', 'dims: [ 1, -1, -1 ]', `dims: ${dims.prob}`);
    edit(root, 'superpoint', 'dims: [ 1, -1, -1, 256 ]', `dims: ${dims.raw}`);
  }

  test('accepts a batching step between non-batching ones when the full dims agree', () => {
    const root = copyRepository();
    batchingSuperpoint(root, { image: '[ 480, 640, 1 ]', prob: '[ 480, 640 ]', raw: '[ 60, 80, 256 ]' });
    expect(checkEnsembleConsistency(loadModelRepository(root))).toEqual([]);
  });

  test('reports a batching step whose full dims disagree with its neighbours', () => {
    const root = copyRepository();
    // Three channels where the preprocessing gives one: neither [480, 640, 3] nor [-1, 480, 640, 3] fits [1, -1, -1, 1].
    batchingSuperpoint(root, { image: '[ 480, 640, 3 ]', prob: '[ 480, 640 ]', raw: '[ 60, 80, 256 ]' });
    expect(checkEnsembleConsistency(loadModelRepository(root))).toContain(
      'tensor "superpoint_image0": shape mismatch between step 1 (superpoint_preprocess) output "image_gray" (TYPE_FP32 [1, -1, -1, 1]) and step 2 (superpoint) input "image" (TYPE_FP32 [-1, 480, 640, 3])',
    );
  });

  test('reports a batching step that takes less than the ensemble\'s batch', () => {
    const root = copyRepository();
    batchingSuperpoint(root, { image: '[ 480, 640, 1 ]', prob: '[ 480, 640 ]', raw: '[ 60, 80, 256 ]' });
    edit(root, 'omniglue_ensemble', 'max_batch_size: 0', 'max_batch_size: 16');
    expect(checkEnsembleConsistency(loadModelRepository(root))).toContain('step 2 (superpoint): max_batch_size 8 is below the ensemble\'s 16');
  });

  test('reports an ensemble input that no step consumes', () => {
    const problems = problemsAfter('omniglue_ensemble', 'input [\n', 'input [\n  {\n    name: "mask0"\n    data_type: TYPE_UINT8\n    dims: [ -1, -1 ]\n  },\n');
    expect(problems).toEqual(['ensemble input "mask0" is not consumed by any step']);
  });

  test('reports an ensemble output that no step produces', () => {
    const problems = problemsAfter('omniglue_ensemble', 'value: "match_confidences" }', 'value: "confidences" }');
    expect(problems).toEqual(['ensemble output "match_confidences" is not produced by any step']);
  });

  test('reports a tensor produced twice', () => {
    const problems = problemsAfter('omniglue_ensemble', 'output_map { key: "pixel_values" value: "dinov2_pixel_values0" }', 'output_map { key: "pixel_values" value: "superpoint_image0" }');
    expect(problems).toContain('tensor "superpoint_image0" is produced more than once: by step 1 (superpoint_preprocess) output "image_gray" and by step 4 (dinov2_preprocess) output "pixel_values"');
    expect(problems).toContain('tensor "dinov2_pixel_values0" consumed by step 5 (dinov2) input "pixel_values" is never produced (not an ensemble input nor any step\'s output)');
  });

  test('reports steps that wait on each other', () => {
    const problems = problemsAfter('omniglue_ensemble', 'input_map { key: "image" value: "superpoint_image0" }', 'input_map { key: "image" value: "keypoints0" }');
    expect(problems).toContain(
      'steps that can never run because their inputs wait on a cycle: step 2 (superpoint), step 3 (superpoint_keypoints), step 6 (dinov2_keypoint_sampler), step 13 (omniglue), step 14 (omniglue_match_extraction)',
    );
  });

  test('reports a step model missing from the repository', () => {
    const problems = problemsAfter('omniglue_ensemble', 'model_name: "omniglue"\n', 'model_name: "superglue"\n');
    expect(problems).toContain('step 13 (superglue): model "superglue" is not in the model repository');
  });

  test('reports a step whose outputs reach no ensemble output', () => {
    const problems = problemsAfter('omniglue_ensemble', 'input_map { key: "features" value: "dinov2_features1" }', 'input_map { key: "features" value: "dinov2_features0" }');
    expect(problems).toContain('step 11 (dinov2) contributes to no ensemble output');
  });
});

describe('buildModelContract', () => {
  test('carries every model and step as plain JSON', () => {
    const repo = loadModelRepository(MODEL_REPOSITORY_DIR);
    const contract = JSON.parse(JSON.stringify(buildModelContract(repo)));
    expect(contract.ensemble).toBe('omniglue_ensemble');
    expect(Object.keys(contract.models).sort()).toEqual(repo.models.map((m) => m.name));
    expect(contract.models.superpoint).toEqual({
      platform: 'onnxruntime_onnx',
      maxBatchSize: 0,
      inputs: [{ name: 'image', dataType: 'TYPE_FP32', dims: [1, -1, -1, 1] }],
      outputs: [
        { name: 'prob_nms', dataType: 'TYPE_FP32', dims: [1, -1, -1] },
        { name: 'descriptors_raw', dataType: 'TYPE_FP32', dims: [1, -1, -1, 256] },
      ],
    });
    expect(contract.steps).toEqual(repo.ensemble.steps);
  });
});
