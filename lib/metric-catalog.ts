/**
 * Every metric name the stack's queries (adapter rules, alerts, dashboard) may use, each with the pinned upstream
 * source that documents it. A test extracts the metric names from every query and fails on any name missing here,
 * so a query cannot silently read a series no pinned component exports. See docs/metrics.md.
 */
export interface MetricSource {
  /** GitHub repository. */
  readonly repository: string;
  /** Tag or branch of the pinned version. */
  readonly ref: string;
  /** File that documents or defines the metric. */
  readonly path: string;
}

export interface CatalogMetric {
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary';
  readonly source: MetricSource;
  /** What one unit of it is. */
  readonly meaning: string;
}

const TRITON_DOCS: MetricSource = { repository: 'triton-inference-server/server', ref: 'r26.06', path: 'docs/user_guide/metrics.md' };
const KSM = (file: string): MetricSource => ({ repository: 'kubernetes/kube-state-metrics', ref: 'v2.18.0', path: `internal/store/${file}` });
const PROMETHEUS: MetricSource = { repository: 'prometheus/prometheus', ref: 'v2.42.0', path: 'docs/concepts/jobs_instances.md' };

export const METRIC_CATALOG: Readonly<Record<string, CatalogMetric>> = {
  up: { type: 'gauge', source: PROMETHEUS, meaning: '1 when the last scrape of the target succeeded (added by Prometheus to every target)' },
  nv_inference_request_success: { type: 'counter', source: TRITON_DOCS, meaning: 'successful requests, one per request whatever its batch' },
  nv_inference_request_failure: { type: 'counter', source: TRITON_DOCS, meaning: 'failed requests by reason; an ensemble counts each of its failures twice' },
  nv_inference_count: { type: 'counter', source: TRITON_DOCS, meaning: 'inferences (a batch of n counts n)' },
  nv_inference_exec_count: { type: 'counter', source: TRITON_DOCS, meaning: 'batch executions' },
  nv_inference_pending_request_count: { type: 'gauge', source: TRITON_DOCS, meaning: 'requests enqueued and not yet executing' },
  nv_inference_request_duration_us: { type: 'counter', source: TRITON_DOCS, meaning: 'cumulative end-to-end request time, µs' },
  nv_inference_queue_duration_us: { type: 'counter', source: TRITON_DOCS, meaning: 'cumulative queue time, µs' },
  nv_inference_compute_input_duration_us: { type: 'counter', source: TRITON_DOCS, meaning: 'cumulative input processing time, µs' },
  nv_inference_compute_infer_duration_us: { type: 'counter', source: TRITON_DOCS, meaning: 'cumulative execution time, µs; an ensemble reports the sum of its steps’' },
  nv_inference_compute_output_duration_us: { type: 'counter', source: TRITON_DOCS, meaning: 'cumulative output processing time, µs' },
  nv_inference_request_summary_us: { type: 'summary', source: TRITON_DOCS, meaning: 'request-time quantiles, µs (--metrics-config summary_latencies=true)' },
  nv_inference_first_response_histogram_ms: {
    type: 'histogram',
    // The `_bucket`/`_count`/`_sum` series names: qa/L0_metrics/histogram_metrics_test.py, get_histogram_metric_key.
    source: TRITON_DOCS,
    meaning: 'time to first (for this non-decoupled ensemble: the only) response, ms (--metrics-config=histogram_latencies=true, which the stack sets)',
  },
  nv_gpu_utilization: { type: 'gauge', source: TRITON_DOCS, meaning: 'GPU utilization 0.0–1.0, per GPU (gpu_uuid)' },
  nv_gpu_memory_used_bytes: { type: 'gauge', source: TRITON_DOCS, meaning: 'used GPU memory, bytes, per GPU' },
  nv_gpu_memory_total_bytes: { type: 'gauge', source: TRITON_DOCS, meaning: 'total GPU memory, bytes, per GPU' },
  nv_gpu_power_usage: { type: 'gauge', source: TRITON_DOCS, meaning: 'GPU power, watts' },
  kube_deployment_status_replicas: { type: 'gauge', source: KSM('deployment.go'), meaning: 'pods the Deployment runs' },
  kube_deployment_status_replicas_available: { type: 'gauge', source: KSM('deployment.go'), meaning: 'available pods of the Deployment' },
  kube_horizontalpodautoscaler_status_current_replicas: { type: 'gauge', source: KSM('horizontalpodautoscaler.go'), meaning: 'replicas the HPA last saw' },
  kube_horizontalpodautoscaler_status_desired_replicas: { type: 'gauge', source: KSM('horizontalpodautoscaler.go'), meaning: 'replicas the HPA wants' },
  kube_horizontalpodautoscaler_spec_max_replicas: { type: 'gauge', source: KSM('horizontalpodautoscaler.go'), meaning: 'the HPA’s maximum' },
  kube_horizontalpodautoscaler_spec_min_replicas: { type: 'gauge', source: KSM('horizontalpodautoscaler.go'), meaning: 'the HPA’s minimum' },
  kube_job_status_active: { type: 'gauge', source: KSM('job.go'), meaning: 'running pods of the Job' },
  kube_job_status_succeeded: { type: 'gauge', source: KSM('job.go'), meaning: 'succeeded pods of the Job' },
  kube_job_status_failed: { type: 'gauge', source: KSM('job.go'), meaning: 'failed pods of the Job (not whether the Job failed)' },
  kube_job_complete: { type: 'gauge', source: KSM('job.go'), meaning: 'the Job’s Complete condition, one series per condition value' },
  kube_job_failed: { type: 'gauge', source: KSM('job.go'), meaning: 'the Job’s Failed condition, one series per condition value' },
};

/** Series names a metric family exposes (Prometheus exposition format: histograms and summaries add suffixes). */
export function exposedSeriesNames(name: string, metric: CatalogMetric): string[] {
  if (metric.type === 'histogram') return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (metric.type === 'summary') return [name, `${name}_sum`, `${name}_count`];
  return [name];
}
