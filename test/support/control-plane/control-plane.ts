import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { apiserverArgs, controllerManagerArgs, etcdArgs, KUBERNETES_SERVICE_IP, kwokArgs, Ports, schedulerArgs } from './components';
import { ExtensionApiStandIn } from './extension-api';
import { KubeClient } from './kube-client';
import { kwokConfiguration } from './kwok-stages';
import { fakeNodes, nodeObject, storageObjects } from './nodes';
import { ClientName, createPki, Pki, writeKubeconfig } from './pki';
import { Daemon, freePort, logTail, MemorySampler, startDaemon, stopDaemon, waitFor } from './processes';
import { ControlPlaneBinaries, controlPlaneBinaries } from './binaries';

export interface ControlPlane {
  /** Temporary directory with the PKI, kubeconfigs, etcd data and logs; removed by stop(). */
  readonly dir: string;
  /** Administrator kubeconfig, for Terraform, helm and the tests. */
  readonly kubeconfig: string;
  readonly server: string;
  readonly client: KubeClient;
  readonly daemons: Daemon[];
  readonly memory: MemorySampler;
  /** Seconds from the first process to nodes Ready and storage in place. */
  readonly startSeconds: number;
  stop(): Promise<void>;
}

/** Every wait of the start-up is bounded; on a loaded 2-core machine the API server takes 10-30 s to be ready. */
const START_TIMEOUT_MS = 180_000;

async function ports(): Promise<Ports> {
  const [etcdClient, etcdPeer, apiserver, controllerManager, scheduler, kwok] = await Promise.all(Array.from({ length: 6 }, freePort));
  return { etcdClient, etcdPeer, apiserver, controllerManager, scheduler, kwok };
}

/** An HTTPS health endpoint that answers 200 `ok`, without client credentials (the components allow /healthz anonymously). */
function healthy(url: string): Promise<true | undefined> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? true : undefined);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer`)));
    req.on('error', reject);
  });
}

async function startProcesses(bin: ControlPlaneBinaries, dir: string, pki: Pki, p: Ports, kubeconfigs: Record<ClientName, string>, daemons: Daemon[], client: KubeClient): Promise<void> {
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  const start = (name: string, binary: string, args: string[]) => {
    const daemon = startDaemon(name, binary, args, logs);
    daemons.push(daemon);
    return daemon;
  };
  const etcd = start('etcd', bin.etcd, etcdArgs(path.join(dir, 'etcd'), p));
  await waitFor('etcd /health', START_TIMEOUT_MS, async () => {
    const res = await fetch(`http://127.0.0.1:${p.etcdClient}/health`);
    return res.ok ? true : undefined;
  }, [etcd]);
  const apiserver = start('kube-apiserver', bin.kubeApiserver, apiserverArgs(pki, p));
  await waitFor('kube-apiserver /readyz', START_TIMEOUT_MS, async () => ((await client.request('GET', '/readyz')).status === 200 ? true : undefined), [etcd, apiserver]);
  const controllerManager = start('kube-controller-manager', bin.kubeControllerManager, controllerManagerArgs(pki, kubeconfigs.controllerManager, p));
  const scheduler = start('kube-scheduler', bin.kubeScheduler, schedulerArgs(kubeconfigs.scheduler, p));
  const kwokConfig = path.join(dir, 'kwok.yaml');
  fs.writeFileSync(kwokConfig, kwokConfiguration());
  const kwok = start('kwok', bin.kwok, kwokArgs(kubeconfigs.kwok, p, kwokConfig));
  const all = [etcd, apiserver, controllerManager, scheduler, kwok];
  await waitFor('kube-scheduler /healthz', START_TIMEOUT_MS, () => healthy(`https://127.0.0.1:${p.scheduler}/healthz`), all);
  await waitFor('kube-controller-manager /healthz', START_TIMEOUT_MS, () => healthy(`https://127.0.0.1:${p.controllerManager}/healthz`), all);
  // The service-account controller of kube-controller-manager: every namespace gets its `default` account.
  await waitFor('the default ServiceAccount', START_TIMEOUT_MS, async () => ((await client.get('/api/v1/namespaces/default/serviceaccounts/default')) ? true : undefined), all);
}

async function addNodesAndStorage(client: KubeClient, daemons: Daemon[]): Promise<void> {
  const nodes = fakeNodes();
  for (const node of nodes) {
    await client.apply(`/api/v1/nodes/${node.name}`, nodeObject(node));
    // Capacity is node status, which a kubelet reports; kwok's stages keep what is set here.
    const res = await client.request('PATCH', `/api/v1/nodes/${node.name}/status`, { status: { capacity: node.capacity, allocatable: node.allocatable } }, 'application/merge-patch+json');
    if (res.status >= 300) throw new Error(`cannot set the capacity of ${node.name}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  await waitFor(`${nodes.length} fake nodes Ready`, START_TIMEOUT_MS, async () => {
    const ready = (await client.list('/api/v1/nodes')).filter((node) =>
      (node.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'),
    );
    return ready.length === nodes.length ? true : undefined;
  }, daemons);
  for (const { path: objectPath, object } of storageObjects()) await client.apply(objectPath, object);
}

/**
 * Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on loopback, with fake CPU and GPU
 * nodes and storage, and the stand-in for extension API servers. Throws (after stopping what it started) when any
 * step does not finish in time, quoting the log of the process that failed.
 */
export async function startControlPlane(): Promise<ControlPlane> {
  const started = Date.now();
  const bin = controlPlaneBinaries();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-control-plane-'));
  const daemons: Daemon[] = [];
  const memory = new MemorySampler(() => daemons);
  const p = await ports();
  const pki = createPki(path.join(dir, 'pki'), KUBERNETES_SERVICE_IP);
  const server = `https://127.0.0.1:${p.apiserver}`;
  const kubeconfigs = Object.fromEntries(
    (Object.keys(pki.clients) as ClientName[]).map((name) => [name, writeKubeconfig(path.join(dir, `${name}.kubeconfig`), server, pki.ca.cert, pki.clients[name])]),
  ) as Record<ClientName, string>;
  const client = new KubeClient(server, pki.ca.cert, pki.clients.admin);
  const extensionApis = new ExtensionApiStandIn(client, pki.apiserver);
  const stop = async () => {
    memory.stop();
    await extensionApis.stop();
    client.close();
    // The API server's clients first, then the API server, etcd last.
    const [etcd, apiserver, ...clients] = daemons;
    await Promise.all(clients.map((daemon) => stopDaemon(daemon, 5000)));
    for (const daemon of [apiserver, etcd]) if (daemon !== undefined) await stopDaemon(daemon, 5000);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    memory.start();
    await startProcesses(bin, dir, pki, p, kubeconfigs, daemons, client);
    await addNodesAndStorage(client, daemons);
    extensionApis.start();
  } catch (error) {
    const logs = daemons.map((d) => `--- ${d.name} (${d.exited ?? 'running'}):\n${logTail(d, 8)}`).join('\n');
    await stop();
    throw new Error(`the control plane did not start: ${error instanceof Error ? error.message : String(error)}\n${logs}`);
  }
  return { dir, kubeconfig: kubeconfigs.admin, server, client, daemons, memory, startSeconds: (Date.now() - started) / 1000, stop };
}
