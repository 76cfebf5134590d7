import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { loadModelRepository, MODEL_REPOSITORY_DIR } from '../lib/triton-model-config';
import { fixtureModel } from './support/onnx-fixtures';
import {
  cv2ResizeLinear,
  cv2RgbToGray,
  dinoDescriptors,
  dinoSize,
  extractSuperpointOutput,
  findMatches,
  superpointSize,
} from './support/omniglue-reference';
import { f32, i32, ort, random, randomBytes, SessionPool } from './support/ort';

const GLUE_MODELS = ['superpoint_preprocess', 'superpoint_keypoints', 'dinov2_preprocess', 'dinov2_keypoint_sampler', 'omniglue_match_extraction'];
const pool = new SessionPool();

afterAll(() => pool.releaseAll());

const session = (model: string, set: 'models' | 'k8' = 'models'): Promise<InferenceSession> => pool.get(fixtureModel(model, set));
async function run(model: string, feeds: Record<string, Tensor>, set: 'models' | 'k8' = 'models') {
  return (await session(model, set)).run(feeds);
}

const rgbImage = (height: number, width: number, seed = 1): Tensor => new ort.Tensor('uint8', randomBytes(height * width * 3, seed), [height, width, 3]);

const floats = (t: Tensor) => t.data as Float32Array;
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('glue graphs match their config.pbtxt', () => {
  const repo = loadModelRepository(MODEL_REPOSITORY_DIR);
  const ortType: Record<string, string> = { TYPE_FP32: 'float32', TYPE_UINT8: 'uint8', TYPE_INT32: 'int32' };

  test.each(GLUE_MODELS)('%s declares the names, element types and dims of its config', async (name) => {
    const config = repo.model(name);
    const s = await session(name);
    const describe = (meta: readonly InferenceSession.ValueMetadata[]) =>
      meta.map((m) => ({ name: m.name, type: m.isTensor ? m.type : 'non-tensor', rank: m.isTensor ? m.shape.length : -1 }));
    const expected = (specs: { name: string; dataType: string; dims: number[] }[]) =>
      specs.map((t) => ({ name: t.name, type: ortType[t.dataType], rank: t.dims.length }));
    expect(describe(s.inputMetadata)).toEqual(expected(config.inputs));
    expect(describe(s.outputMetadata)).toEqual(expected(config.outputs));
    for (const [meta, specs] of [[s.inputMetadata, config.inputs], [s.outputMetadata, config.outputs]] as const) {
      for (const m of meta) {
        const dims = specs.find((t) => t.name === m.name)!.dims;
        const shape = m.isTensor ? m.shape : [];
        // Triton refuses a config -1 against a static ONNX dim, so -1 must stay symbolic in the graph.
        expect([m.name, shape.map((d) => (typeof d === 'number' ? d : -1))]).toEqual([m.name, dims]);
      }
    }
  });
});

describe('preprocessing is bit-exact with cv2.resize(INTER_LINEAR) and cv2.cvtColor(RGB2GRAY)', () => {
  test.each([
    [48, 64],
    [100, 37],
    [37, 100],
    [35, 43],
    [14, 14],
    [15, 675],
    [61, 83],
  ])('superpoint_preprocess of a %ix%i image', async (h, w) => {
    const image = rgbImage(h, w, h * 1000 + w);
    const out = await run('superpoint_preprocess', { image });
    const [h8, w8] = [superpointSize(h), superpointSize(w)];
    expect(out.image_gray.dims).toEqual([1, h8, w8, 1]);
    expect(Array.from(out.width.data as Int32Array)).toEqual([w]);
    expect(Array.from(out.height.data as Int32Array)).toEqual([h]);
    const gray = cv2RgbToGray(cv2ResizeLinear(image.data as Uint8Array, h, w, h8, w8));
    // superpoint_extract.py _preprocess_image: float32(gray) / 255.0 in float32.
    expect(maxAbsDiff(floats(out.image_gray), Float32Array.from(gray, (v) => v / 255))).toBe(0);
  });

  test.each([
    [700, 52],
    [100, 37],
    [15, 675],
    [28, 1260],
    [14, 14],
  ])('dinov2_preprocess of a %ix%i image', async (h, w) => {
    const image = rgbImage(h, w, h + w);
    const out = (await run('dinov2_preprocess', { image })).pixel_values;
    const [outH, outW] = dinoSize(h, w);
    expect(out.dims).toEqual([1, 3, outH, outW]);
    const values = floats(out);
    const resized = cv2ResizeLinear(image.data as Uint8Array, h, w, outH, outW);
    const [mean, std] = [[0.485, 0.456, 0.406], [0.229, 0.224, 0.225]];
    // dino_extract.py _process_image: (image / 255.0 - mean) / std in float64, then .float().
    const expected = new Float32Array(3 * outH * outW);
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < outH * outW; p++) expected[c * outH * outW + p] = (resized[p * 3 + c] / 255 - mean[c]) / std[c];
    }
    expect(values.length).toBe(expected.length);
    expect(maxAbsDiff(values, expected)).toBe(0);
  });

  test.each([
    [480, 640, 462, 630],
    [640, 480, 630, 462],
    [100, 37, 98, 28],
    [1000, 300, 630, 182],
    [15, 675, 14, 630],
    [28, 1260, 14, 630],
  ])('the reference sizes %ix%i to %ix%i for DINOv2 (longer side <= 630, multiples of 14)', (h, w, outH, outW) => {
    expect(dinoSize(h, w)).toEqual([outH, outW]);
  });
});

