import * as path from 'path';
import type { Tensor } from 'onnxruntime-node';
import { loadModelRepository, MODEL_REPOSITORY_DIR } from '../lib/triton-model-config';
import { loadRgbImage } from '../scripts/match/images';
import { runEnsemble, type EnsembleRun } from './support/ensemble-runner';
import { fixtureModel } from './support/onnx-fixtures';
import { identicalTensors, ort, randomBytes, SessionPool } from './support/ort';

const repo = loadModelRepository(MODEL_REPOSITORY_DIR);
const pool = new SessionPool();
const ASSETS = path.resolve(__dirname, '..', 'assets');
const MAX_KEYPOINTS = 1024;

afterAll(() => pool.releaseAll());

type Image = { height: number; width: number; pixel: (y: number, x: number, c: number) => number };

function tensorOf({ height, width, pixel }: Image): Tensor {
  const data = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = pixel(y, x, c);
  return new ort.Tensor('uint8', data, [height, width, 3]);
}

const flat = (height: number, width: number): Image => ({ height, width, pixel: () => 128 });

/** Uniform noise inside the box [top, left, bottom, right), flat grey outside it. */
function noise(height: number, width: number, seed: number, box = [0, 0, height, width]): Image {
  const values = randomBytes(height * width * 3, seed);
  const [top, left, bottom, right] = box;
  return {
    height,
    width,
    pixel: (y, x, c) => (y >= top && y < bottom && x >= left && x < right ? values[(y * width + x) * 3 + c] : 128),
  };
}

async function demoImage(name: string): Promise<Tensor> {
  const image = await loadRgbImage(path.join(ASSETS, name));
  return new ort.Tensor('uint8', new Uint8Array(image.data), [image.height, image.width, 3]);
}

const run = (image0: Tensor, image1: Tensor) => runEnsemble(repo, (model) => pool.get(fixtureModel(model)), { image0, image1 });

const values = (t: Tensor) => Array.from(t.data as Float32Array);
function rows(t: Tensor, width: number): number[][] {
  const all = values(t);
  return Array.from({ length: all.length / width }, (_, i) => all.slice(i * width, (i + 1) * width));
}
const detections = (prob: Tensor) => (prob.data as Float32Array).reduce((count, p) => count + (p > 0 ? 1 : 0), 0);
const stepRun = (result: EnsembleRun, model: string, image: 0 | 1) => result.steps.filter((s) => s.modelName === model)[image];

/** The invariants every request must satisfy; returns the per-image keypoint counts. */
function expectReferenceShapedResult(result: EnsembleRun): [number, number] {
  expect(result.steps).toHaveLength(14);
  const { matches_kp0: kp0, matches_kp1: kp1, match_confidences: confidences } = result.outputs;
  const matches = confidences.dims[0];
  expect([kp0.type, kp1.type, confidences.type]).toEqual(['float32', 'float32', 'float32']);
  expect([kp0.dims, kp1.dims, confidences.dims]).toEqual([[matches, 2], [matches, 2], [matches]]);

  const counts = ([0, 1] as const).map((i) => {
    const n = Math.min(detections(result.tensors[`prob_nms${i}`]), MAX_KEYPOINTS);
    const keypoints = stepRun(result, 'superpoint_keypoints', i).outputs;
    expect(keypoints.keypoints.dims).toEqual([1, n, 2]);
    expect(keypoints.descriptors.dims).toEqual([1, n, 256]);
    expect(keypoints.scores.dims).toEqual([1, n, 1]);
    expect((keypoints.scores.data as Float32Array).every((s) => s > 0)).toBe(true);

    const matcher = stepRun(result, 'omniglue', 0).inputs;
    if (n > 0) {
      // No padding: the matcher gets exactly the keypoint step's tensors.
      for (const name of ['keypoints', 'descriptors', 'scores'] as const) expect([name, identicalTensors(matcher[`${name}${i}`], keypoints[name])]).toEqual([name, true]);
      expect(matcher[`descriptors${i}_dino`].dims).toEqual([1, n, 768]);
    } else {
      expect(matcher[`keypoints${i}`].dims).toEqual([1, 1, 2]);
      expect(values(matcher[`scores${i}`])).toEqual([0]);
    }
    return n;
  }) as [number, number];

  const real = (i: 0 | 1) => {
    const { keypoints, scores } = stepRun(result, 'superpoint_keypoints', i).outputs;
    const s = values(scores);
    return new Set(rows(keypoints, 2).filter((_, k) => s[k] > 0).map((p) => p.join(',')));
  };
  const [real0, real1] = [real(0), real(1)];
  for (const p of rows(kp0, 2)) expect(real0.has(p.join(','))).toBe(true);
  for (const p of rows(kp1, 2)) expect(real1.has(p.join(','))).toBe(true);
  expect(values(confidences).every((c) => c > 1e-3 && c <= 1)).toBe(true);
  return counts;
}

