import * as path from 'path';
import { loadModelRepository } from '../lib/triton-model-config';
import { queueToComputeRatioQuery, TRITON_ENSEMBLE_MODEL, TRITON_SCRAPE_JOB } from '../lib/triton-metrics';
import { renderAlertChart } from './support/alert-chart';
import { counter, near, PromtoolResult, runRuleTests } from './support/promtool';
import { expandAdapterQuery } from './support/prometheus-adapter-query';
import { findResource, releaseValues, synthesize } from './support/synth';

// Series shaped as Triton exposes them on :8002 (server docs/user_guide/metrics.md: labels model, version; gpu_uuid
// on GPU metrics; reason on failures) plus the labels the scrape job adds (job, instance, namespace, pod).
const NAMESPACE = 'omniglue';
const POD = 'omniglue-triton-6d5f8c7b9-x2k4q';
const OTHER_POD = 'omniglue-triton-6d5f8c7b9-p7w3z';
const steps = [...new Set(loadModelRepository(path.join(__dirname, '..', 'model_repository')).ensemble.steps.map((step) => step.modelName))];

function triton(name: string, labels: Record<string, string>, pod = POD): string {
  const all = { job: TRITON_SCRAPE_JOB, instance: `10.0.0.${pod === POD ? 7 : 8}:8002`, namespace: NAMESPACE, pod, ...labels };
  return `${name}{${Object.entries(all).map(([key, value]) => `${key}="${value}"`).join(',')}}`;
}

/** One pod's queue and compute counters (µs): step i computes (i+1) ms per interval and queues `ratio` times that. */
function queueAndCompute(ratio: number, intervals: number, pod = POD) {
  const compute = steps.map((_, index) => 1000 * (index + 1));
  const series = steps.flatMap((model, index) => [
    { series: triton('nv_inference_queue_duration_us', { model, version: '1' }, pod), values: counter(ratio * compute[index], intervals) },
    { series: triton('nv_inference_compute_infer_duration_us', { model, version: '1' }, pod), values: counter(compute[index], intervals) },
  ]);
  // The ensemble: its compute is the sum of its steps' (core ensemble_scheduler.cc), its queue time near zero.
  const ensemble = { model: TRITON_ENSEMBLE_MODEL, version: '1' };
  series.push(
    { series: triton('nv_inference_queue_duration_us', ensemble, pod), values: counter(40, intervals) },
    { series: triton('nv_inference_compute_infer_duration_us', ensemble, pod), values: counter(compute.reduce((a, b) => a + b, 0), intervals) },
  );
  return series;
}

/** Ensemble request counters for `failedRequests` failures among `requests` per interval, as Triton counts them. */
function requestOutcomes(requests: number, failedRequests: number, intervals: number, pod = POD) {
  const ensemble = { model: TRITON_ENSEMBLE_MODEL, version: '1' };
  const reasons = ['REJECTED', 'CANCELED', 'BACKEND', 'OTHER'];
  return [
    { series: triton('nv_inference_request_success', ensemble, pod), values: counter(requests - failedRequests, intervals) },
    // Each failed ensemble request is reported twice on the ensemble, with reason OTHER (docs/metrics.md).
    ...reasons.map((reason) => ({ series: triton('nv_inference_request_failure', { ...ensemble, reason }, pod), values: counter(reason === 'OTHER' ? 2 * failedRequests : 0, intervals) })),
    // ...and once on the step that failed.
    ...reasons.map((reason) => ({ series: triton('nv_inference_request_failure', { model: 'omniglue', version: '1', reason }, pod), values: counter(reason === 'BACKEND' ? failedRequests : 0, intervals) })),
    { series: triton('nv_inference_request_success', { model: 'omniglue', version: '1' }, pod), values: counter(requests - failedRequests, intervals) },
  ];
}

/** kube-state-metrics v2.18.0 series of one Job (internal/store/job.go), as kube-prometheus-stack scrapes them. */
function conversionJob(name: string, outcome: 'succeeded-on-retry' | 'failed', intervals: number) {
  const labels = (extra: Record<string, string>) =>
    `{${Object.entries({ job: 'kube-state-metrics', namespace: NAMESPACE, job_name: name, ...extra }).map(([key, value]) => `${key}="${value}"`).join(',')}}`;
  const constant = (value: number) => `${value}x${intervals}`;
  const conditionSeries = (metric: string) =>
    ['true', 'false', 'unknown'].map((condition) => ({ series: `${metric}${labels({ condition })}`, values: constant(condition === 'true' ? 1 : 0) }));
  if (outcome === 'succeeded-on-retry') {
    // One pod failed, the retry succeeded: Status.Failed = 1 with no Failed condition (reason ""), Complete = True.
    return [
      { series: `kube_job_status_failed${labels({ reason: '' })}`, values: constant(1) },
      { series: `kube_job_status_succeeded${labels({})}`, values: constant(1) },
      ...conditionSeries('kube_job_complete'),
    ];
  }
  // backoffLimit 2: three failed pods and the Failed condition with reason BackoffLimitExceeded.
  return [
    ...['BackoffLimitExceeded', 'DeadlineExceeded', 'Evicted'].map((reason) => ({ series: `kube_job_status_failed${labels({ reason })}`, values: constant(reason === 'BackoffLimitExceeded' ? 1 : 0) })),
    { series: `kube_job_status_succeeded${labels({})}`, values: constant(0) },
    ...conditionSeries('kube_job_failed'),
  ];
}

