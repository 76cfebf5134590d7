/**
 * The bounded response decoder (scripts/match/response-decoder.ts) through the match client and the load generator,
 * against servers that answer with what issue 21 found: a null body, data nested 200k deep, an output named twice,
 * compressed bodies nobody asked for (and bombs), a corrupt brotli body, NaN confidences.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { main as loadtest, EXIT_REQUESTS_FAILED } from '../scripts/loadtest/cli';
import { main } from '../scripts/match/cli';
import { ExitCode } from '../scripts/match/errors';
import { maxResponseBytes, RESPONSE_BYTES_PER_MATCH, RESPONSE_ENVELOPE_BYTES } from '../scripts/match/limits';
import {
  binaryAnswer, compress, ensembleOutputs, gzipBomb, jsonAnswer, jsonAnswerWithData, nestedArrayText, type RawAnswer, withEncoding,
} from './support/infer-responses';
import { capture, demoArgs, FIXED, matchHarness, ROOT } from './support/match-harness';

const harness = matchHarness();
const fixed = () => ensembleOutputs(FIXED.kp0, FIXED.kp1, FIXED.confidences);

async function matchAgainst(rawAnswer: RawAnswer, extra: string[] = []) {
  const server = await harness.fake({ rawAnswer });
  const c = capture();
  const code = await main([...demoArgs(server.url), ...extra], c.io);
  return { code, out: c.stdout(), err: c.stderr() };
}

describe('the body has the shape of a response before it is read', () => {
  test.each([
    ['null', 'the JSON part is null, not an object'],
    ['42', 'the JSON part is a number, not an object'],
    ['"outputs"', 'the JSON part is a string, not an object'],
    ['[{"outputs": []}]', 'the JSON part is an array, not an object'],
    ['{"outputs": [null]}', 'output null lacks a valid name, datatype or shape'],
    ['{"outputs": [{"name": "matches_kp0", "datatype": "FP32", "shape": [1e300, 2], "data": []}]}', 'output "matches_kp0" lacks a valid name'],
  ])('a body of %s -> 7 with a reason, no stack trace', async (body, message) => {
    const { code, err } = await matchAgainst({ headers: { 'Content-Type': 'application/json' }, body: Buffer.from(body) });
    expect(err).toContain(`malformed inference response: ${message}`);
    expect(err).not.toMatch(/unexpected failure|\n\s+at /);
    expect(code).toBe(ExitCode.BadResponse);
  });

  const out = (fields: string) => `{"outputs": [${fields}]}`;
  const kp0 = '"name": "matches_kp0", "datatype": "FP32", "shape": [1, 2]';
  const others = '{"name": "matches_kp1", "datatype": "FP32", "shape": [1, 2], "data": [1, 1]}, {"name": "match_confidences", "datatype": "FP32", "shape": [1], "data": [0.5]}';
  test.each([
    ['{"outputs": ', 'JSON part does not parse'],
    ['{"model_name": "omniglue_ensemble"}', 'no "outputs" array'],
    [out(`{${kp0}}`), "output 'matches_kp0' has neither binary_data_size nor a data array"],
    [out(`{${kp0}, "data": [1, "2"]}, ${others}`), "output 'matches_kp0' holds a non-number at index 1"],
    [out(`{${kp0}, "data": [1, 2, 3]}, ${others}`), "output 'matches_kp0' has 3 values, shape [1,2] needs 2"],
    [out(`{"name": "matches_kp1", "datatype": "FP32", "shape": [0, 2], "data": []}, {"name": "match_confidences", "datatype": "FP32", "shape": [0], "data": []}`),
      "output 'matches_kp0' is missing"],
  ])('every refusal names its reason: %s', async (body, message) => {
    const { code, err } = await matchAgainst({ headers: { 'Content-Type': 'application/json' }, body: Buffer.from(body) });
    expect(err).toContain(`malformed inference response: ${message}`);
    expect(code).toBe(ExitCode.BadResponse);
  });

  test('bytes after the last binary output -> 7', async () => {
    const answer = binaryAnswer(fixed());
    const { code, err } = await matchAgainst({ ...answer, body: Buffer.concat([answer.body, Buffer.from('xyz')]) });
    expect(err).toContain('malformed inference response: 3 unexplained bytes after the last output');
    expect(code).toBe(ExitCode.BadResponse);
  });

  test('data nested 200,000 deep -> 7: over the size bound by default, over the rank when the bound allows it', async () => {
    const deep = jsonAnswerWithData(nestedArrayText(200_000));
    const bounded = await matchAgainst(deep);
    expect(bounded.err).toContain(`answered with more than ${maxResponseBytes(1024)} bytes`);
    expect(bounded.code).toBe(ExitCode.BadResponse);

    const allowed = await matchAgainst(deep, ['--max-matches', '4096']);
    expect(allowed.err).toContain("malformed inference response: output 'matches_kp0' nests its data deeper than its shape's 2 dimensions");
    expect(allowed.code).toBe(ExitCode.BadResponse);
  });

  test('data nested exactly as deep as the shape is accepted', async () => {
    const nested = jsonAnswer(fixed(), (values, shape) =>
      shape.length === 2 ? Array.from({ length: shape[0]! }, (_, i) => values.slice(i * 2, i * 2 + 2)) : values);
    const { code, out } = await matchAgainst(nested);
    expect(code).toBe(ExitCode.Ok);
    expect(out).toContain('matches: 5 (5 returned');
  });
});

describe('each output once, and only those asked for', () => {
  test.each([
    ['binary', binaryAnswer],
    ['JSON', jsonAnswer],
  ] as const)('an output named twice (%s) -> 7, whichever copy came last', async (_name, answer) => {
    const outputs = fixed();
    const twice = [...outputs, { ...outputs[2]!, values: outputs[2]!.values.map(() => 0.75) }];
    const { code, err } = await matchAgainst(answer(twice));
    expect(err).toContain("malformed inference response: output 'match_confidences' appears more than once");
    expect(code).toBe(ExitCode.BadResponse);
  });

  test('an output that was not requested -> 7, naming it', async () => {
    const { code, err } = await matchAgainst(binaryAnswer([...fixed(), { name: 'debug\nscores', shape: [1], values: [1] }]));
    expect(err).toContain('output "debug\\nscores" was not requested (the request asked for matches_kp0, matches_kp1, match_confidences)');
    expect(code).toBe(ExitCode.BadResponse);
  });
});

describe('nothing is decompressed that the client did not ask for', () => {
  test.each(['gzip', 'br', 'deflate'] as const)('a valid %s body -> 7, refused before it is read', async (encoding) => {
    const plain = binaryAnswer(fixed());
    const { code, err } = await matchAgainst(withEncoding(plain, encoding, compress(plain.body, encoding)));
    expect(err).toContain(`answered HTTP 200 with Content-Encoding '${encoding}', although the client asked for identity`);
    expect(code).toBe(ExitCode.BadResponse);
  });

  test('a corrupt brotli body -> 7 (a protocol error), not 4', async () => {
    const { code, err } = await matchAgainst(withEncoding(binaryAnswer(fixed()), 'br', Buffer.from('this is not brotli')));
    expect(err).toContain("Content-Encoding 'br', although the client asked for identity");
    expect(code).toBe(ExitCode.BadResponse);
  });

  test('a 1 MB gzip bomb (1 GiB inflated) is refused at once, without inflating it', async () => {
    const bomb = gzipBomb(2 ** 30);
    expect(bomb.length).toBeLessThan(1.2 * 2 ** 20);
    const before = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    const { code, err } = await matchAgainst(withEncoding(jsonAnswer(fixed()), 'gzip', bomb));
    expect(code).toBe(ExitCode.BadResponse);
    expect(err).toContain("Content-Encoding 'gzip'");
    expect(performance.now() - started).toBeLessThan(5000);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
  });

  test('Content-Encoding identity is what was asked for, and is read', async () => {
    const { code } = await matchAgainst(withEncoding(binaryAnswer(fixed()), 'identity', binaryAnswer(fixed()).body));
    expect(code).toBe(ExitCode.Ok);
  });

  test.each([
    ['announced by Content-Length', {}],
    ['sent chunked, without a length', { 'Transfer-Encoding': 'chunked' }],
  ])('a body over the bound is refused: %s', async (_how, headers) => {
    const big = binaryAnswer(ensembleOutputs([[1, 1]], [[1, 1]], [0.5]));
    const { code, err } = await matchAgainst({ headers: { ...big.headers, ...headers }, body: Buffer.concat([big.body, Buffer.alloc(maxResponseBytes(1024))]) });
    expect(err).toContain(`answered with more than ${maxResponseBytes(1024)} bytes, more than a response of at most 1024 matches takes`);
    expect(code).toBe(ExitCode.BadResponse);
  });

  test('a kept-alive connection is closed after 4 s idle, so a stopping Triton need not wait for it', async () => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    const closed: number[] = [];
    server.on('connection', (socket) => socket.on('close', () => closed.push(performance.now())));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const c = capture();
    await main(demoArgs(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), c.io);
    const done = performance.now();
    await new Promise((r) => setTimeout(r, 5_000));
    server.close();
    expect(closed).toHaveLength(1);
    expect(closed[0]! - done).toBeGreaterThan(3_000);
  });

  test('a body cut off by the server -> 4, as a dropped connection', async () => {
    const server = createServer((req, res) => {
      req.resume();
      if (req.method === 'GET') return void res.writeHead(200).end();
      res.writeHead(200, { 'Content-Length': '1000' });
      res.write('{"outputs": [', () => res.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const c = capture();
    const code = await main(demoArgs(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), c.io);
    server.closeAllConnections();
    server.close();
    expect(c.stderr()).toContain('/infer: the server closed the connection mid-response (ECONNRESET))');
    expect(code).toBe(ExitCode.Unreachable);
  });
});

describe('the load generator applies the same decoder and contract', () => {
  const runLoad = async (overrides: Parameters<typeof harness.fake>[0]) => {
    const server = await harness.fake(overrides);
    const c = capture();
    const code = await loadtest(['--url', server.url, '--requests', '3', '--concurrency', '1', '--no-metrics'], c.io);
    return { code, out: c.stdout() };
  };

  test('NaN confidences are failures, with the reason', async () => {
    const { code, out } = await runLoad({ matches: { ...FIXED, confidences: [0.5, NaN, 0.25, 0.1, 0] } });
    expect(out).toContain('requests: 0 ok, 3 failed');
    expect(out).toContain('bad-response: 3 (e.g. malformed inference response: match 1: confidence is NaN, outside [0, 1])');
    expect(code).toBe(EXIT_REQUESTS_FAILED);
  });

  test.each([
    ['an output named twice', binaryAnswer([...fixed(), fixed()[0]!]), "output 'matches_kp0' appears more than once"],
    ['a null body', { headers: {}, body: Buffer.from('null') }, 'the JSON part is null, not an object'],
    ['data nested too deep', jsonAnswerWithData(nestedArrayText(50_000)), 'nests its data deeper than'],
    ['a gzip body', withEncoding(binaryAnswer(fixed()), 'gzip', compress(binaryAnswer(fixed()).body, 'gzip')), "Content-Encoding 'gzip'"],
    ['a keypoint outside its image', binaryAnswer(ensembleOutputs([[5000, 1]], [[1, 1]], [0.5])), 'lies outside its 1000x667 image'],
  ])('%s -> counted as bad responses, with the reason', async (_name, rawAnswer, reason) => {
    const { code, out } = await runLoad({ rawAnswer });
    expect(out).toContain('requests: 0 ok, 3 failed');
    expect(out).toMatch(new RegExp(`bad-response: 3 \\(e\\.g\\. .*${reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(code).toBe(EXIT_REQUESTS_FAILED);
  });
});

test('docs/client.md states the response bound as the code computes it', async () => {
  const docs = await readFile(`${ROOT}/docs/client.md`, 'utf8');
  expect(docs).toContain(`at most ${RESPONSE_ENVELOPE_BYTES} bytes plus ${RESPONSE_BYTES_PER_MATCH} per \`--max-matches\``);
  expect(docs).toContain(`${maxResponseBytes(1024)} bytes by default`);
});
