/**
 * The OmniGlue Grafana dashboard (JSON model, schemaVersion 39). Every expression reads only metrics in
 * lib/metric-catalog.ts and follows docs/metrics.md: the ensemble's own series for what clients see, its steps'
 * for queue and compute time, failures halved. `$__rate_interval` is Grafana's (at least four scrape intervals).
 */
import { batcherShareQuery, DeliberateQueueDelay, queueToComputeRatioQuery } from './triton-metrics';

export interface TritonDashboardProps {
  /** Namespace of the Triton pods, the HPA and the conversion Jobs. */
  readonly servingNamespace: string;
  /** Name of the Deployment (and of its HPA). */
  readonly deploymentName: string;
  /** `job` label of Triton's series. */
  readonly scrapeJob: string;
  /** The ensemble clients call. */
  readonly ensembleModel: string;
  /** Name prefix of the conversion Jobs. */
  readonly conversionJobPrefix: string;
  /** The throughput mode's batcher delay: the ratio panel also shows the most it can add to the ratio. */
  readonly deliberateQueueDelay?: DeliberateQueueDelay;
}

export interface DashboardPanel {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly targets: ReadonlyArray<{ readonly expr: string; readonly legendFormat: string }>;
  readonly type?: 'timeseries' | 'state-timeline';
}

const RATE = '$__rate_interval';

