import type { KubeObject } from './kube-client';

/**
 * The fake nodes, shaped as a managed cluster's: CPU nodes for the platform's pods and GPU nodes as the NVIDIA
 * stack labels and taints them. A GPU node carries what node-feature-discovery and GPU feature discovery put on a
 * real one (NVIDIA/k8s-device-plugin docs/gpu-feature-discovery, the `nvidia.com/gpu.*` labels; NFD's
 * `feature.node.kubernetes.io/pci-10de.present`, the label the product requires by default), the taint NVIDIA's
 * deployment guides put on GPU pools (`nvidia.com/gpu=present:NoSchedule`, tutorials Deployment/Kubernetes), and the
 * `nvidia.com/gpu` capacity the device plugin advertises.
 *
 * Sized as an AWS g5.2xlarge (8 vCPU, 32 GiB, one A10G) with EKS's reservations: the product's default Triton pod
 * (4 CPU, 16Gi) fits one per node. Three GPU nodes: two replicas plus the surge pod of a rolling update
 * (maxSurge 1, maxUnavailable 0), which a cluster with exactly two GPU nodes cannot place.
 */
export interface FakeNode {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly taints: { key: string; value?: string; effect: string }[];
  readonly capacity: Record<string, string>;
  readonly allocatable: Record<string, string>;
}

export const GPU_PRODUCT = 'NVIDIA-A10G';
export const GPU_NODE_COUNT = 3;
export const CPU_NODE_COUNT = 2;

const commonLabels = (name: string, instanceType: string, zone: string) => ({
  'kubernetes.io/hostname': name,
  'kubernetes.io/os': 'linux',
  'kubernetes.io/arch': 'amd64',
  'node.kubernetes.io/instance-type': instanceType,
  'topology.kubernetes.io/region': 'harness-1',
  'topology.kubernetes.io/zone': zone,
});

const ZONES = ['harness-1a', 'harness-1b', 'harness-1c'];

export function gpuNode(index: number): FakeNode {
  const name = `gpu-node-${index}`;
  return {
    name,
    labels: {
      ...commonLabels(name, 'g5.2xlarge', ZONES[index % ZONES.length]),
      'feature.node.kubernetes.io/pci-10de.present': 'true',
      'nvidia.com/gpu.present': 'true',
      'nvidia.com/gpu.product': GPU_PRODUCT,
      'nvidia.com/gpu.count': '1',
      'nvidia.com/gpu.memory': '23028',
      'nvidia.com/gpu.family': 'ampere',
      'nvidia.com/cuda.driver.major': '570',
    },
    taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
    capacity: { cpu: '8', memory: '32386452Ki', pods: '58', 'ephemeral-storage': '104845292Ki', 'nvidia.com/gpu': '1' },
    allocatable: { cpu: '7910m', memory: '31369620Ki', pods: '58', 'ephemeral-storage': '95551679124', 'nvidia.com/gpu': '1' },
  };
}

export function cpuNode(index: number): FakeNode {
  const name = `cpu-node-${index}`;
  return {
    name,
    labels: commonLabels(name, 'm5.2xlarge', ZONES[index % ZONES.length]),
    taints: [],
    capacity: { cpu: '8', memory: '32386452Ki', pods: '58', 'ephemeral-storage': '104845292Ki' },
    allocatable: { cpu: '7910m', memory: '31369620Ki', pods: '58', 'ephemeral-storage': '95551679124' },
  };
}

export function fakeNodes(): FakeNode[] {
  return [...Array.from({ length: CPU_NODE_COUNT }, (_, i) => cpuNode(i)), ...Array.from({ length: GPU_NODE_COUNT }, (_, i) => gpuNode(i))];
}

export function nodeObject(node: FakeNode): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.name, labels: node.labels, annotations: { 'kwok.x-k8s.io/node': 'fake' } },
    spec: { taints: node.taints },
  };
}

/**
 * Storage as a managed cluster offers it: a default StorageClass that binds when the first pod is scheduled
 * (WaitForFirstConsumer, the usual cloud default) and allows expansion, and a second class for the scenarios that
 * change it. No provisioner runs here, so each class has a pool of pre-created ReadWriteMany volumes (an NFS
 * source no one mounts: there is no kubelet) that the scheduler's VolumeBinding plugin and the PV controller bind.
 */
export const STORAGE_CLASSES = { default: 'standard', other: 'fast' } as const;
const VOLUMES_PER_CLASS = 6;

export function storageObjects(): { path: string; object: KubeObject }[] {
  const classes = Object.values(STORAGE_CLASSES).map((name) => ({
    path: `/apis/storage.k8s.io/v1/storageclasses/${name}`,
    object: {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name, annotations: name === STORAGE_CLASSES.default ? { 'storageclass.kubernetes.io/is-default-class': 'true' } : {} },
      provisioner: 'kubernetes.io/no-provisioner',
      volumeBindingMode: 'WaitForFirstConsumer',
      allowVolumeExpansion: true,
      reclaimPolicy: 'Retain',
    },
  }));
  const volumes = Object.values(STORAGE_CLASSES).flatMap((storageClass) =>
    Array.from({ length: VOLUMES_PER_CLASS }, (_, i) => {
      const name = `${storageClass}-pv-${i}`;
      return {
        path: `/api/v1/persistentvolumes/${name}`,
        object: {
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name },
          spec: {
            capacity: { storage: '100Gi' },
            accessModes: ['ReadWriteMany', 'ReadWriteOnce'],
            persistentVolumeReclaimPolicy: 'Retain',
            storageClassName: storageClass,
            nfs: { server: 'nfs.harness.invalid', path: `/exports/${name}` },
          },
        },
      };
    }),
  );
  return [...classes, ...volumes];
}
