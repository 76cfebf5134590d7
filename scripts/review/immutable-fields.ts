/**
 * Which attribute changes make Terraform replace a resource (delete, then create) instead of updating it.
 *
 * Two sources, cited per rule:
 * - the provider's schema: `ForceNew: true` (SDKv2) or `RequiresReplace` (plugin framework), and `CustomizeDiff`
 *   functions that call `ForceNew` on a condition. Read from hashicorp/terraform-provider-kubernetes at tag v2.38.0
 *   (the provider @cdktf/provider-kubernetes 12.1.1 wraps) and hashicorp/terraform-provider-helm at tag v3.1.1
 *   (@cdktf/provider-helm 12.1.2).
 * - the Kubernetes API's update validation (kubernetes/kubernetes `pkg/apis/*\/validation/validation.go`): a field
 *   the API refuses to change on an existing object can only change by deleting and creating the object.
 *
 * The table covers the resource types this repository's stacks synthesize (REVIEWED_TYPES). Any other
 * `kubernetes_*` type still gets the metadata rules, and the review names it as not covered. docs/review.md
 * prints the table.
 */

import { bool, Obj } from './terraform-json';
import { compareQuantities } from '../../lib/quantity';

/** One changed leaf of a resource: its path with list indices (`spec.template.spec.container[0].image`). */
export interface FieldChange {
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
}

export interface ReplacementRule {
  /** Terraform resource types the rule applies to. */
  readonly types: readonly string[] | 'kubernetes';
  /** Attribute path without list indices; a change at or below it forces replacement. */
  readonly path: string;
  /** For conditional ForceNew (CustomizeDiff): the rule applies only when this holds. */
  readonly when?: (change: FieldChange, before: Obj) => boolean;
  /** Where the provider forces the replacement (repository file and symbol). */
  readonly provider?: string;
  /** Where the Kubernetes API makes the field immutable. */
  readonly api?: string;
}

const K8S_PROVIDER = 'hashicorp/terraform-provider-kubernetes v2.38.0';
const HELM_PROVIDER = 'hashicorp/terraform-provider-helm v3.1.1';
const K8S = 'kubernetes/kubernetes';

const PVC_TYPES = ['kubernetes_persistent_volume_claim_v1', 'kubernetes_persistent_volume_claim'];
const JOB_TYPES = ['kubernetes_job_v1', 'kubernetes_job'];
const DEPLOYMENT_TYPES = ['kubernetes_deployment_v1', 'kubernetes_deployment'];
const SERVICE_TYPES = ['kubernetes_service_v1', 'kubernetes_service'];
const PDB_TYPES = ['kubernetes_pod_disruption_budget_v1'];
const CONFIG_TYPES = ['kubernetes_config_map_v1', 'kubernetes_config_map', 'kubernetes_secret_v1', 'kubernetes_secret'];

const pvcSpec = (path: string): ReplacementRule => ({
  types: PVC_TYPES,
  path,
  provider: `${K8S_PROVIDER} kubernetes/schema_persistent_volume_claim.go persistentVolumeClaimSpecFields: ForceNew`,
  api: `${K8S} pkg/apis/core/validation/validation.go ValidatePersistentVolumeClaimUpdate: spec is immutable after creation except resources.requests`,
});

const jobSpec = (path: string, api: string | undefined): ReplacementRule => ({
  types: JOB_TYPES,
  path,
  provider: `${K8S_PROVIDER} kubernetes/schema_job_spec.go jobSpecFields: ForceNew`,
  api,
});

const JOB_API = `${K8S} pkg/apis/batch/validation/validation.go ValidateJobSpecUpdate`;

function isSmallerQuantity(change: FieldChange): boolean {
  try {
    return compareQuantities(String(change.after), String(change.before)) < 0;
  } catch {
    return false;
  }
}

