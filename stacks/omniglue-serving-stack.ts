import { Construct } from 'constructs';
import { Annotations, TerraformOutput, TerraformStack } from 'cdktf';
import { OmniglueConfig } from '../config/schema';
import { AlertRules } from '../constructs/alert-rules';
import { ClusterProviders } from '../constructs/cluster-providers';
import { GpuAutoscaler } from '../constructs/gpu-autoscaler';
import { GrafanaDashboard } from '../constructs/grafana-dashboard';
import { ModelConversionJob } from '../constructs/model-conversion-job';
import { ModelRepository } from '../constructs/model-repository';
import { ServingNamespace } from '../constructs/serving-namespace';
import { TritonDisruptionBudget } from '../constructs/triton-disruption-budget';
import { TritonNetworkPolicy } from '../constructs/triton-network-policy';
import { TensorrtEngineCache } from '../constructs/tensorrt-engine-cache';
import { TritonPodMonitor } from '../constructs/triton-pod-monitor';
import { TritonServer } from '../constructs/triton-server';
import { TritonService } from '../constructs/triton-service';
import { GpuScheduling } from '../lib/gpu-scheduling';
import { configureStateBackend } from './backend';
import { TRITON_CUSTOM_METRICS, TritonCustomMetrics } from '../lib/triton-metrics';
import { sizingWarnings } from '../lib/triton-sizing';
import { batcherDelayWarning } from '../lib/throughput-mode';
import { quantityValue } from '../lib/quantity';

export interface OmniglueServingStackProps {
  /** The validated configuration. */
  readonly config: OmniglueConfig;
  /** The environment (OMNIGLUE_ENV) the configuration is for; its name is part of the state's location. @default - none */
  readonly environment?: string;
  /**
   * Custom metrics the autoscaler scales on, as the platform stack's prometheus-adapter serves them.
   * @default TRITON_CUSTOM_METRICS
   */
  readonly customMetrics?: TritonCustomMetrics;
  /**
   * Namespace of the Prometheus that scrapes Triton, the only one let through to the metrics port; the platform
   * stack passes its release's namespace (a cross-stack reference through the state backend).
   * @default config.monitoring.namespace
   */
  readonly monitoringNamespace?: string;
}

/** The OmniGlue workload: namespace, model repository, conversion Job, Triton and its autoscaling. */
export class OmniglueServingStack extends TerraformStack {
  readonly providers: ClusterProviders;
  readonly gpuScheduling: GpuScheduling;
  readonly namespace: ServingNamespace;
  readonly modelRepository: ModelRepository;
  readonly conversionJob: ModelConversionJob;
  /** Only with TensorRT (conversion.tensorrtFp16) and triton.engineCache.enabled. */
  readonly engineCache: TensorrtEngineCache | undefined;
  readonly server: TritonServer;
  readonly service: TritonService;
  readonly autoscaler: GpuAutoscaler | undefined;
  /** Triton's PodMonitor, for your own operator-managed Prometheus (kube-prometheus-stack gets a scrape job instead). */
  readonly podMonitor: TritonPodMonitor | undefined;

