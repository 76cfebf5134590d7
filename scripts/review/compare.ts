/**
 * What a change does to the cluster, from the Terraform JSON of two syntheses (before and after) alone: per
 * resource created, deleted, updated in place or replaced (immutable-fields.ts), and what follows from that:
 * pods that roll, Jobs that run, Helm releases that upgrade, data that is lost. No provider, credentials or
 * cluster state are needed, so it runs offline in a pull request, where `cdktf diff` cannot.
 *
 * Generic over Terraform JSON: it reads resource types and attribute paths, never this repository's construct
 * ids, so new resources and reshaped values are compared without changes here.
 */

import type { FieldChange, ForcedChange } from './immutable-fields';
import { forcedReplacements, isReviewedType, schemaPath } from './immutable-fields';
import { diffResource, isTerraformSide, resolvedResources } from './resource-diff';
import { describeField, jobDuration, listSome, rolloutStrategy, templateChangeCauses, valuesChanges } from './describe-change';
import { kindOf, many, Obj, one, str, TerraformJson } from './terraform-json';

/** The `kind` values of the JSON output, in the order a stack's consequences are listed. */
export const CONSEQUENCE_KINDS = ['create', 'delete', 'update', 'replace', 'rollout', 'job-run', 'helm-upgrade'] as const;
export type ConsequenceKind = (typeof CONSEQUENCE_KINDS)[number];
export type ResourceAction = 'create' | 'delete' | 'update' | 'replace';

/** One line of `--json`: exactly these fields. */
export interface Consequence {
  readonly kind: ConsequenceKind;
  /** `<terraform type>.<logical name>`. */
  readonly address: string;
  readonly stack: string;
  readonly destructive: boolean;
  readonly reason: string;
}

export interface ResourceChange {
  readonly stack: string;
  readonly address: string;
  readonly type: string;
  /** `PersistentVolumeClaim omniglue/omniglue-model-repository`. */
  readonly object: string;
  readonly action: ResourceAction;
  readonly changes: FieldChange[];
  readonly forced: ForcedChange[];
}

export interface StackDocument {
  readonly name: string;
  readonly doc: TerraformJson;
}

export interface ChangeReview {
  readonly consequences: Consequence[];
  readonly resources: ResourceChange[];
  readonly stacks: { readonly name: string; readonly status: 'added' | 'removed' | 'changed' | 'unchanged' }[];
  /** Types with in-place updates whose own immutable fields the table does not cover (metadata only). */
  readonly unreviewedTypes: string[];
}

const WORKLOAD = /^kubernetes_(deployment|stateful_set|daemon_set|daemonset)(_v\d+)?$/;
const JOB = /^kubernetes_job(_v\d+)?$/;
const HPA = /^kubernetes_horizontal_pod_autoscaler(_v\d+(beta\d+)?)?$/;
const PDB = /^kubernetes_pod_disruption_budget(_v\d+(beta\d+)?)?$/;
const CONFIG_MAP = /^kubernetes_config_map(_v\d+)?$/;
const CLAIM = /^kubernetes_persistent_volume_claim(_v\d+)?$/;
const VOLUME = /^kubernetes_persistent_volume(_v\d+)?$/;
const NAMESPACE = /^kubernetes_namespace(_v\d+)?$/;
/** Attributes of a helm_release whose change makes the provider run `helm upgrade` with new manifests. */
const HELM_UPGRADE_ATTRIBUTES = new Set(['chart', 'version', 'repository', 'values', 'set', 'set_list', 'set_sensitive', 'set_wo', 'postrender']);

function manifestKind(type: string, resource: Obj): string {
  return type === 'kubernetes_manifest' ? str(one(resource.manifest).kind) ?? '' : '';
}

function objectLabel(type: string, resource: Obj): string {
  if (type === 'helm_release') return `HelmRelease ${[str(resource.namespace), str(resource.name)].filter(Boolean).join('/')}`;
  const manifest = type === 'kubernetes_manifest' ? one(resource.manifest) : undefined;
  const metadata = one((manifest ?? resource).metadata);
  const kind = manifest !== undefined ? str(manifest.kind) ?? type : kindOf(type);
  const name = [str(metadata.namespace), str(metadata.name)].filter(Boolean).join('/');
  return name === '' ? kind : `${kind} ${name}`;
}

function isDestructiveType(type: string, resource: Obj): boolean {
  return CLAIM.test(type) || VOLUME.test(type) || NAMESPACE.test(type) || ['PersistentVolumeClaim', 'PersistentVolume', 'Namespace'].includes(manifestKind(type, resource));
}

function podSpec(resource: Obj): Obj {
  return one(one(one(resource.spec).template).spec);
}