/** A probability map with `count` detections at random pixels; `levels` > 0 quantises scores so that many tie. */
function probabilityMap(height: number, width: number, count: number, seed: number, levels = 0): Float32Array {
  const next = random(seed);
  const pixels = Array.from({ length: height * width }, (_, i) => i);
  for (let i = pixels.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [pixels[i], pixels[j]] = [pixels[j], pixels[i]];
  }
  const prob = new Float32Array(height * width);
  for (const p of pixels.slice(0, count)) prob[p] = levels > 0 ? (1 + Math.floor(next() * levels)) / (levels + 1) : 0.01 + next() * 0.99;
  return prob;
}

describe('superpoint_keypoints selects keypoints as the reference does', () => {
  const [mapH, mapW, cellsY, cellsX] = [96, 128, 12, 16];
  const [width, height] = [130, 95];
  const next = random(11);
  const raw = Float32Array.from({ length: cellsY * cellsX * 256 }, () => next() * 2 - 1);

  /** TF1 resize_bilinear x8 (no half-pixel offset, clamped neighbours) at one pixel, then L2 normalisation. */
  function denseDescriptor(pixel: number): number[] {
    const [y, x] = [Math.floor(pixel / mapW) / 8, (pixel % mapW) / 8];
    const [y0, x0] = [Math.floor(y), Math.floor(x)];
    const [y1, x1] = [Math.min(y0 + 1, cellsY - 1), Math.min(x0 + 1, cellsX - 1)];
    const at = (cy: number, cx: number, c: number) => raw[(cy * cellsX + cx) * 256 + c];
    const d = Array.from({ length: 256 }, (_, c) =>
      (1 - (y - y0)) * ((1 - (x - x0)) * at(y0, x0, c) + (x - x0) * at(y0, x1, c)) + (y - y0) * ((1 - (x - x0)) * at(y1, x0, c) + (x - x0) * at(y1, x1, c)));
    const norm = Math.sqrt(d.reduce((sum, v) => sum + v * v, 0));
    return d.map((v) => v / norm);
  }

  const keypointsOf = (prob: Float32Array, set: 'models' | 'k8' = 'models') =>
    run('superpoint_keypoints', { prob_nms: f32(prob, [1, mapH, mapW]), descriptors_raw: f32(raw, [1, cellsY, cellsX, 256]), width: i32(width), height: i32(height) }, set);

  async function expectReference(prob: Float32Array, k: number, set: 'models' | 'k8' = 'models') {
    const out = await keypointsOf(prob, set);
    const reference = extractSuperpointOutput(prob, mapH, mapW, k, height, width);
    const n = reference.scores.length;
    expect([out.keypoints.dims, out.descriptors.dims, out.scores.dims]).toEqual([[1, n, 2], [1, n, 256], [1, n, 1]]);
    expect(Array.from(floats(out.scores))).toEqual(reference.scores);
    expect(maxAbsDiff(floats(out.keypoints), reference.keypoints.flat())).toBeLessThan(1e-4);
    // Descriptors of every 50th keypoint and the last: the look-up is the same code for all of them.
    const checked = reference.pixels.map((_, i) => i).filter((i) => i % 50 === 0 || i === n - 1);
    const sampled = checked.flatMap((i) => Array.from(floats(out.descriptors).subarray(i * 256, (i + 1) * 256)));
    expect(maxAbsDiff(sampled, checked.flatMap((i) => denseDescriptor(reference.pixels[i])))).toBeLessThan(1e-5);
    return n;
  }

  test.each([
    [0, 0],
    [1, 1],
    [500, 500],
    [1024, 1024],
    [3000, 1024],
  ])('a map with %i detections gives %i keypoints, the top ones by score, ascending, none with score 0', async (count, expected) => {
    expect(await expectReference(probabilityMap(mapH, mapW, count, count + 1), 1024)).toBe(expected);
  });

  test('ties at the cut are broken as a stable ascending sort would (the later pixels are kept)', async () => {
    const prob = probabilityMap(mapH, mapW, 3000, 5, 4);
    expect(await expectReference(prob, 1024)).toBe(1024);
  });

  test('a map where every pixel has the same score keeps the last 1024 pixels in row-major order', async () => {
    const out = await keypointsOf(new Float32Array(mapH * mapW).fill(0.25));
    const reference = extractSuperpointOutput(new Float32Array(mapH * mapW).fill(0.25), mapH, mapW, 1024, height, width);
    expect(reference.pixels[0]).toBe(mapH * mapW - 1024);
    expect(maxAbsDiff(floats(out.keypoints), reference.keypoints.flat())).toBeLessThan(1e-4);
  });

  test('a map smaller than K keeps every detection', async () => {
    const prob = probabilityMap(mapH, mapW, 200, 9, 3);
    expect(await expectReference(prob, 8, 'k8')).toBe(8);
    expect(await expectReference(new Float32Array(mapH * mapW), 8, 'k8')).toBe(0);
  });

  test('ignores negative and zero probabilities', async () => {
    const prob = probabilityMap(mapH, mapW, 40, 13);
    prob[5] = -0.5;
    prob[6] = -0;
    expect(await expectReference(prob, 1024)).toBe(40);
  });
});

