/**
 * Expands a prometheus-adapter rule's `metricsQuery` as the adapter does when the HPA asks for a per-pod metric,
 * re-implemented from kubernetes-sigs/prometheus-adapter v0.12.0 (the chart 5.3.0's appVersion):
 * pkg/naming/metrics_query.go `metricsQuery.Build` and pkg/client/helpers.go `LabelEq`/`LabelMatches`.
 * - `.Series` is the name of the discovered series;
 * - `.LabelMatchers` is the namespace matcher, then the resource's: `pod="a"` for one pod, `pod=~"a|b"` for several
 *   (values quoted with Go's %q);
 * - `.GroupBy` is the resource's label alone (`pod`), not the namespace.
 * The template uses `<<` `>>` as delimiters (pkg/naming/metrics_query.go, NewMetricsQuery); only plain field
 * references are supported here, and anything else fails loudly.
 */
export interface AdapterRequest {
  /** Name of the series the rule's seriesQuery discovered. */
  readonly series: string;
  readonly namespace: string;
  readonly pods: string[];
}

export function expandAdapterQuery(template: string, request: AdapterRequest): string {
  const quote = (value: string) => JSON.stringify(value);
  const podMatcher = request.pods.length > 1 ? `pod=~${quote(request.pods.join('|'))}` : `pod=${quote(request.pods[0])}`;
  const fields: Record<string, string> = {
    Series: request.series,
    LabelMatchers: [`namespace=${quote(request.namespace)}`, podMatcher].join(','),
    GroupBy: 'pod',
  };
  return template.replace(/<<(.*?)>>/g, (whole, inner: string) => {
    const field = /^\s*\.(\w+)\s*$/.exec(inner)?.[1];
    if (field === undefined || !(field in fields)) throw new Error(`unsupported template action ${whole} in ${template}`);
    return fields[field];
  });
}