export function tritonDashboardPanels(props: TritonDashboardProps): DashboardPanel[] {
  const triton = `job="${props.scrapeJob}", namespace="${props.servingNamespace}"`;
  const ensemble = `${triton}, model="${props.ensembleModel}"`;
  const steps = `${triton}, model!="${props.ensembleModel}"`;
  const hpa = `namespace="${props.servingNamespace}", horizontalpodautoscaler="${props.deploymentName}"`;
  const jobs = `namespace="${props.servingNamespace}", job_name=~"${props.conversionJobPrefix}.*"`;
  const successRate = (selector: string, by = '') => `sum${by}(rate(nv_inference_request_success{${selector}}[${RATE}]))`;
  const perRequestMs = (metric: string) =>
    `sum by (model) (rate(${metric}{${steps}}[${RATE}])) / clamp_min(${successRate(steps, ' by (model) ')}, 1e-9) / 1000`;
  const percentile = (quantile: number) =>
    `histogram_quantile(${quantile}, sum by (le) (rate(nv_inference_first_response_histogram_ms_bucket{${ensemble}}[${RATE}])))`;
  return [
    {
      title: 'Ensemble requests',
      description: 'Requests to the ensemble per second. Each failed request is counted twice on the ensemble’s failure counter (docs/metrics.md), hence the halving.',
      unit: 'reqps',
      targets: [
        { expr: successRate(ensemble), legendFormat: 'succeeded' },
        { expr: `sum(rate(nv_inference_request_failure{${ensemble}}[${RATE}])) / 2`, legendFormat: 'failed' },
      ],
    },
    {
      title: 'Ensemble latency',
      description:
        'Mean request time, and percentiles of the time to response from the histogram Triton keeps with --metrics-config=histogram_latencies=true (set by the stack; buckets in the ensemble config).',
      unit: 'ms',
      targets: [
        { expr: `sum(rate(nv_inference_request_duration_us{${ensemble}}[${RATE}])) / clamp_min(${successRate(ensemble)}, 1e-9) / 1000`, legendFormat: 'mean' },
        ...[0.5, 0.95, 0.99].map((quantile) => ({ expr: percentile(quantile), legendFormat: `p${quantile * 100}` })),
      ],
    },
    {
      title: 'Queue time per request, by step',
      description: 'Time a request waits in each step’s queue. The ensemble itself queues nothing: its steps do.',
      unit: 'ms',
      targets: [{ expr: perRequestMs('nv_inference_queue_duration_us'), legendFormat: '{{model}}' }],
    },
    {
      title: 'Compute time per request, by step',
      description: 'Time each step executes per request. The ensemble’s own compute time is the sum of these and is left out.',
      unit: 'ms',
      targets: [{ expr: perRequestMs('nv_inference_compute_infer_duration_us'), legendFormat: '{{model}}' }],
    },
    {
      title: 'Mean batch size, by step',
      description:
        'Inferences per execution. 1 everywhere unless the throughput mode (conversion.throughputMode) lets dinov2 merge requests; near 1 there means requests rarely overlap enough to batch.',
      unit: 'none',
      targets: [
        {
          expr: `sum by (model) (rate(nv_inference_count{${steps}}[${RATE}])) / clamp_min(sum by (model) (rate(nv_inference_exec_count{${steps}}[${RATE}])), 1e-9)`,
          legendFormat: '{{model}}',
        },
      ],
    },
    {
      title: 'Queue/compute ratio per pod (HPA signal)',
      description:
        'What the HPA’s triton_queue_compute_ratio reads: the steps’ queue time over their compute time. In the throughput mode it includes ' +
        'the batcher’s wait for a fuller batch; “batcher’s share” is the most that wait can add (the delay for every dinov2 request).',
      unit: 'none',
      targets: [
        { expr: queueToComputeRatioQuery({ steps, groupBy: 'pod', window: RATE }), legendFormat: '{{pod}}' },
        ...(props.deliberateQueueDelay === undefined || props.deliberateQueueDelay.microseconds === 0
          ? []
          : [{ expr: batcherShareQuery({ steps, groupBy: 'pod', window: RATE }, props.deliberateQueueDelay), legendFormat: '{{pod}} batcher’s share (at most)' }]),
      ],
    },
    {
      title: 'GPU utilization per pod',
      description: 'Triton’s nv_gpu_utilization averaged over the pod’s GPUs: what the HPA’s triton_gpu_utilization_percent reads.',
      unit: 'percent',
      targets: [{ expr: `avg by (pod) (nv_gpu_utilization{${triton}}) * 100`, legendFormat: '{{pod}}' }],
    },
    {
      title: 'GPU memory per pod',
      description: 'Used and total memory of the pod’s GPUs.',
      unit: 'bytes',
      targets: [
        { expr: `sum by (pod) (nv_gpu_memory_used_bytes{${triton}})`, legendFormat: '{{pod}} used' },
        { expr: `sum by (pod) (nv_gpu_memory_total_bytes{${triton}})`, legendFormat: '{{pod}} total' },
      ],
    },
    {
      title: 'Replicas',
      description: 'Pods running, pods the HPA wants, and the HPA’s maximum (raise triton.replicas.max when desired sits at it).',
      unit: 'none',
      targets: [
        { expr: `kube_deployment_status_replicas{namespace="${props.servingNamespace}", deployment="${props.deploymentName}"}`, legendFormat: 'current' },
        { expr: `kube_horizontalpodautoscaler_status_desired_replicas{${hpa}}`, legendFormat: 'desired' },
        { expr: `kube_horizontalpodautoscaler_spec_max_replicas{${hpa}}`, legendFormat: 'maximum' },
      ],
    },
    {
      title: 'Model conversion Job',
      description: 'Running, completed or failed (the Job’s conditions; a retried pod does not make the Job failed).',
      unit: 'none',
      type: 'state-timeline',
      targets: [
        { expr: `kube_job_status_active{${jobs}} > 0`, legendFormat: '{{job_name}} running' },
        { expr: `kube_job_complete{${jobs}, condition="true"} == 1`, legendFormat: '{{job_name}} completed' },
        { expr: `kube_job_failed{${jobs}, condition="true"} == 1`, legendFormat: '{{job_name}} failed' },
      ],
    },
  ];
}

/** The dashboard as Grafana's JSON model, with a Prometheus data-source variable. */
export function tritonDashboard(props: TritonDashboardProps) {
  const panels = tritonDashboardPanels(props);
  return {
    uid: 'omniglue-triton',
    title: 'OmniGlue Triton',
    tags: ['omniglue', 'triton'],
    timezone: 'utc',
    schemaVersion: 39,
    editable: true,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: {
      list: [{ name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: { text: 'Prometheus', value: 'prometheus' } }],
    },
    panels: panels.map((panel, index) => ({
      id: index + 1,
      type: panel.type ?? 'timeseries',
      title: panel.title,
      description: panel.description,
      datasource: { type: 'prometheus', uid: '${datasource}' },
      gridPos: { x: (index % 2) * 12, y: Math.floor(index / 2) * 8, w: 12, h: 8 },
      fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
      targets: panel.targets.map((target, targetIndex) => ({
        refId: String.fromCharCode(65 + targetIndex),
        datasource: { type: 'prometheus', uid: '${datasource}' },
        expr: target.expr,
        legendFormat: target.legendFormat,
      })),
    })),
  };
}