describe('dinov2_keypoint_sampler samples as get_dino_descriptors and hands the matcher its inputs', () => {
  const [height, width] = [100, 141];
  const [gridH, gridW] = dinoSize(height, width).map((s) => s / 14);
  const next = random(21);
  const features = Float32Array.from({ length: 768 * gridH * gridW }, () => next() * 2 - 1);

  async function sample(keypoints: [number, number][]) {
    const n = keypoints.length;
    const descriptors = Float32Array.from({ length: n * 256 }, () => next());
    const scores = Float32Array.from({ length: n }, () => 0.01 + next());
    const feeds = {
      features: f32(features, [1, 768, gridH, gridW]),
      keypoints: f32(keypoints.flat(), [1, n, 2]),
      descriptors: f32(descriptors, [1, n, 256]),
      scores: f32(scores, [1, n, 1]),
      width: i32(width),
      height: i32(height),
    };
    return { feeds, out: await run('dinov2_keypoint_sampler', feeds) };
  }

  test.each([1, 7, 150])('%i keypoints: the reference descriptors, and the keypoints passed on unchanged', async (n) => {
    const points: [number, number][] = Array.from({ length: n }, (_, i) =>
      i === 0 ? [width - 1, height - 1] : [Math.fround(next() * (width - 1)), Math.fround(next() * (height - 1))]);
    const { feeds, out } = await sample(points);
    expect(out.descriptors_dino.dims).toEqual([1, n, 768]);
    expect(maxAbsDiff(floats(out.descriptors_dino), dinoDescriptors(features, gridH, gridW, points, height, width).flat())).toBeLessThan(1e-5);
    for (const name of ['keypoints', 'descriptors', 'scores'] as const) {
      expect([name, out[`matcher_${name}`].dims, maxAbsDiff(floats(out[`matcher_${name}`]), floats(feeds[name]))]).toEqual([name, feeds[name].dims, 0]);
    }
  });

  test('no keypoint: one score-0 filler keypoint for the matcher, which can never match', async () => {
    const { out } = await sample([]);
    expect(out.matcher_keypoints.dims).toEqual([1, 1, 2]);
    expect(Array.from(floats(out.matcher_keypoints))).toEqual([0, 0]);
    expect(Array.from(floats(out.matcher_scores))).toEqual([0]);
    expect(Math.hypot(...floats(out.matcher_descriptors))).toBeCloseTo(1, 5);
    expect(out.descriptors_dino.dims).toEqual([1, 1, 768]);
  });
});

