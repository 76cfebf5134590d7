/**
 * The smallest common single-GPU node of each managed Kubernetes service and GPU product, and what its kubelet
 * leaves allocatable to pods. Each reservation formula is the provider's own, with its source:
 *
 * - EKS (Amazon Linux AMIs): kube-reserved memory `11 MiB × maxPods + 255 MiB` and CPU 6 % of the first core, 1 % of
 *   the second, 0.5 % of the next two, 0.25 % above (awslabs/amazon-eks-ami templates/al2/runtime/bootstrap.sh,
 *   get_memory_mebibytes_to_reserve and get_cpu_millicores_to_reserve; AL2023's nodeadm computes the same),
 *   eviction at memory.available < 100Mi (the same script writes evictionHard). maxPods per instance type:
 *   templates/shared/runtime/eni-max-pods.txt (VPC CNI without prefix delegation).
 * - GKE (Standard): 25 % of the first 4 GiB, 20 % of the next 4, 10 % of the next 8, 6 % of the next 112, 2 % above;
 *   CPU as EKS (whose formula is GKE's); eviction at 100 MiB (cloud.google.com/kubernetes-engine/docs/concepts/
 *   plan-node-sizes, "Memory and CPU reservations").
 * - AKS (Kubernetes 1.29 and later): kube-reserved memory the lesser of `20 MB × maxPods + 50 MB` and 25 % of the
 *   memory, CPU 140m on 4 cores (table), eviction at 100Mi (learn.microsoft.com/azure/aks/node-resource-reservations).
 *   maxPods: 250, the default of Azure CNI Overlay.
 *
 * The kubelet's memory capacity is the kernel's MemTotal, below the machine's nominal memory (kernel and firmware):
 * taken as 96 % of it here, an estimate; `kubectl describe node` shows the exact allocatable of your nodes.
 */

export type KubernetesService = 'EKS' | 'GKE' | 'AKS';

export interface GpuNode {
  readonly service: KubernetesService;
  readonly machineType: string;
  /** Value of the node label `nvidia.com/gpu.product` (GPU feature discovery) on this machine type. */
  readonly gpuProduct: string;
  readonly vcpus: number;
  /** Nominal memory of the machine type, GiB. */
  readonly memoryGiB: number;
  /** The most pods the kubelet admits (it sizes EKS's and AKS's memory reservation). */
  readonly maxPods: number;
}

export interface NodeResources {
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
}

/** Requests of the provider's own DaemonSets on every node (networking, proxy, CSI, logging): typical values, an estimate. */
export const PROVIDER_DAEMONSETS: Readonly<Record<KubernetesService, NodeResources>> = {
  // aws-node (VPC CNI) 25m, kube-proxy 100m; neither requests memory.
  EKS: { cpuMillicores: 125, memoryMiB: 0 },
  // kube-proxy 100m, fluentbit-gke, gke-metadata-server 100m / 100Mi, pdcsi-node 10m / 20Mi.
  GKE: { cpuMillicores: 310, memoryMiB: 320 },
  // kube-proxy 100m, cloud-node-manager 50m / 50Mi, the disk and file CSI nodes 30m / 60Mi each, ip-masq-agent 100m / 50Mi.
  AKS: { cpuMillicores: 310, memoryMiB: 220 },
};

export const GPU_NODES: readonly GpuNode[] = [
  { service: 'EKS', machineType: 'g4dn.xlarge', gpuProduct: 'Tesla-T4', vcpus: 4, memoryGiB: 16, maxPods: 29 },
  { service: 'EKS', machineType: 'g5.xlarge', gpuProduct: 'NVIDIA-A10G', vcpus: 4, memoryGiB: 16, maxPods: 58 },
  { service: 'EKS', machineType: 'g6.xlarge', gpuProduct: 'NVIDIA-L4', vcpus: 4, memoryGiB: 16, maxPods: 58 },
  { service: 'GKE', machineType: 'n1-standard-4 + 1 × T4', gpuProduct: 'Tesla-T4', vcpus: 4, memoryGiB: 15, maxPods: 110 },
  { service: 'GKE', machineType: 'g2-standard-4', gpuProduct: 'NVIDIA-L4', vcpus: 4, memoryGiB: 16, maxPods: 110 },
  { service: 'GKE', machineType: 'a2-highgpu-1g', gpuProduct: 'NVIDIA-A100-SXM4-40GB', vcpus: 12, memoryGiB: 85, maxPods: 110 },
  { service: 'AKS', machineType: 'Standard_NC4as_T4_v3', gpuProduct: 'Tesla-T4', vcpus: 4, memoryGiB: 28, maxPods: 250 },
];

const KERNEL_SHARE = 0.96;
const EVICTION_MIB = 100;

/** Reserves `share` of each band [from, to) of `amount` (bands in the unit of amount). */
function banded(amount: number, bands: readonly [number, number, number][]): number {
  return bands.reduce((sum, [from, to, share]) => sum + Math.max(0, Math.min(amount, to) - from) * share, 0);
}

/** CPU kube-reserved of EKS and GKE (one formula: EKS took GKE's). */
function cpuReservedMillicores(vcpus: number): number {
  return banded(vcpus * 1000, [
    [0, 1000, 0.06],
    [1000, 2000, 0.01],
    [2000, 4000, 0.005],
    [4000, Infinity, 0.0025],
  ]);
}

const AKS_CPU_RESERVED: Record<number, number> = { 1: 60, 2: 100, 4: 140, 8: 180, 16: 260, 32: 420, 64: 740 };

/** What the kubelet of this node leaves to pods: capacity minus kube-reserved minus the eviction threshold. */
export function allocatable(node: GpuNode): NodeResources {
  const capacityMiB = node.memoryGiB * 1024 * KERNEL_SHARE;
  const memoryReservedMiB =
    node.service === 'EKS'
      ? 11 * node.maxPods + 255
      : node.service === 'GKE'
        ? banded(node.memoryGiB * 1024, [
            [0, 4096, 0.25],
            [4096, 8192, 0.2],
            [8192, 16384, 0.1],
            [16384, 131072, 0.06],
            [131072, Infinity, 0.02],
          ])
        : Math.min(20 * node.maxPods + 50, 0.25 * node.memoryGiB * 1024);
  const cpuReserved = node.service === 'AKS' ? AKS_CPU_RESERVED[node.vcpus] ?? 140 : cpuReservedMillicores(node.vcpus);
  return {
    cpuMillicores: Math.floor(node.vcpus * 1000 - cpuReserved),
    memoryMiB: Math.floor(capacityMiB - memoryReservedMiB - EVICTION_MIB),
  };
}

/** The usual nodes of a `nvidia.com/gpu.product` value; empty for a product the table does not know. */
export function usualNodes(gpuProduct: string): GpuNode[] {
  return GPU_NODES.filter((node) => node.gpuProduct === gpuProduct);
}

/** The smallest nodes the defaults must fit: every 4-vCPU machine of the table. */
export function smallestNodes(): GpuNode[] {
  return GPU_NODES.filter((node) => node.vcpus === 4);
}
