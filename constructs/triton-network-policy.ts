import { Construct } from 'constructs';
import { settingProp } from '../config/construct-props';
import { NetworkPolicyV1 } from '../lib/provider-classes';
import { TRITON_PORTS } from '../lib/triton-command';
import { TritonServer } from './triton-server';

/** Label every namespace carries (Kubernetes ≥ 1.22), so policies can name namespaces without custom labels. */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export interface TritonNetworkPolicyProps {
  /** The server the policy isolates. */
  readonly server: TritonServer;
  /**
   * Namespaces whose pods may call the inference ports (8000 HTTP, 8001 gRPC), besides the server's own.
   * @default - setting triton.allowedClientNamespaces
   */
  readonly clientNamespaces?: string[];
  /** Namespace of Prometheus, the only one allowed on the metrics port (8002). */
  readonly monitoringNamespace: string;
}

/** Ingress isolation: inference from allowed namespaces only, metrics from the monitoring namespace only. */
export class TritonNetworkPolicy extends Construct {
  readonly clientNamespaces: string[];
  readonly policy: NetworkPolicyV1;

  constructor(scope: Construct, id: string, props: TritonNetworkPolicyProps) {
    super(scope, id);
    const { server } = props;
    const clients = settingProp(this, 'triton.allowedClientNamespaces', 'clientNamespaces', props.clientNamespaces);
    settingProp(this, 'monitoring.namespace', 'monitoringNamespace', props.monitoringNamespace);
    this.clientNamespaces = [...new Set([server.namespaceName, ...clients])].sort();
    const fromNamespaces = (names: string[]) =>
      names.map((name) => ({ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: name } } }));
    const tcp = (port: number) => ({ port: String(port), protocol: 'TCP' });
    this.policy = new NetworkPolicyV1(this, 'policy', {
      metadata: { name: server.name, namespace: server.namespace, labels: server.labels },
      spec: {
        podSelector: { matchLabels: server.selectorLabels },
        policyTypes: ['Ingress'],
        ingress: [
          { from: fromNamespaces(this.clientNamespaces), ports: [tcp(TRITON_PORTS.http), tcp(TRITON_PORTS.grpc)] },
          { from: fromNamespaces([props.monitoringNamespace]), ports: [tcp(TRITON_PORTS.metrics)] },
        ],
      },
    });
  }
}
