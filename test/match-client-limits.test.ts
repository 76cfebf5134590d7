/**
 * The match client against misbehaving servers and hostile arguments: response validation, one deadline, errors in
 * the right class, outputs that never collide or half-exist, and the documented limits checked before sending.
 */
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_MATCHES } from '../config/schema';
import sharp from 'sharp';
import { main, notReadyHint, OUTPUT_NAMES, parseCliArgs } from '../scripts/match/cli';
import { ExitCode } from '../scripts/match/errors';
import { loadRgbImage } from '../scripts/match/images';
import { encodeBinaryRequest, encodeJsonRequest } from '../scripts/match/kserve-v2';
import { DEFAULT_MAX_MATCHES, DEFAULT_MAX_REQUEST_BYTES, dinov2InputSize, jsonRequestBytes, MAX_TIMER_MS, maxResponseBytes } from '../scripts/match/limits';
import { loadModelRepository, MODEL_REPOSITORY_DIR } from '../lib/triton-model-config';
import { capture, DEMO1, DEMO2, demoArgs, FIXED, matchHarness, ROOT } from './support/match-harness';
import { findResource, synthesize } from './support/synth';

const harness = matchHarness();
const { fake } = harness;

async function run(argv: string[]) {
  const c = capture();
  const code = await main(argv, c.io);
  return { code, out: c.stdout(), err: c.stderr() };
}

const withMatches = (change: (m: typeof FIXED) => void) => {
  const copy = JSON.parse(JSON.stringify(FIXED)) as typeof FIXED;
  change(copy);
  return copy;
};

