import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { REPOSITORY_ROOT } from '../../lib/paths';
import { helmBinary } from './helm';

const run = promisify(execFile);

/**
 * The upstream charts the platform stack installs, packaged by scripts/package-chart-fixtures.ts into shared/ beside
 * the checkout (a CI clone gets the same layout).
 */
export const UPSTREAM_CHARTS_DIR = path.resolve(REPOSITORY_ROOT, '..', 'shared', 'fixtures', 'upstream-charts');

export interface ChartRepository {
  /** `http://127.0.0.1:PORT`: what the `chartRepositories` settings point at. */
  readonly url: string;
  readonly dir: string;
  /** Chart name → versions the index offers. */
  readonly versions: Record<string, string[]>;
  close(): Promise<void>;
}

export interface ExtraVersion {
  readonly chart: string;
  readonly from: string;
  readonly to: string;
}

const helmEnv = (home: string) => ({ ...process.env, HELM_CACHE_HOME: path.join(home, 'cache'), HELM_CONFIG_HOME: path.join(home, 'config'), HELM_DATA_HOME: path.join(home, 'data') });

/**
 * Repackages one fixture chart under another version (its Chart.yaml `version` alone changes): the upstream
 * repository offers many versions, the fixtures one each, and a chart-version change needs two.
 */
async function repackage(dir: string, work: string, extra: ExtraVersion): Promise<void> {
  const unpacked = path.join(work, `${extra.chart}-${extra.to}`);
  fs.mkdirSync(unpacked);
  await run('tar', ['-xzf', path.join(UPSTREAM_CHARTS_DIR, `${extra.chart}-${extra.from}.tgz`), '-C', unpacked]);
  const chartYaml = path.join(unpacked, extra.chart, 'Chart.yaml');
  const text = fs.readFileSync(chartYaml, 'utf8');
  if (!new RegExp(`^version: ["']?${extra.from.replace(/\./g, '\\.')}["']?$`, 'm').test(text)) throw new Error(`${chartYaml} has no version ${extra.from}`);
  fs.writeFileSync(chartYaml, text.replace(/^version: .*$/m, `version: ${extra.to}`));
  await run(helmBinary(), ['package', path.join(unpacked, extra.chart), '--destination', dir], { env: helmEnv(work) });
}

/**
 * A Helm chart repository on loopback: the fixture archives (and any extra versions) with an index.yaml written by
 * `helm repo index`, served over plain HTTP as a static file server, which is all a chart repository is (helm docs,
 * "The Chart Repository Guide").
 */
export async function startChartRepository(extraVersions: ExtraVersion[] = []): Promise<ChartRepository> {
  const archives = fs.existsSync(UPSTREAM_CHARTS_DIR) ? fs.readdirSync(UPSTREAM_CHARTS_DIR).filter((f) => f.endsWith('.tgz')) : [];
  if (archives.length === 0) throw new Error(`no chart archives in ${UPSTREAM_CHARTS_DIR}: the shared fixtures must sit beside the checkout`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-chart-repo-'));
  const dir = path.join(work, 'charts');
  fs.mkdirSync(dir);
  for (const file of archives) fs.copyFileSync(path.join(UPSTREAM_CHARTS_DIR, file), path.join(dir, file));
  for (const extra of extraVersions) await repackage(dir, work, extra);

  const server = http.createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://repo').pathname.replace(/^\/+/, ''));
    const file = path.join(dir, name);
    if (name.includes('/') || !fs.existsSync(file) || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': name.endsWith('.yaml') ? 'text/yaml' : 'application/gzip' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  await run(helmBinary(), ['repo', 'index', dir, '--url', url], { env: helmEnv(work) });
  const versions: Record<string, string[]> = {};
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.tgz'))) {
    const match = /^(.*)-(\d+\.\d+\.\d+.*)\.tgz$/.exec(file);
    if (match) (versions[match[1]] ??= []).push(match[2]);
  }
  const close = async () => {
    await new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    });
    fs.rmSync(work, { recursive: true, force: true });
  };
  return { url, dir, versions, close };
}
