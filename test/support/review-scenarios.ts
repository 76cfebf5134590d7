import { configSchema } from '../../config/schema';
import { quantityValue } from '../../lib/quantity';

/**
 * The changes the review is checked on against Terraform (issue 18, point 6). Each is a configuration change
 * merged over the configuration applied before it (`null` removes a setting), so one base apply serves them all
 * and every applied scenario is the next one's starting point. The order keeps that cheap: no scenario needs an
 * earlier one undone, and the namespace rename, which recreates everything, comes last.
 */
export interface ReviewScenario {
  readonly name: string;
  readonly change: Record<string, unknown>;
  /**
   * Why the change is planned but not applied, when applying it cannot finish: the provider deletes a replaced claim
   * and waits for it to disappear (terraform-provider-kubernetes resource_kubernetes_persistent_volume_claim_v1.go,
   * Delete: retry until NotFound, 20 minutes by default), and the kubernetes.io/pvc-protection finalizer keeps it
   * while Triton's pods mount it (kube-controller-manager pkg/controller/volume/pvcprotection).
   */
  readonly planOnly?: string;
  /**
   * Why the review cannot agree with Terraform on this change: the test then asserts that they still disagree, so
   * that a review which learns to agree fails it and the mark comes off.
   */
  readonly knownDisagreement?: string;
}

const DEFAULTS = configSchema.parse({});
const MiB = 2 ** 20;
const GiB = 2 ** 30;
/** The same quantity in Mi: `50Gi` → `51200Mi`. */
const inMi = (quantity: string) => `${quantityValue(quantity) / MiB}Mi`;
/** A quantity `deltaGiB` away from `quantity`, in Gi. */
const shiftedGi = (quantity: string, deltaGiB: number) => `${quantityValue(quantity) / GiB + deltaGiB}Gi`;

const CLAIM_IN_USE = 'replacing the model-repository claim waits on pvc-protection while Triton mounts it';

export const REVIEW_SCENARIOS: ReviewScenario[] = [
  // The claim was created without a class, so the API server's DefaultStorageClass admission gave it the
  // default, `standard`: naming that class is no change to Terraform, which reads it back from the cluster.
  {
    name: 'storage class set to the cluster default',
    change: { modelRepository: { storageClassName: 'standard' } },
    knownDisagreement:
      'the review reads two syntheses, not the cluster: it cannot know that the API server filled in the default class, so it reports the ForceNew replace',
  },
  { name: 'storage class dropped', change: { modelRepository: { storageClassName: null } } },
  { name: 'storage class set', change: { modelRepository: { storageClassName: 'fast' } }, planOnly: CLAIM_IN_USE },
  { name: 'PVC size, same size in other units', change: { modelRepository: { size: inMi(DEFAULTS.modelRepository.size) } } },
  { name: 'PVC size down', change: { modelRepository: { size: shiftedGi(DEFAULTS.modelRepository.size, -10) } }, planOnly: CLAIM_IN_USE },
  { name: 'memory limit in other units', change: { triton: { resources: { memoryLimit: inMi(DEFAULTS.triton.resources.memoryLimit) } } } },
  { name: 'HPA target', change: { autoscaling: { gpuUtilizationTargetPercent: 80 } } },
  { name: 'Triton image tag', change: { triton: { imageTag: '26.07-py3' } } },
  { name: 'Job image', change: { conversion: { image: 'python:3.11.12-slim-bookworm' } } },
  // Only the published model version changes: the Job gets a new name, and the Deployment's pod template only its
  // model-version annotation.
  { name: 'pod-template metadata (model-version annotation)', change: { conversion: { minSampleMatches: 12 } } },
  { name: 'chart version', change: { chartVersions: { nvidiaDevicePlugin: '0.18.1' } } },
  { name: 'device plugin switched off', change: { addons: { nvidiaDevicePlugin: false } } },
  // A bound claim may grow in place where its StorageClass allows expansion (the harness's classes do).
  { name: 'PVC size up', change: { modelRepository: { size: shiftedGi(DEFAULTS.modelRepository.size, 10) } } },
  { name: 'namespace rename', change: { namespace: 'omniglue-renamed' } },
];

/** `b` merged over `a`; objects merge key by key, `null` removes the key, anything else replaces. */
export function mergeChange(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const prior = out[key];
    if (value === null) delete out[key];
    else if (isObject(value) && isObject(prior)) out[key] = mergeChange(prior, value);
    else out[key] = value;
  }
  return out;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
