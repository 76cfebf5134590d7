/**
 * Pure functions from one synthesized stack (`cdktf.out/stacks/<name>/cdk.tf.json`) to the facts a reviewer
 * checks in a pull request. They read the Terraform JSON, never the constructs, so the review shows what
 * `terraform apply` would get, including anything a construct got wrong.
 */

import { summarizeAutoscalers } from './autoscalers';
import { summarizeEnsemble } from './ensemble';
import { summarizeHelmReleases, summarizeObjects, summarizeOutputs } from './inventory';
import { summarizeNetworkPolicies, summarizeServices, summarizeVolumeClaims } from './network-and-storage';
import { one, str, TerraformJson } from './terraform-json';
import { summarizeDeployments, summarizeGpu, summarizeImages, summarizeJobs } from './workloads';
import type { DeploymentSummary, GpuWorkload, ImageRef, JobSummary } from './workloads';
import type { HpaSummary } from './autoscalers';
import type { EnsembleSummary } from './ensemble';
import type { HelmReleaseSummary, ObjectRef, OutputSummary } from './inventory';
import type { NetworkPolicyRule, PvcSummary, ServiceSummary } from './network-and-storage';

export interface StackSummary {
  readonly stack: string;
  readonly providers: string[];
  readonly objects: ObjectRef[];
  readonly images: ImageRef[];
  readonly gpu: GpuWorkload[];
  readonly deployments: DeploymentSummary[];
  readonly autoscalers: HpaSummary[];
  readonly volumeClaims: PvcSummary[];
  readonly jobs: JobSummary[];
  readonly helmReleases: HelmReleaseSummary[];
  readonly services: ServiceSummary[];
  readonly networkPolicies: NetworkPolicyRule[];
  readonly outputs: OutputSummary[];
  readonly ensemble: EnsembleSummary | undefined;
}

function summarizeProviders(doc: TerraformJson): string[] {
  return Object.entries(one(one(doc.terraform).required_providers))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, requirement]) => `${name} ${str(one(requirement).version) ?? '(unpinned)'}`);
}

/** Everything the review prints about one stack. */
export function summarizeStack(stack: string, doc: TerraformJson): StackSummary {
  return {
    stack,
    providers: summarizeProviders(doc),
    objects: summarizeObjects(doc),
    images: summarizeImages(doc),
    gpu: summarizeGpu(doc),
    deployments: summarizeDeployments(doc),
    autoscalers: summarizeAutoscalers(doc),
    volumeClaims: summarizeVolumeClaims(doc),
    jobs: summarizeJobs(doc),
    helmReleases: summarizeHelmReleases(doc),
    services: summarizeServices(doc),
    networkPolicies: summarizeNetworkPolicies(doc),
    outputs: summarizeOutputs(doc),
    ensemble: summarizeEnsemble(doc),
  };
}
