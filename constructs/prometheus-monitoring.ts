import * as fs from 'fs';
import * as path from 'path';
import { Construct } from 'constructs';
import { HELM_REPOSITORIES, VERSIONS } from '../config/versions';
import { PART_OF } from '../lib/labels';
import { helmValues, singleValuesDocument } from '../lib/helm-values';
import { HelmRelease } from '../lib/provider-classes';
import { TRITON_SCRAPE_JOB } from '../lib/triton-metrics';
import { REPOSITORY_ROOT } from '../lib/paths';

const BASE_VALUES_FILE = path.join(REPOSITORY_ROOT, 'charts', 'kube-prometheus-stack', 'values.yaml');
const RELEASE_NAME = 'kube-prometheus-stack';

export interface PrometheusMonitoringProps {
  /**
   * Namespace of Prometheus; the Triton NetworkPolicy lets only this namespace scrape the metrics port.
   * @default 'monitoring'
   */
  readonly namespace?: string;
  /**
   * Helm repository of the chart (an internal mirror in air-gapped clusters).
   * @default HELM_REPOSITORIES.prometheusCommunity
   */
  readonly chartRepository?: string;
  /**
   * Chart version (exact).
   * @default VERSIONS.kubePrometheusStackChart
   */
  readonly chartVersion?: string;
  /**
   * How often Triton pods are scraped; part of the autoscaling reaction budget (README, "Scaling").
   * @default 5
   */
  readonly scrapeIntervalSeconds?: number;
}

/**
 * kube-prometheus-stack with a scrape job for Triton pods in every namespace. The job is plain Prometheus
 * configuration (additionalScrapeConfigs), not a ServiceMonitor: a CRD object in the same apply as the release
 * that installs its CRD fails at plan time.
 */
export class PrometheusMonitoring extends Construct {
  readonly namespace: string;
  readonly chartVersion: string;
  readonly chartRepository: string;
  readonly scrapeIntervalSeconds: number;
  /** In-cluster URL of Prometheus, for prometheus-adapter. */
  readonly prometheusUrl: string;
  readonly release: HelmRelease;

  constructor(scope: Construct, id: string, props: PrometheusMonitoringProps = {}) {
    super(scope, id);
    this.namespace = props.namespace ?? 'monitoring';
    this.chartRepository = props.chartRepository ?? HELM_REPOSITORIES.prometheusCommunity;
    this.chartVersion = props.chartVersion ?? VERSIONS.kubePrometheusStackChart;
    this.scrapeIntervalSeconds = props.scrapeIntervalSeconds ?? 5;
    this.prometheusUrl = `http://${RELEASE_NAME}-prometheus.${this.namespace}.svc:9090`;

    const scrapeJob = {
      job_name: TRITON_SCRAPE_JOB,
      scrape_interval: `${this.scrapeIntervalSeconds}s`,
      scrape_timeout: `${Math.max(this.scrapeIntervalSeconds - 1, 1)}s`,
      kubernetes_sd_configs: [{ role: 'pod' }],
      relabel_configs: [
        { source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_name'], regex: 'triton', action: 'keep' },
        { source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_part_of'], regex: PART_OF, action: 'keep' },
        { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: 'metrics', action: 'keep' },
        // The pod's own namespace and name, so prometheus-adapter maps each series to the pod the HPA asks about.
        { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
        { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      ],
    };

    this.release = new HelmRelease(this, 'release', {
      name: RELEASE_NAME,
      repository: this.chartRepository,
      chart: 'kube-prometheus-stack',
      version: this.chartVersion,
      namespace: this.namespace,
      createNamespace: true,
      values: singleValuesDocument([fs.readFileSync(BASE_VALUES_FILE, 'utf8'), helmValues({ prometheus: { prometheusSpec: { additionalScrapeConfigs: [scrapeJob] } } })]),
      wait: true,
      atomic: true,
      timeout: 900,
      maxHistory: 5,
    });
  }
}
