/**
 * The gRPC client against faults below the gRPC library, from a server written at the HTTP/2 level
 * (test/support/raw-grpc-server.ts): each gets the exit code of its class (4 unreachable, 6 error answer, 7 protocol
 * error) and a reason, never a stack trace; and the statuses grpc-js makes itself are told from the server's.
 */
import * as grpc from '@grpc/grpc-js';
import * as zlib from 'node:zlib';
import { main } from '../scripts/match/cli';
import { ExitCode } from '../scripts/match/errors';
import { causeOf } from '../scripts/match/grpc-client';
import { maxResponseBytes } from '../scripts/match/limits';
import { ensembleOutputs, float32Le } from './support/infer-responses';
import { capture, demoArgs, FIXED, matchHarness } from './support/match-harness';
import * as protobuf from 'protobufjs';
import { join } from 'node:path';
import { grpcFrame, OK_TRAILERS, type ScriptedAnswer, startRawGrpcServer } from './support/raw-grpc-server';

const harness = matchHarness();
const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const proto = new protobuf.Root().loadSync(join(__dirname, '..', 'scripts', 'match', 'proto', 'grpc_service.proto'), { keepCase: true });
const ModelInferResponse = proto.lookupType('inference.ModelInferResponse');
const outputs = ensembleOutputs(FIXED.kp0, FIXED.kp1, FIXED.confidences);
const goodResponse = Buffer.from(ModelInferResponse.encode(ModelInferResponse.fromObject({
  outputs: outputs.map((o) => ({ name: o.name, datatype: 'FP32', shape: o.shape })),
  raw_output_contents: outputs.map((o) => float32Le(o.values)),
})).finish());

async function runAgainst(answer: ScriptedAnswer, extra: string[] = []) {
  const server = await startRawGrpcServer(() => answer);
  servers.push(server);
  const c = capture();
  const code = await main(['--protocol', 'grpc', ...demoArgs(server.url), ...extra], c.io);
  return { code, err: c.stderr() };
}

const gzipped = { 'grpc-encoding': 'gzip' };

