/** Checks: each a small function of one stack's summary; the review lists their findings first. */

import type { StackSummary } from './summarize';
import { GPU_RESOURCE } from './workloads';

export interface Finding {
  readonly check: string;
  readonly stack: string;
  readonly message: string;
}

/** Terraform duration (`70m`, `1h30m`, `90s`) in seconds; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text.trim()) return undefined;
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  return parts.reduce((total, [, value, u]) => total + Number(value) * unit[u], 0);
}

/** The kubernetes provider waits 1 minute for a Job's creation unless `timeouts.create` says otherwise. */
const PROVIDER_DEFAULT_CREATE_TIMEOUT_SECONDS = 60;
export const MIN_JOB_CREATE_TIMEOUT_SECONDS = 5 * 60;

type Check = (summary: StackSummary) => Finding[];

function finding(summary: StackSummary, check: string, message: string): Finding {
  return { check, stack: summary.stack, message };
}

/** A local chart (a path) is pinned by the repository that holds it; only charts from a repository need a version. */
export function isLocalChart(chart: string): boolean {
  return chart.startsWith('./') || chart.startsWith('../') || chart.startsWith('/');
}

/** A chart without a version (or with a range) installs whatever is newest on the day of the apply. */
export const checkChartVersionPinned: Check = (summary) =>
  summary.helmReleases
    .filter((release) => !isLocalChart(release.chart))
    .filter((release) => release.version === undefined || !/^v?\d+\.\d+\.\d+([-+][\w.-]+)?$/.test(release.version))
    .map((release) =>
      finding(summary, 'chart-version', `Helm release \`${release.name}\` (chart \`${release.chart}\`) has ${release.version === undefined ? 'no version' : `version \`${release.version}\``}: pin an exact chart version`),
    );

/** `:latest` or no tag at all: a node pulls whatever the tag points to that day, and rollbacks cannot go back. */
export const checkImageTagged: Check = (summary) =>
  summary.images
    .filter((image) => image.digest === undefined && (image.tag === undefined || image.tag === 'latest'))
    .map((image) =>
      finding(summary, 'image-tag', `${image.workload} container \`${image.container}\` uses \`${image.image}\`${image.tag === undefined ? ' without a tag' : ''}: pin a version tag or digest`),
    );

/** GPU nodes are normally tainted; a GPU pod that tolerates nothing stays Pending. */
export const checkGpuToleration: Check = (summary) =>
  summary.gpu
    .filter((row) => (row.gpuRequest !== undefined || row.gpuLimit !== undefined) && row.tolerations.length === 0)
    .map((row) => finding(summary, 'gpu-toleration', `${row.workload} container \`${row.container}\` uses ${GPU_RESOURCE} but tolerates no taint: it cannot schedule onto tainted GPU nodes`));

/** Extended resources cannot be overcommitted: Kubernetes rejects a GPU request without an equal limit. */
export const checkGpuLimit: Check = (summary) =>
  summary.gpu
    .filter((row) => row.gpuRequest !== undefined && row.gpuRequest !== row.gpuLimit)
    .map((row) => finding(summary, 'gpu-limit', `${row.workload} container \`${row.container}\` requests ${row.gpuRequest} ${GPU_RESOURCE} but limits ${row.gpuLimit ?? 'none'}: they must be equal`));

/** An HPA whose target is not in the stack scales nothing (a renamed Deployment, a typo). */
export const checkHpaTarget: Check = (summary) => {
  const deployments = new Set(summary.deployments.map((deployment) => deployment.name));
  return summary.autoscalers
    .filter((hpa) => hpa.targetKind === 'Deployment' && !deployments.has(hpa.targetName))
    .map((hpa) => finding(summary, 'hpa-target', `HPA \`${hpa.name}\` targets Deployment \`${hpa.targetName}\`, which is not a Deployment in this stack`));
};

/** Without ignore_changes on replicas, every apply resets the count the HPA chose. */
export const checkHpaOwnsReplicas: Check = (summary) => {
  const targeted = new Set(summary.autoscalers.filter((hpa) => hpa.targetKind === 'Deployment').map((hpa) => hpa.targetName));
  return summary.deployments
    .filter((deployment) => targeted.has(deployment.name) && deployment.replicas !== undefined && !deployment.replicasIgnored)
    .map((deployment) => finding(summary, 'hpa-replicas', `Deployment \`${deployment.name}\` is autoscaled but sets replicas without lifecycle.ignore_changes: every apply resets the HPA's count`));
};

/** Terraform stops waiting for a Job after its create timeout (1 minute by default), long before a conversion ends. */
export const checkJobCreateTimeout: Check = (summary) =>
  summary.jobs
    .filter((job) => job.waitForCompletion)
    .flatMap((job) => {
      const seconds = job.createTimeout === undefined ? PROVIDER_DEFAULT_CREATE_TIMEOUT_SECONDS : parseDuration(job.createTimeout);
      const shown = job.createTimeout ?? '1m (provider default)';
      if (seconds === undefined) return [finding(summary, 'job-timeout', `Job \`${job.name}\` has an unreadable create timeout \`${shown}\``)];
      const findings: Finding[] = [];
      if (seconds < MIN_JOB_CREATE_TIMEOUT_SECONDS) {
        findings.push(finding(summary, 'job-timeout', `Job \`${job.name}\` waits for completion with a create timeout of ${shown}, under 5 minutes`));
      }
      if (job.activeDeadlineSeconds !== undefined && seconds <= job.activeDeadlineSeconds) {
        findings.push(
          finding(summary, 'job-timeout', `Job \`${job.name}\`: create timeout ${shown} is not longer than its active deadline (${job.activeDeadlineSeconds}s): Terraform gives up before the Job does`),
        );
      }
      return findings;
    });

/** A rollout Terraform abandons while the startup probe still allows model loading fails the apply for nothing. */
export const checkRolloutTimeout: Check = (summary) =>
  summary.deployments
    .filter((deployment) => deployment.waitForRollout && deployment.createTimeout !== undefined)
    .flatMap((deployment) => {
      const timeout = parseDuration(deployment.createTimeout ?? '');
      const startup = Math.max(0, ...deployment.probes.filter((probe) => probe.kind === 'startup').map((probe) => probe.budgetSeconds));
      return timeout !== undefined && timeout <= startup
        ? [finding(summary, 'rollout-timeout', `Deployment \`${deployment.name}\`: create timeout ${deployment.createTimeout} is not longer than the startup probe budget (${startup}s)`)]
        : [];
    });

export const CHECKS: readonly Check[] = [
  checkChartVersionPinned,
  checkImageTagged,
  checkGpuToleration,
  checkGpuLimit,
  checkHpaTarget,
  checkHpaOwnsReplicas,
  checkJobCreateTimeout,
  checkRolloutTimeout,
];

export function runChecks(summary: StackSummary): Finding[] {
  return CHECKS.flatMap((check) => check(summary));
}
