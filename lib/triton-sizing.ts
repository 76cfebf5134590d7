/**
 * The Triton pod's CPU and memory defaults, the estimate they come from, and whether a pod fits a GPU node.
 *
 * No GPU and no real weights were available where this was written, so the memory figure is an ESTIMATE TO VERIFY,
 * built from parameter counts (docs/design models: DINOv2 ViT-B/14 86 M, matcher ~12 M, SuperPoint ~1.3 M, FP32 on
 * disk) and the runtime overheads below; docs/sizing.md says how to measure it on a node and what to change. The
 * CUDA lines were checked against PyTorch on an H200 (context, cuBLAS and cuDNN: 354 MiB of host memory; a
 * ViT-B/14-sized network's FP32 weights: 325 MiB), not against Triton with onnxruntime, which was not available.
 */

import { allocatable, GpuNode, NodeResources, PROVIDER_DAEMONSETS, smallestNodes, usualNodes } from './gpu-nodes';
import { quantityValue } from './quantity';

/** Host memory of one Triton pod, MiB, by component (GPU mode, onnxruntime with the CUDA provider). */
export const TRITON_MEMORY_ESTIMATE_MIB = {
  /** tritonserver itself: HTTP, gRPC and metrics servers, the model repository manager. */
  server: 200,
  /** The CUDA driver and runtime's host side of one GPU context. */
  cudaContext: 400,
  /** onnxruntime, its CUDA provider and the parts of cuDNN / cuBLAS(Lt) the models touch (CUDA lazy module loading). */
  runtimeLibraries: 1000,
  /**
   * The networks' FP32 weights as onnxruntime holds them on the host, per instance (config.pbtxt instance_group):
   * dinov2 328 MiB × 2, superpoint 5 MiB × 2, omniglue 46 MiB × 1.
   */
  weights: 712,
  /** Triton's pinned host memory pool (`--pinned-memory-pool-byte-size`, 256 MiB by default). */
  pinnedPool: 256,
  /** Requests in flight: two 640 × 480 RGB images in, matches out, ~2 MiB each; 32 at a time with gRPC buffers. */
  requests: 100,
  /** While loading: instances load in parallel (onnxruntime backend), so a second copy of the weights is read. */
  loadPeak: 712,
  /** With TensorRT (conversion.tensorrtFp16), on an empty engine cache: the builder's host memory while it builds. */
  engineBuild: 1536,
} as const;

/** The defaults of triton.resources: requests that fit every node of `smallestNodes()` with the DaemonSets on it. */
export const TRITON_RESOURCE_DEFAULTS = {
  /**
   * Requested CPU: leaves room for the provider's and this stack's DaemonSets on a 4-vCPU node. Triton's work
   * (HTTP/gRPC, scheduling, the glue steps' launches) is light next to the GPU's; no limit, so it may use more.
   */
  cpuRequest: '2',
  /** The estimate's peak (with a TensorRT build) rounded up: 4.8 GiB → 6Gi. */
  memoryRequest: '6Gi',
  /** Headroom over the request: /dev/shm's default 2 GiB (memory-backed, counted against the limit) and 2 GiB more. */
  memoryLimit: '10Gi',
} as const;

/** Requests of the DaemonSets this repository installs on every GPU node, as the pinned charts render with our values. */
export const STACK_DAEMONSETS = {
  /** nvidia-device-plugin (charts/nvidia-device-plugin/values.yaml). */
  devicePlugin: { cpuMillicores: 50, memoryMiB: 64 },
  /** gpu-feature-discovery and node-feature-discovery's worker (chart defaults), with addons.gpuFeatureDiscovery. */
  featureDiscovery: { cpuMillicores: 55, memoryMiB: 128 },
  /** kube-prometheus-stack's node-exporter requests nothing. */
  nodeExporter: { cpuMillicores: 0, memoryMiB: 0 },
} as const;

