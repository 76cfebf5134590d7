import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../config/load';
import { configRejection } from './support/config-errors';
import { findResource, releaseValues, resourcesOfType, synthesize } from './support/synth';

const OWN_ADAPTER = { monitoring: { existingCustomMetricsApi: true, installPrometheusAdapter: false } };

describe('a cluster that already serves custom.metrics.k8s.io', () => {
  test('gets no second adapter, and the HPA keeps asking for the same metrics', () => {
    const { platform, serving } = synthesize(OWN_ADAPTER);
    expect(Object.keys(resourcesOfType(platform, 'helm_release')).some((name) => name.includes('adapter'))).toBe(false);
    const hpa = findResource(serving, 'kubernetes_horizontal_pod_autoscaler_v2', 'triton');
    expect(hpa.spec.metric.map((metric: any) => metric.pods.metric.name).sort()).toEqual(['triton_gpu_utilization_percent', 'triton_queue_compute_ratio']);
  });

  test('the platform stack outputs exactly the rules its own adapter would have been given', () => {
    const output = synthesize(OWN_ADAPTER).platform.output['prometheus-adapter-rules'];
    expect(output.description).toMatch(/add them to your adapter's configuration/);
    const { rules } = parseYaml(output.value);
    const installed = releaseValues(findResource(synthesize({}).platform, 'helm_release', 'prometheus-adapter')).rules.custom;
    expect(rules).toEqual(installed);
    const hpa = findResource(synthesize(OWN_ADAPTER).serving, 'kubernetes_horizontal_pod_autoscaler_v2', 'triton');
    expect(rules.map((rule: any) => rule.name.as).sort()).toEqual(hpa.spec.metric.map((metric: any) => metric.pods.metric.name).sort());
  });

  test('the stack with its own adapter has no such output', () => {
    expect(synthesize({}).platform.output).not.toHaveProperty('prometheus-adapter-rules');
  });

  test('installing a second adapter beside it is refused, naming both settings', () => {
    expect(configRejection({ monitoring: { existingCustomMetricsApi: true } })).toMatch(
      /monitoring\.existingCustomMetricsApi says the cluster already serves custom\.metrics\.k8s\.io, but monitoring\.installPrometheusAdapter is true: a second prometheus-adapter would take the one APIService/,
    );
  });
});

describe('autoscaling with no source for its metrics', () => {
  test('is refused, naming the settings', () => {
    expect(configRejection({ monitoring: { installPrometheusAdapter: false } })).toMatch(
      /autoscaling\.enabled scales on custom metrics .* nothing serves them: monitoring\.installPrometheusAdapter is false and monitoring\.existingCustomMetricsApi is false/,
    );
  });

  test('is fine once autoscaling is off', () => {
    expect(() => parseConfig({ monitoring: { installPrometheusAdapter: false }, autoscaling: { enabled: false } })).not.toThrow();
  });
});
