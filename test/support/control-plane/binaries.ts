import { enginePaths } from '../../../scripts/engines';

export interface ControlPlaneBinaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  /** kwok only plays the kubelet: binding pods to nodes is kube-scheduler's job, as in kwokctl's clusters. */
  readonly kubeScheduler: string;
  readonly kwok: string;
}

/** The control plane's engines, as `npm run setup` builds them; throws naming `npm run setup` when one is missing. */
export function controlPlaneBinaries(): ControlPlaneBinaries {
  return enginePaths('etcd', 'kubeApiserver', 'kubeControllerManager', 'kubeScheduler', 'kwok');
}