describe('omniglue_match_extraction finds the matches FindMatches finds', () => {
  function softAssignment(n: number, m: number, seed: number, levels = 0): Float32Array {
    const next = random(seed);
    return Float32Array.from({ length: (n + 1) * (m + 1) }, () => {
      const v = next() < 0.97 ? next() * 0.002 : next();
      return levels > 0 ? Math.round(v * levels) / levels : v;
    });
  }
  const points = (count: number, seed: number) => Array.from({ length: count * 2 }, (_, i) => seed * 1000 + i);
  const scores = (count: number, seed: number) => {
    const next = random(seed);
    return Array.from({ length: count }, () => (next() < 0.1 ? 0 : 0.5));
  };

  async function expectReference(n: number, m: number, soft: Float32Array, scores0: number[], scores1: number[]) {
    const out = await run('omniglue_match_extraction', {
      soft_assignment: f32(soft, [1, n + 1, m + 1]),
      keypoints0: f32(points(n, 1), [1, n, 2]),
      keypoints1: f32(points(m, 2), [1, m, 2]),
      scores0: f32(scores0, [1, n, 1]),
      scores1: f32(scores1, [1, m, 1]),
    });
    const reference = findMatches(soft, n, m, scores0, scores1);
    const k = reference.rows.length;
    expect([out.matches_kp0.dims, out.matches_kp1.dims, out.match_confidences.dims]).toEqual([[k, 2], [k, 2], [k]]);
    expect(Array.from(floats(out.matches_kp0))).toEqual(reference.rows.flatMap((i) => [1000 + 2 * i, 1000 + 2 * i + 1]));
    expect(Array.from(floats(out.matches_kp1))).toEqual(reference.columns.flatMap((j) => [2000 + 2 * j, 2000 + 2 * j + 1]));
    expect(Array.from(floats(out.match_confidences))).toEqual(reference.confidences);
    return k;
  }

  test.each([
    [5, 4, 0],
    [300, 200, 0],
    [1024, 120, 0],
    [60, 80, 3],
    [40, 40, 1],
  ])('random %ix%i soft assignments (ties: %i quantisation levels)', async (n, m, levels) => {
    const k = await expectReference(n, m, softAssignment(n, m, n + m, levels), scores(n, n), scores(m, m + 1));
    if (levels === 0 && n > 100) expect(k).toBeGreaterThan(0);
  });

  test.each([
    [0, 7],
    [7, 0],
    [0, 0],
  ])('%i x %i keypoints give an empty result', async (n, m) => {
    expect(await expectReference(n, m, softAssignment(n, m, 3), new Array(n).fill(1), new Array(m).fill(1))).toBe(0);
  });

  test('keeps mutual maxima above 1e-3 between keypoints with a score, ignoring the dustbins', async () => {
    const soft = [
      [0.8, 0.1, 0.0, 0.0, 0.99], // mutual max with column 0
      [0.1, 0.5, 0.0, 0.0, 0.99], // its row max (column 1) is column 1's second best
      [0.0, 0.6, 0.1, 0.0, 0.99], // mutual max with column 1
      [0.0, 0.0, 0.0005, 0.0, 0.99], // mutual max below the threshold
      [0.0, 0.0, 0.0, 0.9, 0.99], // mutual max, but keypoint 4 has score 0
      [0.99, 0.99, 0.99, 0.99, 0.99], // dustbin row
    ];
    expect(await expectReference(5, 4, Float32Array.from(soft.flat()), [0.5, 0.5, 0.5, 0.5, 0], [0.5, 0.5, 0.5, 0.5])).toBe(2);
  });

  test('a row maximum shared by two columns goes to the first, as argmax does', async () => {
    const soft = [
      [0.4, 0.4, 0],
      [0.1, 0.1, 0],
      [0, 0, 0],
    ];
    expect(await expectReference(2, 2, Float32Array.from(soft.flat()), [1, 1], [1, 1])).toBe(1);
  });
});
