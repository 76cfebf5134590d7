import { Construct } from 'constructs';
import { VERSIONS } from '../config/versions';
import { contentHash } from '../lib/content-hash';
import { conversionScriptFiles, modelConfigFiles, sampleImageFiles, ShippedFile } from '../lib/conversion-files';
import { GPU_RESOURCE, GpuScheduling, gpuPodPlacement } from '../lib/gpu-scheduling';
import { commonLabels, TRITON_SELECTOR_LABELS } from '../lib/labels';
import { hardenedContainerSecurityContext, hardenedPodSecurityContext } from '../lib/pod-hardening';
import { ConfigMapV1, JobV1, ServiceAccountV1 } from '../lib/provider-classes';
import { throughputArguments, ThroughputMode } from '../lib/throughput-mode';
import { LoadedModelRepository, loadModelRepository, MODEL_REPOSITORY_DIR } from '../lib/triton-model-config';
import { ModelRepository } from './model-repository';

export const WEIGHT_NAMES = ['superpoint', 'dinov2', 'omniglue'] as const;
export type WeightName = (typeof WEIGHT_NAMES)[number];

export interface WeightSource {
  /** Download URL (https:// or file://). @default - the pinned official URL in the conversion script */
  readonly url?: string;
  /** Expected sha256; the Job fails on a mismatch. @default - recorded in the manifest, not verified */
  readonly sha256?: string;
}

export interface ConversionResources {
  /** @default '2' */
  readonly cpuRequest?: string;
  /** @default '8Gi' */
  readonly memoryRequest?: string;
  /** @default '16Gi' */
  readonly memoryLimit?: string;
}

export interface ModelConversionJobProps {
  /** The volume the Job publishes into. */
  readonly modelRepository: ModelRepository;
  /** Where GPU pods may run; used when `useGpu` is set. */
  readonly gpuScheduling: GpuScheduling;
  /**
   * The Triton configs the converted models must match.
   * @default - this repository's model_repository/
   */
  readonly modelConfigs?: LoadedModelRepository;
  /**
   * Image the conversion runs in (pinned tag or digest).
   * @default VERSIONS.conversionImage
   */
  readonly image?: string;
  /**
   * The image already has scripts/requirements-conversion.txt installed (scripts/Dockerfile.conversion builds
   * one), so no init container installs them; for air-gapped clusters.
   * @default false
   */
  readonly dependenciesPreinstalled?: boolean;
  /**
   * Runs on a GPU node with one GPU.
   * @default false
   */
  readonly useGpu?: boolean;
  /**
   * Deadline for the whole Job, retries and downloads included; Terraform waits a little longer.
   * @default 60
   */
  readonly timeoutMinutes?: number;
  /**
   * Retries after a failed pod.
   * @default 2
   */
  readonly backoffLimit?: number;
  /** CPU and memory of the conversion container. @default - see ConversionResources */
  readonly resources?: ConversionResources;
  /** Weight download overrides and pinned checksums. @default - official URLs, checksums recorded only */
  readonly weights?: Partial<Record<WeightName, WeightSource>>;
  /**
   * Adds TensorRT FP16 acceleration to the three networks' configs.
   * @default false
   */
  readonly tensorrtFp16?: boolean;
  /**
   * Largest image side (px) the TensorRT shape profiles cover (used with `tensorrtFp16`).
   * @default 1920
   */
  readonly tensorrtMaxImageSide?: number;
  /**
   * Publishes KIND_CPU instance groups, for Triton replicas without a GPU (a distinct model version).
   * @default false
   */
  readonly cpuOnlyInstances?: boolean;
  /**
   * Resizes every image to one resolution before SuperPoint and DINOv2 and lets those two batch across requests
   * (a distinct model version; docs/performance.md, "Throughput mode").
   * @default - off: SuperPoint at each image's own resolution, as the reference runs it
   */
  readonly throughputMode?: ThroughputMode;
  /**
   * Extra environment variables of both containers (e.g. HTTPS_PROXY, NO_PROXY).
   * @default {}
   */
  readonly extraEnv?: Record<string, string>;
  /**
   * Matches the demo pair must give before the repository is published.
   * @default 10
   */
  readonly minSampleMatches?: number;
}

const CODE_ROOT = '/opt/omniglue';

/**
 * Exit codes of failures that fail again on every retry (scripts/omniglue_conversion/errors.py): usage (2), checksum
 * (4), export (5), contract (6) and sample inference (7). Downloads (3), publishing (8), the lock (9) and unexpected
 * errors (1) may be transient and keep their retries.
 */
