import { quantityValue } from '../lib/quantity';
import { aspectRatioProblem } from '../lib/throughput-mode';

/**
 * The rules that relate two or more settings, each stated once. A rule gets the values and the names the caller
 * knows them by: the configuration's paths (config/cross-check.ts, the table the loader runs) or a construct's
 * props (config/construct-props.ts `enforceRule`), so the app and a library user get the same refusal, each in
 * their own terms. A boolean's name is the phrase that says it holds ("triton.gpusPerReplica is 0").
 */
export type Names<V> = { readonly [K in keyof V]-?: string };
/** Undefined when the values satisfy the rule; otherwise what is wrong, naming the values and the likely fix. */
export type Rule<V> = (values: V, names: Names<V>) => string | undefined;

const rule = <V>(check: Rule<V>): Rule<V> => check;

/** Memory Triton needs besides /dev/shm: the server, three networks' weights and their CUDA/ORT workspaces on the host. */
export const MIN_TRITON_MEMORY_MIB = 4096;
/** Environment variables the conversion Job sets, and those an image's Python must keep. */
export const RESERVED_JOB_ENVIRONMENT = ['HOME', 'PATH', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONUNBUFFERED', 'PYTHONDONTWRITEBYTECODE', 'LD_LIBRARY_PATH', 'LD_PRELOAD'];
const MiB = 2 ** 20;

export interface StartupBudget {
  readonly startupTimeoutSeconds: number;
  readonly expectedModelLoadSeconds: number;
  readonly expectedWarmupSeconds: number;
  readonly expectedEngineBuildSeconds: number;
  /** Engine builds count only when the published configs use TensorRT. */
  readonly tensorrtFp16: boolean;
}

/** Seconds of startup the probe's budget must cover: load, warm-up and, with TensorRT, engine builds. */
export function startupSecondsNeeded(budget: Omit<StartupBudget, 'startupTimeoutSeconds'>): number {
  return budget.expectedModelLoadSeconds + budget.expectedWarmupSeconds + (budget.tensorrtFp16 ? budget.expectedEngineBuildSeconds : 0);
}

export const RULES = {
  replicaBounds: rule<{ min: number; max: number }>((v, n) =>
    v.min > v.max ? `${n.min} (${v.min}) must be less than or equal to ${n.max} (${v.max})` : undefined,
  ),

  // A ReadWriteOnce volume attaches to one node; a second replica elsewhere waits on a Multi-Attach error.
  singleNodeVolume: rule<{ accessMode: string; maxReplicas: number }>((v, n) =>
    v.accessMode === 'ReadWriteOnce' && v.maxReplicas > 1
      ? `${n.maxReplicas} is ${v.maxReplicas}, but ${n.accessMode} ${v.accessMode} lets only one node mount it (replicas on other nodes fail ` +
        `with a Multi-Attach error): use ReadWriteMany storage (NFS, EFS, Filestore, Azure Files), or set ${n.maxReplicas} to 1`
      : undefined,
  ),

  memoryLimitAtLeastRequest: rule<{ memoryRequest: string; memoryLimit: string }>((v, n) =>
    quantityValue(v.memoryLimit) < quantityValue(v.memoryRequest)
      ? `${n.memoryLimit} (${v.memoryLimit}) must be at least ${n.memoryRequest} (${v.memoryRequest})`
      : undefined,
  ),

  shmWithinMemoryLimit: rule<{ shmSizeMiB: number; memoryLimit: string }>((v, n) =>
    v.shmSizeMiB * MiB >= quantityValue(v.memoryLimit)
      ? `${n.shmSizeMiB} (${v.shmSizeMiB}) must be smaller than ${n.memoryLimit} (${v.memoryLimit}): /dev/shm is memory-backed and counts against the limit`
      : undefined,
  ),

  memoryBesidesShm: rule<{ shmSizeMiB: number; memoryLimit: string }>((v, n) => {
    const limit = quantityValue(v.memoryLimit);
    const left = (limit - v.shmSizeMiB * MiB) / MiB;
    // A /dev/shm as large as the limit is shmWithinMemoryLimit's to report.
    if (left >= MIN_TRITON_MEMORY_MIB || v.shmSizeMiB * MiB >= limit) return undefined;
    return (
      `${n.shmSizeMiB} (${v.shmSizeMiB}) leaves Triton ${Math.round(left)} MiB of ${n.memoryLimit} (${v.memoryLimit}); ` +
      `it needs at least ${MIN_TRITON_MEMORY_MIB} MiB besides /dev/shm: lower ${n.shmSizeMiB} or raise ${n.memoryLimit}`
    );
  }),

  // Without a startup probe budget that covers load and warm-up, the kubelet restarts Triton in a loop.
  startupBudget: rule<StartupBudget>((v, n) => {
    const needed = startupSecondsNeeded(v);
    if (v.startupTimeoutSeconds >= needed) return undefined;
    const engineBuild = v.tensorrtFp16 ? ` + ${n.expectedEngineBuildSeconds} (${v.expectedEngineBuildSeconds}, TensorRT is on)` : '';
    return (
      `${n.startupTimeoutSeconds} (${v.startupTimeoutSeconds}) is shorter than ${n.expectedModelLoadSeconds} (${v.expectedModelLoadSeconds}) + ` +
      `${n.expectedWarmupSeconds} (${v.expectedWarmupSeconds})${engineBuild} = ${needed} s: ` +
      `the kubelet would kill Triton while it loads and warms up the models; raise ${n.startupTimeoutSeconds}`
    );
  }),

  tensorrtNeedsGpu: rule<{ tensorrtFp16: boolean; cpuOnly: boolean }>((v, n) =>
    v.tensorrtFp16 && v.cpuOnly ? `${n.tensorrtFp16} needs a GPU, but ${n.cpuOnly}: set ${n.tensorrtFp16} to false or give each replica a GPU` : undefined,
  ),

  throughputNeedsGpu: rule<{ throughputMode: boolean; cpuOnly: boolean }>((v, n) =>
    v.throughputMode && v.cpuOnly
      ? `${n.throughputMode} batches DINOv2 on a GPU, but ${n.cpuOnly}, where batching gains nothing and warming up at the full batch ` +
        `takes minutes: switch ${n.throughputMode} off or give each replica a GPU`
      : undefined,
  ),

  throughputAspect: rule<{ throughputMode: boolean; imageWidth: number; imageHeight: number }>((v, n) =>
    v.throughputMode ? aspectRatioProblem(v.imageWidth, v.imageHeight, n) : undefined,
  ),

  autoscalingNeedsGpu: rule<{ autoscaling: boolean; gpusPerReplica: number }>((v, n) =>
    v.autoscaling && v.gpusPerReplica === 0
      ? `${n.autoscaling} scales on GPU utilization, but ${n.gpusPerReplica} is 0, so there is no GPU utilization to scale on: ` +
        `give each replica a GPU or switch ${n.autoscaling} off`
      : undefined,
  ),

  // The pip requirements install CPU builds of ONNX Runtime: a GPU Job would hold a GPU without using it.
  conversionGpuNeedsGpuImage: rule<{ useGpu: boolean; dependenciesPreinstalled: boolean }>((v, n) =>
    v.useGpu && !v.dependenciesPreinstalled
      ? `${n.useGpu} needs ${n.dependenciesPreinstalled} with an image that has onnxruntime-gpu ` +
        '(docker build --build-arg ONNXRUNTIME_PACKAGE=onnxruntime-gpu==1.19.2 -f scripts/Dockerfile.conversion scripts): ' +
        'the default pip requirements are CPU builds and would hold a GPU without using it'
      : undefined,
  ),

  reservedJobEnvironment: rule<{ extraEnv: Readonly<Record<string, string>> }>((v, n) => {
    const reserved = Object.keys(v.extraEnv).filter((name) => RESERVED_JOB_ENVIRONMENT.includes(name));
    return reserved.length > 0
      ? `${n.extraEnv} may not set ${reserved.join(', ')}: the Job sets them itself or the image's Python needs them as they are ` +
          `(reserved: ${RESERVED_JOB_ENVIRONMENT.join(', ')})`
      : undefined;
  }),

  // The serving namespace enforces the restricted Pod Security level, which the add-ons' namespaces cannot take.
  servingNamespace: rule<{ namespace: string; monitoringNamespace: string | undefined; devicePluginNamespace: string | undefined }>((v, n) => {
    const clash = v.namespace.startsWith('kube-')
      ? 'kube-* namespaces belong to Kubernetes'
      : v.namespace === 'default'
        ? 'the default namespace holds no Pod Security level of its own; give the workload its own namespace'
        : v.namespace === v.monitoringNamespace
          ? `it is ${n.monitoringNamespace}, and the restricted Pod Security level would stop node-exporter there`
          : v.namespace === v.devicePluginNamespace
            ? `it is ${n.devicePluginNamespace}, whose privileged pods the restricted level would stop`
            : undefined;
    return clash === undefined ? undefined : `${n.namespace} '${v.namespace}' cannot hold the serving workload: ${clash}; choose another, e.g. "omniglue"`;
  }),

  onePrometheus: rule<{ installKubePrometheusStack: boolean; existingPrometheusUrl?: string }>((v, n) =>
    v.installKubePrometheusStack && v.existingPrometheusUrl !== undefined
      ? `${n.existingPrometheusUrl} is set while ${n.installKubePrometheusStack} is true: choose one Prometheus ` +
        `(set ${n.installKubePrometheusStack} to false to use yours)`
      : undefined,
  ),

  adapterNeedsPrometheus: rule<{ installKubePrometheusStack: boolean; existingPrometheusUrl?: string; installPrometheusAdapter: boolean }>((v, n) =>
    !v.installKubePrometheusStack && v.existingPrometheusUrl === undefined && v.installPrometheusAdapter
      ? `${n.installKubePrometheusStack} is false, so prometheus-adapter needs ${n.existingPrometheusUrl} (e.g. "http://prometheus-operated.monitoring.svc:9090")`
      : undefined,
  ),

  // Only one APIService serves v1beta1.custom.metrics.k8s.io: a second adapter takes it over from the cluster's own.
  oneCustomMetricsApi: rule<{ existingCustomMetricsApi: boolean; installPrometheusAdapter: boolean }>((v, n) =>
    v.existingCustomMetricsApi && v.installPrometheusAdapter
      ? `${n.existingCustomMetricsApi} says the cluster already serves custom.metrics.k8s.io, but ${n.installPrometheusAdapter} is true: ` +
        'a second prometheus-adapter would take the one APIService (v1beta1.custom.metrics.k8s.io) over from yours; ' +
        `set ${n.installPrometheusAdapter} to false and add the rules of the platform stack output prometheus-adapter-rules to your adapter`
      : undefined,
  ),

  // An HPA on custom metrics nobody serves reads <unknown> forever and never scales.
  autoscalingNeedsMetrics: rule<{ autoscaling: boolean; installPrometheusAdapter: boolean; existingCustomMetricsApi: boolean }>((v, n) =>
    v.autoscaling && !v.installPrometheusAdapter && !v.existingCustomMetricsApi
      ? `${n.autoscaling} scales on custom metrics served through custom.metrics.k8s.io, but nothing serves them: ${n.installPrometheusAdapter} ` +
        `is false and ${n.existingCustomMetricsApi} is false, so the HPA would never get a value. Set ${n.installPrometheusAdapter} to true, or ` +
        `${n.existingCustomMetricsApi} to true with the rules of the output prometheus-adapter-rules added to your adapter, or ${n.autoscaling} to false`
      : undefined,
  ),

  kubePrometheusStackRunsOperator: rule<{ installKubePrometheusStack: boolean; prometheusOperator: boolean }>((v, n) =>
    v.installKubePrometheusStack && !v.prometheusOperator
      ? `${n.prometheusOperator} is false while ${n.installKubePrometheusStack} is true: kube-prometheus-stack runs the Prometheus Operator; ` +
        `set ${n.prometheusOperator} to false only for your own Prometheus without it`
      : undefined,
  ),

  alertRulesNeedOperator: rule<{ installAlertRules: boolean; prometheusOperator: boolean }>((v, n) =>
    v.installAlertRules && !v.prometheusOperator
      ? `${n.installAlertRules} needs a Prometheus Operator to evaluate its PrometheusRule, but ${n.prometheusOperator} is false: ` +
        `set ${n.installAlertRules} to false (the rules are in charts/omniglue-alerts, to load into your Prometheus yourself)`
      : undefined,
  ),

  podMonitorLabelsNeedPodMonitor: rule<{ podMonitorLabels: Readonly<Record<string, string>>; installKubePrometheusStack: boolean; prometheusOperator: boolean }>(
    (v, n) => {
      const keys = Object.keys(v.podMonitorLabels);
      return keys.length > 0 && (v.installKubePrometheusStack || !v.prometheusOperator)
        ? `${n.podMonitorLabels} (${keys.join(', ')}) label the PodMonitor created for your own operator-managed Prometheus, ` +
            `but there is none: it needs ${n.installKubePrometheusStack} false and ${n.prometheusOperator} true`
        : undefined;
    },
  ),

  ruleLabelsNeedRules: rule<{ ruleLabels: Readonly<Record<string, string>>; installAlertRules: boolean }>((v, n) => {
    const keys = Object.keys(v.ruleLabels);
    return keys.length > 0 && !v.installAlertRules ? `${n.ruleLabels} (${keys.join(', ')}) label the alerts' PrometheusRule, but ${n.installAlertRules} is false` : undefined;
  }),
} as const;
