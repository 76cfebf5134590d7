import { Construct } from 'constructs';
import { enforceRule, settingProp } from '../config/construct-props';
import { RULES } from '../config/rules';
import { modelArguments, NON_RETRYABLE_EXIT_CODES, runLimitArguments, WeightName, WeightSource } from '../lib/conversion-arguments';
import { contentHash } from '../lib/content-hash';
import { conversionScriptFiles, modelConfigFiles, sampleImageFiles, ShippedFile } from '../lib/conversion-files';
import { GPU_RESOURCE, GpuScheduling, gpuPodPlacement, gpuPodPlacementBeside } from '../lib/gpu-scheduling';
import { commonLabels, TRITON_SELECTOR_LABELS } from '../lib/labels';
import { hardenedContainerSecurityContext, hardenedPodSecurityContext } from '../lib/pod-hardening';
import { ConfigMapV1, JobV1, ServiceAccountV1 } from '../lib/provider-classes';
import { ThroughputMode } from '../lib/throughput-mode';
import { LoadedModelRepository, loadModelRepository, MODEL_REPOSITORY_DIR } from '../lib/triton-model-config';
import { withConstructPath } from '../lib/validation-error';
import { ModelRepository } from './model-repository';

export type { WeightName, WeightSource } from '../lib/conversion-arguments';

export interface ConversionResources {
  /** @default - setting conversion.cpuRequest */
  readonly cpuRequest?: string;
  /** @default - setting conversion.memoryRequest */
  readonly memoryRequest?: string;
  /** @default - setting conversion.memoryLimit */
  readonly memoryLimit?: string;
}

// Props that mirror a setting take its default and its bounds from config/schema.ts (`@default - setting <path>`).
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
  /** Image the conversion runs in (pinned tag or digest). @default - setting conversion.image */
  readonly image?: string;
  /**
   * The image already has scripts/requirements-conversion.txt installed (scripts/Dockerfile.conversion builds
   * one), so no init container installs them; for air-gapped clusters.
   * @default - setting conversion.dependenciesPreinstalled
   */
  readonly dependenciesPreinstalled?: boolean;
  /** Runs on a GPU node with one GPU. @default - setting conversion.useGpu */
  readonly useGpu?: boolean;
  /** Deadline for the whole Job, retries and downloads included; Terraform waits 10 minutes longer. @default - setting conversion.timeoutMinutes */
  readonly timeoutMinutes?: number;
  /** Retries after a failed pod. @default - setting conversion.backoffLimit */
  readonly backoffLimit?: number;
  /** CPU and memory of the conversion container. @default - see ConversionResources */
  readonly resources?: ConversionResources;
  /** Weight download overrides and pinned checksums. @default - setting conversion.weights: official URLs, checksums recorded only */
  readonly weights?: Partial<Record<WeightName, WeightSource>>;
  /** Adds TensorRT FP16 acceleration to the three networks' configs. @default - setting conversion.tensorrtFp16 */
  readonly tensorrtFp16?: boolean;
  /** Largest image side (px) the TensorRT shape profiles cover (used with `tensorrtFp16`). @default - setting conversion.tensorrtMaxImageSide */
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
  /** Extra environment variables of both containers (e.g. HTTPS_PROXY, NO_PROXY). @default - setting conversion.extraEnv */
  readonly extraEnv?: Record<string, string>;
  /** Matches the demo pair must give before the repository is published. @default - setting conversion.minSampleMatches */
  readonly minSampleMatches?: number;
}

