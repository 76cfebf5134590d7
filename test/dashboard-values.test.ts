import { DashboardPanel, tritonDashboardPanels, TritonDashboardProps } from '../lib/triton-dashboard';
import { loadModelRepository, MODEL_REPOSITORY_DIR } from '../lib/triton-model-config';
import { TRITON_ENSEMBLE_MODEL, TRITON_SCRAPE_JOB } from '../lib/triton-metrics';
import { counter, PromtoolResult, runRuleTests } from './support/promtool';

// Every target of every panel, evaluated by promtool on series shaped as Triton and kube-state-metrics expose them,
// with distractors a wrong edit would pick up: another namespace, the ensemble among the steps, a step's failures
// among the ensemble's, a Job that only retried a pod, another Deployment.
const NS = 'omniglue';
const PROPS: TritonDashboardProps = {
  servingNamespace: NS,
  deploymentName: 'omniglue-triton',
  scrapeJob: TRITON_SCRAPE_JOB,
  ensembleModel: TRITON_ENSEMBLE_MODEL,
  conversionJobPrefix: 'omniglue-convert-',
  deliberateQueueDelay: { model: 'dinov2', microseconds: 1000 },
};
const INTERVALS = 40;

const labels = (all: Record<string, string>) => `{${Object.entries(all).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
const triton = (name: string, extra: Record<string, string>, pod = 'p1', namespace = NS) => `${name}${labels({ job: TRITON_SCRAPE_JOB, namespace, pod, ...extra })}`;
const grow = (series: string, perInterval: number) => ({ series, values: counter(perInterval, INTERVALS) });
const flat = (series: string, value: number) => ({ series, values: `${value}x${INTERVALS}` });
const model = (name: string) => ({ model: name, version: '1' });

/** Per 15 s interval on pod p1: successes, queue µs and compute µs of each step, and of the ensemble. */
const STEPS: Record<string, { success: number; queue: number; compute: number; inferences: number; executions: number }> = {
  superpoint: { success: 60, queue: 60 * 2000, compute: 60 * 5000, inferences: 60, executions: 60 },
  dinov2: { success: 60, queue: 60 * 3000, compute: 60 * 20_000, inferences: 60, executions: 15 },
};

function inputSeries() {
  const series = [
    // Ensemble: 6 + 2 requests/s on p1 and p2; 50 ms each; 2 failures per 15 s reported twice (reason OTHER).
    grow(triton('nv_inference_request_success', model(TRITON_ENSEMBLE_MODEL)), 90),
    grow(triton('nv_inference_request_success', model(TRITON_ENSEMBLE_MODEL), 'p2'), 30),
    grow(triton('nv_inference_request_success', model(TRITON_ENSEMBLE_MODEL), 'p9', 'elsewhere'), 150),
    grow(triton('nv_inference_request_duration_us', model(TRITON_ENSEMBLE_MODEL)), 90 * 50_000),
    grow(triton('nv_inference_request_duration_us', model(TRITON_ENSEMBLE_MODEL), 'p2'), 30 * 50_000),
    grow(triton('nv_inference_request_failure', { ...model(TRITON_ENSEMBLE_MODEL), reason: 'OTHER' }), 6),
    grow(triton('nv_inference_request_failure', { ...model(TRITON_ENSEMBLE_MODEL), reason: 'BACKEND' }), 0),
    // A step's failure, already inside the ensemble's count, and a step's request time.
    grow(triton('nv_inference_request_failure', { ...model('omniglue'), reason: 'BACKEND' }), 3),
    grow(triton('nv_inference_request_duration_us', model('omniglue')), 90 * 1_000_000),
    // The ensemble's own queue and compute (the sum of its steps'), which the step panels leave out.
    grow(triton('nv_inference_queue_duration_us', model(TRITON_ENSEMBLE_MODEL)), 30 * 40),
    grow(triton('nv_inference_compute_infer_duration_us', model(TRITON_ENSEMBLE_MODEL)), 60 * 25_000),
    grow(triton('nv_inference_count', model(TRITON_ENSEMBLE_MODEL)), 30),
    grow(triton('nv_inference_exec_count', model(TRITON_ENSEMBLE_MODEL)), 30),
    // p2's steps: ratio 2 (dinov2 alone: 20 requests queueing 3 ms and computing 1.5 ms each).
    grow(triton('nv_inference_queue_duration_us', model('dinov2'), 'p2'), 20 * 3000),
    grow(triton('nv_inference_compute_infer_duration_us', model('dinov2'), 'p2'), 20 * 1500),
    grow(triton('nv_inference_request_success', model('dinov2'), 'p2'), 20),
    // GPUs: p1 has two, p2 one, p9 is in another namespace.
    flat(triton('nv_gpu_utilization', { gpu_uuid: 'GPU-a' }), 0.85),
    flat(triton('nv_gpu_utilization', { gpu_uuid: 'GPU-b' }), 0.65),
    flat(triton('nv_gpu_utilization', { gpu_uuid: 'GPU-c' }, 'p2'), 0.3),
    flat(triton('nv_gpu_utilization', { gpu_uuid: 'GPU-d' }, 'p9', 'elsewhere'), 1),
    flat(triton('nv_gpu_memory_used_bytes', { gpu_uuid: 'GPU-a' }), 4e9),
    flat(triton('nv_gpu_memory_used_bytes', { gpu_uuid: 'GPU-b' }), 6e9),
    flat(triton('nv_gpu_memory_total_bytes', { gpu_uuid: 'GPU-a' }), 24e9),
    flat(triton('nv_gpu_memory_total_bytes', { gpu_uuid: 'GPU-b' }), 24e9),
    // kube-state-metrics: the Deployment, its HPA, another Deployment, and three conversion Jobs and a backup Job.
    flat(`kube_deployment_status_replicas${labels({ namespace: NS, deployment: 'omniglue-triton' })}`, 3),
    flat(`kube_deployment_status_replicas_available${labels({ namespace: NS, deployment: 'omniglue-triton' })}`, 2),
    flat(`kube_deployment_status_replicas${labels({ namespace: NS, deployment: 'other' })}`, 9),
    flat(`kube_horizontalpodautoscaler_status_desired_replicas${labels({ namespace: NS, horizontalpodautoscaler: 'omniglue-triton' })}`, 4),
    flat(`kube_horizontalpodautoscaler_spec_max_replicas${labels({ namespace: NS, horizontalpodautoscaler: 'omniglue-triton' })}`, 6),
    flat(`kube_job_status_active${labels({ namespace: NS, job_name: 'omniglue-convert-a' })}`, 1),
    flat(`kube_job_status_active${labels({ namespace: NS, job_name: 'omniglue-convert-b' })}`, 0),
    flat(`kube_job_status_active${labels({ namespace: NS, job_name: 'backup-1' })}`, 1),
    ...['true', 'false'].map((condition) => flat(`kube_job_complete${labels({ namespace: NS, job_name: 'omniglue-convert-b', condition })}`, condition === 'true' ? 1 : 0)),
    // Job c failed; Job b retried one pod (Status.Failed 1) and completed: only c is "failed".
    ...['true', 'false'].map((condition) => flat(`kube_job_failed${labels({ namespace: NS, job_name: 'omniglue-convert-c', condition })}`, condition === 'true' ? 1 : 0)),
    flat(`kube_job_status_failed${labels({ namespace: NS, job_name: 'omniglue-convert-b', reason: '' })}`, 1),
  ];
  for (const [name, step] of Object.entries(STEPS)) {
    series.push(
      grow(triton('nv_inference_request_success', model(name)), step.success),
      grow(triton('nv_inference_queue_duration_us', model(name)), step.queue),
      grow(triton('nv_inference_compute_infer_duration_us', model(name)), step.compute),
      grow(triton('nv_inference_count', model(name)), step.inferences),
      grow(triton('nv_inference_exec_count', model(name)), step.executions),
    );
  }
  // The ensemble's latency histogram: per interval 20 within 75 ms, 60 within 100, 90 within 150, all within 200.
  const buckets = loadModelRepository(MODEL_REPOSITORY_DIR).ensemble.histogramBuckets.nv_inference_first_response_histogram_ms;
  for (const le of [...buckets.map(String), '+Inf']) {
    const within = Number(le) < 75 ? 0 : Number(le) < 100 ? 20 : Number(le) < 150 ? 60 : Number(le) < 200 ? 90 : 100;
    series.push(grow(triton('nv_inference_first_response_histogram_ms_bucket', { ...model(TRITON_ENSEMBLE_MODEL), le }), within));
  }
  return series;
}

type Expected = Record<string, number>;
/** Per panel and legend: the value of each output series (by its labels), as the panel should show it. */
const EXPECTED: Record<string, Record<string, Expected>> = {
  'Ensemble requests': { succeeded: { '{}': 8 }, failed: { '{}': 0.2 } },
  'Ensemble latency': { mean: { '{}': 50 }, p50: { '{}': 93.75 }, p95: { '{}': 175 }, p99: { '{}': 195 } },
  'Queue time per request, by step': { '{{model}}': { '{model="superpoint"}': 2, '{model="dinov2"}': 3 } },
  // dinov2 over both pods: (60 x 20 ms + 20 x 1.5 ms) / 80 requests.
  'Compute time per request, by step': { '{{model}}': { '{model="superpoint"}': 5, '{model="dinov2"}': 15.375 } },
  'Mean batch size, by step': { '{{model}}': { '{model="superpoint"}': 1, '{model="dinov2"}': 4 } },
  'Queue/compute ratio per pod (HPA signal)': {
    '{{pod}}': { '{pod="p1"}': 0.2, '{pod="p2"}': 2 },
    // 1 ms for each of p1's 60 dinov2 requests over 1.5 s of compute per interval; p2: 20 requests over 30 ms.
    '{{pod}} batcher’s share (at most)': { '{pod="p1"}': 0.04, '{pod="p2"}': 2 / 3 },
  },
  'GPU utilization per pod': { '{{pod}}': { '{pod="p1"}': 75, '{pod="p2"}': 30 } },
  'GPU memory per pod': { '{{pod}} used': { '{pod="p1"}': 1e10 }, '{{pod}} total': { '{pod="p1"}': 4.8e10 } },
  Replicas: {
    current: { [`{deployment="omniglue-triton", namespace="${NS}"}`]: 3 },
    desired: { [`{horizontalpodautoscaler="omniglue-triton", namespace="${NS}"}`]: 4 },
    maximum: { [`{horizontalpodautoscaler="omniglue-triton", namespace="${NS}"}`]: 6 },
  },
  'Model conversion Job': {
    '{{job_name}} running': { [`{job_name="omniglue-convert-a", namespace="${NS}"}`]: 1 },
    '{{job_name}} completed': { [`{condition="true", job_name="omniglue-convert-b", namespace="${NS}"}`]: 1 },
    '{{job_name}} failed': { [`{condition="true", job_name="omniglue-convert-c", namespace="${NS}"}`]: 1 },
  },
};

/** promtool's verdict on every target of `panels` against EXPECTED (values compared in thousandths). */
export function evaluatePanels(panels: DashboardPanel[]): PromtoolResult {
  const tests = panels.flatMap((panel) =>
    panel.targets.map((target) => {
      const expected = EXPECTED[panel.title]?.[target.legendFormat];
      if (expected === undefined) throw new Error(`no expected values for panel '${panel.title}', target '${target.legendFormat}': add them to EXPECTED`);
      return {
        expr: `round((${target.expr.replace(/\$__rate_interval/g, '1m')}) * 1000)`,
        eval_time: '5m',
        exp_samples: Object.entries(expected).map(([series, value]) => ({ labels: series, value: Math.round(value * 1000) })),
      };
    }),
  );
  return runRuleTests([], [{ interval: '15s', input_series: inputSeries(), promql_expr_test: tests }]);
}

describe('every dashboard panel, evaluated by value (promtool)', () => {
  test('the default and the throughput mode show what each panel says it shows', () => {
    const withShare = tritonDashboardPanels(PROPS);
    const withoutShare = tritonDashboardPanels({ ...PROPS, deliberateQueueDelay: undefined });
    expect(withShare.flatMap((panel) => panel.targets.map((target) => `${panel.title}: ${target.legendFormat}`)).sort()).toEqual(
      Object.entries(EXPECTED).flatMap(([title, targets]) => Object.keys(targets).map((legend) => `${title}: ${legend}`)).sort(),
    );
    expect(withoutShare.find((panel) => panel.title.startsWith('Queue/compute'))?.targets).toHaveLength(1);
    for (const panels of [withShare, withoutShare]) {
      const result = evaluatePanels(panels);
      if (!result.ok) throw new Error(result.output);
    }
  });

  /** Plausible wrong edits: each must make the evaluation fail. */
  const MUTATIONS: [string, string, (expr: string) => string][] = [
    ['counting each ensemble failure twice', 'Ensemble requests', (e) => e.replace(/\)\) \/ 2$/, '))')],
    ['the mean in µs instead of ms', 'Ensemble latency', (e) => e.replace(/ \/ 1000$/, '')],
    ['the p95 at the 90th percentile', 'Ensemble latency', (e) => e.replace('histogram_quantile(0.95', 'histogram_quantile(0.9')],
    ['the ensemble among the steps', 'Queue time per request, by step', (e) => e.replaceAll(`model!="${TRITON_ENSEMBLE_MODEL}"`, 'model=~".+"')],
    ['compute per execution instead of per request', 'Compute time per request, by step', (e) => e.replace('nv_inference_request_success', 'nv_inference_exec_count')],
    ['executions over inferences', 'Mean batch size, by step', (e) => e.replace(/nv_inference_count(.*)nv_inference_exec_count/, 'nv_inference_exec_count$1nv_inference_count')],
    ['the ensemble in the HPA ratio', 'Queue/compute ratio per pod (HPA signal)', (e) => e.replaceAll(`model!="${TRITON_ENSEMBLE_MODEL}"`, 'model=~".+"')],
    ['the busiest GPU instead of the average', 'GPU utilization per pod', (e) => e.replace('avg by (pod)', 'max by (pod)')],
    ['the fraction instead of percent', 'GPU utilization per pod', (e) => e.replace(/ \* 100$/, '')],
    ['average GPU memory instead of the sum', 'GPU memory per pod', (e) => e.replace('sum by (pod)', 'avg by (pod)')],
    ['available instead of current replicas', 'Replicas', (e) => e.replace('kube_deployment_status_replicas{', 'kube_deployment_status_replicas_available{')],
    ['failed pods instead of the Failed condition', 'Model conversion Job', (e) => e.replace(/kube_job_failed\{(.*), condition="true"\} == 1/, 'kube_job_status_failed{$1} > 0')],
    ['every namespace', 'GPU utilization per pod', (e) => e.replace(`, namespace="${NS}"`, '')],
  ];

  test.each(MUTATIONS)('fails on a plausible wrong edit: %s', (_name, title, mutate) => {
    const panels = tritonDashboardPanels(PROPS).map((panel) =>
      panel.title !== title ? panel : { ...panel, targets: panel.targets.map((target) => ({ ...target, expr: mutate(target.expr) })) },
    );
    const mutated = panels.find((panel) => panel.title === title)!;
    const original = tritonDashboardPanels(PROPS).find((panel) => panel.title === title)!;
    expect(mutated.targets.map((t) => t.expr)).not.toEqual(original.targets.map((t) => t.expr));
    const result = evaluatePanels(panels);
    expect(result.ok).toBe(false);
    // It fails for the edit: every failing expression is one of the edited panel's.
    const failing = [...result.output.matchAll(/expr: "(.*)", time:/g)].map((m) => JSON.parse(`"${m[1]}"`).replace(/^round\(\((.*)\) \* 1000\)$/, '$1'));
    expect(failing.length).toBeGreaterThan(0);
    for (const expr of failing) expect(mutated.targets.map((t) => t.expr.replace(/\$__rate_interval/g, '1m'))).toContain(expr);
  });
});
