import * as fs from 'fs';
import * as path from 'path';
import { allocatable, GPU_NODES, GpuNode, smallestNodes } from '../lib/gpu-nodes';
import { fitOn, fitsOnSmallestNodes, sizingTableRow, sizingWarnings, STACK_DAEMONSETS, TRITON_MEMORY_ESTIMATE_MIB, TRITON_RESOURCE_DEFAULTS } from '../lib/triton-sizing';
import { quantityValue } from '../lib/quantity';
import { FIXTURES, renderRelease } from './support/chart-fixtures';
import { findResource, synthesize } from './support/synth';

const ROOT = path.resolve(__dirname, '..');
const podOf = (config: ReturnType<typeof synthesize>['config'], engineCacheSidecar = false) => ({
  ...config.triton.resources,
  devicePlugin: config.addons.nvidiaDevicePlugin,
  featureDiscovery: config.addons.nvidiaDevicePlugin && config.addons.gpuFeatureDiscovery,
  engineCacheSidecar,
});

describe('the defaults fit the smallest common GPU nodes', () => {
  test('every 4-vCPU node of the table, with TensorRT\'s sidecar and every DaemonSet of the stack', () => {
    const { config } = synthesize({});
    const fits = fitsOnSmallestNodes(podOf(config, true));
    expect(fits.map((fit) => fit.node.machineType)).toEqual(['g4dn.xlarge', 'g5.xlarge', 'g6.xlarge', 'n1-standard-4 + 1 × T4', 'g2-standard-4', 'Standard_NC4as_T4_v3']);
    for (const fit of fits) expect([fit.node.machineType, fit.fits]).toEqual([fit.node.machineType, true]);
  });

  test('the limit stays below the smallest allocatable memory too, so the node is never overcommitted by it', () => {
    const smallest = Math.min(...smallestNodes().map((node) => allocatable(node).memoryMiB));
    expect(quantityValue(TRITON_RESOURCE_DEFAULTS.memoryLimit) / 2 ** 20).toBeLessThan(smallest);
  });

  test('the Deployment carries the defaults', () => {
    const deployment = findResource(synthesize({}).serving, 'kubernetes_deployment_v1', 'triton');
    expect(deployment.spec.template.spec.container[0].resources).toMatchObject({ requests: { cpu: '2', memory: '6Gi' }, limits: { memory: '10Gi' } });
  });

  test('the request covers the estimate\'s peak and the limit adds /dev/shm', () => {
    const { loadPeak, engineBuild, ...steady } = TRITON_MEMORY_ESTIMATE_MIB;
    const peak = Object.values(steady).reduce((a, b) => a + b, 0) + loadPeak + engineBuild;
    expect(peak).toBe(4916);
    expect(quantityValue(TRITON_RESOURCE_DEFAULTS.memoryRequest) / 2 ** 20).toBeGreaterThanOrEqual(peak);
    const { config } = synthesize({});
    expect(quantityValue(config.triton.resources.memoryLimit)).toBeGreaterThanOrEqual(quantityValue(config.triton.resources.memoryRequest) + config.triton.shmSizeMiB * 2 ** 20);
  });
});

describe('allocatable, by the providers\' own formulas', () => {
  const node = (service: GpuNode['service'], memoryGiB: number, maxPods: number, vcpus = 4): GpuNode => ({ service, machineType: 'x', gpuProduct: 'x', vcpus, memoryGiB, maxPods });
  // allocatable is floored to whole MiB: the reserve reads up to 1 MiB high.
  const reservedMiB = (n: GpuNode) => Math.floor(n.memoryGiB * 1024 * 0.96) - allocatable(n).memoryMiB;

  test('EKS: 11 MiB per pod + 255 MiB and 100Mi eviction; 80m of 4 vCPU', () => {
    expect(reservedMiB(node('EKS', 16, 29))).toBeCloseTo(11 * 29 + 255 + 100, 0);
    expect(allocatable(node('EKS', 16, 29)).cpuMillicores).toBe(3920);
  });

  test("GKE: the published example of a 150 GiB machine reserves 9.8577 GiB with the eviction threshold", () => {
    expect(reservedMiB(node('GKE', 150, 110)) / 1024).toBeCloseTo(9.8577, 2);
  });

  test("AKS: the published example of 8 GB and 30 pods reserves 650 MB and 100 Mi; 140m of 4 cores", () => {
    expect(reservedMiB(node('AKS', 8, 30))).toBeCloseTo(750, 0);
    expect(reservedMiB(node('AKS', 8, 250))).toBeCloseTo(0.25 * 8192 + 100, 0);
    expect(allocatable(node('AKS', 28, 250)).cpuMillicores).toBe(3860);
  });
});

