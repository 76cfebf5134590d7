import { Construct } from 'constructs';
import { settingProp } from '../config/construct-props';
import { localChart, localChartRelease } from '../lib/local-chart-release';
import { HelmRelease } from '../lib/provider-classes';
import { TRITON_ENSEMBLE_MODEL, TRITON_SCRAPE_JOB } from '../lib/triton-metrics';
import { ValidationError } from '../lib/validation-error';
import { ModelConversionJob } from './model-conversion-job';
import { TritonServer } from './triton-server';

/** The local chart, relative to where Terraform runs (cdktf.out/stacks/<stack>), so the path is the same on every machine. */
const ALERT_CHART = localChart('omniglue-alerts');
export const ALERT_CHART_DIR = ALERT_CHART.directory;

export interface AlertRulesProps {
  /** The server the rules watch (namespace, Deployment and HPA names). */
  readonly server: TritonServer;
  /** The conversion Job whose failures the rules report (its name prefix). */
  readonly conversionJob: ModelConversionJob;
  /** Namespace of the Prometheus Operator that evaluates the rules. */
  readonly monitoringNamespace: string;
  /**
   * Queue-to-compute ratio above which requests count as saturated.
   * @default 5
   */
  readonly queueToComputeRatioThreshold?: number;
  /**
   * Share of failed ensemble requests that raises an alert.
   * @default 0.01
   */
  readonly failureRatioThreshold?: number;
  /**
   * Extra labels on the PrometheusRule, for a Prometheus whose `ruleSelector` requires some (kube-prometheus-stack's
   * own selects every rule, see charts/kube-prometheus-stack/values.yaml).
   * @default - setting monitoring.ruleLabels
   */
  readonly ruleLabels?: Record<string, string>;
}

/**
 * Alerting rules (a PrometheusRule from this repository's chart charts/omniglue-alerts): scrape target down, GPU
 * metric missing (the HPA would be blind), no ready replica, failing or queueing requests, autoscaler at its
 * maximum, failed model conversion. A CRD object goes through Helm, not kubernetes_manifest, which would need the
 * CRD at plan time.
 */
export class AlertRules extends Construct {
  readonly queueToComputeRatioThreshold: number;
  readonly failureRatioThreshold: number;
  readonly ruleLabels: Record<string, string>;
  readonly release: HelmRelease;

  constructor(scope: Construct, id: string, props: AlertRulesProps) {
    super(scope, id);
    this.queueToComputeRatioThreshold = props.queueToComputeRatioThreshold ?? 5;
    this.failureRatioThreshold = props.failureRatioThreshold ?? 0.01;
    this.ruleLabels = { ...settingProp(this, 'monitoring.ruleLabels', 'ruleLabels', props.ruleLabels) };
    settingProp(this, 'monitoring.namespace', 'monitoringNamespace', props.monitoringNamespace);
    if (!(this.failureRatioThreshold > 0 && this.failureRatioThreshold < 1)) {
      throw new ValidationError(`failureRatioThreshold (${this.failureRatioThreshold}) must be between 0 and 1 (a share of requests)`, this);
    }
    if (!(this.queueToComputeRatioThreshold > 0)) {
      throw new ValidationError(`queueToComputeRatioThreshold (${this.queueToComputeRatioThreshold}) must be greater than 0`, this);
    }
    this.release = localChartRelease(this, 'release', {
      name: 'omniglue-alerts',
      chart: ALERT_CHART,
      namespace: props.monitoringNamespace,
      values: {
        servingNamespace: props.server.namespaceName,
        deploymentName: props.server.name,
        scrapeJob: TRITON_SCRAPE_JOB,
        conversionJobPrefix: ModelConversionJob.NAME_PREFIX,
        ensembleModel: TRITON_ENSEMBLE_MODEL,
        ruleLabels: this.ruleLabels,
        thresholds: { queueToComputeRatio: this.queueToComputeRatioThreshold, failureRatio: this.failureRatioThreshold },
      },
    });
  }
}
