import { Construct, IConstruct } from 'constructs';
import { enforceRule, settingProp } from '../config/construct-props';
import { RULES } from '../config/rules';
import { PersistentVolumeClaimV1 } from '../lib/provider-classes';
import { workloadClaim } from '../lib/volume-claim';
import { ServingNamespace } from './serving-namespace';

/** The conversion Job writes while Triton reads, so read-only and single-pod modes are not offered. */
export type VolumeAccessMode = 'ReadWriteMany' | 'ReadWriteOnce';

export interface ModelRepositoryProps {
  /** Namespace the claim lives in. */
  readonly namespace: ServingNamespace;
  /**
   * Size of the volume: the weights cache (~0.5 GB), the three newest converted versions the Job keeps
   * (~0.4 GB each) and headroom for the export's intermediate files.
   * @default - setting modelRepository.size
   */
  readonly size?: string;
  /**
   * Access mode. ReadWriteMany lets the conversion Job write while Triton replicas on several nodes read.
   * @default - setting modelRepository.accessMode
   */
  readonly accessMode?: VolumeAccessMode;
  /**
   * StorageClass of the claim.
   * @default - the cluster's default StorageClass
   */
  readonly storageClassName?: string;
}

/** The persistent volume claim that holds the weights cache and the published Triton model repositories. */
export class ModelRepository extends Construct {
  /** Where every pod of this stack mounts the volume. */
  static readonly MOUNT_PATH = '/models';

  readonly size: string;
  readonly accessMode: VolumeAccessMode;
  readonly storageClassName: string | undefined;
  readonly namespace: ServingNamespace;
  readonly claim: PersistentVolumeClaimV1;
  readonly claimName: string;

  constructor(scope: Construct, id: string, props: ModelRepositoryProps) {
    super(scope, id);
    this.size = settingProp(this, 'modelRepository.size', 'size', props.size);
    this.accessMode = settingProp(this, 'modelRepository.accessMode', 'accessMode', props.accessMode);
    this.storageClassName = settingProp(this, 'modelRepository.storageClassName', 'storageClassName', props.storageClassName);
    this.namespace = props.namespace;
    this.claim = workloadClaim(this, 'claim', {
      name: 'omniglue-model-repository',
      namespace: props.namespace.name,
      component: 'model-repository',
      size: this.size,
      accessMode: this.accessMode,
      storageClassName: this.storageClassName,
    });
    this.claimName = this.claim.metadata.name;
  }

  /** Whether pods on different nodes can mount the volume at the same time. */
  get mountableFromSeveralNodes(): boolean {
    return this.accessMode === 'ReadWriteMany';
  }

  /**
   * Throws when `replicas` pods could not all mount this volume; `setting` names the caller's replica setting and
   * the error carries the caller's construct path.
   */
  assertSupportsReplicas(replicas: number, setting: string, caller: IConstruct = this): void {
    enforceRule(caller, RULES.singleNodeVolume, { accessMode: this.accessMode, maxReplicas: replicas }, { accessMode: "the model repository's access mode", maxReplicas: setting });
  }
}