export const NON_RETRYABLE_EXIT_CODES = [2, 4, 5, 6, 7] as const;
const DEPENDENCIES_DIR = '/deps';

/**
 * Converts SuperPoint, DINOv2 and the OmniGlue matcher to ONNX, builds the glue graphs, validates everything
 * against the Triton configs, runs the pipeline on the demo pair and publishes a versioned model repository.
 * Terraform waits for it, so Triton only rolls out onto a repository that passed.
 */
export class ModelConversionJob extends Construct {
  /** Every conversion Job's name starts with this, followed by the version. */
  static readonly NAME_PREFIX = 'omniglue-convert-';

  /** Content hash of everything that determines the converted models; names the published directory. */
  readonly version: string;
  /** The Job's name: the model version plus a hash of the pod settings, since a Job's pod template is immutable. */
  readonly jobName: string;
  /** Path of the published repository inside pods that mount the volume at ModelRepository.MOUNT_PATH. */
  readonly publishedRepositoryPath: string;
  readonly image: string;
  readonly timeoutMinutes: number;
  readonly useGpu: boolean;
  /** Whether the published configs use TensorRT (Triton then needs an engine-build budget and benefits from a cache). */
  readonly tensorrtFp16: boolean;
  /** Whether the published configs place every instance on the CPU. */
  readonly cpuOnlyInstances: boolean;
  /** The throughput mode the published models use; undefined when off. */
  readonly throughputMode: ThroughputMode | undefined;
  readonly modelConfigs: LoadedModelRepository;
  readonly job: JobV1;

