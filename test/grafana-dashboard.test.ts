import { exposedSeriesNames, METRIC_CATALOG } from '../lib/metric-catalog';
import { batcherShareQuery, GRAFANA_DASHBOARD_LABEL, queueToComputeRatioQuery, TRITON_ENSEMBLE_MODEL, TRITON_SCRAPE_JOB } from '../lib/triton-metrics';
import { renderAlertChart } from './support/alert-chart';
import { expandAdapterQuery } from './support/prometheus-adapter-query';
import { metricNames } from './support/promql-metric-names';
import { loadModelRepository, MODEL_REPOSITORY_DIR } from '../lib/triton-model-config';
import { counter, near, promtool, runRuleTests } from './support/promtool';
import { findResource, releaseValues, resourcesOfType, synthesize } from './support/synth';

const documented = new Set(Object.entries(METRIC_CATALOG).flatMap(([name, metric]) => exposedSeriesNames(name, metric)));

function dashboardOf(input = {}) {
  const configMap = findResource(synthesize(input).serving, 'kubernetes_config_map_v1', 'grafana-dashboard');
  return { configMap, dashboard: JSON.parse(configMap.data['omniglue-triton.json']) };
}

// Grafana replaces its own variables before it sends a query; promtool needs them replaced too.
const asPrometheusReceivesIt = (expr: string) => expr.replace(/\$__rate_interval/g, '1m');
const panelExpressions = (dashboard: any): string[] => dashboard.panels.flatMap((panel: any) => panel.targets.map((target: any) => target.expr));

