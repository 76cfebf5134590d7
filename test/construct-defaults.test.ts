import * as fs from 'fs';
import * as path from 'path';
import { App, Lazy, Testing, TerraformStack } from 'cdktf';
import { settingDefault, settingProp, settingSchema } from '../config/construct-props';
import { parseConfig } from '../config/load';
import { AlertRules } from '../constructs/alert-rules';
import { GpuAutoscaler } from '../constructs/gpu-autoscaler';
import { ModelConversionJob } from '../constructs/model-conversion-job';
import { ModelRepository } from '../constructs/model-repository';
import { NvidiaDevicePlugin } from '../constructs/nvidia-device-plugin';
import { PrometheusAdapter } from '../constructs/prometheus-adapter';
import { PrometheusMonitoring } from '../constructs/prometheus-monitoring';
import { ServingNamespace } from '../constructs/serving-namespace';
import { TensorrtEngineCache } from '../constructs/tensorrt-engine-cache';
import { TritonNetworkPolicy } from '../constructs/triton-network-policy';
import { TritonPodMonitor } from '../constructs/triton-pod-monitor';
import { TritonServer } from '../constructs/triton-server';
import { GpuScheduling } from '../lib/gpu-scheduling';
import { ValidationError } from '../lib/validation-error';

const DEFAULTS = parseConfig({});

/** Every construct, built with only its required props. */
function minimal() {
  const stack = new TerraformStack(Testing.app() as App, 'defaults');
  const gpuScheduling = new GpuScheduling(DEFAULTS.gpu);
  const namespace = new ServingNamespace(stack, 'ns', { name: 'omniglue' });
  const modelRepository = new ModelRepository(stack, 'repo', { namespace });
  const conversionJob = new ModelConversionJob(stack, 'job', { modelRepository, gpuScheduling });
  const server = new TritonServer(stack, 'triton', { modelRepository, conversionJob, gpuScheduling });
  const prometheus = new PrometheusMonitoring(stack, 'prometheus');
  return {
    stack,
    modelRepository,
    conversionJob,
    server,
    prometheus,
    engineCache: new TensorrtEngineCache(stack, 'cache', { modelRepository }),
    autoscaler: new GpuAutoscaler(stack, 'hpa', { server }),
    adapter: new PrometheusAdapter(stack, 'adapter', { prometheus: 'http://prometheus.monitoring.svc:9090' }),
    devicePlugin: new NvidiaDevicePlugin(stack, 'plugin', { gpuScheduling }),
    podMonitor: new TritonPodMonitor(stack, 'pod-monitor', { server, monitoringNamespace: 'monitoring' }),
    alertRules: new AlertRules(stack, 'alerts', { server, conversionJob, monitoringNamespace: 'monitoring' }),
    networkPolicy: new TritonNetworkPolicy(stack, 'policy', { server, monitoringNamespace: 'monitoring' }),
  };
}

type Built = ReturnType<typeof minimal>;

