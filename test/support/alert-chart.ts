import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { ALERT_CHART_DIR } from '../../constructs/alert-rules';
import { OmniglueConfigInput } from '../../config/schema';
import { helm } from './helm';
import { findResource, synthesize } from './synth';

/** Renders charts/omniglue-alerts with the values the serving stack passes, as `helm template` would install it. */
export function renderAlertChart(input: OmniglueConfigInput = {}) {
  const { serving } = synthesize(input);
  const release = findResource(serving, 'helm_release', 'alert-rules');
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-alerts-'));
  const valuesFile = path.join(directory, 'values.yaml');
  fs.writeFileSync(valuesFile, release.values[0]);
  try {
    const manifest = helm(['template', release.name, ALERT_CHART_DIR, '--namespace', release.namespace, '--values', valuesFile]);
    const documents = parseAllDocuments(manifest).map((document) => document.toJSON());
    return { release, documents, rule: documents.find((document) => document.kind === 'PrometheusRule') };
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}
