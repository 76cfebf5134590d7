/**
 * The names Kubernetes accepts, checked as the API server checks them: k8s.io/apimachinery
 * pkg/util/validation/validation.go (`IsDNS1123Label`, `IsDNS1123Subdomain`, `IsQualifiedName` for label keys via
 * `ValidateLabelName`, `IsValidLabelValue`). Each check returns what is wrong, or undefined.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** qualifiedNameFmt: the name part of a label key, and a non-empty label value. */
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
export const DNS1123_LABEL_MAX = 63;
export const DNS1123_SUBDOMAIN_MAX = 253;
/** qualifiedNameMaxLength and LabelValueMaxLength. */
export const LABEL_PART_MAX = 63;

export function dnsLabelProblem(value: string): string | undefined {
  if (value.length > DNS1123_LABEL_MAX) return `must be at most ${DNS1123_LABEL_MAX} characters (a DNS-1123 label)`;
  if (!DNS1123_LABEL.test(value)) return 'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit';
  return undefined;
}

export function dnsSubdomainProblem(value: string): string | undefined {
  if (value.length > DNS1123_SUBDOMAIN_MAX) return `must be at most ${DNS1123_SUBDOMAIN_MAX} characters (a DNS-1123 subdomain)`;
  if (!DNS1123_SUBDOMAIN.test(value)) return 'must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", each dot-separated part starting and ending with a letter or digit';
  return undefined;
}

/** A label key: `[prefix/]name`, the prefix a DNS-1123 subdomain of at most 253 characters, the name at most 63. */
export function labelKeyProblem(key: string): string | undefined {
  const what = 'must be a Kubernetes label key such as "nvidia.com/gpu.present"';
  const parts = key.split('/');
  if (parts.length > 2) return `${what}: at most one "/", between the prefix and the name`;
  const [prefix, name] = parts.length === 2 ? parts : [undefined, parts[0]];
  if (prefix !== undefined) {
    if (prefix === '') return `${what}: the prefix before "/" is empty`;
    const problem = dnsSubdomainProblem(prefix);
    if (problem !== undefined) return `${what}: its prefix "${prefix.slice(0, 40)}${prefix.length > 40 ? '...' : ''}" ${problem}`;
  }
  if (name === '') return `${what}: the name part is empty`;
  if (name.length > LABEL_PART_MAX) return `${what}: its name part is ${name.length} characters, at most ${LABEL_PART_MAX}`;
  if (!QUALIFIED_NAME.test(name)) return `${what}: its name part must be letters, digits, "-", "_" and ".", starting and ending with a letter or digit`;
  return undefined;
}

/** A label value: empty, or at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > LABEL_PART_MAX) return `must be at most ${LABEL_PART_MAX} characters (a Kubernetes label value)`;
  if (value !== '' && !QUALIFIED_NAME.test(value)) {
    return 'must be a Kubernetes label value: letters, digits, "-", "_" and ".", starting and ending with a letter or digit';
  }
  return undefined;
}

/**
 * A label value that stands for `text` (an image tag in `app.kubernetes.io/version`): the text itself when it is
 * one; otherwise its first 63 characters with whatever is not a letter or digit trimmed from both ends. An image tag
 * (`[\w][\w.-]{0,127}`) may start with "_", end with "-" or ".", and run to 128 characters, none of which a label
 * value may; the label is informational (nothing selects on it), so a recognisable prefix serves.
 */
export function labelValueFor(text: string): string {
  if (labelValueProblem(text) === undefined) return text;
  return text.slice(0, LABEL_PART_MAX).replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '').replace(/[^-A-Za-z0-9_.]/g, '-');
}
