import * as path from 'node:path';
import { added, Inventory, takeInventory } from '../support/cluster-inventory';
import type { KubeClient } from '../support/control-plane/kube-client';
import { describe as describeStatus } from '../support/control-plane/kube-client';
import { waitFor } from '../support/control-plane/processes';
import { conversionJobs, monitoringPath, privilegedPod, renderLocalRelease, rolledOut } from '../support/deploy-checks';
import { createDeployWorkspace, DeployWorkspace, runCommand } from '../support/deploy-workspace';
import { engineCluster, EngineCluster, harnessConfig } from '../support/engines-cluster';
import { expectExit, stackDirectories, terraform } from '../support/terraform-run';

// The user's own commands against the control plane of the global set-up: `npm run deploy` applies both stacks,
// a second plan finds nothing to change, and `npm run destroy` leaves only what the charts never remove.
// `--skip-provider-lock`: without a lock file cdktf runs `terraform providers lock` after init (@cdktf/cli-core
// models/terraform-cli.js, init), which fetches checksums "from upstream registries, regardless of the provider
// installation configuration" (terraform internal/command/providers_lock.go, ProvidersLockCommand): offline it fails,
// and the mirror's stand-in builds would not match the registry's checksums anyway. `terraform init` itself records
// the mirror's checksums in each stack's .terraform.lock.hcl.
const CDKTF_ARGS = ['--', '--auto-approve', '--skip-provider-lock'];
const NAMESPACE = 'omniglue';
const TRITON = 'omniglue-triton';

let cluster: EngineCluster;
let client: KubeClient;
let ws: DeployWorkspace;
let before: Inventory;
const timings: Record<string, number> = {};

async function npmRun(script: 'deploy' | 'destroy'): Promise<void> {
  const result = await runCommand('npm', ['run', script, ...CDKTF_ARGS], { cwd: ws.root, env: ws.env(), timeoutMs: 900_000 });
  timings[script] = result.seconds;
  expectExit(`npm run ${script}`, result);
}

beforeAll(async () => {
  cluster = engineCluster();
  client = cluster.client;
  ws = createDeployWorkspace();
  ws.writeConfig(harnessConfig(cluster));
  before = await takeInventory(client);
});

afterAll(() => {
  console.log(`deploy cycle: ${Object.entries(timings).map(([step, s]) => `${step} ${s.toFixed(0)} s`).join(', ')}`);
  cluster?.close();
  ws?.remove();
});

