import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeClient, KubeObject } from './control-plane/kube-client';
import { DeployWorkspace, runCommand } from './deploy-workspace';
import { helmBinary } from './helm';
import { expectExit, stackDirectories, synth } from './terraform-run';

/** A pod that the `restricted` Pod Security level refuses: privileged, root, no seccomp profile. */
export function privilegedPod(namespace: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'pod-security-probe', namespace },
    spec: { containers: [{ name: 'probe', image: 'busybox:1.36', securityContext: { privileged: true, runAsUser: 0 } }] },
  };
}

const condition = (object: KubeObject, type: string) =>
  (object.status?.conditions ?? []).find((c: { type: string; status: string }) => c.type === type && c.status === 'True') as
    | { lastTransitionTime: string; reason?: string }
    | undefined;

/** The conversion Job(s) of the serving namespace, with when each completed (undefined while it has not). */
export async function conversionJobs(client: KubeClient, namespace: string): Promise<{ job: KubeObject; completedAt: Date | undefined }[]> {
  const jobs = await client.list(`/apis/batch/v1/namespaces/${namespace}/jobs`);
  return jobs
    .filter((job) => job.metadata.name.startsWith('omniglue-convert-'))
    .map((job) => ({ job, completedAt: condition(job, 'Complete') ? new Date(job.status.completionTime) : undefined }));
}

/** Whether a Deployment's newest template is rolled out: every replica updated, ready and available. */
export function rolledOut(deployment: KubeObject): boolean {
  const { spec, status, metadata } = deployment;
  const replicas = spec.replicas ?? 1;
  return (
    status?.observedGeneration === metadata.generation &&
    status?.updatedReplicas === replicas &&
    status?.readyReplicas === replicas &&
    status?.availableReplicas === replicas &&
    condition(deployment, 'Progressing')?.reason === 'NewReplicaSetAvailable'
  );
}

/** The Terraform text escapes (lib/terraform-text.ts) undone, as Terraform's template evaluation undoes them. */
const unescapeTemplate = (text: string) => text.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{');

/**
 * The objects of one of this repository's local-chart releases, rendered by helm from what a synthesis gives the
 * release (chart path and values), for a server-side dry run: the configuration with your own Prometheus Operator is
 * the one that ships a PodMonitor.
 */
export async function renderLocalRelease(ws: DeployWorkspace, config: object, stack: string, releaseName: string): Promise<KubeObject[]> {
  // Beside cdktf.out, at the same depth: the release's chart path is relative to the stack directory.
  const outDir = path.join(ws.root, 'cdktf.render');
  await synth(ws, outDir, ws.writeConfig(config, 'omniglue.render.json'));
  const stackDir = stackDirectories(outDir)[stack];
  const doc = JSON.parse(fs.readFileSync(path.join(stackDir, 'cdk.tf.json'), 'utf8'));
  const release = Object.values(doc.resource.helm_release as Record<string, { name: string; chart: string; namespace: string; values: string[] }>).find((r) => r.name === releaseName);
  if (release === undefined) throw new Error(`no helm_release ${releaseName} in ${stack}`);
  const valuesFile = path.join(outDir, `${releaseName}.values.yaml`);
  fs.writeFileSync(valuesFile, unescapeTemplate(release.values.join('\n---\n')));
  const rendered = await runCommand(helmBinary(), ['template', releaseName, path.resolve(stackDir, release.chart), '--namespace', release.namespace, '-f', valuesFile], {
    cwd: ws.root,
    env: process.env,
    timeoutMs: 60_000,
  });
  expectExit('helm template', rendered);
  return parseAllDocuments(rendered.stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null)
    .map((o) => ({ ...o, metadata: { ...o.metadata, namespace: o.metadata.namespace ?? release.namespace } }));
}

/** Plural resource path of a monitoring.coreos.com object, for a create. */
export function monitoringPath(object: KubeObject): string {
  const plural = `${object.kind?.toLowerCase()}s`;
  return `/apis/${object.apiVersion}/namespaces/${object.metadata.namespace}/${plural}`;
}
