/**
 * Rebuilds the packaged upstream charts listed in test/fixtures/upstream-charts.json from git checkouts of their
 * tagged sources, and checks each against the content digest recorded there (`contentSha256`: the files and their
 * paths, test/support/chart-archive.ts). Not the archive's sha256: helm writes a chart's subcharts in the order it
 * loaded them, Go map order, so kube-prometheus-stack's bytes matched on 13 of 20 rebuilds while its files always did.
 *
 *   npx tsx scripts/package-chart-fixtures.ts --out /path/to/fixtures \
 *     --source prometheus-community/helm-charts=/path/to/helm-charts.git \
 *     --source grafana-community/helm-charts=/path/to/grafana-helm-charts.git \
 *     --source NVIDIA/k8s-device-plugin=/path/to/k8s-device-plugin.git
 *
 * Then run the tests with OMNIGLUE_CHART_FIXTURES=/path/to/fixtures.
 */
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { archiveContentDigest } from '../test/support/chart-archive';
import { helm } from '../test/support/helm';

interface Source { repository: string; tag: string; commit: string; path: string }
interface ChartEntry { chart: string; version: string; file: string; sha256: string; contentSha256: string; source: Source; subcharts: { chart: string; version: string; source: Source }[] }

const MANIFEST = path.join(__dirname, '..', 'test', 'fixtures', 'upstream-charts.json');

function usage(problem: string): never {
  console.error(`${problem}\nusage: npx tsx scripts/package-chart-fixtures.ts --out DIR --source OWNER/NAME=GIT_DIR [--source ...]`);
  process.exit(2);
}

function parseArguments(argv: string[]) {
  const sources = new Map<string, string>();
  let out: string | undefined;
  for (let index = 0; index < argv.length; index += 2) {
    const [flag, value] = [argv[index], argv[index + 1]];
    if (value === undefined) usage(`${flag} needs a value`);
    if (flag === '--out') out = path.resolve(value);
    else if (flag === '--source' && value.includes('=')) sources.set(value.slice(0, value.indexOf('=')), path.resolve(value.slice(value.indexOf('=') + 1)));
    else usage(`unknown argument ${flag} ${value}`);
  }
  if (out === undefined) usage('--out is required');
  return { out, sources };
}

/** Extracts `source.path` at `source.tag` into `directory`, checking that the tag still points at the recorded commit. */
function extract(source: Source, sources: Map<string, string>, directory: string): string {
  const gitDir = sources.get(source.repository) ?? usage(`no --source for ${source.repository}`);
  const commit = execFileSync('git', ['--git-dir', gitDir, 'rev-list', '-n1', source.tag], { encoding: 'utf8' }).trim();
  if (commit !== source.commit) throw new Error(`${source.repository} tag ${source.tag} is ${commit}, the manifest records ${source.commit}`);
  const archive = execFileSync('git', ['--git-dir', gitDir, 'archive', '--format=tar', source.tag, source.path], { maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', directory], { input: archive });
  return path.join(directory, source.path);
}

function main() {
  const { out, sources } = parseArguments(process.argv.slice(2));
  const manifest = JSON.parse(fs.readFileSync(MANIFEST, 'utf8')) as { charts: ChartEntry[] };
  fs.mkdirSync(out, { recursive: true });
  let mismatches = 0;
  for (const entry of manifest.charts) {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `chart-${entry.chart}-`));
    try {
      const chartDirectory = extract(entry.source, sources, work);
      // Packaged in name order: Helm saves a chart's dependencies in the order it loaded them, and the sha256 depends on it.
      for (const subchart of [...entry.subcharts].sort((a, b) => a.chart.localeCompare(b.chart))) {
        if (subchart.source.path.startsWith(`${entry.source.path}/`)) continue; // shipped inside the chart directory
        const subchartDirectory = extract(subchart.source, sources, fs.mkdtempSync(path.join(work, 'sub-')));
        helm(['package', subchartDirectory, '--destination', path.join(chartDirectory, 'charts')]);
      }
      helm(['package', chartDirectory, '--destination', out]);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
    const file = path.join(out, entry.file);
    const digest = archiveContentDigest(file);
    const matches = digest === entry.contentSha256;
    if (!matches) mismatches += 1;
    const sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const bytes = sha256 === entry.sha256 ? 'the same archive bytes' : 'other archive bytes (file order), which is fine';
    console.log(`${entry.file}  contents ${digest}  ${matches ? `match the manifest; ${bytes}` : `DIFFER from the manifest (${entry.contentSha256})`}`);
  }
  process.exit(mismatches === 0 ? 0 : 1);
}

main();
