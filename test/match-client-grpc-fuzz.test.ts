/**
 * Fuzzing the gRPC side with the same classes as the HTTP fuzzer (duplicates, NaN, missing or unrequested outputs,
 * wrong dtypes and shapes) plus what only gRPC carries: raw or typed contents, messages compressed with gzip or
 * deflate (which grpc-js asks for: its grpc-accept-encoding), with an encoding it cannot decode, bombs, corrupt or
 * mislabelled compression, truncated frames, unknown fields nested as groups. Each case has a known verdict.
 * FUZZ_RUNS and FUZZ_SEED run it longer or elsewhere.
 */
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import * as protobuf from 'protobufjs';
import sharp from 'sharp';
import { main as loadtest } from '../scripts/loadtest/cli';
import { main } from '../scripts/match/cli';
import { ExitCode, MatchClientError } from '../scripts/match/errors';
import { decodeGrpcInferResponse } from '../scripts/match/grpc-protocol';
import { float32Le } from './support/infer-responses';
import { capture } from './support/match-harness';
import { grpcFrame, OK_TRAILERS, type RawGrpcServer, type ScriptedAnswer, startRawGrpcServer } from './support/raw-grpc-server';
import { type Case, flawedCase, FUZZ_RUNS, FUZZ_SEED, SIZE } from './support/response-fuzz';

const proto = new protobuf.Root().loadSync(join(__dirname, '..', 'scripts', 'match', 'proto', 'grpc_service.proto'), { keepCase: true });
const ModelInferResponse = proto.lookupType('inference.ModelInferResponse');

type Wire = 'plain' | 'gzip' | 'deflate' | 'br' | 'gzip-bomb' | 'corrupt-gzip' | 'flag-without-encoding' | 'truncated-frame';
const WIRE_OK: Wire[] = ['plain', 'gzip', 'deflate'];

/** An unknown field 15 holding groups nested `depth` deep (start-group tags, then as many end-group tags). */
const nestedGroups = (depth: number) => Buffer.concat([Buffer.alloc(depth, (15 << 3) | 3), Buffer.alloc(depth, (15 << 3) | 4)]);

function message(c: Case, contents: 'raw' | 'typed', groups: number): Buffer {
  const outputs = c.outputs.map((o) => ({ name: o.name, datatype: o.datatype ?? 'FP32', shape: o.shape,
    ...(contents === 'typed' ? { contents: { fp32_contents: o.values } } : {}) }));
  const fields = contents === 'raw' ? { outputs, raw_output_contents: c.outputs.map((o) => float32Le(o.values)) } : { outputs };
  return Buffer.concat([Buffer.from(ModelInferResponse.encode(ModelInferResponse.fromObject(fields)).finish()), nestedGroups(groups)]);
}

function scripted(bytes: Buffer, wire: Wire): ScriptedAnswer {
  const compressed = (encoding: string, data: Buffer): ScriptedAnswer =>
    ({ headers: { 'grpc-encoding': encoding }, data: grpcFrame(data, true), trailers: OK_TRAILERS });
  switch (wire) {
    case 'gzip': return compressed('gzip', zlib.gzipSync(bytes));
    case 'deflate': return compressed('deflate', zlib.deflateSync(bytes));
    case 'br': return compressed('br', zlib.brotliCompressSync(bytes));
    case 'gzip-bomb': return compressed('gzip', zlib.gzipSync(Buffer.concat([bytes, Buffer.alloc(32 * 2 ** 20)])));
    case 'corrupt-gzip': return compressed('gzip', Buffer.from('\x1f\x8b\x08not gzip'));
    case 'flag-without-encoding': return { data: grpcFrame(bytes, true), trailers: OK_TRAILERS };
    case 'truncated-frame': return { data: grpcFrame(bytes).subarray(0, 5 + Math.floor(bytes.length / 2)), trailers: OK_TRAILERS };
    default: return { data: grpcFrame(bytes), trailers: OK_TRAILERS };
  }
}

const cases = fc.record({
  c: flawedCase,
  contents: fc.constantFrom<'raw' | 'typed'>('raw', 'typed'),
  groups: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1, 10, 50, 200, 1_000, 100_000) }),
  wire: fc.oneof({ weight: 4, arbitrary: fc.constantFrom<Wire>(...WIRE_OK) },
    { weight: 2, arbitrary: fc.constantFrom<Wire>('br', 'gzip-bomb', 'corrupt-gzip', 'flag-without-encoding', 'truncated-frame') }),
});
type Generated = { c: Case; contents: 'raw' | 'typed'; groups: number; wire: Wire };
// protobufjs refuses nesting past its recursion limit (100, protoc's default); the depths generated stay clear of it.
const accepted = (g: Generated) => g.c.flaw === 'none' && g.groups <= 50 && WIRE_OK.includes(g.wire);

test('the decoder alone: a ModelInferResponse with bytes cut, flipped or appended decodes or is a malformed response (7)', () => {
  fc.assert(
    fc.property(cases, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), (g, flips, cut) => {
      const bytes = message(g.c, g.contents, g.groups);
      for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
      try {
        decodeGrpcInferResponse(bytes.subarray(0, bytes.length - (cut % 4)));
      } catch (err) {
        if (!(err instanceof MatchClientError) || err.exitCode !== ExitCode.BadResponse) throw err;
      }
    }),
    { numRuns: FUZZ_RUNS * 20, seed: FUZZ_SEED },
  );
});

describe('the client and the load generator over gRPC against generated answers', () => {
  let server: RawGrpcServer;
  let current: ScriptedAnswer = {};
  let dir = '';
  let args: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'grpc-fuzz-'));
    const files = [join(dir, 'a.png'), join(dir, 'b.png')];
    await Promise.all(files.map((f) => sharp({ create: { ...SIZE, channels: 3, background: '#808080' } }).png().toFile(f)));
    server = await startRawGrpcServer(() => current);
    args = ['--protocol', 'grpc', '--url', server.url, '--image0', files[0]!, '--image1', files[1]!];
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('npm run match -- --protocol grpc exits 0 exactly for sound answers, 7 for every flawed one, never 1', async () => {
    await fc.assert(
      fc.asyncProperty(cases, async (g) => {
        current = scripted(message(g.c, g.contents, g.groups), g.wire);
        const c = capture();
        const code = await main([...args, '--max-matches', '6'], c.io);
        expect(c.stderr()).not.toContain('unexpected failure');
        expect({ code, err: c.stderr().split('\n')[0] }).toMatchObject({ code: accepted(g) ? ExitCode.Ok : ExitCode.BadResponse });
      }),
      { numRuns: FUZZ_RUNS, seed: FUZZ_SEED },
    );
  });

  test('npm run loadtest -- --protocol grpc counts exactly the flawed answers as bad responses', async () => {
    await fc.assert(
      fc.asyncProperty(cases.filter((g) => g.c.flaw !== 'too-many-matches'), async (g) => {
        current = scripted(message(g.c, g.contents, g.groups), g.wire);
        const c = capture();
        const code = await loadtest([...args, '--requests', '1', '--no-metrics'], c.io);
        expect(c.stdout()).not.toContain('internal (');
        expect(c.stdout()).toContain(accepted(g) ? 'requests: 1 ok, 0 failed' : 'bad-response: 1');
        expect(code).toBe(accepted(g) ? ExitCode.Ok : 10);
      }),
      { numRuns: Math.ceil(FUZZ_RUNS / 2), seed: FUZZ_SEED },
    );
  });
});
