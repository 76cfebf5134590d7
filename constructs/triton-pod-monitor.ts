import { Construct } from 'constructs';
import { settingProp } from '../config/construct-props';
import { localChart, localChartRelease } from '../lib/local-chart-release';
import { HelmRelease } from '../lib/provider-classes';
import { TRITON_METRICS_PORT_NAME, TRITON_SCRAPE_JOB } from '../lib/triton-metrics';
import { TritonServer } from './triton-server';

/** The local chart, relative to where Terraform runs (cdktf.out/stacks/<stack>), so the path is the same on every machine. */
const POD_MONITOR_CHART = localChart('omniglue-pod-monitor');
export const POD_MONITOR_CHART_DIR = POD_MONITOR_CHART.directory;

export interface TritonPodMonitorProps {
  /** The server whose pods are scraped (namespace, pod selector). */
  readonly server: TritonServer;
  /** Namespace the PodMonitor lives in: where the operator looks for PodMonitors (podMonitorNamespaceSelector). */
  readonly monitoringNamespace: string;
  /**
   * Scrape interval; the adapter's rate windows assume it.
   * @default - setting monitoring.scrapeIntervalSeconds
   */
  readonly scrapeIntervalSeconds?: number;
  /**
   * Extra labels on the PodMonitor, for an operator whose podMonitorSelector requires some.
   * @default - setting monitoring.podMonitorLabels
   */
  readonly podMonitorLabels?: Record<string, string>;
}

/**
 * A PodMonitor for your own operator-managed Prometheus: it scrapes the Triton pods' metrics port and names the
 * series as the adapter rules, the alerts and the dashboard expect (job `omniglue-triton`, the pod's own namespace
 * and pod). Delivered inside a Helm release of this repository's chart: kubernetes_manifest would need the CRD at
 * plan time.
 */
export class TritonPodMonitor extends Construct {
  readonly scrapeIntervalSeconds: number;
  readonly podMonitorLabels: Record<string, string>;
  readonly release: HelmRelease;

  constructor(scope: Construct, id: string, props: TritonPodMonitorProps) {
    super(scope, id);
    this.scrapeIntervalSeconds = settingProp(this, 'monitoring.scrapeIntervalSeconds', 'scrapeIntervalSeconds', props.scrapeIntervalSeconds);
    this.podMonitorLabels = { ...settingProp(this, 'monitoring.podMonitorLabels', 'podMonitorLabels', props.podMonitorLabels) };
    settingProp(this, 'monitoring.namespace', 'monitoringNamespace', props.monitoringNamespace);
    this.release = localChartRelease(this, 'release', {
      name: 'omniglue-pod-monitor',
      chart: POD_MONITOR_CHART,
      namespace: props.monitoringNamespace,
      values: {
        servingNamespace: props.server.namespaceName,
        podSelector: props.server.selectorLabels,
        metricsPort: TRITON_METRICS_PORT_NAME,
        interval: `${this.scrapeIntervalSeconds}s`,
        scrapeTimeout: `${Math.max(this.scrapeIntervalSeconds - 1, 1)}s`,
        jobName: TRITON_SCRAPE_JOB,
        podMonitorLabels: this.podMonitorLabels,
      },
    });
  }
}
