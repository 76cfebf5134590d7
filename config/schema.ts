import { z } from 'zod';
import { HELM_REPOSITORIES, TRITON_IMAGE_REPOSITORY, VERSIONS } from './versions';
import {
  chartRepositoryUrl,
  chartVersion,
  dnsLabel,
  dnsSubdomain,
  httpUrl,
  imageRepository,
  environmentVariableName,
  labelKey,
  labelValue,
  pinnedImage,
  pinnedImageTag,
  prometheusUrl,
  ratioQuantity,
  cpuQuantity,
  memoryQuantity,
  intBetween,
  sha256Hex,
  text,
} from './validators';
import { stateSchema } from './state';
import { THROUGHPUT_DEFAULTS, THROUGHPUT_LIMITS } from '../lib/throughput-mode';
import { TRITON_RESOURCE_DEFAULTS } from '../lib/triton-sizing';
import { DRAIN_SECONDS, MIN_TERMINATION_GRACE_SECONDS, PRE_STOP_SLEEP_SECONDS } from '../lib/triton-command';

const GiB = 2 ** 30;
/** Highest replica count accepted; the HPA and the scale-up budget in README are reasoned for this scale. */
export const MAX_REPLICAS = 64;
/** SuperPoint keeps at most 1024 keypoints per image (model_repository/superpoint_keypoints), so at most 1024 matches. */
export const MAX_MATCHES = 1024;

/** At 100 % the average can never exceed the target, so the HPA would never scale out. */
const GPU_TARGET_RANGE = 'must be between 1 and 99 (percent): at 100 the target can never be exceeded, so the HPA never scales out';

// Strict objects everywhere: a misspelt key is an error, never a silently ignored setting.
const section = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape).prefault({} as never);

const taintEffect = z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'], {
  error: 'must be one of NoSchedule, PreferNoSchedule, NoExecute',
});

// ReadOnlyMany and ReadWriteOncePod are not offered: the conversion Job writes the volume while Triton serves from it.
const accessMode = z.enum(['ReadWriteMany', 'ReadWriteOnce'], {
  error: 'must be ReadWriteMany (several nodes, e.g. NFS, EFS, Filestore, Azure Files) or ReadWriteOnce (single-node clusters)',
});

const weightSource = (network: string) =>
  section({
    url: httpUrl().optional().meta({ description: `Download URL of the ${network} weights (https://, or file:// when air-gapped); unset uses the pinned official one.` }),
    sha256: sha256Hex().optional().meta({ description: `sha256 the ${network} download must have; the conversion Job fails on a mismatch. Unset records it only.` }),
  }).meta({ description: `Where the ${network} weights come from.` });