describe('Grafana dashboard', () => {
  test('is a ConfigMap in the monitoring namespace, labelled for the sidecar that PrometheusMonitoring configures', () => {
    const { configMap } = dashboardOf();
    expect(configMap.metadata.namespace).toBe('monitoring');
    expect(configMap.metadata.labels).toMatchObject(GRAFANA_DASHBOARD_LABEL);
    const grafana = releaseValues(findResource(synthesize().platform, 'helm_release', 'prometheus_release')).grafana;
    expect(grafana.enabled).toBe(true);
    expect(configMap.metadata.labels[grafana.sidecar.dashboards.label]).toBe(grafana.sidecar.dashboards.labelValue);
  });

  test('shows requests and failures, latency, per-step queue and compute, GPU per pod, replicas and the conversion Job', () => {
    const { dashboard } = dashboardOf();
    expect(dashboard.panels.map((panel: any) => panel.title)).toEqual([
      'Ensemble requests', 'Ensemble latency', 'Queue time per request, by step', 'Compute time per request, by step', 'Mean batch size, by step',
      'Queue/compute ratio per pod (HPA signal)', 'GPU utilization per pod', 'GPU memory per pod', 'Replicas', 'Model conversion Job',
    ]);
    const legends = (title: string) => dashboard.panels.find((panel: any) => panel.title === title).targets.map((target: any) => target.legendFormat);
    expect(legends('Ensemble requests')).toEqual(['succeeded', 'failed']);
    expect(legends('Ensemble latency')).toEqual(['mean', 'p50', 'p95', 'p99']);
    expect(legends('Replicas')).toEqual(['current', 'desired', 'maximum']);
    expect(legends('Model conversion Job')).toEqual(['{{job_name}} running', '{{job_name}} completed', '{{job_name}} failed']);
  });

  test('watches the configured namespace, and the per-step panels leave the ensemble out', () => {
    const { dashboard } = dashboardOf({ namespace: 'vision' });
    for (const expr of panelExpressions(dashboard)) expect(expr).toContain('namespace="vision"');
    const stepPanels = dashboard.panels.filter((panel: any) => /by step|ratio/.test(panel.title));
    for (const panel of stepPanels) for (const target of panel.targets) expect(target.expr).not.toMatch(/model="omniglue_ensemble"/);
    for (const panel of stepPanels) for (const target of panel.targets) expect(target.expr).toContain('model!="omniglue_ensemble"');
  });

  test('every panel expression parses with promtool, in the default and the throughput mode', () => {
    const throughput = dashboardOf({ conversion: { throughputMode: { enabled: true } } }).dashboard;
    const [ratio, share] = throughput.panels.find((panel: any) => panel.title === 'Queue/compute ratio per pod (HPA signal)').targets;
    // What the HPA reads, and in the throughput mode the most the batcher's wait adds to it (test/dashboard-values.test.ts evaluates both).
    const query = { steps: `job="${TRITON_SCRAPE_JOB}", namespace="omniglue", model!="${TRITON_ENSEMBLE_MODEL}"`, groupBy: 'pod', window: '$__rate_interval' };
    expect(ratio.expr).toBe(queueToComputeRatioQuery(query));
    expect(share.expr).toBe(batcherShareQuery(query, { model: 'dinov2', microseconds: 1000 }));
    const expressions = [...panelExpressions(dashboardOf().dashboard), ...panelExpressions(throughput)];
    const rules = expressions.map((expr, index) => ({ record: `omniglue:dashboard_panel_expression:${index}`, expr: asPrometheusReceivesIt(expr) }));
    const result = promtool(['check', 'rules', 'dashboard.yaml'], { 'dashboard.yaml': { groups: [{ name: 'dashboard', rules }] } });
    expect(result.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(result.ok).toBe(true);
  });

  test('the batch panel reads 4 for a step that runs 8 inferences in 2 executions, 1 for an unbatched step, and leaves the ensemble out', () => {
    const panel = dashboardOf().dashboard.panels.find((p: any) => p.title === 'Mean batch size, by step');
    const series = (name: string, model: string, step: number) => ({
      series: `${name}{job="${TRITON_SCRAPE_JOB}",namespace="omniglue",pod="p",model="${model}",version="1"}`,
      values: counter(step, 20),
    });
    const result = runRuleTests([], [
      {
        interval: '5s',
        input_series: [
          // Triton's nv_inference_count counts every inference of a batch, nv_inference_exec_count each execution (docs/metrics.md).
          series('nv_inference_count', 'dinov2', 8), series('nv_inference_exec_count', 'dinov2', 2),
          series('nv_inference_count', 'omniglue', 2), series('nv_inference_exec_count', 'omniglue', 2),
          series('nv_inference_count', TRITON_ENSEMBLE_MODEL, 1), series('nv_inference_exec_count', TRITON_ENSEMBLE_MODEL, 1),
        ],
        promql_expr_test: [{
          expr: asPrometheusReceivesIt(panel.targets[0].expr),
          eval_time: '1m',
          exp_samples: [{ labels: '{model="dinov2"}', value: 4 }, { labels: '{model="omniglue"}', value: 1 }],
        }],
      },
    ]);
    if (!result.ok) throw new Error(result.output);
  });

  test('the latency percentiles read the histogram Triton keeps for the ensemble, with the buckets its config sets', () => {
    const { dashboard } = dashboardOf();
    const triton = findResource(synthesize().serving, 'kubernetes_deployment_v1', 'triton').spec.template.spec.container.find((c: any) => c.name === 'triton');
    expect(triton.args.join(' ')).toContain('--metrics-config=histogram_latencies=true');
    const buckets = loadModelRepository(MODEL_REPOSITORY_DIR).ensemble.histogramBuckets;
    const family = 'nv_inference_first_response_histogram_ms';
    expect(Object.keys(buckets)).toEqual([family]);
    expect(buckets[family].every((le, i, all) => i === 0 || le > all[i - 1])).toBe(true);
    const p50 = dashboard.panels.find((p: any) => p.title === 'Ensemble latency').targets.find((t: any) => t.legendFormat === 'p50').expr;
    expect(p50).toContain(`${family}_bucket{`);
    // 100 requests per minute: 20 within 75 ms, 60 within 100 ms, all within 200 ms. The median falls in (75, 100]:
    // Prometheus interpolates linearly, 75 + (50 - 20) / (60 - 20) * 25 = 93.75 ms.
    const cumulative: Record<string, number> = Object.fromEntries(
      [...buckets[family].map(String), '+Inf'].map((le) => [le, Number(le) < 75 ? 0 : Number(le) < 100 ? 20 : Number(le) < 150 ? 60 : Number(le) < 200 ? 90 : 100]),
    );
    const series = Object.entries(cumulative).map(([le, perMinute]) => ({
      series: `${family}_bucket{job="${TRITON_SCRAPE_JOB}",namespace="omniglue",pod="p",model="${TRITON_ENSEMBLE_MODEL}",version="1",le="${le}"}`,
      values: counter(perMinute, 20),
    }));
    const result = runRuleTests([], [
      { interval: '1m', input_series: series, promql_expr_test: [{ expr: near(asPrometheusReceivesIt(p50).replace('$__rate_interval', '5m'), 93.75), eval_time: '10m', exp_samples: [{ labels: '{}', value: 1 }] }] },
    ]);
    if (!result.ok) throw new Error(result.output);
  });

  test('promtool rejects a broken expression, so the parse check can fail', () => {
    const result = promtool(['check', 'rules', 'broken.yaml'], { 'broken.yaml': { groups: [{ name: 'g', rules: [{ record: 'x', expr: 'sum(rate(up[1m])' }] }] } });
    expect(result.ok).toBe(false);
  });

  test('the dashboard, the alerts and the adapter rules name only metrics that the pinned sources document', () => {
    const adapter = releaseValues(findResource(synthesize().platform, 'helm_release', 'prometheus-adapter'));
    const adapterQueries = adapter.rules.custom.map((rule: any) =>
      expandAdapterQuery(rule.metricsQuery, { series: /^(\w+)\{/.exec(rule.seriesQuery)![1], namespace: 'omniglue', pods: ['p'] }),
    );
    const alertQueries = renderAlertChart().rule.spec.groups.flatMap((group: any) => group.rules.map((rule: any) => rule.expr));
    const queries = [...panelExpressions(dashboardOf().dashboard), ...alertQueries, ...adapterQueries];
    const used = new Set(queries.flatMap(metricNames));
    expect([...used].filter((name) => !documented.has(name))).toEqual([]);
    expect([...used]).toEqual(expect.arrayContaining(['nv_inference_queue_duration_us', 'kube_job_failed', 'kube_horizontalpodautoscaler_spec_max_replicas', 'nv_gpu_memory_used_bytes']));
  });

  test('the metric-name check catches a name no pinned source documents', () => {
    expect(metricNames('sum(rate(DCGM_FI_DEV_GPU_UTIL_TYPO{pod="p"}[1m]))').filter((name) => !documented.has(name))).toEqual(['DCGM_FI_DEV_GPU_UTIL_TYPO']);
  });

  test('every catalogued metric names its upstream source', () => {
    for (const metric of Object.values(METRIC_CATALOG)) expect(metric.source).toEqual({ repository: expect.stringMatching(/^[\w-]+\/[\w-]+$/), ref: expect.any(String), path: expect.any(String) });
  });

  test('can be left out, and Grafana switched off', () => {
    const { serving, platform } = synthesize({ monitoring: { grafana: { enabled: false, dashboard: false } } });
    expect(Object.keys(resourcesOfType(serving, 'kubernetes_config_map_v1')).some((name) => name.includes('grafana'))).toBe(false);
    expect(releaseValues(findResource(platform, 'helm_release', 'prometheus_release')).grafana.enabled).toBe(false);
  });
});
