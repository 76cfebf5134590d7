import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A certificate and its key, as files. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface Pki {
  readonly ca: KeyPair;
  /** kube-apiserver's serving certificate (127.0.0.1, localhost and the in-cluster names). */
  readonly apiserver: KeyPair;
  /** The aggregator's client certificate towards extension API servers, signed by its own CA. */
  readonly frontProxyCa: KeyPair;
  readonly frontProxyClient: KeyPair;
  /** Service-account token signing key (private) and its public half. */
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
  /** Client certificates by user, for the kubeconfigs of each component. */
  readonly clients: Readonly<Record<ClientName, KeyPair>>;
}

/**
 * Who talks to the API server. The controllers get their own identities, so RBAC authorizes them through the
 * bootstrap roles kube-apiserver creates for `system:kube-controller-manager` and `system:kube-scheduler`
 * (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go); kwok plays every kubelet at once, which no single
 * node identity covers, so it is an administrator, as kwokctl makes it.
 */
export const CLIENTS = {
  admin: { cn: 'omniglue-test-admin', org: 'system:masters' },
  controllerManager: { cn: 'system:kube-controller-manager', org: undefined },
  scheduler: { cn: 'system:kube-scheduler', org: undefined },
  kwok: { cn: 'kwok-controller', org: 'system:masters' },
} as const;
export type ClientName = keyof typeof CLIENTS;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function ecKey(file: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
}

function selfSignedCa(dir: string, name: string): KeyPair {
  const pair = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  ecKey(pair.key);
  openssl(['req', '-x509', '-new', '-key', pair.key, '-subj', `/CN=${name}`, '-days', '2', '-out', pair.cert,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature']);
  return pair;
}

function signed(dir: string, name: string, ca: KeyPair, subject: string, extensions: string[]): KeyPair {
  const pair = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  ecKey(pair.key);
  openssl(['req', '-new', '-key', pair.key, '-subj', subject, '-out', csr]);
  fs.writeFileSync(ext, `${extensions.join('\n')}\n`);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-out', pair.cert, '-extfile', ext]);
  return pair;
}

const CLIENT_EXTENSIONS = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth'];

/**
 * A throw-away PKI, valid two days, made with the openssl CLI (Node has no API to issue certificates).
 * `serviceIp` is the first address of the Service range: pods reach the API server through it as `kubernetes`.
 */
export function createPki(dir: string, serviceIp: string): Pki {
  fs.mkdirSync(dir, { recursive: true });
  const ca = selfSignedCa(dir, 'ca');
  const sans = ['IP:127.0.0.1', `IP:${serviceIp}`, 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local'];
  const apiserver = signed(dir, 'apiserver', ca, '/CN=kube-apiserver', [
    'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', `subjectAltName=${sans.join(',')}`,
  ]);
  const frontProxyCa = selfSignedCa(dir, 'front-proxy-ca');
  const frontProxyClient = signed(dir, 'front-proxy-client', frontProxyCa, '/CN=front-proxy-client', CLIENT_EXTENSIONS);
  const serviceAccountKey = path.join(dir, 'sa.key');
  const serviceAccountPub = path.join(dir, 'sa.pub');
  ecKey(serviceAccountKey);
  openssl(['pkey', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPub]);
  const clients = Object.fromEntries(
    Object.entries(CLIENTS).map(([name, { cn, org }]) => [name, signed(dir, `client-${name}`, ca, `${org ? `/O=${org}` : ''}/CN=${cn}`, CLIENT_EXTENSIONS)]),
  ) as Record<ClientName, KeyPair>;
  return { ca, apiserver, frontProxyCa, frontProxyClient, serviceAccountKey, serviceAccountPub, clients };
}

/** A kubeconfig for one client, with the certificates embedded so the file stands alone. */
export function writeKubeconfig(file: string, server: string, ca: string, client: KeyPair, context = 'omniglue-test'): string {
  const b64 = (f: string) => fs.readFileSync(f).toString('base64');
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: context, cluster: { server, 'certificate-authority-data': b64(ca) } }],
    users: [{ name: context, user: { 'client-certificate-data': b64(client.cert), 'client-key-data': b64(client.key) } }],
    contexts: [{ name: context, context: { cluster: context, user: context } }],
    'current-context': context,
  };
  fs.writeFileSync(file, JSON.stringify(doc, null, 2), { mode: 0o600 });
  return file;
}
