/** The GPU settings (configuration section `gpu`) that decide where GPU pods may run. */
export interface GpuNodeSettings {
  readonly nodeLabel: { readonly key: string; readonly value: string };
  readonly taint: { readonly key: string; readonly effect: string };
  readonly product?: string;
  readonly runtimeClassName?: string;
}

export interface Toleration {
  readonly key: string;
  readonly operator: 'Exists';
  readonly effect: string;
}

/** Node label GPU feature discovery sets to the GPU model, e.g. NVIDIA-A10G. */
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
/** Extended resource the device plugin advertises. */
export const GPU_RESOURCE = 'nvidia.com/gpu';

/**
 * Where GPU pods may run, derived once from the configuration and shared by every GPU workload
 * (device plugin, conversion Job, Triton) so they cannot disagree.
 */
export class GpuScheduling {
  /** Tolerates the GPU taint whatever its value: clouds use `present`, `true` or none. */
  readonly toleration: Toleration;
  /** Node labels a GPU pod requires: the GPU node label, plus the product when one is pinned. */
  readonly requiredNodeLabels: Readonly<Record<string, string>>;
  readonly runtimeClassName: string | undefined;

  constructor(gpu: GpuNodeSettings) {
    this.toleration = { key: gpu.taint.key, operator: 'Exists', effect: gpu.taint.effect };
    this.requiredNodeLabels = {
      [gpu.nodeLabel.key]: gpu.nodeLabel.value,
      ...(gpu.product !== undefined ? { [GPU_PRODUCT_LABEL]: gpu.product } : {}),
    };
    this.runtimeClassName = gpu.runtimeClassName;
  }

  /** `match_expressions` for a required node affinity term, in the provider's snake_case shape. */
  nodeAffinityMatchExpressions(): { key: string; operator: string; values: string[] }[] {
    return Object.entries(this.requiredNodeLabels).map(([key, value]) => ({ key, operator: 'In', values: [value] }));
  }
}

/** Pod-spec fields that put a pod on a GPU node; shared by the conversion Job and Triton. */
export function gpuPodPlacement(scheduling: GpuScheduling) {
  return {
    toleration: [{ ...scheduling.toleration }],
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerm: [{ matchExpressions: scheduling.nodeAffinityMatchExpressions() }],
        },
      },
    },
    ...(scheduling.runtimeClassName !== undefined ? { runtimeClassName: scheduling.runtimeClassName } : {}),
  };
}

/**
 * A ReadWriteOnce volume is attached to one node at a time, and Triton holds it while a new version converts: a
 * pod that mounts it may go onto the GPU nodes and prefers the node of the pods `besideLabels` selects (Triton's),
 * else it waits on a Multi-Attach error.
 */
export function gpuPodPlacementBeside(scheduling: GpuScheduling, besideLabels: Readonly<Record<string, string>>) {
  return {
    toleration: [{ ...scheduling.toleration }],
    affinity: {
      podAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: [{ matchLabels: { ...besideLabels } }] } },
        ],
      },
    },
  };
}
