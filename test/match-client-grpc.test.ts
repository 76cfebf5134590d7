/**
 * `npm run match -- --protocol grpc` against a loopback GRPCInferenceService (test/support/fake-triton-grpc.ts): the
 * same outputs as over HTTP, and for each fault the same exit code (and, where the fault is the same, the same
 * message) as the HTTP client gets from test/support/fake-triton-server.ts.
 */
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { encodeRequest, imageInputs, main, parseCliArgs } from '../scripts/match/cli';
import { loadRgbImage } from '../scripts/match/images';
import { ExitCode } from '../scripts/match/errors';
import { maxResponseBytes } from '../scripts/match/limits';
import type { FakeTritonOptions } from './support/fake-triton-server';
import type { FakeTritonGrpcOptions } from './support/fake-triton-grpc';
import { binaryAnswer, ensembleOutputs } from './support/infer-responses';
import { capture, DEMO1, DEMO2, demoArgs, FIXED, matchHarness, ROOT } from './support/match-harness';

const harness = matchHarness();

async function run(argv: string[]) {
  const c = capture();
  const code = await main(argv, c.io);
  return { code, out: c.stdout(), err: c.stderr() };
}

const grpcArgs = (url: string) => ['--protocol', 'grpc', ...demoArgs(url)];
/** Messages without what differs by protocol: the address and the name of the request. */
const sameFault = (text: string) => text.replace(/^error: (.*?): /, 'error: <request>: ').replace(/(POST \S+|ModelInfer at \S+)/g, '<request>');

async function bothProtocols(http: Partial<FakeTritonOptions>, viaGrpc: Partial<FakeTritonGrpcOptions>, extra: string[] = []) {
  const httpServer = await harness.fake(http);
  const grpcServer = await harness.grpc(viaGrpc);
  return { http: await run([...demoArgs(httpServer.url), ...extra]), grpc: await run([...grpcArgs(grpcServer.url), ...extra]), grpcServer };
}

describe('the same run over gRPC', () => {
  test('gives the same matches, JSON document and summary as over HTTP', async () => {
    const files = { http: join(harness.tmp(), 'http.json'), grpc: join(harness.tmp(), 'grpc.json') };
    const httpServer = await harness.fake();
    const grpcServer = await harness.grpc();
    const http = await run([...demoArgs(httpServer.url), '--min-confidence', '0.02', '--json', files.http]);
    const viaGrpc = await run([...grpcArgs(grpcServer.url), '--min-confidence', '0.02', '--json', files.grpc]);

    expect([http.code, viaGrpc.code, viaGrpc.err]).toEqual([ExitCode.Ok, ExitCode.Ok, '']);
    expect(grpcServer.violations).toEqual([]);
    expect(grpcServer.calls).toEqual(['ServerReady', 'ModelReady', 'ModelInfer']);
    expect(viaGrpc.out).toContain(`model: omniglue_ensemble at ${grpcServer.url} (gRPC, raw tensor contents)`);
    const withoutTimes = (text: string) => text.replace(/^model: .*$/m, '').replace(/^time: .*$/m, '').replace(/json: .*$/m, '');
    expect(withoutTimes(viaGrpc.out)).toBe(withoutTimes(http.out));
    const doc = async (file: string) => ({ ...JSON.parse(await readFile(file, 'utf8')), elapsedMs: 0 });
    expect(await doc(files.grpc)).toEqual(await doc(files.http));
  });

  test('the real entry point (tsx, as `npm run match` runs it) closes its channel and exits 0', async () => {
    const server = await harness.grpc();
    const { stdout } = await promisify(execFile)(join(ROOT, 'node_modules/.bin/tsx'), ['scripts/match/cli.ts', ...grpcArgs(server.url)],
      { cwd: ROOT, timeout: 60_000 });
    expect(stdout).toContain('matches: 5 (5 returned, min confidence 0)');
  });

  test('zero matches, and the server not ready while the model is, behave as over HTTP', async () => {
    const empty = await harness.grpc({ matches: { kp0: [], kp1: [], confidences: [] }, serverReady: false });
    const { code, out, err } = await run(grpcArgs(empty.url));
    expect(code).toBe(ExitCode.Ok);
    expect(out).toContain('matches: 0 (0 returned');
    expect(err).toContain(`warning: server at ${empty.url} reports not ready (ready: false), but 'omniglue_ensemble' is ready`);
  });
});