export const configSchema = z.strictObject({
  namespace: dnsLabel().default('omniglue').meta({ description: 'Namespace of the serving workload.' }),
  // An environment overlay's `state` replaces the base's whole (config/load.ts applyOverlay): another backend.
  state: stateSchema,

  kubernetes: section({
    configPath: text().min(1, { error: 'must not be empty' }).default('~/.kube/config')
      .meta({ description: 'Path of the kubeconfig the providers read; nothing secret is written into the synthesized files.' }),
    configContext: text().min(1, { error: 'must not be empty; leave it out to use the current context' }).optional()
      .meta({ description: 'kubeconfig context; unset uses the current context.' }),
    allowSharedTarget: z.boolean().default(false).meta({
      description:
        'Lets this environment deploy to the same kube context and namespaces as another environment of the file that sets it too ' +
        '(one deployment under two names, only one of which is ever deployed); without it, synth refuses two environments that would ' +
        'create the same objects in one cluster (docs/environments.md).',
    }),
  }).meta({ description: 'How Terraform reaches the cluster.' }),

  gpu: section({
    // The default label is set by node-feature-discovery (installed with GPU feature discovery, and by the GPU
    // Operator) on nodes with an NVIDIA PCI device (vendor 10de).
    nodeLabel: section({
      key: labelKey().default('feature.node.kubernetes.io/pci-10de.present').meta({ description: 'Key of the label every GPU node carries.' }),
      value: labelValue().default('true').meta({ description: 'Value of that label.' }),
    }).meta({ description: 'Node label every GPU node carries (node-feature-discovery sets the default on nodes with an NVIDIA PCI device).' }),
    taint: section({
      key: labelKey().default('nvidia.com/gpu').meta({ description: 'Key of the taint GPU nodes carry; tolerated with operator Exists, whatever its value.' }),
      effect: taintEffect.default('NoSchedule').meta({ description: 'Effect of that taint.' }),
    }).meta({ description: 'Taint GPU nodes carry.' }),
    product: labelValue().min(1, { error: 'must not be empty; leave it out to accept any GPU' }).optional()
      .meta({ description: 'GPU model to require (node label nvidia.com/gpu.product, e.g. "NVIDIA-A10G"); unset accepts any.' }),
    runtimeClassName: dnsSubdomain().optional()
      .meta({ description: 'RuntimeClass of GPU pods where the cluster has several container runtimes (often "nvidia").' }),
  }).meta({ description: 'Where GPU pods may run.' }),

  modelRepository: section({
    storageClassName: dnsSubdomain().optional()
      .meta({ description: 'StorageClass of the model volume (name a ReadWriteMany class); unset uses the cluster default.' }),
    // At least 5Gi: weights (~0.5 GB), three published versions (~0.4 GB each) and the conversion's scratch.
    size: memoryQuantity('50Gi', 5 * GiB, 2 ** 50).default('50Gi')
      .meta({ description: 'Size of the model volume: weights cache, the three newest published versions and headroom.' }),
    accessMode: accessMode.default('ReadWriteMany')
      .meta({ description: 'Access mode of the model volume; more than one replica needs ReadWriteMany.' }),
  }).meta({ description: 'The volume the conversion Job publishes into and Triton serves from.' }),

  triton: section({
    imageRepository: imageRepository().default(TRITON_IMAGE_REPOSITORY)
      .meta({ description: 'Repository of the Triton image, without tag (an internal mirror when air-gapped).' }),
    imageTag: pinnedImageTag().default(VERSIONS.tritonImageTag).meta({ description: 'Tag of the Triton image; "latest" is refused.' }),
    gpusPerReplica: intBetween(0, 16, 'GPUs one node can hold; 0 runs on CPU').default(1)
      .meta({ description: 'nvidia.com/gpu per Triton pod; 0 runs on CPU (tests) and publishes a KIND_CPU model version.' }),
    // Two replicas by default: with one, every node drain or upgrade is an outage of several minutes (model load).
    replicas: section({
      min: intBetween(1, MAX_REPLICAS, "replicas; the ceiling is this project's tested scale").default(2)
        .meta({ description: 'Fewest Triton replicas (the HPA minimum); two keep serving through a node drain.' }),
      max: intBetween(1, MAX_REPLICAS, "replicas; the ceiling is this project's tested scale").default(4)
        .meta({ description: 'Most Triton replicas (the HPA maximum).' }),
    }).meta({ description: 'Replica bounds of the Triton Deployment.' }),
    resources: section({
      // Defaults sized to fit a 4-vCPU / 15-16 GiB GPU node with its DaemonSets (lib/triton-sizing.ts, docs/sizing.md).
      cpuRequest: cpuQuantity(TRITON_RESOURCE_DEFAULTS.cpuRequest, 1).default(TRITON_RESOURCE_DEFAULTS.cpuRequest)
        .meta({ description: 'CPU request of the Triton container.' }),
      memoryRequest: memoryQuantity(TRITON_RESOURCE_DEFAULTS.memoryRequest, 4 * GiB).default(TRITON_RESOURCE_DEFAULTS.memoryRequest)
        .meta({ description: 'Memory request of the Triton container.' }),
      memoryLimit: memoryQuantity(TRITON_RESOURCE_DEFAULTS.memoryLimit, 4 * GiB).default(TRITON_RESOURCE_DEFAULTS.memoryLimit)
        .meta({ description: 'Memory limit of the Triton container; the memory-backed /dev/shm counts against it.' }),
    }).meta({ description: 'CPU and memory of the Triton container.' }),
    shmSizeMiB: intBetween(64, 65536, 'MiB of /dev/shm').default(2048)
      .meta({ description: 'Size (MiB) of the memory-backed /dev/shm the ensemble passes tensors through.' }),
    startupTimeoutSeconds: intBetween(60, 7200, 'seconds').default(900)
      .meta({ description: 'Startup-probe budget (s) for loading and warming up all models before the kubelet restarts the pod.' }),
    expectedModelLoadSeconds: intBetween(1, 7200, 'seconds').default(300)
      .meta({ description: 'Expected model load time (s) on a cold node; counted into the startup budget.' }),
    expectedWarmupSeconds: intBetween(0, 3600, 'seconds').default(60)
      .meta({ description: 'Expected warm-up time (s): every model instance runs once at 640 x 480 before ready.' }),
    expectedEngineBuildSeconds: intBetween(0, 7200, 'seconds').default(480)
      .meta({ description: 'Expected TensorRT engine build time (s) on an empty engine cache; counted only with conversion.tensorrtFp16.' }),
    engineCache: section({
      enabled: z.boolean().default(true).meta({ description: 'Keeps built TensorRT engines on a volume across pod restarts (with conversion.tensorrtFp16).' }),
      size: memoryQuantity('10Gi', 1 * GiB, 2 ** 50).default('10Gi')
        .meta({ description: 'Size of the engine-cache volume (a few hundred MB per model version, GPU model and Triton release).' }),
      storageClassName: dnsSubdomain().optional()
        .meta({ description: "StorageClass of the engine-cache volume; unset uses modelRepository.storageClassName (and its access mode)." }),
    }).meta({ description: 'TensorRT engine cache: a writable volume apart from the read-only model repository (docs/performance.md).' }),
    terminationGracePeriodSeconds: intBetween(MIN_TERMINATION_GRACE_SECONDS, 3600, `seconds: more than the ${PRE_STOP_SLEEP_SECONDS} s preStop sleep plus ${DRAIN_SECONDS} s to drain requests`).default(60)
      .meta({ description: 'Time (s) in-flight requests get to finish on shutdown.' }),
    allowedClientNamespaces: z.array(dnsLabel()).default([])
      .meta({ description: 'Namespaces whose pods may call the inference ports 8000/8001, besides the serving namespace.' }),
    enableModelControlApi: z.boolean().default(false)
      .meta({ description: 'Opens the model-repository, model-config, shared-memory, trace and logging APIs (closed by default).' }),
  }).meta({ description: 'The Triton Deployment.' }),

  autoscaling: section({
    enabled: z.boolean().default(true).meta({ description: 'Scales Triton with an HPA on GPU utilization.' }),
    gpuUtilizationTargetPercent: z
      .number()
      .int({ error: 'must be a whole number of percent' })
      .min(1, { error: GPU_TARGET_RANGE })
      .max(99, { error: GPU_TARGET_RANGE })
      .default(70)
      .meta({ description: 'Average GPU utilization (percent) per pod the HPA keeps.' }),
    queueToComputeRatio: section({
      enabled: z.boolean().default(true).meta({ description: "Adds NVIDIA's queue-to-compute ratio as a second HPA metric." }),
      target: ratioQuantity('1000m').default('1000m')
        .meta({ description: 'Target ratio of queue time to compute time, a quantity (1000m: requests queue as long as they compute).' }),
    }).meta({ description: "NVIDIA's queue-to-compute ratio as a second HPA metric (the HPA follows whichever asks for more)." }),
    scaleDownStabilizationSeconds: intBetween(0, 3600, "the HPA API's range for stabilizationWindowSeconds").default(300)
      .meta({ description: 'How long (s) load must stay low before the HPA removes pods.' }),
  }).meta({ description: 'Horizontal pod autoscaling of Triton.' }),

  monitoring: section({
    namespace: dnsLabel().default('monitoring')
      .meta({ description: "Namespace of Prometheus and prometheus-adapter (with your own Prometheus: its namespace); the only one allowed on port 8002." }),
    installKubePrometheusStack: z.boolean().default(true)
      .meta({ description: 'Installs kube-prometheus-stack; false uses your own Prometheus (set existingPrometheusUrl).' }),
    existingPrometheusUrl: prometheusUrl().optional()
      .meta({ description: 'In-cluster URL of your own Prometheus, which scrapes Triton (with installKubePrometheusStack false).' }),
    installPrometheusAdapter: z.boolean().default(true).meta({ description: 'Installs prometheus-adapter with the Triton custom-metric rules.' }),
    existingCustomMetricsApi: z.boolean().default(false).meta({
      description:
        'The cluster already serves custom.metrics.k8s.io (its own prometheus-adapter or another metrics adapter): no second adapter is ' +
        'installed (only one APIService can serve the API; installPrometheusAdapter must be false), and the platform stack outputs the ' +
        'rules to add to yours (`prometheus-adapter-rules`) so that the HPA finds its metrics.',
    }),
    installAlertRules: z.boolean().default(true)
      .meta({ description: "Installs the alerting rules (a PrometheusRule; needs the Prometheus Operator's CRDs)." }),
    prometheusOperator: z.boolean().default(true)
      .meta({ description: 'Your own Prometheus runs the Prometheus Operator (a PodMonitor is created); false outputs the scrape job to paste.' }),
    podMonitorLabels: z.record(labelKey(), labelValue()).default({})
      .meta({ description: "Labels of Triton's PodMonitor that your operator's podMonitorSelector requires (e.g. {\"release\": \"prometheus\"})." }),
    ruleLabels: z.record(labelKey(), labelValue()).default({})
      .meta({ description: "Labels of the alerts' PrometheusRule that your operator's ruleSelector requires." }),
    grafana: section({
      enabled: z.boolean().default(true)
        .meta({ description: 'Installs Grafana with kube-prometheus-stack (user admin, password in Secret kube-prometheus-stack-grafana).' }),
      dashboard: z.boolean().default(true)
        .meta({ description: 'Ships the OmniGlue dashboard as a ConfigMap for Grafana\'s sidecar (label grafana_dashboard: "1").' }),
    }).meta({ description: 'Grafana and the OmniGlue dashboard.' }),
    scrapeIntervalSeconds: intBetween(1, 300, 'seconds').default(5)
      .meta({ description: 'How often (s) Prometheus scrapes Triton; with your own Prometheus, the interval it uses.' }),
    adapterRelistIntervalSeconds: intBetween(1, 300, 'seconds').default(6)
      .meta({ description: "How often (s) prometheus-adapter relists series; a new pod's metric appears after at most this long." }),
  }).meta({ description: 'Prometheus, prometheus-adapter, alerts and dashboard.' }),

  addons: section({
    nvidiaDevicePlugin: z.boolean().default(true)
      .meta({ description: 'Installs the NVIDIA device plugin; false where the GPU Operator already runs it.' }),
    gpuFeatureDiscovery: z.boolean().default(true)
      .meta({ description: 'Runs GPU feature discovery and node-feature-discovery with the plugin; they label GPU nodes.' }),
    nvidiaDevicePluginNamespace: dnsLabel().default('nvidia-device-plugin').meta({ description: 'Namespace of the device plugin.' }),
  }).meta({ description: 'Cluster add-ons of the platform stack.' }),

  chartRepositories: section({
    nvidiaDevicePlugin: chartRepositoryUrl().default(HELM_REPOSITORIES.nvidiaDevicePlugin)
      .meta({ description: 'Helm repository of the nvidia-device-plugin chart.' }),
    prometheusCommunity: chartRepositoryUrl().default(HELM_REPOSITORIES.prometheusCommunity)
      .meta({ description: 'Helm repository of kube-prometheus-stack and prometheus-adapter.' }),
  }).meta({ description: 'Helm chart repositories (internal mirrors when air-gapped).' }),

  chartVersions: section({
    nvidiaDevicePlugin: chartVersion().default(VERSIONS.nvidiaDevicePluginChart).meta({ description: 'Exact version of the nvidia-device-plugin chart.' }),
    kubePrometheusStack: chartVersion().default(VERSIONS.kubePrometheusStackChart).meta({ description: 'Exact version of the kube-prometheus-stack chart.' }),
    prometheusAdapter: chartVersion().default(VERSIONS.prometheusAdapterChart).meta({ description: 'Exact version of the prometheus-adapter chart.' }),
  }).meta({ description: 'Exact Helm chart versions.' }),

  conversion: section({
    image: pinnedImage().default(VERSIONS.conversionImage).meta({ description: 'Image of the conversion Job, with a tag or digest.' }),
    dependenciesPreinstalled: z.boolean().default(false)
      .meta({ description: 'The image already has scripts/requirements-conversion.txt (built from scripts/Dockerfile.conversion); skips pip.' }),
    useGpu: z.boolean().default(false)
      .meta({ description: "Runs the conversion on a GPU node with one GPU; the sample run then uses ONNX Runtime's CUDA provider." }),
    timeoutMinutes: intBetween(5, 1440, 'minutes').default(60)
      .meta({ description: 'Deadline (min) of the whole Job, downloads and retries included; Terraform waits 10 minutes longer.' }),
    backoffLimit: intBetween(0, 10, 'retries').default(2).meta({ description: 'Retries after a failed conversion pod.' }),
    cpuRequest: cpuQuantity('2', 0.5).default('2').meta({ description: 'CPU request of the conversion container.' }),
    // DINOv2 ViT-B export alone needs about 4 GiB.
    memoryRequest: memoryQuantity('8Gi', 4 * GiB).default('8Gi').meta({ description: 'Memory request of the conversion container.' }),
    memoryLimit: memoryQuantity('16Gi', 4 * GiB).default('16Gi').meta({ description: 'Memory limit of the conversion container.' }),
    extraEnv: z
      .record(environmentVariableName(), text())
      .default({})
      .meta({ description: 'Environment variables of the conversion containers, e.g. HTTPS_PROXY and NO_PROXY behind a proxy.' }),
    tensorrtFp16: z.boolean().default(false)
      .meta({ description: 'Adds TensorRT FP16 acceleration to the superpoint, dinov2 and omniglue configs.' }),
    tensorrtMaxImageSide: z
      .number()
      .int({ error: 'must be a whole number of pixels' })
      .min(640, { error: 'must be at least 640 (the typical 640 x 480 image the profiles are tuned for)' })
      .max(8192, { error: 'must be at most 8192 (SuperPoint runs at full resolution; downscale larger photos on the client)' })
      .default(1920)
      .meta({ description: 'Largest image side (px) the TensorRT shape profiles cover; larger images make TensorRT rebuild an engine.' }),
    // docs/performance.md, "Throughput mode". Switching it, or any of its settings, publishes a distinct model version.
    throughputMode: section({
      enabled: z.boolean().default(false)
        .meta({ description: "Gives DINOv2 one fixed input size so Triton batches it across requests (GPU replicas only)." }),
      imageWidth: intBetween(THROUGHPUT_LIMITS.imageSide.min, THROUGHPUT_LIMITS.imageSide.max, 'pixels').default(640)
        .meta({ description: 'Width (px) of the image size DINOv2\'s fixed input derives from, as the reference sizes it (640 x 480 -> 630 x 462).' }),
      imageHeight: intBetween(THROUGHPUT_LIMITS.imageSide.min, THROUGHPUT_LIMITS.imageSide.max, 'pixels').default(480)
        .meta({ description: 'Height (px) of that image size; the longer side at most 45 times the shorter.' }),
      maxBatchSize: intBetween(THROUGHPUT_LIMITS.maxBatchSize.min, THROUGHPUT_LIMITS.maxBatchSize.max, 'requests merged into one execution')
        .default(THROUGHPUT_DEFAULTS.maxBatchSize)
        .meta({ description: 'Most requests one DINOv2 execution merges (Triton max_batch_size).' }),
      maxQueueDelayMicroseconds: intBetween(THROUGHPUT_LIMITS.maxQueueDelayMicroseconds.min, THROUGHPUT_LIMITS.maxQueueDelayMicroseconds.max, 'microseconds, at most one second')
        .default(THROUGHPUT_DEFAULTS.maxQueueDelayMicroseconds)
        .meta({ description: 'How long (µs) the batcher may hold a request to fill a batch (Triton max_queue_delay_microseconds).' }),
    }).meta({ description: 'Throughput mode: DINOv2 batched across concurrent requests (docs/performance.md).' }),
    minSampleMatches: intBetween(0, MAX_MATCHES, 'the ensemble returns at most one match per SuperPoint keypoint, 1024').default(10)
      .meta({ description: 'Matches (confidence > 0.02) the demo pair must give before the repository is published.' }),
    weights: section({
      superpoint: weightSource('SuperPoint'),
      dinov2: weightSource('DINOv2'),
      omniglue: weightSource('OmniGlue'),
    }).meta({ description: 'Weight download overrides and pinned checksums.' }),
  }).meta({ description: 'The model conversion Job.' }),
});

/** The validated configuration with every default filled in. */
export type OmniglueConfig = z.output<typeof configSchema>;
/** What a user writes in omniglue.config.json. */
export type OmniglueConfigInput = z.input<typeof configSchema>;