const CODE_ROOT = '/opt/omniglue';

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
    const setting = <T>(name: string, value: T | undefined) => settingProp(this, `conversion.${name}`, name, value);
    this.image = setting('image', props.image);
    this.useGpu = setting('useGpu', props.useGpu);
    this.timeoutMinutes = setting('timeoutMinutes', props.timeoutMinutes);
    this.tensorrtFp16 = setting('tensorrtFp16', props.tensorrtFp16);
    this.cpuOnlyInstances = props.cpuOnlyInstances ?? false;
    this.throughputMode = props.throughputMode;
    this.modelConfigs = props.modelConfigs ?? loadModelRepository(MODEL_REPOSITORY_DIR);
    const dependenciesPreinstalled = setting<boolean>('dependenciesPreinstalled', props.dependenciesPreinstalled);
    const backoffLimit = setting<number>('backoffLimit', props.backoffLimit);
    // In this order: the pod settings' hash, and so the Job's name, reads them as an ordered object.
    const resources = {
      cpuRequest: settingProp(this, 'conversion.cpuRequest', 'resources.cpuRequest', props.resources?.cpuRequest),
      memoryRequest: settingProp(this, 'conversion.memoryRequest', 'resources.memoryRequest', props.resources?.memoryRequest),
      memoryLimit: settingProp(this, 'conversion.memoryLimit', 'resources.memoryLimit', props.resources?.memoryLimit),
    };
    const extraEnv = setting<Record<string, string>>('extraEnv', props.extraEnv);
    const modelArgs = withConstructPath(this, () => modelArguments({
      weights: setting('weights', props.weights),
      minSampleMatches: setting('minSampleMatches', props.minSampleMatches),
      tensorrtFp16: this.tensorrtFp16,
      tensorrtMaxImageSide: setting('tensorrtMaxImageSide', props.tensorrtMaxImageSide),
      cpuOnlyInstances: this.cpuOnlyInstances,
      throughputMode: this.throughputMode,
    }));
    this.checkRules(dependenciesPreinstalled, resources, extraEnv);
    const namespace = props.modelRepository.namespace.name;
    const labels = commonLabels('omniglue', 'model-conversion');

    const scripts = conversionScriptFiles();
    const configs = modelConfigFiles(this.modelConfigs);
    const samples = sampleImageFiles();
    this.version = contentHash([...scripts, ...configs, ...samples], { image: this.image, modelArguments: modelArgs });
    this.publishedRepositoryPath = `${ModelRepository.MOUNT_PATH}/versions/${this.version}`;
    const sharesSingleNodeVolume = !props.modelRepository.mountableFromSeveralNodes;
    const runLimits = runLimitArguments(this.timeoutMinutes);
    // Changing how the Job runs (resources, placement, environment) must not change the model version, which
    // would roll Triton for nothing, but it cannot update a Job in place either: it gets a new Job name.
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
            ...(sharesSingleNodeVolume && !this.useGpu ? gpuPodPlacementBeside(props.gpuScheduling, TRITON_SELECTOR_LABELS) : {}),
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
                  ...modelArgs,
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

  /** The rules between the Job's props (config/rules.ts, the ones the loader runs). */
  private checkRules(dependenciesPreinstalled: boolean, resources: { memoryRequest: string; memoryLimit: string }, extraEnv: Record<string, string>): void {
    const cpuOnly = 'cpuOnlyInstances is set (KIND_CPU instance groups)';
    enforceRule(this, RULES.tensorrtNeedsGpu, { tensorrtFp16: this.tensorrtFp16, cpuOnly: this.cpuOnlyInstances }, { tensorrtFp16: 'tensorrtFp16', cpuOnly });
    enforceRule(this, RULES.throughputNeedsGpu, { throughputMode: this.throughputMode !== undefined, cpuOnly: this.cpuOnlyInstances }, { throughputMode: 'throughputMode', cpuOnly });
    enforceRule(this, RULES.conversionGpuNeedsGpuImage, { useGpu: this.useGpu, dependenciesPreinstalled }, { useGpu: 'useGpu', dependenciesPreinstalled: 'dependenciesPreinstalled' });
    enforceRule(this, RULES.memoryLimitAtLeastRequest, resources, { memoryRequest: 'resources.memoryRequest', memoryLimit: 'resources.memoryLimit' });
    enforceRule(this, RULES.reservedJobEnvironment, { extraEnv }, { extraEnv: 'extraEnv' });
  }
}
