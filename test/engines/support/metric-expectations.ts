/**
 * The product's queries (prometheus-adapter rules, alert rules, dashboard panels), evaluated by promtool on series
 * recorded from a running triton:local, each against the value docs/metrics.md says it measures, computed from
 * the same two scrapes. The windows: 15 s (adapter), 5 m (alerts), 1 m (the dashboard's $__rate_interval, which
 * Grafana replaces before it queries).
 */
import { renderAlertChart } from '../../support/alert-chart';
import { expandAdapterQuery } from '../../support/prometheus-adapter-query';
import { findResource, releaseValues, synthesize } from '../../support/synth';
import { TRITON_ENSEMBLE_MODEL, TRITON_SCRAPE_JOB } from '../../../lib/triton-metrics';
import type { ThroughputMode } from '../../../lib/throughput-mode';
import { delta, evaluate, type Expectation, type promtoolSeries, type Sample } from './recorded-metrics';

const NAMESPACE = 'omniglue';
const POD = 'omniglue-triton-local-0';
const SCRAPE_LABELS = { job: TRITON_SCRAPE_JOB, namespace: NAMESPACE, pod: POD, instance: '127.0.0.1:8002' };

export interface Measured {
  /** Requests, durations (µs) and counts by model, between the scrapes. */
  d(metric: string, model: string): number;
  steps: string[];
}

function measured(before: Sample[], after: Sample[]): Measured {
  const models = [...new Set(after.filter((s) => s.name === 'nv_inference_request_success').map((s) => s.labels.model))];
  return { d: (metric, model) => delta(before, after, metric, { model }), steps: models.filter((m) => m !== TRITON_ENSEMBLE_MODEL).sort() };
}

/**
 * Steps' queue time per unit of their compute time (docs/metrics.md, "HPA"). The batcher's deliberate delay is not
 * taken off: Triton's counters cannot tell it from real queueing, so any amount subtracted can read below the truth.
 */
function queueToCompute(m: Measured, seconds: number): number {
  const sum = (metric: string) => m.steps.reduce((total, model) => total + m.d(metric, model), 0) / seconds;
  return sum('nv_inference_queue_duration_us') / Math.max(sum('nv_inference_compute_infer_duration_us'), 1);
}

const pod = { pod: POD };
const namespacePod = { namespace: NAMESPACE, pod: POD };

function adapterExpectations(m: Measured, config: object): Expectation[] {
  const adapter = releaseValues(findResource(synthesize(config).platform, 'helm_release', 'prometheus-adapter'));
  const rule = (series: string) => adapter.rules.custom.find((r: any) => r.seriesQuery.startsWith(`${series}{`));
  const expand = (series: string) => expandAdapterQuery(rule(series).metricsQuery, { series, namespace: NAMESPACE, pods: [POD] });
  return [
    { what: 'HPA triton_queue_compute_ratio', expr: expand('nv_inference_queue_duration_us'), samples: [{ labels: pod, value: queueToCompute(m, 15) }] },
    // No GPU here, so Triton exports no nv_gpu_utilization: the HPA gets no value (and the absent alert fires).
    { what: 'HPA triton_gpu_utilization_percent', expr: expand('nv_gpu_utilization'), samples: [] },
  ];
}

function alertExpectations(m: Measured, config: object): Expectation[] {
  const rules = renderAlertChart(config).rule.spec.groups.flatMap((g: any) => g.rules);
  const expr = (alert: string) => rules.find((r: any) => r.alert === alert).expr.replace(/\s*>\s*[\d.]+\s*$/, '');
  const perSecond = (metric: string) => m.d(metric, TRITON_ENSEMBLE_MODEL) / 300;
  const failed = perSecond('nv_inference_request_failure') / 2;
  return [
    { what: 'failure ratio', expr: expr('OmniglueTritonInferenceFailures'), samples: [{ labels: namespacePod, value: failed / Math.max(perSecond('nv_inference_request_success') + failed, 1e-9) }] },
    { what: 'queue saturation ratio', expr: expr('OmniglueTritonQueueSaturated'), samples: [{ labels: namespacePod, value: queueToCompute(m, 300) }] },
    { what: 'GPU metrics absent', expr: expr('OmniglueTritonGpuMetricMissing'), samples: [{ labels: { job: TRITON_SCRAPE_JOB, namespace: NAMESPACE }, value: 1 }] },
  ];
}

