import { Construct } from 'constructs';
import { TerraformStack } from 'cdktf';
import { OmniglueConfig } from '../config/schema';
import { ClusterProviders } from '../constructs/cluster-providers';
import { NvidiaDevicePlugin } from '../constructs/nvidia-device-plugin';
import { GpuScheduling } from '../lib/gpu-scheduling';

export interface GpuPlatformStackProps {
  /** The validated configuration. */
  readonly config: OmniglueConfig;
}

/**
 * Cluster-wide add-ons the serving workload relies on. A cluster that already runs them (GPU Operator,
 * its own Prometheus) switches them off in the configuration and this stack shrinks accordingly.
 */
export class GpuPlatformStack extends TerraformStack {
  readonly providers: ClusterProviders;
  readonly gpuScheduling: GpuScheduling;
  readonly devicePlugin: NvidiaDevicePlugin | undefined;

  constructor(scope: Construct, id: string, props: GpuPlatformStackProps) {
    super(scope, id);
    const { config } = props;
    this.providers = new ClusterProviders(this, 'providers', {
      kubeconfigPath: config.kubernetes.configPath,
      kubeconfigContext: config.kubernetes.configContext,
    });
    this.gpuScheduling = new GpuScheduling(config.gpu);
    if (config.addons.nvidiaDevicePlugin) {
      this.devicePlugin = new NvidiaDevicePlugin(this, 'nvidia-device-plugin', {
        gpuScheduling: this.gpuScheduling,
        namespace: config.addons.nvidiaDevicePluginNamespace,
        chartVersion: config.chartVersions.nvidiaDevicePlugin,
        gpuFeatureDiscovery: config.addons.gpuFeatureDiscovery,
      });
    }
  }
}