  constructor(scope: Construct, id: string, props: ModelConversionJobProps) {
    super(scope, id);
    this.image = props.image ?? VERSIONS.conversionImage;
    this.useGpu = props.useGpu ?? false;
    this.timeoutMinutes = props.timeoutMinutes ?? 60;
    this.modelConfigs = props.modelConfigs ?? loadModelRepository(MODEL_REPOSITORY_DIR);
    const dependenciesPreinstalled = props.dependenciesPreinstalled ?? false;
    const backoffLimit = props.backoffLimit ?? 2;
    const minSampleMatches = props.minSampleMatches ?? 10;
    this.tensorrtFp16 = props.tensorrtFp16 ?? false;
    this.cpuOnlyInstances = props.cpuOnlyInstances ?? false;
    this.throughputMode = props.throughputMode;
    const tensorrtMaxImageSide = props.tensorrtMaxImageSide ?? 1920;
    const resources = { cpuRequest: '2', memoryRequest: '8Gi', memoryLimit: '16Gi', ...props.resources };
    if (!Number.isInteger(this.timeoutMinutes) || this.timeoutMinutes < 1) {
      throw new Error(`timeoutMinutes (${this.timeoutMinutes}) must be a whole number of minutes, at least 1`);
    }
    if (this.tensorrtFp16 && this.cpuOnlyInstances) {
      throw new Error('tensorrtFp16 needs GPU instances, but cpuOnlyInstances is set: choose one');
    }
    if (!Number.isInteger(tensorrtMaxImageSide) || tensorrtMaxImageSide < 640) {
      throw new Error(`tensorrtMaxImageSide (${tensorrtMaxImageSide}) must be a whole number of pixels, at least 640 (the typical image)`);
    }
    const namespace = props.modelRepository.namespace.name;
    const labels = commonLabels('omniglue', 'model-conversion');

    const scripts = conversionScriptFiles();
    const configs = modelConfigFiles(this.modelConfigs);
    const samples = sampleImageFiles();
    const modelArguments = this.conversionArguments(props.weights ?? {}, minSampleMatches, tensorrtMaxImageSide);
    this.version = contentHash([...scripts, ...configs, ...samples], { image: this.image, modelArguments });
    this.publishedRepositoryPath = `${ModelRepository.MOUNT_PATH}/versions/${this.version}`;
    const extraEnv = props.extraEnv ?? {};
    const sharesSingleNodeVolume = !props.modelRepository.mountableFromSeveralNodes;
    // Changing how the Job runs (resources, placement, environment) must not change the model version, which
    // would roll Triton for nothing, but it cannot update a Job in place either: it gets a new Job name.
    // The script's own limits end a stalled download or a wait for another Job's lock with a message and an exit code
    // (3, 9) well before the Job's deadline kills the pod without one: downloads get half the deadline, the lock a
    // quarter, and the rest is left for the conversion itself.
    const runLimits = [
      '--download-timeout-seconds', String(Math.floor(this.timeoutMinutes * 30)),
      '--lock-timeout-seconds', String(Math.floor(this.timeoutMinutes * 15)),
    ];
    const podSettingsHash = contentHash([], {
      dependenciesPreinstalled, useGpu: this.useGpu, backoffLimit, timeoutMinutes: this.timeoutMinutes, resources, extraEnv,
      sharesSingleNodeVolume, toleration: props.gpuScheduling.toleration, nodeLabels: props.gpuScheduling.requiredNodeLabels,
      runtimeClassName: props.gpuScheduling.runtimeClassName, podFailurePolicy: NON_RETRYABLE_EXIT_CODES, runLimits,
    }, 6);
    this.jobName = `${ModelConversionJob.NAME_PREFIX}${this.version}-${podSettingsHash}`;

    const configMap = (name: string, files: ShippedFile[], binary: boolean) =>
      new ConfigMapV1(this, name, {
        metadata: { name: `omniglue-conversion-${name}`, namespace, labels },
        ...(binary
          ? { binaryData: Object.fromEntries(files.map((file) => [file.key, file.content.toString('base64')])) }
          : { data: Object.fromEntries(files.map((file) => [file.key, file.content.toString('utf8')])) }),
      });
    const scriptsMap = configMap('scripts', scripts, false);
    const configsMap = configMap('model-configs', configs, false);
    const samplesMap = configMap('samples', samples, true);
    const items = (files: ShippedFile[]) => files.map((file) => ({ key: file.key, path: file.path }));

    const serviceAccount = new ServiceAccountV1(this, 'service-account', {
      metadata: { name: 'omniglue-conversion', namespace, labels },
      automountServiceAccountToken: false,
    });

    const environment = [
      { name: 'HOME', value: '/tmp' },
      { name: 'PYTHONUNBUFFERED', value: '1' },
      { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
      { name: 'PYTHONPATH', value: DEPENDENCIES_DIR },
      ...Object.entries(extraEnv).map(([name, value]) => ({ name, value })),
    ];
    const containerResources = {
      requests: { cpu: resources.cpuRequest, memory: resources.memoryRequest },
      limits: { memory: resources.memoryLimit, ...(this.useGpu ? { [GPU_RESOURCE]: '1' } : {}) },
    };
    const installDependencies = {
      name: 'install-dependencies',
      image: this.image,
      command: ['python', '-m', 'pip', 'install', '--no-cache-dir', '--disable-pip-version-check', '--target', DEPENDENCIES_DIR,
        '--requirement', `${CODE_ROOT}/scripts/requirements-conversion.txt`],
      env: environment,
      resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '4Gi' } },
      // pip writes no termination message: a failed install leaves the tail of its log there instead.
      terminationMessagePolicy: 'FallbackToLogsOnError',
      securityContext: hardenedContainerSecurityContext(),
      volumeMount: [
        { name: 'scripts', mountPath: `${CODE_ROOT}/scripts`, readOnly: true },
        { name: 'dependencies', mountPath: DEPENDENCIES_DIR },
        { name: 'tmp', mountPath: '/tmp' },
      ],
    };

