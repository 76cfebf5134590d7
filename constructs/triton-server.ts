import { Construct } from 'constructs';
import { enforceRule, settingProp } from '../config/construct-props';
import { RULES, StartupBudget, startupSecondsNeeded } from '../config/rules';
import { GPU_RESOURCE, GpuScheduling, gpuPodPlacement } from '../lib/gpu-scheduling';
import { labelValueFor } from '../lib/kubernetes-names';
import { TRITON_LABELS, TRITON_SELECTOR_LABELS } from '../lib/labels';
import { hardenedContainerSecurityContext, hardenedPodSecurityContext } from '../lib/pod-hardening';
import { DeploymentV1, ServiceAccountV1 } from '../lib/provider-classes';
import { PRE_STOP_SLEEP_SECONDS, TRITON_PORTS, tritonCommand } from '../lib/triton-command';
import { TRITON_METRICS_PORT_NAME } from '../lib/triton-metrics';
import { ValidationError } from '../lib/validation-error';
import { ModelConversionJob } from './model-conversion-job';
import { ModelRepository } from './model-repository';
import { TensorrtEngineCache } from './tensorrt-engine-cache';

const STARTUP_PROBE_PERIOD_SECONDS = 10;

/** Requests and limit of the Triton container; the defaults fit the smallest GPU nodes (lib/triton-sizing.ts). */
export interface TritonResources {
  /** @default - setting triton.resources.cpuRequest */
  readonly cpuRequest?: string;
  /** @default - setting triton.resources.memoryRequest */
  readonly memoryRequest?: string;
  /** Includes the memory-backed /dev/shm. @default - setting triton.resources.memoryLimit */
  readonly memoryLimit?: string;
}