  constructor(scope: Construct, id: string, props: OmniglueServingStackProps) {
    super(scope, id);
    const { config } = props;
    configureStateBackend(this, id, config.state, config.kubernetes, props.environment);
    const { triton, conversion, monitoring } = config;
    // Your own operator-managed Prometheus learns about Triton from a PodMonitor; the installed one has a scrape job.
    const wantsPodMonitor = !monitoring.installKubePrometheusStack && monitoring.prometheusOperator;
    this.providers = new ClusterProviders(this, 'providers', {
      kubeconfigPath: config.kubernetes.configPath,
      kubeconfigContext: config.kubernetes.configContext,
      helm: monitoring.installAlertRules || wantsPodMonitor,
    });
    this.gpuScheduling = new GpuScheduling(config.gpu);
    this.namespace = new ServingNamespace(this, 'namespace', { name: config.namespace });
    this.modelRepository = new ModelRepository(this, 'model-repository', {
      namespace: this.namespace,
      size: config.modelRepository.size,
      accessMode: config.modelRepository.accessMode,
      storageClassName: config.modelRepository.storageClassName,
    });
    this.conversionJob = new ModelConversionJob(this, 'model-conversion', {
      modelRepository: this.modelRepository,
      gpuScheduling: this.gpuScheduling,
      image: conversion.image,
      dependenciesPreinstalled: conversion.dependenciesPreinstalled,
      useGpu: conversion.useGpu,
      timeoutMinutes: conversion.timeoutMinutes,
      backoffLimit: conversion.backoffLimit,
      resources: { cpuRequest: conversion.cpuRequest, memoryRequest: conversion.memoryRequest, memoryLimit: conversion.memoryLimit },
      weights: conversion.weights,
      tensorrtFp16: conversion.tensorrtFp16,
      tensorrtMaxImageSide: conversion.tensorrtMaxImageSide,
      // CPU-only replicas cannot load KIND_GPU instance groups: they get their own model version.
      cpuOnlyInstances: triton.gpusPerReplica === 0,
      throughputMode: conversion.throughputMode.enabled ? conversion.throughputMode : undefined,
      extraEnv: conversion.extraEnv,
      minSampleMatches: conversion.minSampleMatches,
    });
    if (conversion.tensorrtFp16 && triton.engineCache.enabled) {
      this.engineCache = new TensorrtEngineCache(this, 'trt-engine-cache', {
        modelRepository: this.modelRepository,
        size: triton.engineCache.size,
        storageClassName: triton.engineCache.storageClassName,
      });
    }
    this.server = new TritonServer(this, 'triton', {
      modelRepository: this.modelRepository,
      conversionJob: this.conversionJob,
      gpuScheduling: this.gpuScheduling,
      imageRepository: triton.imageRepository,
      imageTag: triton.imageTag,
      gpusPerReplica: triton.gpusPerReplica,
      minReplicas: triton.replicas.min,
      maxReplicas: triton.replicas.max,
      autoscaled: config.autoscaling.enabled,
      resources: triton.resources,
      shmSizeMiB: triton.shmSizeMiB,
      startupTimeoutSeconds: triton.startupTimeoutSeconds,
      expectedModelLoadSeconds: triton.expectedModelLoadSeconds,
      expectedWarmupSeconds: triton.expectedWarmupSeconds,
      expectedEngineBuildSeconds: triton.expectedEngineBuildSeconds,
      engineCache: this.engineCache,
      terminationGracePeriodSeconds: triton.terminationGracePeriodSeconds,
      enableModelControlApi: triton.enableModelControlApi,
    });
    // A pinned GPU product has usual machine types: say at synth when the pod cannot fit them (it would stay Pending).
    const sizing = { ...triton.resources, devicePlugin: config.addons.nvidiaDevicePlugin, featureDiscovery: config.addons.nvidiaDevicePlugin && config.addons.gpuFeatureDiscovery, engineCacheSidecar: this.engineCache !== undefined };
    if (triton.gpusPerReplica > 0) for (const warning of sizingWarnings(sizing, config.gpu.product)) Annotations.of(this.server).addWarning(warning);
    this.service = new TritonService(this, 'triton-service', { server: this.server });
    new TritonDisruptionBudget(this, 'triton-disruption-budget', { server: this.server });
    new TritonNetworkPolicy(this, 'triton-network-policy', {
      server: this.server,
      clientNamespaces: triton.allowedClientNamespaces,
      monitoringNamespace: props.monitoringNamespace ?? monitoring.namespace,
    });
    const { queueToComputeRatio } = config.autoscaling;
    if (config.autoscaling.enabled && queueToComputeRatio.enabled && conversion.throughputMode.enabled) {
      const warning = batcherDelayWarning(conversion.throughputMode.maxQueueDelayMicroseconds, quantityValue(queueToComputeRatio.target));
      if (warning !== undefined) Annotations.of(this.server).addWarning(warning);
    }
    if (config.autoscaling.enabled) {
      this.autoscaler = new GpuAutoscaler(this, 'triton-autoscaler', {
        server: this.server,
        metrics: props.customMetrics ?? TRITON_CUSTOM_METRICS,
        gpuUtilizationTargetPercent: config.autoscaling.gpuUtilizationTargetPercent,
        queueToComputeRatioTarget: config.autoscaling.queueToComputeRatio.enabled ? config.autoscaling.queueToComputeRatio.target : null,
        scaleDownStabilizationSeconds: config.autoscaling.scaleDownStabilizationSeconds,
      });
    }

    if (monitoring.installAlertRules) {
      new AlertRules(this, 'alert-rules', {
        server: this.server,
        conversionJob: this.conversionJob,
        monitoringNamespace: monitoring.namespace,
        ruleLabels: monitoring.ruleLabels,
      });
    }
    if (wantsPodMonitor) {
      this.podMonitor = new TritonPodMonitor(this, 'pod-monitor', {
        server: this.server,
        monitoringNamespace: monitoring.namespace,
        scrapeIntervalSeconds: monitoring.scrapeIntervalSeconds,
        podMonitorLabels: monitoring.podMonitorLabels,
      });
    }
    if (monitoring.grafana.dashboard) {
      new GrafanaDashboard(this, 'grafana-dashboard', { server: this.server, conversionJob: this.conversionJob, monitoringNamespace: monitoring.namespace });
    }

    new TerraformOutput(this, 'triton-http-url', { value: this.service.httpUrl, description: 'In-cluster HTTP (KServe v2) endpoint' });
    new TerraformOutput(this, 'triton-grpc-address', { value: this.service.grpcAddress, description: 'In-cluster gRPC endpoint' });
    new TerraformOutput(this, 'triton-metrics-url', { value: this.service.metricsUrl, description: 'Prometheus metrics endpoint' });
    new TerraformOutput(this, 'port-forward-command', {
      value: `kubectl --namespace ${config.namespace} port-forward service/${this.service.name} 8000:8000 8001:8001`,
      description: 'Reach Triton from your machine, then: npm run match -- --url http://localhost:8000 ...',
    });
    new TerraformOutput(this, 'model-version', { value: this.conversionJob.version, description: 'Published model repository version' });
  }
}
