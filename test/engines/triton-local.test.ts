import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main as matchMain } from '../../scripts/match/cli';
import { loadRgbImage, type RgbImage } from '../../scripts/match/images';
import { encodeBinaryRequest } from '../../scripts/match/kserve-v2';
import { decodeHttpInferBody } from '../../scripts/match/response-decoder';
import { Deadline, KServeV2Client } from '../../scripts/match/triton-client';
import type { Published } from '../../scripts/triton-local/publish';
import type { RunningTriton } from '../../scripts/triton-local/server';
import { REPOSITORY_ROOT } from '../../lib/paths';
import { loadModelRepository } from '../../lib/triton-model-config';
import { capture, DEMO1, DEMO2 } from '../support/match-harness';
import { randomBytes, SessionPool } from '../support/ort';
import { difference, differenceFromRunner, fromDecoded, OUTPUT_NAMES, runnerOutputs, startLocal, tritonclientPair } from './support/local-triton';
import { delta, promtoolSeries, scrape, type Sample } from './support/recorded-metrics';
import { expectMetricsAsDocumented } from './support/metric-expectations';
import { recordingProxy } from './support/recording-proxy';

let server: RunningTriton;
let published: Published;
let afterStart: Sample[];
const pool = new SessionPool();
const composing = () => loadModelRepository(published.published).ensemble.steps.map((s) => s.modelName);

beforeAll(async () => {
  ({ server, published } = await startLocal('test'));
  afterStart = await scrape(server.metricsUrl);
});

afterAll(async () => {
  await pool.releaseAll();
  await server?.stop();
});

const successes = (samples: Sample[], model: string) => delta([], samples, 'nv_inference_request_success', { model });

test('every composing model ran its model_warmup sample once per instance before the server reported ready', () => {
  const repo = loadModelRepository(published.published);
  for (const model of new Set(composing())) {
    const config = repo.model(model);
    const instances = config.instanceGroups.reduce((sum, group) => sum + group.count, 0);
    const samples = config.warmups.reduce((sum, sample) => sum + Math.max(sample.count, 1), 0);
    expect(samples).toBeGreaterThan(0);
    expect([model, successes(afterStart, model)]).toEqual([model, instances * samples]);
  }
  expect(successes(afterStart, 'omniglue_ensemble')).toBe(0);
});

test('the admin APIs are closed as in the product: the model-config API refuses a request without the key', async () => {
  const response = await fetch(`${server.httpUrl}/v2/models/omniglue/config`);
  expect([response.status, await response.text()]).toEqual([403, expect.stringMatching(/restricted.*omniglue-admin-key/)]);
  expect((await fetch(`${server.httpUrl}/v2/models/omniglue/ready`)).status).toBe(200);
});

test('the project client and tritonclient (HTTP and gRPC) get identical outputs, the Job’s runner’s bit for bit and the in-process runner’s matches; the HTTP bodies are identical', async () => {
  const proxy = await recordingProxy(server.ports.http);
  const before = await scrape(server.metricsUrl);
  try {
    const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'triton-local-')), 'matches.json');
    const out = capture();
    expect(await matchMain(['--url', `http://${proxy.address}`, '--image0', DEMO1, '--image1', DEMO2, '--json', json], out.io)).toBe(0);
    const [image0, image1] = await Promise.all([loadRgbImage(DEMO1), loadRgbImage(DEMO2)]);
    const official = await tritonclientPair(proxy.address, server.grpcTarget, image0, image1, published);

    const infers = proxy.exchanges.filter((e) => e.method === 'POST' && e.path.endsWith('/infer'));
    expect(infers.map((e) => e.status)).toEqual([200, 200]);
    const [ours, theirs] = infers;
    expect(ours.requestBody.equals(theirs.requestBody)).toBe(true);
    expect(ours.requestHeaders['inference-header-content-length']).toBe(theirs.requestHeaders['inference-header-content-length']);
    const project = fromDecoded(decodeHttpInferBody(ours.responseBody, String(ours.responseHeaders['inference-header-content-length'])));
    expect(ours.responseBody.equals(theirs.responseBody)).toBe(true);

    const runner = (await runnerOutputs(published.published, image0, image1, pool)).outputs;
    expect(project.match_confidences.shape[0]).toBeGreaterThan(0);
    // The Job's own runner uses the wrappers' onnxruntime: bit-identical. The in-process runner does not (local-triton.ts).
    expect({ http: difference(project, official.http), grpc: difference(project, official.grpc), job: difference(project, official.job), runner: differenceFromRunner(project, runner) })
      .toEqual({ http: undefined, grpc: undefined, job: undefined, runner: undefined });
    const written = JSON.parse(fs.readFileSync(json, 'utf8')).matches.map((m: any) => Math.fround(m.confidence));
    expect(Float32Array.from(written)).toEqual(new Float32Array(new Uint8Array(project.match_confidences.bytes).buffer));
  } finally {
    await proxy.close();
  }
  const after = await scrape(server.metricsUrl);
  const requests = 3;
  for (const model of [...new Set(composing()), 'omniglue_ensemble']) {
    const perRequest = composing().filter((m) => m === model).length || 1;
    expect([model, successes(after, model) - successes(before, model)]).toEqual([model, requests * perRequest]);
  }
});