describe('synth warns when the pod cannot fit the usual node of a pinned gpu.product', () => {
  const warningsOf = (input: object) => {
    const { stacks } = synthesize(input);
    return stacks.serving.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === '@cdktf/warn').map((m) => String(m.data)));
  };

  test('the old 4 CPU / 16Gi on a T4 names every usual T4 node', () => {
    const warnings = warningsOf({ gpu: { product: 'Tesla-T4' }, triton: { resources: { cpuRequest: '4', memoryRequest: '16Gi', memoryLimit: '24Gi' } } });
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^triton\.resources \(cpuRequest 4, memoryRequest 16Gi\) with the DaemonSets beside it need 4\.23 CPU and 16\.2 GiB, more than a EKS g4dn\.xlarge \(the usual node of gpu\.product Tesla-T4\) leaves allocatable \(3\.92 CPU, 14\.7 GiB\): the pod would stay Pending there/);
  });

  test('the defaults, an unknown product or none pinned: no warning', () => {
    expect(warningsOf({ gpu: { product: 'Tesla-T4' } })).toEqual([]);
    expect(warningsOf({ gpu: { product: 'NVIDIA-A10G' }, triton: { resources: { memoryRequest: '16Gi', memoryLimit: '24Gi' } } })).toHaveLength(1);
    expect(sizingWarnings({ cpuRequest: '64', memoryRequest: '1Ti', devicePlugin: true, featureDiscovery: true, engineCacheSidecar: false }, 'Some-Other-GPU')).toEqual([]);
    expect(sizingWarnings({ cpuRequest: '64', memoryRequest: '1Ti', devicePlugin: true, featureDiscovery: true, engineCacheSidecar: false }, undefined)).toEqual([]);
  });
});

test('docs/sizing.md shows the table as the code computes it', () => {
  const docs = fs.readFileSync(path.join(ROOT, 'docs', 'sizing.md'), 'utf8');
  const { config } = synthesize({});
  for (const node of GPU_NODES) expect(docs).toContain(sizingTableRow(fitOn(podOf(config), node)));
});

const describeWithFixtures = FIXTURES === undefined ? describe.skip : describe;
describeWithFixtures('the stack\'s DaemonSets request what lib/triton-sizing.ts counts (pinned charts rendered)', () => {
  test('device plugin, feature discovery, node-exporter', () => {
    const { platform } = synthesize({});
    const objects = [
      ...renderRelease(findResource(platform, 'helm_release', 'nvidia-device-plugin'), 'nvidia-device-plugin'),
      ...renderRelease(findResource(platform, 'helm_release', 'prometheus_release'), 'kube-prometheus-stack'),
    ];
    const requests = (name: string) =>
      objects
        .filter((o) => o.kind === 'DaemonSet' && o.metadata.name === name)
        .flatMap((o) => o.spec.template.spec.containers)
        .reduce((sum: { cpuMillicores: number; memoryMiB: number }, c: any) => ({
          cpuMillicores: sum.cpuMillicores + quantityValue(c.resources?.requests?.cpu ?? '0') * 1000,
          memoryMiB: sum.memoryMiB + quantityValue(c.resources?.requests?.memory ?? '0') / 2 ** 20,
        }), { cpuMillicores: 0, memoryMiB: 0 });
    expect(requests('nvidia-device-plugin')).toEqual(STACK_DAEMONSETS.devicePlugin);
    const gfd = requests('nvidia-device-plugin-gpu-feature-discovery');
    const nfd = requests('nvidia-device-plugin-node-feature-discovery-worker');
    expect({ cpuMillicores: gfd.cpuMillicores + nfd.cpuMillicores, memoryMiB: gfd.memoryMiB + nfd.memoryMiB }).toEqual(STACK_DAEMONSETS.featureDiscovery);
    expect(requests('kube-prometheus-stack-prometheus-node-exporter')).toEqual(STACK_DAEMONSETS.nodeExporter);
  });
});
