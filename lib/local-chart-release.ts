import * as path from 'path';
import { Construct } from 'constructs';
import { contentHash, filesUnder } from './content-hash';
import { helmValues } from './helm-values';
import { REPOSITORY_ROOT } from './paths';
import { HelmRelease } from './provider-classes';

/** Where a chart of this repository's charts/ is, on disk and as Terraform reads it. */
export interface LocalChart {
  /** The chart's directory, for reading (digest, tests). */
  readonly directory: string;
  /** The same directory relative to a stack's synthesized directory (cdktf.out/stacks/<stack>), where Terraform runs. */
  readonly pathFromStack: string;
}

export function localChart(name: string): LocalChart {
  return { directory: path.join(REPOSITORY_ROOT, 'charts', name), pathFromStack: path.posix.join('..', '..', '..', 'charts', name) };
}

/**
 * A release of one of this repository's charts (the CRD objects that must not go through kubernetes_manifest).
 * helm_release diffs only values and version, so the values carry a digest of the chart: a template edit is an
 * upgrade.
 */
export function localChartRelease(
  scope: Construct,
  id: string,
  settings: { name: string; chart: LocalChart; namespace: string; values: Record<string, unknown> },
): HelmRelease {
  return new HelmRelease(scope, id, {
    name: settings.name,
    chart: settings.chart.pathFromStack,
    namespace: settings.namespace,
    values: [helmValues({ ...settings.values, chartDigest: contentHash(filesUnder(settings.chart.directory), {}, 16) })],
    wait: true,
    atomic: true,
    timeout: 300,
    maxHistory: 5,
  });
}
