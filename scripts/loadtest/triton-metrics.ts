/**
 * Triton's Prometheus metrics (port 8002, /metrics) before and after a load test: where each ensemble step spends
 * its time. Metric names and meanings: triton-inference-server/server docs/user_guide/metrics.md ("Inference
 * Request Metrics"): cumulative counters per model and version, durations in microseconds.
 *
 * - nv_inference_request_success: requests a model completed successfully (a composing model counts each step
 *   execution of the ensemble, so the per-image models count two per pair);
 * - nv_inference_queue_duration_us: time requests waited in the model's scheduler queue;
 * - nv_inference_compute_input/infer/output_duration_us: time in the backend copying inputs, running, copying outputs;
 * - nv_inference_exec_count / nv_inference_count: executions and inferences (their ratio is the mean batch size).
 *
 * The ensemble's own queue time is reported on its composing models and its compute is the sum of its steps'
 * (core ensemble_scheduler.cc; docs/user_guide/metrics.md), so totals here leave the ensemble out.
 */
import { httpExchange } from '../match/http-transport';

export const STEP_COUNTERS = [
  'nv_inference_request_success',
  'nv_inference_request_failure',
  'nv_inference_count',
  'nv_inference_exec_count',
  'nv_inference_queue_duration_us',
  'nv_inference_compute_input_duration_us',
  'nv_inference_compute_infer_duration_us',
  'nv_inference_compute_output_duration_us',
] as const;
export type StepCounter = (typeof STEP_COUNTERS)[number];

/** model name -> counter -> value, summed over versions (and over any other label). */
export type MetricsSnapshot = Map<string, Partial<Record<StepCounter, number>>>;

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the Prometheus text exposition format (version 0.0.4), keeping only the per-model step counters. */
export function parseTritonMetrics(text: string): MetricsSnapshot {
  const snapshot: MetricsSnapshot = new Map();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const match = SAMPLE.exec(trimmed);
    if (!match) continue;
    const [, name, labels = '', raw] = match;
    if (!(STEP_COUNTERS as readonly string[]).includes(name!)) continue;
    let model: string | undefined;
    for (const [, key, value] of labels.matchAll(LABEL)) if (key === 'model') model = value;
    const value = Number(raw);
    if (model === undefined || !Number.isFinite(value)) continue;
    const counters = snapshot.get(model) ?? {};
    counters[name as StepCounter] = (counters[name as StepCounter] ?? 0) + value;
    snapshot.set(model, counters);
  }
  return snapshot;
}

export interface StepTimes {
  model: string;
  /** Requests the step completed during the test. */
  requests: number;
  failures: number;
  /** Mean queue wait per request, ms. */
  queueMs: number;
  /** Mean compute (input copy + inference + output copy) per request, ms. */
  computeMs: number;
  /** Mean inferences per execution (1 without batching). */
  meanBatch: number;
}

/** Per-model deltas between two snapshots, models with no request during the test left out, slowest first. */
export function stepTimes(before: MetricsSnapshot, after: MetricsSnapshot): StepTimes[] {
  const steps: StepTimes[] = [];
  for (const [model, end] of after) {
    const start = before.get(model) ?? {};
    const delta = (counter: StepCounter) => Math.max((end[counter] ?? 0) - (start[counter] ?? 0), 0);
    const requests = delta('nv_inference_request_success');
    const failures = delta('nv_inference_request_failure');
    if (requests + failures === 0) continue;
    const perRequest = (microseconds: number) => (requests > 0 ? microseconds / requests / 1000 : 0);
    const compute = delta('nv_inference_compute_input_duration_us') + delta('nv_inference_compute_infer_duration_us') + delta('nv_inference_compute_output_duration_us');
    const executions = delta('nv_inference_exec_count');
    steps.push({
      model,
      requests,
      failures,
      queueMs: perRequest(delta('nv_inference_queue_duration_us')),
      computeMs: perRequest(compute),
      meanBatch: executions > 0 ? delta('nv_inference_count') / executions : 0,
    });
  }
  return steps.sort((a, b) => b.requests * (b.queueMs + b.computeMs) - a.requests * (a.queueMs + a.computeMs));
}

/** The metrics URL next to an inference URL: same host, port 8002, /metrics. */
export function defaultMetricsUrl(inferenceUrl: string): string {
  const url = new URL(inferenceUrl);
  url.port = '8002';
  url.pathname = '/metrics';
  url.search = '';
  return url.toString();
}

/**
 * Triton's metrics page grows with the models and their labels; a few hundred kB for this repository. The bound keeps
 * a wrong --metrics-url (or a hostile server) from being read without end.
 */
export const MAX_METRICS_BYTES = 16 * 2 ** 20;

/**
 * One scrape, through the match client's HTTP exchange (nothing decompressed, the body bounded); undefined when
 * nothing answers, the answer is refused, or it is not Triton's metrics.
 */
export async function scrapeTritonMetrics(url: string, timeoutMs: number): Promise<MetricsSnapshot | undefined> {
  try {
    const answer = await httpExchange({ method: 'GET', url, headers: { 'Accept-Encoding': 'identity' }, signal: AbortSignal.timeout(timeoutMs),
      maxBytes: MAX_METRICS_BYTES });
    if (answer.status !== 200) return undefined;
    const snapshot = parseTritonMetrics(answer.body.toString('utf8'));
    return snapshot.size > 0 ? snapshot : undefined;
  } catch {
    return undefined;
  }
}
