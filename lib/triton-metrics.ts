/**
 * Names shared by the Prometheus scrape job, the prometheus-adapter rules and the HPA: one definition, so the
 * metric the HPA asks for is the metric the adapter serves.
 */
export const TRITON_SCRAPE_JOB = 'omniglue-triton';

/** Custom metrics (per pod) that prometheus-adapter serves and the HPA scales on. */
export interface TritonCustomMetrics {
  /** Average GPU utilization of the pod's GPUs, in percent (Triton's own nv_gpu_utilization × 100). */
  readonly gpuUtilizationPercent: string;
  /** Time requests wait in Triton's queues per unit of compute time (NVIDIA's autoscaling signal). */
  readonly queueToComputeRatio: string;
}

export const TRITON_CUSTOM_METRICS: TritonCustomMetrics = {
  gpuUtilizationPercent: 'triton_gpu_utilization_percent',
  queueToComputeRatio: 'triton_queue_compute_ratio',
};

/**
 * The ensemble the clients call. Its own series are special (docs/metrics.md): its compute time is the sum of its
 * steps' (Triton core `ensemble_scheduler.cc`), and each failed request is counted twice on it.
 */
export const TRITON_ENSEMBLE_MODEL = 'omniglue_ensemble';

/** The label Grafana's dashboard sidecar selects ConfigMaps by (kube-prometheus-stack's `grafana.sidecar.dashboards`). */
export const GRAFANA_DASHBOARD_LABEL: Readonly<Record<string, string>> = { grafana_dashboard: '1' };

/** Name of the Triton container's metrics port (:8002), which the scrape job and the PodMonitor select. */
export const TRITON_METRICS_PORT_NAME = 'metrics';

/** Queue time a batching step may spend waiting on purpose: its dynamic batcher's `max_queue_delay_microseconds`. */
export interface DeliberateQueueDelay {
  /** The batching model (the throughput mode's `dinov2`). */
  readonly model: string;
  readonly microseconds: number;
}

export interface QueueToComputeRatioQuery {
  /** Label matchers of the composing models' series (the ensemble left out: its compute repeats its steps'). */
  readonly steps: string;
  /** The `by` labels. */
  readonly groupBy: string;
  /** Range of the rates, e.g. `30s`. */
  readonly window: string;
}

/**
 * The steps' queue time per unit of compute time (NVIDIA's autoscaling signal), the one expression behind the HPA's
 * adapter rule, the saturation alert and the dashboard.
 *
 * Nothing is subtracted for the throughput mode's batcher. Triton counts a dynamic batcher's wait for a fuller batch
 * as queue time (core dynamic_batch_scheduler.cc starts the queue timer at enqueue; infer_stats.cc: queue = compute
 * start - queue start), but its counters cannot tell that wait from waiting for a busy instance: a batch that goes
 * out short may have been held for the delay while an instance sat idle, or sent at once when an instance freed
 * after the delay had passed in a busy queue. Any amount taken off therefore reads below the true ratio in some load
 * (taking the full delay per request read 0.8 for a true 1.2 when batches filled at once). Left in, the ratio reads
 * at least the true one, and at most `delay / compute time per batching-model request` above it
 * (batcherShareQuery; lib/throughput-mode.ts warns when the delay could reach the HPA's target by itself).
 */
export function queueToComputeRatioQuery({ steps, groupBy, window }: QueueToComputeRatioQuery): string {
  const sum = (metric: string, selector: string) => `sum by (${groupBy}) (rate(${metric}{${selector}}[${window}]))`;
  return `${sum('nv_inference_queue_duration_us', steps)} / clamp_min(${sum('nv_inference_compute_infer_duration_us', steps)}, 1)`;
}

/**
 * The most the batcher's deliberate wait can add to queueToComputeRatioQuery: the delay for every request of the
 * batching model, over the same compute time. The true ratio lies between the ratio minus this and the ratio.
 */
export function batcherShareQuery({ steps, groupBy, window }: QueueToComputeRatioQuery, delay: DeliberateQueueDelay): string {
  const sum = (metric: string, selector: string) => `sum by (${groupBy}) (rate(${metric}{${selector}}[${window}]))`;
  return `${delay.microseconds} * ${sum('nv_inference_request_success', `${steps},model="${delay.model}"`)} / clamp_min(${sum('nv_inference_compute_infer_duration_us', steps)}, 1)`;
}
