import { Construct } from 'constructs';
import { TerraformStack } from 'cdktf';
import { OmniglueConfig } from '../config/schema';
import { ClusterProviders } from '../constructs/cluster-providers';
import { ServingNamespace } from '../constructs/serving-namespace';
import { GpuScheduling } from '../lib/gpu-scheduling';

export interface OmniglueServingStackProps {
  /** The validated configuration. */
  readonly config: OmniglueConfig;
}

/** The OmniGlue workload: namespace, model repository, conversion Job, Triton and its autoscaling. */
export class OmniglueServingStack extends TerraformStack {
  readonly providers: ClusterProviders;
  readonly gpuScheduling: GpuScheduling;
  readonly namespace: ServingNamespace;

  constructor(scope: Construct, id: string, props: OmniglueServingStackProps) {
    super(scope, id);
    const { config } = props;
    this.providers = new ClusterProviders(this, 'providers', {
      kubeconfigPath: config.kubernetes.configPath,
      kubeconfigContext: config.kubernetes.configContext,
    });
    this.gpuScheduling = new GpuScheduling(config.gpu);
    this.namespace = new ServingNamespace(this, 'namespace', { name: config.namespace });
  }
}
