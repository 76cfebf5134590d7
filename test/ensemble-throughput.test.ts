/**
 * The throughput mode end to end: the configs exactly as the conversion Job publishes them
 * (`python3 -m omniglue_conversion.render_configs --throughput-…`), parsed with Triton's schema, checked with Triton's
 * ensemble rules and the onnxruntime backend's load-time checks, and run through all 14 steps with the fixed-size
 * DINOv2 preprocessing graph and a batch-axis DINOv2 stand-in.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Tensor } from 'onnxruntime-node';
import { REPOSITORY_ROOT } from '../lib/paths';
import { throughputArguments } from '../lib/throughput-mode';
import { checkEnsembleConsistency } from '../lib/ensemble-consistency';
import { buildModelContract, loadModelRepository, MODEL_REPOSITORY_DIR } from '../lib/triton-model-config';
import { loadProblems, runEnsemble } from './support/ensemble-runner';
import { fixtureModel } from './support/onnx-fixtures';
import { identicalTensors, ort, randomBytes, SessionPool } from './support/ort';

const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const [WIDTH, HEIGHT, BATCH] = [640, 480, 8];
const FIXED_SIZE_MODELS = new Set(['dinov2_preprocess', 'dinov2']);

const defaultRepo = loadModelRepository(MODEL_REPOSITORY_DIR);
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'throughput-'));
const contractFile = path.join(workDir, 'contract.json');
fs.writeFileSync(contractFile, JSON.stringify(buildModelContract(defaultRepo)));
const published = path.join(workDir, 'published');
execFileSync(
  PYTHON,
  ['-m', 'omniglue_conversion.render_configs', '--model-configs', MODEL_REPOSITORY_DIR, '--contract', contractFile, '--out', published,
    ...throughputArguments({ imageWidth: WIDTH, imageHeight: HEIGHT, maxBatchSize: BATCH, maxQueueDelayMicroseconds: 1000 })],
  { cwd: path.join(REPOSITORY_ROOT, 'scripts'), stdio: 'pipe' },
);
// Parsing with the schema subset of Triton's model_config.proto is the independent check of the Job's text edits.
const throughputRepo = loadModelRepository(published);

const pool = new SessionPool();
afterAll(async () => {
  await pool.releaseAll();
  fs.rmSync(workDir, { recursive: true, force: true });
});

const defaultSession = (model: string) => pool.get(fixtureModel(model));
const throughputSession = (model: string) => pool.get(fixtureModel(model, FIXED_SIZE_MODELS.has(model) ? 'throughput' : 'models'));

function noiseImage(height: number, width: number, seed: number): Tensor {
  return new ort.Tensor('uint8', randomBytes(height * width * 3, seed), [height, width, 3]);
}


describe('throughput mode: the published configs', () => {
  test('batch DINOv2 at the fixed size and leave every other model, SuperPoint included, as it was', () => {
    for (const model of throughputRepo.models) {
      expect([model.name, model.maxBatchSize]).toEqual([model.name, model.name === 'dinov2' ? BATCH : 0]);
      if (!FIXED_SIZE_MODELS.has(model.name)) {
        const original = defaultRepo.model(model.name);
        expect([model.name, model.inputs, model.outputs, model.warmups]).toEqual([model.name, original.inputs, original.outputs, original.warmups]);
      }
    }
    const dims = (model: string, tensor: string) =>
      [...throughputRepo.model(model).inputs, ...throughputRepo.model(model).outputs].find((t) => t.name === tensor)?.dims;
    // The reference's DINOv2 size for a 640 x 480 image: longer side capped at 630, then multiples of 14.
    expect(dims('dinov2_preprocess', 'pixel_values')).toEqual([1, 3, 462, 630]);
    expect(dims('dinov2', 'pixel_values')).toEqual([3, 462, 630]);
    expect(dims('dinov2', 'features')).toEqual([768, 33, 45]);
    const text = (model: string) => fs.readFileSync(path.join(published, model, 'config.pbtxt'), 'utf8');
    expect(text('dinov2')).toMatch(/dynamic_batching\s*\{\s*max_queue_delay_microseconds:\s*1000\s*\}/);
    for (const model of ['superpoint', 'superpoint_preprocess']) expect(text(model)).not.toMatch(/dynamic_batching|[Tt]hroughput/);
  });

  test('satisfy Triton\'s ensemble rules (full dims between batching and non-batching steps)', () => {
    expect(checkEnsembleConsistency(throughputRepo)).toEqual([]);
  });

  test('load as Triton\'s onnxruntime backend loads them, and warm DINOv2 up at batch 1 and at the full batch', async () => {
    for (const model of throughputRepo.models.filter((m) => m.platform === 'onnxruntime_onnx')) {
      expect([model.name, loadProblems(model, await throughputSession(model.name))]).toEqual([model.name, []]);
    }
    const dinov2 = throughputRepo.model('dinov2');
    expect(dinov2.warmups.map((w) => w.batchSize).sort((a, b) => a - b)).toEqual([1, BATCH]);
    const session = await throughputSession('dinov2');
    for (const warmup of dinov2.warmups) {
      // Triton runs a batching model's warm-up sample as batch_size requests of [1, dims...] in one execution.
      const [[input, spec]] = Object.entries(warmup.inputs);
      expect([input, spec.dims]).toEqual(['pixel_values', [3, 462, 630]]);
      const shape = [warmup.batchSize, ...spec.dims];
      const outputs = await session.run({ [input]: new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)), shape) });
      expect(outputs.features.dims).toEqual([warmup.batchSize, 768, 33, 45]);
    }
  });
});

describe('throughput mode end to end (stand-in networks, real glue, the published configs)', () => {
  test('an image of the configured size: the default mode\'s inputs to DINOv2 bit for bit, the same matches, and DINOv2\'s values to float rounding', async () => {
    const [image0, image1] = [noiseImage(HEIGHT, WIDTH, 21), noiseImage(HEIGHT, WIDTH, 22)];
    const reference = await runEnsemble(defaultRepo, defaultSession, { image0, image1 });
    const batched = await runEnsemble(throughputRepo, throughputSession, { image0, image1 });
    expect(Object.keys(batched.tensors).sort()).toEqual(Object.keys(reference.tensors).sort());
    // The batching DINOv2 is another graph (a batch axis, fixed spatial dims), so ONNX Runtime (and, on a GPU, the
    // batch size) may pick other kernels: its features and what is computed from them agree to rounding, not bits.
    const roundingOnly = new Set(['dinov2_features0', 'dinov2_features1', 'descriptors0_dino', 'descriptors1_dino', 'soft_assignment', 'match_confidences']);
    for (const [name, tensor] of Object.entries(reference.tensors)) {
      if (!roundingOnly.has(name)) {
        expect([name, identicalTensors(batched.tensors[name], tensor)]).toEqual([name, true]);
        continue;
      }
      const [x, y] = [tensor.data as Float32Array, batched.tensors[name].data as Float32Array];
      expect([name, batched.tensors[name].dims]).toEqual([name, tensor.dims]);
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
      expect([name, worst < 1e-5]).toEqual([name, true]);
    }
    expect(reference.outputs.match_confidences.dims[0]).toBeGreaterThan(0);
  });

  test('an image of another shape (300 x 200): SuperPoint and its keypoints as in the default mode, only DINOv2 at the fixed size', async () => {
    const inputs = { image0: noiseImage(200, 300, 31), image1: noiseImage(200, 300, 32) };
    const reference = await runEnsemble(defaultRepo, defaultSession, inputs);
    const batched = await runEnsemble(throughputRepo, throughputSession, inputs);
    for (const i of [0, 1]) {
      for (const tensor of [`superpoint_image${i}`, `prob_nms${i}`, `keypoints${i}`, `descriptors${i}`, `scores${i}`]) {
        expect([tensor, identicalTensors(batched.tensors[tensor], reference.tensors[tensor])]).toEqual([tensor, true]);
      }
      expect(reference.tensors[`dinov2_features${i}`].dims).toEqual([1, 768, 14, 21]); // the reference's 294 x 196
      expect(batched.tensors[`dinov2_features${i}`].dims).toEqual([1, 768, 33, 45]); // the fixed 630 x 462
    }
    expect(batched.tensors.superpoint_image0.dims).toEqual([1, 200, 304, 1]); // 300 -> nearest multiple of 8
    expect(batched.outputs.match_confidences.dims[0]).toBeGreaterThan(0);
  });

  // That a merged batch gives each request its own outputs is tested on the same stand-in (batch of 3) and on a
  // small DINOv2 export in test/python/test_throughput_graphs.py.
});
