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
