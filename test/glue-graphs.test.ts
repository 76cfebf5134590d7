import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { loadModelRepository, MODEL_REPOSITORY_DIR } from '../lib/triton-model-config';

const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const SCRIPTS_DIR = path.resolve(__dirname, '..', 'scripts');
const GLUE_MODELS = ['superpoint_preprocess', 'superpoint_keypoints', 'dinov2_preprocess', 'dinov2_keypoint_sampler', 'omniglue_match_extraction'];
const SMALL_K = 8;

// onnxruntime-node returns typed arrays of Node's main realm, which fail `instanceof` against the
// Jest sandbox's constructors when the output Tensor is built (microsoft/onnxruntime#16622).
for (const ctor of [Float32Array, Uint8Array, Int32Array, BigInt64Array]) {
  const tag = `[object ${ctor.name}]`;
  Object.defineProperty(ctor, Symbol.hasInstance, { value: (v: unknown) => ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === tag });
}

let workDir: string;
const sessions = new Map<string, ort.InferenceSession>();

function buildGlue(out: string, keypointCount?: number): void {
  const args = ['-m', 'omniglue_conversion.glue_graphs', '--out', out];
  if (keypointCount !== undefined) args.push('--keypoint-count', String(keypointCount));
  execFileSync(PYTHON, args, { cwd: SCRIPTS_DIR, stdio: 'pipe' });
}

async function session(model: string, k: number | 'default' = 'default'): Promise<ort.InferenceSession> {
  const key = `${k}/${model}`;
  if (!sessions.has(key)) {
    const dir = k === 'default' ? 'k-default' : `k-${k}`;
    sessions.set(key, await ort.InferenceSession.create(path.join(workDir, dir, model, '1', 'model.onnx')));
  }
  return sessions.get(key)!;
}

async function run(model: string, feeds: Record<string, ort.Tensor>, k: number | 'default' = 'default') {
  return (await session(model, k)).run(feeds);
}

const f32 = (data: number[] | Float32Array, dims: number[]) => new ort.Tensor('float32', Float32Array.from(data), dims);
const i32 = (value: number) => new ort.Tensor('int32', Int32Array.from([value]), [1]);

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rgbImage(height: number, width: number, seed = 1): ort.Tensor {
  const next = random(seed);
  const data = new Uint8Array(height * width * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(next() * 256);
  return new ort.Tensor('uint8', data, [height, width, 3]);
}

function extremes(values: Float32Array): [number, number] {
  let [lowest, highest] = [Infinity, -Infinity];
  for (const v of values) [lowest, highest] = [Math.min(lowest, v), Math.max(highest, v)];
  return [lowest, highest];
}

/** cv2.resize INTER_LINEAR of one channel: half-pixel centres, coordinates clamped into the image. */
function resizeLinear(src: (y: number, x: number) => number, inH: number, inW: number, outH: number, outW: number) {
  const tap = (out: number, inSize: number, outSize: number): [number, number, number] => {
    const position = Math.min(Math.max((out + 0.5) * (inSize / outSize) - 0.5, 0), inSize - 1);
    const lower = Math.floor(position);
    return [lower, Math.min(lower + 1, inSize - 1), position - lower];
  };
  return (y: number, x: number) => {
    const [y0, y1, wy] = tap(y, inH, outH);
    const [x0, x1, wx] = tap(x, inW, outW);
    return (1 - wy) * ((1 - wx) * src(y0, x0) + wx * src(y0, x1)) + wy * ((1 - wx) * src(y1, x0) + wx * src(y1, x1));
  };
}

beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glue-graphs-'));
  buildGlue(path.join(workDir, 'k-default'));
  buildGlue(path.join(workDir, `k-${SMALL_K}`), SMALL_K);
});

afterAll(async () => {
  // Native sessions hold ONNX Runtime's thread pools; released, they no longer keep the Jest worker alive.
  await Promise.all([...sessions.values()].map((s) => s.release()));
  sessions.clear();
  fs.rmSync(workDir, { recursive: true, force: true });
});