// Props that mirror a setting take its default and its bounds from config/schema.ts (`@default - setting <path>`).
export interface TritonServerProps {
  /** The volume Triton reads the published model repository from (mounted read-only). */
  readonly modelRepository: ModelRepository;
  /** The Job that publishes the repository; Triton rolls out only after it succeeded, onto its version. */
  readonly conversionJob: ModelConversionJob;
  /** Where GPU pods may run. */
  readonly gpuScheduling: GpuScheduling;
  /** Repository of the Triton image (an internal mirror in air-gapped clusters). @default - setting triton.imageRepository */
  readonly imageRepository?: string;
  /** Tag of the Triton image. @default - setting triton.imageTag */
  readonly imageTag?: string;
  /** GPUs per pod; 0 runs on CPU nodes (for tests, not production). @default - setting triton.gpusPerReplica */
  readonly gpusPerReplica?: number;
  /** Replicas the Deployment starts with; an autoscaler owns the count afterwards. @default - setting triton.replicas.min */
  readonly minReplicas?: number;
  /** The most replicas that may run (checked against the volume's access mode). @default - setting triton.replicas.max */
  readonly maxReplicas?: number;
  /** Whether an autoscaler manages the replica count (Terraform then ignores drift on it). @default - setting autoscaling.enabled */
  readonly autoscaled?: boolean;
  /** CPU and memory. @default - see TritonResources */
  readonly resources?: TritonResources;
  /** Size of the memory-backed /dev/shm the ensemble exchanges tensors through. @default - setting triton.shmSizeMiB */
  readonly shmSizeMiB?: number;
  /** How long the startup probe lets all models load before the kubelet restarts the pod. @default - setting triton.startupTimeoutSeconds */
  readonly startupTimeoutSeconds?: number;
  /** Expected model load time on a cold node; the startup budget must exceed it. @default - setting triton.expectedModelLoadSeconds */
  readonly expectedModelLoadSeconds?: number;
  /** Expected warm-up time, counted into the startup budget on top of the load. @default - setting triton.expectedWarmupSeconds */
  readonly expectedWarmupSeconds?: number;
  /**
   * Expected time to build the TensorRT engines the engine cache does not hold yet; counted into the startup budget
   * when the conversion Job publishes TensorRT configs.
   * @default - setting triton.expectedEngineBuildSeconds
   */
  readonly expectedEngineBuildSeconds?: number;
  /**
   * Keeps TensorRT engines across pod restarts; only used when the conversion Job publishes TensorRT configs.
   * @default - no cache volume: every new pod builds its engines
   */
  readonly engineCache?: TensorrtEngineCache;
  /** Time in-flight requests get to finish on shutdown. @default - setting triton.terminationGracePeriodSeconds */
  readonly terminationGracePeriodSeconds?: number;
  /**
   * Leaves the model-repository, model-config, shared-memory, trace and logging APIs open. Off, they are
   * restricted behind a header whose value is random per pod, i.e. closed.
   * @default - setting triton.enableModelControlApi
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
  readonly imageTag: string;
  readonly gpusPerReplica: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly autoscaled: boolean;
  readonly resources: Required<TritonResources>;
  readonly shmSizeMiB: number;
  readonly startupTimeoutSeconds: number;
  /** Seconds of startup the budget must cover: load, warm-up and (with TensorRT) engine builds. */
  readonly expectedStartupSeconds: number;
  readonly terminationGracePeriodSeconds: number;
  readonly enableModelControlApi: boolean;
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
    const setting = <T>(path: string, prop: string, value: T | undefined) => settingProp(this, `triton.${path}`, prop, value);
    const imageRepository = setting('imageRepository', 'imageRepository', props.imageRepository);
    this.imageTag = setting('imageTag', 'imageTag', props.imageTag);
    this.image = `${imageRepository}:${this.imageTag}`;
    this.gpusPerReplica = setting('gpusPerReplica', 'gpusPerReplica', props.gpusPerReplica);
    this.minReplicas = setting('replicas.min', 'minReplicas', props.minReplicas);
    this.maxReplicas = setting('replicas.max', 'maxReplicas', props.maxReplicas);
    this.autoscaled = settingProp(this, 'autoscaling.enabled', 'autoscaled', props.autoscaled);
    this.resources = {
      cpuRequest: setting('resources.cpuRequest', 'resources.cpuRequest', props.resources?.cpuRequest),
      memoryRequest: setting('resources.memoryRequest', 'resources.memoryRequest', props.resources?.memoryRequest),
      memoryLimit: setting('resources.memoryLimit', 'resources.memoryLimit', props.resources?.memoryLimit),
    };
    this.shmSizeMiB = setting('shmSizeMiB', 'shmSizeMiB', props.shmSizeMiB);
    this.startupTimeoutSeconds = setting('startupTimeoutSeconds', 'startupTimeoutSeconds', props.startupTimeoutSeconds);
    const startup = {
      startupTimeoutSeconds: this.startupTimeoutSeconds,
      expectedModelLoadSeconds: setting<number>('expectedModelLoadSeconds', 'expectedModelLoadSeconds', props.expectedModelLoadSeconds),
      expectedWarmupSeconds: setting<number>('expectedWarmupSeconds', 'expectedWarmupSeconds', props.expectedWarmupSeconds),
      expectedEngineBuildSeconds: setting<number>('expectedEngineBuildSeconds', 'expectedEngineBuildSeconds', props.expectedEngineBuildSeconds),
      tensorrtFp16: props.conversionJob.tensorrtFp16,
    };
    this.expectedStartupSeconds = startupSecondsNeeded(startup);
    this.terminationGracePeriodSeconds = setting('terminationGracePeriodSeconds', 'terminationGracePeriodSeconds', props.terminationGracePeriodSeconds);
    this.enableModelControlApi = setting('enableModelControlApi', 'enableModelControlApi', props.enableModelControlApi);
    this.engineCache = props.conversionJob.tensorrtFp16 ? props.engineCache : undefined;
    this.checkRules(props, startup);

