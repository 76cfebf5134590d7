/**
 * Reading one stack's Terraform JSON. Every summary goes through these accessors, so a hand-edited or oddly
 * shaped document yields `?` in the review instead of an exception.
 */

/** Terraform JSON as parsed; every accessor below tolerates missing or oddly shaped fields. */
export type TerraformJson = Record<string, unknown>;

export type Obj = Record<string, unknown>;

// ---- tolerant accessors: cdktf writes single nested blocks as objects, hand-written JSON often as lists.

export function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
export function one(value: unknown): Obj {
  const first = Array.isArray(value) ? value[0] : value;
  return isObj(first) ? first : {};
}
export function many(value: unknown): Obj[] {
  return (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter(isObj);
}
export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
}
/** Numbers the provider accepts as strings too (`"replicas": "1"`). */
export function num(value: unknown): number | undefined {
  const parsed = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(parsed) ? parsed : undefined;
}
export function bool(value: unknown, fallback: boolean): boolean {
  return typeof value === 'boolean' ? value : value === 'true' ? true : value === 'false' ? false : fallback;
}
export function labels(value: unknown): string {
  return Object.entries(one(value))
    .map(([key, v]) => `${key}=${str(v) ?? ''}`)
    .join(', ');
}

/** All resources of one Terraform type, sorted by logical name so the output is stable. */
export function resourcesOf(doc: TerraformJson, type: string): [string, Obj][] {
  const byName = one(one(doc.resource)[type]);
  return Object.entries(byName)
    .filter((entry): entry is [string, Obj] => isObj(entry[1]))
    .sort(([a], [b]) => a.localeCompare(b));
}
/** A Kubernetes resource of the stack, with its names resolved (the logical name when metadata has none). */
export interface KubernetesObject {
  readonly resource: Obj;
  readonly spec: Obj;
  readonly name: string;
  readonly namespace: string | undefined;
}

/** Every resource whose type matches, sorted by type then logical name. */
export function kubernetesObjects(doc: TerraformJson, pattern: RegExp): KubernetesObject[] {
  return typesOf(doc, pattern).flatMap((type) =>
    resourcesOf(doc, type).map(([logicalName, resource]) => {
      const { name, namespace } = metadataOf(doc, resource);
      return { resource, spec: one(resource.spec), name: name ?? logicalName, namespace };
    }),
  );
}

export function typesOf(doc: TerraformJson, pattern: RegExp): string[] {
  return Object.keys(one(doc.resource))
    .filter((type) => pattern.test(type))
    .sort();
}

/**
 * Replaces `${type.name.metadata[0].name}` with the literal name when the stack sets it, so the review shows
 * `omniglue` rather than a Terraform reference; other references stay as written.
 */
export function resolveReferences(doc: TerraformJson, text: string): string {
  return text.replace(/\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.metadata\[0\]\.name\}/g, (whole, type: string, name: string) => {
    const literal = str(one(one(one(one(doc.resource)[type])[name]).metadata).name);
    return literal !== undefined && !literal.includes('${') ? literal : whole;
  });
}

/** `kubernetes_persistent_volume_claim_v1` → `PersistentVolumeClaim`; other providers keep the Terraform type. */
export function kindOf(type: string): string {
  if (type === 'helm_release') return 'HelmRelease';
  if (!type.startsWith('kubernetes_')) return type;
  return type
    .replace(/^kubernetes_/, '')
    .replace(/_v\d+(beta\d+)?$/, '')
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

export function metadataOf(doc: TerraformJson, resource: Obj): { name: string | undefined; namespace: string | undefined } {
  const metadata = one(resource.metadata);
  const name = str(metadata.name);
  const namespace = str(metadata.namespace);
  return {
    name: name === undefined ? undefined : resolveReferences(doc, name),
    namespace: namespace === undefined ? undefined : resolveReferences(doc, namespace),
  };
}