describe('each fault gives the exit code HTTP gives', () => {
  const badK = (m: typeof FIXED) => ({ ...m, confidences: [0.5, NaN, 0.25, 0.1, 0] });
  test.each([
    ['wrong dtype', { malformed: 'datatype' }, { fault: 'datatype' }, ExitCode.BadResponse, "output 'match_confidences' has datatype FP64, expected FP32"],
    ['truncated raw contents', { malformed: 'byte-length' }, { fault: 'truncated' }, ExitCode.BadResponse, "output 'matches_kp0' has 36 bytes, shape [5,2] needs 40"],
    ['a NaN confidence', { matches: badK(FIXED) }, { matches: badK(FIXED) }, ExitCode.BadResponse, 'match 1: confidence is NaN, outside [0, 1]'],
    ['an error status from inference', { inferError: { status: 400, message: 'onnx runtime error 6' } },
      { inferError: { code: grpc.status.INVALID_ARGUMENT, details: 'onnx runtime error 6' } }, ExitCode.Http, 'onnx runtime error 6'],
    ['a busy server (503 / UNAVAILABLE)', { inferError: { status: 503, message: 'Exceeds maximum queue size' } },
      { inferError: { code: grpc.status.UNAVAILABLE, details: 'Exceeds maximum queue size' } }, ExitCode.Http, 'Exceeds maximum queue size'],
    ['the model not ready', { modelReadyStatus: 400 }, { modelReady: { code: grpc.status.NOT_FOUND, details: 'Request for unknown model' } },
      ExitCode.NotReady, "model 'omniglue_ensemble' is not ready"],
  ] as Array<[string, Partial<FakeTritonOptions>, Partial<FakeTritonGrpcOptions>, number, string]>)('%s', async (_name, http, viaGrpc, code, message) => {
    const result = await bothProtocols(http, viaGrpc);
    expect([result.http.code, result.grpc.code]).toEqual([code, code]);
    expect(result.http.err).toContain(message);
    expect(result.grpc.err).toContain(message);
  });

  test.each([
    ['an output named twice', 'duplicate', "output 'match_confidences' appears more than once"],
    ['a wrong shape', 'shape', "output 'matches_kp0' has shape [5,3], expected [5,2]"],
    ['an output not requested', 'unrequested', "output 'debug_scores' was not requested"],
  ] as const)('%s: 7 with the message HTTP gives', async (_name, fault, message) => {
    const outputs = ensembleOutputs(FIXED.kp0, FIXED.kp1, FIXED.confidences);
    const httpOutputs = fault === 'duplicate' ? [...outputs, outputs[2]!]
      : fault === 'shape' ? [{ ...outputs[0]!, shape: [5, 3], values: [...outputs[0]!.values, 0, 0, 0, 0, 0] }, ...outputs.slice(1)]
        : [...outputs, { name: 'debug_scores', shape: [1], values: [1] }];
    const result = await bothProtocols({ rawAnswer: binaryAnswer(httpOutputs) }, { fault });
    expect([result.http.code, result.grpc.code]).toEqual([ExitCode.BadResponse, ExitCode.BadResponse]);
    expect(sameFault(result.grpc.err)).toBe(sameFault(result.http.err));
    expect(result.grpc.err).toContain(message);
  });

  test('raw contents that do not pair with the outputs, or come with typed contents too -> 7', async () => {
    const count = await run(grpcArgs((await harness.grpc({ fault: 'raw-count' })).url));
    expect(count.err).toContain('malformed inference response: 2 raw_output_contents for 3 outputs; the protocol wants one per output');
    const both = await run(grpcArgs((await harness.grpc({ fault: 'typed-and-raw' })).url));
    expect(both.err).toContain("output 'matches_kp0' has both raw_output_contents and typed contents");
    expect([count.code, both.code]).toEqual([ExitCode.BadResponse, ExitCode.BadResponse]);
  });

  test('the deadline covers readiness and inference: DEADLINE_EXCEEDED -> 9', async () => {
    // Long enough that a loaded machine still finishes the readiness checks in time: the inference is what runs over.
    const result = await bothProtocols({ inferDelayMs: 3000 }, { inferDelayMs: 3000 }, ['--timeout-ms', '1000']);
    expect([result.http.code, result.grpc.code]).toEqual([ExitCode.Timeout, ExitCode.Timeout]);
    expect(result.grpc.err).toContain(`ModelInfer at ${result.grpcServer.url}: the run took longer than --timeout-ms 1000 ms`);
  });

  test('a deadline already spent before a call -> 9 without sending it', async () => {
    const server = await harness.grpc({ inferDelayMs: 50 });
    const { code, err } = await run([...grpcArgs(server.url), '--timeout-ms', '1']);
    expect(code).toBe(ExitCode.Timeout);
    expect(err).toMatch(/(ServerReady|ModelReady|ModelInfer) at .*: the run took longer than --timeout-ms 1 ms/);
  });

  test('nothing listening (UNAVAILABLE) -> 4, with the gRPC port-forward hint', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    const result = await run(grpcArgs(`127.0.0.1:${port}`));
    expect(result.code).toBe(ExitCode.Unreachable);
    expect(result.err).toContain(`cannot reach Triton at 127.0.0.1:${port} (ServerReady at 127.0.0.1:${port}: gRPC status 14 UNAVAILABLE: No connection established`);
    expect(result.err).toContain('kubectl --namespace <your namespace setting> port-forward service/omniglue-triton 8001:8001');
  });

  test('more matches than --max-matches, or a response over the size bound -> 7', async () => {
    const over = await bothProtocols({}, {}, ['--max-matches', '4']);
    expect([over.http.code, over.grpc.code]).toEqual([ExitCode.BadResponse, ExitCode.BadResponse]);
    expect(over.grpc.err).toContain('5 matches, more than the 4 keypoints per image the ensemble keeps (--max-matches 4)');

    const k = 20_000;
    const huge = { kp0: Array.from({ length: k }, (): [number, number] => [1, 1]), kp1: Array.from({ length: k }, (): [number, number] => [2, 2]), confidences: new Array(k).fill(0.5) };
    const big = await bothProtocols({ matches: huge }, { matches: huge });
    expect([big.http.code, big.grpc.code]).toEqual([ExitCode.BadResponse, ExitCode.BadResponse]);
    expect(big.grpc.err).toContain(`ModelInfer at ${big.grpcServer.url} answered with more than ${maxResponseBytes(1024)} bytes`);
  });

  test('compressed messages are inflated up to the size bound, no further', async () => {
    const gzip = await run(grpcArgs((await harness.grpc({ compression: 2 })).url));
    expect(gzip.code).toBe(ExitCode.Ok);
    const k = 100_000;
    const zeros = { kp0: Array.from({ length: k }, (): [number, number] => [0, 0]), kp1: Array.from({ length: k }, (): [number, number] => [0, 0]), confidences: new Array(k).fill(0) };
    const bomb = await run(grpcArgs((await harness.grpc({ compression: 1, matches: zeros })).url));
    expect(bomb.code).toBe(ExitCode.BadResponse);
    expect(bomb.err).toContain(`answered with more than ${maxResponseBytes(1024)} bytes`);
  });

  test('docs/client.md quotes the gRPC request size of the demo pair', async () => {
    const images = await Promise.all([DEMO1, DEMO2].map((file) => loadRgbImage(file)));
    const request = encodeRequest('grpc', 'omniglue_ensemble', imageInputs(images[0]!, images[1]!), Number.MAX_SAFE_INTEGER);
    expect((request.body as Uint8Array).byteLength).toBe(4002126);
    expect(await readFile(join(ROOT, 'docs/client.md'), 'utf8')).toContain('the gRPC request is 4002126 bytes');
  });

  test('a request over --max-request-bytes -> 3 before anything is sent', async () => {
    const server = await harness.grpc();
    const { code, err } = await run([...grpcArgs(server.url), '--max-request-bytes', '4000000']);
    expect(code).toBe(ExitCode.Image);
    expect(err).toContain("the gRPC inference request would be 4002126 bytes (3.8 MiB), over the server's request limit of 4000000 bytes (--max-request-bytes; kept for gRPC as for HTTP)");
    expect(err).toContain("raise --max-request-bytes (Triton's gRPC port takes up to 2147483647 bytes)");
    expect(server.calls).toEqual([]);
  });
});

