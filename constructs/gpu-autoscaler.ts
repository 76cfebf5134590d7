import { Construct } from 'constructs';
import { commonLabels } from '../lib/labels';
import { canonicalQuantity, QuantityError } from '../lib/quantity';
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
  /**
   * Average GPU utilization (percent) per pod to keep.
   * @default 70
   */
  readonly gpuUtilizationTargetPercent?: number;
  /**
   * Target queue-to-compute ratio, a Kubernetes quantity ('1000m' or '1': requests queue as long as they compute);
   * null leaves the second metric out. Written in the API server's canonical form ('1000m' becomes '1').
   * @default '1'
   */
  readonly queueToComputeRatioTarget?: string | null;
  /**
   * How long load must stay low before pods are removed.
   * @default 300
   */
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
    this.gpuUtilizationTargetPercent = props.gpuUtilizationTargetPercent ?? 70;
    this.queueToComputeRatioTarget = props.queueToComputeRatioTarget === null ? undefined : hpaTarget('queueToComputeRatioTarget', props.queueToComputeRatioTarget ?? '1');
    const scaleDownStabilizationSeconds = props.scaleDownStabilizationSeconds ?? 300;
    if (server.gpusPerReplica === 0) {
      throw new Error(`the server's gpusPerReplica is 0, so there is no GPU utilization to scale on: give each replica a GPU or leave the GpuAutoscaler out`);
    }
    if (!Number.isInteger(this.gpuUtilizationTargetPercent) || this.gpuUtilizationTargetPercent < 1 || this.gpuUtilizationTargetPercent > 100) {
      throw new Error(`gpuUtilizationTargetPercent (${this.gpuUtilizationTargetPercent}) must be a whole number between 1 and 100`);
    }

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
          podsMetric(this.metrics.gpuUtilizationPercent, hpaTarget('gpuUtilizationTargetPercent', String(this.gpuUtilizationTargetPercent))),
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

/**
 * A metric target in the form the API server gives back. The provider compares `average_value` and `value` as
 * text (no quantity diff suppression in hashicorp/kubernetes v2.38.0 kubernetes/schema_horizontal_pod_autoscaler.go,
 * metricTargetFields) and reads them back with Quantity.String(): '1000m' would show `"1" -> "1000m"` on every plan.
 */
function hpaTarget(setting: string, quantity: string): string {
  try {
    return canonicalQuantity(quantity);
  } catch (error) {
    if (error instanceof QuantityError) throw new Error(`${setting}: ${error.message}`);
    throw error;
  }
}
