import { Construct } from 'constructs';
import { settingProp } from '../config/construct-props';
import { hardenedContainerSecurityContext } from '../lib/pod-hardening';
import { PersistentVolumeClaimV1 } from '../lib/provider-classes';
import { workloadClaim } from '../lib/volume-claim';
import { ValidationError } from '../lib/validation-error';
import { EngineCachePaths, restoreScript, syncScript } from '../lib/trt-engine-cache-scripts';
import { ModelRepository, VolumeAccessMode } from './model-repository';

export interface TensorrtEngineCacheProps {
  /** The model repository: the cache lives in its namespace and takes its access mode (replicas share both). */
  readonly modelRepository: ModelRepository;
  /**
   * Size of the cache volume. One key (model version x GPU product x Triton release) holds about 0.3–0.5 GB of
   * engines; keys unused for `retentionDays` are removed.
   * @default - setting triton.engineCache.size
   */
  readonly size?: string;
  /**
   * StorageClass of the claim.
   * @default - setting triton.engineCache.storageClassName, else the model repository's StorageClass
   */
  readonly storageClassName?: string;
  /**
   * Days after which a key directory nobody started from is removed.
   * @default 30
   */
  readonly retentionDays?: number;
}

/**
 * A writable volume that keeps the TensorRT engines ONNX Runtime builds, so a restarted or rescheduled Triton pod
 * loads them instead of rebuilding (minutes for DINOv2). Separate from the model repository, which Triton mounts
 * read-only, and a plain PersistentVolumeClaim, so it fits the `restricted` Pod Security Standard (no hostPath).
 *
 * Layout: `<MOUNT_PATH>/<key>/`, key = `<model version>_<GPU product>_triton-<image tag>`. Engines are only valid for
 * the model, the GPU and the TensorRT/ONNX Runtime release that built them (onnxruntime docs,
 * TensorRT-ExecutionProvider.md, "trt_engine_cache_enable"); the Triton image tag pins both releases.
 */
export class TensorrtEngineCache extends Construct {
  /** Where the Triton pod mounts the volume. */
  static readonly MOUNT_PATH = '/var/cache/omniglue-trt';
  /** trt_engine_cache_path of the published configs (scripts/omniglue_conversion/model_config.py), in the pod's /tmp. */
  static readonly LOCAL_DIR = '/tmp/trt-engine-cache';
  private static readonly VOLUME_NAME = 'trt-engine-cache';
  private static readonly PATHS: EngineCachePaths = { cacheRoot: TensorrtEngineCache.MOUNT_PATH, localDir: TensorrtEngineCache.LOCAL_DIR };

  readonly size: string;
  readonly accessMode: VolumeAccessMode;
  readonly storageClassName: string | undefined;
  readonly retentionDays: number;
  readonly claim: PersistentVolumeClaimV1;
  readonly claimName: string;

  constructor(scope: Construct, id: string, props: TensorrtEngineCacheProps) {
    super(scope, id);
    const { modelRepository } = props;
    this.size = settingProp(this, 'triton.engineCache.size', 'size', props.size);
    this.accessMode = modelRepository.accessMode;
    this.storageClassName = settingProp(this, 'triton.engineCache.storageClassName', 'storageClassName', props.storageClassName) ?? modelRepository.storageClassName;
    this.retentionDays = props.retentionDays ?? 30;
    if (!Number.isInteger(this.retentionDays) || this.retentionDays < 1) {
      throw new ValidationError(`retentionDays (${this.retentionDays}) must be a whole number of days, at least 1`, this);
    }
    this.claim = workloadClaim(this, 'claim', {
      name: 'omniglue-trt-engine-cache',
      namespace: modelRepository.namespace.name,
      component: 'trt-engine-cache',
      size: this.size,
      accessMode: this.accessMode,
      storageClassName: this.storageClassName,
    });
    this.claimName = this.claim.metadata.name;
  }

  /** The pod volume for the claim. */
  volume() {
    return { name: TensorrtEngineCache.VOLUME_NAME, persistentVolumeClaim: { claimName: this.claimName } };
  }

  /** The mount of the volume, for the Triton container and the sidecar. */
  volumeMount() {
    return { name: TensorrtEngineCache.VOLUME_NAME, mountPath: TensorrtEngineCache.MOUNT_PATH };
  }

  /** Shell run in the Triton container before tritonserver: restores the key's engines (it sees the GPU's name). */
  restoreCommand(modelVersion: string, tritonImageTag: string): string {
    return restoreScript(TensorrtEngineCache.PATHS, modelVersion, `triton-${tritonImageTag.replace(/[^A-Za-z0-9._-]/g, '-')}`);
  }

  /**
   * The sidecar that saves engines the pod built (one log line each). It runs the Triton image, already on the
   * node, which has a shell, find and cp; it needs the pod's /tmp volume, named `tmp`.
   */
  syncContainer(image: string) {
    return {
      name: 'trt-engine-cache-sync',
      image,
      command: ['/bin/sh', '-c'],
      args: [syncScript(TensorrtEngineCache.PATHS, { intervalSeconds: 30, retentionDays: this.retentionDays })],
      resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '256Mi' } },
      securityContext: hardenedContainerSecurityContext(),
      volumeMount: [{ name: 'tmp', mountPath: '/tmp' }, this.volumeMount()],
    };
  }
}
