import * as fs from 'node:fs';
import * as path from 'node:path';
import { readStacks } from '../../scripts/review/cli';
import { compareSyntheses } from '../../scripts/review/compare';
import type { KubeClient } from './control-plane/kube-client';
import { DeployWorkspace } from './deploy-workspace';
import { expectExit, planChanges, reviewAction, terraform } from './terraform-run';

/** What one side says of a change: per resource address its action, and which Deployments roll and Jobs run. */
export interface Verdict {
  readonly actions: Record<string, string>;
  readonly rollouts: string[];
  readonly jobRuns: string[];
}

/** The Terraform JSON of a synthesis, without Terraform's working files: the review's `--against` directory. */
export function snapshotSynth(outDir: string, snapshotDir: string): void {
  fs.rmSync(snapshotDir, { recursive: true, force: true });
  fs.mkdirSync(snapshotDir, { recursive: true });
  fs.copyFileSync(path.join(outDir, 'manifest.json'), path.join(snapshotDir, 'manifest.json'));
  for (const stack of fs.readdirSync(path.join(outDir, 'stacks'))) {
    fs.mkdirSync(path.join(snapshotDir, 'stacks', stack), { recursive: true });
    fs.copyFileSync(path.join(outDir, 'stacks', stack, 'cdk.tf.json'), path.join(snapshotDir, 'stacks', stack, 'cdk.tf.json'));
  }
}

/** The review's verdict on `before` → `after`, as `npm run review -- --against` computes it, for one stack. */
export function reviewVerdict(beforeDir: string, afterDir: string, stack: string): Verdict {
  const review = compareSyntheses(readStacks(beforeDir), readStacks(afterDir));
  const ofStack = <T extends { stack: string }>(items: T[]) => items.filter((item) => item.stack === stack);
  return {
    actions: Object.fromEntries(ofStack(review.resources).map((r) => [r.address, r.action])),
    rollouts: ofStack(review.consequences).filter((c) => c.kind === 'rollout').map((c) => c.address).sort(),
    jobRuns: ofStack(review.consequences).filter((c) => c.kind === 'job-run').map((c) => c.address).sort(),
  };
}

/** Terraform's plan of a stack as actions per managed resource (no-ops left out). */
export async function terraformActions(ws: DeployWorkspace, stackDir: string): Promise<Record<string, string>> {
  const actions: Record<string, string> = {};
  for (const change of await planChanges(ws, stackDir)) {
    const action = change.mode === 'managed' ? reviewAction(change.actions) : undefined;
    if (action !== undefined) actions[change.address] = action;
  }
  return actions;
}

export async function applySavedPlan(ws: DeployWorkspace, stackDir: string): Promise<void> {
  expectExit(`terraform apply in ${path.basename(stackDir)}`, await terraform(ws, stackDir, ['apply', '-input=false', '-lock=false', 'engine-test.tfplan'], 900_000));
}

/** Where Terraform put each Deployment and Job of a stack: address → `namespace/name`, from its state. */
export async function workloadAddresses(ws: DeployWorkspace, stackDir: string): Promise<Record<string, { type: string; key: string }>> {
  const show = expectExit('terraform show -json', await terraform(ws, stackDir, ['show', '-json']));
  type Resource = { address: string; type: string; values: { metadata?: { namespace: string; name: string }[] } };
  const state = JSON.parse(show.stdout) as { values?: { root_module?: { resources?: Resource[] } } };
  const out: Record<string, { type: string; key: string }> = {};
  for (const resource of state.values?.root_module?.resources ?? []) {
    const metadata = resource.values.metadata?.[0];
    if (/^kubernetes_(deployment|job)_v1$/.test(resource.type) && metadata !== undefined) out[resource.address] = { type: resource.type, key: `${metadata.namespace}/${metadata.name}` };
  }
  return out;
}

/** The API server's Deployments and Jobs (`namespace/name` → uid) and ReplicaSets (uid → owning Deployment's uid). */
export interface ClusterWorkloads {
  readonly deployments: Map<string, string>;
  readonly jobs: Map<string, string>;
  readonly replicaSets: Map<string, string>;
}

export async function clusterWorkloads(client: KubeClient): Promise<ClusterWorkloads> {
  const byKey = async (path: string) => new Map((await client.list(path)).map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o.metadata.uid as string]));
  const sets = await client.list('/apis/apps/v1/replicasets');
  return {
    deployments: await byKey('/apis/apps/v1/deployments'),
    jobs: await byKey('/apis/batch/v1/jobs'),
    replicaSets: new Map(sets.map((rs) => [rs.metadata.uid as string, (rs.metadata.ownerReferences ?? []).find((o: { kind: string }) => o.kind === 'Deployment')?.uid ?? ''])),
  };
}

/**
 * What the API server shows after an apply: a Deployment rolled when it is the same object as before (same uid)
 * and owns a ReplicaSet that did not exist before; a Job ran when its object is new (a uid not there before).
 */
export function observedVerdict(addresses: Record<string, { type: string; key: string }>, before: ClusterWorkloads, after: ClusterWorkloads): Pick<Verdict, 'rollouts' | 'jobRuns'> {
  const jobsBefore = new Set(before.jobs.values());
  const rollouts: string[] = [];
  const jobRuns: string[] = [];
  for (const [address, { type, key }] of Object.entries(addresses)) {
    if (type === 'kubernetes_job_v1') {
      const uid = after.jobs.get(key);
      if (uid !== undefined && !jobsBefore.has(uid)) jobRuns.push(address);
      continue;
    }
    const uid = after.deployments.get(key);
    if (uid === undefined || before.deployments.get(key) !== uid) continue;
    if ([...after.replicaSets].some(([rs, owner]) => owner === uid && !before.replicaSets.has(rs))) rollouts.push(address);
  }
  return { rollouts: rollouts.sort(), jobRuns: jobRuns.sort() };
}
