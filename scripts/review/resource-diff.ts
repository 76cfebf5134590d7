/**
 * Field-level differences between two versions of one resource's Terraform JSON, as Terraform would plan
 * them: meta-arguments and `lifecycle.ignore_changes` left out, a single nested block written as an object or as
 * a one-element list treated alike, numbers and numeric strings compared by value, an empty block or map the
 * same as an absent one. Generic over resource types: nothing here knows this repository's constructs.
 */

import type { FieldChange } from './immutable-fields';
import { schemaPath } from './immutable-fields';
import { suppressedBy } from './provider-diff-rules';
import { isObj, Obj, one, TerraformJson } from './terraform-json';

/** Terraform meta-arguments and cdktf's own metadata: they never reach the provider as attribute changes. */
const META_ARGUMENTS = new Set(['//', 'depends_on', 'lifecycle', 'provider', 'count', 'for_each', 'provisioner', 'connection']);

/**
 * Attributes only the provider reads (how long or whether to wait): a change updates Terraform's state and
 * leaves every object in the cluster as it is.
 */
const TERRAFORM_SIDE: Record<string, readonly string[]> = {
  kubernetes: ['timeouts', 'wait_for_rollout', 'wait_until_bound', 'wait_for_completion', 'wait_for_default_service_account', 'wait_for_load_balancer'],
  helm_release: ['timeout', 'wait', 'wait_for_jobs', 'atomic', 'cleanup_on_fail', 'lint'],
};

/** True when a change only alters how Terraform applies the resource, not the object in the cluster. */
export function isTerraformSide(type: string, change: FieldChange): boolean {
  const attributes = type.startsWith('kubernetes_') ? TERRAFORM_SIDE.kubernetes : TERRAFORM_SIDE[type] ?? [];
  const top = schemaPath(change.path).split('.')[0];
  return attributes.includes(top);
}

function isScalar(value: unknown): boolean {
  return value === null || typeof value !== 'object';
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || (Array.isArray(value) && value.length === 0) || (isObj(value) && Object.keys(value).length === 0);
}

function sameScalar(a: unknown, b: unknown): boolean {
  if (isEmpty(a) && isEmpty(b)) return true;
  return isScalar(a) && isScalar(b) && String(a) === String(b);
}

function join(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
}

/** Appends the leaf differences between two JSON values under `path` to `out`. */
export function diffValues(before: unknown, after: unknown, path: string, out: FieldChange[]): void {
  if (isEmpty(before) && isEmpty(after)) return;
  // cdktf writes a single nested block as an object; hand-written Terraform JSON often as a one-element list.
  if (Array.isArray(before) && before.length === 1 && isObj(after)) return diffValues(before[0], after, path, out);
  if (Array.isArray(after) && after.length === 1 && isObj(before)) return diffValues(before, after[0], path, out);
  if ((isObj(before) || isEmpty(before)) && (isObj(after) || isEmpty(after))) {
    const a = isObj(before) ? before : {};
    const b = isObj(after) ? after : {};
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) diffValues(a[key], b[key], join(path, key), out);
    return;
  }
  if ((Array.isArray(before) || isEmpty(before)) && (Array.isArray(after) || isEmpty(after))) {
    const a = Array.isArray(before) ? before : [];
    const b = Array.isArray(after) ? after : [];
    // A list of scalars (args, access modes) reads best whole: `args: [...] → [...]`.
    if (a.every(isScalar) && b.every(isScalar)) {
      if (a.length !== b.length || a.some((value, i) => !sameScalar(value, b[i]))) out.push({ path, before, after });
      return;
    }
    for (let i = 0; i < Math.max(a.length, b.length); i++) diffValues(a[i], b[i], join(path, i), out);
    return;
  }
  if (!sameScalar(before, after)) out.push({ path, before, after });
}

/** `spec[0].replicas` → `spec.replicas`; `all` ignores every attribute. */
function ignoredPaths(resource: Obj): string[] {
  const ignore = one(resource.lifecycle).ignore_changes;
  if (ignore === 'all') return [''];
  return (Array.isArray(ignore) ? ignore : []).filter((p): p is string => typeof p === 'string').map((p) => (p === 'all' ? '' : schemaPath(p.replace(/\["?([^"\]]+)"?\]/g, (_m, key: string) => (/^\d+$/.test(key) ? `[${key}]` : `.${key}`)))));
}

/**
 * The attribute changes Terraform would plan for one resource of `type`, in path order: without the changes the
 * provider suppresses (equal quantities, dropped Optional + Computed attributes: provider-diff-rules.ts).
 */
export function diffResource(before: Obj, after: Obj, type = ''): FieldChange[] {
  const strip = (resource: Obj) => Object.fromEntries(Object.entries(resource).filter(([key]) => !META_ARGUMENTS.has(key)));
  const changes: FieldChange[] = [];
  diffValues(strip(before), strip(after), '', changes);
  const ignored = ignoredPaths(after);
  return changes.filter((change) => {
    const path = schemaPath(change.path);
    if (ignored.some((prefix) => prefix === '' || path === prefix || path.startsWith(`${prefix}.`))) return false;
    return suppressedBy(type, change, after) === undefined;
  });
}

// ---- references: `${kubernetes_namespace_v1.ns.metadata[0].name}` compared by the value it names.

const REFERENCE = /\$\{([A-Za-z][A-Za-z0-9_-]*)\.([A-Za-z0-9_-]+)((?:\.[A-Za-z0-9_-]+|\[\d+\])+)\}/g;

function lookup(doc: TerraformJson, type: string, name: string, path: string): unknown {
  let value: unknown = one(one(doc.resource)[type])[name];
  for (const [, key, index] of path.matchAll(/\.([A-Za-z0-9_-]+)|\[(\d+)\]/g)) {
    if (index !== undefined) value = Array.isArray(value) ? value[Number(index)] : Number(index) === 0 ? value : undefined;
    else value = isObj(value) ? value[key] : Array.isArray(value) && value.length === 1 && isObj(value[0]) ? value[0][key] : undefined;
  }
  return value;
}

function resolveText(doc: TerraformJson, text: string, depth: number): string {
  if (depth === 0 || !text.includes('${')) return text;
  const resolved = text.replace(REFERENCE, (whole, type: string, name: string, path: string) => {
    const value = lookup(doc, type, name, path);
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
    return whole;
  });
  return resolved === text ? text : resolveText(doc, resolved, depth - 1);
}

function resolveValue(doc: TerraformJson, value: unknown): unknown {
  if (typeof value === 'string') return resolveText(doc, value, 4);
  if (Array.isArray(value)) return value.map((item) => resolveValue(doc, item));
  if (isObj(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveValue(doc, item)]));
  return value;
}

/**
 * A copy of the stack's resources with every reference to a literal attribute of another resource replaced by
 * that literal, so a renamed namespace shows up as a changed `metadata.namespace` on everything in it, as in a
 * Terraform plan. References to computed attributes (a uid, an id) stay as written.
 */
export function resolvedResources(doc: TerraformJson): Record<string, Record<string, Obj>> {
  const resources: Record<string, Record<string, Obj>> = {};
  for (const [type, byName] of Object.entries(one(doc.resource))) {
    resources[type] = {};
    for (const [name, resource] of Object.entries(one(byName))) {
      if (isObj(resource)) resources[type][name] = resolveValue(doc, resource) as Obj;
    }
  }
  return resources;
}
