import { Construct } from 'constructs';
import { commonLabels } from '../lib/labels';
import { ConfigMapV1 } from '../lib/provider-classes';
import { deliberateQueueDelay } from '../lib/throughput-mode';
import { tritonDashboard } from '../lib/triton-dashboard';
import { GRAFANA_DASHBOARD_LABEL, TRITON_ENSEMBLE_MODEL, TRITON_SCRAPE_JOB } from '../lib/triton-metrics';
import { ModelConversionJob } from './model-conversion-job';
import { TritonServer } from './triton-server';

export interface GrafanaDashboardProps {
  /** The server the dashboard shows (namespace, Deployment and HPA names). */
  readonly server: TritonServer;
  /** The conversion Job whose state the dashboard shows (its name prefix). */
  readonly conversionJob: ModelConversionJob;
  /** Namespace of the ConfigMap; kube-prometheus-stack's sidecar searches every namespace. */
  readonly monitoringNamespace: string;
}

/**
 * The OmniGlue dashboard (lib/triton-dashboard.ts) as a ConfigMap labelled for Grafana's dashboard sidecar
 * (GRAFANA_DASHBOARD_LABEL, the label PrometheusMonitoring configures the sidecar with). A plain ConfigMap, so it
 * needs no CRD and works with any Grafana whose sidecar selects that label.
 */
export class GrafanaDashboard extends Construct {
  readonly name = 'omniglue-triton-dashboard';
  readonly configMap: ConfigMapV1;

  constructor(scope: Construct, id: string, props: GrafanaDashboardProps) {
    super(scope, id);
    const dashboard = tritonDashboard({
      servingNamespace: props.server.namespaceName,
      deploymentName: props.server.name,
      scrapeJob: TRITON_SCRAPE_JOB,
      ensembleModel: TRITON_ENSEMBLE_MODEL,
      conversionJobPrefix: ModelConversionJob.NAME_PREFIX,
      deliberateQueueDelay: deliberateQueueDelay(props.conversionJob.throughputMode),
    });
    this.configMap = new ConfigMapV1(this, 'config-map', {
      metadata: {
        name: this.name,
        namespace: props.monitoringNamespace,
        labels: { ...commonLabels('triton', 'dashboard'), ...GRAFANA_DASHBOARD_LABEL },
      },
      data: { 'omniglue-triton.json': JSON.stringify(dashboard, null, 2) },
    });
  }
}
