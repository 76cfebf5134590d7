/**
 * The throughput mode end to end: the configs exactly as the conversion Job publishes them
 * (`python3 -m omniglue_conversion.render_configs --throughput-…`), parsed with Triton's schema, checked with Triton's
 * ensemble rules, and run through all 14 steps with the fixed-size preprocessing graphs and batch-axis stand-ins.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Tensor } from 'onnxruntime-node';
import { REPOSITORY_ROOT } from '../lib/paths';
import { throughputArguments } from '../lib/throughput-mode';
import { buildModelContract, checkEnsembleConsistency, loadModelRepository, MODEL_REPOSITORY_DIR } from '../lib/triton-model-config';
import { loadRgbImage } from '../scripts/match/images';
import { runEnsemble } from './support/ensemble-runner';
import { fixtureModel } from './support/onnx-fixtures';
import { ort, randomBytes, SessionPool } from './support/ort';

const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const [WIDTH, HEIGHT, BATCH] = [640, 480, 8];
const FIXED_SIZE_MODELS = new Set(['superpoint_preprocess', 'superpoint', 'dinov2_preprocess', 'dinov2']);

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

/** Same type, dims and bytes (compared as bytes: Jest's toEqual, or indexing mixed typed arrays, takes seconds here). */
function identical(a: Tensor, b: Tensor): boolean {
  const bytes = (t: Tensor) => {
    const view = t.data as ArrayBufferView;
    return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  };
  return a.type === b.type && a.dims.join() === b.dims.join() && bytes(a).equals(bytes(b));
}

describe('throughput mode: the published configs', () => {
  test('batch SuperPoint and DINOv2 at the fixed size and leave every other model as it was', () => {
    for (const model of throughputRepo.models) {
      const expected = model.name === 'superpoint' || model.name === 'dinov2' ? BATCH : 0;
      expect([model.name, model.maxBatchSize]).toEqual([model.name, expected]);
      if (!FIXED_SIZE_MODELS.has(model.name)) {
        const original = defaultRepo.model(model.name);
        expect([model.name, model.inputs, model.outputs]).toEqual([model.name, original.inputs, original.outputs]);
      }
    }
    const dims = (model: string, tensor: string) =>
      [...throughputRepo.model(model).inputs, ...throughputRepo.model(model).outputs].find((t) => t.name === tensor)?.dims;
    expect(dims('superpoint_preprocess', 'image_gray')).toEqual([1, HEIGHT, WIDTH, 1]);
    expect(dims('superpoint', 'image')).toEqual([HEIGHT, WIDTH, 1]);
    expect(dims('superpoint', 'prob_nms')).toEqual([HEIGHT, WIDTH]);
    expect(dims('superpoint', 'descriptors_raw')).toEqual([HEIGHT / 8, WIDTH / 8, 256]);
    // The reference's DINOv2 size for a 640 x 480 image: longer side capped at 630, then multiples of 14.
    expect(dims('dinov2_preprocess', 'pixel_values')).toEqual([1, 3, 462, 630]);
    expect(dims('dinov2', 'pixel_values')).toEqual([3, 462, 630]);
    expect(dims('dinov2', 'features')).toEqual([768, 33, 45]);
    for (const name of ['superpoint', 'dinov2']) {
      expect(fs.readFileSync(path.join(published, name, 'config.pbtxt'), 'utf8')).toMatch(/dynamic_batching\s*\{\s*max_queue_delay_microseconds:\s*1000\s*\}/);
    }
  });

  test('satisfy Triton\'s ensemble rules (full dims between batching and non-batching steps)', () => {
    expect(checkEnsembleConsistency(throughputRepo)).toEqual([]);
  });

  test('warm the batching networks up at batch 1 and at the full batch, with inputs of their batch-less dims', async () => {
    for (const name of ['superpoint', 'dinov2']) {
      const model = throughputRepo.model(name);
      expect(model.warmups.map((w) => w.batchSize).sort((a, b) => a - b)).toEqual([1, BATCH]);
      const session = await throughputSession(name);
      for (const warmup of model.warmups) {
        // Triton runs a batching model's warm-up sample as batch_size requests of [1, dims...] in one execution.
        const feeds = Object.fromEntries(
          Object.entries(warmup.inputs).map(([input, spec]) => {
            expect([name, input, spec.dims]).toEqual([name, input, model.inputs.find((t) => t.name === input)?.dims]);
            const shape = [warmup.batchSize, ...spec.dims];
            return [input, new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)), shape)];
          }),
        );
        const outputs = await session.run(feeds);
        for (const output of model.outputs) expect(outputs[output.name].dims).toEqual([warmup.batchSize, ...output.dims]);
      }
    }
  });
});

describe('throughput mode end to end (stand-in networks, real glue, the published configs)', () => {
  test('an image of the configured size gives bit-identical results to the default mode in every step', async () => {
    const [image0, image1] = [noiseImage(HEIGHT, WIDTH, 21), noiseImage(HEIGHT, WIDTH, 22)];
    const reference = await runEnsemble(defaultRepo, defaultSession, { image0, image1 });
    const batched = await runEnsemble(throughputRepo, throughputSession, { image0, image1 });
    expect(Object.keys(batched.tensors).sort()).toEqual(Object.keys(reference.tensors).sort());
    const differing = Object.entries(reference.tensors).filter(([name, tensor]) => !identical(batched.tensors[name], tensor)).map(([name]) => name);
    expect(differing).toEqual([]);
    expect(reference.outputs.match_confidences.dims[0]).toBeGreaterThan(0);
  });

  test('the demo pair (1000 x 667) is resized to the fixed size and its keypoints come back in its own pixels', async () => {
    const demo = async (file: string) => {
      const image = await loadRgbImage(path.join(REPOSITORY_ROOT, 'assets', file));
      return new ort.Tensor('uint8', new Uint8Array(image.data), [image.height, image.width, 3]);
    };
    const result = await runEnsemble(throughputRepo, throughputSession, { image0: await demo('demo1.jpg'), image1: await demo('demo2.jpg') });
    expect(result.tensors.superpoint_image0.dims).toEqual([1, HEIGHT, WIDTH, 1]);
    expect(result.tensors.dinov2_features1.dims).toEqual([1, 768, 33, 45]);
    expect(Array.from(result.tensors.width0.data as Int32Array)).toEqual([1000]);
    const keypoints = result.steps.find((s) => s.modelName === 'superpoint_keypoints')!.outputs.keypoints.data as Float32Array;
    const xs = keypoints.filter((_, i) => i % 2 === 0);
    const ys = keypoints.filter((_, i) => i % 2 === 1);
    expect(Math.max(...xs)).toBeGreaterThan(WIDTH); // mapped back beyond the 640-pixel grid
    expect(Math.max(...xs)).toBeLessThanOrEqual(999);
    expect(Math.max(...ys)).toBeLessThanOrEqual(666);
    expect(result.outputs.match_confidences.dims[0]).toBeGreaterThan(0);
  });
  // That a merged batch gives each request its own outputs is tested on the same stand-ins (batch of 3) and on a
  // small DINOv2 export in test/python/test_throughput_graphs.py.
});
