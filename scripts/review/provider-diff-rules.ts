/**
 * Where the kubernetes provider plans no change although the Terraform JSON differs, so the review must not
 * report one either. Two rules, each with its source (hashicorp/terraform-provider-kubernetes v2.38.0, built with
 * hashicorp/terraform-plugin-sdk v2.37.0, its go.mod):
 *
 * - Quantities compared by value: attributes whose schema has `DiffSuppressFunc: suppressEquivalentResourceQuantity`
 *   (kubernetes/diff_supress_funcs.go: `ParseQuantity` both sides, no change when `Cmp` is 0). `50Gi` → `51200Mi`
 *   plans nothing. HPA targets have no such function (schema_horizontal_pod_autoscaler.go) and are not listed.
 * - Optional + Computed attributes dropped from the configuration: the SDK keeps the prior value and plans nothing
 *   (helper/schema/schema.go: `diffString` returns on `removed && schema.Computed`; `diffList` on
 *   `o != nil && n == nil && schema.Computed`; `diffMap` on `n == nil && schema.Computed`). A new value still
 *   changes, and forces replacement where the attribute is ForceNew (immutable-fields.ts).
 *
 * Paths are schema paths (no list indices). Pod specs sit at different depths per resource type (POD_SPEC_AT).
 */

import { compareQuantities } from '../../lib/quantity';
import type { FieldChange } from './immutable-fields';
import { schemaPath } from './immutable-fields';
import { isObj, Obj } from './terraform-json';

const PROVIDER = 'hashicorp/terraform-provider-kubernetes v2.38.0';
const SDK = 'hashicorp/terraform-plugin-sdk v2.37.0 helper/schema/schema.go diffString `removed && schema.Computed` (diffList, diffMap alike)';

export interface DiffRule {
  /** Schema path of the attribute; the rule covers it and everything below it. */
  readonly path: string;
  /** Provider file and symbol where the attribute's schema says so. */
  readonly source: string;
}

/** Where each resource type keeps its pod spec. */
const POD_SPEC_AT: Record<string, string> = {
  kubernetes_deployment_v1: 'spec.template.spec',
  kubernetes_deployment: 'spec.template.spec',
  kubernetes_job_v1: 'spec.template.spec',
  kubernetes_job: 'spec.template.spec',
  kubernetes_stateful_set_v1: 'spec.template.spec',
  kubernetes_daemon_set_v1: 'spec.template.spec',
  kubernetes_daemonset: 'spec.template.spec',
  kubernetes_cron_job_v1: 'spec.job_template.spec.template.spec',
  kubernetes_pod_v1: 'spec',
  kubernetes_pod: 'spec',
};

const CONTAINERS = ['container', 'init_container'];
const PVC_SPEC = `${PROVIDER} kubernetes/schema_persistent_volume_claim.go persistentVolumeClaimSpecFields`;

/** Quantity-valued attributes below a pod spec. */
const POD_SPEC_QUANTITIES: DiffRule[] = [
  ...CONTAINERS.flatMap((container) =>
    ['resources.limits', 'resources.requests'].map((path) => ({
      path: `${container}.${path}`,
      source: `${PROVIDER} kubernetes/schema_container.go resourcesFieldV1: suppressEquivalentResourceQuantity`,
    })),
  ),
  ...CONTAINERS.map((container) => ({
    path: `${container}.env.value_from.resource_field_ref.divisor`,
    source: `${PROVIDER} kubernetes/schema_container.go resource_field_ref divisor: suppressEquivalentResourceQuantity`,
  })),
  { path: 'volume.empty_dir.size_limit', source: `${PROVIDER} kubernetes/schema_pod_spec.go empty_dir size_limit: suppressEquivalentResourceQuantity` },
  ...['limits', 'requests'].map((key) => ({
    path: `volume.ephemeral.volume_claim_template.spec.resources.${key}`,
    source: `${PVC_SPEC} (schema_pod_spec.go ephemeral volume_claim_template) resources.${key}: suppressEquivalentResourceQuantity`,
  })),
];

