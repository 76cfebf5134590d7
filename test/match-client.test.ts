/**
 * The match client (scripts/match) against a protocol-checking fake Triton on loopback: the happy paths in both
 * protocols, the files it writes, and every documented exit code.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { main } from '../scripts/match/cli';
import { confidenceColour } from '../scripts/match/draw';
import { ExitCode } from '../scripts/match/errors';
import { loadRgbImage } from '../scripts/match/images';
import { capture, DEMO1, DEMO2, demoArgs, matchHarness, rawRgb, ROOT } from './support/match-harness';

/** RGB of one pixel of a decoded PNG/JPEG. */
async function pixel(path: string, x: number, y: number): Promise<[number, number, number]> {
  const { data, width } = await rawRgb(path);
  const i = (y * width + x) * 3;
  return [data[i] as number, data[i + 1] as number, data[i + 2] as number];
}

const harness = matchHarness();
const fake = harness.fake;
let tmp: string;
let demo1: ReturnType<typeof harness.demo1>;
let demo2: ReturnType<typeof harness.demo2>;

beforeAll(() => {
  tmp = harness.tmp();
  demo1 = harness.demo1();
  demo2 = harness.demo2();
});

describe('match client against a fake Triton', () => {
  test('binary protocol: prints the count, writes the JSON and a coloured side-by-side PNG', async () => {
    const server = await fake();
    const jsonPath = join(tmp, 'binary.json');
    const pngPath = join(tmp, 'binary.png');
    const c = capture();

    const code = await main([...demoArgs(server.url), '--min-confidence', '0.02', '--json', jsonPath, '--out', pngPath], c.io);

    expect(c.stderr()).toBe('');
    expect(code).toBe(ExitCode.Ok);
    expect(server.violations).toEqual([]);
    expect(server.requests).toEqual([
      { method: 'GET', path: '/v2/health/ready' },
      { method: 'GET', path: '/v2/models/omniglue_ensemble/ready' },
      { method: 'POST', path: '/v2/models/omniglue_ensemble/infer', protocol: 'binary' },
    ]);
    expect(c.stdout()).toContain('matches: 3 (5 returned, min confidence 0.02)');
    expect(c.stdout()).toMatch(/time: request \d+\.\d ms, total \d+\.\d ms/);

    const doc = JSON.parse(await readFile(jsonPath, 'utf8'));
    expect(doc).toEqual({
      model: 'omniglue_ensemble',
      image0: { path: DEMO1, width: demo1.width, height: demo1.height },
      image1: { path: DEMO2, width: demo2.width, height: demo2.height },
      matches: [
        { kp0: [100, 100], kp1: [100, 100], confidence: 1 },
        { kp0: [200, 400], kp1: [300, 300], confidence: 0.5 },
        { kp0: [50, 600], kp1: [60, 600], confidence: 0.25 },
      ],
      elapsedMs: expect.any(Number),
    });

    // Documented layout: side by side at original size, top-aligned -> (w0 + w1) x max(h0, h1).
    const meta = await sharp(pngPath).metadata();
    expect(meta.format).toBe('png');
    expect([meta.width, meta.height]).toEqual([demo1.width + demo2.width, Math.max(demo1.height, demo2.height)]);
    // m0 (confidence 1): green; m2 (0.25): orange, on the red -> yellow -> green ramp.
    expect(await pixel(pngPath, 600, 100)).toEqual([0, 255, 0]);
    expect(await pixel(pngPath, 500, 600)).toEqual(confidenceColour(0.25));
    expect(confidenceColour(0.25)).toEqual([255, 128, 0]);
    // Away from every line, image1's own pixels sit at x + width0.
    const i = (500 * demo2.width + 500) * 3;
    expect(await pixel(pngPath, demo1.width + 500, 500)).toEqual([...demo2.data.subarray(i, i + 3)]);
  });

  test('zero matches (K = 0, empty binary chunks) is a valid answer', async () => {
    const server = await fake({ matches: { kp0: [], kp1: [], confidences: [] } });
    const jsonPath = join(tmp, 'empty.json');
    const pngPath = join(tmp, 'empty.png');
    const c = capture();
    expect(await main([...demoArgs(server.url), '--json', jsonPath, '--out', pngPath], c.io)).toBe(ExitCode.Ok);
    expect(c.stdout()).toContain('matches: 0 (0 returned');
    expect(JSON.parse(await readFile(jsonPath, 'utf8')).matches).toEqual([]);
    expect((await sharp(pngPath).metadata()).width).toBe(demo1.width + demo2.width);
  });

  test('JSON file: float32 values written without double-precision noise, and round-trip exactly', async () => {
    const third = Math.fround(1 / 3);
    const server = await fake({ matches: { kp0: [[1.1, 2.2]], kp1: [[3.3, 4.4]], confidences: [1 / 3] } });
    const jsonPath = join(tmp, 'precision.json');
    expect(await main([...demoArgs(server.url), '--json', jsonPath], capture().io)).toBe(ExitCode.Ok);
    const text = await readFile(jsonPath, 'utf8');
    expect(text).toContain('{"kp0":[1.10000002,2.20000005],"kp1":[3.29999995,4.4000001],"confidence":0.333333343}');
    expect(Math.fround(JSON.parse(text).matches[0].confidence)).toBe(third);
  });

  test('default --min-confidence 0 keeps every returned match', async () => {
    const server = await fake();
    const c = capture();
    expect(await main(demoArgs(server.url), c.io)).toBe(ExitCode.Ok);
    expect(c.stdout()).toContain('matches: 5 (5 returned, min confidence 0)');
  });

  test('--json-protocol sends plain JSON tensors and reads a JSON response', async () => {
    // Small images: the JSON form of the demo pair is 14 MB, which only costs time here (its size is tested in
    // match-client-limits.test.ts).
    const [small0, small1] = [join(tmp, 'json-0.png'), join(tmp, 'json-1.png')];
    const pixels = (seed: number) => Buffer.from(Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * seed) % 251));
    await sharp(pixels(7), { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(small0);
    await sharp(pixels(13), { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(small1);
    const server = await fake({
      expected: { image0: { shape: [30, 40, 3], data: pixels(7) }, image1: { shape: [30, 40, 3], data: pixels(13) } },
      matches: { kp0: [[1, 2], [30.5, 20.25]], kp1: [[3, 4], [10.75, 20.5]], confidences: [0.5, 0.015625] },
    });
    const jsonPath = join(tmp, 'json-protocol.json');
    const c = capture();
    const code = await main(['--url', server.url, '--image0', small0, '--image1', small1, '--json-protocol', '--json', jsonPath], c.io);

    expect(code).toBe(ExitCode.Ok);
    expect(server.violations).toEqual([]);
    expect(server.requests[2]).toEqual({ method: 'POST', path: '/v2/models/omniglue_ensemble/infer', protocol: 'json' });
    expect(c.stdout()).toContain('matches: 2 (2 returned');
    const doc = JSON.parse(await readFile(jsonPath, 'utf8'));
    expect(doc.matches[1]).toEqual({ kp0: [30.5, 20.25], kp1: [10.75, 20.5], confidence: 0.015625 });
  });

  test('images of different heights are top-aligned over black padding; PNG alpha is dropped', async () => {
    const small = join(tmp, 'small-rgba.png');
    await sharp({ create: { width: 200, height: 100, channels: 4, background: { r: 10, g: 20, b: 200, alpha: 1 } } })
      .png()
      .toFile(small);
    const server = await fake({
      expected: {
        image0: { shape: [demo1.height, demo1.width, 3], data: demo1.data },
        image1: { shape: [100, 200, 3], data: Buffer.from(Array.from({ length: 200 * 100 }, () => [10, 20, 200]).flat()) },
      },
      matches: { kp0: [[100, 100]], kp1: [[20, 20]], confidences: [0.5] },
    });
    const pngPath = join(tmp, 'padded.png');
    const code = await main(['--url', server.url, '--image0', DEMO1, '--image1', small, '--out', pngPath], capture().io);

    expect(server.violations).toEqual([]);
    expect(code).toBe(ExitCode.Ok);
    const meta = await sharp(pngPath).metadata();
    expect([meta.width, meta.height]).toEqual([demo1.width + 200, demo1.height]);
    expect(await pixel(pngPath, demo1.width + 150, 50)).toEqual([10, 20, 200]); // image1, top-aligned
    expect(await pixel(pngPath, demo1.width + 100, 400)).toEqual([0, 0, 0]); // padding below image1
  });
});

describe('image decoding', () => {
  test('applies EXIF orientation and expands greyscale to RGB', async () => {
    const rotated = join(tmp, 'rotated.jpg');
    await sharp({ create: { width: 64, height: 40, channels: 3, background: '#808080' } })
      .jpeg()
      .withMetadata({ orientation: 6 }) // 90 degrees clockwise: a viewer shows it 40 wide, 64 high
      .toFile(rotated);
    const img = await loadRgbImage(rotated);
    expect([img.width, img.height, img.data.length]).toEqual([40, 64, 40 * 64 * 3]);

    const grey = join(tmp, 'grey.png');
    await sharp({ create: { width: 48, height: 32, channels: 3, background: '#404040' } }).toColourspace('b-w').png().toFile(grey);
    expect((await sharp(grey).metadata()).channels).toBe(1);
    const g = await loadRgbImage(grey);
    expect(g.data.length).toBe(48 * 32 * 3);
  });
});

describe('exit codes', () => {
  test('server unreachable (closed port) -> 4, names the URL and suggests port-forward', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    const url = `http://127.0.0.1:${port}`;
    const c = capture();

    expect(await main(demoArgs(url), c.io)).toBe(ExitCode.Unreachable);
    expect(c.stderr()).toContain(`cannot reach Triton at ${url}`);
    expect(c.stderr()).toContain('ECONNREFUSED');
    expect(c.stderr()).toContain('kubectl --namespace <your namespace setting> port-forward service/omniglue-triton 8000:8000');
  });

  test('model not ready (400 from its ready endpoint) -> 5, no inference sent', async () => {
    const server = await fake({ modelReadyStatus: 400, serverReadyStatus: 503 });
    const c = capture();
    expect(await main(demoArgs(server.url), c.io)).toBe(ExitCode.NotReady);
    expect(c.stderr()).toContain("model 'omniglue_ensemble' is not ready");
    expect(c.stderr()).toContain('HTTP 400: Request for unknown model');
    expect(c.stderr()).toContain('server ready: no (HTTP 503)');
    expect(server.requests.map((r) => r.method)).toEqual(['GET', 'GET']);
  });

  test('server not ready but model ready -> warning, inference proceeds', async () => {
    const server = await fake({ serverReadyStatus: 503 });
    const c = capture();
    expect(await main(demoArgs(server.url), c.io)).toBe(ExitCode.Ok);
    expect(c.stderr()).toContain('warning: server at');
  });

  test('unreadable image (a text file) -> 3 with the path, before any request', async () => {
    const server = await fake();
    const text = join(tmp, 'notes.jpg');
    await writeFile(text, 'not an image\n');
    const c = capture();
    expect(await main(['--url', server.url, '--image0', DEMO1, '--image1', text], c.io)).toBe(ExitCode.Image);
    expect(c.stderr()).toContain(`cannot read image '${text}'`);
    expect(c.stderr()).toContain('unsupported image format');
    expect(server.requests).toEqual([]);
  });

  test('an image smaller than one DINOv2 patch -> 3, before any request', async () => {
    const server = await fake();
    const tiny = join(tmp, 'tiny.png');
    await sharp({ create: { width: 13, height: 40, channels: 3, background: '#808080' } }).png().toFile(tiny);
    const c = capture();
    expect(await main(['--url', server.url, '--image0', tiny, '--image1', DEMO2], c.io)).toBe(ExitCode.Image);
    expect(c.stderr()).toContain(`image '${tiny}' is 13x40; the ensemble needs at least 14x14`);
    expect(server.requests).toEqual([]);
  });

  test('missing image file -> 3', async () => {
    const c = capture();
    const missing = join(tmp, 'nope.png');
    expect(await main(['--image0', missing, '--image1', DEMO2], c.io)).toBe(ExitCode.Image);
    expect(c.stderr()).toContain(missing);
  });

  test("HTTP 400 from infer -> 6 and Triton's error message surfaces", async () => {
    const message = "in ensemble 'omniglue_ensemble', onnx runtime error 6: Non-zero status code returned while running TopK node";
    const server = await fake({ inferError: { status: 400, message } });
    const c = capture();
    expect(await main(demoArgs(server.url), c.io)).toBe(ExitCode.Http);
    expect(c.stderr()).toContain('HTTP 400');
    expect(c.stderr()).toContain(message);
  });

  test.each([
    ['truncated', /announces binary_data_size \d+ but only \d+ bytes remain/],
    ['datatype', /match_confidences' has datatype FP64, expected FP32/],
    ['byte-length', /matches_kp0' has 36 bytes, shape \[5,2\] needs 40/],
    ['header-length', /Inference-Header-Content-Length is '\d+' but the body has \d+ bytes/],
  ] as const)('malformed binary response (%s) -> 7', async (malformed, pattern) => {
    const server = await fake({ malformed });
    const c = capture();
    expect(await main(demoArgs(server.url), c.io)).toBe(ExitCode.BadResponse);
    expect(c.stderr()).toContain('malformed inference response');
    expect(c.stderr()).toMatch(pattern);
  });

  test('request slower than --timeout-ms -> 9', async () => {
    const server = await fake({ inferDelayMs: 400 });
    const c = capture();
    expect(await main([...demoArgs(server.url), '--timeout-ms', '100'], c.io)).toBe(ExitCode.Timeout);
    expect(c.stderr()).toContain('infer: the run took longer than --timeout-ms 100 ms (readiness checks and inference together)');
  });

  test('unwritable --json -> 8', async () => {
    const server = await fake();
    const c = capture();
    const bad = join(tmp, 'no-such-dir', 'm.json');
    expect(await main([...demoArgs(server.url), '--json', bad], c.io)).toBe(ExitCode.Output);
    expect(c.stderr()).toContain(`cannot write JSON '${bad}'`);
  });

  test.each([
    [['--image1', DEMO2], '--image0'],
    [['--image0', DEMO1, '--image1', DEMO2, '--bogus'], '--bogus'],
    [['--image0', DEMO1, '--image1', DEMO2, '--min-confidence', '1.5'], '--min-confidence'],
    [['--image0', DEMO1, '--image1', DEMO2, '--min-confidence', 'abc'], '--min-confidence'],
    [['--image0', DEMO1, '--image1', DEMO2, '--timeout-ms', '0'], '--timeout-ms'],
    [['--image0', DEMO1, '--image1', DEMO2, '--url', 'ftp://host'], '--url'],
    [['--image0', DEMO1, '--image1'], '--image1'],
    [['--image0', DEMO1, '--image1', DEMO2, '--max-matches', '0'], '--max-matches must be a positive whole number of matches'],
    [['--image0', DEMO1, '--image1', DEMO2, '--max-request-bytes', '64MiB'], '--max-request-bytes must be a positive whole number of bytes'],
  ])('invalid arguments %j -> 2 naming %s', async (argv, flag) => {
    const c = capture();
    expect(await main(argv, c.io)).toBe(ExitCode.Usage);
    expect(c.stderr()).toContain('invalid arguments');
    expect(c.stderr()).toContain(flag);
  });

  test('the real entry point (tsx, as `npm run match` runs it) exits with the code', () => {
    const run = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), ['scripts/match/cli.ts', '--image0', 'a.jpg'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(ExitCode.Usage);
    expect(run.stderr).toContain('--image1 <path> is required');
  });
});
