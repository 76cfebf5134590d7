import * as fs from 'fs';
import * as path from 'path';
import { Construct } from 'constructs';
import { settingProp } from '../config/construct-props';
import { helmValues, singleValuesDocument } from '../lib/helm-values';
import { HelmRelease } from '../lib/provider-classes';
import { GRAFANA_DASHBOARD_LABEL } from '../lib/triton-metrics';
import { tritonScrapeJob } from '../lib/triton-scrape-job';
import { REPOSITORY_ROOT } from '../lib/paths';

const BASE_VALUES_FILE = path.join(REPOSITORY_ROOT, 'charts', 'kube-prometheus-stack', 'values.yaml');
const RELEASE_NAME = 'kube-prometheus-stack';

export interface PrometheusMonitoringProps {
  /**
   * Namespace of Prometheus; the Triton NetworkPolicy lets only this namespace scrape the metrics port.
   * @default - setting monitoring.namespace
   */
  readonly namespace?: string;
  /**
   * Helm repository of the chart (an internal mirror in air-gapped clusters).
   * @default - setting chartRepositories.prometheusCommunity
   */
  readonly chartRepository?: string;
  /**
   * Chart version (exact).
   * @default - setting chartVersions.kubePrometheusStack
   */
  readonly chartVersion?: string;
  /**
   * How often Triton pods are scraped; part of the autoscaling reaction budget (README, "Scaling").
   * @default - setting monitoring.scrapeIntervalSeconds
   */
  readonly scrapeIntervalSeconds?: number;
  /**
   * Installs Grafana (the chart's subchart) with its dashboard sidecar, which loads ConfigMaps labelled
   * GRAFANA_DASHBOARD_LABEL from every namespace. The admin password is random, kept in Secret
   * `kube-prometheus-stack-grafana` (key `admin-password`).
   * @default - setting monitoring.grafana.enabled
   */
  readonly grafana?: boolean;
}

/**
 * kube-prometheus-stack (Prometheus Operator, Prometheus, Alertmanager, kube-state-metrics, Grafana) with a scrape
 * job for Triton pods in every namespace. The job is plain Prometheus configuration (additionalScrapeConfigs), not a ServiceMonitor: a CRD object in the same apply as the release
 * that installs its CRD fails at plan time.
 */
export class PrometheusMonitoring extends Construct {
  readonly namespace: string;
  readonly chartVersion: string;
  readonly chartRepository: string;
  readonly scrapeIntervalSeconds: number;
  readonly grafana: boolean;
  /** In-cluster URL of Prometheus, for prometheus-adapter. */
  readonly prometheusUrl: string;
  readonly release: HelmRelease;

  constructor(scope: Construct, id: string, props: PrometheusMonitoringProps = {}) {
    super(scope, id);
    this.namespace = settingProp(this, 'monitoring.namespace', 'namespace', props.namespace);
    this.chartRepository = settingProp(this, 'chartRepositories.prometheusCommunity', 'chartRepository', props.chartRepository);
    this.chartVersion = settingProp(this, 'chartVersions.kubePrometheusStack', 'chartVersion', props.chartVersion);
    this.scrapeIntervalSeconds = settingProp(this, 'monitoring.scrapeIntervalSeconds', 'scrapeIntervalSeconds', props.scrapeIntervalSeconds);
    this.grafana = settingProp(this, 'monitoring.grafana.enabled', 'grafana', props.grafana);
    const [[dashboardLabel, dashboardLabelValue]] = Object.entries(GRAFANA_DASHBOARD_LABEL);
    this.prometheusUrl = `http://${RELEASE_NAME}-prometheus.${this.namespace}.svc:9090`;

    this.release = new HelmRelease(this, 'release', {
      name: RELEASE_NAME,
      repository: this.chartRepository,
      chart: 'kube-prometheus-stack',
      version: this.chartVersion,
      namespace: this.namespace,
      createNamespace: true,
      values: singleValuesDocument([
        fs.readFileSync(BASE_VALUES_FILE, 'utf8'),
        helmValues({
          prometheus: { prometheusSpec: { additionalScrapeConfigs: [tritonScrapeJob(this.scrapeIntervalSeconds)] } },
          grafana: {
            enabled: this.grafana,
            // Explicit, so the dashboard ConfigMap's label is the one the sidecar selects, whatever the chart's default.
            sidecar: { dashboards: { enabled: true, label: dashboardLabel, labelValue: dashboardLabelValue } },
          },
        }),
      ]),
      wait: true,
      atomic: true,
      timeout: 900,
      maxHistory: 5,
    });
  }
}
