import { PrometheusAdapter } from '../constructs/prometheus-adapter';
import { findResource, releaseValues, resourcesOfType, synthesize } from './support/synth';

function setup(input = {}) {
  const synthesized = synthesize(input);
  const hpa = findResource(synthesized.serving, 'kubernetes_horizontal_pod_autoscaler_v2', 'triton');
  const adapterRelease = findResource(synthesized.platform, 'helm_release', 'prometheus-adapter');
  const prometheusRelease = findResource(synthesized.platform, 'helm_release', 'prometheus_release');
  return { synthesized, hpa, adapter: releaseValues(adapterRelease), adapterRelease, prometheus: releaseValues(prometheusRelease), prometheusRelease };
}

describe('HorizontalPodAutoscaler', () => {
  test('targets the Deployment object the Service selects', () => {
    const { synthesized, hpa } = setup();
    const deploymentNames = Object.keys(resourcesOfType(synthesized.serving, 'kubernetes_deployment_v1'));
    expect(deploymentNames).toHaveLength(1);
    expect(hpa.spec.scale_target_ref).toEqual({ api_version: 'apps/v1', kind: 'Deployment', name: `\${kubernetes_deployment_v1.${deploymentNames[0]}.metadata[0].name}` });
  });

  test('scales between the configured replica bounds', () => {
    const { hpa } = setup({ triton: { replicas: { min: 2, max: 6 } } });
    expect([hpa.spec.min_replicas, hpa.spec.max_replicas]).toEqual([2, 6]);
  });

  test('scales on per-pod GPU utilization and on the queue-to-compute ratio', () => {
    const { hpa } = setup({ autoscaling: { gpuUtilizationTargetPercent: 60 } });
    expect(hpa.spec.metric).toEqual([
      { type: 'Pods', pods: { metric: { name: 'triton_gpu_utilization_percent' }, target: { type: 'AverageValue', average_value: '60' } } },
      { type: 'Pods', pods: { metric: { name: 'triton_queue_compute_ratio' }, target: { type: 'AverageValue', average_value: '1' } } },
    ]);
  });

  test('the queue metric can be switched off', () => {
    const { hpa } = setup({ autoscaling: { queueToComputeRatio: { enabled: false } } });
    expect(hpa.spec.metric.map((m: any) => m.pods.metric.name)).toEqual(['triton_gpu_utilization_percent']);
  });

  test('scales up at once and down only after a stabilisation window', () => {
    const { behavior } = setup().hpa.spec;
    expect(behavior.scale_up[0].stabilization_window_seconds).toBe(0);
    expect(behavior.scale_down[0].stabilization_window_seconds).toBe(300);
    expect(behavior.scale_down[0].policy).toEqual([{ type: 'Pods', value: 1, period_seconds: 60 }]);
  });

  test('every metric the HPA asks for is served by a prometheus-adapter rule', () => {
    const { hpa, adapter } = setup();
    const served = adapter.rules.custom.map((rule: any) => rule.name.as);
    for (const metric of hpa.spec.metric) expect(served).toContain(metric.pods.metric.name);
  });

  test('is left out when autoscaling is off', () => {
    const { serving } = synthesize({ autoscaling: { enabled: false } });
    expect(resourcesOfType(serving, 'kubernetes_horizontal_pod_autoscaler_v2')).toEqual({});
  });
});

