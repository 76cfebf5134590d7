import { OmniglueConfig } from './schema';
import { Names, Rule, RULES } from './rules';

/** One row of the table: a rule applied to the configuration's values, named by their setting paths. */
type ConfigRule = (config: OmniglueConfig) => string | undefined;

const row =
  <V>(rule: Rule<V>, read: (config: OmniglueConfig) => { values: NoInfer<V>; names: Names<NoInfer<V>> }): ConfigRule =>
  (config) => {
    const { values, names } = read(config);
    return rule(values, names);
  };
const CPU_ONLY = 'triton.gpusPerReplica is 0 (CPU-only replicas)';

/**
 * Every rule between settings the loader checks, once each value is valid on its own (config/rules.ts states them;
 * the constructs enforce the ones that relate their own props).
 */
export const CONFIG_RULES: readonly ConfigRule[] = [
  row(RULES.replicaBounds, ({ triton }) => ({
    values: triton.replicas,
    names: { min: 'triton.replicas.min', max: 'triton.replicas.max' },
  })),
  row(RULES.singleNodeVolume, ({ triton, modelRepository }) => ({
    values: { accessMode: modelRepository.accessMode, maxReplicas: triton.replicas.max },
    names: { accessMode: 'modelRepository.accessMode', maxReplicas: 'triton.replicas.max' },
  })),
  row(RULES.memoryLimitAtLeastRequest, ({ triton }) => ({
    values: triton.resources,
    names: { memoryRequest: 'triton.resources.memoryRequest', memoryLimit: 'triton.resources.memoryLimit' },
  })),
  row(RULES.shmWithinMemoryLimit, ({ triton }) => ({
    values: { shmSizeMiB: triton.shmSizeMiB, memoryLimit: triton.resources.memoryLimit },
    names: { shmSizeMiB: 'triton.shmSizeMiB', memoryLimit: 'triton.resources.memoryLimit' },
  })),
  row(RULES.memoryBesidesShm, ({ triton }) => ({
    values: { shmSizeMiB: triton.shmSizeMiB, memoryLimit: triton.resources.memoryLimit },
    names: { shmSizeMiB: 'triton.shmSizeMiB', memoryLimit: 'triton.resources.memoryLimit' },
  })),
  row(RULES.startupBudget, ({ triton, conversion }) => ({
    values: { ...triton, tensorrtFp16: conversion.tensorrtFp16 },
    names: {
      startupTimeoutSeconds: 'triton.startupTimeoutSeconds',
      expectedModelLoadSeconds: 'triton.expectedModelLoadSeconds',
      expectedWarmupSeconds: 'triton.expectedWarmupSeconds',
      expectedEngineBuildSeconds: 'triton.expectedEngineBuildSeconds',
      tensorrtFp16: 'conversion.tensorrtFp16',
    },
  })),
  row(RULES.throughputNeedsGpu, ({ triton, conversion }) => ({
    values: { throughputMode: conversion.throughputMode.enabled, cpuOnly: triton.gpusPerReplica === 0 },
    names: { throughputMode: 'conversion.throughputMode', cpuOnly: CPU_ONLY },
  })),
  row(RULES.throughputAspect, ({ conversion: { throughputMode } }) => ({
    values: { throughputMode: throughputMode.enabled, imageWidth: throughputMode.imageWidth, imageHeight: throughputMode.imageHeight },
    names: { throughputMode: 'conversion.throughputMode.enabled', imageWidth: 'conversion.throughputMode.imageWidth', imageHeight: 'imageHeight' },
  })),
  row(RULES.tensorrtNeedsGpu, ({ triton, conversion }) => ({
    values: { tensorrtFp16: conversion.tensorrtFp16, cpuOnly: triton.gpusPerReplica === 0 },
    names: { tensorrtFp16: 'conversion.tensorrtFp16', cpuOnly: CPU_ONLY },
  })),
  row(RULES.autoscalingNeedsGpu, ({ triton, autoscaling }) => ({
    values: { autoscaling: autoscaling.enabled, gpusPerReplica: triton.gpusPerReplica },
    names: { autoscaling: 'autoscaling.enabled', gpusPerReplica: 'triton.gpusPerReplica' },
  })),
  row(RULES.onePrometheus, ({ monitoring }) => ({
    values: monitoring,
    names: { installKubePrometheusStack: 'monitoring.installKubePrometheusStack', existingPrometheusUrl: 'monitoring.existingPrometheusUrl' },
  })),
  row(RULES.adapterNeedsPrometheus, ({ monitoring }) => ({
    values: monitoring,
    names: {
      installKubePrometheusStack: 'monitoring.installKubePrometheusStack',
      existingPrometheusUrl: 'monitoring.existingPrometheusUrl',
      installPrometheusAdapter: 'monitoring.installPrometheusAdapter',
    },
  })),
  row(RULES.oneCustomMetricsApi, ({ monitoring }) => ({
    values: monitoring,
    names: { existingCustomMetricsApi: 'monitoring.existingCustomMetricsApi', installPrometheusAdapter: 'monitoring.installPrometheusAdapter' },
  })),
  row(RULES.autoscalingNeedsMetrics, ({ monitoring, autoscaling }) => ({
    values: { autoscaling: autoscaling.enabled, installPrometheusAdapter: monitoring.installPrometheusAdapter, existingCustomMetricsApi: monitoring.existingCustomMetricsApi },
    names: { autoscaling: 'autoscaling.enabled', installPrometheusAdapter: 'monitoring.installPrometheusAdapter', existingCustomMetricsApi: 'monitoring.existingCustomMetricsApi' },
  })),
  row(RULES.kubePrometheusStackRunsOperator, ({ monitoring }) => ({
    values: monitoring,
    names: { installKubePrometheusStack: 'monitoring.installKubePrometheusStack', prometheusOperator: 'monitoring.prometheusOperator' },
  })),
  row(RULES.alertRulesNeedOperator, ({ monitoring }) => ({
    values: monitoring,
    names: { installAlertRules: 'monitoring.installAlertRules', prometheusOperator: 'monitoring.prometheusOperator' },
  })),
  row(RULES.podMonitorLabelsNeedPodMonitor, ({ monitoring }) => ({
    values: monitoring,
    names: {
      podMonitorLabels: 'monitoring.podMonitorLabels',
      installKubePrometheusStack: 'monitoring.installKubePrometheusStack',
      prometheusOperator: 'monitoring.prometheusOperator',
    },
  })),
  row(RULES.ruleLabelsNeedRules, ({ monitoring }) => ({
    values: monitoring,
    names: { ruleLabels: 'monitoring.ruleLabels', installAlertRules: 'monitoring.installAlertRules' },
  })),
  row(RULES.conversionGpuNeedsGpuImage, ({ conversion }) => ({
    values: conversion,
    names: { useGpu: 'conversion.useGpu', dependenciesPreinstalled: 'conversion.dependenciesPreinstalled' },
  })),
  row(RULES.reservedJobEnvironment, ({ conversion }) => ({ values: conversion, names: { extraEnv: 'conversion.extraEnv' } })),
  row(RULES.servingNamespace, (config) => ({
    values: { namespace: config.namespace, monitoringNamespace: config.monitoring.namespace, devicePluginNamespace: config.addons.nvidiaDevicePluginNamespace },
    names: { namespace: 'namespace', monitoringNamespace: 'monitoring.namespace', devicePluginNamespace: 'addons.nvidiaDevicePluginNamespace' },
  })),
  row(RULES.memoryLimitAtLeastRequest, ({ conversion }) => ({
    values: conversion,
    names: { memoryRequest: 'conversion.memoryRequest', memoryLimit: 'conversion.memoryLimit' },
  })),
];

/** The problems of every rule the configuration breaks, in the table's order. */
export function crossCheck(config: OmniglueConfig): string[] {
  return CONFIG_RULES.flatMap((check) => check(config) ?? []);
}