function dashboardExpectations(m: Measured, config: object): Expectation[] {
  const configMap = findResource(synthesize(config).serving, 'kubernetes_config_map_v1', 'grafana-dashboard');
  const panels = JSON.parse(configMap.data['omniglue-triton.json']).panels;
  const target = (title: string, legend: string) =>
    panels.find((p: any) => p.title === title).targets.find((t: any) => t.legendFormat === legend).expr.replace(/\$__rate_interval/g, '60s');
  const ensemble = (metric: string) => m.d(metric, TRITON_ENSEMBLE_MODEL);
  const byStep = (value: (model: string) => number) => m.steps.map((model) => ({ labels: { model }, value: value(model) }));
  const perRequestMs = (metric: string) => byStep((model) => m.d(metric, model) / m.d('nv_inference_request_success', model) / 1000);
  return [
    { what: 'requests/s', expr: target('Ensemble requests', 'succeeded'), samples: [{ labels: {}, value: ensemble('nv_inference_request_success') / 60 }] },
    { what: 'failed/s', expr: target('Ensemble requests', 'failed'), samples: [{ labels: {}, value: ensemble('nv_inference_request_failure') / 2 / 60 }] },
    { what: 'mean latency (ms)', expr: target('Ensemble latency', 'mean'), samples: [{ labels: {}, value: ensemble('nv_inference_request_duration_us') / ensemble('nv_inference_request_success') / 1000 }] },
    // Triton 2.51 keeps no latency histograms (they came with r24.11): the percentiles read nothing here.
    ...['p50', 'p95', 'p99'].map((p) => ({ what: p, expr: target('Ensemble latency', p), samples: [] })),
    { what: 'queue ms per request', expr: target('Queue time per request, by step', '{{model}}'), samples: perRequestMs('nv_inference_queue_duration_us') },
    { what: 'compute ms per request', expr: target('Compute time per request, by step', '{{model}}'), samples: perRequestMs('nv_inference_compute_infer_duration_us') },
    { what: 'mean batch size', expr: target('Mean batch size, by step', '{{model}}'), samples: byStep((model) => m.d('nv_inference_count', model) / m.d('nv_inference_exec_count', model)) },
    { what: 'queue/compute ratio', expr: target('Queue/compute ratio per pod (HPA signal)', '{{pod}}'), samples: [{ labels: pod, value: queueToCompute(m, 60) }] },
    { what: 'GPU utilization', expr: target('GPU utilization per pod', '{{pod}}'), samples: [] },
    { what: 'GPU memory used', expr: target('GPU memory per pod', '{{pod}} used'), samples: [] },
  ];
}

/** Fails with promtool's report unless every query gives its documented value on the recorded series. */
export function expectMetricsAsDocumented(before: Sample[], after: Sample[], series: typeof promtoolSeries, throughput?: ThroughputMode): Measured {
  const m = measured(before, after);
  const config = throughput === undefined ? {} : { conversion: { throughputMode: { enabled: true, ...throughput } } };
  const recorded = series(before, after, SCRAPE_LABELS);
  for (const [seconds, expectations] of [[15, adapterExpectations(m, config)], [300, alertExpectations(m, config)], [60, dashboardExpectations(m, config)]] as const) {
    const result = evaluate(recorded, seconds, expectations);
    if (!result.ok) throw new Error(`promtool on the recorded series (window ${seconds} s):\n${result.output}\nexpected: ${JSON.stringify(expectations, null, 1)}`);
  }
  return m;
}
