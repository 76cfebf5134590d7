import { Construct } from 'constructs';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { OmniglueConfig } from '../config/schema';
import { ClusterProviders } from '../constructs/cluster-providers';
import { NvidiaDevicePlugin } from '../constructs/nvidia-device-plugin';
import { PrometheusAdapter } from '../constructs/prometheus-adapter';
import { PrometheusMonitoring } from '../constructs/prometheus-monitoring';
import { GpuScheduling } from '../lib/gpu-scheduling';
import { configureStateBackend } from './backend';
import { TRITON_CUSTOM_METRICS, TritonCustomMetrics } from '../lib/triton-metrics';
import { tritonScrapeJob } from '../lib/triton-scrape-job';
import { tritonAdapterRules } from '../lib/prometheus-adapter-rules';
import { stringify } from 'yaml';

export interface GpuPlatformStackProps {
  /** The validated configuration. */
  readonly config: OmniglueConfig;
  /** The environment (OMNIGLUE_ENV) the configuration is for; its name is part of the state's location. @default - none */
  readonly environment?: string;
}

/**
 * Cluster-wide add-ons the serving workload relies on. A cluster that already runs them (GPU Operator,
 * its own Prometheus) switches them off in the configuration and this stack shrinks accordingly.
 */
export class GpuPlatformStack extends TerraformStack {
  readonly providers: ClusterProviders;
  readonly gpuScheduling: GpuScheduling;
  readonly devicePlugin: NvidiaDevicePlugin | undefined;
  readonly monitoring: PrometheusMonitoring | undefined;
  readonly adapter: PrometheusAdapter | undefined;
  /**
   * Namespace Prometheus runs in, read from the installed release (a cross-stack reference: the serving stack
   * reads it from this stack's state), or the configured one for your own Prometheus.
   */
  readonly monitoringNamespace: string;
  /** The custom metrics the serving stack's autoscaler scales on. */
  readonly customMetrics: TritonCustomMetrics;

  constructor(scope: Construct, id: string, props: GpuPlatformStackProps) {
    super(scope, id);
    const { config } = props;
    configureStateBackend(this, id, config.state, config.kubernetes, props.environment);
    this.providers = new ClusterProviders(this, 'providers', {
      kubeconfigPath: config.kubernetes.configPath,
      kubeconfigContext: config.kubernetes.configContext,
      kubernetes: false,
    });
    this.gpuScheduling = new GpuScheduling(config.gpu);
    if (config.addons.nvidiaDevicePlugin) {
      this.devicePlugin = new NvidiaDevicePlugin(this, 'nvidia-device-plugin', {
        gpuScheduling: this.gpuScheduling,
        namespace: config.addons.nvidiaDevicePluginNamespace,
        chartVersion: config.chartVersions.nvidiaDevicePlugin,
        chartRepository: config.chartRepositories.nvidiaDevicePlugin,
        gpuFeatureDiscovery: config.addons.gpuFeatureDiscovery,
      });
    }
    const { monitoring } = config;
    if (monitoring.installKubePrometheusStack) {
      this.monitoring = new PrometheusMonitoring(this, 'prometheus', {
        namespace: monitoring.namespace,
        chartVersion: config.chartVersions.kubePrometheusStack,
        chartRepository: config.chartRepositories.prometheusCommunity,
        scrapeIntervalSeconds: monitoring.scrapeIntervalSeconds,
        grafana: monitoring.grafana.enabled,
      });
    }
    if (!monitoring.installKubePrometheusStack && !monitoring.prometheusOperator) {
      new TerraformOutput(this, 'prometheus-scrape-config', {
        value: stringify([tritonScrapeJob(monitoring.scrapeIntervalSeconds)], { lineWidth: 0 }),
        description: 'Scrape job for your Prometheus (add it under scrape_configs): the adapter rules and alerts expect its job name and labels',
      });
    }
    if (monitoring.existingCustomMetricsApi) {
      // The cluster's own adapter serves custom.metrics.k8s.io (only one APIService can): it gets the rules instead.
      new TerraformOutput(this, 'prometheus-adapter-rules', {
        value: stringify({ rules: tritonAdapterRules(monitoring.scrapeIntervalSeconds) }, { lineWidth: 0 }),
        description:
          "prometheus-adapter rules that serve the HPA's Triton metrics: add them to your adapter's configuration (config file rules:, chart values rules.custom)",
      });
    }
    const prometheus = this.monitoring ?? monitoring.existingPrometheusUrl;
    if (monitoring.installPrometheusAdapter && prometheus !== undefined) {
      this.adapter = new PrometheusAdapter(this, 'prometheus-adapter', {
        namespace: monitoring.namespace,
        chartVersion: config.chartVersions.prometheusAdapter,
        chartRepository: config.chartRepositories.prometheusCommunity,
        prometheus,
        relistIntervalSeconds: monitoring.adapterRelistIntervalSeconds,
        scrapeIntervalSeconds: monitoring.scrapeIntervalSeconds,
      });
    }
    this.customMetrics = this.adapter?.metrics ?? TRITON_CUSTOM_METRICS;
    this.monitoringNamespace = this.monitoring?.release.namespace ?? monitoring.namespace;
  }
}
