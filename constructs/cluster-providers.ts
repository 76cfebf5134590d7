import { Construct } from 'constructs';
import { HelmProvider, KubernetesProvider } from '../lib/provider-classes';

export interface ClusterProvidersProps {
  /**
   * Path of the kubeconfig the providers read. Credentials stay in the kubeconfig: nothing secret is
   * written into the synthesized configuration.
   * @default '~/.kube/config'
   */
  readonly kubeconfigPath?: string;
  /**
   * kubeconfig context to deploy to.
   * @default - the kubeconfig's current context
   */
  readonly kubeconfigContext?: string;
  /**
   * Configures the kubernetes provider (the stack has kubernetes_* resources).
   * @default true
   */
  readonly kubernetes?: boolean;
  /**
   * Configures the helm provider (the stack has helm_release resources).
   * @default true
   */
  readonly helm?: boolean;
}

/** The providers one stack needs, all pointed at the same cluster; a stack configures only those it uses. */
export class ClusterProviders extends Construct {
  readonly kubeconfigPath: string;
  readonly kubeconfigContext: string | undefined;
  readonly kubernetes: KubernetesProvider | undefined;
  readonly helm: HelmProvider | undefined;

  constructor(scope: Construct, id: string, props: ClusterProvidersProps = {}) {
    super(scope, id);
    this.kubeconfigPath = props.kubeconfigPath ?? '~/.kube/config';
    this.kubeconfigContext = props.kubeconfigContext;
    const connection = { configPath: this.kubeconfigPath, configContext: this.kubeconfigContext };
    if (props.kubernetes ?? true) this.kubernetes = new KubernetesProvider(this, 'kubernetes', connection);
    if (props.helm ?? true) {
      this.helm = new HelmProvider(this, 'helm', {});
      // helm provider 3.x made `kubernetes` a nested attribute (`kubernetes = {...}`), but the generated bindings
      // still render it as a block, which `cdktf synth --hcl` then writes and Terraform rejects. An override is
      // written as an attribute in both JSON and HCL.
      this.helm.addOverride('kubernetes', { config_path: this.kubeconfigPath, config_context: this.kubeconfigContext });
    }
  }
}
