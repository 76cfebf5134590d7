/**
 * Fuzzing the HTTP side of the response decoder with the classes issue 21 found: bodies of any JSON value, data
 * nested deeper than the shape (up to 200k), outputs named twice or missing or unrequested, NaN and other values
 * the contract refuses, bodies compressed (gzip, br, deflate, bombs, corrupt) although identity was asked for.
 * Every generated case has a known verdict; the client must reach it (0 or 7) and never crash (1).
 * FUZZ_RUNS and FUZZ_SEED run it longer or elsewhere (`FUZZ_RUNS=2000 npx jest test/match-client-fuzz.test.ts`).
 */
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { main as loadtest } from '../scripts/loadtest/cli';
import { main } from '../scripts/match/cli';
import { ExitCode, MatchClientError } from '../scripts/match/errors';
import type { RgbImage } from '../scripts/match/images';
import { checkedMatches } from '../scripts/match/matches';
import { decodeHttpInferBody } from '../scripts/match/response-decoder';
import { binaryAnswer, compress, gzipBomb, type RawAnswer, withEncoding } from './support/infer-responses';
import { capture } from './support/match-harness';
import { type Case, type Compression, compression, extraNesting, flawedCase, FUZZ_RUNS, FUZZ_SEED, nestedData, SIZE } from './support/response-fuzz';

const image = (path: string): RgbImage => ({ path, ...SIZE, data: Buffer.alloc(SIZE.width * SIZE.height * 3) });
const LIMITS = { maxMatches: 6, image0: image('a.png'), image1: image('b.png') };
const BOMB = gzipBomb(2 ** 28);

/** The JSON body; only the first output gets the extra nesting. */
function jsonBody(c: Case, extra: number): Buffer {
  const outputs = c.outputs.map((o, i) =>
    `{"name":${JSON.stringify(o.name)},"datatype":"${o.datatype ?? 'FP32'}","shape":${JSON.stringify(o.shape)},"data":${nestedData(o.values, o.shape, i === 0 ? extra : 0).text}}`);
  return Buffer.from(`{"model_name":"omniglue_ensemble","outputs":[${outputs.join(',')}]}`);
}

const tooDeep = (c: Case, extra: number) => c.outputs.length > 0 && nestedData(c.outputs[0]!.values, c.outputs[0]!.shape, extra).tooDeep;

function answerFor(c: Case, format: 'binary' | 'json', extra: number, how: Compression): RawAnswer {
  const plain = format === 'binary' ? binaryAnswer(c.outputs) : { headers: { 'Content-Type': 'application/json' }, body: jsonBody(c, extra) };
  switch (how) {
    case 'none': return plain;
    case 'identity': return withEncoding(plain, 'identity', plain.body);
    case 'gzip': case 'br': case 'deflate': return withEncoding(plain, how, compress(plain.body, how));
    case 'gzip-bomb': return withEncoding(plain, 'gzip', BOMB);
    case 'corrupt-br': return withEncoding(plain, 'br', Buffer.from('\x8b\x02\x80not brotli'));
    case 'corrupt-gzip': return withEncoding(plain, 'gzip', Buffer.from('\x1f\x8bnot gzip'));
    default: return withEncoding(plain, how, plain.body);
  }
}

const answers = fc.record({ c: flawedCase, format: fc.constantFrom<'binary' | 'json'>('binary', 'json'), extra: extraNesting, how: compression });
const accepted = (a: { c: Case; format: string; extra: number; how: Compression }) =>
  a.c.flaw === 'none' && (a.how === 'none' || a.how === 'identity') && (a.format === 'binary' || !tooDeep(a.c, a.extra));