/** What is lost with a claim or namespace, and what will not put it back. */
function lossDetail(change: ResourceChange, resource: Obj, after: Record<string, Record<string, Obj>>, running: Set<string>): string {
  if (NAMESPACE.test(change.type) || manifestKind(change.type, resource) === 'Namespace') {
    return 'Kubernetes deletes every object in the namespace with it, volume claims and their data included';
  }
  const claim = str(one(resource.metadata).name);
  const writers = Object.entries(after)
    .filter(([type]) => JOB.test(type))
    .flatMap(([type, byName]) => Object.entries(byName).map(([name, job]) => ({ address: `${type}.${name}`, job })))
    .filter(({ job }) => many(podSpec(job).volume).some((volume) => str(one(volume.persistent_volume_claim).claim_name) === claim));
  const idle = writers.filter(({ address }) => !running.has(address)).map(({ address }) => address);
  return [
    'its data is lost: dynamically provisioned volumes default to reclaimPolicy Delete (https://kubernetes.io/docs/concepts/storage/persistent-volumes/#reclaiming)',
    change.action === 'replace' ? 'the new claim starts empty' : undefined,
    idle.length > 0 ? `${idle.join(', ')} keeps its name and does not run again to refill it` : undefined,
    'the provider waits for the old claim to disappear, which the kubernetes.io/pvc-protection finalizer holds off while pods still mount it',
  ]
    .filter((part): part is string => part !== undefined)
    .join('; ');
}

function fields(type: string, changes: FieldChange[], before: Obj | undefined, after: Obj | undefined): string[] {
  const described: string[] = [];
  for (const change of changes) {
    if (type === 'helm_release' && schemaPath(change.path).split('.')[0] === 'values') continue;
    described.push(describeField(type, change));
  }
  if (type === 'helm_release' && changes.some((c) => schemaPath(c.path).startsWith('values'))) {
    described.push(...(valuesChanges(before, after) ?? ['values changed']));
  }
  return described;
}

function actionOf(before: Obj | undefined, after: Obj | undefined, changes: FieldChange[], forced: ForcedChange[]): ResourceAction | undefined {
  if (before === undefined) return 'create';
  if (after === undefined) return 'delete';
  if (changes.length === 0) return undefined;
  return forced.length > 0 ? 'replace' : 'update';
}

function forcedText(forced: ForcedChange[]): string {
  return listSome(
    forced.map(({ change, rule }) => {
      const sources = [rule.provider !== undefined ? 'provider ForceNew' : undefined, rule.api !== undefined ? 'immutable in the Kubernetes API' : undefined].filter(Boolean).join('; ');
      return `${describeField('', change)} (${sources})`;
    }),
    4,
  );
}

function dependentsOf(address: string, after: Record<string, Record<string, Obj>>): string[] {
  return Object.entries(after).flatMap(([type, byName]) =>
    Object.entries(byName)
      .filter(([, resource]) => Array.isArray(resource.depends_on) && resource.depends_on.includes(address))
      .map(([name]) => `${type}.${name}`),
  );
}