/** Seeded noise inside a flat frame: far fewer detections than 1024, a different count per image. */
function noiseImage(width: number, height: number, seed: number): RgbImage {
  const noise = randomBytes(width * height * 3, seed);
  const data = Buffer.alloc(width * height * 3, 128);
  for (let y = height / 4; y < (3 * height) / 4; y++) for (let x = width / 4; x < (3 * width) / 4; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = noise[(y * width + x) * 3 + c];
  return { path: `noise-${seed}`, width, height, data };
}

test('the dynamic keypoint dimension: pairs with other keypoint counts than the warm-up’s 1024 give the runner’s outputs', async () => {
  const client = new KServeV2Client({ url: server.httpUrl }, new Deadline(120_000));
  for (const [image0, image1] of [[noiseImage(160, 120, 1), noiseImage(96, 128, 2)], [noiseImage(64, 64, 3), { ...noiseImage(48, 40, 4), data: Buffer.alloc(48 * 40 * 3, 128) }]]) {
    const request = encodeBinaryRequest(
      [image0, image1].map((image, i) => ({ name: `image${i}`, datatype: 'UINT8' as const, shape: [image.height, image.width, 3], data: image.data })),
      [...OUTPUT_NAMES],
    );
    const triton = fromDecoded((await client.infer('omniglue_ensemble', request)).tensors);
    const { outputs, run } = await runnerOutputs(published.published, image0, image1, pool);
    const counts = [run.tensors.keypoints0.dims[1], run.tensors.keypoints1.dims[1]];
    expect(counts.every((n) => n < 1024)).toBe(true);
    expect(counts[0]).not.toBe(counts[1]);
    expect(differenceFromRunner(triton, outputs)).toBeUndefined();
  }
});

test('npm run loadtest runs a bounded load; the HPA rules, alerts and dashboard read on this server’s metrics what docs/metrics.md says', async () => {
  const requests = 6;
  const before = await scrape(server.metricsUrl);
  const load = spawnSync('npm', ['run', '--silent', 'loadtest', '--', '--url', server.httpUrl, '--metrics-url', server.metricsUrl, '--requests', String(requests), '--concurrency', '2'], {
    cwd: REPOSITORY_ROOT, encoding: 'utf8', timeout: 300_000,
  });
  expect([load.status, load.stderr.slice(-2000)]).toEqual([0, expect.any(String)]);
  expect(load.stdout).toMatch(new RegExp(`\\b${requests}\\b`));
  const after = await scrape(server.metricsUrl);
  expect(delta(before, after, 'nv_inference_request_success', { model: 'omniglue_ensemble' })).toBe(requests);
  expect(delta(before, after, 'nv_inference_request_failure', { model: 'omniglue_ensemble' })).toBe(0);
  expectMetricsAsDocumented(before, after, promtoolSeries);
});

test('stops cleanly on SIGTERM, exit status 0', async () => {
  expect(await server.stop()).toBe(0);
});
