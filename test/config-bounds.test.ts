import { parseConfig } from '../config/load';
import fc from 'fast-check';
import { withinDinoAspectLimit } from '../lib/throughput-mode';
import { configRejection } from './support/config-errors';
import { dinoSize } from './support/omniglue-reference';


// Bounds that Kubernetes, Triton or common sense impose, each refused with the setting and what is allowed.
describe('bounds', () => {
  test.each<[string, Record<string, unknown>, RegExp]>([
    ['the default namespace', { namespace: 'default' }, /namespace 'default' cannot hold the serving workload/],
    ['a kube-* namespace', { namespace: 'kube-system' }, /namespace 'kube-system' cannot hold the serving workload: kube-\* namespaces belong to Kubernetes/],
    ['the monitoring namespace', { namespace: 'monitoring' }, /namespace 'monitoring' cannot hold the serving workload: it is monitoring\.namespace/],
    ['the device-plugin namespace', { namespace: 'nvidia-device-plugin' }, /it is addons\.nvidiaDevicePluginNamespace/],
    ['replicas beyond the ceiling', { triton: { replicas: { min: 1, max: 65 } } }, /triton\.replicas\.max: must be between 1 and 64/],
    ['replicas beyond int32', { triton: { replicas: { min: 2 ** 31 } } }, /triton\.replicas\.min: must be between 1 and 64/],
    ['more GPUs than a node holds', { triton: { gpusPerReplica: 17 } }, /triton\.gpusPerReplica: must be between 0 and 16/],
    ['a memory unit as CPU', { triton: { resources: { cpuRequest: '1.5Gi' } } }, /triton\.resources\.cpuRequest: must be CPU cores such as '2' or millicores/],
    ['CPU below the minimum', { conversion: { cpuRequest: '100m' } }, /conversion\.cpuRequest: must be at least 0\.5 CPU/],
    ['thousandths as memory', { triton: { resources: { memoryRequest: '1m' } } }, /triton\.resources\.memoryRequest: must be bytes with a unit .*not 'm'/],
    ['memory below the minimum', { triton: { resources: { memoryRequest: '1Gi' } } }, /triton\.resources\.memoryRequest: must be at least 4Gi/],
    ['an overflowing quantity', { modelRepository: { size: '1e400' } }, /modelRepository\.size: must be bytes with a unit/],
    ['a volume too small for the models', { modelRepository: { size: '1Gi' } }, /modelRepository\.size: must be at least 5Gi/],
    ['/dev/shm that leaves Triton too little', { triton: { shmSizeMiB: 22000, resources: { memoryLimit: '24Gi' } } }, /triton\.shmSizeMiB \(22000\) leaves Triton 2576 MiB of triton\.resources\.memoryLimit \(24Gi\); it needs at least 4096 MiB/],
    ['an HPA stabilization beyond the API range', { autoscaling: { scaleDownStabilizationSeconds: 3601 } }, /autoscaling\.scaleDownStabilizationSeconds: must be between 0 and 3600/],
    ['a utilization target that cannot trigger', { autoscaling: { gpuUtilizationTargetPercent: 100 } }, /gpuUtilizationTargetPercent: must be between 1 and 99/],
    ['more sample matches than the ensemble returns', { conversion: { minSampleMatches: 1025 } }, /conversion\.minSampleMatches: must be between 0 and 1024/],
    ['an upper-case image name', { conversion: { image: 'Registry.io/Omniglue/Conversion:1.0' } }, /conversion\.image: must be a container image reference/],
    ['an empty image name', { conversion: { image: ':1.0' } }, /conversion\.image: must be a container image reference/],
    ['an upper-case Triton repository path (the registry host may have capitals)', { triton: { imageRepository: 'nvcr.io/NVIDIA/tritonserver' } }, /triton\.imageRepository: must be an image repository/],
    ['a Prometheus URL that is not http(s)', { monitoring: { installKubePrometheusStack: false, existingPrometheusUrl: 'file:///etc/passwd' } }, /monitoring\.existingPrometheusUrl: must be an http:\/\/ or https:\/\/ URL/],
    ['an environment variable name that is not an identifier', { conversion: { extraEnv: { 'BAD-NAME': 'x' } } }, /conversion\.extraEnv\.BAD-NAME: must be an environment variable name/],
    ['PATH in extraEnv', { conversion: { extraEnv: { PATH: '/tmp' } } }, /conversion\.extraEnv may not set PATH/],
    ['a grace period shorter than the preStop sleep', { triton: { terminationGracePeriodSeconds: 1 } }, /triton\.terminationGracePeriodSeconds: must be between 16 and 3600/],
    ['a throughput image side below one DINOv2 patch', { conversion: { throughputMode: { imageWidth: 13 } } }, /conversion\.throughputMode\.imageWidth: must be between 14 and 4096 \(pixels\)/],
    ['a throughput image side beyond 4096', { conversion: { throughputMode: { imageHeight: 8192 } } }, /conversion\.throughputMode\.imageHeight: must be between 14 and 4096 \(pixels\)/],
    ['the throughput mode on CPU-only replicas', { triton: { gpusPerReplica: 0 }, autoscaling: { enabled: false }, conversion: { throughputMode: { enabled: true } } }, /conversion\.throughputMode batches DINOv2 on a GPU, but triton\.gpusPerReplica is 0/],
    ['a throughput size of more than 45:1', { conversion: { throughputMode: { enabled: true, imageWidth: 4096, imageHeight: 91 } } }, /conversion\.throughputMode\.imageWidth x imageHeight \(4096 x 91\) must have an aspect ratio of at most 45:1: DINOv2 needs one 14-px patch on the shorter side/],
    ['a throughput batch beyond 64', { conversion: { throughputMode: { maxBatchSize: 65 } } }, /conversion\.throughputMode\.maxBatchSize: must be between 1 and 64/],
    ['a throughput queue delay over a second', { conversion: { throughputMode: { maxQueueDelayMicroseconds: 1_000_001 } } }, /conversion\.throughputMode\.maxQueueDelayMicroseconds: must be between 0 and 1000000/],
    ['a queue target of zero', { autoscaling: { queueToComputeRatio: { target: '0' } } }, /autoscaling\.queueToComputeRatio\.target: must be above 0/],
  ])('refuses %s', (_name, input, message) => {
    expect(configRejection(input)).toMatch(message);
  });

  test('the limits themselves are accepted', () => {
    expect(() =>
      parseConfig({
        triton: { replicas: { min: 64, max: 64 }, gpusPerReplica: 16, terminationGracePeriodSeconds: 16, resources: { cpuRequest: '500m', memoryRequest: '4Gi' } },
        modelRepository: { size: '5Gi' },
        autoscaling: { gpuUtilizationTargetPercent: 99, scaleDownStabilizationSeconds: 3600 },
        conversion: { minSampleMatches: 1024, image: 'registry.internal:5000/omniglue/conversion@sha256:' + 'ab'.repeat(32) },
      }),
    ).toThrow(/triton\.resources\.cpuRequest: must be at least 1 CPU/);
    expect(() =>
      parseConfig({
        triton: { replicas: { min: 64, max: 64 }, gpusPerReplica: 16, terminationGracePeriodSeconds: 16, resources: { cpuRequest: '1', memoryRequest: '4Gi' } },
        modelRepository: { size: '5Gi' },
        autoscaling: { gpuUtilizationTargetPercent: 99, scaleDownStabilizationSeconds: 3600 },
        conversion: {
          minSampleMatches: 1024,
          image: 'registry.internal:5000/omniglue/conversion@sha256:' + 'ab'.repeat(32),
          throughputMode: { enabled: true, imageWidth: 4095, imageHeight: 91, maxBatchSize: 64, maxQueueDelayMicroseconds: 1_000_000 },
        },
      }),
    ).not.toThrow();
  });
});

describe('the throughput mode\'s aspect bound', () => {
  test('applies only when the mode is on', () => {
    expect(() => parseConfig({ conversion: { throughputMode: { enabled: false, imageWidth: 4096, imageHeight: 91 } } })).not.toThrow();
  });

  test('accepts exactly the sizes whose DINOv2 input, as the reference sizes it, keeps a 14-px patch on each side', () => {
    fc.assert(
      fc.property(fc.integer({ min: 14, max: 4096 }), fc.integer({ min: 14, max: 4096 }), (width, height) => {
        const [h, w] = dinoSize(height, width);
        expect(withinDinoAspectLimit(width, height)).toBe(h >= 14 && w >= 14);
      }),
      { numRuns: 3000, seed: 12, examples: [[4095, 91], [4096, 91], [14, 630], [14, 631], [631, 14]] },
    );
  });
});
