import type { Pki } from './pki';

/** Where each engine listens; every address is on loopback. */
export interface Ports {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly apiserver: number;
  readonly controllerManager: number;
  readonly scheduler: number;
  readonly kwok: number;
}

/**
 * Service ClusterIPs are taken from a loopback range. The API server itself dials Service IPs: admission webhooks
 * and APIService backends are reached through their Service's ClusterIP (the default ClusterIP resolver,
 * k8s.io/kube-aggregator pkg/apiserver/resolvers.go), and a fake cluster must never send packets off this machine.
 * On loopback a missing backend is refused at once, and the harness can stand in for one at that very address.
 */
export const SERVICE_CIDR = '127.96.0.0/16';
/** The `kubernetes` Service's ClusterIP: the first address of the range (Kubernetes docs, "Extend Service IP Ranges"). */
export const KUBERNETES_SERVICE_IP = '127.96.0.1';

export function etcdArgs(dataDir: string, ports: Ports): string[] {
  const client = `http://127.0.0.1:${ports.etcdClient}`;
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  return [
    '--name=harness',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=harness=${peer}`,
    // A test cluster lives minutes and is thrown away: fsync buys nothing but seconds on a shared disk.
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ];
}

export function apiserverArgs(pki: Pki, ports: Ports): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.apiserver}`,
    '--advertise-address=127.0.0.1',
    // The reconciler would publish the advertised address as the `kubernetes` Endpoints, which reject loopback
    // addresses (ValidateNonSpecialIP); nothing in this cluster reaches the API server through that Service.
    '--endpoint-reconciler-type=none',
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    `--client-ca-file=${pki.ca.cert}`,
    `--tls-cert-file=${pki.apiserver.cert}`,
    `--tls-private-key-file=${pki.apiserver.key}`,
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    '--authorization-mode=Node,RBAC',
    // The default plugin set (PodSecurity, NamespaceLifecycle, ServiceAccount, DefaultStorageClass,
    // PersistentVolumeClaimResize, ...), named so the test's premise is explicit: PodSecurity is enforced.
    '--enable-admission-plugins=PodSecurity,NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,PersistentVolumeClaimResize,StorageObjectInUseProtection,DefaultTolerationSeconds,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,ResourceQuota,Priority,RuntimeClass,NodeRestriction,TaintNodesByCondition',
    // The aggregation layer, for prometheus-adapter's custom.metrics.k8s.io APIService.
    `--requestheader-client-ca-file=${pki.frontProxyCa.cert}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${pki.frontProxyClient.cert}`,
    `--proxy-client-key-file=${pki.frontProxyClient.key}`,
    // DaemonSets of the platform charts (device plugin, node exporter) run privileged or on the host network.
    '--allow-privileged=true',
    '--profiling=false',
    '--v=1',
  ];
}

/**
 * What the controller-manager and the scheduler share: one kubeconfig for the API and for delegated authn/authz, no
 * leader election (one instance), their own HTTPS port on loopback only.
 */
function controlLoopArgs(kubeconfig: string, securePort: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${securePort}`,
    '--profiling=false',
    '--v=1',
  ];
}

export function controllerManagerArgs(pki: Pki, kubeconfig: string, ports: Ports): string[] {
  return [
    ...controlLoopArgs(kubeconfig, ports.controllerManager),
    `--root-ca-file=${pki.ca.cert}`,
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    // Each controller acts as its own service account with its own bootstrap role, as kubeadm runs it; the
    // controller-manager's own role covers none of their work (creating pods, ReplicaSets, ...).
    '--use-service-account-credentials=true',
    // The default controller set: Deployments, ReplicaSets, Jobs, the HPA, the garbage collector, namespaces, PV
    // binding and PVC protection among them.
    '--controllers=*',
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
  ];
}

export function schedulerArgs(kubeconfig: string, ports: Ports): string[] {
  return controlLoopArgs(kubeconfig, ports.scheduler);
}

export function kwokArgs(kubeconfig: string, ports: Ports, config: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--config=${config}`,
    '--manage-all-nodes=true',
    // kwok's own server (logs, exec, port-forward of fake pods) stays on loopback.
    `--server-address=127.0.0.1:${ports.kwok}`,
    '--node-ip=127.0.0.1',
  ];
}