describe('a raw HTTP/2 server', () => {
  test('answering a well-formed ModelInferResponse is read like the library server', async () => {
    const { code, err } = await runAgainst({ data: grpcFrame(goodResponse), trailers: OK_TRAILERS });
    expect(err).toBe('');
    expect(code).toBe(ExitCode.Ok);
  });

  test.each([
    ['bytes that are not a protobuf', { data: grpcFrame(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])), trailers: OK_TRAILERS },
      'malformed inference response: the ModelInferResponse message does not decode'],
    ['groups nested 100,000 deep', { data: grpcFrame(Buffer.alloc(100_000, (15 << 3) | 3)), trailers: OK_TRAILERS },
      'the ModelInferResponse message does not decode (max depth exceeded)'],
    ['the compressed flag under identity', { data: grpcFrame(goodResponse, true), trailers: OK_TRAILERS }, 'broke the gRPC protocol (no gRPC status)'],
    ['an encoding grpc-js cannot decode (br)', { headers: { 'grpc-encoding': 'br' }, data: grpcFrame(zlib.brotliCompressSync(goodResponse), true), trailers: OK_TRAILERS },
      'broke the gRPC protocol (no gRPC status)'],
    ['corrupt gzip', { headers: gzipped, data: grpcFrame(Buffer.from('not gzip at all'), true), trailers: OK_TRAILERS },
      'broke the gRPC protocol (gRPC status 13 INTERNAL: Failed to decompress gzip-encoded message)'],
    ['a gzip bomb', { headers: gzipped, data: grpcFrame(zlib.gzipSync(Buffer.alloc(64 * 2 ** 20)), true), trailers: OK_TRAILERS },
      `answered with more than ${maxResponseBytes(1024)} bytes`],
    ['a truncated frame', { data: grpcFrame(goodResponse).subarray(0, 20), trailers: OK_TRAILERS }, 'No message received'],
    ['no status at all', { data: grpcFrame(goodResponse) }, 'Received RST_STREAM with code 0 (Call ended without gRPC status)'],
    ['a reset stream', { abort: 'rst' }, 'Received RST_STREAM with code 2'],
  ] as Array<[string, ScriptedAnswer, string]>)('%s -> 7', async (_name, answer, message) => {
    const { code, err } = await runAgainst(answer);
    expect(err).toContain(message);
    expect(err).not.toMatch(/unexpected failure|\n\s+at /);
    expect(code).toBe(ExitCode.BadResponse);
  });

  test('a connection dropped during ModelInfer -> 4, as over HTTP', async () => {
    const grpcDrop = await runAgainst({ abort: 'drop' });
    expect(grpcDrop.err).toMatch(/cannot reach Triton at 127\.0\.0\.1:\d+ \(ModelInfer at .*: gRPC status 14 UNAVAILABLE: Connection dropped\)/);
    const http = await harness.fake({ dropInfer: true });
    const c = capture();
    const httpCode = await main(demoArgs(http.url), c.io);
    expect([grpcDrop.code, httpCode]).toEqual([ExitCode.Unreachable, ExitCode.Unreachable]);
  });

  test('a connection dropped under a readiness call is retried once, as over HTTP', async () => {
    const run = async (drops: number) => {
      let left = drops;
      const server = await startRawGrpcServer(() => ({ data: grpcFrame(goodResponse), trailers: OK_TRAILERS }),
        (method) => (method === 'ModelReady' && left-- > 0 ? { abort: 'drop' } : undefined));
      servers.push(server);
      const c = capture();
      return { code: await main(['--protocol', 'grpc', ...demoArgs(server.url)], c.io), err: c.stderr() };
    };
    expect((await run(1)).code).toBe(ExitCode.Ok);
    const twice = await run(2);
    expect(twice.code).toBe(ExitCode.Unreachable);
    expect(twice.err).toContain('(ModelReady at');
    expect(twice.err).toContain('gRPC status 14 UNAVAILABLE: Connection dropped, also when sent again)');
  });

  test('ModelReady answering ready: false -> 5, naming what it answered', async () => {
    const notReady = proto.lookupType('inference.ModelReadyResponse');
    const server = await startRawGrpcServer(() => ({}), (method) =>
      (method === 'ModelReady' ? { data: grpcFrame(Buffer.from(notReady.encode({ ready: false }).finish())), trailers: OK_TRAILERS } : undefined));
    servers.push(server);
    const c = capture();
    expect(await main(['--protocol', 'grpc', ...demoArgs(server.url)], c.io)).toBe(ExitCode.NotReady);
    expect(c.stderr()).toContain(`model 'omniglue_ensemble' is not ready at ${server.url} (ready: false); server ready: yes`);
    expect(c.stderr()).toContain(`or gRPC ModelReady at ${server.url} tells each model's state`);
  });

  test('an HTTP error from a proxy in front of the gRPC port -> 6, as an HTTP error answer is', async () => {
    const { code, err } = await runAgainst({ headers: { ':status': '503', 'content-type': 'text/html' }, data: Buffer.from('<html>busy</html>') });
    expect(err).toContain('inference failed: gRPC status 14 UNAVAILABLE from ModelInfer at');
    expect(err).toContain('Received HTTP status code 503');
    expect(code).toBe(ExitCode.Http);
  });
});

describe('statuses grpc-js makes itself are told from the server\'s', () => {
  test.each([
    [grpc.status.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:9', 'transport'],
    [grpc.status.UNAVAILABLE, 'Connection dropped', 'transport'],
    [grpc.status.UNAVAILABLE, 'read ECONNRESET', 'transport'],
    [grpc.status.UNAVAILABLE, 'Server not ready', 'server'],
    [grpc.status.UNAVAILABLE, 'Exceeds maximum queue size', 'server'],
    [grpc.status.RESOURCE_EXHAUSTED, 'Received message larger than max (5000 vs 1000)', 'too-large'],
    [grpc.status.RESOURCE_EXHAUSTED, 'Received message that decompresses to a size larger than 1000', 'too-large'],
    [grpc.status.RESOURCE_EXHAUSTED, 'rate limited', 'server'],
    [grpc.status.INTERNAL, 'Failed to decompress deflate-encoded message', 'protocol'],
    [grpc.status.INTERNAL, "in ensemble 'omniglue_ensemble', onnx runtime error 6", 'server'],
    [grpc.status.UNIMPLEMENTED, 'No message received', 'protocol'],
    [grpc.status.UNIMPLEMENTED, 'Method not found: inference.GRPCInferenceService/ModelInfer', 'server'],
    [grpc.status.UNKNOWN, 'No status information received', 'protocol'],
    [grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded after 1.5s', 'timeout'],
    [undefined, undefined, 'protocol'],
  ])('%s %j -> %s', (code, details, cause) => {
    expect(causeOf({ code, details })).toBe(cause);
  });
});
