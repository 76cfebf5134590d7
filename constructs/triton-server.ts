import { Construct } from 'constructs';
import { TRITON_IMAGE_REPOSITORY, VERSIONS } from '../config/versions';
import { GPU_RESOURCE, GpuScheduling, gpuPodPlacement } from '../lib/gpu-scheduling';
import { TRITON_LABELS, TRITON_SELECTOR_LABELS } from '../lib/labels';
import { hardenedContainerSecurityContext, hardenedPodSecurityContext } from '../lib/pod-hardening';
import { DeploymentV1, ServiceAccountV1 } from '../lib/provider-classes';
import { TRITON_METRICS_PORT_NAME } from '../lib/triton-metrics';
import { TRITON_RESOURCE_DEFAULTS } from '../lib/triton-sizing';
import { quantityToNumber } from '../config/validators';
import { ModelConversionJob } from './model-conversion-job';
import { ModelRepository } from './model-repository';
import { TensorrtEngineCache } from './tensorrt-engine-cache';

export const TRITON_PORTS = { http: 8000, grpc: 8001, metrics: 8002 } as const;

/** APIs a client of the ensemble never needs; locked unless `enableModelControlApi` is set. */
const ADMIN_APIS = 'model-repository,model-config,shared-memory,trace,logging';
const PRE_STOP_SLEEP_SECONDS = 10;
const STARTUP_PROBE_PERIOD_SECONDS = 10;

/** Requests and limit of the Triton container; the defaults fit the smallest GPU nodes (lib/triton-sizing.ts). */
export interface TritonResources {
  /** @default '2' */
  readonly cpuRequest?: string;
  /** @default '6Gi' */
  readonly memoryRequest?: string;
  /** Includes the memory-backed /dev/shm. @default '10Gi' */
  readonly memoryLimit?: string;
}

export interface TritonServerProps {
  /** The volume Triton reads the published model repository from (mounted read-only). */
  readonly modelRepository: ModelRepository;
  /** The Job that publishes the repository; Triton rolls out only after it succeeded, onto its version. */
  readonly conversionJob: ModelConversionJob;
  /** Where GPU pods may run. */
  readonly gpuScheduling: GpuScheduling;
  /**
   * Repository of the Triton image (an internal mirror in air-gapped clusters).
   * @default 'nvcr.io/nvidia/tritonserver'
   */
  readonly imageRepository?: string;
  /**
   * Tag of the Triton image.
   * @default VERSIONS.tritonImageTag
   */
  readonly imageTag?: string;
  /**
   * GPUs per pod; 0 runs on CPU nodes (for tests, not production).
   * @default 1
   */
  readonly gpusPerReplica?: number;
  /**
   * Replicas the Deployment starts with; an autoscaler owns the count afterwards.
   * @default 1
   */
  readonly minReplicas?: number;
  /**
   * The most replicas that may run (validated against the volume's access mode).
   * @default 4
   */
  readonly maxReplicas?: number;
  /**
   * Whether an autoscaler manages the replica count (Terraform then ignores drift on it).
   * @default true
   */
  readonly autoscaled?: boolean;
  /** CPU and memory. @default - see TritonResources */
  readonly resources?: TritonResources;
  /**
   * Size of the memory-backed /dev/shm; ensembles exchange tensors through it (64 MiB default of the runtime breaks them).
   * @default 2048
   */
  readonly shmSizeMiB?: number;
  /**
   * How long the startup probe lets all models load before the kubelet restarts the pod.
   * @default 900
   */
  readonly startupTimeoutSeconds?: number;
  /**
   * Expected model load time on a cold node; the startup budget must exceed it.
   * @default 300
   */
  readonly expectedModelLoadSeconds?: number;
  /**
   * Expected time of the models' warm-up (every instance runs once at the typical size before Triton is ready);
   * the startup budget must cover it on top of the load.
   * @default 60
   */
  readonly expectedWarmupSeconds?: number;
  /**
   * Expected time to build the TensorRT engines that the engine cache does not hold yet; counted into the startup
   * budget when the conversion Job publishes TensorRT configs.
   * @default 480
   */
  readonly expectedEngineBuildSeconds?: number;
  /**
   * Keeps TensorRT engines across pod restarts; only used when the conversion Job publishes TensorRT configs.
   * @default - no cache volume: every new pod builds its engines
   */
  readonly engineCache?: TensorrtEngineCache;
  /**
   * Time in-flight requests get to finish on shutdown.
   * @default 60
   */
  readonly terminationGracePeriodSeconds?: number;
  /**
   * Leaves the model-repository, model-config, shared-memory, trace and logging APIs open. Off, they are
   * restricted behind a header whose value is random per pod, i.e. closed.
   * @default false
   */
  readonly enableModelControlApi?: boolean;
}

