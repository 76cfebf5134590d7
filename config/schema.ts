import { z } from 'zod';
import { HELM_REPOSITORIES, TRITON_IMAGE_REPOSITORY, VERSIONS } from './versions';
import {
  chartRepositoryUrl,
  chartVersion,
  dnsLabel,
  dnsSubdomain,
  httpUrl,
  imageRepository,
  labelName,
  labelValue,
  pinnedImage,
  pinnedImageTag,
  prometheusUrl,
  ratioQuantity,
  cpuQuantity,
  memoryQuantity,
  intBetween,
  sha256Hex,
} from './validators';
import { stateSchema } from './state';
import { THROUGHPUT_DEFAULTS, THROUGHPUT_LIMITS } from '../lib/throughput-mode';
import { TRITON_RESOURCE_DEFAULTS } from '../lib/triton-sizing';

const GiB = 2 ** 30;
/** Highest replica count accepted; the HPA and the scale-up budget in README are reasoned for this scale. */
export const MAX_REPLICAS = 64;
/** SuperPoint keeps at most 1024 keypoints per image (model_repository/superpoint_keypoints), so at most 1024 matches. */
export const MAX_MATCHES = 1024;

// Strict objects everywhere: a misspelt key is an error, never a silently ignored setting.
const section = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape).prefault({} as never);

const taintEffect = z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'], {
  error: 'must be one of NoSchedule, PreferNoSchedule, NoExecute',
});

// ReadOnlyMany and ReadWriteOncePod are not offered: the conversion Job writes the volume while Triton serves from it.
const accessMode = z.enum(['ReadWriteMany', 'ReadWriteOnce'], {
  error: 'must be ReadWriteMany (several nodes, e.g. NFS, EFS, Filestore, Azure Files) or ReadWriteOnce (single-node clusters)',
});

const weightSource = section({
  /** Overrides the pinned download URL (https:// or file:// for air-gapped clusters). */
  url: httpUrl().optional(),
  /** sha256 the download must have; the conversion Job fails on a mismatch. */
  sha256: sha256Hex().optional(),
});

