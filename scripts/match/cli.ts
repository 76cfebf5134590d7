/**
 * `npm run match -- --image0 a.jpg --image1 b.jpg [...]`: one OmniGlue inference against Triton's
 * `omniglue_ensemble`, printed, optionally saved as JSON and drawn as a PNG. Usage and exit codes: docs/client.md.
 *
 * Everything is exported so the tests drive it in-process: main(argv, io) returns the exit code instead of exiting.
 */
import { consoleIo, httpUrlFlag, type Io, parseFlags, usageError } from './cli-support';
import { renderMatchesPng } from './draw';
import { ExitCode, MatchClientError, reasonOf } from './errors';
import { type ExifOrientation, loadRgbImage, type RgbImage } from './images';
import { encodeBinaryRequest, encodeJsonRequest, type Protocol } from './kserve-v2';
import {
  checkAspectRatio,
  checkMatchValues,
  checkRequestSize,
  DEFAULT_MAX_MATCHES,
  DEFAULT_MAX_REQUEST_BYTES,
  jsonRequestBytes,
  MAX_TIMER_MS,
} from './limits';
import { formatMatchesDocument, matchesDocument, type MatchResult, toMatches } from './matches';
import { checkOutputCollisions, writeFileAtomically } from './outputs';
import { Deadline, type Endpoint, KServeV2Client, toEndpoint } from './triton-client';

export type { Io } from './cli-support';
export { formatMatchesDocument, matchesDocument, type MatchesDocument, type MatchResult, toMatches } from './matches';

/** The ensemble's outputs (docs/ensemble-design.md), requested in this order. */
export const OUTPUT_NAMES = ['matches_kp0', 'matches_kp1', 'match_confidences'] as const;

export const DEFAULTS = {
  url: 'http://localhost:8000',
  model: 'omniglue_ensemble',
  minConfidence: 0,
  // Generous: the first request after a load may build TensorRT engines or warm CUDA kernels.
  timeoutMs: 120_000,
  maxMatches: DEFAULT_MAX_MATCHES,
  maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES,
} as const;

export const USAGE = `Usage: npm run match -- --image0 <path> --image1 <path> [options]

Matches two images with the OmniGlue Triton ensemble (KServe v2 HTTP, binary tensor extension).

  --url <url>               Triton HTTP endpoint (default ${DEFAULTS.url})
  --image0 <path>           first image, JPEG or PNG (required)
  --image1 <path>           second image, JPEG or PNG (required)
  --out <file.png>          draw both images side by side with one line per match
  --json <file.json>        write the matches as JSON
  --min-confidence <0..1>   drop matches below this confidence (default 0; the reference demo uses 0.02)
  --model <name>            model to call (default ${DEFAULTS.model})
  --timeout-ms <ms>         limit for the whole run: readiness checks and inference together
                            (default ${DEFAULTS.timeoutMs}, at most ${MAX_TIMER_MS})
  --max-matches <n>         refuse a response with more matches (default ${DEFAULTS.maxMatches}, the ensemble's keypoints per image)
  --max-request-bytes <n>   refuse to send a larger request (default ${DEFAULTS.maxRequestBytes}, Triton's --http-max-input-size)
  --json-protocol           send and receive plain JSON instead of binary tensors (about 3.6x larger)
  --ignore-exif-orientation keep the pixels as stored, as the reference's PIL decoding does (default: rotate
                            as the EXIF orientation says, the way viewers show phone photos)
  --help                    show this text

Exit codes: 0 ok, 1 internal error, 2 invalid arguments, 3 unreadable image or input limit, 4 server unreachable,
5 model not ready, 6 HTTP error from inference, 7 protocol error or malformed response, 8 cannot write output,
9 timeout.`;

export interface MatchOptions {
  /** --url without its credentials: safe to print. */
  url: string;
  /** Basic credentials from --url, sent as a header (fetch refuses URLs that carry them). */
  authorization?: string;
  model: string;
  image0: string;
  image1: string;
  out?: string;
  json?: string;
  minConfidence: number;
  timeoutMs: number;
  maxMatches: number;
  maxRequestBytes: number;
  protocol: Protocol;
  /** EXIF orientation handling when decoding the images (images.ts). */
  exifOrientation: ExifOrientation;
}