export interface PodSizing {
  readonly cpuRequest: string;
  readonly memoryRequest: string;
  /** Which of this stack's DaemonSets run on the GPU nodes. */
  readonly devicePlugin: boolean;
  readonly featureDiscovery: boolean;
  /** The TensorRT engine cache sidecar's requests (10m, 32Mi) when it runs. */
  readonly engineCacheSidecar: boolean;
}

const mib = (quantity: string) => Math.ceil(quantityValue(quantity) / 2 ** 20);
const millicores = (quantity: string) => Math.ceil(quantityValue(quantity) * 1000);

/** What one Triton pod and the DaemonSets beside it request on a GPU node. */
export function requestedOnNode(pod: PodSizing, node: GpuNode): NodeResources {
  const parts: NodeResources[] = [
    { cpuMillicores: millicores(pod.cpuRequest), memoryMiB: mib(pod.memoryRequest) },
    ...(pod.engineCacheSidecar ? [{ cpuMillicores: 10, memoryMiB: 32 }] : []),
    ...(pod.devicePlugin ? [STACK_DAEMONSETS.devicePlugin] : []),
    ...(pod.featureDiscovery ? [STACK_DAEMONSETS.featureDiscovery] : []),
    STACK_DAEMONSETS.nodeExporter,
    PROVIDER_DAEMONSETS[node.service],
  ];
  return parts.reduce((sum, part) => ({ cpuMillicores: sum.cpuMillicores + part.cpuMillicores, memoryMiB: sum.memoryMiB + part.memoryMiB }), { cpuMillicores: 0, memoryMiB: 0 });
}

export interface NodeFit {
  readonly node: GpuNode;
  readonly allocatable: NodeResources;
  readonly requested: NodeResources;
  readonly fits: boolean;
}

export function fitOn(pod: PodSizing, node: GpuNode): NodeFit {
  const free = allocatable(node);
  const requested = requestedOnNode(pod, node);
  return { node, allocatable: free, requested, fits: requested.cpuMillicores <= free.cpuMillicores && requested.memoryMiB <= free.memoryMiB };
}

const gib = (mebibytes: number) => `${(mebibytes / 1024).toFixed(1)} GiB`;
const cpus = (milli: number) => `${(milli / 1000).toFixed(2)} CPU`;

/**
 * A warning for each usual node of the pinned `gpu.product` the pod does not fit (it would stay Pending there);
 * none for a product the table does not know, or when none is pinned.
 */
export function sizingWarnings(pod: PodSizing, gpuProduct: string | undefined): string[] {
  if (gpuProduct === undefined) return [];
  return usualNodes(gpuProduct)
    .map((node) => fitOn(pod, node))
    .filter((fit) => !fit.fits)
    .map(
      ({ node, allocatable: free, requested }) =>
        `triton.resources (cpuRequest ${pod.cpuRequest}, memoryRequest ${pod.memoryRequest}) with the DaemonSets beside it need ` +
        `${cpus(requested.cpuMillicores)} and ${gib(requested.memoryMiB)}, more than a ${node.service} ${node.machineType} (the usual node of gpu.product ${gpuProduct}) ` +
        `leaves allocatable (${cpus(free.cpuMillicores)}, ${gib(free.memoryMiB)}): the pod would stay Pending there. ` +
        'Lower triton.resources or use a larger machine type (docs/sizing.md)',
    );
}

/** The fit of a sizing on every smallest node (docs/sizing.md's table). */
export function fitsOnSmallestNodes(pod: PodSizing): NodeFit[] {
  return smallestNodes().map((node) => fitOn(pod, node));
}

/** One row of docs/sizing.md's table, as the test that keeps the page true renders it. */
export function sizingTableRow(fit: NodeFit): string {
  const { node, allocatable: free, requested } = fit;
  return `| ${node.service} | ${node.machineType} | ${node.gpuProduct} | ${node.vcpus} / ${node.memoryGiB} GiB | ${cpus(free.cpuMillicores)} / ${gib(free.memoryMiB)} | ${cpus(requested.cpuMillicores)} / ${gib(requested.memoryMiB)} | ${fit.fits ? 'yes' : '**no**'} |`;
}