export const configSchema = z.strictObject({
  /** Namespace of the serving workload. */
  namespace: dnsLabel().default('omniglue'),

  /**
   * Terraform backend of both stacks' state (one state per stack); an environment overlay's `state` replaces the
   * base's whole.
   */
  state: stateSchema,

  kubernetes: section({
    /** Path of the kubeconfig the providers read. */
    configPath: z.string().min(1, { error: 'must not be empty' }).default('~/.kube/config'),
    /** kubeconfig context; unset uses the current context. */
    configContext: z.string().min(1, { error: 'must not be empty; leave it out to use the current context' }).optional(),
    allowSharedTarget: z.boolean().default(false).meta({
      description:
        'Lets this environment deploy to the same kube context and namespaces as another environment of the file that sets it too ' +
        '(one deployment under two names, only one of which is ever deployed); without it, synth refuses two environments that would ' +
        "create the same objects in one cluster (docs/environments.md).",
    }),
  }),

  gpu: section({
    /**
     * Node label every GPU node carries. The default is set by node-feature-discovery (installed with GPU
     * feature discovery, and by the GPU Operator) on nodes with an NVIDIA PCI device (vendor 10de).
     */
    nodeLabel: section({
      key: labelName().default('feature.node.kubernetes.io/pci-10de.present'),
      value: labelValue().default('true'),
    }),
    /** Taint GPU nodes carry; workloads tolerate it with operator Exists, whatever its value. */
    taint: section({
      key: labelName().default('nvidia.com/gpu'),
      effect: taintEffect.default('NoSchedule'),
    }),
    /** Optional GPU model (value of `nvidia.com/gpu.product`, e.g. "NVIDIA-A10G"). */
    product: labelValue().min(1, { error: 'must not be empty; leave it out to accept any GPU' }).optional(),
    /** RuntimeClass for GPU pods where the cluster has several container runtimes (often "nvidia"). */
    runtimeClassName: dnsSubdomain().optional(),
  }),

  modelRepository: section({
    /** StorageClass of the model volume; unset uses the cluster default. */
    storageClassName: dnsSubdomain().optional(),
    /** Size of the model volume: weights cache, ONNX files and the three newest published versions. */
    /** At least 5Gi: weights (~0.5 GB), three published versions (~0.4 GB each) and the conversion's scratch. */
    size: memoryQuantity('50Gi', 5 * GiB, 2 ** 50).default('50Gi'),
    /** Access mode; more than one replica needs ReadWriteMany. */
    accessMode: accessMode.default('ReadWriteMany'),
  }),

  triton: section({
    /** Where the Triton image is pulled from; point it at an internal mirror in air-gapped clusters. */
    imageRepository: imageRepository().default(TRITON_IMAGE_REPOSITORY),
    imageTag: pinnedImageTag().default(VERSIONS.tritonImageTag),
    /** GPUs per Triton pod. */
    gpusPerReplica: intBetween(0, 16, 'GPUs one node can hold; 0 runs on CPU').default(1),
    // Two replicas by default: with one, every node drain or upgrade is an outage of several minutes (model load).
    replicas: section({
      min: intBetween(1, MAX_REPLICAS, 'replicas; the ceiling is this project\'s tested scale').default(2),
      max: intBetween(1, MAX_REPLICAS, 'replicas; the ceiling is this project\'s tested scale').default(4),
    }),
    // Defaults sized to fit a 4-vCPU / 15-16 GiB GPU node with its DaemonSets (lib/triton-sizing.ts, docs/sizing.md).
    resources: section({
      cpuRequest: cpuQuantity(TRITON_RESOURCE_DEFAULTS.cpuRequest, 1).default(TRITON_RESOURCE_DEFAULTS.cpuRequest),
      memoryRequest: memoryQuantity(TRITON_RESOURCE_DEFAULTS.memoryRequest, 4 * GiB).default(TRITON_RESOURCE_DEFAULTS.memoryRequest),
      /** Memory limit of the container; the /dev/shm volume counts against it. */
      memoryLimit: memoryQuantity(TRITON_RESOURCE_DEFAULTS.memoryLimit, 4 * GiB).default(TRITON_RESOURCE_DEFAULTS.memoryLimit),
    }),
    /** Size of the memory-backed /dev/shm (ensembles pass tensors through it). */
    shmSizeMiB: intBetween(64, 65536, 'MiB of /dev/shm').default(2048),
    /** How long the startup probe waits for all models to load. */
    startupTimeoutSeconds: intBetween(60, 7200, 'seconds').default(900),
    /** Expected model load time on a cold node; the startup budget must exceed it. */
    expectedModelLoadSeconds: intBetween(1, 7200, 'seconds').default(300),
    /** Expected time of the models' warm-up (model_warmup: one run per instance at 640 x 480 before ready); counted into the startup budget. */
    expectedWarmupSeconds: intBetween(0, 3600, 'seconds').default(60),
    /**
     * Expected time to build the TensorRT engines when the engine cache has none for this model version, GPU and
     * Triton release (first rollout); counted into the startup budget when conversion.tensorrtFp16 is on.
     */
    expectedEngineBuildSeconds: intBetween(0, 7200, 'seconds').default(480),
    /**
     * TensorRT engine cache: a writable volume, separate from the read-only model repository, that keeps built
     * engines across pod restarts (used when conversion.tensorrtFp16 is on; docs/performance.md).
     */
    engineCache: section({
      enabled: z.boolean().default(true),
      /** Size of the cache volume (a few hundred MB per model version, GPU model and Triton release). */
      size: memoryQuantity('10Gi', 1 * GiB, 2 ** 50).default('10Gi'),
      /** StorageClass of the cache volume; unset uses modelRepository.storageClassName (its access mode too). */
      storageClassName: dnsSubdomain().optional(),
    }),
    /** Grace period for in-flight requests on shutdown. */
    terminationGracePeriodSeconds: intBetween(16, 3600, 'seconds: more than the 10 s preStop sleep plus 5 s to drain requests').default(60),
    /** Namespaces whose pods may call the inference ports (8000/8001); the serving namespace is always allowed. */
    allowedClientNamespaces: z.array(dnsLabel()).default([]),
    /** Exposes the model-repository and model-control APIs; off keeps them restricted to nobody. */
    enableModelControlApi: z.boolean().default(false),
  }),

  autoscaling: section({
    enabled: z.boolean().default(true),
    /** Average GPU utilization (percent) per pod the HPA keeps. */
    gpuUtilizationTargetPercent: z
      .number()
      .int({ error: 'must be a whole number of percent' })
      .min(1, { error: 'must be between 1 and 99 (percent): at 100 the target can never be exceeded, so the HPA never scales out' })
      .max(99, { error: 'must be between 1 and 99 (percent): at 100 the target can never be exceeded, so the HPA never scales out' })
      .default(70),
    /** NVIDIA's queue-to-compute ratio as a second HPA metric. */
    queueToComputeRatio: section({
      enabled: z.boolean().default(true),
      /** Target ratio of queue time to compute time (quantity, 1000m = queueing as long as computing). */
      target: ratioQuantity('1000m').default('1000m'),
    }),
    /** How long the HPA waits before removing pods after load drops. */
    scaleDownStabilizationSeconds: intBetween(0, 3600, "the HPA API's range for stabilizationWindowSeconds").default(300),
  }),

  monitoring: section({
    /** Namespace of Prometheus and prometheus-adapter; only it may scrape port 8002. */
    namespace: dnsLabel().default('monitoring'),
    /** Installs kube-prometheus-stack; switch off and set existingPrometheusUrl to use your own Prometheus. */
    installKubePrometheusStack: z.boolean().default(true),
    /** In-cluster URL of an existing Prometheus that already scrapes Triton pods. */
    existingPrometheusUrl: prometheusUrl().optional(),
    /** Installs prometheus-adapter with the GPU-utilization rules. */
    installPrometheusAdapter: z.boolean().default(true),
    /** Installs the alerting rules (a PrometheusRule; needs the Prometheus Operator's CRDs). */
    installAlertRules: z.boolean().default(true),
    /**
     * Your own Prometheus (installKubePrometheusStack false) is run by the Prometheus Operator: the serving stack then
     * creates a PodMonitor for Triton. false: no custom resources; the platform stack outputs the scrape job
     * (`prometheus-scrape-config`) to paste into your Prometheus configuration.
     */
    prometheusOperator: z.boolean().default(true),
    /** Labels on Triton's PodMonitor, for an operator whose podMonitorSelector requires some (e.g. {"release": "prometheus"}). */
    podMonitorLabels: z.record(labelName(), labelValue()).default({}),
    /** Labels on the alerts' PrometheusRule, for an operator whose ruleSelector requires some. */
    ruleLabels: z.record(labelName(), labelValue()).default({}),
    grafana: section({
      /** Installs Grafana with kube-prometheus-stack (admin user `admin`, random password in Secret kube-prometheus-stack-grafana). */
      enabled: z.boolean().default(true),
      /** Ships the OmniGlue dashboard as a ConfigMap labelled for Grafana's dashboard sidecar (`grafana_dashboard: "1"`). */
      dashboard: z.boolean().default(true),
    }),
    /** How often Prometheus scrapes Triton (the installed one is configured with it; set your own's for an existing one). */
    scrapeIntervalSeconds: intBetween(1, 300, 'seconds').default(5),
    /** How often prometheus-adapter relists series; a new pod's metric appears after at most this long. */
    adapterRelistIntervalSeconds: intBetween(1, 300, 'seconds').default(6),
  }),

  addons: section({
    /** Installs the NVIDIA device plugin; switch off where the GPU Operator already runs it. */
    nvidiaDevicePlugin: z.boolean().default(true),
    /** Runs GPU feature discovery and node-feature-discovery with the plugin; they label GPU nodes (pci-10de.present, nvidia.com/gpu.product). */
    gpuFeatureDiscovery: z.boolean().default(true),
    /** Namespace of the device plugin. */
    nvidiaDevicePluginNamespace: dnsLabel().default('nvidia-device-plugin'),
  }),

  /** Helm chart repositories; point them at internal mirrors in air-gapped clusters. */
  chartRepositories: section({
    nvidiaDevicePlugin: chartRepositoryUrl().default(HELM_REPOSITORIES.nvidiaDevicePlugin),
    prometheusCommunity: chartRepositoryUrl().default(HELM_REPOSITORIES.prometheusCommunity),
  }),

  chartVersions: section({
    nvidiaDevicePlugin: chartVersion().default(VERSIONS.nvidiaDevicePluginChart),
    kubePrometheusStack: chartVersion().default(VERSIONS.kubePrometheusStackChart),
    prometheusAdapter: chartVersion().default(VERSIONS.prometheusAdapterChart),
  }),

  conversion: section({
    image: pinnedImage().default(VERSIONS.conversionImage),
    /** The image already contains scripts/requirements-conversion.txt (air-gapped clusters); skips pip. */
    dependenciesPreinstalled: z.boolean().default(false),
    /**
     * Runs the conversion on a GPU node with one GPU; with an image that has onnxruntime-gpu
     * (scripts/Dockerfile.conversion), the sample run then uses ONNX Runtime's CUDA provider, as Triton does.
     */
    useGpu: z.boolean().default(false),
    /** Deadline of the whole Job, downloads included. */
    timeoutMinutes: intBetween(5, 1440, 'minutes').default(60),
    backoffLimit: intBetween(0, 10, 'retries').default(2),
    cpuRequest: cpuQuantity('2', 0.5).default('2'),
    /** DINOv2 ViT-B export alone needs about 4 GiB. */
    memoryRequest: memoryQuantity('8Gi', 4 * GiB).default('8Gi'),
    memoryLimit: memoryQuantity('16Gi', 4 * GiB).default('16Gi'),
    /** Environment variables for the conversion containers, e.g. HTTPS_PROXY and NO_PROXY behind a proxy. */
    extraEnv: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name (letters, digits, "_")' }),
        z.string(),
      )
      .default({}),
    /** Appends TensorRT FP16 acceleration to the superpoint, dinov2 and omniglue configs. */
    tensorrtFp16: z.boolean().default(false),
    /**
     * Largest image side (px) the TensorRT shape profiles cover; larger images fall outside the engines' range
     * and make TensorRT rebuild them (docs/performance.md, "Shape profiles").
     */
    tensorrtMaxImageSide: z
      .number()
      .int({ error: 'must be a whole number of pixels' })
      .min(640, { error: 'must be at least 640 (the typical 640 x 480 image the profiles are tuned for)' })
      .max(8192, { error: 'must be at most 8192 (SuperPoint runs at full resolution; downscale larger photos on the client)' })
      .default(1920),
    /**
     * Throughput mode (docs/performance.md, "Throughput mode"): DINOv2 gets one fixed input size, so Triton's
     * dynamic batcher can merge its work across concurrent requests. SuperPoint keeps each image's own resolution, as
     * in the reference. Off (the default), DINOv2's input follows each image's aspect ratio, as in the reference.
     * Switching it publishes a distinct model version.
     */
    throughputMode: section({
      enabled: z.boolean().default(false),
      /** Width (px) of the image size DINOv2's fixed input derives from, as the reference sizes it (640 x 480 -> 630 x 462). */
      imageWidth: intBetween(THROUGHPUT_LIMITS.imageSide.min, THROUGHPUT_LIMITS.imageSide.max, 'pixels').default(640),
      /** Height (px) of that image size; the longer side may be at most 45 times the shorter. */
      imageHeight: intBetween(THROUGHPUT_LIMITS.imageSide.min, THROUGHPUT_LIMITS.imageSide.max, 'pixels').default(480),
      /** Most requests one DINOv2 execution merges (Triton `max_batch_size`). */
      maxBatchSize: intBetween(THROUGHPUT_LIMITS.maxBatchSize.min, THROUGHPUT_LIMITS.maxBatchSize.max, 'requests merged into one execution')
        .default(THROUGHPUT_DEFAULTS.maxBatchSize),
      /** How long the batcher may hold a request to fill a batch (Triton `max_queue_delay_microseconds`). */
      maxQueueDelayMicroseconds: intBetween(THROUGHPUT_LIMITS.maxQueueDelayMicroseconds.min, THROUGHPUT_LIMITS.maxQueueDelayMicroseconds.max, 'microseconds, at most one second')
        .default(THROUGHPUT_DEFAULTS.maxQueueDelayMicroseconds),
    }),
    /** Minimum matches the sample pair must give before the repository is published. */
    minSampleMatches: intBetween(0, MAX_MATCHES, 'the ensemble returns at most one match per SuperPoint keypoint, 1024').default(10),
    weights: section({
      superpoint: weightSource,
      dinov2: weightSource,
      omniglue: weightSource,
    }),
  }),
});

/** The validated configuration with every default filled in. */
export type OmniglueConfig = z.output<typeof configSchema>;
/** What a user writes in omniglue.config.json. */
export type OmniglueConfigInput = z.input<typeof configSchema>;
