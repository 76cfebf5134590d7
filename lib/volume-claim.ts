import { Construct } from 'constructs';
import { commonLabels } from './labels';
import { PersistentVolumeClaimV1 } from './provider-classes';

/** A claim of the serving workload, as every volume of the stack is requested. */
export interface WorkloadClaimSettings {
  readonly name: string;
  readonly namespace: string;
  /** `app.kubernetes.io/component` of the claim. */
  readonly component: string;
  readonly size: string;
  readonly accessMode: string;
  /** Unset uses the cluster's default StorageClass. */
  readonly storageClassName: string | undefined;
}

/**
 * A PersistentVolumeClaim that Terraform does not wait to see bound: WaitForFirstConsumer StorageClasses (most cloud
 * defaults) bind only once a pod mounts the claim, so waiting (the provider's default, `wait_until_bound`) deadlocks.
 */
export function workloadClaim(scope: Construct, id: string, settings: WorkloadClaimSettings): PersistentVolumeClaimV1 {
  return new PersistentVolumeClaimV1(scope, id, {
    metadata: { name: settings.name, namespace: settings.namespace, labels: commonLabels('omniglue', settings.component) },
    spec: {
      accessModes: [settings.accessMode],
      resources: { requests: { storage: settings.size } },
      ...(settings.storageClassName !== undefined ? { storageClassName: settings.storageClassName } : {}),
    },
    waitUntilBound: false,
  });
}
