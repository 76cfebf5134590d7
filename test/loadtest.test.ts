/**
 * `npm run loadtest` against the protocol-checking fake Triton (test/support/fake-triton-server.ts) and a fake
 * metrics endpoint: the requests it sends, the report, errors by class and every usage error.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULTS, EXIT_REQUESTS_FAILED, main, parseCliArgs, USAGE } from '../scripts/loadtest/cli';
import { errorClass, percentile } from '../scripts/loadtest/stats';
import { defaultMetricsUrl, parseTritonMetrics, stepTimes } from '../scripts/loadtest/triton-metrics';
import { ExitCode, MatchClientError } from '../scripts/match/errors';
import { loadRgbImage } from '../scripts/match/images';
import * as grpc from '@grpc/grpc-js';
import { type FakeTriton, type FakeTritonOptions, startFakeTriton } from './support/fake-triton-server';
import { type FakeTritonGrpc, type FakeTritonGrpcOptions, startFakeTritonGrpc } from './support/fake-triton-grpc';
import { gzipBomb } from './support/infer-responses';
import { metricsText, type StepCost, startFakeTritonMetrics } from './support/fake-triton-metrics';

const ROOT = resolve(__dirname, '..');
const COSTS: Record<string, StepCost> = {
  omniglue_ensemble: { perPair: 1, queueUs: 0, inputUs: 0, inferUs: 30_000, outputUs: 0 },
  dinov2: { perPair: 2, queueUs: 2_000, inputUs: 500, inferUs: 9_000, outputUs: 500 },
  superpoint: { perPair: 2, queueUs: 1_000, inputUs: 200, inferUs: 2_600, outputUs: 200 },
  omniglue: { perPair: 1, queueUs: 0, inputUs: 300, inferUs: 4_400, outputUs: 300 },
};

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err, stdout: () => out.join('\n'), stderr: () => err.join('\n') };
}

let expected: FakeTritonOptions['expected'];
const servers: Array<{ close(): Promise<void> }> = [];

async function fake(options: Partial<FakeTritonOptions> = {}): Promise<FakeTriton> {
  const server = await startFakeTriton({ expected, matches: { kp0: [[1, 2]], kp1: [[3, 4]], confidences: [0.5] }, ...options });
  servers.push(server);
  return server;
}
async function grpcFake(options: Partial<FakeTritonGrpcOptions> = {}): Promise<FakeTritonGrpc> {
  const server = await startFakeTritonGrpc({ expected, matches: { kp0: [[1, 2]], kp1: [[3, 4]], confidences: [0.5] }, ...options });
  servers.push(server);
  return server;
}
const inferCalls = (server: FakeTriton) => server.requests.filter((r) => r.path.endsWith('/infer')).length;

beforeAll(async () => {
  const [a, b] = await Promise.all([loadRgbImage(DEFAULTS.image0), loadRgbImage(DEFAULTS.image1)]);
  expected = { image0: { shape: [a.height, a.width, 3], data: a.data }, image1: { shape: [b.height, b.width, 3], data: b.data } };
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('npm run loadtest', () => {
  test('--help describes the options, --concurrency first among them', async () => {
    const c = capture();
    expect(await main(['--help'], c.io)).toBe(ExitCode.Ok);
    expect(c.stdout()).toBe(USAGE);
    expect(USAGE).toMatch(/--concurrency <N>\s+requests in flight at any time/);
    for (const flag of ['--url', '--duration', '--requests', '--image0', '--image1', '--json', '--metrics-url']) expect(USAGE).toContain(flag);
  });

  test('sends exactly --requests binary requests of the demo pair and reports throughput, latency and step times', async () => {
    const triton = await fake();
    const metrics = await startFakeTritonMetrics(() => inferCalls(triton), COSTS);
    servers.push(metrics);
    const dir = await mkdtemp(join(tmpdir(), 'loadtest-'));
    const json = join(dir, 'report.json');
    const c = capture();
    const code = await main(['--url', triton.url, '--requests', '6', '--concurrency', '3', '--metrics-url', metrics.url, '--json', json], c.io);
    expect(triton.violations).toEqual([]);
    expect(code).toBe(ExitCode.Ok);
    expect(inferCalls(triton)).toBe(6);
    expect(triton.requests.filter((r) => r.protocol !== undefined).every((r) => r.protocol === 'binary')).toBe(true);
    expect(metrics.scrapes).toBe(2);

    const stdout = c.stdout();
    expect(stdout).toContain('requests: 6 ok, 0 failed');
    expect(stdout).toMatch(/throughput: \d+\.\d\d pairs\/s/);
    expect(stdout).toMatch(/latency ms: p50 \d+\.\d {2}p90 \d+\.\d {2}p99 \d+\.\d {2}max \d+\.\d/);
    expect(stdout).toMatch(/dinov2\s+12\s+0\s+2\.0\s+10\.0\s+1\.00/);
    expect(stdout).toMatch(/superpoint\s+12\s+0\s+1\.0\s+3\.0\s+1\.00/);
    expect(stdout).toMatch(/omniglue\s+6\s+0\s+0\.0\s+5\.0\s+1\.00/);
    // (2 x 2 + 2 x 1) ms queue and (2 x 10 + 2 x 3 + 5) ms compute per pair, the ensemble's own 30 ms left out.
    expect(stdout).toContain('queue 6.0 ms, compute 31.0 ms');
    expect(c.stderr()).toMatch(/\[\s+\d+ s\] 6 ok, 0 failed, \d+\.\d\d pairs\/s/);

    const report = JSON.parse(await readFile(json, 'utf8'));
    expect(report).toMatchObject({ succeeded: 6, failed: 0, concurrency: 3, errors: {}, images: { sizes: `${expected.image0.shape[1]}x${expected.image0.shape[0]}, ${expected.image1.shape[1]}x${expected.image1.shape[0]}` } });
    expect(report.latencyMs.p50).toBeLessThanOrEqual(report.latencyMs.p99);
    expect(report.steps.map((s: { model: string }) => s.model)).toEqual(['omniglue_ensemble', 'dinov2', 'superpoint', 'omniglue']);
    await rm(dir, { recursive: true, force: true });
  });

  test('counts failures by class and exits 10', async () => {
    const triton = await fake({ inferError: { status: 503, message: 'overloaded' } });
    const c = capture();
    expect(await main(['--url', triton.url, '--requests', '5', '--no-metrics'], c.io)).toBe(EXIT_REQUESTS_FAILED);
    expect(c.stdout()).toContain('requests: 0 ok, 5 failed');
    expect(c.stdout()).toMatch(/errors:\n {2}http-503: 5 \(e\.g\. inference failed: HTTP 503 .*overloaded\)/);

    const broken = await fake({ malformed: 'datatype' });
    const d = capture();
    expect(await main(['--url', broken.url, '--requests', '2', '--no-metrics'], d.io)).toBe(EXIT_REQUESTS_FAILED);
    expect(d.stdout()).toMatch(/ {2}bad-response: 2 \(e\.g\. malformed inference response: output 'match_confidences' has datatype FP64/);
  });

  test('--protocol grpc sends the same requests over gRPC, checked by the same contract', async () => {
    const triton = await grpcFake();
    const c = capture();
    expect(await main(['--protocol', 'grpc', '--url', triton.url, '--requests', '4', '--concurrency', '2', '--no-metrics'], c.io)).toBe(ExitCode.Ok);
    expect(triton.violations).toEqual([]);
    expect(triton.calls.filter((name) => name === 'ModelInfer')).toHaveLength(4);
    expect(c.stdout()).toContain(`target: omniglue_ensemble at ${triton.url} (gRPC), concurrency 2`);
    expect(c.stdout()).toContain('requests: 4 ok, 0 failed');
    expect(parseCliArgs(['--protocol', 'grpc'])).toMatchObject({ url: 'localhost:8001', protocol: 'grpc', metricsUrl: 'http://localhost:8002/metrics' });
  });

  test('over gRPC, error statuses are counted by name and malformed answers as bad responses', async () => {
    const busy = await grpcFake({ inferError: { code: grpc.status.UNAVAILABLE, details: 'Exceeds maximum queue size' } });
    const c = capture();
    expect(await main(['--protocol', 'grpc', '--url', busy.url, '--requests', '2', '--no-metrics'], c.io)).toBe(EXIT_REQUESTS_FAILED);
    expect(c.stdout()).toContain('grpc-unavailable: 2 (e.g. inference failed: gRPC status 14 UNAVAILABLE from ModelInfer at');
    const twice = await grpcFake({ fault: 'duplicate' });
    const d = capture();
    expect(await main(['--protocol', 'grpc', '--url', twice.url, '--requests', '2', '--no-metrics'], d.io)).toBe(EXIT_REQUESTS_FAILED);
    expect(d.stdout()).toContain("bad-response: 2 (e.g. malformed inference response: output 'match_confidences' appears more than once)");
  });

  test('says so when the metrics endpoint cannot be reached, and still reports', async () => {
    const triton = await fake();
    const c = capture();
    expect(await main(['--url', triton.url, '--requests', '1', '--metrics-url', 'http://127.0.0.1:9/metrics'], c.io)).toBe(ExitCode.Ok);
    expect(c.stdout()).toContain('triton metrics: not reachable at http://127.0.0.1:9/metrics');
  });

  test('a metrics endpoint answering a gzip bomb is not read: the report says so and is still written', async () => {
    const triton = await fake();
    const bomb = createServer((_req, res) => res.writeHead(200, { 'Content-Encoding': 'gzip' }).end(gzipBomb(2 ** 30)));
    await new Promise<void>((r) => bomb.listen(0, '127.0.0.1', r));
    servers.push({ close: () => new Promise<void>((r) => (bomb.closeAllConnections(), bomb.close(() => r()))) });
    const metricsUrl = `http://127.0.0.1:${(bomb.address() as AddressInfo).port}/metrics`;
    const c = capture();
    expect(await main(['--url', triton.url, '--requests', '1', '--metrics-url', metricsUrl], c.io)).toBe(ExitCode.Ok);
    expect(c.stdout()).toContain(`triton metrics: not reachable at ${metricsUrl}`);
  });

  test('stops before sending anything when the model is not ready', async () => {
    const triton = await fake({ modelReadyStatus: 400 });
    const c = capture();
    expect(await main(['--url', triton.url, '--requests', '3', '--no-metrics'], c.io)).toBe(ExitCode.NotReady);
    expect(c.stderr()).toMatch(/error: model 'omniglue_ensemble' is not ready at .* \(HTTP 400: Request for unknown model/);
    expect(inferCalls(triton)).toBe(0);
  });

  test.each([
    [['--duration', '5', '--requests', '5'], /--duration and --requests exclude each other/],
    [['--concurrency', '0'], /--concurrency must be a whole number from 1 to 1024, got '0'/],
    [['--requests', 'many'], /--requests must be a whole number from 1 to 10000000, got 'many'/],
    [['--url', 'localhost:8000'], /--url must be an http\(s\) URL such as http:\/\/localhost:8000, got 'localhost:8000'/],
    [['--no-metrics', '--metrics-url', 'http://x:8002/metrics'], /--metrics-url and --no-metrics exclude each other/],
    [['--json', ''], /--json must not be empty/],
    [['--rate', '5'], /Unknown option '--rate'/],
    [['--protocol', 'grpc', '--url', 'http://localhost:8001'], /--url for --protocol grpc must be host:port without a scheme/],
    [['--protocol', 'h2'], /--protocol must be http or grpc, got 'h2'/],
  ])('rejects %j', async (argv, message) => {
    const c = capture();
    expect(await main(argv as string[], c.io)).toBe(ExitCode.Usage);
    expect(c.stderr()).toMatch(message);
  });

  test('defaults: the demo pair for 30 s at concurrency 4, metrics next to the inference port', () => {
    expect(parseCliArgs([])).toMatchObject({
      url: 'http://localhost:8000', concurrency: 4, durationSeconds: 30, requests: undefined,
      image0: join(ROOT, 'assets/demo1.jpg'), image1: join(ROOT, 'assets/demo2.jpg'), metricsUrl: 'http://localhost:8002/metrics',
    });
    expect(defaultMetricsUrl('https://triton.example.com:8443/prefix?x=1')).toBe('https://triton.example.com:8002/metrics');
  });
});

describe('report arithmetic', () => {
  test('nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([50, 90, 99, 100].map((p) => percentile(values, p))).toEqual([50, 90, 99, 100]);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  test('error classes', () => {
    expect(errorClass(new MatchClientError('x took longer', ExitCode.Timeout))).toBe('timeout');
    expect(errorClass(new MatchClientError('inference failed: HTTP 429 from POST', ExitCode.Http))).toBe('http-429');
    expect(errorClass(new MatchClientError('cannot reach', ExitCode.Unreachable))).toBe('unreachable');
    expect(errorClass(new MatchClientError('inference failed: gRPC status 8 RESOURCE_EXHAUSTED from ModelInfer', ExitCode.Http))).toBe('grpc-resource-exhausted');
    expect(errorClass(new MatchClientError('inference failed: no status', ExitCode.Http))).toBe('error-status');
    expect(errorClass(new Error('boom'))).toBe('internal (boom)');
  });

  test('metrics parsing sums versions, ignores other families and computes per-request deltas', () => {
    const before = parseTritonMetrics(metricsText(0, { dinov2: COSTS.dinov2! }));
    const after = parseTritonMetrics(
      `${metricsText(10, { dinov2: COSTS.dinov2! })}nv_inference_request_success{model="dinov2",version="2"} 4\nnv_cache_num_hits_per_model{model="dinov2",version="1"} 3\n`,
    );
    expect(after.get('dinov2')!.nv_inference_request_success).toBe(220 + 4);
    const [dinov2] = stepTimes(before, after);
    expect(dinov2).toMatchObject({ model: 'dinov2', requests: 24, failures: 0, meanBatch: 1 });
    expect(dinov2!.queueMs).toBeCloseTo((20 * 2) / 24, 6);
  });
});
