import { Document, isMap, parseDocument, stringify } from 'yaml';
import { isPlainObject, Json } from './deep-merge';

/** Renders Helm values as plain YAML: no anchors/aliases, so reviewers read every value where it applies. */
export function helmValues(values: unknown): string {
  // Pure in its input; stacks built many times in one process (tests) render the same values again and again.
  const key = JSON.stringify(values);
  let text = renderedValues.get(key);
  if (text === undefined) {
    text = stringify(values, { aliasDuplicateObjects: false, lineWidth: 0 });
    renderedValues.set(key, text);
  }
  return text;
}

const renderedValues = new Map<string, string>();

/**
 * A release's values files as the one document Helm ends up with: later documents merged over earlier ones as the
 * helm provider merges a `values` list (hashicorp/terraform-provider-helm v3.1.1, helm/resource_helm_release.go,
 * getValues and mergeMaps: maps key by key, lists and scalars replaced, as lib/deep-merge.ts does), the first
 * document's comments kept.
 *
 * One document, not the list: `cdktf synth --hcl` writes a list of multi-line strings as `<<EOF … EOF, <<EOF … EOF`,
 * and HCL does not end a heredoc at `EOF,`, so the release would get one string holding every document and the
 * literal `EOF,` and `<<EOF` lines, which Helm cannot parse. It also shows a reviewer the values Helm gets.
 */
export function singleValuesDocument(documents: readonly string[]): [string] {
  // The same documents always merge to the same text; stacks built many times in one process (tests) reuse it.
  const key = JSON.stringify(documents);
  const known = mergedDocuments.get(key);
  if (known !== undefined) return [known];
  const [merged] = mergeValuesDocuments(documents);
  mergedDocuments.set(key, merged);
  return [merged];
}

const mergedDocuments = new Map<string, string>();

function mergeValuesDocuments(documents: readonly string[]): [string] {
  const [first = '', ...rest] = documents;
  const merged = parseDocument(first);
  for (const text of [first, ...rest]) {
    const document = parseDocument(text);
    if (document.errors.length > 0) throw new Error(`Helm values are not valid YAML: ${document.errors[0].message}`);
  }
  const base = merged.toJS() as Json;
  if (base !== null && base !== undefined && !isPlainObject(base)) throw new Error(`Helm values must be a map at the top level, got: ${first.slice(0, 80)}`);
  for (const text of rest) {
    const overlay = parseDocument(text).toJS() as Json;
    if (overlay === null || overlay === undefined) continue;
    if (!isPlainObject(overlay)) throw new Error(`Helm values must be a map at the top level, got: ${text.slice(0, 80)}`);
    mergeInto(merged, [], overlay);
  }
  return [merged.contents === null ? '{}\n' : merged.toString({ lineWidth: 0 })];
}

function mergeInto(document: Document, path: string[], overlay: Record<string, Json>): void {
  for (const [key, value] of Object.entries(overlay)) {
    const at = [...path, key];
    if (isPlainObject(value) && isMap(document.getIn(at, true))) mergeInto(document, at, value);
    else document.setIn(at, document.createNode(value, { aliasDuplicateObjects: false }));
  }
}