describe('the response is validated before anything is written', () => {
  test.each([
    ['a NaN confidence', (m: typeof FIXED) => { m.confidences[1] = NaN; }, 'match 1: confidence is NaN, outside [0, 1]'],
    ['a confidence above 1', (m: typeof FIXED) => { m.confidences[0] = 1.5; }, 'match 0: confidence is 1.5, outside [0, 1]'],
    ['an infinite coordinate', (m: typeof FIXED) => { m.kp0[2] = [Infinity, 5]; }, 'match 2: kp0 is (Infinity, 5), not finite'],
    ['a negative coordinate', (m: typeof FIXED) => { m.kp0[3] = [-0.5, 5]; }, 'match 3: kp0 (-0.5, 5) lies outside its 1000x667 image'],
    ['a coordinate beyond the width', (m: typeof FIXED) => { m.kp1[4] = [1000.5, 10]; }, 'match 4: kp1 (1000.5, 10) lies outside its 1000x667 image'],
    ['shapes that disagree', (m: typeof FIXED) => { m.kp1.pop(); }, "output 'matches_kp1' has 32 bytes, shape [5,2] needs 40"],
  ])('%s -> 7, and an existing --json file is left as it was', async (_name, change, message) => {
    const server = await fake({ matches: withMatches(change) });
    const jsonPath = join(harness.tmp(), 'kept.json');
    await writeFile(jsonPath, 'previous run\n');
    const { code, err } = await run([...demoArgs(server.url), '--json', jsonPath]);
    expect(err).toContain(`malformed inference response: ${message}`);
    expect(code).toBe(ExitCode.BadResponse);
    expect(await readFile(jsonPath, 'utf8')).toBe('previous run\n');
  });

  test('more matches than --max-matches -> 7, checked on the shape before the values are read', async () => {
    const server = await fake();
    const { code, err } = await run([...demoArgs(server.url), '--max-matches', '4']);
    expect(code).toBe(ExitCode.BadResponse);
    expect(err).toContain('5 matches, more than the 4 keypoints per image the ensemble keeps (--max-matches 4)');
  });

  test('a 200,000-match response is refused by default, by its size as it arrives, and writes no file', async () => {
    const k = 200_000;
    const server = await fake({
      matches: { kp0: Array.from({ length: k }, () => [1, 1]), kp1: Array.from({ length: k }, () => [2, 2]), confidences: new Array(k).fill(0.5) },
    });
    const jsonPath = join(harness.tmp(), 'huge.json');
    const { code, err } = await run([...demoArgs(server.url), '--json', jsonPath]);
    expect(code).toBe(ExitCode.BadResponse);
    expect(err).toContain(`/infer answered with more than ${maxResponseBytes(DEFAULT_MAX_MATCHES)} bytes, more than a response of at most ${DEFAULT_MAX_MATCHES} matches takes`);
    await expect(readFile(jsonPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test("the default --max-matches is the keypoint step's top-k, and the configuration's bound agrees", () => {
    // The keypoint dimension is dynamic (0..k) in the configs; k is the glue graph builder's.
    const keypoints = loadModelRepository(MODEL_REPOSITORY_DIR).model('superpoint_keypoints').outputs.find((t) => t.name === 'keypoints');
    expect(keypoints?.dims).toEqual([1, -1, 2]);
    const builder = readFileSync(join(ROOT, 'scripts', 'omniglue_conversion', 'glue_graphs.py'), 'utf8');
    expect(Number(/^DEFAULT_KEYPOINT_COUNT = (\d+)$/m.exec(builder)?.[1])).toBe(DEFAULT_MAX_MATCHES);
    expect(MAX_MATCHES).toBe(DEFAULT_MAX_MATCHES);
  });
});

describe('time limits', () => {
  test('one deadline covers readiness and inference together', async () => {
    const server = await fake({ readyDelayMs: 50, inferDelayMs: 300 });
    const { code, err } = await run([...demoArgs(server.url), '--timeout-ms', '350']);
    expect(code).toBe(ExitCode.Timeout);
    expect(err).toContain('the run took longer than --timeout-ms 350 ms (readiness checks and inference together)');
  });

  test('a --timeout-ms beyond what timers hold is refused, the largest one accepted', async () => {
    const { code, err } = await run(['--image0', DEMO1, '--image1', DEMO2, '--timeout-ms', String(2 ** 31)]);
    expect(code).toBe(ExitCode.Usage);
    expect(err).toContain(`--timeout-ms must be at most ${MAX_TIMER_MS} (about 24.8 days, the longest delay Node's timers support), got '2147483648'`);
    expect(parseCliArgs(['--image0', DEMO1, '--image1', DEMO2, '--timeout-ms', String(MAX_TIMER_MS)])).toMatchObject({ timeoutMs: MAX_TIMER_MS });
  });
});

describe('errors in the right class', () => {
  test('a gzip body the client did not ask for -> 7, not "cannot reach", and it is not read', async () => {
    const server = await fake({ badGzip: true });
    const { code, err } = await run(demoArgs(server.url));
    expect(code).toBe(ExitCode.BadResponse);
    expect(err).toContain("/infer answered HTTP 200 with Content-Encoding 'gzip', although the client asked for identity");
  });

  test('a redirect loop -> 7, naming the redirect', async () => {
    const server = await fake({ redirectLoop: true });
    const { code, err } = await run(demoArgs(server.url));
    expect(code).toBe(ExitCode.BadResponse);
    expect(err).toContain(`GET ${server.url}/v2/health/ready answered HTTP 302, a redirect to '/v2/health/ready'`);
    expect(server.requests).toHaveLength(1);
  });

  test('credentials in --url are sent as Basic auth and never printed', async () => {
    const server = await fake();
    const withCredentials = server.url.replace('http://', 'http://omniglue:s3cr%40t@');
    const ok = await run(['--url', withCredentials, '--image0', DEMO1, '--image1', DEMO2]);
    expect(ok.code).toBe(ExitCode.Ok);
    expect(server.requests.map((r) => r.authorization)).toEqual(new Array(3).fill(`Basic ${Buffer.from('omniglue:s3cr@t').toString('base64')}`));
    expect(ok.out).toContain(`at ${server.url} (binary tensor data, credentials from --url sent as HTTP Basic auth)`);

    const notReady = await fake({ modelReadyStatus: 400 });
    const failures = [
      await run(['--url', notReady.url.replace('http://', 'http://omniglue:s3cr%40t@'), '--image0', DEMO1, '--image1', DEMO2]),
      await run(['--url', 'http://omniglue:s3cr%40t@127.0.0.1:9', '--image0', DEMO1, '--image1', DEMO2]),
      await run(['--url', 'ftp://omniglue:s3cr%40t@host', '--image0', DEMO1, '--image1', DEMO2]),
    ];
    expect(failures.map((f) => f.code)).toEqual([ExitCode.NotReady, ExitCode.Unreachable, ExitCode.Usage]);
    for (const text of [ok.out, ok.err, ...failures.flatMap((f) => [f.out, f.err])]) expect(text).not.toMatch(/s3cr/);
    expect(failures[2]?.err).toContain("got 'ftp://***@host'");
  });

  test('a dropped keep-alive connection on a readiness check is retried once', async () => {
    const server = await fake({ dropModelReady: 1 });
    expect((await run(demoArgs(server.url))).code).toBe(ExitCode.Ok);
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /v2/health/ready',
      'GET /v2/models/omniglue_ensemble/ready',
      'GET /v2/models/omniglue_ensemble/ready',
      'POST /v2/models/omniglue_ensemble/infer',
    ]);

    const twice = await fake({ dropModelReady: 2 });
    const { code, err } = await run(demoArgs(twice.url));
    expect(code).toBe(ExitCode.Unreachable);
    expect(err).toContain('socket hang up (ECONNRESET), also when sent again');
  });

  test("the not-ready hint names only endpoints the deployment's restricted-API flags leave open", () => {
    const command: string = findResource(synthesize().serving, 'kubernetes_deployment_v1', 'triton').spec.template.spec.container[0].args[0];
    const restricted = /--http-restricted-api=([a-z,-]+):/.exec(command)?.[1]?.split(',') ?? [];
    expect(restricted).toContain('model-repository');
    // Triton's endpoint groups (docs/customization_guide/inference_protocols.md, "Limit Endpoint Access").
    const category = (path: string): string =>
      path.startsWith('/v2/repository') ? 'model-repository'
        : /\/config$/.test(path) ? 'model-config'
          : /\/ready$|^\/v2\/health/.test(path) ? 'health'
            : /\/stats$/.test(path) ? 'statistics'
              : /sharedmemory/.test(path) ? 'shared-memory'
                : /trace|logging/.test(path) ? 'trace-or-logging' : 'metadata';
    const paths = notReadyHint('http://localhost:8000').match(/\/v2\/[^\s)]*/g) ?? [];
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) expect(restricted).not.toContain(category(path));
    // The client's request limit assumes Triton's default --http-max-input-size.
    expect(command).not.toContain('--http-max-input-size');
  });
});