    const { modelRepository, conversionJob } = props;
    this.namespace = modelRepository.namespace.name;
    this.namespaceName = modelRepository.namespace.literalName;
    // A tag may be what no label value may be (128 characters, a trailing "-"): the label gets a valid stand-in.
    const labels = { ...this.labels, 'app.kubernetes.io/version': labelValueFor(this.imageTag) };

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
    const command = tritonCommand({
      modelRepositoryPath: conversionJob.publishedRepositoryPath,
      terminationGracePeriodSeconds: this.terminationGracePeriodSeconds,
      enableModelControlApi: this.enableModelControlApi,
      before: this.engineCache?.restoreCommand(conversionJob.version, this.imageTag),
    });

    // The manifest: flat and declarative, every value decided above.
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
            terminationGracePeriodSeconds: this.terminationGracePeriodSeconds,
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
                args: [command],
                env: [{ name: 'HOME', value: '/tmp' }],
                port: [
                  { name: 'http', containerPort: TRITON_PORTS.http, protocol: 'TCP' },
                  { name: 'grpc', containerPort: TRITON_PORTS.grpc, protocol: 'TCP' },
                  { name: TRITON_METRICS_PORT_NAME, containerPort: TRITON_PORTS.metrics, protocol: 'TCP' },
                ],
                resources: {
                  requests: { cpu: this.resources.cpuRequest, memory: this.resources.memoryRequest, ...gpuLimits },
                  limits: { memory: this.resources.memoryLimit, ...gpuLimits },
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
      lifecycle: this.autoscaled ? { ignoreChanges: ['spec[0].replicas'] } : undefined,
    });
  }

  /** The rules between the props (config/rules.ts, the ones the loader runs), and between the server and its Job. */
  private checkRules(props: TritonServerProps, startup: StartupBudget): void {
    enforceRule(this, RULES.replicaBounds, { min: this.minReplicas, max: this.maxReplicas }, { min: 'minReplicas', max: 'maxReplicas' });
    props.modelRepository.assertSupportsReplicas(this.maxReplicas, 'maxReplicas', this);
    const memoryNames = { memoryRequest: 'resources.memoryRequest', memoryLimit: 'resources.memoryLimit', shmSizeMiB: 'shmSizeMiB' };
    enforceRule(this, RULES.shmWithinMemoryLimit, { shmSizeMiB: this.shmSizeMiB, memoryLimit: this.resources.memoryLimit }, memoryNames);
    enforceRule(this, RULES.memoryLimitAtLeastRequest, { memoryRequest: this.resources.memoryRequest, memoryLimit: this.resources.memoryLimit }, memoryNames);
    enforceRule(this, RULES.memoryBesidesShm, { shmSizeMiB: this.shmSizeMiB, memoryLimit: this.resources.memoryLimit }, memoryNames);
    enforceRule(this, RULES.startupBudget, startup, {
      startupTimeoutSeconds: 'startupTimeoutSeconds',
      expectedModelLoadSeconds: 'expectedModelLoadSeconds',
      expectedWarmupSeconds: 'expectedWarmupSeconds',
      expectedEngineBuildSeconds: 'expectedEngineBuildSeconds',
      tensorrtFp16: "the conversion Job's tensorrtFp16",
    });
    // The Job publishes one instance kind for all models: Triton must have what it names.
    if (this.gpusPerReplica === 0 && !props.conversionJob.cpuOnlyInstances) {
      throw new ValidationError(
        'gpusPerReplica is 0, but the conversion Job publishes KIND_GPU instance groups, which Triton cannot load without a GPU: ' +
          'create the ModelConversionJob with cpuOnlyInstances: true',
        this,
      );
    }
    if (this.gpusPerReplica > 0 && props.conversionJob.cpuOnlyInstances) {
      throw new ValidationError(
        `gpusPerReplica is ${this.gpusPerReplica}, but the conversion Job publishes KIND_CPU instance groups: the GPUs would sit idle; drop cpuOnlyInstances`,
        this,
      );
    }
  }
}