/** Optional + Computed attributes below a pod spec. */
const POD_SPEC_COMPUTED: DiffRule[] = [
  ...CONTAINERS.flatMap((container) =>
    ['resources', 'resources.limits', 'resources.requests', 'image_pull_policy', 'termination_message_policy'].map((path) => ({
      path: `${container}.${path}`,
      source: `${PROVIDER} kubernetes/schema_container.go containerFields ${path}: Optional, Computed`,
    })),
  ),
  ...['hostname', 'image_pull_secrets', 'node_name', 'scheduler_name', 'service_account_name', 'readiness_gate'].map((path) => ({
    path,
    source: `${PROVIDER} kubernetes/schema_pod_spec.go podSpecFields ${path}: Optional, Computed`,
  })),
  ...['volume_name', 'storage_class_name', 'volume_mode'].map((key) => ({
    path: `volume.ephemeral.volume_claim_template.spec.${key}`,
    source: `${PVC_SPEC} ${key}: Optional, Computed`,
  })),
];

const METADATA_NAME: DiffRule = { path: 'metadata.name', source: `${PROVIDER} kubernetes/schema_metadata.go metadataFields name: Optional, Computed` };

const under = (prefix: string, rules: readonly DiffRule[]) => rules.map((rule) => ({ ...rule, path: `${prefix}.${rule.path}` }));

function podRules(type: string, rules: readonly DiffRule[]): DiffRule[] {
  const at = POD_SPEC_AT[type];
  return at === undefined ? [] : under(at, rules);
}

const PVC_TYPES = ['kubernetes_persistent_volume_claim_v1', 'kubernetes_persistent_volume_claim'];
const SERVICE_TYPES = ['kubernetes_service_v1', 'kubernetes_service'];
const HPA_TYPES = ['kubernetes_horizontal_pod_autoscaler_v2', 'kubernetes_horizontal_pod_autoscaler_v2beta2'];

/** Attributes compared as quantities, for a resource type. */
export function quantityRules(type: string): DiffRule[] {
  const own = PVC_TYPES.includes(type)
    ? ['limits', 'requests'].map((key) => ({ path: `spec.resources.${key}`, source: `${PVC_SPEC} resources.${key}: suppressEquivalentResourceQuantity` }))
    : [];
  return [...own, ...podRules(type, POD_SPEC_QUANTITIES)];
}

