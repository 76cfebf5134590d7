/** What the stack holds at the top level: its objects, Helm releases and outputs. */

import { bool, kindOf, metadataOf, num, one, resolveReferences, resourcesOf, str, TerraformJson, typesOf } from './terraform-json';

export interface ObjectRef {
  readonly kind: string;
  readonly name: string;
  /** Undefined for cluster-scoped objects. */
  readonly namespace: string | undefined;
}

export interface HelmReleaseSummary {
  readonly name: string;
  readonly namespace: string | undefined;
  readonly chart: string;
  readonly repository: string | undefined;
  readonly version: string | undefined;
  readonly wait: boolean;
  readonly atomic: boolean;
  readonly timeoutSeconds: number;
}

export interface OutputSummary {
  readonly name: string;
  readonly value: string;
  readonly description: string | undefined;
  readonly sensitive: boolean;
}

/** Every resource as kind + name + namespace, sorted by kind then name. */
export function summarizeObjects(doc: TerraformJson): ObjectRef[] {
  const objects: ObjectRef[] = [];
  for (const type of typesOf(doc, /./)) {
    for (const [logicalName, resource] of resourcesOf(doc, type)) {
      if (type === 'kubernetes_manifest') {
        const manifest = one(resource.manifest);
        const metadata = one(manifest.metadata);
        objects.push({ kind: str(manifest.kind) ?? type, name: str(metadata.name) ?? logicalName, namespace: str(metadata.namespace) });
      } else if (type === 'helm_release') {
        objects.push({ kind: kindOf(type), name: str(resource.name) ?? logicalName, namespace: str(resource.namespace) });
      } else {
        const { name, namespace } = metadataOf(doc, resource);
        objects.push({ kind: kindOf(type), name: name ?? logicalName, namespace });
      }
    }
  }
  return objects.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
}

export function summarizeHelmReleases(doc: TerraformJson): HelmReleaseSummary[] {
  return resourcesOf(doc, 'helm_release').map(([logicalName, release]) => {
    const version = str(release.version);
    return {
      name: str(release.name) ?? logicalName,
      namespace: str(release.namespace),
      chart: str(release.chart) ?? '?',
      repository: str(release.repository),
      version: version === '' ? undefined : version,
      // The helm provider's defaults.
      wait: bool(release.wait, true),
      atomic: bool(release.atomic, false),
      timeoutSeconds: num(release.timeout) ?? 300,
    };
  });
}

export function summarizeOutputs(doc: TerraformJson): OutputSummary[] {
  return Object.entries(one(doc.output))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, output]) => {
      const record = one(output);
      const sensitive = bool(record.sensitive, false);
      const raw = typeof record.value === 'string' ? record.value : JSON.stringify(record.value);
      return { name, value: sensitive ? '(sensitive)' : resolveReferences(doc, raw ?? ''), description: str(record.description), sensitive };
    });
}
