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

/** Labels of Triton's objects (Deployment, Service, PodDisruptionBudget, NetworkPolicy). */
export const TRITON_LABELS: Readonly<Record<string, string>> = commonLabels('triton', 'inference-server');

/**
 * Selector of the Triton pods. Defined here rather than in TritonServer because the conversion Job, created
 * before the server, places itself beside those pods.
 */
export const TRITON_SELECTOR_LABELS: Readonly<Record<string, string>> = selectorLabels('triton', 'inference-server');