const OWN_COMPUTED: Record<string, readonly DiffRule[]> = {
  ...Object.fromEntries(
    PVC_TYPES.map((type) => [type, ['volume_name', 'storage_class_name', 'volume_mode'].map((key) => ({ path: `spec.${key}`, source: `${PVC_SPEC} ${key}: Optional, Computed` }))]),
  ),
  ...Object.fromEntries(
    ['kubernetes_deployment_v1', 'kubernetes_deployment'].map((type) => [
      type,
      ['spec.replicas', 'spec.strategy', 'spec.strategy.rolling_update', 'spec.template.metadata.name'].map((path) => ({
        path,
        source: `${PROVIDER} kubernetes/resource_kubernetes_deployment_v1.go ${path.replace('spec.template.metadata.name', 'template metadata (schema_metadata.go metadataFields) name')}: Optional, Computed`,
      })),
    ]),
  ),
  ...Object.fromEntries(
    ['kubernetes_job_v1', 'kubernetes_job'].map((type) => [
      type,
      [
        ...['spec.completion_mode', 'spec.selector'].map((path) => ({ path, source: `${PROVIDER} kubernetes/schema_job_spec.go jobSpecFields ${path.slice(5)}: Optional, Computed` })),
        { path: 'metadata.labels', source: `${PROVIDER} kubernetes/schema_job_spec.go jobMetadataSchema: labels Computed` },
        { path: 'spec.template.metadata.name', source: `${PROVIDER} kubernetes/schema_job_spec.go template metadataSchema (schema_metadata.go metadataFields) name: Optional, Computed` },
      ],
    ]),
  ),
  ...Object.fromEntries(
    HPA_TYPES.map((type) => [
      type,
      ['spec.metric', 'spec.behavior', 'spec.behavior.scale_up', 'spec.behavior.scale_down'].map((path) => ({
        path,
        source: `${PROVIDER} kubernetes/schema_horizontal_pod_autoscaler.go ${path.slice(5)}: Optional, Computed`,
      })),
    ]),
  ),
  ...Object.fromEntries(
    SERVICE_TYPES.map((type) => [
      type,
      [
        'cluster_ip',
        'cluster_ips',
        'external_traffic_policy',
        'ip_families',
        'ip_family_policy',
        'internal_traffic_policy',
        'port.node_port',
        'port.target_port',
        'session_affinity_config',
        'session_affinity_config.client_ip',
        'session_affinity_config.client_ip.timeout_seconds',
        'health_check_node_port',
      ].map((key) => ({ path: `spec.${key}`, source: `${PROVIDER} kubernetes/resource_kubernetes_service_v1.go ${key}: Optional, Computed` })),
    ]),
  ),
  kubernetes_secret_v1: [{ path: 'data', source: `${PROVIDER} kubernetes/resource_kubernetes_secret_v1.go data: Optional, Computed` }],
};

/** Optional + Computed attributes of a resource type. */
export function computedRules(type: string): DiffRule[] {
  const metadata = type.startsWith('kubernetes_') && type !== 'kubernetes_manifest' ? [METADATA_NAME] : [];
  return [...metadata, ...(OWN_COMPUTED[type] ?? []), ...podRules(type, POD_SPEC_COMPUTED)];
}

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`);
}

/** The indexed path of `change.path` cut after the segments that spell `prefix` (`a[0].b.c` for prefix `a.b`). */
function indexedPrefix(path: string, prefix: string): string {
  const wanted = prefix.split('.').length;
  let seen = 0;
  let end = 0;
  for (const match of path.matchAll(/[^.[\]]+(\[\d+\])*/g)) {
    seen++;
    end = (match.index ?? 0) + match[0].length;
    if (seen === wanted) break;
  }
  return path.slice(0, end);
}

/** The value at an indexed path, a one-element list read as its element (as cdktf may write either). */
function valueAt(resource: Obj, path: string): unknown {
  let value: unknown = resource;
  for (const [, key, index] of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (index !== undefined) value = Array.isArray(value) ? value[Number(index)] : Number(index) === 0 ? value : undefined;
    else value = isObj(value) ? value[key] : Array.isArray(value) && value.length === 1 && isObj(value[0]) ? value[0][key] : undefined;
  }
  return value;
}

function sameQuantity(change: FieldChange): boolean {
  if (typeof change.before !== 'string' && typeof change.before !== 'number') return false;
  if (typeof change.after !== 'string' && typeof change.after !== 'number') return false;
  try {
    return compareQuantities(String(change.before), String(change.after)) === 0;
  } catch {
    return false;
  }
}

/** Why the provider plans nothing for this change, or undefined when it plans one. */
export function suppressedBy(type: string, change: FieldChange, after: Obj): { rule: DiffRule; why: string } | undefined {
  const path = schemaPath(change.path);
  const quantity = quantityRules(type).find((rule) => isUnder(path, rule.path));
  if (quantity !== undefined && sameQuantity(change)) return { rule: quantity, why: 'equal quantities' };
  for (const rule of computedRules(type).filter((r) => isUnder(path, r.path))) {
    const dropped = valueAt(after, indexedPrefix(change.path, rule.path));
    if (dropped === undefined || dropped === null) return { rule, why: `${SDK}: the prior value is kept` };
  }
  return undefined;
}
