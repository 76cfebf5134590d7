import * as path from 'path';
import { ALERT_CHART_DIR, AlertRules } from '../constructs/alert-rules';
import { TRITON_SCRAPE_JOB } from '../lib/triton-metrics';
import { parseConfig } from '../config/load';
import { renderAlertChart } from './support/alert-chart';
import { helm } from './support/helm';
import { findResource, resourcesOfType, synthesize } from './support/synth';

const renderWithStackValues = renderAlertChart;

describe('alerting rules chart', () => {
  test('passes helm lint --strict', () => {
    expect(helm(['lint', ALERT_CHART_DIR, '--strict'])).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  test('renders one PrometheusRule in the monitoring namespace from the values the stack passes', () => {
    const { documents } = renderWithStackValues();
    expect(documents).toHaveLength(1);
    expect(documents[0]).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'omniglue-alerts', namespace: 'monitoring' } });
  });

  test('every rule watches the stack’s scrape job, namespace and workload names and says how bad it is', () => {
    const { documents } = renderWithStackValues({ namespace: 'vision' });
    const rules = documents[0].spec.groups.flatMap((group: any) => group.rules);
    expect(rules.map((rule: any) => rule.alert)).toEqual([
      'OmniglueTritonTargetDown', 'OmniglueTritonGpuMetricMissing', 'OmniglueTritonUnavailable', 'OmniglueTritonInferenceFailures',
      'OmniglueTritonQueueSaturated', 'OmniglueTritonAutoscalerAtMaximum', 'OmniglueModelConversionFailed',
    ]);
    for (const rule of rules) {
      expect(rule.expr).toContain('namespace="vision"');
      expect(['critical', 'warning']).toContain(rule.labels.severity);
      expect(rule.annotations.summary).toBeTruthy();
    }
    const gpuRule = rules.find((rule: any) => rule.alert === 'OmniglueTritonGpuMetricMissing');
    expect(gpuRule.expr).toBe(`absent(nv_gpu_utilization{job="${TRITON_SCRAPE_JOB}", namespace="vision"})`);
    expect(rules.find((rule: any) => rule.alert === 'OmniglueTritonUnavailable').expr).toContain('deployment="omniglue-triton"');
    expect(rules.find((rule: any) => rule.alert === 'OmniglueModelConversionFailed').expr).toContain('job_name=~"omniglue-convert-.*"');
  });

  test('carries a digest of the chart, so a template change upgrades the release', () => {
    const { documents, release } = renderWithStackValues();
    const digest = documents[0].metadata.annotations['omniglue.dev/chart-digest'];
    expect(digest).toMatch(/^[0-9a-f]{16}$/);
    expect(release.values[0]).toContain(`chartDigest: ${digest}`);
  });

  test('keeps Prometheus templating for the alert text intact', () => {
    const { documents } = renderWithStackValues();
    const target = documents[0].spec.groups[0].rules[0];
    expect(target.annotations.summary).toContain('{{ $labels.pod }}');
  });
});

describe('AlertRules', () => {
  test('installs the local chart through a path that resolves from the stack’s Terraform directory', () => {
    const { serving } = synthesize();
    const release = findResource(serving, 'helm_release', 'alert-rules');
    const stackDirectory = path.resolve(__dirname, '..', 'cdktf.out', 'stacks', 'omniglue-serving');
    expect(path.resolve(stackDirectory, release.chart)).toBe(ALERT_CHART_DIR);
    expect(release).toMatchObject({ namespace: 'monitoring', wait: true, atomic: true });
  });

  test('can be left out, and the serving stack then needs no helm provider', () => {
    const { serving } = synthesize({ monitoring: { installAlertRules: false } });
    expect(resourcesOfType(serving, 'helm_release')).toEqual({});
    expect(JSON.parse(serving.json).provider).not.toHaveProperty('helm');
  });

  test('needs an operator-managed Prometheus', () => {
    expect(() => parseConfig({ monitoring: { installKubePrometheusStack: false, prometheusOperator: false, installPrometheusAdapter: false } })).toThrow(
      /monitoring\.installAlertRules needs a Prometheus Operator/,
    );
  });

  test('rejects a failure threshold that is not a share', () => {
    const { stacks } = synthesize();
    const { server, conversionJob } = stacks.serving;
    expect(() => new AlertRules(server, 'bad', { server, conversionJob, monitoringNamespace: 'monitoring', failureRatioThreshold: 5 })).toThrow(
      /failureRatioThreshold \(5\) must be between 0 and 1/,
    );
  });
});