describe('glue graphs match their config.pbtxt', () => {
  const repo = loadModelRepository(MODEL_REPOSITORY_DIR);
  const ortType: Record<string, string> = { TYPE_FP32: 'float32', TYPE_UINT8: 'uint8', TYPE_INT32: 'int32' };

  test.each(GLUE_MODELS)('%s declares the names, element types and dims of its config', async (name) => {
    const config = repo.model(name);
    const s = await session(name);
    const describe = (meta: readonly ort.InferenceSession.ValueMetadata[]) =>
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

describe('superpoint_preprocess', () => {
  test.each([
    [480, 640, 480, 640],
    [100, 37, 104, 40],
    [37, 100, 40, 104],
    [35, 43, 32, 40],
  ])('resizes %ix%i to the nearest multiples of 8 (%ix%i) and reports the original size', async (h, w, h8, w8) => {
    const out = await run('superpoint_preprocess', { image: rgbImage(h, w) });
    expect(out.image_gray.dims).toEqual([1, h8, w8, 1]);
    expect(Array.from(out.width.data as Int32Array)).toEqual([w]);
    expect(Array.from(out.height.data as Int32Array)).toEqual([h]);
    const [lowest, highest] = extremes(out.image_gray.data as Float32Array);
    expect(lowest).toBeGreaterThanOrEqual(0);
    expect(highest).toBeLessThanOrEqual(1);
  });

  test('converts to grey with the RGB2GRAY weights after a cv2-style bilinear resize, within one grey level', async () => {
    const [h, w, h8, w8] = [21, 30, 24, 32];
    const image = rgbImage(h, w, 7);
    const pixels = image.data as Uint8Array;
    const channels = [0, 1, 2].map((c) => resizeLinear((y, x) => pixels[(y * w + x) * 3 + c], h, w, h8, w8));
    const gray = (await run('superpoint_preprocess', { image })).image_gray.data as Float32Array;
    let worst = 0;
    for (let y = 0; y < h8; y++) {
      for (let x = 0; x < w8; x++) {
        const [r, g, b] = channels.map((channel) => Math.round(channel(y, x)));
        const expected = Math.round(0.299 * r + 0.587 * g + 0.114 * b) / 255;
        worst = Math.max(worst, Math.abs(gray[y * w8 + x] - expected));
      }
    }
    expect(worst).toBeLessThanOrEqual(1 / 255 + 1e-6);
  });

  test('leaves sizes that are already multiples of 8 untouched', async () => {
    const image = rgbImage(16, 24, 3);
    const pixels = image.data as Uint8Array;
    const gray = (await run('superpoint_preprocess', { image })).image_gray.data as Float32Array;
    const expected = Array.from({ length: 16 * 24 }, (_, i) => Math.round(0.299 * pixels[i * 3] + 0.587 * pixels[i * 3 + 1] + 0.114 * pixels[i * 3 + 2]) / 255);
    expect(Array.from(gray)).toEqual(expected.map((v) => Math.fround(v)));
  });
});

describe('dinov2_preprocess', () => {
  test.each([
    [480, 640, 462, 630],
    [640, 480, 630, 462],
    [100, 37, 98, 28],
    [700, 700, 630, 630],
    [1000, 300, 630, 182],
    [14, 14, 14, 14],
  ])('resizes %ix%i to %ix%i (longer side <= 630, multiples of 14)', async (h, w, outH, outW) => {
    const out = await run('dinov2_preprocess', { image: rgbImage(h, w) });
    expect(out.pixel_values.dims).toEqual([1, 3, outH, outW]);
    const [lowest, highest] = extremes(out.pixel_values.data as Float32Array);
    expect(lowest).toBeGreaterThanOrEqual((0 - 0.485) / 0.229 - 1e-5);
    expect(highest).toBeLessThanOrEqual((1 - 0.406) / 0.225 + 1e-5);
  });

  test('normalises with the ImageNet mean and std into NCHW', async () => {
    const image = rgbImage(28, 42, 5);
    const pixels = image.data as Uint8Array;
    const values = (await run('dinov2_preprocess', { image })).pixel_values.data as Float32Array;
    const [mean, std] = [[0.485, 0.456, 0.406], [0.229, 0.224, 0.225]];
    for (const [c, y, x] of [[0, 0, 0], [1, 5, 17], [2, 27, 41]]) {
      const expected = (pixels[(y * 42 + x) * 3 + c] / 255 - mean[c]) / std[c];
      expect(values[(c * 28 + y) * 42 + x]).toBeCloseTo(expected, 5);
    }
  });
});

describe('superpoint_keypoints', () => {
  const [mapH, mapW, cellsY, cellsX] = [16, 24, 2, 3];
  const [width, height] = [25, 14];
  const peaks: [number, number, number][] = [[3, 5, 0.9], [10, 20, 0.7], [15, 23, 0.5], [0, 0, 0.3], [8, 9, 0.05]];
  const prob = new Float32Array(mapH * mapW);
  for (const [row, col, p] of peaks) prob[row * mapW + col] = p;
  const next = random(11);
  const raw = Float32Array.from({ length: cellsY * cellsX * 256 }, () => next() * 2 - 1);

  /** TF1 resize_bilinear x8 (no half-pixel offset, clamped neighbours) at one pixel, then L2 normalisation. */
  function denseDescriptor(row: number, col: number): number[] {
    const [y, x] = [row / 8, col / 8];
    const [y0, x0] = [Math.floor(y), Math.floor(x)];
    const [y1, x1] = [Math.min(y0 + 1, cellsY - 1), Math.min(x0 + 1, cellsX - 1)];
    const at = (cy: number, cx: number, c: number) => raw[(cy * cellsX + cx) * 256 + c];
    const d = Array.from({ length: 256 }, (_, c) =>
      (1 - (y - y0)) * ((1 - (x - x0)) * at(y0, x0, c) + (x - x0) * at(y0, x1, c)) + (y - y0) * ((1 - (x - x0)) * at(y1, x0, c) + (x - x0) * at(y1, x1, c)));
    const norm = Math.sqrt(d.reduce((sum, v) => sum + v * v, 0));
    return d.map((v) => v / norm);
  }

  const feeds = () => ({
    prob_nms: f32(prob, [1, mapH, mapW]),
    descriptors_raw: f32(raw, [1, cellsY, cellsX, 256]),
    width: i32(width),
    height: i32(height),
  });

  test('keeps the top keypoints by score, in original-image pixels, padded with score 0', async () => {
    const out = await run('superpoint_keypoints', feeds(), SMALL_K);
    expect(out.keypoints.dims).toEqual([1, SMALL_K, 2]);
    const scores = Array.from(out.scores.data as Float32Array);
    expect(scores).toEqual([...peaks.map(([, , p]) => Math.fround(p)), 0, 0, 0]);
    const keypoints = out.keypoints.data as Float32Array;
    peaks.forEach(([row, col], i) => {
      expect(keypoints[i * 2]).toBeCloseTo((col * (width - 1)) / (mapW - 1), 5);
      expect(keypoints[i * 2 + 1]).toBeCloseTo((row * (height - 1)) / (mapH - 1), 5);
    });
  });

  test('samples descriptors as SuperPoint dense upsampling would, L2-normalised', async () => {
    const out = await run('superpoint_keypoints', feeds(), SMALL_K);
    const descriptors = out.descriptors.data as Float32Array;
    peaks.forEach(([row, col], i) => {
      const expected = denseDescriptor(row, col);
      const actual = Array.from(descriptors.subarray(i * 256, (i + 1) * 256));
      expect(Math.max(...actual.map((v, c) => Math.abs(v - expected[c])))).toBeLessThan(1e-5);
    });
  });

  test('pads maps with fewer pixels than K with in-bounds score-0 keypoints', async () => {
    const out = await run('superpoint_keypoints', feeds());
    const scores = out.scores.data as Float32Array;
    const keypoints = out.keypoints.data as Float32Array;
    const descriptors = out.descriptors.data as Float32Array;
    expect(out.scores.dims).toEqual([1, 1024, 1]);
    expect(scores.filter((s) => s > 0).length).toBe(peaks.length);
    for (let i = 0; i < 1024; i++) {
      expect(keypoints[i * 2]).toBeGreaterThanOrEqual(0);
      expect(keypoints[i * 2]).toBeLessThanOrEqual(width - 1 + 1e-4);
      expect(keypoints[i * 2 + 1]).toBeLessThanOrEqual(height - 1 + 1e-4);
      const norm = Math.hypot(...descriptors.subarray(i * 256, (i + 1) * 256));
      expect(norm).toBeCloseTo(1, 4);
    }
  });
});

describe('dinov2_keypoint_sampler', () => {
  const [gridH, gridW, channels] = [3, 4, 768];
  const [width, height] = [56, 42];
  const next = random(21);
  const features = Float32Array.from({ length: channels * gridH * gridW }, () => next());

  /** omniglue utils.lookup_descriptor_bilinear: no neighbour past the last row/column. */
  function lookup(x: number, y: number): number[] {
    const xs = [Math.floor(x)];
    if (!Number.isInteger(x) && x < gridW - 1) xs.push(xs[0] + 1);
    const ys = [Math.floor(y)];
    if (!Number.isInteger(y) && y < gridH - 1) ys.push(ys[0] + 1);
    const result = new Array(channels).fill(0);
    for (const cx of xs) {
      for (const cy of ys) {
        const weight = (1 - Math.abs(x - cx)) * (1 - Math.abs(y - cy));
        for (let c = 0; c < channels; c++) result[c] += weight * features[(c * gridH + cy) * gridW + cx];
      }
    }
    return result;
  }

  test('samples the grid bilinearly at keypoint * grid size / image size', async () => {
    const points = [[0, 0], [14, 14], [21, 7], [55, 41], [28, 21], [3.5, 40], [55, 0], [0, 41]];
    const out = await run(
      'dinov2_keypoint_sampler',
      { features: f32(features, [1, channels, gridH, gridW]), keypoints: f32(points.flat(), [1, SMALL_K, 2]), width: i32(width), height: i32(height) },
      SMALL_K,
    );
    expect(out.descriptors_dino.dims).toEqual([1, SMALL_K, channels]);
    const sampled = out.descriptors_dino.data as Float32Array;
    points.forEach(([x, y], i) => {
      const expected = lookup((x / width) * gridW, (y / height) * gridH);
      const actual = sampled.subarray(i * channels, (i + 1) * channels);
      expect(Math.max(...expected.map((v, c) => Math.abs(v - actual[c])))).toBeLessThan(1e-5);
    });
  });
});

describe('omniglue_match_extraction', () => {
  const keypoints0 = [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]];
  const keypoints1 = [[11, 12], [13, 14], [15, 16], [17, 18]];
  const feeds = (soft: number[][], scores0: number[], scores1: number[]) => ({
    soft_assignment: f32(soft.flat(), [1, soft.length, soft[0].length]),
    keypoints0: f32(keypoints0.flat(), [1, 5, 2]),
    keypoints1: f32(keypoints1.flat(), [1, 4, 2]),
    scores0: f32(scores0, [1, 5, 1]),
    scores1: f32(scores1, [1, 4, 1]),
  });

  test('keeps mutual maxima above 1e-3 between non-padding keypoints, ignoring the dustbins', async () => {
    const soft = [
      [0.8, 0.1, 0.0, 0.0, 0.99], // mutual max with column 0
      [0.1, 0.5, 0.0, 0.0, 0.99], // its row max (column 1) is column 1's second best
      [0.0, 0.6, 0.1, 0.0, 0.99], // mutual max with column 1
      [0.0, 0.0, 0.0005, 0.0, 0.99], // mutual max below the threshold
      [0.0, 0.0, 0.0, 0.9, 0.99], // mutual max, but keypoint 4 has score 0
      [0.99, 0.99, 0.99, 0.99, 0.99], // dustbin row
    ];
    const out = await run('omniglue_match_extraction', feeds(soft, [0.5, 0.5, 0.5, 0.5, 0], [0.5, 0.5, 0.5, 0.5]));
    expect(out.matches_kp0.dims).toEqual([2, 2]);
    expect(Array.from(out.matches_kp0.data as Float32Array)).toEqual([1, 2, 5, 6]);
    expect(Array.from(out.matches_kp1.data as Float32Array)).toEqual([11, 12, 13, 14]);
    expect(Array.from(out.match_confidences.data as Float32Array)).toEqual([Math.fround(0.8), Math.fround(0.6)]);
  });

  test('drops a match whose keypoint in image 1 has score 0', async () => {
    const soft = [
      [0.8, 0, 0, 0, 0],
      [0, 0.7, 0, 0, 0],
      [0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0],
    ];
    const out = await run('omniglue_match_extraction', feeds(soft, [1, 1, 1, 1, 1], [0, 1, 1, 1]));
    expect(Array.from(out.matches_kp1.data as Float32Array)).toEqual([13, 14]);
  });

  test('returns empty tensors when nothing matches', async () => {
    const soft = Array.from({ length: 6 }, () => new Array(5).fill(0.0005));
    const out = await run('omniglue_match_extraction', feeds(soft, [1, 1, 1, 1, 1], [1, 1, 1, 1]));
    expect(out.matches_kp0.dims).toEqual([0, 2]);
    expect(out.matches_kp1.dims).toEqual([0, 2]);
    expect(out.match_confidences.dims).toEqual([0]);
  });
});
