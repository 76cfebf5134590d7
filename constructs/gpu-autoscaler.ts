import { Construct } from 'constructs';
import { enforceRule, settingProp } from '../config/construct-props';
import { RULES } from '../config/rules';
import { commonLabels } from '../lib/labels';
import { canonicalQuantity } from '../lib/quantity';
import { HorizontalPodAutoscalerV2 } from '../lib/provider-classes';
import { TRITON_CUSTOM_METRICS, TritonCustomMetrics } from '../lib/triton-metrics';
import { TritonServer } from './triton-server';

export interface GpuAutoscalerProps {
  /** The Deployment to scale; its replica bounds come from the server. */
  readonly server: TritonServer;
  /**
   * Custom-metric names prometheus-adapter serves.
   * @default TRITON_CUSTOM_METRICS (the names PrometheusAdapter's rules use)
   */
  readonly metrics?: TritonCustomMetrics;
  /** Average GPU utilization (percent) per pod to keep, 1 to 99. @default - setting autoscaling.gpuUtilizationTargetPercent */
  readonly gpuUtilizationTargetPercent?: number;
  /**
   * Target queue-to-compute ratio, a Kubernetes quantity ('1000m' or '1': requests queue as long as they compute);
   * null leaves the second metric out. Written in the API server's canonical form ('1000m' becomes '1').
   * @default - setting autoscaling.queueToComputeRatio.target
   */
  readonly queueToComputeRatioTarget?: string | null;
  /** How long load must stay low before pods are removed. @default - setting autoscaling.scaleDownStabilizationSeconds */
  readonly scaleDownStabilizationSeconds?: number;
}

/**
 * HPA on Triton's per-pod GPU utilization, with NVIDIA's queue-to-compute ratio as a second metric (the HPA
 * follows whichever asks for more replicas). Scale-up reacts at once; scale-down is stabilised, since GPU
 * utilization is noisy and a removed pod's models take minutes to load again.
 */
export class GpuAutoscaler extends Construct {
  readonly gpuUtilizationTargetPercent: number;
  /** The queue-to-compute target as written into the HPA: canonical (see lib/quantity.ts), undefined when left out. */
  readonly queueToComputeRatioTarget: string | undefined;
  readonly metrics: TritonCustomMetrics;
  readonly autoscaler: HorizontalPodAutoscalerV2;

  constructor(scope: Construct, id: string, props: GpuAutoscalerProps) {
    super(scope, id);
    const { server } = props;
    this.metrics = props.metrics ?? TRITON_CUSTOM_METRICS;
    this.gpuUtilizationTargetPercent = settingProp(this, 'autoscaling.gpuUtilizationTargetPercent', 'gpuUtilizationTargetPercent', props.gpuUtilizationTargetPercent);
    // Canonical: the provider compares HPA targets as text, so '1000m' would plan `"1" -> "1000m"` forever (lib/quantity.ts).
    this.queueToComputeRatioTarget =
      props.queueToComputeRatioTarget === null
        ? undefined
        : canonicalQuantity(settingProp(this, 'autoscaling.queueToComputeRatio.target', 'queueToComputeRatioTarget', props.queueToComputeRatioTarget));
    const scaleDownStabilizationSeconds = settingProp(this, 'autoscaling.scaleDownStabilizationSeconds', 'scaleDownStabilizationSeconds', props.scaleDownStabilizationSeconds);
    enforceRule(this, RULES.autoscalingNeedsGpu, { autoscaling: true, gpusPerReplica: server.gpusPerReplica }, { autoscaling: 'the GpuAutoscaler', gpusPerReplica: "the server's gpusPerReplica" });

    const podsMetric = (name: string, averageValue: string) => ({
      type: 'Pods',
      pods: { metric: { name }, target: { type: 'AverageValue', averageValue } },
    });
    this.autoscaler = new HorizontalPodAutoscalerV2(this, 'autoscaler', {
      metadata: { name: server.name, namespace: server.namespace, labels: commonLabels('triton', 'autoscaler') },
      spec: {
        minReplicas: server.minReplicas,
        maxReplicas: server.maxReplicas,
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: server.deployment.metadata.name },
        metric: [
          podsMetric(this.metrics.gpuUtilizationPercent, canonicalQuantity(String(this.gpuUtilizationTargetPercent))),
          ...(this.queueToComputeRatioTarget !== undefined ? [podsMetric(this.metrics.queueToComputeRatio, this.queueToComputeRatioTarget)] : []),
        ],
        behavior: {
          scaleUp: [
            {
              stabilizationWindowSeconds: 0,
              selectPolicy: 'Max',
              policy: [
                { type: 'Pods', value: 2, periodSeconds: 15 },
                { type: 'Percent', value: 100, periodSeconds: 15 },
              ],
            },
          ],
          scaleDown: [
            {
              stabilizationWindowSeconds: scaleDownStabilizationSeconds,
              selectPolicy: 'Min',
              policy: [{ type: 'Pods', value: 1, periodSeconds: 60 }],
            },
          ],
        },
      },
    });
  }
}