/** Parses argv (without node and script); returns 'help' for --help. Throws usage errors naming the flag. */
export function parseCliArgs(argv: string[]): MatchOptions | 'help' {
  const values = parseFlags(argv, {
    url: { type: 'string' },
    image0: { type: 'string' },
    image1: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'string' },
    'min-confidence': { type: 'string' },
    model: { type: 'string' },
    'timeout-ms': { type: 'string' },
    'max-matches': { type: 'string' },
    'max-request-bytes': { type: 'string' },
    'json-protocol': { type: 'boolean' },
    'ignore-exif-orientation': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';

  const parsedUrl = httpUrlFlag('url', values.url ?? DEFAULTS.url, DEFAULTS.url);
  const endpoint: Endpoint = toEndpoint(parsedUrl);
  for (const flag of ['image0', 'image1'] as const) {
    if (!values[flag]) throw usageError(`--${flag} <path> is required`);
  }
  for (const flag of ['out', 'json', 'model'] as const) {
    if (values[flag] === '') throw usageError(`--${flag} must not be empty`);
  }

  let minConfidence: number = DEFAULTS.minConfidence;
  if (values['min-confidence'] !== undefined) {
    const raw = values['min-confidence'];
    minConfidence = raw.trim() === '' ? NaN : Number(raw);
    if (!Number.isFinite(minConfidence) || minConfidence < 0 || minConfidence > 1) {
      throw usageError(`--min-confidence must be a number between 0 and 1, got '${raw}'`);
    }
  }
  const timeoutMs = wholeNumber(values['timeout-ms'], '--timeout-ms', DEFAULTS.timeoutMs, MAX_TIMER_MS,
    'milliseconds', ` (about 24.8 days, the longest delay Node's timers support)`);
  const maxMatches = wholeNumber(values['max-matches'], '--max-matches', DEFAULTS.maxMatches, Number.MAX_SAFE_INTEGER, 'matches');
  const maxRequestBytes = wholeNumber(values['max-request-bytes'], '--max-request-bytes', DEFAULTS.maxRequestBytes,
    Number.MAX_SAFE_INTEGER, 'bytes');

  return {
    url: endpoint.url,
    authorization: endpoint.authorization,
    model: values.model ?? DEFAULTS.model,
    image0: values.image0 as string,
    image1: values.image1 as string,
    out: values.out,
    json: values.json,
    minConfidence,
    timeoutMs,
    maxMatches,
    maxRequestBytes,
    protocol: values['json-protocol'] ? 'json' : 'binary',
    exifOrientation: values['ignore-exif-orientation'] ? 'ignore' : 'apply',
  };
}

/** A positive whole number flag within `max`; the message names the flag, the value and the range. */
function wholeNumber(raw: string | undefined, flag: string, fallback: number, max: number, unit: string, why = ''): number {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw usageError(`${flag} must be a positive whole number of ${unit}, got '${raw}'`);
  }
  if (value > max) throw usageError(`${flag} must be at most ${max}${why}, got '${raw}'`);
  return value;
}

/**
 * Where to look when the model is not ready, naming only what the deployment leaves open: constructs/triton-server.ts
 * restricts the model-repository, model-config, shared-memory, trace and logging APIs (`--http-restricted-api`), so
 * `POST /v2/repository/index` answers 403 there; health (`/v2/models/<name>/ready`) and metadata stay open.
 */
export function notReadyHint(url: string): string {
  return (
    `Triton marks the ensemble ready only after every model it uses; the reason for a failed model is in the Triton ` +
    `pod's log (kubectl --namespace omniglue logs deployment/omniglue-triton), and ` +
    `curl -i ${url}/v2/models/<name>/ready tells each model's state (names: the directories of model_repository/)`
  );
}

/** Readiness: the model must be ready; a not-ready *server* only warns, see the comment inside. */
async function checkReady(client: KServeV2Client, options: MatchOptions, io: Io): Promise<void> {
  const server = await client.serverReady(); // also the reachability probe: fails with Unreachable first
  const model = await client.modelReady(options.model);
  if (!model.ready) {
    const detail = model.detail ? `: ${model.detail}` : '';
    throw new MatchClientError(
      `model '${options.model}' is not ready at ${options.url} (HTTP ${model.status}${detail}); ` +
        `server ready: ${server.ready ? 'yes' : `no (HTTP ${server.status})`}`,
      ExitCode.NotReady,
      notReadyHint(options.url),
    );
  }
  if (!server.ready) {
    // Triton's server readiness (strict by default) requires *every* model in the repository to be ready; an
    // unrelated failed model must not stop us from using a ready ensemble.
    io.err(`warning: server at ${options.url} reports not ready (HTTP ${server.status}), but '${options.model}' is ready`);
  }
}