describe('metrics pipeline', () => {
  test('prometheus-adapter serves per-pod metrics from the pod’s own namespace and pod labels', () => {
    const { adapter } = setup();
    for (const rule of adapter.rules.custom) {
      expect(rule.resources.overrides).toEqual({ namespace: { resource: 'namespace' }, pod: { resource: 'pod' } });
      expect(rule.seriesQuery).toMatch(/\{namespace!="",pod!=""\}$/);
      expect(JSON.stringify(rule)).not.toMatch(/exported_(pod|namespace)/);
    }
    expect(adapter.rules.custom[0].seriesQuery).toMatch(/^nv_gpu_utilization\{/);
    expect(adapter.rules.default).toBe(false);
  });

  test('the queue-ratio rate window spans three scrapes, so it always holds two samples', () => {
    expect(setup().adapter.rules.custom[1].metricsQuery).toContain('[15s]');
    const slow = setup({ monitoring: { scrapeIntervalSeconds: 30 } });
    expect(slow.adapter.rules.custom[1].metricsQuery).toContain('[90s]');
    expect(slow.adapter.rules.custom[1].metricsQuery).not.toContain('[15s]');
  });

  test('the queue ratio sums the ensemble’s steps, never the ensemble, whose compute time repeats theirs', () => {
    const query = setup().adapter.rules.custom[1].metricsQuery;
    for (const selector of query.match(/nv_inference_\w+\{[^}]*\}/g) ?? []) expect(selector).toContain('model!="omniglue_ensemble"');
    expect(query.match(/nv_inference_\w+\{/g)).toHaveLength(2);
  });

  test('the adapter keeps series for three scrapes, so one late scrape does not drop a pod between relists', () => {
    const { adapter } = setup();
    expect(adapter.extraArguments).toEqual(['--metrics-max-age=15s']);
    expect(setup({ monitoring: { scrapeIntervalSeconds: 30 } }).adapter.extraArguments).toEqual(['--metrics-max-age=90s']);
    expect(setup({ monitoring: { adapterRelistIntervalSeconds: 30 } }).adapter.extraArguments).toEqual(['--metrics-max-age=60s']);
  });

  test('rejects a metrics max age no longer than the relist interval', () => {
    const { stacks } = synthesize();
    expect(() => new PrometheusAdapter(stacks.platform, 'short-max-age', { prometheus: 'http://prometheus:9090', relistIntervalSeconds: 30, metricsMaxAgeSeconds: 30 })).toThrow(
      /metricsMaxAgeSeconds \(30\) must be longer than relistIntervalSeconds \(30\)/,
    );
  });

  test('the rules are namespace-agnostic', () => {
    const { adapter } = setup({ namespace: 'vision' });
    expect(JSON.stringify(adapter.rules)).not.toMatch(/vision|omniglue"/);
  });

  test('prometheus-adapter queries the Prometheus this stack installs, relisting every 6 s', () => {
    const { adapter, adapterRelease, prometheusRelease } = setup();
    expect(adapter.prometheus).toEqual({ url: 'http://kube-prometheus-stack-prometheus.monitoring.svc', port: 9090, path: '' });
    expect(adapter.metricsRelistInterval).toBe('6s');
    expect(adapterRelease.depends_on).toEqual([expect.stringContaining('helm_release.prometheus_release')]);
    expect(prometheusRelease).toMatchObject({ chart: 'kube-prometheus-stack', version: '81.6.2', namespace: 'monitoring' });
    expect(adapterRelease).toMatchObject({ chart: 'prometheus-adapter', version: '5.3.0' });
  });

  test('uses an existing Prometheus when the stack installs none', () => {
    const { platform } = synthesize({ monitoring: { installKubePrometheusStack: false, existingPrometheusUrl: 'http://prometheus-operated.observability.svc:9090' } });
    expect(Object.keys(resourcesOfType(platform, 'helm_release')).some((name) => name.includes('prometheus_release'))).toBe(false);
    const adapter = releaseValues(findResource(platform, 'helm_release', 'prometheus-adapter'));
    expect(adapter.prometheus).toEqual({ url: 'http://prometheus-operated.observability.svc', port: 9090, path: '' });
  });

  test('Prometheus scrapes the Triton pods’ metrics port every 5 s in any namespace, without a CRD', () => {
    const { prometheus, synthesized } = setup();
    const [job] = prometheus.prometheus.prometheusSpec.additionalScrapeConfigs;
    expect(job.scrape_interval).toBe('5s');
    expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod' }]);
    const deployment = findResource(synthesized.serving, 'kubernetes_deployment_v1', 'triton');
    const keepPortName = job.relabel_configs.find((r: any) => r.source_labels[0] === '__meta_kubernetes_pod_container_port_name');
    expect(deployment.spec.template.spec.container[0].port.map((p: any) => p.name)).toContain(keepPortName.regex);
    const keepName = job.relabel_configs.find((r: any) => r.source_labels[0] === '__meta_kubernetes_pod_label_app_kubernetes_io_name');
    expect(deployment.spec.template.metadata.labels['app.kubernetes.io/name']).toBe(keepName.regex);
    expect(Object.keys(synthesized.platform.resource)).not.toContain('kubernetes_manifest');
    expect(JSON.stringify(synthesized.platform.resource)).not.toMatch(/kind: ServiceMonitor/);
  });

  test('the scale-up reaction fits in 30 s: Triton sampling, one scrape, the HPA sync, no averaging window', () => {
    const { adapter, prometheus, hpa, synthesized } = setup();
    const tritonArgs = findResource(synthesized.serving, 'kubernetes_deployment_v1', 'triton').spec.template.spec.container[0].args[0];
    const tritonSamplingSeconds = Number(/--metrics-interval-ms=(\d+)/.exec(tritonArgs)?.[1]) / 1000;
    expect(tritonSamplingSeconds).toBeGreaterThan(0);
    const hpaSyncSeconds = 15; // kube-controller-manager's --horizontal-pod-autoscaler-sync-period default
    const scrapeSeconds = parseInt(prometheus.prometheus.prometheusSpec.additionalScrapeConfigs[0].scrape_interval, 10);
    expect(adapter.rules.custom[0].metricsQuery).not.toMatch(/\[\d+[smh]\]/);
    expect(hpa.spec.behavior.scale_up[0].stabilization_window_seconds).toBe(0);
    expect(tritonSamplingSeconds + scrapeSeconds + hpaSyncSeconds).toBeLessThanOrEqual(30);
  });
});
