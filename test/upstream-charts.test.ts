import { parse as parseYaml } from 'yaml';
import { VERSIONS } from '../config/versions';
import { renderAlertChart } from './support/alert-chart';
import { FIXTURES, manifest, renderRelease } from './support/chart-fixtures';
import { selects, tolerates } from './support/kubernetes-matching';
import { findResource, synthesize } from './support/synth';

describe('upstream chart fixtures manifest (always runs)', () => {
  test.each(manifest.charts.map((entry) => [entry.chart, entry] as const))('%s is recorded at the version config/versions.ts pins', (_chart, entry) => {
    expect(VERSIONS).toHaveProperty(entry.versionsKey);
    if (VERSIONS[entry.versionsKey] !== entry.version) {
      throw new Error(
        `config/versions.ts pins ${entry.chart} ${VERSIONS[entry.versionsKey]}, but test/fixtures/upstream-charts.json records ${entry.version}: ` +
          'package the new version (scripts/package-chart-fixtures.ts) and update its entry (version, file, tag, commit, sha256, contentSha256)',
      );
    }
    expect(entry.file).toBe(`${entry.chart}-${entry.version}.tgz`);
  });

  test('every chart the stacks install has an entry, with its provenance and licence', () => {
    const chartVersionKeys = Object.keys(VERSIONS).filter((key) => key.endsWith('Chart'));
    expect(manifest.charts.map((entry) => entry.versionsKey).sort()).toEqual(chartVersionKeys.sort());
    for (const entry of [...manifest.charts, ...manifest.charts.flatMap((chart) => chart.subcharts)]) {
      expect(entry.licence).toBe('Apache-2.0');
      expect(entry.source).toMatchObject({ repository: expect.stringMatching(/^[\w.-]+\/[\w.-]+$/), tag: expect.any(String), commit: expect.stringMatching(/^[0-9a-f]{40}$/) });
    }
    for (const entry of manifest.charts) {
      expect(entry.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(entry.contentSha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});

const SKIP_REASON = `skipped: ${manifest.environmentVariable} is not set; point it at a directory holding the packaged charts listed in test/fixtures/upstream-charts.json (build them with scripts/package-chart-fixtures.ts)`;
const describeWithFixtures = FIXTURES === undefined ? describe.skip : describe;

describeWithFixtures(`real upstream charts rendered with the stack's values${FIXTURES === undefined ? ` (${SKIP_REASON})` : ''}`, () => {
  let synthesized: ReturnType<typeof synthesize>;
  const release = (name: string) => findResource(synthesized.platform, 'helm_release', name);
  // Rendered before the tests, not while Jest collects them: a skipped describe still runs its body.
  let stack: any[] = [];
  let adapter: any[] = [];
  let devicePlugin: any[] = [];
  beforeAll(() => {
    synthesized = synthesize();
    stack = renderRelease(release('prometheus_release'), 'kube-prometheus-stack');
    adapter = renderRelease(release('prometheus-adapter'), 'prometheus-adapter');
    devicePlugin = renderRelease(release('nvidia-device-plugin'), 'nvidia-device-plugin');
  });
  const find = (objects: any[], kind: string, name?: string) => objects.filter((object) => object.kind === kind && (name === undefined || object.metadata.name === name));
  const tritonPod = () => findResource(synthesized.serving, 'kubernetes_deployment_v1', 'triton').spec.template;

  test('the Triton scrape job keeps the labels and the port Triton’s pods carry', () => {
    const [secret] = find(stack, 'Secret').filter((object) => object.data?.['additional-scrape-configs.yaml'] !== undefined);
    const [job] = parseYaml(Buffer.from(secret.data['additional-scrape-configs.yaml'], 'base64').toString('utf8'));
    const metaLabels = Object.fromEntries(Object.entries(tritonPod().metadata.labels).map(([key, value]) => [`__meta_kubernetes_pod_label_${key.replace(/[^\w]/g, '_')}`, value]));
    const portNames = tritonPod().spec.container[0].port.map((port: any) => port.name);
    const keeps = job.relabel_configs.filter((rule: any) => rule.action === 'keep');
    expect(keeps.length).toBeGreaterThanOrEqual(3);
    for (const keep of keeps) {
      const [source] = keep.source_labels;
      const candidates = source === '__meta_kubernetes_pod_container_port_name' ? portNames : [metaLabels[source]];
      expect(candidates.some((value: string) => new RegExp(`^(?:${keep.regex})$`).test(value))).toBe(true);
    }
    const [prometheus] = find(stack, 'Prometheus');
    expect(prometheus.spec.additionalScrapeConfigs).toEqual({ name: secret.metadata.name, key: 'additional-scrape-configs.yaml' });
  });

  test('prometheus-adapter’s --prometheus-url names the rendered Prometheus Service and port', () => {
    const [deployment] = find(adapter, 'Deployment');
    const args: string[] = deployment.spec.template.spec.containers[0].args;
    const url = new URL(args.find((arg) => arg.startsWith('--prometheus-url='))!.slice('--prometheus-url='.length));
    const [serviceName, namespace] = url.hostname.split('.');
    const service = find(stack, 'Service', serviceName)[0];
    expect(service).toBeDefined();
    expect(service.metadata.namespace).toBe(namespace);
    expect(service.spec.ports.map((port: any) => port.port)).toContain(Number(url.port));
    expect(args).toContain('--metrics-max-age=15s');
  });

  test('prometheus-adapter serves exactly the metric names the HPA requests', () => {
    const configMap = find(adapter, 'ConfigMap').find((object) => object.data?.['config.yaml'] !== undefined);
    const config = parseYaml(configMap.data['config.yaml']);
    const served = config.rules.map((rule: any) => rule.name.as).sort();
    const hpa = findResource(synthesized.serving, 'kubernetes_horizontal_pod_autoscaler_v2', 'triton');
    expect(hpa.spec.metric.map((metric: any) => metric.pods.metric.name).sort()).toEqual(served);
    expect(config).not.toHaveProperty('resourceRules');
  });

  test('every DaemonSet tolerates the GPU taint, whatever its value', () => {
    const { gpu } = synthesized.config;
    const daemonSets = [...find(devicePlugin, 'DaemonSet'), ...find(stack, 'DaemonSet')];
    expect(daemonSets.map((daemonSet) => daemonSet.metadata.name).sort()).toEqual([
      'kube-prometheus-stack-prometheus-node-exporter', 'nvidia-device-plugin', 'nvidia-device-plugin-gpu-feature-discovery', 'nvidia-device-plugin-mps-control-daemon',
      'nvidia-device-plugin-node-feature-discovery-worker',
    ]);
    for (const value of ['present', 'true', '']) {
      for (const daemonSet of daemonSets) {
        const tolerations = daemonSet.spec.template.spec.tolerations ?? [];
        const taint = { key: gpu.taint.key, value, effect: gpu.taint.effect };
        if (!tolerations.some((toleration: any) => tolerates(toleration, taint))) throw new Error(`DaemonSet ${daemonSet.metadata.name} does not tolerate ${JSON.stringify(taint)}`);
      }
    }
  });

  test('Prometheus’s rule selector selects the PrometheusRule, in its namespace', () => {
    const [prometheus] = find(stack, 'Prometheus');
    const { rule } = renderAlertChart();
    expect(selects(prometheus.spec.ruleSelector, rule.metadata.labels)).toBe(true);
    expect(selects(prometheus.spec.ruleNamespaceSelector, { 'kubernetes.io/metadata.name': 'monitoring' })).toBe(true);
  });

  test('Grafana’s dashboard sidecar picks up the dashboard ConfigMap', () => {
    const grafana = find(stack, 'Deployment').find((object) => object.metadata.name === 'kube-prometheus-stack-grafana');
    const sidecar = grafana.spec.template.spec.containers.find((container: any) => container.name === 'grafana-sc-dashboard');
    const env = Object.fromEntries(sidecar.env.filter((variable: any) => variable.value !== undefined).map((variable: any) => [variable.name, variable.value]));
    const configMap = findResource(synthesized.serving, 'kubernetes_config_map_v1', 'grafana-dashboard');
    expect(configMap.metadata.labels[env.LABEL]).toBe(env.LABEL_VALUE);
    expect(env.NAMESPACE === 'ALL' || env.NAMESPACE.split(',').includes(configMap.metadata.namespace)).toBe(true);
    expect(env.RESOURCE === undefined || ['both', 'configmap'].includes(env.RESOURCE)).toBe(true);
  });

  test('the selector checks can fail: a label the Triton pods lack is not selected', () => {
    const [prometheus] = find(stack, 'Prometheus');
    expect(selects({ matchLabels: { release: 'other' } }, {})).toBe(false);
    expect(selects(prometheus.spec.ruleSelector, {})).toBe(true);
    expect(tolerates({ key: 'nvidia.com/gpu', operator: 'Equal', value: 'present', effect: 'NoSchedule' }, { key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' })).toBe(false);
  });
});
