/**
 * Measures the glue steps of omniglue_ensemble on the CPU with ONNX Runtime at the typical size (640 x 480 images,
 * 1024 keypoints), next to a CPU estimate for the three networks, and the bytes each glue step would move between
 * host and GPU if it ran on the CPU. The figures in docs/performance.md ("Where the glue runs") come from here.
 *
 *   npx tsx tools/measure-glue-costs.ts [--runs 20] [--threads 1]
 *
 * The networks' weights are not available outside the conversion Job, so their CPU time is estimated: this machine's
 * measured FP32 MatMul rate (a ViT-B MLP layer, [1500 x 768] x [768 x 3072]) applied to each network's multiply-adds
 * per image (docs/performance.md, "A per-GPU ceiling").
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';

// The conversion program's package lives in scripts/ (what the Job ships); this tool runs it from there.
const SCRIPTS = resolve(__dirname, '..', 'scripts');
const [H, W, K] = [480, 640, 1024];
/** Multiply-adds per image or per pair (docs/performance.md; /work design notes from the reference models). */
const NETWORK_GMAC: Record<string, number> = { 'superpoint (per image)': 26, 'dinov2 (per image)': 168, 'omniglue (per pair)': 44 };

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}
const next = random(7);
const f32 = (dims: number[], fill: (i: number) => number = () => next()) => {
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = fill(i);
  return new ort.Tensor('float32', data, dims);
};
const i32 = (v: number) => new ort.Tensor('int32', Int32Array.from([v]), [1]);

function typicalInputs(): Record<string, Record<string, ort.Tensor>> {
  const image = new Uint8Array(H * W * 3).map(() => Math.floor(next() * 256));
  const keypoints = () => f32([1, K, 2], (i) => (i % 2 === 0 ? next() * (W - 1) : next() * (H - 1)));
  // About 3000 NMS survivors on a 640 x 480 photo; zero elsewhere.
  const probability = f32([1, H, W], () => (next() < 0.01 ? 0.01 + next() : 0));
  return {
    superpoint_preprocess: { image: new ort.Tensor('uint8', image, [H, W, 3]) },
    dinov2_preprocess: { image: new ort.Tensor('uint8', image, [H, W, 3]) },
    superpoint_keypoints: { prob_nms: probability, descriptors_raw: f32([1, H / 8, W / 8, 256]), width: i32(W), height: i32(H) },
    dinov2_keypoint_sampler: { features: f32([1, 768, 33, 45]), keypoints: keypoints(), width: i32(W), height: i32(H) },
    omniglue_match_extraction: {
      soft_assignment: f32([1, K + 1, K + 1], () => next() * 1e-3),
      keypoints0: keypoints(), keypoints1: keypoints(),
      scores0: f32([1, K, 1]), scores1: f32([1, K, 1]),
    },
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const bytesOf = (tensors: Record<string, ort.Tensor>) => Object.values(tensors).reduce((sum, t) => sum + (t.data as ArrayBufferView).byteLength, 0);

async function time(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, runs: number) {
  await session.run(feeds); // first run allocates: excluded, as warm-up excludes it in Triton
  const samples: number[] = [];
  let outputs: ort.InferenceSession.OnnxValueMapType = {};
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    outputs = await session.run(feeds);
    samples.push(performance.now() - started);
  }
  return { ms: median(samples), outputBytes: bytesOf(outputs as Record<string, ort.Tensor>) };
}

/** A single MatMul graph, written with the onnx Python package the glue builder uses. */
function matmulModel(dir: string): string {
  const path = join(dir, 'matmul.onnx');
  const script = [
    'import onnx, sys', 'from onnx import helper, TensorProto',
    "a = helper.make_tensor_value_info('a', TensorProto.FLOAT, [1500, 768])",
    "b = helper.make_tensor_value_info('b', TensorProto.FLOAT, [768, 3072])",
    "c = helper.make_tensor_value_info('c', TensorProto.FLOAT, [1500, 3072])",
    "g = helper.make_graph([helper.make_node('MatMul', ['a', 'b'], ['c'])], 'mm', [a, b], [c])",
    "onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)]), sys.argv[1])",
  ].join('\n');
  writeFileSync(join(dir, 'mm.py'), script);
  execFileSync(process.env.PYTHON ?? '/usr/bin/python3', [join(dir, 'mm.py'), path]);
  return path;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, threads: { type: 'string', default: '1' } } });
  const runs = Number(values.runs);
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: Number(values.threads), interOpNumThreads: 1 };
  const dir = mkdtempSync(join(tmpdir(), 'glue-costs-'));
  try {
    execFileSync(process.env.PYTHON ?? '/usr/bin/python3', ['-m', 'omniglue_conversion.glue_graphs', '--out', dir], { cwd: SCRIPTS });
    console.log(`ONNX Runtime ${ort.env.versions.common} CPU, ${values.threads} thread(s), median of ${runs} runs, 640 x 480, K = ${K}`);
    console.log('| glue step | CPU ms | input MB | output MB |');
    console.log('|---|---:|---:|---:|');
    for (const [name, feeds] of Object.entries(typicalInputs())) {
      const session = await ort.InferenceSession.create(join(dir, name, '1', 'model.onnx'), options);
      const { ms, outputBytes } = await time(session, feeds, runs);
      console.log(`| ${name} | ${ms.toFixed(2)} | ${(bytesOf(feeds) / 1e6).toFixed(2)} | ${(outputBytes / 1e6).toFixed(2)} |`);
      await session.release();
    }
    const session = await ort.InferenceSession.create(matmulModel(dir), options);
    const { ms } = await time(session, { a: f32([1500, 768]), b: f32([768, 3072]) }, Math.max(5, Math.floor(runs / 4)));
    const gmacPerSecond = (1500 * 768 * 3072) / 1e9 / (ms / 1000);
    await session.release();
    console.log(`\nMatMul [1500 x 768] x [768 x 3072]: ${ms.toFixed(1)} ms = ${gmacPerSecond.toFixed(1)} GMAC/s`);
    console.log('| network | GMAC | estimated CPU ms |');
    console.log('|---|---:|---:|');
    for (const [name, gmac] of Object.entries(NETWORK_GMAC)) console.log(`| ${name} | ${gmac} | ${((gmac / gmacPerSecond) * 1000).toFixed(0)} |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
