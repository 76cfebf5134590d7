import * as fs from 'node:fs';
import * as https from 'node:https';
import type { KubeClient, KubeObject } from './kube-client';
import type { KeyPair } from './pki';

/**
 * Stands in for the extension API servers that run in pods (prometheus-adapter's custom.metrics.k8s.io): kwok's pods
 * run nothing, so nothing would answer the APIService, and an unavailable APIService breaks discovery for the
 * controllers. The namespace controller then never finishes deleting a namespace (kube-controller-manager
 * pkg/controller/namespace/deletion/namespaced_resources_deleter.go: deleteAllContent returns the discovery error and
 * the namespace keeps its finalizer), which is not what happens in a cluster where the adapter runs.
 *
 * The API server reaches an APIService's backend at its Service's ClusterIP (kube-aggregator's ClusterIP resolver),
 * which in this harness is a loopback address (components.ts SERVICE_CIDR): the stand-in listens there. It answers
 * as an adapter with no series in Prometheus does (nothing runs that Prometheus could scrape): discovery with no
 * resources, and 404 for every metric, which the HPA reports as a metrics failure.
 */
export class ExtensionApiStandIn {
  private readonly servers = new Map<string, https.Server>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private lastError: string | undefined;
  /** Backends served so far, `ip:port` by APIService name: what the tests report. */
  readonly served = new Map<string, string>();

  constructor(
    private readonly client: KubeClient,
    private readonly tls: KeyPair,
  ) {}

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => {
      this.polling = this.polling
        .then(() => this.poll())
        .catch((error: Error) => {
          // Binding a Service's port (443) needs root or CAP_NET_BIND_SERVICE: say so once, not at every poll.
          if (error.message !== this.lastError) console.error(`extension API stand-in: ${error.message}`);
          this.lastError = error.message;
        });
    }, intervalMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    for (const apiService of await this.client.list('/apis/apiregistration.k8s.io/v1/apiservices')) {
      const ref = apiService.spec?.service as { namespace: string; name: string; port?: number } | undefined;
      if (ref === undefined) continue;
      const service = await this.client.get(`/api/v1/namespaces/${ref.namespace}/services/${ref.name}`);
      const ip: string | undefined = service?.spec?.clusterIP;
      if (ip === undefined || !ip.startsWith('127.')) continue;
      const address = `${ip}:${ref.port ?? 443}`;
      if (!this.servers.has(address)) await this.listen(ip, ref.port ?? 443, apiService);
      this.served.set(apiService.metadata.name, address);
    }
  }

  private listen(ip: string, port: number, apiService: KubeObject): Promise<void> {
    const { group, version } = apiService.spec as { group: string; version: string };
    const groupVersion = `${group}/${version}`;
    const server = https.createServer({ cert: fs.readFileSync(this.tls.cert), key: fs.readFileSync(this.tls.key) }, (req, res) => {
      const url = new URL(req.url ?? '/', 'https://stand-in');
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (url.pathname === '/apis' || url.pathname === '/apis/') {
        const versions = [{ groupVersion, version }];
        return send(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: group, versions, preferredVersion: versions[0] }] });
      }
      if (url.pathname === `/apis/${groupVersion}` || url.pathname === `/apis/${groupVersion}/`) {
        return send(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources: [] });
      }
      if (['/healthz', '/readyz', '/livez'].includes(url.pathname)) return send(200, 'ok');
      return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `the server could not find the metric for ${url.pathname}` });
    });
    this.servers.set(`${ip}:${port}`, server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, ip, () => resolve());
    });
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.polling;
    await Promise.all(
      [...this.servers.values()].map((server) => {
        const closed = new Promise((resolve) => server.close(resolve));
        // The aggregator keeps its connections alive: close() alone would wait for them.
        server.closeAllConnections();
        return closed;
      }),
    );
    this.servers.clear();
  }
}