// Each public field of a construct that mirrors a setting, and the setting it mirrors.
const MIRRORED: [string, (built: Built) => unknown, string][] = [
  ['ModelRepository.size', (b) => b.modelRepository.size, 'modelRepository.size'],
  ['ModelRepository.accessMode', (b) => b.modelRepository.accessMode, 'modelRepository.accessMode'],
  ['ModelRepository.storageClassName', (b) => b.modelRepository.storageClassName, 'modelRepository.storageClassName'],
  ['ModelConversionJob.image', (b) => b.conversionJob.image, 'conversion.image'],
  ['ModelConversionJob.useGpu', (b) => b.conversionJob.useGpu, 'conversion.useGpu'],
  ['ModelConversionJob.timeoutMinutes', (b) => b.conversionJob.timeoutMinutes, 'conversion.timeoutMinutes'],
  ['ModelConversionJob.tensorrtFp16', (b) => b.conversionJob.tensorrtFp16, 'conversion.tensorrtFp16'],
  ['TritonServer.imageTag', (b) => b.server.imageTag, 'triton.imageTag'],
  ['TritonServer.image', (b) => b.server.image.split(':')[0], 'triton.imageRepository'],
  ['TritonServer.gpusPerReplica', (b) => b.server.gpusPerReplica, 'triton.gpusPerReplica'],
  ['TritonServer.minReplicas', (b) => b.server.minReplicas, 'triton.replicas.min'],
  ['TritonServer.maxReplicas', (b) => b.server.maxReplicas, 'triton.replicas.max'],
  ['TritonServer.autoscaled', (b) => b.server.autoscaled, 'autoscaling.enabled'],
  ['TritonServer.resources.cpuRequest', (b) => b.server.resources.cpuRequest, 'triton.resources.cpuRequest'],
  ['TritonServer.resources.memoryRequest', (b) => b.server.resources.memoryRequest, 'triton.resources.memoryRequest'],
  ['TritonServer.resources.memoryLimit', (b) => b.server.resources.memoryLimit, 'triton.resources.memoryLimit'],
  ['TritonServer.shmSizeMiB', (b) => b.server.shmSizeMiB, 'triton.shmSizeMiB'],
  ['TritonServer.startupTimeoutSeconds', (b) => b.server.startupTimeoutSeconds, 'triton.startupTimeoutSeconds'],
  ['TritonServer.terminationGracePeriodSeconds', (b) => b.server.terminationGracePeriodSeconds, 'triton.terminationGracePeriodSeconds'],
  ['TritonServer.enableModelControlApi', (b) => b.server.enableModelControlApi, 'triton.enableModelControlApi'],
  ['TensorrtEngineCache.size', (b) => b.engineCache.size, 'triton.engineCache.size'],
  ['GpuAutoscaler.gpuUtilizationTargetPercent', (b) => b.autoscaler.gpuUtilizationTargetPercent, 'autoscaling.gpuUtilizationTargetPercent'],
  ['PrometheusAdapter.namespace', (b) => b.adapter.namespace, 'monitoring.namespace'],
  ['PrometheusAdapter.chartVersion', (b) => b.adapter.chartVersion, 'chartVersions.prometheusAdapter'],
  ['PrometheusAdapter.chartRepository', (b) => b.adapter.chartRepository, 'chartRepositories.prometheusCommunity'],
  ['PrometheusAdapter.relistIntervalSeconds', (b) => b.adapter.relistIntervalSeconds, 'monitoring.adapterRelistIntervalSeconds'],
  ['PrometheusMonitoring.namespace', (b) => b.prometheus.namespace, 'monitoring.namespace'],
  ['PrometheusMonitoring.chartVersion', (b) => b.prometheus.chartVersion, 'chartVersions.kubePrometheusStack'],
  ['PrometheusMonitoring.chartRepository', (b) => b.prometheus.chartRepository, 'chartRepositories.prometheusCommunity'],
  ['PrometheusMonitoring.scrapeIntervalSeconds', (b) => b.prometheus.scrapeIntervalSeconds, 'monitoring.scrapeIntervalSeconds'],
  ['PrometheusMonitoring.grafana', (b) => b.prometheus.grafana, 'monitoring.grafana.enabled'],
  ['NvidiaDevicePlugin.namespace', (b) => b.devicePlugin.namespace, 'addons.nvidiaDevicePluginNamespace'],
  ['NvidiaDevicePlugin.chartVersion', (b) => b.devicePlugin.chartVersion, 'chartVersions.nvidiaDevicePlugin'],
  ['NvidiaDevicePlugin.chartRepository', (b) => b.devicePlugin.chartRepository, 'chartRepositories.nvidiaDevicePlugin'],
  ['NvidiaDevicePlugin.gpuFeatureDiscovery', (b) => b.devicePlugin.gpuFeatureDiscovery, 'addons.gpuFeatureDiscovery'],
  ['TritonPodMonitor.scrapeIntervalSeconds', (b) => b.podMonitor.scrapeIntervalSeconds, 'monitoring.scrapeIntervalSeconds'],
  ['TritonPodMonitor.podMonitorLabels', (b) => b.podMonitor.podMonitorLabels, 'monitoring.podMonitorLabels'],
  ['AlertRules.ruleLabels', (b) => b.alertRules.ruleLabels, 'monitoring.ruleLabels'],
];

