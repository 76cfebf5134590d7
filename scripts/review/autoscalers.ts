/** HorizontalPodAutoscalers: what they scale, on which metrics, and how fast. */

import { kubernetesObjects, many, num, Obj, one, resolveReferences, str, TerraformJson } from './terraform-json';

export interface HpaMetric {
  readonly type: string;
  readonly name: string;
  readonly target: string;
}

export interface HpaSummary {
  readonly name: string;
  readonly namespace: string | undefined;
  readonly minReplicas: number | undefined;
  readonly maxReplicas: number | undefined;
  readonly targetKind: string;
  readonly targetName: string;
  readonly metrics: HpaMetric[];
  readonly behavior: string[];
}

function describeMetricTarget(target: Obj): string {
  const type = str(target.type) ?? '?';
  const value = str(target.average_value) ?? str(target.value) ?? (target.average_utilization !== undefined ? `${str(target.average_utilization)}%` : '?');
  return `${type} ${value}`;
}

function describeMetric(metric: Obj): HpaMetric {
  const type = str(metric.type) ?? '?';
  const source = one(metric[type.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase()]);
  // Resource metrics name the resource; Pods, Object and External metrics name a metric.
  const name = str(source.name) ?? str(one(source.metric).name) ?? '?';
  return { type, name, target: describeMetricTarget(one(source.target)) };
}

function describeScalingRules(direction: string, rules: Obj): string {
  const policies = many(rules.policy).map((p) => `${str(p.value) ?? '?'}${str(p.type) === 'Percent' ? '%' : ' pods'}/${str(p.period_seconds) ?? '?'}s`);
  const select = str(rules.select_policy) ?? 'Max';
  const window = str(rules.stabilization_window_seconds);
  return `${direction}: ${window !== undefined ? `stabilization ${window}s, ` : ''}${select.toLowerCase()}(${policies.join(', ')})`;
}

export function summarizeAutoscalers(doc: TerraformJson): HpaSummary[] {
  return kubernetesObjects(doc, /^kubernetes_horizontal_pod_autoscaler/).map(({ spec, name, namespace }) => {
    const target = one(spec.scale_target_ref);
    const behavior = one(spec.behavior);
    const legacyTarget = num(spec.target_cpu_utilization_percentage);
    return {
      name,
      namespace,
      minReplicas: num(spec.min_replicas),
      maxReplicas: num(spec.max_replicas),
      targetKind: str(target.kind) ?? '?',
      targetName: resolveReferences(doc, str(target.name) ?? '?'),
      metrics: [
        ...many(spec.metric).map(describeMetric),
        ...(legacyTarget !== undefined ? [{ type: 'Resource', name: 'cpu', target: `Utilization ${legacyTarget}%` }] : []),
      ],
      behavior: [
        ...many(behavior.scale_up).map((rules) => describeScalingRules('up', rules)),
        ...many(behavior.scale_down).map((rules) => describeScalingRules('down', rules)),
      ],
    };
  });
}