function compareStack(stack: string, beforeDoc: TerraformJson | undefined, afterDoc: TerraformJson | undefined, review: ChangeReview): boolean {
  const before = resolvedResources(beforeDoc ?? {});
  const after = resolvedResources(afterDoc ?? {});
  const types = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const changed: { change: ResourceChange; old: Obj | undefined; now: Obj | undefined }[] = [];
  for (const type of types) {
    const names = [...new Set([...Object.keys(before[type] ?? {}), ...Object.keys(after[type] ?? {})])].sort();
    for (const name of names) {
      const old = before[type]?.[name];
      const now = after[type]?.[name];
      const changes = old !== undefined && now !== undefined ? diffResource(old, now, type) : [];
      const forced = old !== undefined && now !== undefined ? forcedReplacements(type, changes, old) : [];
      const action = actionOf(old, now, changes, forced);
      if (action === undefined) continue;
      if (action === 'update' && !isReviewedType(type) && !review.unreviewedTypes.includes(type)) review.unreviewedTypes.push(type);
      changed.push({ change: { stack, address: `${type}.${name}`, type, object: objectLabel(type, (now ?? old) as Obj), action, changes, forced }, old, now });
    }
  }
  const running = new Set(changed.filter(({ change }) => JOB.test(change.type) && (change.action === 'create' || change.action === 'replace')).map(({ change }) => change.address));

  for (const { change, old, now } of changed) {
    review.resources.push(change);
    const { type, address, object, action } = change;
    const resource = (now ?? old) as Obj;
    const destructive = (action === 'delete' || action === 'replace') && isDestructiveType(type, resource);
    const add = (kind: ConsequenceKind, reason: string, isDestructive = false) => review.consequences.push({ kind, address, stack, destructive: isDestructive, reason });
    const loss = destructive ? `; ${lossDetail(change, resource, after, running)}` : '';

    if (action === 'create') add('create', `creates ${object}`);
    if (action === 'delete') add('delete', `deletes ${object}${loss}`, destructive);
    if (action === 'replace') {
      const extra = WORKLOAD.test(type)
        ? '; every pod stops before the new object starts any: not a rolling update'
        : PDB.test(type)
          ? '; rolls nothing (no pod restarts), and no disruption budget protects the pods between the delete and the create'
          : HPA.test(type)
            ? '; rolls nothing (no pod restarts)'
            : type === 'helm_release'
              ? '; Helm uninstalls the release and installs it again, deleting and recreating its objects'
              : '';
      add('replace', `${object} is deleted and created again: ${forcedText(change.forced)}${extra}${loss}`, destructive);
    }
    if (action === 'update') {
      const clusterChanges = change.changes.filter((c) => !isTerraformSide(type, c));
      if (clusterChanges.length === 0) {
        add('update', `${object}: only how Terraform applies it changes (${listSome(change.changes.map((c) => describeField(type, c)))}); nothing changes in the cluster`);
      } else {
        const rollsNothing =
          HPA.test(type) || PDB.test(type)
            ? '; rolls nothing (no pod restarts)'
            : CONFIG_MAP.test(type)
              ? '; restarts nothing: mounted files follow after the kubelet syncs, environment variables only when pods restart'
              : '';
        add('update', `${object} is updated in place: ${listSome(fields(type, change.changes, old, now))}${rollsNothing}`);
      }
      const template = clusterChanges.filter((c) => c.path.startsWith('spec.template.'));
      if (WORKLOAD.test(type) && template.length > 0 && now !== undefined && old !== undefined) {
        add('rollout', `pods of ${object} roll, ${rolloutStrategy(type, now)}, because the pod template changed: ${listSome(templateChangeCauses(template, old, now))}`);
      }
      if (type === 'helm_release' && clusterChanges.some((c) => HELM_UPGRADE_ATTRIBUTES.has(schemaPath(c.path).split('.')[0]))) {
        const upgrade = clusterChanges.filter((c) => HELM_UPGRADE_ATTRIBUTES.has(schemaPath(c.path).split('.')[0]));
        add('helm-upgrade', `helm upgrade of ${object.replace(/^HelmRelease /, 'release ')}: ${listSome(fields(type, upgrade, old, now))}`);
      }
    }
    if (running.has(address) && now !== undefined) {
      const name = str(one(now.metadata).name) ?? address;
      const oldName = old === undefined ? undefined : str(one(old.metadata).name);
      const why =
        oldName === undefined ? 'new Job' : oldName !== name ? `new name, was ${oldName}` : `same name, recreated because ${listSome(change.forced.map((f) => f.change.path), 3)} changed`;
      const dependents = dependentsOf(address, after);
      const ordering = dependents.length > 0 ? `; ${dependents.join(', ')} wait for it (depends_on)` : '';
      add('job-run', `Job ${name} runs (${why}): it ${jobDuration(now)}${ordering}`);
    }
  }
  return changed.length > 0;
}

/** Compares two syntheses stack by stack (stacks matched by name). */
export function compareSyntheses(before: StackDocument[], after: StackDocument[]): ChangeReview {
  const review: ChangeReview = { consequences: [], resources: [], stacks: [], unreviewedTypes: [] };
  const beforeByName = new Map(before.map((s) => [s.name, s.doc]));
  const afterByName = new Map(after.map((s) => [s.name, s.doc]));
  const names = [...after.map((s) => s.name), ...before.map((s) => s.name).filter((name) => !afterByName.has(name))];
  for (const name of names) {
    const changed = compareStack(name, beforeByName.get(name), afterByName.get(name), review);
    const status = !beforeByName.has(name) ? 'added' : !afterByName.has(name) ? 'removed' : changed ? 'changed' : 'unchanged';
    review.stacks.push({ name, status });
  }
  review.unreviewedTypes.sort();
  return review;
}

/** The `--json` document. */
export function consequencesJson(review: ChangeReview): { consequences: Consequence[] } {
  return { consequences: review.consequences.map(({ kind, address, stack, destructive, reason }) => ({ kind, address, stack, destructive, reason })) };
}

export function hasDestructive(review: ChangeReview): boolean {
  return review.consequences.some((c) => c.destructive);
}