describe('outputs', () => {
  test.each([
    [['--out', 'same.png', '--json', 'same.png'], "--out 'same.png' is the same file as --json 'same.png'"],
    [['--out', DEMO1], `--out '${DEMO1}' would overwrite the input --image0 '${DEMO1}'`],
    [['--json', DEMO2], `--json '${DEMO2}' would overwrite the input --image1 '${DEMO2}'`],
  ])('colliding outputs %j -> 2 before any work', async (flags, message) => {
    const server = await fake();
    const { code, err } = await run([...demoArgs(server.url), ...flags]);
    expect(code).toBe(ExitCode.Usage);
    expect(err).toContain(message);
    expect(server.requests).toEqual([]);
  });

  test('an output that is a link to an input is refused', async () => {
    const link = join(harness.tmp(), 'link-to-demo1.png');
    await symlink(DEMO1, link);
    const { code, err } = await run(['--image0', DEMO1, '--image1', DEMO2, '--out', link]);
    expect(code).toBe(ExitCode.Usage);
    expect(err).toContain('would overwrite the input --image0');
  });

  test('a failed write leaves neither a partial file nor a temporary one', async () => {
    const server = await fake();
    const dir = join(harness.tmp(), 'atomic');
    await mkdir(join(dir, 'taken.json'), { recursive: true });
    const { code, err } = await run([...demoArgs(server.url), '--json', join(dir, 'taken.json')]);
    expect(code).toBe(ExitCode.Output);
    expect(err).toContain(`cannot write JSON '${join(dir, 'taken.json')}'`);
    expect(await readdir(dir)).toEqual(['taken.json']);
  });
});

