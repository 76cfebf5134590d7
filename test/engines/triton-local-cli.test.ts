import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { loadRgbImage } from '../../scripts/match/images';
import { encodeBinaryRequest } from '../../scripts/match/kserve-v2';
import { Deadline, KServeV2Client } from '../../scripts/match/triton-client';
import { freePort, type Ports } from '../../scripts/triton-local/server';
import { REPOSITORY_ROOT } from '../../lib/paths';
import { resolveThroughputMode } from '../../lib/throughput-mode';
import { loadModelRepository } from '../../lib/triton-model-config';
import { DEMO1, DEMO2 } from '../support/match-harness';
import { SessionPool } from '../support/ort';
import { differenceFromRunner, fromDecoded, OUTPUT_NAMES, runnerOutputs, WORK_DIR } from './support/local-triton';
import { expectMetricsAsDocumented } from './support/metric-expectations';
import { delta, promtoolSeries, scrape } from './support/recorded-metrics';

const TSX = path.join(REPOSITORY_ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(REPOSITORY_ROOT, 'scripts', 'triton-local', 'cli.ts');
// A long batcher delay, so concurrent requests meet in dinov2's queue even on two busy cores.
const THROUGHPUT = resolveThroughputMode({ imageWidth: 640, imageHeight: 480, maxQueueDelayMicroseconds: 500_000 });
const CONCURRENT = 4;
const portArgs = (ports: Ports) => ['--http-port', String(ports.http), '--grpc-port', String(ports.grpc), '--metrics-port', String(ports.metrics)];

let cli: ChildProcess;
let ports: Ports;
let stdout = '';
let stderr = '';
let exit: Promise<number | null>;
const pool = new SessionPool();

beforeAll(async () => {
  ports = { http: await freePort(), grpc: await freePort(), metrics: await freePort() };
  cli = spawn(TSX, [CLI, ...portArgs(ports), '--throughput-image-size', `${THROUGHPUT.imageWidth}x${THROUGHPUT.imageHeight}`,
    '--throughput-max-queue-delay-microseconds', String(THROUGHPUT.maxQueueDelayMicroseconds)], { cwd: REPOSITORY_ROOT });
  exit = new Promise((resolve) => cli.once('exit', (code) => resolve(code)));
  cli.stdout!.on('data', (chunk) => (stdout += chunk));
  cli.stderr!.on('data', (chunk) => (stderr += chunk));
  const deadline = Date.now() + 300_000;
  while (!stdout.includes('\n') && cli.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  if (!stdout.includes('ready')) throw new Error(`triton:local did not get ready:\n${stdout}${stderr}`);
});

afterAll(async () => {
  await pool.releaseAll();
  if (cli.exitCode === null) cli.kill('SIGKILL');
});

test('refuses a taken port before publishing anything, naming the port and its flag', async () => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (taken.address() as net.AddressInfo).port;
  try {
    const run = spawnSync(TSX, [CLI, '--grpc-port', String(port), '--http-port', String(await freePort()), '--metrics-port', String(await freePort())], { cwd: REPOSITORY_ROOT, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`port ${port} on 127.0.0.1 (--grpc-port) is taken`);
    expect(run.stderr).not.toContain('publishing');
  } finally {
    taken.close();
  }
});

test('prints exactly one line when ready, naming the three endpoints', () => {
  expect(stdout.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^triton:local ready: HTTP http://127\\.0\\.0\\.1:${ports.http}, gRPC 127\\.0\\.0\\.1:${ports.grpc}, metrics http://127\\.0\\.0\\.1:${ports.metrics}/metrics .*throughput mode`))]);
});

test('throughput mode: dinov2 merges concurrent requests into batches; the outputs stay the runner’s; the metrics read as documented', async () => {
  const version = /serving\/(local-[0-9a-f]+)/.exec(stdout)![1];
  const published = path.join(WORK_DIR, 'repository', 'versions', version);
  const dinov2 = loadModelRepository(published).model('dinov2');
  expect(dinov2.maxBatchSize).toBe(THROUGHPUT.maxBatchSize);
  expect(dinov2.configText).toMatch(/dynamic_batching\s*{[^}]*max_queue_delay_microseconds:\s*500000/);

  const [image0, image1] = await Promise.all([loadRgbImage(DEMO1), loadRgbImage(DEMO2)]);
  const request = encodeBinaryRequest(
    [image0, image1].map((image, i) => ({ name: `image${i}`, datatype: 'UINT8' as const, shape: [image.height, image.width, 3], data: image.data })),
    [...OUTPUT_NAMES],
  );
  const metricsUrl = `http://127.0.0.1:${ports.metrics}/metrics`;
  const before = await scrape(metricsUrl);
  const responses = await Promise.all(
    Array.from({ length: CONCURRENT }, () => new KServeV2Client({ url: `http://127.0.0.1:${ports.http}` }, new Deadline(300_000)).infer('omniglue_ensemble', request)),
  );
  const after = await scrape(metricsUrl);

  const inferences = delta(before, after, 'nv_inference_count', { model: 'dinov2' });
  const executions = delta(before, after, 'nv_inference_exec_count', { model: 'dinov2' });
  expect(inferences).toBe(2 * CONCURRENT);
  expect(executions).toBeLessThan(inferences);
  const runner = (await runnerOutputs(published, image0, image1, pool)).outputs;
  for (const response of responses) expect(differenceFromRunner(fromDecoded(response.tensors), runner)).toBeUndefined();
  const measured = expectMetricsAsDocumented(before, after, promtoolSeries, THROUGHPUT);
  expect(measured.d('nv_inference_count', 'dinov2') / measured.d('nv_inference_exec_count', 'dinov2')).toBeGreaterThan(1);
});

test('SIGINT stops the server and the command cleanly, exit status 0', async () => {
  cli.kill('SIGINT');
  expect(await exit).toBe(0);
  expect(stderr).toContain('SIGINT: stopping tritonserver');
  expect(stderr).toContain('tritonserver exited with 0');
});