export const REPLACEMENT_RULES: readonly ReplacementRule[] = [
  // Every typed Kubernetes resource: its name and namespace identify the object.
  {
    types: 'kubernetes',
    path: 'metadata.name',
    provider: `${K8S_PROVIDER} kubernetes/schema_metadata.go metadataFields: name ForceNew`,
    api: `${K8S} pkg/apis/core/validation/validation.go ValidateObjectMetaUpdate: name is immutable`,
  },
  {
    types: 'kubernetes',
    path: 'metadata.namespace',
    provider: `${K8S_PROVIDER} kubernetes/schema_metadata.go namespacedMetadataSchemaIsTemplate: namespace ForceNew`,
    api: `${K8S} pkg/apis/core/validation/validation.go ValidateObjectMetaUpdate: namespace is immutable`,
  },
  {
    types: 'kubernetes',
    path: 'metadata.generate_name',
    provider: `${K8S_PROVIDER} kubernetes/schema_metadata.go metadataSchema: generate_name ForceNew`,
  },
  pvcSpec('spec.access_modes'),
  pvcSpec('spec.storage_class_name'),
  pvcSpec('spec.volume_mode'),
  pvcSpec('spec.volume_name'),
  pvcSpec('spec.selector'),
  pvcSpec('spec.resources.limits'),
  {
    types: PVC_TYPES,
    path: 'spec.resources.requests.storage',
    when: isSmallerQuantity,
    provider: `${K8S_PROVIDER} kubernetes/resource_kubernetes_persistent_volume_claim_v1.go CustomizeDiff: ForceNew when storage decreases`,
    api: `${K8S} pkg/apis/core/validation/validation.go ValidatePersistentVolumeClaimUpdate: storage can only grow`,
  },
  {
    types: DEPLOYMENT_TYPES,
    path: 'spec.selector',
    provider: `${K8S_PROVIDER} kubernetes/resource_kubernetes_deployment_v1.go selector: ForceNew`,
    api: 'https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#label-selector-updates: apps/v1 selector is immutable',
  },
  // The pod spec a Deployment shares with Pods has two nested ForceNew fields of its own.
  ...[
    ['spec.template.spec.volume.azure_file.secret_namespace', 'schema_volume_source.go azure_file secret_namespace'],
    ['spec.template.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_term.match_fields', 'schema_affinity_spec.go match_fields'],
    ['spec.template.spec.affinity.node_affinity.preferred_during_scheduling_ignored_during_execution.preference.match_fields', 'schema_affinity_spec.go match_fields'],
  ].map(([path, where]): ReplacementRule => ({ types: DEPLOYMENT_TYPES, path, provider: `${K8S_PROVIDER} kubernetes/${where}: ForceNew` })),
  // The pod template's metadata is a namespaced metadata schema of its own, with the same ForceNew fields.
  ...['name', 'namespace', 'generate_name'].map(
    (field): ReplacementRule => ({
      types: DEPLOYMENT_TYPES,
      path: `spec.template.metadata.${field}`,
      provider: `${K8S_PROVIDER} kubernetes/resource_kubernetes_deployment_v1.go template metadata: namespacedMetadataSchemaIsTemplate (schema_metadata.go) ${field} ForceNew`,
    }),
  ),
  // A generic ephemeral volume's claim template is a PVC spec, ForceNew as on a PVC (requests excepted), also
  // inside a Deployment whose pod template is otherwise updatable.
  ...['access_modes', 'storage_class_name', 'volume_mode', 'volume_name', 'selector', 'resources.limits'].map(
    (field): ReplacementRule => ({
      types: DEPLOYMENT_TYPES,
      path: `spec.template.spec.volume.ephemeral.volume_claim_template.spec.${field}`,
      provider: `${K8S_PROVIDER} kubernetes/schema_pod_spec.go ephemeral volume_claim_template spec: persistentVolumeClaimSpecFields (schema_persistent_volume_claim.go) ${field} ForceNew`,
    }),
  ),
  jobSpec('spec.template', `${JOB_API}: template is immutable`),
  jobSpec('spec.selector', `${JOB_API}: selector is immutable`),
  jobSpec('spec.completions', `${JOB_API}: completions is immutable (except with parallelism for Indexed Jobs)`),
  jobSpec('spec.completion_mode', `${JOB_API}: completionMode is immutable`),
  jobSpec('spec.backoff_limit_per_index', undefined),
  jobSpec('spec.pod_failure_policy', undefined),
  ...['spec.cluster_ip', 'spec.cluster_ips'].map(
    (path): ReplacementRule => ({
      types: SERVICE_TYPES,
      path,
      provider: `${K8S_PROVIDER} kubernetes/resource_kubernetes_service_v1.go ${path.slice(5)}: ForceNew`,
      api: `${K8S} pkg/apis/core/validation/validation.go ValidateServiceUpdate: clusterIP(s) immutable unless the type changes to or from ExternalName`,
    }),
  ),
  ...['spec.load_balancer_class', 'spec.health_check_node_port'].map(
    (path): ReplacementRule => ({
      types: SERVICE_TYPES,
      path,
      provider: `${K8S_PROVIDER} kubernetes/resource_kubernetes_service_v1.go ${path.slice(5)}: ForceNew`,
    }),
  ),
  {
    // The API accepts PDB updates since Kubernetes 1.15; the provider still replaces (its comment cites kubernetes#45398).
    types: PDB_TYPES,
    path: 'spec',
    provider: `${K8S_PROVIDER} kubernetes/resource_kubernetes_pod_disruption_budget_v1.go spec (max_unavailable, min_available, selector): ForceNew`,
  },
  ...['data', 'binary_data', 'immutable'].map(
    (path): ReplacementRule => ({
      types: CONFIG_TYPES,
      path,
      when: (_change, before) => bool(before.immutable, false),
      provider: `${K8S_PROVIDER} kubernetes/resource_kubernetes_config_map_v1.go CustomizeDiff: ForceNew when immutable was true`,
      api: 'https://kubernetes.io/docs/concepts/configuration/configmap/#configmap-immutable: an immutable ConfigMap can only be deleted and recreated',
    }),
  ),
  {
    types: ['kubernetes_secret_v1', 'kubernetes_secret'],
    path: 'type',
    provider: `${K8S_PROVIDER} kubernetes/resource_kubernetes_secret_v1.go type: ForceNew`,
  },
  ...['name', 'namespace'].map(
    (path): ReplacementRule => ({
      types: ['helm_release'],
      path,
      provider: `${HELM_PROVIDER} helm/resource_helm_release.go ${path}: stringplanmodifier.RequiresReplace`,
    }),
  ),
  ...['manifest.apiVersion', 'manifest.kind', 'manifest.metadata.name', 'manifest.metadata.namespace'].map(
    (path): ReplacementRule => ({
      types: ['kubernetes_manifest'],
      path,
      provider: `${K8S_PROVIDER} manifest/provider/plan.go PlanResourceChange: RequiresReplace`,
    }),
  ),
];