/** What a server answers, with its verdict: a generated answer, or a body of any JSON value (null, 42, [], ...). */
const served: fc.Arbitrary<{ answer: RawAnswer; ok: boolean; flaw: string }> = fc.oneof(
  { weight: 6, arbitrary: answers.map((a) => ({ answer: answerFor(a.c, a.format, a.extra, a.how), ok: accepted(a), flaw: a.c.flaw })) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => ({ answer: { headers: {}, body: Buffer.from(JSON.stringify(v) ?? 'null') }, ok: false, flaw: 'any-json' })) },
);

describe('the decoder alone', () => {
  test('any JSON value, any bytes: matches or a malformed response (7), nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')), fc.uint8Array({ maxLength: 300 }).map(Buffer.from)),
        fc.option(fc.nat({ max: 400 }).map(String)), (body, headerLength) => {
          try {
            checkedMatches(decodeHttpInferBody(body, headerLength), LIMITS);
          } catch (err) {
            if (!(err instanceof MatchClientError) || err.exitCode !== ExitCode.BadResponse) throw err;
          }
        }),
      { numRuns: FUZZ_RUNS * 20, seed: FUZZ_SEED },
    );
  });

  test('flawed answers are refused and sound ones accepted, in binary and JSON, whatever the nesting', () => {
    fc.assert(
      fc.property(answers, (a) => {
        const plain = answerFor(a.c, a.format, a.extra, 'none');
        const header = plain.headers['Inference-Header-Content-Length'] ?? null;
        let verdict: 'ok' | 'refused' = 'ok';
        try {
          checkedMatches(decodeHttpInferBody(plain.body, header), LIMITS);
        } catch (err) {
          if (!(err instanceof MatchClientError) || err.exitCode !== ExitCode.BadResponse) throw err;
          verdict = 'refused';
        }
        expect(verdict).toBe(accepted({ ...a, how: 'none' }) ? 'ok' : 'refused');
      }),
      { numRuns: FUZZ_RUNS * 20, seed: FUZZ_SEED },
    );
  });
});

describe('the client and the load generator against a server answering generated responses', () => {
  let server: Server;
  let url = '';
  let current: RawAnswer = { headers: {}, body: Buffer.alloc(0) };
  let dir = '';
  let args: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'match-fuzz-'));
    const files = [join(dir, 'a.png'), join(dir, 'b.png')];
    await Promise.all(files.map((f) => sharp({ create: { ...SIZE, channels: 3, background: '#808080' } }).png().toFile(f)));
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.method === 'GET') return void res.writeHead(200).end();
        res.writeHead(current.status ?? 200, current.headers).end(current.body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    args = ['--url', url, '--image0', files[0]!, '--image1', files[1]!];
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  test('npm run match exits 0 exactly for sound answers, 7 for every flawed one, never 1', async () => {
    await fc.assert(
      fc.asyncProperty(served, async (s) => {
        current = s.answer;
        const c = capture();
        const code = await main([...args, '--max-matches', '6'], c.io);
        expect(c.stderr()).not.toContain('unexpected failure');
        expect({ code, err: c.stderr().split('\n')[0] }).toMatchObject({ code: s.ok ? ExitCode.Ok : ExitCode.BadResponse });
      }),
      { numRuns: FUZZ_RUNS, seed: FUZZ_SEED },
    );
  });

  test('npm run loadtest counts exactly the flawed answers as bad responses, never as internal errors', async () => {
    await fc.assert(
      // The load generator keeps the default --max-matches (1024): seven matches are sound there.
      fc.asyncProperty(served.filter((s) => s.flaw !== 'too-many-matches'), async (s) => {
        current = s.answer;
        const c = capture();
        const code = await loadtest([...args, '--requests', '1', '--no-metrics'], c.io);
        expect(c.stdout()).not.toContain('internal (');
        expect(c.stdout()).toContain(s.ok ? 'requests: 1 ok, 0 failed' : 'bad-response: 1');
        expect(code).toBe(s.ok ? ExitCode.Ok : 10);
      }),
      { numRuns: Math.ceil(FUZZ_RUNS / 2), seed: FUZZ_SEED },
    );
  });
});
