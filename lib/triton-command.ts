/**
 * The tritonserver command line of the Triton container, and the ports and timings it fixes. Pure text: the
 * TritonServer construct decides the values, this module how Triton is told them.
 */

export const TRITON_PORTS = { http: 8000, grpc: 8001, metrics: 8002 } as const;

/** The preStop sleep that lets endpoints deregister before Triton stops taking requests. */
export const PRE_STOP_SLEEP_SECONDS = 10;
/** Time left to drain in-flight requests once the preStop sleep is over. */
export const DRAIN_SECONDS = 5;
/** The shortest grace period that covers the preStop sleep and a drain. */
export const MIN_TERMINATION_GRACE_SECONDS = PRE_STOP_SLEEP_SECONDS + DRAIN_SECONDS + 1;

/** APIs a client of the ensemble never needs; locked unless the model-control API is enabled. */
const ADMIN_APIS = 'model-repository,model-config,shared-memory,trace,logging';

export interface TritonCommandOptions {
  /** The published repository version Triton serves. */
  readonly modelRepositoryPath: string;
  readonly terminationGracePeriodSeconds: number;
  readonly enableModelControlApi: boolean;
  /** Shell run before tritonserver (restoring cached TensorRT engines), if any. */
  readonly before?: string;
}

/** The shell command of the Triton container (`/bin/sh -c`). */
export function tritonCommand(options: TritonCommandOptions): string {
  const exitTimeoutSeconds = Math.max(options.terminationGracePeriodSeconds - PRE_STOP_SLEEP_SECONDS - DRAIN_SECONDS, 5);
  const before = options.before !== undefined ? `${options.before}; ` : '';
  const flags = [
    `--model-repository=${options.modelRepositoryPath}`,
    // NONE: the repository is immutable once published; POLL and dynamic loading are not for production.
    '--model-control-mode=none',
    '--strict-readiness=true',
    '--disable-auto-complete-config',
    '--exit-on-error=true',
    `--exit-timeout-secs=${exitTimeoutSeconds}`,
    `--http-port=${TRITON_PORTS.http}`,
    `--grpc-port=${TRITON_PORTS.grpc}`,
    '--allow-metrics=true',
    '--allow-gpu-metrics=true',
    `--metrics-port=${TRITON_PORTS.metrics}`,
    '--metrics-interval-ms=2000',
    // Request-to-response histograms (core metric_model_reporter.cc; server docs/user_guide/metrics.md
    // "Histograms"): the dashboard's p50/p95/p99, with the ensemble's buckets set in its config.pbtxt.
    '--metrics-config=histogram_latencies=true',
    '--log-format=ISO8601',
  ];
  if (!options.enableModelControlApi) {
    // A random per-pod key, never written anywhere: the admin APIs stay closed without a secret in the configuration.
    flags.push(`--http-restricted-api=${ADMIN_APIS}:omniglue-admin-key=$ADMIN_KEY`, `--grpc-restricted-protocol=${ADMIN_APIS}:omniglue-admin-key=$ADMIN_KEY`);
    return `${before}ADMIN_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -dc 0-9a-f) && exec tritonserver ${flags.join(' ')}`;
  }
  return `${before}exec tritonserver ${flags.join(' ')}`;
}
