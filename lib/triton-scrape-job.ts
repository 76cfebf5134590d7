import { TRITON_LABELS } from './labels';
import { TRITON_METRICS_PORT_NAME, TRITON_SCRAPE_JOB } from './triton-metrics';

/** Kubernetes service discovery turns a pod label into this meta label (Prometheus docs, kubernetes_sd_config, role pod). */
const podLabelMeta = (label: string) => `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, '_')}`;

/** The Triton pod labels the scrape job keeps; the PodMonitor selects the same pods by their selector labels. */
const SCRAPED_POD_LABELS = ['app.kubernetes.io/name', 'app.kubernetes.io/part-of'] as const;

/**
 * Plain Prometheus scrape job for the Triton pods of every namespace: what kube-prometheus-stack gets through
 * additionalScrapeConfigs, and what a Prometheus without the operator gets pasted in (Terraform output
 * `prometheus-scrape-config`). It names the series the way the adapter rules and alerts expect: job
 * `omniglue-triton`, and the pod's own `namespace` and `pod`.
 */
export function tritonScrapeJob(scrapeIntervalSeconds: number) {
  return {
    job_name: TRITON_SCRAPE_JOB,
    scrape_interval: `${scrapeIntervalSeconds}s`,
    scrape_timeout: `${Math.max(scrapeIntervalSeconds - 1, 1)}s`,
    kubernetes_sd_configs: [{ role: 'pod' }],
    relabel_configs: [
      ...SCRAPED_POD_LABELS.map((label) => ({ source_labels: [podLabelMeta(label)], regex: TRITON_LABELS[label], action: 'keep' })),
      { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: TRITON_METRICS_PORT_NAME, action: 'keep' },
      // The pod's own namespace and name, so prometheus-adapter maps each series to the pod the HPA asks about.
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
    ],
  };
}
