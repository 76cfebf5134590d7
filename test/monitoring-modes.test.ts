import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { POD_MONITOR_CHART_DIR } from '../constructs/triton-pod-monitor';
import { parseConfig } from '../config/load';
import { TRITON_SCRAPE_JOB } from '../lib/triton-metrics';
import { renderAlertChart } from './support/alert-chart';
import { helm } from './support/helm';
import { findResource, releaseValues, resourcesOfType, synthesize } from './support/synth';

const OWN_OPERATOR = {
  namespace: 'observability',
  installKubePrometheusStack: false,
  existingPrometheusUrl: 'http://prometheus-operated.observability.svc:9090',
  podMonitorLabels: { release: 'prometheus' },
  ruleLabels: { release: 'prometheus' },
};
const WITHOUT_OPERATOR = { installKubePrometheusStack: false, prometheusOperator: false, installAlertRules: false, existingPrometheusUrl: 'http://prometheus.observability.svc:9090' };

function renderPodMonitor(input = {}) {
  const release = findResource(synthesize(input).serving, 'helm_release', 'pod-monitor');
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-pod-monitor-'));
  try {
    fs.writeFileSync(path.join(directory, 'values.yaml'), release.values[0]);
    const manifest = helm(['template', release.name, POD_MONITOR_CHART_DIR, '--namespace', release.namespace, '--values', path.join(directory, 'values.yaml')]);
    return { release, documents: parseAllDocuments(manifest).map((document) => document.toJSON()) };
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

const tritonPodTemplate = (input = {}) => findResource(synthesize(input).serving, 'kubernetes_deployment_v1', 'triton').spec.template;

describe('with kube-prometheus-stack installed', () => {
  test('Prometheus gets a scrape job; there is no PodMonitor and no scrape config to paste', () => {
    const { serving, platform } = synthesize();
    expect(Object.keys(resourcesOfType(serving, 'helm_release')).some((name) => name.includes('pod-monitor'))).toBe(false);
    expect(platform.output).not.toHaveProperty('prometheus-scrape-config');
    const values = releaseValues(findResource(platform, 'helm_release', 'prometheus_release'));
    expect(values.prometheus.prometheusSpec.additionalScrapeConfigs.map((job: any) => job.job_name)).toEqual([TRITON_SCRAPE_JOB]);
  });

  test('the scrape job keeps exactly the pods that carry the Triton labels, on the port the container names', () => {
    const [job] = releaseValues(findResource(synthesize().platform, 'helm_release', 'prometheus_release')).prometheus.prometheusSpec.additionalScrapeConfigs;
    const template = tritonPodTemplate();
    const keeps = job.relabel_configs.filter((rule: any) => rule.action === 'keep');
    const podLabel = (meta: string) => Object.entries(template.metadata.labels).find(([key]) => `__meta_kubernetes_pod_label_${key.replace(/[^\w]/g, '_')}` === meta)?.[1];
    for (const keep of keeps.filter((rule: any) => rule.source_labels[0].startsWith('__meta_kubernetes_pod_label_'))) {
      expect(podLabel(keep.source_labels[0])).toBe(keep.regex);
    }
    const portKeep = keeps.find((rule: any) => rule.source_labels[0] === '__meta_kubernetes_pod_container_port_name');
    expect(template.spec.container[0].port.map((port: any) => port.name)).toContain(portKeep.regex);
  });
});

describe('with your own operator-managed Prometheus', () => {
  test('a PodMonitor in its namespace selects the Triton pods of the serving namespace by their own labels', () => {
    const { documents, release } = renderPodMonitor({ monitoring: OWN_OPERATOR });
    expect(release.namespace).toBe('observability');
    expect(documents).toHaveLength(1);
    const [podMonitor] = documents;
    expect(podMonitor).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor', metadata: { namespace: 'observability', labels: { release: 'prometheus' } } });
    expect(podMonitor.spec.namespaceSelector).toEqual({ matchNames: ['omniglue'] });
    const template = tritonPodTemplate({ monitoring: OWN_OPERATOR });
    expect(Object.keys(podMonitor.spec.selector.matchLabels).length).toBeGreaterThan(0);
    expect(template.metadata.labels).toMatchObject(podMonitor.spec.selector.matchLabels);
    const [endpoint] = podMonitor.spec.podMetricsEndpoints;
    expect(template.spec.container[0].port.map((port: any) => port.name)).toContain(endpoint.port);
    expect(endpoint).toMatchObject({ interval: '5s', scrapeTimeout: '4s' });
    expect(endpoint.relabelings).toEqual([{ action: 'replace', targetLabel: 'job', replacement: TRITON_SCRAPE_JOB }]);
  });

  test('the PrometheusRule carries the labels its rule selector requires', () => {
    const { rule, release } = renderAlertChart({ monitoring: OWN_OPERATOR });
    expect(release.namespace).toBe('observability');
    expect(rule.metadata.labels).toMatchObject({ release: 'prometheus' });
  });

  test('the PodMonitor chart passes helm lint --strict', () => {
    expect(helm(['lint', POD_MONITOR_CHART_DIR, '--strict'])).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });
});

describe('with your own Prometheus without the operator', () => {
  test('the platform stack outputs the scrape job to paste, and nothing needs a CRD', () => {
    const { platform, serving } = synthesize({ monitoring: WITHOUT_OPERATOR });
    const [job] = parseYaml(platform.output['prometheus-scrape-config'].value);
    expect(job).toEqual(releaseValues(findResource(synthesize().platform, 'helm_release', 'prometheus_release')).prometheus.prometheusSpec.additionalScrapeConfigs[0]);
    expect(resourcesOfType(serving, 'helm_release')).toEqual({});
    expect(JSON.parse(serving.json).provider).not.toHaveProperty('helm');
  });
});

describe('monitoring settings that contradict each other', () => {
  test.each([
    [{ prometheusOperator: false }, /monitoring\.prometheusOperator is false while monitoring\.installKubePrometheusStack is true/],
    [{ ...WITHOUT_OPERATOR, installAlertRules: true }, /monitoring\.installAlertRules needs a Prometheus Operator .* monitoring\.prometheusOperator is false/],
    [{ podMonitorLabels: { release: 'x' } }, /monitoring\.podMonitorLabels \(release\) label the PodMonitor .* needs monitoring\.installKubePrometheusStack false/],
    [{ ...WITHOUT_OPERATOR, podMonitorLabels: { release: 'x' } }, /monitoring\.podMonitorLabels \(release\)/],
    [{ installAlertRules: false, ruleLabels: { team: 'vision' } }, /monitoring\.ruleLabels \(team\) label the alerts' PrometheusRule, but monitoring\.installAlertRules is false/],
  ])('rejects %j', (monitoring, message) => {
    expect(() => parseConfig({ monitoring })).toThrow(message);
  });

  test('rejects a PodMonitor label that Kubernetes would refuse', () => {
    expect(() => parseConfig({ monitoring: { ...OWN_OPERATOR, podMonitorLabels: { release: 'not a label value!' } } })).toThrow(/monitoring\.podMonitorLabels\.release/);
  });
});