function expectPasses(result: PromtoolResult) {
  if (!result.ok) throw new Error(`promtool test rules failed:\n${result.output}`);
}

const firing = (alertname: string) => `ALERTS{alertname="${alertname}", alertstate="firing"}`;
const alertLabels = (alertname: string, labels: Record<string, string>) =>
  `ALERTS{${Object.entries({ alertname, alertstate: 'firing', ...labels }).map(([key, value]) => `${key}="${value}"`).join(', ')}}`;

describe('alert rules evaluated by promtool', () => {
  const { rule } = renderAlertChart();
  const groups = rule.spec.groups;

  test('the rules are valid Prometheus rules', () => {
    expectPasses(runRuleTests(groups, []));
  });

  test('a conversion Job that failed once and then succeeded raises no alert', () => {
    expectPasses(runRuleTests(groups, [
      { interval: '1m', input_series: conversionJob('omniglue-convert-1a2b3c4d-5e6f', 'succeeded-on-retry', 30), alert_rule_test: [{ eval_time: '20m', alertname: 'OmniglueModelConversionFailed', exp_alerts: [] }] },
    ]));
  });

  test('a conversion Job that failed raises the alert, for that Job only', () => {
    const series = [...conversionJob('omniglue-convert-1a2b3c4d-5e6f', 'succeeded-on-retry', 30), ...conversionJob('omniglue-convert-9f8e7d6c-5b4a', 'failed', 30)];
    expectPasses(runRuleTests(groups, [
      {
        interval: '1m',
        input_series: series,
        promql_expr_test: [{
          expr: firing('OmniglueModelConversionFailed'),
          eval_time: '5m',
          exp_samples: [{ labels: alertLabels('OmniglueModelConversionFailed', { condition: 'true', job: 'kube-state-metrics', job_name: 'omniglue-convert-9f8e7d6c-5b4a', namespace: NAMESPACE, severity: 'warning' }), value: 1 }],
        }],
      },
    ]));
  });

  test('an ensemble failure is counted once: 2 failed requests in 100 is a ratio of 0.02', () => {
    const failures = groups.flatMap((group: any) => group.rules).find((r: any) => r.alert === 'OmniglueTritonInferenceFailures');
    const ratio = failures.expr.replace(/\s*>\s*[\d.]+\s*$/, '');
    expectPasses(runRuleTests(groups, [
      {
        interval: '1m',
        // 2 in 100 (above the 1 % threshold) on one pod; 1 in 150 (below it, but above if failures counted twice) on the other.
        input_series: [...requestOutcomes(100, 2, 30), ...requestOutcomes(150, 1, 30, OTHER_POD)],
        promql_expr_test: [
          { expr: near(ratio, 0.02), eval_time: '20m', exp_samples: [{ labels: `{namespace="${NAMESPACE}", pod="${POD}"}`, value: 1 }, { labels: `{namespace="${NAMESPACE}", pod="${OTHER_POD}"}`, value: 0 }] },
          { expr: firing('OmniglueTritonInferenceFailures'), eval_time: '20m', exp_samples: [{ labels: alertLabels('OmniglueTritonInferenceFailures', { namespace: NAMESPACE, pod: POD, severity: 'warning' }), value: 1 }] },
        ],
      },
    ]));
  });

  test('queue saturation compares the steps’ queue time with their compute time, without the ensemble’s', () => {
    expectPasses(runRuleTests(groups, [
      {
        interval: '1m',
        // Ratio 6 on one pod (above the threshold of 5); 4 on the other.
        input_series: [...queueAndCompute(6, 40), ...queueAndCompute(4, 40, OTHER_POD)],
        promql_expr_test: [{ expr: firing('OmniglueTritonQueueSaturated'), eval_time: '25m', exp_samples: [{ labels: alertLabels('OmniglueTritonQueueSaturated', { namespace: NAMESPACE, pod: POD, severity: 'warning' }), value: 1 }] }],
      },
    ]));
  });
});

