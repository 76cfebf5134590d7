/**
 * Latency percentiles, error classes and the report of `npm run loadtest`.
 */
import { ExitCode, MatchClientError, reasonOf } from '../match/errors';
import type { StepTimes } from './triton-metrics';

/** Nearest-rank percentile (the smallest value with at least p% of the samples at or below it). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(Math.ceil((p / 100) * sorted.length), 1);
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** A stable, short name for what went wrong, so a report can count failures by kind. */
export function errorClass(err: unknown): string {
  if (err instanceof MatchClientError) {
    switch (err.exitCode) {
      case ExitCode.Timeout:
        return 'timeout';
      case ExitCode.Unreachable:
        return 'unreachable';
      case ExitCode.BadResponse:
        return 'bad-response';
      case ExitCode.Http: {
        // The inference's error answer: `HTTP 503` (triton-client.ts) or `gRPC status 14 UNAVAILABLE` (grpc-client.ts).
        const status = /HTTP (\d{3})/.exec(err.message)?.[1];
        const grpcStatus = /gRPC status \d+ ([A-Z_]+)/.exec(err.message)?.[1];
        return status ? `http-${status}` : grpcStatus ? `grpc-${grpcStatus.toLowerCase().replace(/_/g, '-')}` : 'error-status';
      }
      default:
        return `exit-${err.exitCode}`;
    }
  }
  return `internal (${reasonOf(err)})`;
}

export interface LoadReport {
  url: string;
  protocol: 'http' | 'grpc';
  model: string;
  concurrency: number;
  images: { image0: string; image1: string; sizes: string };
  /** Wall time from the first request to the last answer, s. */
  elapsedSeconds: number;
  succeeded: number;
  failed: number;
  pairsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  errors: Record<string, number>;
  /** First message seen for each error class. */
  errorExamples: Record<string, string>;
  /** Per-step times from Triton's metrics; null when the metrics endpoint was not reachable. */
  steps: StepTimes[] | null;
  metricsUrl: string | null;
}

export function summarize(latencies: number[]): LoadReport['latencyMs'] {
  const sorted = [...latencies].sort((a, b) => a - b);
  const mean = sorted.length > 0 ? sorted.reduce((a, b) => a + b, 0) / sorted.length : NaN;
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN, mean };
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');

/** The human-readable report, one line per fact. */
export function formatReport(report: LoadReport): string[] {
  const lines = [
    `target: ${report.model} at ${report.url} (${report.protocol === 'grpc' ? 'gRPC' : 'HTTP'}), concurrency ${report.concurrency}`,
    `images: ${report.images.image0}, ${report.images.image1} (${report.images.sizes})`,
    `requests: ${report.succeeded} ok, ${report.failed} failed in ${report.elapsedSeconds.toFixed(1)} s`,
    `throughput: ${report.pairsPerSecond.toFixed(2)} pairs/s`,
    `latency ms: p50 ${ms(report.latencyMs.p50)}  p90 ${ms(report.latencyMs.p90)}  p99 ${ms(report.latencyMs.p99)}  max ${ms(report.latencyMs.max)}  (mean ${ms(report.latencyMs.mean)})`,
  ];
  const classes = Object.entries(report.errors).sort((a, b) => b[1] - a[1]);
  if (classes.length > 0) {
    lines.push('errors:');
    for (const [name, count] of classes) lines.push(`  ${name}: ${count} (e.g. ${report.errorExamples[name]})`);
  }
  if (report.steps === null) {
    lines.push(`triton metrics: not reachable${report.metricsUrl ? ` at ${report.metricsUrl}` : ''} (forward port 8002 or pass --metrics-url to see per-step times)`);
  } else {
    lines.push(`triton metrics (${report.metricsUrl}), per request of each step during the test:`);
    lines.push(`  ${'model'.padEnd(28)}${'requests'.padStart(10)}${'failed'.padStart(8)}${'queue ms'.padStart(10)}${'compute ms'.padStart(12)}${'batch'.padStart(7)}`);
    for (const s of report.steps) {
      lines.push(`  ${s.model.padEnd(28)}${String(s.requests).padStart(10)}${String(s.failures).padStart(8)}${ms(s.queueMs).padStart(10)}${ms(s.computeMs).padStart(12)}${s.meanBatch.toFixed(2).padStart(7)}`);
    }
    const composing = report.steps.filter((s) => s.model !== report.model);
    if (report.succeeded > 0 && composing.length > 0) {
      const perPair = (pick: (s: StepTimes) => number) => composing.reduce((sum, s) => sum + pick(s) * s.requests, 0) / report.succeeded;
      lines.push(
        `  per pair, all steps (ensemble excluded: its compute is the sum of its steps): queue ${ms(perPair((s) => s.queueMs))} ms, compute ${ms(perPair((s) => s.computeMs))} ms`,
      );
    }
  }
  return lines;
}
