import { findResource, releaseValues, resourcesOfType, synthesize } from './support/synth';

function devicePluginValues(input = {}) {
  const release = findResource(synthesize(input).platform, 'helm_release', 'nvidia-device-plugin');
  return { release, values: releaseValues(release) };
}

describe('GpuPlatformStack', () => {
  test('installs a pinned nvidia-device-plugin release from NVIDIA’s chart repository', () => {
    const { release } = devicePluginValues();
    expect(release).toMatchObject({
      name: 'nvidia-device-plugin',
      chart: 'nvidia-device-plugin',
      repository: 'https://nvidia.github.io/k8s-device-plugin',
      version: '0.18.0',
      namespace: 'nvidia-device-plugin',
      create_namespace: true,
    });
  });

  test('the device plugin tolerates the GPU taint with operator Exists, whatever its value', () => {
    const { values } = devicePluginValues();
    expect(values.tolerations).toContainEqual({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
    expect(values.nfd.worker.tolerations).toContainEqual({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
  });

  test('runs GPU feature discovery by default so GPU nodes get labelled', () => {
    expect(devicePluginValues().values.gfd).toEqual({ enabled: true });
    // GFD pulls in node-feature-discovery, whose PCI labeller (vendor field, the chart's default) sets the label
    // GPU workloads require; the stack must not replace that NFD configuration.
    expect(devicePluginValues().values.nfd.worker).not.toHaveProperty('config');
    expect(synthesize().config.gpu.nodeLabel).toEqual({ key: 'feature.node.kubernetes.io/pci-10de.present', value: 'true' });
    expect(devicePluginValues({ addons: { gpuFeatureDiscovery: false } }).values.gfd).toEqual({ enabled: false });
  });

  test('follows a custom GPU taint and runtime class', () => {
    const { values } = devicePluginValues({ gpu: { taint: { key: 'sku', effect: 'NoExecute' }, runtimeClassName: 'nvidia' } });
    expect(values.tolerations).toContainEqual({ key: 'sku', operator: 'Exists', effect: 'NoExecute' });
    expect(values.runtimeClassName).toBe('nvidia');
  });

  test('leaves the runtime class to the chart unless one is configured', () => {
    expect(devicePluginValues().values).not.toHaveProperty('runtimeClassName');
  });

  test('pins the chart version from the configuration', () => {
    expect(devicePluginValues({ chartVersions: { nvidiaDevicePlugin: '0.17.4' } }).release.version).toBe('0.17.4');
  });

  test('can be switched off for clusters that run the NVIDIA GPU Operator', () => {
    const { platform } = synthesize({ addons: { nvidiaDevicePlugin: false } });
    expect(Object.keys(resourcesOfType(platform, 'helm_release')).filter((name) => name.includes('device-plugin'))).toEqual([]);
  });
});

describe('providers', () => {
  test('each stack reads the cluster from the kubeconfig path and context only, through the providers it uses', () => {
    const synthesized = synthesize({ kubernetes: { configPath: '/etc/kube/config', configContext: 'gpu-prod' } });
    const platform = JSON.parse(synthesized.platform.json);
    const serving = JSON.parse(synthesized.serving.json);
    expect(platform.provider).toEqual({ helm: [{ kubernetes: { config_path: '/etc/kube/config', config_context: 'gpu-prod' } }] });
    expect(serving.provider).toEqual({
      kubernetes: [{ config_path: '/etc/kube/config', config_context: 'gpu-prod' }],
      helm: [{ kubernetes: { config_path: '/etc/kube/config', config_context: 'gpu-prod' } }],
    });
  });

  test('state is kept at the repository root through a machine-independent relative path', () => {
    const { stacks } = synthesize();
    for (const [stack, name] of [[stacks.platform, 'gpu-platform'], [stacks.serving, 'omniglue-serving']] as const) {
      expect(stack.toTerraform().terraform.backend).toEqual({ local: { path: `../../../terraform.${name}.tfstate`, workspace_dir: `../../../terraform.${name}.tfstate.d` } });
    }
  });

  test('nothing secret appears in the synthesized configuration', () => {
    const { platform, serving } = synthesize();
    for (const json of [platform.json, serving.json]) {
      expect(json).not.toMatch(/"(token|password|client_key|client_certificate|cluster_ca_certificate)"/);
    }
  });
});