/** The request body, refused before any network traffic when it breaks the server's request size limit. */
function encodeRequest(options: MatchOptions, image0: RgbImage, image1: RgbImage) {
  const inputs = [image0, image1].map((img, i) => ({
    name: `image${i}`,
    datatype: 'UINT8' as const,
    shape: [img.height, img.width, 3],
    data: img.data,
  }));
  const binary = encodeBinaryRequest(inputs, [...OUTPUT_NAMES]);
  const binaryBytes = (binary.body as Uint8Array).byteLength;
  if (options.protocol === 'binary') {
    checkRequestSize(binaryBytes, binaryBytes, 'binary', options.maxRequestBytes);
    return binary;
  }
  checkRequestSize(jsonRequestBytes(inputs, [...OUTPUT_NAMES]), binaryBytes, 'json', options.maxRequestBytes);
  return encodeJsonRequest(inputs, [...OUTPUT_NAMES]);
}

/** The whole run; throws MatchClientError on every expected failure. Prints the summary through io. */
export async function runMatch(options: MatchOptions, io: Io = consoleIo): Promise<MatchResult> {
  const started = performance.now();
  // Local mistakes first, without touching the network: colliding outputs, unreadable images, input limits.
  const outputsGiven = [
    ...(options.json ? [{ flag: '--json', path: options.json }] : []),
    ...(options.out ? [{ flag: '--out', path: options.out }] : []),
  ];
  await checkOutputCollisions([{ flag: '--image0', path: options.image0 }, { flag: '--image1', path: options.image1 }], outputsGiven);
  const [image0, image1] = await Promise.all([options.image0, options.image1].map((p) => loadRgbImage(p, options.exifOrientation)));
  checkAspectRatio(image0);
  checkAspectRatio(image1);
  // Encoded before the readiness checks, so the inference follows them at once: a server that closes idle
  // keep-alive connections (5 s is common) must not see a long pause on the connection they used.
  const request = encodeRequest(options, image0, image1);

  const client = new KServeV2Client({ url: options.url, authorization: options.authorization }, new Deadline(options.timeoutMs));
  await checkReady(client, options, io);
  const { outputs, roundTripMs } = await client.infer(options.model, request);
  const all = toMatches(outputs, options.maxMatches);
  checkMatchValues(all, image0, image1);
  const matches = all.filter((m) => m.confidence >= options.minConfidence);
  const result: MatchResult = { model: options.model, image0, image1, returned: all.length, matches, roundTripMs };

  if (options.json) {
    await writeFileAtomically('JSON', options.json, formatMatchesDocument(matchesDocument(result)));
  }
  if (options.out) {
    const png = await renderMatchesPng(image0, image1, matches).catch((err: unknown) => {
      throw new MatchClientError(`cannot draw the picture for '${options.out}': ${reasonOf(err)}`, ExitCode.Output);
    });
    await writeFileAtomically('picture', options.out, png);
  }
  const totalMs = performance.now() - started;

  const protocol = options.protocol === 'binary' ? 'binary tensor data' : 'JSON';
  const auth = options.authorization ? ', credentials from --url sent as HTTP Basic auth' : '';
  io.out(`model: ${options.model} at ${options.url} (${protocol}${auth})`);
  io.out(`image0: ${image0.path} (${image0.width}x${image0.height})`);
  io.out(`image1: ${image1.path} (${image1.width}x${image1.height})`);
  io.out(`matches: ${matches.length} (${all.length} returned, min confidence ${options.minConfidence})`);
  io.out(`time: request ${roundTripMs.toFixed(1)} ms, total ${totalMs.toFixed(1)} ms`);
  if (options.json) io.out(`json: ${options.json}`);
  if (options.out) io.out(`picture: ${options.out}`);
  return result;
}

/** CLI entry: returns the exit code (see ExitCode) rather than calling process.exit. */
export async function main(argv: string[], io: Io = consoleIo): Promise<number> {
  try {
    const options = parseCliArgs(argv);
    if (options === 'help') {
      io.out(USAGE);
      return ExitCode.Ok;
    }
    await runMatch(options, io);
    return ExitCode.Ok;
  } catch (err) {
    if (err instanceof MatchClientError) {
      io.err(`error: ${err.message}`);
      if (err.hint) io.err(`hint: ${err.hint}`);
      return err.exitCode;
    }
    const stack = err instanceof Error ? err.stack : undefined;
    io.err(`error: unexpected failure: ${stack ?? reasonOf(err)}`);
    return ExitCode.Internal;
  }
}

if (require.main === module) {
  // exitCode rather than exit(): lets stdout/stderr drain first.
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