describe('flags', () => {
  test('--protocol grpc defaults to localhost:8001 and takes host:port', () => {
    expect(parseCliArgs(['--protocol', 'grpc', '--image0', DEMO1, '--image1', DEMO2])).toMatchObject({ protocol: 'grpc', url: 'localhost:8001' });
    expect(parseCliArgs(['--protocol', 'grpc', '--url', '[::1]:8001', '--image0', DEMO1, '--image1', DEMO2])).toMatchObject({ url: '[::1]:8001' });
    expect(parseCliArgs(['--protocol', 'http', '--image0', DEMO1, '--image1', DEMO2])).toMatchObject({ protocol: 'binary', url: 'http://localhost:8000' });
  });

  test.each([
    [['--protocol', 'grpcs'], "--protocol must be http or grpc, got 'grpcs'"],
    [['--protocol', 'grpc', '--url', 'http://localhost:8001'], "--url for --protocol grpc must be host:port without a scheme (plaintext gRPC), such as localhost:8001, got 'http://localhost:8001'"],
    [['--protocol', 'grpc', '--url', 'user:pw@host:8001'], "must be host:port, such as localhost:8001, got 'user:pw@host:8001'"],
    [['--protocol', 'grpc', '--url', 'host:0'], "got 'host:0'"],
    [['--protocol', 'grpc', '--url', 'host:65536'], "got 'host:65536'"],
    [['--protocol', 'grpc', '--json-protocol'], '--json-protocol is for --protocol http; gRPC always carries the tensors as raw bytes'],
  ])('%j -> 2', async (flags, message) => {
    const { code, err } = await run([...flags, '--image0', DEMO1, '--image1', DEMO2]);
    expect(code).toBe(ExitCode.Usage);
    expect(err).toContain(message);
  });
});