    this.job = new JobV1(this, 'job', {
      metadata: {
        name: this.jobName,
        namespace,
        labels: { ...labels, 'omniglue.dev/model-version': this.version },
      },
      spec: {
        backoffLimit,
        activeDeadlineSeconds: this.timeoutMinutes * 60,
        // Kubernetes' pod failure policy (batch/v1 JobSpec.podFailurePolicy): a deterministic failure ends the Job at
        // once instead of repeating an hour of conversion backoffLimit times, and a pod lost to a node drain or
        // preemption (condition DisruptionTarget) is replaced without using up a retry. Needs restartPolicy Never.
        podFailurePolicy: {
          rule: [
            { action: 'FailJob', onExitCodes: { containerName: 'convert', operator: 'In', values: [...NON_RETRYABLE_EXIT_CODES] } },
            { action: 'Ignore', onPodCondition: [{ type: 'DisruptionTarget', status: 'True' }] },
          ],
        },
        template: {
          metadata: { labels: { ...labels, 'omniglue.dev/model-version': this.version } },
          spec: {
            restartPolicy: 'Never',
            serviceAccountName: serviceAccount.metadata.name,
            automountServiceAccountToken: false,
            securityContext: hardenedPodSecurityContext(),
            ...(this.useGpu ? gpuPodPlacement(props.gpuScheduling) : {}),
            ...(sharesSingleNodeVolume && !this.useGpu ? this.besideTriton(props.gpuScheduling) : {}),
            initContainer: dependenciesPreinstalled ? [] : [installDependencies],
            container: [
              {
                name: 'convert',
                image: this.image,
                command: ['python', `${CODE_ROOT}/scripts/convert_models_to_onnx.py`],
                args: [
                  '--model-configs', `${CODE_ROOT}/model_repository`,
                  '--contract', `${CODE_ROOT}/model_repository/model_contract.json`,
                  '--output-root', ModelRepository.MOUNT_PATH,
                  '--version', this.version,
                  '--work-dir', `${ModelRepository.MOUNT_PATH}/.work`,
                  '--sample-image0', `${CODE_ROOT}/samples/demo1.jpg`,
                  '--sample-image1', `${CODE_ROOT}/samples/demo2.jpg`,
                  ...modelArguments,
                  ...runLimits,
                ],
                env: environment,
                resources: containerResources,
                // The script writes a one-line reason to /dev/termination-log (omniglue_conversion/termination.py),
                // which `kubectl describe pod` shows beside the exit code; a crash that writes none (a native fault, a
                // kill) leaves the tail of the log there instead.
                terminationMessagePolicy: 'FallbackToLogsOnError',
                securityContext: hardenedContainerSecurityContext(),
                volumeMount: [
                  { name: 'scripts', mountPath: `${CODE_ROOT}/scripts`, readOnly: true },
                  { name: 'model-configs', mountPath: `${CODE_ROOT}/model_repository`, readOnly: true },
                  { name: 'samples', mountPath: `${CODE_ROOT}/samples`, readOnly: true },
                  { name: 'model-repository', mountPath: ModelRepository.MOUNT_PATH },
                  { name: 'dependencies', mountPath: DEPENDENCIES_DIR, readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volume: [
              { name: 'scripts', configMap: { name: scriptsMap.metadata.name, items: items(scripts) } },
              { name: 'model-configs', configMap: { name: configsMap.metadata.name, items: items(configs) } },
              { name: 'samples', configMap: { name: samplesMap.metadata.name, items: items(samples) } },
              { name: 'model-repository', persistentVolumeClaim: { claimName: props.modelRepository.claimName } },
              // pip installs TensorFlow and PyTorch here (~3 GB): sized so a full node disk evicts nothing else.
              { name: 'dependencies', emptyDir: { sizeLimit: '10Gi' } },
              { name: 'tmp', emptyDir: { sizeLimit: '10Gi' } },
            ],
          },
        },
      },
      waitForCompletion: true,
      // The provider's default create timeout is 1 minute; downloads and conversion take far longer.
      timeouts: { create: `${this.timeoutMinutes + 10}m`, update: `${this.timeoutMinutes + 10}m` },
    });
  }

  /**
   * A ReadWriteOnce volume is attached to one node at a time, and Triton holds it while a new version converts:
   * the Job may go onto the GPU nodes and prefers the node Triton runs on, else it waits on a Multi-Attach error.
   */
  private besideTriton(gpuScheduling: GpuScheduling) {
    return {
      toleration: [{ ...gpuScheduling.toleration }],
      affinity: {
        podAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 100,
              podAffinityTerm: {
                topologyKey: 'kubernetes.io/hostname',
                labelSelector: [{ matchLabels: { ...TRITON_SELECTOR_LABELS } }],
              },
            },
          ],
        },
      },
    };
  }

  private conversionArguments(weights: Partial<Record<WeightName, WeightSource>>, minSampleMatches: number, tensorrtMaxImageSide: number): string[] {
    const args = ['--min-sample-matches', String(minSampleMatches)];
    for (const name of WEIGHT_NAMES) {
      const source = weights[name];
      if (source?.url !== undefined) args.push('--weights-url', `${name}=${source.url}`);
      if (source?.sha256 !== undefined) args.push('--weights-sha256', `${name}=${source.sha256}`);
    }
    // Only arguments that change the published files go in: each one is part of the model version's hash.
    if (this.tensorrtFp16) args.push('--tensorrt-fp16', '--tensorrt-max-image-side', String(tensorrtMaxImageSide));
    if (this.cpuOnlyInstances) args.push('--instance-kind', 'cpu');
    if (this.throughputMode) args.push(...throughputArguments(this.throughputMode));
    return args;
  }
}
