/**
 * `npm run loadtest -- [--url U] [--concurrency N] [--duration S | --requests M] [...]`: sends the same image pair
 * to `omniglue_ensemble` from N concurrent clients and reports throughput, latency percentiles, errors by class and,
 * from Triton's metrics, where each step spends its time. Usage: README "Measure your deployment",
 * docs/performance.md.
 *
 * The request is built once with the match client's protocol code (scripts/match/cli.ts encodeRequest: binary tensors
 * over HTTP, raw contents over gRPC) and every response goes through the match client's decoder and output contract
 * (scripts/match/matches.ts checkedMatches), so a response the match client refuses is a failure here too.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkedMatches, DEFAULTS as MATCH_DEFAULTS, encodeRequest, imageInputs } from '../match/cli';
import { consoleIo, httpUrlFlag, type Io, parseFlags, usageError } from '../match/cli-support';
import { connect } from '../match/connect';
import { ExitCode, MatchClientError, reasonOf } from '../match/errors';
import { loadRgbImage, type RgbImage } from '../match/images';
import { Deadline, type InferenceClient } from '../match/inference-client';
import type { EncodedRequest, Protocol } from '../match/kserve-v2';
import { endpointFlags } from '../match/options';
import { errorClass, formatReport, LoadReport, summarize } from './stats';
import { defaultMetricsUrl, MetricsSnapshot, scrapeTritonMetrics, stepTimes } from './triton-metrics';

const ASSETS = resolve(__dirname, '..', '..', 'assets');

export const DEFAULTS = {
  url: MATCH_DEFAULTS.url,
  grpcUrl: MATCH_DEFAULTS.grpcUrl,
  maxMatches: MATCH_DEFAULTS.maxMatches,
  maxRequestBytes: MATCH_DEFAULTS.maxRequestBytes,
  model: MATCH_DEFAULTS.model,
  concurrency: 4,
  durationSeconds: 30,
  image0: join(ASSETS, 'demo1.jpg'),
  image1: join(ASSETS, 'demo2.jpg'),
  timeoutMs: MATCH_DEFAULTS.timeoutMs,
} as const;

export const USAGE = `Usage: npm run loadtest -- [options]

Sends one image pair to the OmniGlue ensemble from N concurrent clients (KServe v2 HTTP with binary tensors, or
gRPC) and reports throughput, latency and errors; with Triton's metrics port reachable, also each step's queue and
compute time. Every answer is checked as \`npm run match\` checks it; one it would refuse counts as failed.

  --protocol <http|grpc>   how to reach Triton (default http), as for npm run match
  --url <url>              Triton endpoint: an http(s) URL for HTTP (default ${DEFAULTS.url}),
                           host:port for gRPC (default ${DEFAULTS.grpcUrl})
  --concurrency <N>        requests in flight at any time, 1-1024 (default ${DEFAULTS.concurrency}); the ensemble runs
                           concurrent requests in parallel across its steps, so raise it until pairs/s stops growing
  --duration <S>           run for S seconds (default ${DEFAULTS.durationSeconds} when --requests is not given)
  --requests <M>           send exactly M requests instead of running for a duration
  --image0 <path>          first image (default assets/demo1.jpg, the demo pair)
  --image1 <path>          second image (default assets/demo2.jpg)
  --model <name>           model to call (default ${DEFAULTS.model})
  --timeout-ms <ms>        limit per request (default ${DEFAULTS.timeoutMs})
  --metrics-url <url>      Triton's Prometheus metrics (default: the --url host, port 8002, /metrics)
  --no-metrics             do not read Triton's metrics
  --json <file>            also write the report as JSON
  --help                   show this text

Progress goes to stderr once a second; the report to stdout. Exit codes: 0 every request succeeded, 2 invalid
arguments, 3 unreadable image, 4 server unreachable, 5 model not ready, 8 cannot write --json, 10 some requests failed.`;

/** Exit code when the test ran but some requests failed (the match client's codes are 0-9). */
export const EXIT_REQUESTS_FAILED = 10;

