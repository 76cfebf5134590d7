import { Construct } from 'constructs';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { OmniglueConfig } from '../config/schema';
import { AlertRules } from '../constructs/alert-rules';
import { ClusterProviders } from '../constructs/cluster-providers';
import { GpuAutoscaler } from '../constructs/gpu-autoscaler';
import { ModelConversionJob } from '../constructs/model-conversion-job';
import { ModelRepository } from '../constructs/model-repository';
import { ServingNamespace } from '../constructs/serving-namespace';
import { TritonDisruptionBudget } from '../constructs/triton-disruption-budget';
import { TritonNetworkPolicy } from '../constructs/triton-network-policy';
import { TensorrtEngineCache } from '../constructs/tensorrt-engine-cache';
import { TritonServer } from '../constructs/triton-server';
import { TritonService } from '../constructs/triton-service';
import { GpuScheduling } from '../lib/gpu-scheduling';
import { repositoryLocalBackend } from './backend';
import { TRITON_CUSTOM_METRICS, TritonCustomMetrics } from '../lib/triton-metrics';

export interface OmniglueServingStackProps {
  /** The validated configuration. */
  readonly config: OmniglueConfig;
  /**
   * Custom metrics the autoscaler scales on, as the platform stack's prometheus-adapter serves them.
   * @default TRITON_CUSTOM_METRICS
   */
  readonly customMetrics?: TritonCustomMetrics;
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

  constructor(scope: Construct, id: string, props: OmniglueServingStackProps) {
    super(scope, id);
    repositoryLocalBackend(this, id);
    const { config } = props;
    const { triton, conversion } = config;
    this.providers = new ClusterProviders(this, 'providers', {
      kubeconfigPath: config.kubernetes.configPath,
      kubeconfigContext: config.kubernetes.configContext,
      helm: config.monitoring.installAlertRules,
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
    this.service = new TritonService(this, 'triton-service', { server: this.server });
    new TritonDisruptionBudget(this, 'triton-disruption-budget', { server: this.server });
    new TritonNetworkPolicy(this, 'triton-network-policy', {
      server: this.server,
      clientNamespaces: triton.allowedClientNamespaces,
      monitoringNamespace: config.monitoring.namespace,
    });
    if (config.autoscaling.enabled) {
      this.autoscaler = new GpuAutoscaler(this, 'triton-autoscaler', {
        server: this.server,
        metrics: props.customMetrics ?? TRITON_CUSTOM_METRICS,
        gpuUtilizationTargetPercent: config.autoscaling.gpuUtilizationTargetPercent,
        queueToComputeRatioTarget: config.autoscaling.queueToComputeRatio.enabled ? config.autoscaling.queueToComputeRatio.target : null,
        scaleDownStabilizationSeconds: config.autoscaling.scaleDownStabilizationSeconds,
      });
    }

    if (config.monitoring.installAlertRules) {
      new AlertRules(this, 'alert-rules', {
        server: this.server,
        conversionJob: this.conversionJob,
        monitoringNamespace: config.monitoring.namespace,
      });
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