describe('documented limits are checked before sending', () => {
  test('the DINOv2 resize keeps one patch up to an aspect ratio of 45:1', () => {
    expect(dinov2InputSize(1000, 667)).toEqual({ width: 630, height: 420 });
    expect(dinov2InputSize(1260, 28)).toEqual({ width: 630, height: 14 });
    expect(dinov2InputSize(1261, 28)).toEqual({ width: 630, height: 0 });
    expect(dinov2InputSize(20, 600)).toEqual({ width: 14, height: 588 });
  });

  test('an image beyond 45:1 -> 3 before any request', async () => {
    const server = await fake();
    const strip = join(harness.tmp(), 'strip.png');
    await sharp({ create: { width: 1300, height: 20, channels: 3, background: '#808080' } }).png().toFile(strip);
    const { code, err } = await run(['--url', server.url, '--image0', strip, '--image1', DEMO2]);
    expect(code).toBe(ExitCode.Image);
    expect(err).toContain(`image '${strip}' is 1300x20, an aspect ratio of 65.0:1; the ensemble accepts at most 45:1`);
    expect(server.requests).toEqual([]);
  });

  test('a JSON request over the request limit -> 3 before any request, suggesting the binary protocol', async () => {
    const server = await fake();
    const { code, err } = await run([...demoArgs(server.url), '--json-protocol', '--max-request-bytes', '10000000']);
    expect(code).toBe(ExitCode.Image);
    expect(err).toContain('the JSON inference request would be 14301004 bytes (13.6 MiB), over the server\'s request limit of 10000000 bytes');
    expect(err).toContain('hint: drop --json-protocol: the binary tensor protocol sends the same images in 4002401 bytes (3.8 MiB)');
    expect(server.requests).toEqual([]);

    const binary = await run([...demoArgs(server.url), '--max-request-bytes', '4000000']);
    expect(binary.code).toBe(ExitCode.Image);
    expect(binary.err).toContain('hint: downscale the images');
    expect(DEFAULT_MAX_REQUEST_BYTES).toBe(64 * 2 ** 20);
  });

  test('the JSON size is computed exactly, and docs/client.md quotes the measured ratio', async () => {
    const images = await Promise.all([DEMO1, DEMO2].map((file) => loadRgbImage(file)));
    const inputs = images.map((img, i) => ({ name: `image${i}`, datatype: 'UINT8' as const, shape: [img.height, img.width, 3], data: img.data }));
    const json = Buffer.byteLength(encodeJsonRequest(inputs, [...OUTPUT_NAMES]).body as string);
    const binary = (encodeBinaryRequest(inputs, [...OUTPUT_NAMES]).body as Buffer).byteLength;
    expect(jsonRequestBytes(inputs, [...OUTPUT_NAMES])).toBe(json);
    const ratio = (json / binary).toFixed(1);
    expect(ratio).toBe('3.6');
    const docs = await readFile(join(ROOT, 'docs/client.md'), 'utf8');
    expect(docs).toContain(`about ${ratio}x the binary size`);
    expect(docs).toContain(`${binary} bytes against ${json} bytes as JSON`);
  });
});
