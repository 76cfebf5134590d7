/** The `app.kubernetes.io/*` labels every object of this project carries, built in one place. */
export const PART_OF = 'omniglue-triton';
export const MANAGED_BY = 'cdktf';

export function commonLabels(name: string, component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': PART_OF,
    'app.kubernetes.io/managed-by': MANAGED_BY,
  };
}

/** Labels a selector may use: stable for the life of the object, unlike version or managed-by labels. */
export function selectorLabels(name: string, component: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/component': component };
}
