import { Construct } from 'constructs';
import { HelmProvider, KubernetesProvider } from '../lib/provider-classes';

export interface ClusterProvidersProps {
  /**
   * Path of the kubeconfig both providers read. Credentials stay in the kubeconfig: nothing secret is
   * written into the synthesized configuration.
   * @default '~/.kube/config'
   */
  readonly kubeconfigPath?: string;
  /**
   * kubeconfig context to deploy to.
   * @default - the kubeconfig's current context
   */
  readonly kubeconfigContext?: string;
}

/** The kubernetes and helm providers of one stack, both pointed at the same cluster. */
export class ClusterProviders extends Construct {
  readonly kubeconfigPath: string;
  readonly kubeconfigContext: string | undefined;
  readonly kubernetes: KubernetesProvider;
  readonly helm: HelmProvider;

  constructor(scope: Construct, id: string, props: ClusterProvidersProps = {}) {
    super(scope, id);
    this.kubeconfigPath = props.kubeconfigPath ?? '~/.kube/config';
    this.kubeconfigContext = props.kubeconfigContext;
    const connection = { configPath: this.kubeconfigPath, configContext: this.kubeconfigContext };
    this.kubernetes = new KubernetesProvider(this, 'kubernetes', connection);
    this.helm = new HelmProvider(this, 'helm', { kubernetes: connection });
  }
}
