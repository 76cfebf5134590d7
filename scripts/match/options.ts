/**
 * The match client's flags: defaults, usage text and parsing into MatchOptions. Documented in docs/client.md.
 */
import { grpcTargetFlag, httpUrlFlag, parseFlags, usageError } from './cli-support';
import type { ExifOrientation } from './images';
import type { Protocol } from './kserve-v2';
import { DEFAULT_MAX_MATCHES, DEFAULT_MAX_REQUEST_BYTES, MAX_TIMER_MS } from './limits';
import { toEndpoint } from './triton-client';

export { OUTPUT_NAMES } from './matches';

export const DEFAULTS = {
  url: 'http://localhost:8000',
  /** Triton's gRPC port (--grpc-port, constructs/triton-server.ts TRITON_PORTS.grpc). */
  grpcUrl: 'localhost:8001',
  model: 'omniglue_ensemble',
  minConfidence: 0,
  // Generous: the first request after a load may build TensorRT engines or warm CUDA kernels.
  timeoutMs: 120_000,
  maxMatches: DEFAULT_MAX_MATCHES,
  maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES,
} as const;

export const USAGE = `Usage: npm run match -- --image0 <path> --image1 <path> [options]

Matches two images with the OmniGlue Triton ensemble (KServe v2 over HTTP with binary tensors, or gRPC).

  --protocol <http|grpc>    how to reach Triton (default http): KServe v2 HTTP, or gRPC (GRPCInferenceService)
  --url <url>               Triton endpoint: an http(s) URL for HTTP (default ${DEFAULTS.url}),
                            host:port for gRPC (default ${DEFAULTS.grpcUrl})
  --image0 <path>           first image, JPEG or PNG (required)
  --image1 <path>           second image, JPEG or PNG (required)
  --out <file.png>          draw both images side by side with one line per match
  --json <file.json>        write the matches as JSON
  --min-confidence <0..1>   drop matches below this confidence (default 0; the reference demo uses 0.02)
  --model <name>            model to call (default ${DEFAULTS.model})
  --timeout-ms <ms>         limit for the whole run: readiness checks and inference together
                            (default ${DEFAULTS.timeoutMs}, at most ${MAX_TIMER_MS})
  --max-matches <n>         refuse a response with more matches (default ${DEFAULTS.maxMatches}, the ensemble's keypoints per image);
                            also bounds the response's size
  --max-request-bytes <n>   refuse to send a larger request (default ${DEFAULTS.maxRequestBytes}, Triton's --http-max-input-size)
  --json-protocol           HTTP only: send and receive plain JSON instead of binary tensors (about 3.6x larger)
  --ignore-exif-orientation keep the pixels as stored, as the reference's PIL decoding does (default: rotate
                            as the EXIF orientation says, the way viewers show phone photos)
  --help                    show this text

Exit codes: 0 ok, 1 internal error, 2 invalid arguments, 3 unreadable image or input limit, 4 server unreachable,
5 model not ready, 6 error status from inference (HTTP or gRPC), 7 protocol error or malformed response,
8 cannot write output, 9 timeout.`;

export interface MatchOptions {
  /** --url without its credentials: safe to print. host:port for gRPC. */
  url: string;
  /** Basic credentials from an http(s) --url, sent as a header. */
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

/** --protocol and --url together: the endpoint, checked in the form the protocol takes. */
export function endpointFlags(values: { protocol?: string; url?: string }, httpDefault: string): { transport: 'http' | 'grpc'; url: string; authorization?: string } {
  const transport = values.protocol ?? 'http';
  if (transport !== 'http' && transport !== 'grpc') throw usageError(`--protocol must be http or grpc, got '${transport}'`);
  if (transport === 'grpc') return { transport, url: grpcTargetFlag('url', values.url ?? DEFAULTS.grpcUrl, DEFAULTS.grpcUrl) };
  return { transport, ...toEndpoint(httpUrlFlag('url', values.url ?? httpDefault, httpDefault)) };
}

/** Parses argv (without node and script); returns 'help' for --help. Throws usage errors naming the flag. */
export function parseCliArgs(argv: string[]): MatchOptions | 'help' {
  const values = parseFlags(argv, {
    protocol: { type: 'string' },
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

  const endpoint = endpointFlags(values, DEFAULTS.url);
  if (endpoint.transport === 'grpc' && values['json-protocol']) {
    throw usageError('--json-protocol is for --protocol http; gRPC always carries the tensors as raw bytes');
  }
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
    protocol: endpoint.transport === 'grpc' ? 'grpc' : values['json-protocol'] ? 'json' : 'binary',
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