describe('prometheus-adapter rules expanded as the adapter expands them, evaluated by promtool', () => {
  const adapter = releaseValues(findResource(synthesize().platform, 'helm_release', 'prometheus-adapter'));
  const ruleFor = (seriesName: string) => adapter.rules.custom.find((rule: any) => rule.seriesQuery.startsWith(`${seriesName}{`));
  const podLabels = `{pod="${POD}"}`;

  test('a queue/compute ratio of 2 on the steps reaches the HPA as 2', () => {
    const query = expandAdapterQuery(ruleFor('nv_inference_queue_duration_us').metricsQuery, { series: 'nv_inference_queue_duration_us', namespace: NAMESPACE, pods: [POD] });
    expectPasses(runRuleTests([], [
      { interval: '5s', input_series: [...queueAndCompute(2, 60), ...queueAndCompute(7, 60, OTHER_POD)], promql_expr_test: [{ expr: near(query, 2), eval_time: '3m', exp_samples: [{ labels: podLabels, value: 1 }] }] },
    ]));
  });

  test('the ratio for several pods comes back per pod', () => {
    const query = expandAdapterQuery(ruleFor('nv_inference_queue_duration_us').metricsQuery, { series: 'nv_inference_queue_duration_us', namespace: NAMESPACE, pods: [POD, OTHER_POD] });
    expectPasses(runRuleTests([], [
      {
        interval: '5s',
        input_series: [...queueAndCompute(2, 60), ...queueAndCompute(7, 60, OTHER_POD)],
        promql_expr_test: [{ expr: `round(${query} * 1000)`, eval_time: '3m', exp_samples: [{ labels: podLabels, value: 2000 }, { labels: `{pod="${OTHER_POD}"}`, value: 7000 }] }],
      },
    ]));
  });

  test('GPU utilization of 0.85 and 0.65 on a pod’s two GPUs reaches the HPA as 75 (percent)', () => {
    const query = expandAdapterQuery(ruleFor('nv_gpu_utilization').metricsQuery, { series: 'nv_gpu_utilization', namespace: NAMESPACE, pods: [POD] });
    const gpu = (uuid: string, value: number, pod = POD) => ({ series: triton('nv_gpu_utilization', { gpu_uuid: uuid }, pod), values: `${value}x20` });
    expectPasses(runRuleTests([], [
      {
        interval: '5s',
        input_series: [gpu('GPU-0b5e2a4c-1f4e-4d7a-9e1b-3c2d5e6f7a8b', 0.85), gpu('GPU-7c1d9e8f-2a3b-4c5d-8e9f-0a1b2c3d4e5f', 0.65), gpu('GPU-1e2f3a4b-5c6d-7e8f-9a0b-1c2d3e4f5a6b', 0.1, OTHER_POD)],
        promql_expr_test: [{ expr: near(query, 75), eval_time: '1m', exp_samples: [{ labels: podLabels, value: 1 }] }],
      },
    ]));
  });
});

