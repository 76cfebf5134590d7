import * as fs from 'fs';
import * as path from 'path';
import { Construct } from 'constructs';
import { settingProp } from '../config/construct-props';
import { GpuScheduling } from '../lib/gpu-scheduling';
import { helmValues, singleValuesDocument } from '../lib/helm-values';
import { HelmRelease } from '../lib/provider-classes';
import { REPOSITORY_ROOT } from '../lib/paths';

const BASE_VALUES_FILE = path.join(REPOSITORY_ROOT, 'charts', 'nvidia-device-plugin', 'values.yaml');

export interface NvidiaDevicePluginProps {
  /** Where GPU pods may run: the plugin must tolerate the same taint the workloads tolerate. */
  readonly gpuScheduling: GpuScheduling;
  /**
   * Namespace of the plugin's DaemonSet; created by the release.
   * @default - setting addons.nvidiaDevicePluginNamespace
   */
  readonly namespace?: string;
  /**
   * Helm repository of the chart (an internal mirror in air-gapped clusters).
   * @default - setting chartRepositories.nvidiaDevicePlugin
   */
  readonly chartRepository?: string;
  /**
   * Chart version (exact).
   * @default - setting chartVersions.nvidiaDevicePlugin
   */
  readonly chartVersion?: string;
  /**
   * Runs GPU feature discovery and its node-feature-discovery dependency, which label GPU nodes with
   * `feature.node.kubernetes.io/pci-10de.present=true` (the label workloads require by default) and
   * `nvidia.com/gpu.product`. Without it, label GPU nodes by hand: the chart's default affinity only schedules
   * the plugin on nodes with that label or `nvidia.com/gpu.present=true`.
   * @default - setting addons.gpuFeatureDiscovery
   */
  readonly gpuFeatureDiscovery?: boolean;
}

/**
 * The NVIDIA device plugin, which advertises `nvidia.com/gpu` on GPU nodes. Leave it out on clusters that run
 * the NVIDIA GPU Operator: the operator ships its own plugin and two would fight over the devices.
 */
export class NvidiaDevicePlugin extends Construct {
  readonly namespace: string;
  readonly chartVersion: string;
  readonly chartRepository: string;
  readonly gpuFeatureDiscovery: boolean;
  readonly release: HelmRelease;

  constructor(scope: Construct, id: string, props: NvidiaDevicePluginProps) {
    super(scope, id);
    this.namespace = settingProp(this, 'addons.nvidiaDevicePluginNamespace', 'namespace', props.namespace);
    this.chartRepository = settingProp(this, 'chartRepositories.nvidiaDevicePlugin', 'chartRepository', props.chartRepository);
    this.chartVersion = settingProp(this, 'chartVersions.nvidiaDevicePlugin', 'chartVersion', props.chartVersion);
    this.gpuFeatureDiscovery = settingProp(this, 'addons.gpuFeatureDiscovery', 'gpuFeatureDiscovery', props.gpuFeatureDiscovery);
    const { toleration, runtimeClassName } = props.gpuScheduling;

    const tolerations = [{ key: 'CriticalAddonsOnly', operator: 'Exists' }, { ...toleration }];
    const overrides: Record<string, unknown> = {
      tolerations,
      gfd: { enabled: this.gpuFeatureDiscovery },
      // The chart's NFD worker tolerates only `nvidia.com/gpu=present`; other clouds' taint values would keep it off GPU nodes.
      nfd: { worker: { tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }, { ...toleration }] } },
      ...(runtimeClassName !== undefined ? { runtimeClassName } : {}),
    };

    this.release = new HelmRelease(this, 'release', {
      name: 'nvidia-device-plugin',
      repository: this.chartRepository,
      chart: 'nvidia-device-plugin',
      version: this.chartVersion,
      namespace: this.namespace,
      createNamespace: true,
      values: singleValuesDocument([fs.readFileSync(BASE_VALUES_FILE, 'utf8'), helmValues(overrides)]),
      // A DaemonSet with no GPU node to run on counts as ready, so waiting is safe on a pool scaled to zero, and a
      // broken upgrade (e.g. a driver mismatch) is rolled back instead of leaving the nodes without a plugin.
      wait: true,
      atomic: true,
      timeout: 600,
      maxHistory: 5,
    });
  }
}
