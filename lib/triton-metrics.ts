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
