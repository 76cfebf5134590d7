/**
 * Renders stack summaries as GitHub-flavoured Markdown for a pull request: checks first (what needs a
 * reviewer's attention), then one section per stack of compact tables. Sections without rows are left out.
 * Output depends only on the summaries (no time, no paths), so it can be snapshotted and diffed.
 */
import { Finding, isLocalChart } from './checks';
import type { StackSummary } from './summarize';

/** Keeps a cell on one line and its pipes from splitting the row. */
function cell(value: string | number | boolean | undefined): string {
  if (value === undefined || value === '') return '—';
  return String(value).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function code(value: string | undefined): string {
  return value === undefined || value === '' ? '—' : `\`${value}\``;
}

export function table(headers: string[], rows: (string | number | boolean | undefined)[][]): string[] {
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`)];
}

function section(title: string, body: string[]): string[] {
  return body.length === 0 ? [] : [`### ${title}`, '', ...body, ''];
}

function seconds(value: number | undefined): string | undefined {
  return value === undefined ? undefined : `${value}s`;
}

function mapping(map: Record<string, string>, arrow: '←' | '→'): string {
  return Object.entries(map)
    // A model tensor named like the ensemble tensor it binds is shown once: the matcher's twelve inputs stay readable.
    .map(([name, tensor]) => (name === tensor ? name : `${name} ${arrow} ${tensor}`))
    .join(', ');
}

export function renderChecks(findings: Finding[]): string[] {
  if (findings.length === 0) return ['## Checks', '', 'No warnings.', ''];
  return ['## Checks', '', ...findings.map((f) => `- **warning** \`${f.check}\` (${f.stack}): ${f.message}`), ''];
}

export function renderStack(summary: StackSummary): string[] {
  const counts = new Map<string, string[]>();
  for (const object of summary.objects) {
    counts.set(object.kind, [...(counts.get(object.kind) ?? []), object.namespace === undefined ? object.name : `${object.namespace}/${object.name}`]);
  }
  const lines = [`## Stack \`${summary.stack}\``, '', `Providers: ${summary.providers.join(', ') || 'none'}.`, ''];
  lines.push(
    ...section(
      `Objects (${summary.objects.length})`,
      table(['Kind', 'Count', 'Names (namespace/name)'], [...counts].map(([kind, names]) => [kind, names.length, names.join(', ')])),
    ),
    ...section(
      'Helm releases',
      summary.helmReleases.length === 0
        ? []
        : table(
            ['Release', 'Namespace', 'Chart', 'Version', 'Repository', 'wait', 'atomic', 'timeout'],
            summary.helmReleases.map((r) => [r.name, r.namespace, r.chart, r.version ?? (isLocalChart(r.chart) ? 'local chart' : '**unpinned**'), r.repository, r.wait, r.atomic, `${r.timeoutSeconds}s`]),
          ),
    ),
    ...section(
      'Images',
      summary.images.length === 0
        ? []
        : table(
            ['Workload', 'Container', 'Image', 'Tag', 'Flag'],
            summary.images.map((i) => [
              i.workload,
              `${i.container}${i.init ? ' (init)' : ''}`,
              code(i.image),
              i.tag ?? (i.digest !== undefined ? `@${i.digest}` : undefined),
              i.digest === undefined && i.tag === undefined ? '**untagged**' : i.tag === 'latest' && i.digest === undefined ? '**latest**' : '',
            ]),
          ),
    ),
    ...section(
      'GPU and placement',
      summary.gpu.length === 0
        ? []
        : table(
            ['Workload', 'Container', 'GPU request', 'GPU limit', 'Tolerations', 'Required node labels', 'Runtime class'],
            summary.gpu.map((g) => [g.workload, g.container, g.gpuRequest, g.gpuLimit, g.tolerations.join('; '), g.nodeAffinity.join('; '), g.runtimeClass]),
          ),
    ),
    ...section('Deployments', [
      ...(summary.deployments.length === 0
        ? []
        : table(
            ['Deployment', 'Namespace', 'Replicas', 'Strategy', 'Wait for rollout', 'Create timeout'],
            summary.deployments.map((d) => [
              d.name,
              d.namespace,
              d.replicas === undefined ? undefined : `${d.replicas}${d.replicasIgnored ? ' (initial; ignore_changes)' : ''}`,
              d.strategy,
              d.waitForRollout,
              d.createTimeout,
            ]),
          )),
      ...(summary.deployments.some((d) => d.probes.length > 0)
        ? [
            '',
            ...table(
              ['Deployment', 'Container', 'Probe', 'Check', 'Period', 'Failures', 'Budget'],
              summary.deployments.flatMap((d) => d.probes.map((p) => [p.deployment, p.container, p.kind, p.check, `${p.periodSeconds}s`, p.failureThreshold, `${p.budgetSeconds}s`])),
            ),
          ]
        : []),
    ]),
    ...section(
      'Autoscaling',
      summary.autoscalers.flatMap((h) => [
        `**HPA \`${h.name}\`** → ${h.targetKind} \`${h.targetName}\`: ${h.minReplicas ?? '?'}–${h.maxReplicas ?? '?'} replicas.`,
        '',
        ...table(['Metric', 'Type', 'Target'], h.metrics.map((m) => [code(m.name), m.type, m.target])),
        ...(h.behavior.length > 0 ? ['', `Behavior: ${h.behavior.join('; ')}.`] : []),
        '',
      ]),
    ),
    ...section(
      'Storage',
      summary.volumeClaims.length === 0
        ? []
        : table(
            ['Claim', 'Namespace', 'Size', 'Access modes', 'Storage class'],
            summary.volumeClaims.map((p) => [p.name, p.namespace, p.size, p.accessModes.join(', '), p.storageClass ?? '(cluster default)']),
          ),
    ),
    ...section(
      'Jobs',
      summary.jobs.length === 0
        ? []
        : table(
            ['Job', 'Namespace', 'Backoff limit', 'Fails at once on exit', 'Active deadline', 'Wait for completion', 'Create timeout', 'Model variant'],
            summary.jobs.map((j) => [
              j.name, j.namespace, j.backoffLimit, j.failJobExitCodes.length > 0 ? j.failJobExitCodes.join(', ') : '—',
              seconds(j.activeDeadlineSeconds), j.waitForCompletion, j.createTimeout ?? '1m (provider default)',
              j.modelVariant.length > 0 ? j.modelVariant.join(', ') : 'default',
            ]),
          ),
    ),
    ...section(
      'Services',
      summary.services.length === 0 ? [] : table(['Service', 'Namespace', 'Type', 'Ports'], summary.services.map((s) => [s.name, s.namespace, s.type, s.ports.join(', ')])),
    ),
    ...section(
      'Network policies (ingress)',
      summary.networkPolicies.length === 0 ? [] : table(['Policy', 'Ports', 'Allowed sources'], summary.networkPolicies.map((n) => [n.policy, n.ports, n.sources])),
    ),
    ...section(
      'Outputs',
      summary.outputs.length === 0 ? [] : table(['Output', 'Value', 'Description'], summary.outputs.map((o) => [o.name, code(o.value), o.description])),
    ),
    ...section(
      summary.ensemble === undefined ? 'Ensemble' : `Ensemble \`${summary.ensemble.name}\` (${summary.ensemble.steps.length} steps, from ${summary.ensemble.source})`,
      summary.ensemble === undefined
        ? []
        : table(
            ['#', 'Model', 'Inputs (model input ← ensemble tensor)', 'Outputs (model output → ensemble tensor)'],
            summary.ensemble.steps.map((s, index) => [index + 1, s.modelName, mapping(s.inputMap, '←'), mapping(s.outputMap, '→')]),
          ),
    ),
  );
  return lines;
}

/** The whole review: a title, the checks of every stack, then each stack. */
export function renderReview(summaries: StackSummary[], findings: Finding[]): string {
  const lines = [
    '# cdktf synth review',
    '',
    `Stacks: ${summaries.map((s) => `\`${s.stack}\` (${s.objects.length} objects)`).join(', ')}.`,
    '',
    ...renderChecks(findings),
    ...summaries.flatMap(renderStack),
  ];
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