/**
 * The resource types whose own fields the table was checked for (every type the stacks synthesize), each against
 * its provider file. A type outside this list gets only the metadata rules.
 */
export const REVIEWED_TYPES: readonly string[] = [
  'helm_release',
  'kubernetes_config_map_v1',
  'kubernetes_deployment_v1',
  'kubernetes_horizontal_pod_autoscaler_v2',
  'kubernetes_job_v1',
  'kubernetes_manifest',
  'kubernetes_namespace_v1',
  'kubernetes_network_policy_v1',
  'kubernetes_persistent_volume_claim_v1',
  'kubernetes_pod_disruption_budget_v1',
  'kubernetes_secret_v1',
  'kubernetes_service_account_v1',
  'kubernetes_service_v1',
];

/** `spec.template.spec.container[0].image` → `spec.template.spec.container.image`. */
export function schemaPath(path: string): string {
  return path.replace(/\[\d+\]/g, '');
}

function appliesTo(rule: ReplacementRule, type: string): boolean {
  if (rule.types === 'kubernetes') return type.startsWith('kubernetes_') && type !== 'kubernetes_manifest';
  return rule.types.includes(type);
}

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`);
}

export interface ForcedChange {
  readonly change: FieldChange;
  readonly rule: ReplacementRule;
}

/** The changes that force a replacement of a resource of `type`, each with the rule that forces it. */
export function forcedReplacements(type: string, changes: readonly FieldChange[], before: Obj): ForcedChange[] {
  const rules = REPLACEMENT_RULES.filter((rule) => appliesTo(rule, type));
  const forced: ForcedChange[] = [];
  for (const change of changes) {
    const path = schemaPath(change.path);
    const rule = rules.find((r) => under(path, r.path) && (r.when === undefined || r.when(change, before)));
    if (rule !== undefined) forced.push({ change, rule });
  }
  return forced;
}

/** True when the table was written for this type; otherwise only the metadata rules apply. */
export function isReviewedType(type: string): boolean {
  return REVIEWED_TYPES.includes(type);
}
