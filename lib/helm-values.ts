import { stringify } from 'yaml';

/** Renders Helm values as plain YAML: no anchors/aliases, so reviewers read every value where it applies. */
export function helmValues(values: unknown): string {
  return stringify(values, { aliasDuplicateObjects: false, lineWidth: 0 });
}