export interface LoadOptions {
  /** http(s) URL, or host:port for gRPC. */
  url: string;
  /** Basic credentials from an http(s) --url. */
  authorization?: string;
  protocol: Exclude<Protocol, 'json'>;
  model: string;
  concurrency: number;
  durationSeconds?: number;
  requests?: number;
  image0: string;
  image1: string;
  timeoutMs: number;
  metricsUrl: string | null;
  json?: string;
  /** Milliseconds between progress lines. */
  progressIntervalMs: number;
}

function wholeNumber(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const value = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw usageError(`--${flag} must be a whole number from ${min} to ${max}, got '${raw}'`);
  }
  return value;
}

export function parseCliArgs(argv: string[]): LoadOptions | 'help' {
  const values = parseFlags(argv, {
    protocol: { type: 'string' },
    url: { type: 'string' },
    concurrency: { type: 'string' },
    duration: { type: 'string' },
    requests: { type: 'string' },
    image0: { type: 'string' },
    image1: { type: 'string' },
    model: { type: 'string' },
    'timeout-ms': { type: 'string' },
    'metrics-url': { type: 'string' },
    'no-metrics': { type: 'boolean' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const httpUrl = (flag: string, raw: string) => (httpUrlFlag(flag, raw, DEFAULTS.url), raw);
  const endpoint = endpointFlags(values, DEFAULTS.url);
  // Triton's metrics are plain HTTP on their own port, whichever protocol the inferences use.
  const metricsBase = endpoint.transport === 'grpc' ? `http://${endpoint.url}` : endpoint.url;
  if (values.duration !== undefined && values.requests !== undefined) {
    throw usageError('--duration and --requests exclude each other: run for a time or for a number of requests');
  }
  if (values['no-metrics'] && values['metrics-url'] !== undefined) throw usageError('--metrics-url and --no-metrics exclude each other');
  for (const flag of ['image0', 'image1', 'model', 'json'] as const) {
    if (values[flag] === '') throw usageError(`--${flag} must not be empty`);
  }
  const requests = wholeNumber('requests', values.requests, 1, 10_000_000);
  return {
    url: endpoint.url,
    authorization: endpoint.authorization,
    protocol: endpoint.transport === 'grpc' ? 'grpc' : 'binary',
    model: values.model ?? DEFAULTS.model,
    concurrency: wholeNumber('concurrency', values.concurrency, 1, 1024) ?? DEFAULTS.concurrency,
    durationSeconds: requests === undefined ? (wholeNumber('duration', values.duration, 1, 86_400) ?? DEFAULTS.durationSeconds) : undefined,
    requests,
    image0: values.image0 ?? DEFAULTS.image0,
    image1: values.image1 ?? DEFAULTS.image1,
    timeoutMs: wholeNumber('timeout-ms', values['timeout-ms'], 1, 3_600_000) ?? DEFAULTS.timeoutMs,
    metricsUrl: values['no-metrics'] ? null : values['metrics-url'] !== undefined ? httpUrl('metrics-url', values['metrics-url']) : defaultMetricsUrl(metricsBase),
    json: values.json,
    progressIntervalMs: 1000,
  };
}

/** The whole test; throws MatchClientError when it cannot start (images, server, model not ready). */
export async function runLoadTest(options: LoadOptions, io: Io = consoleIo): Promise<LoadReport> {
  const [image0, image1] = await Promise.all([loadRgbImage(options.image0), loadRgbImage(options.image1)]);
  const request = encodeRequest(options.protocol, options.model, imageInputs(image0, image1), DEFAULTS.maxRequestBytes);
  const limits = { maxMatches: DEFAULTS.maxMatches, image0, image1 };
  // The match client gives one deadline to a whole run; here each request gets its own --timeout-ms.
  const connection = connect({ ...options, maxMatches: DEFAULTS.maxMatches });
  try {
    return await loadOverConnection(options, io, (deadline) => connection.client(deadline), { request, limits, image0, image1 });
  } finally {
    connection.close();
  }
}

async function loadOverConnection(
  options: LoadOptions,
  io: Io,
  clientFor: (deadline: Deadline) => InferenceClient,
  work: { request: EncodedRequest; limits: Parameters<typeof checkedMatches>[1]; image0: RgbImage; image1: RgbImage },
): Promise<LoadReport> {
  const { request, limits, image0, image1 } = work;
  const clientForOneRequest = () => clientFor(new Deadline(options.timeoutMs));
  const ready = await clientForOneRequest().modelReady(options.model);
  if (!ready.ready) {
    throw new MatchClientError(
      `model '${options.model}' is not ready at ${options.url} (${ready.answer}${ready.detail ? `: ${ready.detail}` : ''})`,
      ExitCode.NotReady,
      'wait for the rollout (kubectl rollout status deployment/omniglue-triton) and check the Triton pod logs',
    );
  }
  const scrape = (): Promise<MetricsSnapshot | undefined> =>
    options.metricsUrl === null ? Promise.resolve(undefined) : scrapeTritonMetrics(options.metricsUrl, 5000);
  const before = await scrape();

  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const errorExamples: Record<string, string> = {};
  let issued = 0;
  const started = performance.now();
  const deadline = options.durationSeconds !== undefined ? started + options.durationSeconds * 1000 : Infinity;
  const more = () => (options.requests !== undefined ? issued < options.requests : performance.now() < deadline);

  const progress = () => {
    const seconds = (performance.now() - started) / 1000;
    const failed = Object.values(errors).reduce((a, b) => a + b, 0);
    const p50 = summarize(latencies.slice(-200)).p50;
    io.err(`[${seconds.toFixed(0).padStart(4)} s] ${latencies.length} ok, ${failed} failed, ${(latencies.length / Math.max(seconds, 1e-3)).toFixed(2)} pairs/s, recent p50 ${Number.isFinite(p50) ? p50.toFixed(1) : '-'} ms`);
  };
  const timer = setInterval(progress, options.progressIntervalMs);
  const worker = async () => {
    while (more()) {
      issued += 1;
      const sent = performance.now();
      try {
        const { tensors } = await clientForOneRequest().infer(options.model, request);
        checkedMatches(tensors, limits); // the output contract and its values, as the match client enforces them
        latencies.push(performance.now() - sent);
      } catch (err) {
        const name = errorClass(err);
        errors[name] = (errors[name] ?? 0) + 1;
        errorExamples[name] ??= err instanceof Error ? err.message : reasonOf(err);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    clearInterval(timer);
  }
  const elapsedSeconds = (performance.now() - started) / 1000;
  progress();
  const after = before ? await scrape() : undefined;

  const failed = Object.values(errors).reduce((a, b) => a + b, 0);
  return {
    url: options.url,
    protocol: options.protocol === 'grpc' ? 'grpc' : 'http',
    model: options.model,
    concurrency: options.concurrency,
    images: { image0: options.image0, image1: options.image1, sizes: `${image0.width}x${image0.height}, ${image1.width}x${image1.height}` },
    elapsedSeconds,
    succeeded: latencies.length,
    failed,
    pairsPerSecond: latencies.length / elapsedSeconds,
    latencyMs: summarize(latencies),
    errors,
    errorExamples,
    steps: before && after ? stepTimes(before, after) : null,
    metricsUrl: options.metricsUrl,
  };
}

export async function main(argv: string[], io: Io = consoleIo): Promise<number> {
  try {
    const options = parseCliArgs(argv);
    if (options === 'help') {
      io.out(USAGE);
      return ExitCode.Ok;
    }
    const report = await runLoadTest(options, io);
    for (const line of formatReport(report)) io.out(line);
    if (options.json) {
      try {
        await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
      } catch (err) {
        throw new MatchClientError(`cannot write JSON '${options.json}': ${reasonOf(err)}`, ExitCode.Output);
      }
      io.out(`json: ${options.json}`);
    }
    return report.failed > 0 ? EXIT_REQUESTS_FAILED : ExitCode.Ok;
  } catch (err) {
    if (err instanceof MatchClientError) {
      io.err(`error: ${err.message}`);
      if (err.hint) io.err(`hint: ${err.hint}`);
      return err.exitCode;
    }
    io.err(`error: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : reasonOf(err)}`);
    return ExitCode.Internal;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