/** NVIDIA Triton serving the published OmniGlue model repository on GPU nodes. */
export class TritonServer extends Construct {
  readonly name = 'omniglue-triton';
  /** Namespace as a resource reference (orders creation after the namespace). */
  readonly namespace: string;
  /** Namespace as plain text, for URLs and label values. */
  readonly namespaceName: string;
  readonly image: string;
  readonly gpusPerReplica: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly shmSizeMiB: number;
  readonly startupTimeoutSeconds: number;
  /** Seconds of startup the budget must cover: load, warm-up and (with TensorRT) engine builds. */
  readonly expectedStartupSeconds: number;
  /** The engine cache the pods restore from and save to, when TensorRT is on and a cache was given. */
  readonly engineCache: TensorrtEngineCache | undefined;
  /** Labels the Service, PodDisruptionBudget and NetworkPolicy select the pods by. */
  readonly selectorLabels: Record<string, string> = { ...TRITON_SELECTOR_LABELS };
  /** Labels of the server's objects and of the objects around it. */
  readonly labels: Record<string, string> = { ...TRITON_LABELS };
  readonly serviceAccount: ServiceAccountV1;
  readonly deployment: DeploymentV1;

  constructor(scope: Construct, id: string, props: TritonServerProps) {
    super(scope, id);
    this.image = `${props.imageRepository ?? TRITON_IMAGE_REPOSITORY}:${props.imageTag ?? VERSIONS.tritonImageTag}`;
    this.gpusPerReplica = props.gpusPerReplica ?? 1;
    this.minReplicas = props.minReplicas ?? 1;
    this.maxReplicas = props.maxReplicas ?? 4;
    this.shmSizeMiB = props.shmSizeMiB ?? 2048;
    this.startupTimeoutSeconds = props.startupTimeoutSeconds ?? 900;
    const expectedModelLoadSeconds = props.expectedModelLoadSeconds ?? 300;
    const expectedWarmupSeconds = props.expectedWarmupSeconds ?? 60;
    const expectedEngineBuildSeconds = props.conversionJob.tensorrtFp16 ? (props.expectedEngineBuildSeconds ?? 480) : 0;
    this.expectedStartupSeconds = expectedModelLoadSeconds + expectedWarmupSeconds + expectedEngineBuildSeconds;
    this.engineCache = props.conversionJob.tensorrtFp16 ? props.engineCache : undefined;
    const terminationGracePeriodSeconds = props.terminationGracePeriodSeconds ?? 60;
    const autoscaled = props.autoscaled ?? true;
    const resources = { ...TRITON_RESOURCE_DEFAULTS, ...props.resources };
    this.validate(props, { expectedModelLoadSeconds, expectedWarmupSeconds, expectedEngineBuildSeconds }, terminationGracePeriodSeconds, resources.memoryLimit);

    const { modelRepository, conversionJob } = props;
    this.namespace = modelRepository.namespace.name;
    this.namespaceName = modelRepository.namespace.literalName;
    const labels = { ...this.labels, 'app.kubernetes.io/version': props.imageTag ?? VERSIONS.tritonImageTag };

    this.serviceAccount = new ServiceAccountV1(this, 'service-account', {
      metadata: { name: this.name, namespace: this.namespace, labels },
      automountServiceAccountToken: false,
    });

    const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
      httpGet: { path, port: 'http' },
      periodSeconds,
      failureThreshold,
      timeoutSeconds: 5,
    });
    const rolloutTimeout = `${(Math.ceil(this.startupTimeoutSeconds / 60) + 10) * this.maxReplicas}m`;
    const gpuLimits: Record<string, string> = this.gpusPerReplica > 0 ? { [GPU_RESOURCE]: String(this.gpusPerReplica) } : {};

    this.deployment = new DeploymentV1(this, 'deployment', {
      metadata: { name: this.name, namespace: this.namespace, labels },
      spec: {
        replicas: String(this.minReplicas),
        revisionHistoryLimit: 5,
        selector: { matchLabels: this.selectorLabels },
        // Surge first so capacity never drops; a ReadWriteOnce volume cannot be shared by old and new pods.
        strategy: modelRepository.mountableFromSeveralNodes
          ? { type: 'RollingUpdate', rollingUpdate: { maxSurge: '1', maxUnavailable: '0' } }
          : { type: 'Recreate' },
        // A rollout must cover image pull and model load before the Deployment counts as stuck.
        progressDeadlineSeconds: this.startupTimeoutSeconds + 600,
        template: {
          metadata: {
            labels: { ...labels, ...this.selectorLabels },
            annotations: {
              // A new model version changes the pod template and so rolls the pods; an unchanged one does not.
              'omniglue.dev/model-version': conversionJob.version,
            },
          },
          spec: {
            serviceAccountName: this.serviceAccount.metadata.name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds,
            securityContext: hardenedPodSecurityContext(),
            ...(this.gpusPerReplica > 0 ? gpuPodPlacement(props.gpuScheduling) : {}),
            topologySpreadConstraint: [
              { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: [{ matchLabels: this.selectorLabels }] },
              { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: [{ matchLabels: this.selectorLabels }] },
            ],
            container: [
              {
                name: 'triton',
                image: this.image,
                command: ['/bin/sh', '-c'],
                args: [this.serverCommand(conversionJob, props.imageTag ?? VERSIONS.tritonImageTag, terminationGracePeriodSeconds, props.enableModelControlApi ?? false)],
                env: [{ name: 'HOME', value: '/tmp' }],
                port: [
                  { name: 'http', containerPort: TRITON_PORTS.http, protocol: 'TCP' },
                  { name: 'grpc', containerPort: TRITON_PORTS.grpc, protocol: 'TCP' },
                  { name: TRITON_METRICS_PORT_NAME, containerPort: TRITON_PORTS.metrics, protocol: 'TCP' },
                ],
                resources: {
                  requests: { cpu: resources.cpuRequest, memory: resources.memoryRequest, ...gpuLimits },
                  limits: { memory: resources.memoryLimit, ...gpuLimits },
                },
                startupProbe: probe('/v2/health/ready', STARTUP_PROBE_PERIOD_SECONDS, Math.ceil(this.startupTimeoutSeconds / STARTUP_PROBE_PERIOD_SECONDS)),
                readinessProbe: probe('/v2/health/ready', 5, 3),
                livenessProbe: probe('/v2/health/live', 10, 3),
                lifecycle: { preStop: [{ exec: { command: ['sleep', String(PRE_STOP_SLEEP_SECONDS)] } }] },
                securityContext: hardenedContainerSecurityContext(),
                volumeMount: [
                  { name: 'model-repository', mountPath: ModelRepository.MOUNT_PATH, readOnly: true },
                  { name: 'dshm', mountPath: '/dev/shm' },
                  { name: 'tmp', mountPath: '/tmp' },
                  ...(this.engineCache ? [this.engineCache.volumeMount()] : []),
                ],
              },
              ...(this.engineCache ? [this.engineCache.syncContainer(this.image)] : []),
            ],
            volume: [
              { name: 'model-repository', persistentVolumeClaim: { claimName: modelRepository.claimName, readOnly: true } },
              { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: `${this.shmSizeMiB}Mi` } },
              // Engines restored from the cache live here too (a few hundred MB per model version).
              { name: 'tmp', emptyDir: { sizeLimit: this.engineCache ? '4Gi' : '2Gi' } },
              ...(this.engineCache ? [this.engineCache.volume()] : []),
            ],
          },
        },
      },
      waitForRollout: true,
      // Pods are replaced one at a time (maxSurge 1), each with image pull and model load: the wait scales with the replicas.
      timeouts: { create: rolloutTimeout, update: rolloutTimeout },
      dependsOn: [conversionJob.job],
      // The autoscaler owns the replica count; without this every apply would reset it to minReplicas.
      lifecycle: autoscaled ? { ignoreChanges: ['spec[0].replicas'] } : undefined,
    });
  }

  private serverCommand(conversionJob: ModelConversionJob, imageTag: string, gracePeriodSeconds: number, enableModelControlApi: boolean): string {
    const exitTimeoutSeconds = Math.max(gracePeriodSeconds - PRE_STOP_SLEEP_SECONDS - 5, 5);
    const restore = this.engineCache ? `${this.engineCache.restoreCommand(conversionJob.version, imageTag)}; ` : '';
    const flags = [
      `--model-repository=${conversionJob.publishedRepositoryPath}`,
      // NONE: the repository is immutable once published; POLL and dynamic loading are not for production.
      '--model-control-mode=none',
      '--strict-readiness=true',
      '--disable-auto-complete-config',
      '--exit-on-error=true',
      `--exit-timeout-secs=${exitTimeoutSeconds}`,
      `--http-port=${TRITON_PORTS.http}`,
      `--grpc-port=${TRITON_PORTS.grpc}`,
      '--allow-metrics=true',
      '--allow-gpu-metrics=true',
      `--metrics-port=${TRITON_PORTS.metrics}`,
      '--metrics-interval-ms=2000',
      // Request-to-response histograms (core metric_model_reporter.cc; server docs/user_guide/metrics.md
      // "Histograms"): the dashboard's p50/p95/p99, with the ensemble's buckets set in its config.pbtxt.
      '--metrics-config=histogram_latencies=true',
      '--log-format=ISO8601',
    ];
    if (!enableModelControlApi) {
      // A random per-pod key, never written anywhere: the admin APIs stay closed without a secret in the configuration.
      flags.push(`--http-restricted-api=${ADMIN_APIS}:omniglue-admin-key=$ADMIN_KEY`, `--grpc-restricted-protocol=${ADMIN_APIS}:omniglue-admin-key=$ADMIN_KEY`);
      return `${restore}ADMIN_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -dc 0-9a-f) && exec tritonserver ${flags.join(' ')}`;
    }
    return `${restore}exec tritonserver ${flags.join(' ')}`;
  }

  private validate(
    props: TritonServerProps,
    expected: { expectedModelLoadSeconds: number; expectedWarmupSeconds: number; expectedEngineBuildSeconds: number },
    gracePeriodSeconds: number,
    memoryLimit: string,
  ): void {
    if (!Number.isInteger(this.gpusPerReplica) || this.gpusPerReplica < 0) {
      throw new Error(`gpusPerReplica (${this.gpusPerReplica}) must be a whole number, 0 or more`);
    }
    if (this.minReplicas < 1 || this.minReplicas > this.maxReplicas) {
      throw new Error(`minReplicas (${this.minReplicas}) must be at least 1 and less than or equal to maxReplicas (${this.maxReplicas})`);
    }
    props.modelRepository.assertSupportsReplicas(this.maxReplicas, 'maxReplicas');
    for (const [setting, value] of Object.entries(expected)) {
      if (!Number.isInteger(value) || value < 0) throw new Error(`${setting} (${value}) must be a whole number of seconds, 0 or more`);
    }
    if (this.startupTimeoutSeconds < this.expectedStartupSeconds) {
      const engineBuild = expected.expectedEngineBuildSeconds > 0 ? ` + expectedEngineBuildSeconds (${expected.expectedEngineBuildSeconds})` : '';
      throw new Error(
        `startupTimeoutSeconds (${this.startupTimeoutSeconds}) is shorter than expectedModelLoadSeconds (${expected.expectedModelLoadSeconds}) + ` +
          `expectedWarmupSeconds (${expected.expectedWarmupSeconds})${engineBuild} = ${this.expectedStartupSeconds} s: ` +
          'the kubelet would restart Triton while it loads and warms up the models',
      );
    }
    if (this.gpusPerReplica === 0 && !props.conversionJob.cpuOnlyInstances) {
      throw new Error(
        'gpusPerReplica is 0, but the conversion Job publishes KIND_GPU instance groups, which Triton cannot load without a GPU: ' +
          'create the ModelConversionJob with cpuOnlyInstances: true',
      );
    }
    if (this.gpusPerReplica > 0 && props.conversionJob.cpuOnlyInstances) {
      throw new Error(`gpusPerReplica is ${this.gpusPerReplica}, but the conversion Job publishes KIND_CPU instance groups: the GPUs would sit idle; drop cpuOnlyInstances`);
    }
    if (this.shmSizeMiB * 2 ** 20 >= quantityToNumber(memoryLimit)) {
      throw new Error(`shmSizeMiB (${this.shmSizeMiB}) must be smaller than the memory limit (${memoryLimit}): /dev/shm counts against it`);
    }
    if (gracePeriodSeconds <= PRE_STOP_SLEEP_SECONDS + 5) {
      throw new Error(`terminationGracePeriodSeconds (${gracePeriodSeconds}) must exceed ${PRE_STOP_SLEEP_SECONDS + 5} s to drain in-flight requests`);
    }
  }
}