describe('omniglue_ensemble end to end (stand-in networks, real glue, the repository configs)', () => {
  test('the demo pair keeps the top 1024 detections per image and matches only real ones', async () => {
    const result = await run(await demoImage('demo1.jpg'), await demoImage('demo2.jpg'));
    expect(result.tensors.image0.dims).toEqual([667, 1000, 3]);
    expect(expectReferenceShapedResult(result)).toEqual([MAX_KEYPOINTS, MAX_KEYPOINTS]);
    expect(result.outputs.match_confidences.dims[0]).toBeGreaterThan(0);
  });

  test('a textureless image has no keypoint and gives an empty match result', async () => {
    const result = await run(tensorOf(flat(48, 64)), tensorOf(noise(48, 64, 3)));
    const [n0, n1] = expectReferenceShapedResult(result);
    expect(n0).toBe(0);
    expect(n1).toBeGreaterThan(0);
    expect(result.outputs.matches_kp0.dims).toEqual([0, 2]);
    expect(result.outputs.match_confidences.dims).toEqual([0]);
  });

  test('two textureless images give an empty match result', async () => {
    const result = await run(tensorOf(flat(40, 40)), tensorOf(flat(56, 30)));
    expect(expectReferenceShapedResult(result)).toEqual([0, 0]);
    expect(result.outputs.matches_kp1.dims).toEqual([0, 2]);
  });

  test('an image with a few hundred detections sends exactly those to the matcher', async () => {
    const patch = tensorOf(noise(160, 200, 5, [40, 50, 120, 150]));
    const result = await run(patch, patch);
    const [n0, n1] = expectReferenceShapedResult(result);
    expect(n0).toBe(n1);
    expect(n0).toBeGreaterThan(100);
    expect(n0).toBeLessThan(MAX_KEYPOINTS);
  });

  test('the smallest image the ensemble accepts (14 x 14) runs through', async () => {
    const result = await run(tensorOf(noise(14, 14, 7)), tensorOf(noise(14, 14, 8)));
    expect(result.tensors.dinov2_features0.dims).toEqual([1, 768, 1, 1]);
    expect(result.tensors.superpoint_image0.dims).toEqual([1, 16, 16, 1]);
    expectReferenceShapedResult(result);
  });

  test.each([
    [13, 13],
    [14, 700],
    [0, 40],
  ])('an image of %ix%i, which the reference cannot take, fails the request with the rule, as image0 or image1', async (h, w) => {
    const tooSmall = /Name:'image too small for OmniGlue: each side must be at least 14 px, and the longer side at most 45 times/;
    // Fatal only: each expected failure would print an error line.
    const quiet = new SessionPool({ logSeverityLevel: 4 });
    const runQuietly = (image0: Tensor, image1: Tensor) => runEnsemble(repo, (model) => quiet.get(fixtureModel(model)), { image0, image1 });
    try {
      await expect(runQuietly(tensorOf(noise(h, w, 11)), tensorOf(noise(48, 64, 12)))).rejects.toThrow(tooSmall);
      await expect(runQuietly(tensorOf(noise(48, 64, 12)), tensorOf(noise(h, w, 11)))).rejects.toThrow(tooSmall);
    } finally {
      await quiet.releaseAll();
    }
  });

  test('the most extreme documented aspect ratio (45:1, longer side above 630) runs through', async () => {
    const result = await run(tensorOf(noise(15, 675, 9)), tensorOf(noise(675, 15, 10)));
    expect(result.tensors.dinov2_features0.dims).toEqual([1, 768, 1, 45]);
    expect(result.tensors.dinov2_features1.dims).toEqual([1, 768, 45, 1]);
    expectReferenceShapedResult(result);
  });
});
