import * as fs from 'fs';
import * as path from 'path';
import { Construct } from 'constructs';
import { settingProp } from '../config/construct-props';
import { helmValues, singleValuesDocument } from '../lib/helm-values';
import { HelmRelease } from '../lib/provider-classes';
import { AdapterRule, adapterRateWindowSeconds, tritonAdapterRules } from '../lib/prometheus-adapter-rules';
import { TRITON_CUSTOM_METRICS, TritonCustomMetrics } from '../lib/triton-metrics';
import { PrometheusMonitoring } from './prometheus-monitoring';
import { REPOSITORY_ROOT } from '../lib/paths';
import { urlParts } from '../lib/url-check';
import { ValidationError } from '../lib/validation-error';

const BASE_VALUES_FILE = path.join(REPOSITORY_ROOT, 'charts', 'prometheus-adapter', 'values.yaml');

export interface PrometheusAdapterProps {
  /** Namespace of the adapter. @default - setting monitoring.namespace */
  readonly namespace?: string;
  /** Helm repository of the chart (an internal mirror in air-gapped clusters). @default - setting chartRepositories.prometheusCommunity */
  readonly chartRepository?: string;
  /** Chart version (exact). @default - setting chartVersions.prometheusAdapter */
  readonly chartVersion?: string;
  /**
   * The Prometheus to query: the stack's own, or the URL of an existing one.
   */
  readonly prometheus: PrometheusMonitoring | string;
  /**
   * How often the adapter rediscovers series; a new Triton pod's metric appears after at most this long.
   * @default - setting monitoring.adapterRelistIntervalSeconds
   */
  readonly relistIntervalSeconds?: number;
  /**
   * How far back the adapter looks for series when it relists (`--metrics-max-age`). Its own default, the relist
   * interval, is about one scrape: a single late scrape would drop a pod's metric until the next relist.
   * @default - three scrape intervals, and at least twice the relist interval
   */
  readonly metricsMaxAgeSeconds?: number;
  /**
   * How often Prometheus scrapes Triton; rate windows span three scrapes so they always hold two samples.
   * @default - the installed Prometheus's interval, else setting monitoring.scrapeIntervalSeconds
   */
  readonly scrapeIntervalSeconds?: number;
}

/**
 * Serves Triton's per-pod GPU utilization and queue-to-compute ratio through the custom-metrics API, with the rules
 * of lib/prometheus-adapter-rules.ts.
 */
export class PrometheusAdapter extends Construct {
  readonly namespace: string;
  readonly chartVersion: string;
  readonly chartRepository: string;
  readonly relistIntervalSeconds: number;
  readonly metricsMaxAgeSeconds: number;
  readonly prometheusUrl: string;
  /** The metric names the rules serve, for the HPA. */
  readonly metrics: TritonCustomMetrics = TRITON_CUSTOM_METRICS;
  readonly rules: AdapterRule[];
  /** Window of the queue-ratio rate: three scrape intervals, at least 15 s. */
  readonly rateWindowSeconds: number;
  readonly release: HelmRelease;

  constructor(scope: Construct, id: string, props: PrometheusAdapterProps) {
    super(scope, id);
    this.namespace = settingProp(this, 'monitoring.namespace', 'namespace', props.namespace);
    this.chartRepository = settingProp(this, 'chartRepositories.prometheusCommunity', 'chartRepository', props.chartRepository);
    this.chartVersion = settingProp(this, 'chartVersions.prometheusAdapter', 'chartVersion', props.chartVersion);
    this.relistIntervalSeconds = settingProp(this, 'monitoring.adapterRelistIntervalSeconds', 'relistIntervalSeconds', props.relistIntervalSeconds);
    this.prometheusUrl =
      typeof props.prometheus === 'string' ? settingProp(this, 'monitoring.existingPrometheusUrl', 'prometheus', props.prometheus) : props.prometheus.prometheusUrl;
    const scrapeIntervalSeconds = settingProp(
      this,
      'monitoring.scrapeIntervalSeconds',
      'scrapeIntervalSeconds',
      props.scrapeIntervalSeconds ?? (typeof props.prometheus === 'string' ? undefined : props.prometheus.scrapeIntervalSeconds),
    );
    this.rateWindowSeconds = adapterRateWindowSeconds(scrapeIntervalSeconds);
    this.metricsMaxAgeSeconds = props.metricsMaxAgeSeconds ?? Math.max(3 * scrapeIntervalSeconds, 2 * this.relistIntervalSeconds);
    if (!(this.metricsMaxAgeSeconds > this.relistIntervalSeconds)) {
      throw new ValidationError(
        `metricsMaxAgeSeconds (${this.metricsMaxAgeSeconds}) must be longer than relistIntervalSeconds (${this.relistIntervalSeconds}): ` +
          'a series must outlive one late scrape between two relists',
        this,
      );
    }
    const url = urlParts(this.prometheusUrl);

    this.rules = tritonAdapterRules(scrapeIntervalSeconds, this.metrics);

    this.release = new HelmRelease(this, 'release', {
      name: 'prometheus-adapter',
      repository: this.chartRepository,
      chart: 'prometheus-adapter',
      version: this.chartVersion,
      namespace: this.namespace,
      createNamespace: true,
      values: singleValuesDocument([
        fs.readFileSync(BASE_VALUES_FILE, 'utf8'),
        helmValues({
          // The chart joins them back (`{{ url }}:{{ port }}{{ path }}`): lib/url-check.ts refused what they cannot carry.
          prometheus: { url: url.origin, port: url.port, path: url.path },
          metricsRelistInterval: `${this.relistIntervalSeconds}s`,
          extraArguments: [`--metrics-max-age=${this.metricsMaxAgeSeconds}s`],
          rules: { custom: this.rules },
        }),
      ]),
      wait: true,
      atomic: true,
      timeout: 600,
      maxHistory: 5,
      dependsOn: typeof props.prometheus === 'string' ? [] : [props.prometheus.release],
    });
  }
}