/** The value at a dotted path of the configuration an empty file gets. */
function configured(at: string): unknown {
  return at.split('.').reduce<any>((value, key) => value?.[key], DEFAULTS);
}

describe('construct defaults come from the configuration schema', () => {
  const built = minimal();

  test.each(MIRRORED)('%s is the default of %#', (_field, read, setting) => {
    expect(read(built)).toEqual(settingDefault(setting));
    expect(read(built)).toEqual(configured(setting));
  });

  test('the HPA target, written canonically, is the default of autoscaling.queueToComputeRatio.target', () => {
    expect(settingDefault('autoscaling.queueToComputeRatio.target')).toBe('1000m');
    expect(built.autoscaler.queueToComputeRatioTarget).toBe('1');
  });

  test('a TritonServer built directly starts the replicas the configuration would, two (it started one before)', () => {
    expect(built.server.minReplicas).toBe(2);
    expect(Testing.synth(built.stack)).toMatch(/"replicas": "2"/);
    expect(built.networkPolicy.clientNamespaces).toEqual(['omniglue']);
  });

  test('every `@default - setting <path>` in constructs/ names a setting of the schema', () => {
    const dir = path.resolve(__dirname, '..', 'constructs');
    const named = fs.readdirSync(dir).flatMap((file) => [...fs.readFileSync(path.join(dir, file), 'utf8').matchAll(/@default - setting ([\w.]+)/g)].map((m) => m[1]));
    expect(named.length).toBeGreaterThan(30);
    for (const setting of named) expect(() => settingSchema(setting)).not.toThrow();
  });

  test('a path that is no setting is a programming error, named', () => {
    expect(() => settingSchema('triton.replica.min')).toThrow(/'triton\.replica\.min' is not a setting of config\/schema\.ts/);
  });
});

describe('construct props are checked against the setting they mirror', () => {
  const stack = () => new TerraformStack(Testing.app() as App, 'bounds');

  test('a GpuAutoscaler refuses a 100 % target, as the configuration does (it accepted it before)', () => {
    const built = minimal();
    expect(() => new GpuAutoscaler(built.stack, 'full', { server: built.server, gpuUtilizationTargetPercent: 100 })).toThrow(
      /gpuUtilizationTargetPercent \(100\) must be between 1 and 99 \(percent\): at 100 the target can never be exceeded/,
    );
  });

  test('the refusal is a ValidationError that carries the construct path', () => {
    const scope = stack();
    let caught: unknown;
    try {
      new ServingNamespace(scope, 'ns', { name: 'Not_A_Label' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).message).toMatch(/^name \('Not_A_Label'\) must be a DNS-1123 label/);
    expect((caught as ValidationError).constructPath).toBe('bounds/ns');
    expect((caught as ValidationError).stack).toMatch(/^ValidationError: name \('Not_A_Label'\)[^\n]*\n {4}at path \[bounds\/ns\]\n/);
  });

  test('a map names the offending key', () => {
    expect(() => settingProp(stack(), 'monitoring.ruleLabels', 'ruleLabels', { release: 'not a value!' })).toThrow(/^ruleLabels\.release: must be a Kubernetes label value/);
  });

  test('a value only Terraform knows (a cross-stack reference) is left to where it is produced', () => {
    const token = Lazy.stringValue({ produce: () => 'Not_A_Label' });
    expect(settingProp(stack(), 'monitoring.namespace', 'monitoringNamespace', token)).toBe(token);
  });

  test('a ServingNamespace refuses the namespaces Kubernetes owns', () => {
    expect(() => new ServingNamespace(stack(), 'ns', { name: 'kube-system' })).toThrow(/name 'kube-system' cannot hold the serving workload: kube-\* namespaces belong to Kubernetes/);
    expect(() => new ServingNamespace(stack(), 'ns', { name: 'default' })).toThrow(/name 'default' cannot hold the serving workload/);
  });
});
