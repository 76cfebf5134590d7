import { Construct } from 'constructs';
import { ServiceV1 } from '../lib/provider-classes';
import { TRITON_PORTS } from '../lib/triton-command';
import { TritonServer } from './triton-server';

export interface TritonServiceProps {
  /** The server whose pods the Service selects, by the labels the server owns. */
  readonly server: TritonServer;
}

/** ClusterIP Service in front of Triton: HTTP, gRPC and metrics. */
export class TritonService extends Construct {
  readonly name: string;
  readonly service: ServiceV1;
  /** In-cluster URLs clients use. */
  readonly httpUrl: string;
  readonly grpcAddress: string;
  readonly metricsUrl: string;

  constructor(scope: Construct, id: string, props: TritonServiceProps) {
    super(scope, id);
    const { server } = props;
    this.name = server.name;
    this.service = new ServiceV1(this, 'service', {
      metadata: { name: this.name, namespace: server.namespace, labels: server.labels },
      spec: {
        type: 'ClusterIP',
        selector: server.selectorLabels,
        port: [
          { name: 'http', port: TRITON_PORTS.http, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
          { name: 'grpc', port: TRITON_PORTS.grpc, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' },
          { name: 'metrics', port: TRITON_PORTS.metrics, targetPort: 'metrics', protocol: 'TCP', appProtocol: 'http' },
        ],
      },
    });
    const host = `${this.name}.${server.namespaceName}.svc.cluster.local`;
    this.httpUrl = `http://${host}:${TRITON_PORTS.http}`;
    this.grpcAddress = `${host}:${TRITON_PORTS.grpc}`;
    this.metricsUrl = `http://${host}:${TRITON_PORTS.metrics}/metrics`;
  }
}
