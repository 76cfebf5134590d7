/**
 * Words for changes: one changed field as `path: before → after`, with long values cut to the part that differs
 * and secrets hidden; the causes of a pod template change; a Job's expected duration; a Helm values diff.
 */

import { parse as parseYaml } from 'yaml';
import { deepMerge, Json } from '../../lib/deep-merge';
import type { FieldChange } from './immutable-fields';
import { schemaPath } from './immutable-fields';
import { diffValues } from './resource-diff';
import { bool, many, num, Obj, one, str } from './terraform-json';

const MAX_VALUE = 60;
const CONTEXT = 24;

function text(value: unknown): string {
  if (value === undefined || value === null) return 'unset';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** `before → after`, long values reduced to the stretch where they differ (`…/versions/849c… → …/versions/a2f5…`). */
export function beforeAfter(before: unknown, after: unknown): string {
  const a = text(before);
  const b = text(after);
  if (a.length <= MAX_VALUE && b.length <= MAX_VALUE) return `${a} → ${b}`;
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++;
  let suffix = 0;
  while (suffix < a.length - prefix && suffix < b.length - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix++;
  const cut = (s: string) => {
    const start = Math.max(0, prefix - CONTEXT);
    const end = Math.min(s.length, s.length - suffix + CONTEXT);
    const middle = s.slice(start, end);
    const short = middle.length > MAX_VALUE * 2 ? `${middle.slice(0, MAX_VALUE * 2)}…` : middle;
    return `${start > 0 ? '…' : ''}${short}${end < s.length ? '…' : ''}`;
  };
  return `${cut(a)} → ${cut(b)}`;
}

function isSensitive(type: string, path: string): boolean {
  const schema = schemaPath(path);
  if (type.startsWith('kubernetes_secret')) return /^(data|binary_data)(\.|$)/.test(schema);
  return type === 'helm_release' && /^set_(sensitive|wo)(\.|$)/.test(schema);
}

/** `spec.storage_class_name: unset → fast-nfs`; secret values are never printed. */
export function describeField(type: string, change: FieldChange): string {
  return isSensitive(type, change.path) ? `${change.path} changed (value hidden)` : `${change.path}: ${beforeAfter(change.before, change.after)}`;
}

/** The first `limit` items joined, then `and N more`. */
export function listSome(items: string[], limit = 6): string {
  const unique = [...new Set(items)];
  const shown = unique.slice(0, limit).join('; ');
  return unique.length > limit ? `${shown}; and ${unique.length - limit} more` : shown;
}

// ---- pod templates: why the pods roll.

function containerName(resource: Obj, list: string, index: number): string | undefined {
  return str(many(podSpec(resource)[list])[index]?.name);
}

/** The variable an `env[i]…` change is about (values are not shown: they may be credentials). */
function envName(after: Obj, before: Obj, list: string, index: number, below: string): string {
  const entry = /^\[(\d+)\]/.exec(below);
  if (entry === null) return 'variables';
  const pick = (resource: Obj) => str(many(many(podSpec(resource)[list])[index]?.env)[Number(entry[1])]?.name);
  return pick(after) ?? pick(before) ?? 'variables';
}

function podSpec(resource: Obj): Obj {
  return one(one(one(resource.spec).template).spec);
}

/** Causes of a pod template change: image, arguments, resources, environment, annotations (the model version)… */
export function templateChangeCauses(changes: FieldChange[], before: Obj, after: Obj): string[] {
  const causes: string[] = [];
  for (const change of changes) {
    const rest = change.path.replace(/^spec\.template\./, '');
    if (rest === change.path) continue;
    const container = /^spec\.(container|init_container)\[(\d+)\]\.([a-z_]+)(.*)$/.exec(rest);
    if (rest.startsWith('metadata.annotations.')) {
      causes.push(`annotation ${rest.slice('metadata.annotations.'.length)}: ${beforeAfter(change.before, change.after)}`);
    } else if (rest.startsWith('metadata.labels.')) {
      causes.push(`label ${rest.slice('metadata.labels.'.length)}: ${beforeAfter(change.before, change.after)}`);
    } else if (container !== null) {
      const [, list, index, field, below] = container;
      const name = containerName(after, list, Number(index)) ?? containerName(before, list, Number(index)) ?? `#${index}`;
      const of = `of ${list === 'init_container' ? 'init container' : 'container'} ${name}`;
      if (field === 'image') causes.push(`image ${of}: ${beforeAfter(change.before, change.after)}`);
      else if (field === 'args' || field === 'command') causes.push(`${field === 'args' ? 'arguments' : 'command'} ${of}: ${beforeAfter(change.before, change.after)}`);
      else if (field === 'resources') causes.push(`resources ${of}: ${below.replace(/^\./, '')} ${beforeAfter(change.before, change.after)}`);
      else if (field === 'env') causes.push(`environment ${of}: ${envName(after, before, list, Number(index), below)}`);
      else if (field === 'env_from') causes.push(`environment ${of}`);
      else causes.push(`${field.replace(/_/g, ' ')} ${of}`);
    } else {
      causes.push(`pod ${schemaPath(rest).replace(/^spec\./, '').split('.')[0].replace(/_/g, ' ')}`);
    }
  }
  return causes;
}

/** `RollingUpdate (max surge 1, max unavailable 0)`, with Kubernetes' 25% defaults when unset. */
export function rolloutStrategy(type: string, resource: Obj): string {
  const spec = one(resource.spec);
  if (!type.includes('deployment')) return type.includes('stateful_set') ? 'one pod at a time, highest ordinal first' : 'node by node';
  const strategy = one(spec.strategy);
  const kind = str(strategy.type) ?? 'RollingUpdate';
  if (kind === 'Recreate') return 'Recreate: every pod stops before the new ones start';
  const rolling = one(strategy.rolling_update);
  return `RollingUpdate (max surge ${str(rolling.max_surge) ?? '25%'}, max unavailable ${str(rolling.max_unavailable) ?? '25%'})`;
}

// ---- Jobs: how long a run may take.

export function minutes(seconds: number): string {
  return seconds >= 120 ? `${Math.round(seconds / 60)} min` : `${seconds} s`;
}

/** The Job's limits in words, from its spec and the provider's defaults (backoff_limit 6, wait, 1 minute timeout). */
export function jobDuration(job: Obj): string {
  const spec = one(job.spec);
  const deadline = num(spec.active_deadline_seconds);
  const backoff = num(spec.backoff_limit) ?? 6;
  const attempts = `up to ${backoff + 1} attempts (backoff_limit ${backoff})`;
  const run =
    deadline !== undefined
      ? `may take up to ${minutes(deadline)} (active_deadline_seconds ${deadline}, ${attempts} within it)`
      : `has no deadline (active_deadline_seconds unset): ${attempts}, each as long as its pod runs`;
  const createTimeout = str(one(job.timeouts).create);
  const wait = bool(job.wait_for_completion, true)
    ? `terraform apply waits for it up to ${createTimeout ?? '1m, the provider default'} (timeouts.create)`
    : 'terraform apply does not wait for it (wait_for_completion false)';
  return `${run}; ${wait}`;
}

// ---- Helm values: which keys changed.

function mergedValues(release: Obj | undefined): Json | undefined {
  const values = release?.values;
  const documents = Array.isArray(values) ? values : values === undefined ? [] : [values];
  try {
    return documents.map((doc) => (typeof doc === 'string' ? (parseYaml(doc) as Json) : (doc as Json)) ?? {}).reduce<Json>(deepMerge, {});
  } catch {
    return undefined;
  }
}

/** Helm values compared key by key after merging the release's values documents as Helm does. */
export function valuesChanges(before: Obj | undefined, after: Obj | undefined): string[] | undefined {
  const a = mergedValues(before);
  const b = mergedValues(after);
  if (a === undefined || b === undefined) return undefined;
  const changes: FieldChange[] = [];
  diffValues(a, b, '', changes);
  return changes.map((change) => `values ${change.path}: ${beforeAfter(change.before, change.after)}`);
}
