/**
 * Triton's own /metrics, scraped twice around known traffic, as promtool input series: every series of the second
 * scrape, with the labels the product's scrape job adds (job, namespace, pod, instance), valued at the first scrape
 * at t = 0 and at the second at t = W. A `rate(x[W])` evaluated at W then reads exactly (after - before) / W:
 * both samples lie on the range's bounds (Prometheus 2.x ranges are closed), so rate() extrapolates nothing
 * (promql/functions.go extrapolatedRate: durationToStart = durationToEnd = 0).
 */
import { promtool, type PromtoolResult } from '../../support/promtool';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const match = LINE.exec(line.trim());
    if (!match) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key] = JSON.parse(`"${value}"`);
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

export async function scrape(metricsUrl: string): Promise<Sample[]> {
  const response = await fetch(metricsUrl);
  if (response.status !== 200) throw new Error(`GET ${metricsUrl}: HTTP ${response.status}`);
  return parseExposition(await response.text());
}

const key = (s: Pick<Sample, 'name' | 'labels'>) => `${s.name}{${Object.entries(s.labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;

/** after - before, summed over the series of `name` whose labels include `match` (a series new in `after` started at 0). */
export function delta(before: Sample[], after: Sample[], name: string, match: Record<string, string> = {}, exclude: Record<string, string> = {}): number {
  const old = new Map(before.map((s) => [key(s), s.value]));
  return after
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .filter((s) => !Object.entries(exclude).some(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value - (old.get(key(s)) ?? 0), 0);
}

export interface RecordedSeries {
  series: string;
  values: string;
}

export function promtoolSeries(before: Sample[], after: Sample[], scrapeLabels: Record<string, string>): RecordedSeries[] {
  const old = new Map(before.map((s) => [key(s), s.value]));
  return after.map((s) => {
    const labels = { ...s.labels, ...scrapeLabels };
    const text = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',');
    return { series: `${s.name}{${text}}`, values: `${old.get(key(s)) ?? 0} ${s.value}` };
  });
}

export interface Expectation {
  /** A PromQL expression as the product ships it (its range selectors no longer than the window). */
  expr: string;
  /** Every sample it must return: its labels and value; [] when it must return nothing. */
  samples: { labels: Record<string, string>; value: number }[];
  /** What it is, for the failure message. */
  what: string;
}

/** `expr`'s sample with exactly `labels` is within 1e-9 (relative) of `value`: 1, else 0 or nothing. */
function sampleNear(expr: string, labels: Record<string, string>, value: number): string {
  const names = Object.keys(labels);
  let selector = 'vector(1)';
  for (const [k, v] of Object.entries(labels)) selector = `label_replace(${selector}, "${k}", ${JSON.stringify(v)}, "", "")`;
  const tolerance = Math.max(Math.abs(value) * 1e-9, 1e-12);
  const close = `abs((${expr}) - ${value}) <= bool ${tolerance}`;
  return names.length === 0 ? close : `(${close}) and on (${names.join(', ')}) ${selector}`;
}

/** Evaluates every expectation with promtool on the recorded series, at t = W, W seconds after the first scrape. */
export function evaluate(series: RecordedSeries[], windowSeconds: number, expectations: Expectation[]): PromtoolResult {
  const tests = expectations.flatMap(({ expr, samples }) => [
    { expr: `count(${expr})`, eval_time: `${windowSeconds}s`, exp_samples: samples.length === 0 ? [] : [{ labels: '{}', value: samples.length }] },
    ...samples.map((s) => ({ expr: sampleNear(expr, s.labels, s.value), eval_time: `${windowSeconds}s`, exp_samples: [{ labels: labelText(s.labels), value: 1 }] })),
  ]);
  // evaluation_interval = W: promtool's test storage advances in evaluation steps, and an expression evaluated
  // between two steps does not see the samples after the last one (a rate at 15 s under a 1 m interval reads nil).
  return promtool(['test', 'rules', 'tests.yaml'], {
    'tests.yaml': { rule_files: [], evaluation_interval: `${windowSeconds}s`, tests: [{ interval: `${windowSeconds}s`, input_series: series, promql_expr_test: tests }] },
  });
}

const labelText = (labels: Record<string, string>) => `{${Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;