describe('npm run deploy, plan and destroy on a real control plane', () => {
  test('npm run deploy applies both stacks', async () => {
    await npmRun('deploy');
    const releases = (await client.list('/api/v1/secrets?labelSelector=owner%3Dhelm')).map((s) => s.metadata.labels.name).sort();
    expect([...new Set(releases)]).toEqual(['kube-prometheus-stack', 'nvidia-device-plugin', 'omniglue-alerts', 'prometheus-adapter']);
    // The adapter's APIService answers (the harness's stand-in, docs/engines-cluster.md): discovery, the HPA and
    // namespace deletion depend on it.
    await waitFor('the custom.metrics.k8s.io APIService to be Available', 60_000, async () => {
      const apiService = await client.get('/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.custom.metrics.k8s.io');
      const available = (apiService?.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Available');
      if (available?.status === 'True') return true;
      throw new Error(`${available?.reason ?? 'no condition'}: ${available?.message ?? ''}`);
    });
  });

  test('the serving namespace enforces Pod Security restricted: a privileged pod is refused', async () => {
    const namespace = await client.get(`/api/v1/namespaces/${NAMESPACE}`);
    expect(namespace.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const res = await client.create(`/api/v1/namespaces/${NAMESPACE}/pods?dryRun=All`, privilegedPod(NAMESPACE));
    expect(res.status).toBe(403);
    expect(describeStatus(res.body)).toMatch(/violates PodSecurity "restricted:/);
    // The same pod where nothing is enforced is admitted: the refusal above is the namespace's doing.
    expect((await client.create('/api/v1/namespaces/default/pods?dryRun=All', privilegedPod('default'))).status).toBe(201);
  });

  test('the conversion Job completes before the Triton Deployment exists, and the rollout completes on GPU nodes', async () => {
    const jobs = await conversionJobs(client, NAMESPACE);
    expect(jobs).toHaveLength(1);
    const [{ job, completedAt }] = jobs;
    expect(completedAt).toBeDefined();
    const deployment = await client.get(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${TRITON}`);
    expect(new Date(deployment.metadata.creationTimestamp).getTime()).toBeGreaterThanOrEqual((completedAt as Date).getTime());
    expect(rolledOut(deployment)).toBe(true);
    const pods = await client.list(`/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${encodeURIComponent('app.kubernetes.io/name=triton')}`);
    expect(pods.length).toBe(deployment.spec.replicas);
    for (const pod of pods) expect(pod.spec.nodeName).toMatch(/^gpu-node-/);
    const jobPods = await client.list(`/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${encodeURIComponent(`job-name=${job.metadata.name}`)}`);
    expect(jobPods.map((pod) => pod.status.phase)).toEqual(['Succeeded']);
    const claim = await client.get(`/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims/omniglue-model-repository`);
    expect(claim.status.phase).toBe('Bound');
  });

  test("kube-prometheus-stack's CRDs accept the PrometheusRule, and the PodMonitor of the own-operator configuration", async () => {
    const rules = await client.list('/apis/monitoring.coreos.com/v1/prometheusrules');
    const alerts = rules.find((rule) => rule.metadata.name === 'omniglue-alerts');
    expect(alerts?.spec.groups.length).toBeGreaterThan(0);
    const ownOperator = harnessConfig(cluster, { monitoring: { installKubePrometheusStack: false, existingPrometheusUrl: 'http://prometheus-operated.monitoring.svc:9090' } });
    const objects = await renderLocalRelease(ws, ownOperator, 'omniglue-serving', 'omniglue-pod-monitor');
    expect(objects.map((o) => o.kind)).toEqual(['PodMonitor']);
    for (const object of objects) {
      const res = await client.create(`${monitoringPath(object)}?dryRun=All`, object);
      expect({ status: res.status, message: describeStatus(res.body) }).toEqual({ status: 201, message: expect.anything() });
    }
    // The CRD's schema is enforced: the same object with a malformed endpoint list is refused.
    const broken = { ...objects[0], spec: { ...objects[0].spec, podMetricsEndpoints: 'every pod' } };
    expect((await client.create(`${monitoringPath(broken)}?dryRun=All`, broken)).status).toBe(422);
  });

  test('terraform plan -detailed-exitcode finds no change on either stack', async () => {
    const stacks = stackDirectories(path.join(ws.root, 'cdktf.out'));
    expect(Object.keys(stacks).sort()).toEqual(['gpu-platform', 'omniglue-serving']);
    for (const [name, dir] of Object.entries(stacks)) {
      const plan = await terraform(ws, dir, ['plan', '-detailed-exitcode', '-input=false', '-lock=false']);
      expectExit(`terraform plan of ${name} (exit 2: a change to a just-applied stack, a perpetual diff)`, plan);
    }
  });

  test('npm run destroy leaves none of our objects: only the CRDs and the namespaces Helm created stay', async () => {
    await npmRun('destroy');
    const left = added(before, await takeInventory(client));
    const crds = left.filter((entry) => entry.startsWith('apiextensions.k8s.io/CustomResourceDefinition '));
    const crdGroups = new Set(crds.map((entry) => entry.split(' ')[1].replace(/^[^.]+\./, '')));
    // kube-apiserver registers a local APIService for each CRD group version (kube-aggregator's
    // pkg/controllers/autoregister): they stay with the CRDs.
    const crdApiServices = left.filter((entry) => /^apiregistration\.k8s\.io\/APIService /.test(entry) && crdGroups.has(entry.split(' ')[1].replace(/^[^.]+\./, '')));
    const helmNamespaces = ['monitoring', 'nvidia-device-plugin'];
    // What Kubernetes itself puts in every namespace (the service-account and root-CA publishers).
    const namespaceDefaults = helmNamespaces.flatMap((ns) => [`core/ConfigMap ${ns}/kube-root-ca.crt`, `core/Namespace ${ns}`, `core/ServiceAccount ${ns}/default`]);
    expect(left.filter((entry) => ![...crds, ...crdApiServices, ...namespaceDefaults].includes(entry))).toEqual([]);
    expect(crds.every((entry) => /\.(monitoring\.coreos\.com|nfd\.k8s-sigs\.io)$/.test(entry))).toBe(true);
    expect(await client.get(`/api/v1/namespaces/${NAMESPACE}`)).toBeUndefined();
    console.log(`after destroy, beyond the control plane's own objects:\n  ${left.join('\n  ')}`);
  });
});
