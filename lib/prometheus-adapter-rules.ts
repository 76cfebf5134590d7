/**
 * prometheus-adapter rules that serve Triton's per-pod custom metrics to the HPA: what the stack's own adapter is
 * configured with (constructs/prometheus-adapter.ts), and what a cluster that already serves custom.metrics.k8s.io
 * (its own adapter) adds to its configuration instead (the platform stack's output `prometheus-adapter-rules`).
 *
 * The metrics come from Triton's own :8002 endpoint, scraped from the Triton pod itself, so `namespace` and `pod`
 * are the server's own labels; DCGM's exporter would label them `exported_pod` (the usual `<unknown>` trap).
 */

import { queueToComputeRatioQuery, TRITON_CUSTOM_METRICS, TRITON_ENSEMBLE_MODEL, TritonCustomMetrics } from './triton-metrics';

/** One prometheus-adapter rule (the adapter's `rules` entries; the chart's `rules.custom`). */
export interface AdapterRule {
  seriesQuery: string;
  resources: { overrides: Record<string, { resource: string }> };
  name: { matches: string; as: string };
  metricsQuery: string;
}

/** Window of the queue-ratio rate: three scrape intervals, at least 15 s, so it always holds two samples. */
export function adapterRateWindowSeconds(scrapeIntervalSeconds: number): number {
  return Math.max(15, 3 * scrapeIntervalSeconds);
}

export function tritonAdapterRules(scrapeIntervalSeconds: number, metrics: TritonCustomMetrics = TRITON_CUSTOM_METRICS): AdapterRule[] {
  const steps = `model!="${TRITON_ENSEMBLE_MODEL}"`;
  const perPod = { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } };
  return [
    {
      seriesQuery: 'nv_gpu_utilization{namespace!="",pod!=""}',
      resources: perPod,
      name: { matches: '^nv_gpu_utilization$', as: metrics.gpuUtilizationPercent },
      // The latest sample, not an average over a window: a window delays scale-up by its length.
      metricsQuery: 'avg by (<<.GroupBy>>) (<<.Series>>{<<.LabelMatchers>>}) * 100',
    },
    {
      seriesQuery: 'nv_inference_queue_duration_us{namespace!="",pod!=""}',
      resources: perPod,
      name: { matches: '^nv_inference_queue_duration_us$', as: metrics.queueToComputeRatio },
      // Composing models only: Triton queues requests on the steps, and reports the ensemble's compute time as the
      // sum of its steps' (core ensemble_scheduler.cc), so summing the ensemble in would halve the ratio.
      metricsQuery: queueToComputeRatioQuery({
        steps: `<<.LabelMatchers>>,${steps}`,
        groupBy: '<<.GroupBy>>',
        window: `${adapterRateWindowSeconds(scrapeIntervalSeconds)}s`,
      }),
    },
  ];
}