// The throughput mode's dynamic batcher may hold a dinov2 request up to its delay, and Triton counts that as queue
// time (core dynamic_batch_scheduler.cc, infer_stats.cc); its counters cannot tell that wait from a busy queue.
describe('the throughput mode\'s queue/compute ratio never reads below the true ratio (promtool)', () => {
  const DELAY_US = 1000;
  const throughput = { conversion: { throughputMode: { enabled: true, maxQueueDelayMicroseconds: DELAY_US } } };
  const adapterQuery = (input: object, pods = [POD]) => {
    const adapter = releaseValues(findResource(synthesize(input).platform, 'helm_release', 'prometheus-adapter'));
    const rule = adapter.rules.custom.find((r: any) => r.seriesQuery.startsWith('nv_inference_queue_duration_us{'));
    return expandAdapterQuery(rule.metricsQuery, { series: 'nv_inference_queue_duration_us', namespace: NAMESPACE, pods });
  };
  /** Per interval: dinov2 serves `requests` requests, queueing and computing the given µs each; superpoint computes `otherUs`. */
  function pod(requests: number, dinoQueueUs: number, dinoComputeUs: number, otherUs: number, intervals: number, name = POD) {
    const model = (m: string) => ({ model: m, version: '1' });
    return [
      { series: triton('nv_inference_request_success', model('dinov2'), name), values: counter(requests, intervals) },
      { series: triton('nv_inference_queue_duration_us', model('dinov2'), name), values: counter(requests * dinoQueueUs, intervals) },
      { series: triton('nv_inference_compute_infer_duration_us', model('dinov2'), name), values: counter(requests * dinoComputeUs, intervals) },
      { series: triton('nv_inference_queue_duration_us', model('superpoint'), name), values: counter(0, intervals) },
      { series: triton('nv_inference_compute_infer_duration_us', model('superpoint'), name), values: counter(otherUs, intervals) },
      // The ensemble repeats its steps' compute (core ensemble_scheduler.cc): it must stay out of both sums.
      { series: triton('nv_inference_compute_infer_duration_us', model(TRITON_ENSEMBLE_MODEL), name), values: counter(requests * dinoComputeUs + otherUs, intervals) },
      { series: triton('nv_inference_queue_duration_us', model(TRITON_ENSEMBLE_MODEL), name), values: counter(40, intervals) },
    ];
  }

  test('batches that fill at once: dinov2 queues 3 ms and computes 2 ms per request, the others compute 1 ms: the HPA reads the true 1.2', () => {
    // Two dinov2 requests (one pair) per interval: queue 6 ms over compute 4 + 1 ms. Taking the full delay off each
    // request, as before, read (6 - 2) / 5 = 0.8: below the target, no scale-out.
    expectPasses(runRuleTests([], [
      { interval: '5s', input_series: pod(2, 3000, 2000, 1000, 60), promql_expr_test: [{ expr: near(adapterQuery(throughput), 1.2), eval_time: '3m', exp_samples: [{ labels: `{pod="${POD}"}`, value: 1 }] }] },
    ]));
  });

  test('an idle pod whose every request waited the whole delay reads at most the delay over the compute time', () => {
    // True ratio 0 (all of the queue time is the batcher's hold); the reading, 2 x 1 ms over 2 x 20 + 5 ms, stays far below the target.
    expectPasses(runRuleTests([], [
      { interval: '5s', input_series: pod(2, DELAY_US, 20_000, 5000, 60), promql_expr_test: [{ expr: near(adapterQuery(throughput), 2000 / 45_000), eval_time: '3m', exp_samples: [{ labels: `{pod="${POD}"}`, value: 1 }] }] },
    ]));
  });

  test('the rule is the same with and without the mode, and the saturation alert uses it', () => {
    expect(adapterQuery(throughput)).toBe(adapterQuery({}));
    const { rule } = renderAlertChart(throughput);
    const saturated = rule.spec.groups.flatMap((group: any) => group.rules).find((r: any) => r.alert === 'OmniglueTritonQueueSaturated');
    const steps = `job="${TRITON_SCRAPE_JOB}", namespace="${NAMESPACE}", model!="${TRITON_ENSEMBLE_MODEL}"`;
    expect(saturated.expr.replace(/\s+/g, ' ')).toBe(`${queueToComputeRatioQuery({ steps, groupBy: 'namespace, pod', window: '5m' })} > 5`);
    expectPasses(runRuleTests(rule.spec.groups, [
      {
        interval: '1m',
        // 6 on one pod (dinov2 queues 3 x its compute plus the others' share), 4 on the other.
        input_series: [...pod(2, 15_000, 2000, 1000, 40, OTHER_POD), ...pod(2, 10_000, 2000, 1000, 40)],
        promql_expr_test: [{ expr: firing('OmniglueTritonQueueSaturated'), eval_time: '25m', exp_samples: [{ labels: alertLabels('OmniglueTritonQueueSaturated', { namespace: NAMESPACE, pod: OTHER_POD, severity: 'warning' }), value: 1 }] }],
      },
    ]));
  });
});

describe('synth warns when the batcher\'s delay alone could hold the HPA\'s ratio at its target', () => {
  const warnings = (throughputMode: object, autoscaling: object = {}) =>
    synthesize({ conversion: { throughputMode: { enabled: true, ...throughputMode } }, autoscaling })
      .stacks.serving.node.findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === '@cdktf/warn').map((m) => String(m.data)));

  test('a 20 ms delay against a target of 1', () => {
    const [warning] = warnings({ maxQueueDelayMicroseconds: 20_000 });
    expect(warning).toMatch(/^conversion\.throughputMode\.maxQueueDelayMicroseconds \(20000\) can add up to 20000 µs per dinov2 request .*\.target 1\); where dinov2 computes a request in less than 20000 µs, the delay alone can hold the ratio at its target/);
  });

  test('not the default delay, nor a target that leaves room, nor without the queue ratio', () => {
    expect(warnings({})).toEqual([]);
    expect(warnings({ maxQueueDelayMicroseconds: 20_000 }, { queueToComputeRatio: { target: '25' } })).toEqual([]);
    expect(warnings({ maxQueueDelayMicroseconds: 20_000 }, { queueToComputeRatio: { enabled: false } })).toEqual([]);
  });
});
