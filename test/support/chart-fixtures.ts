import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { VERSIONS } from '../../config/versions';
import { archiveContentDigest } from './chart-archive';
import { helm } from './helm';

export interface Source { repository: string; tag: string; commit: string; path: string }
export interface ManifestEntry {
  chart: string;
  version: string;
  versionsKey: keyof typeof VERSIONS;
  file: string;
  /** sha256 of the archive in shared/fixtures, for reference: a rebuild may write the same files in another order. */
  sha256: string;
  /** What identifies the chart: the digest of its files (test/support/chart-archive.ts archiveContentDigest). */
  contentSha256: string;
  licence: string;
  source: Source;
  subcharts: { chart: string; version: string; licence: string; source: Source }[];
  note: string;
}

export const MANIFEST_FILE = path.join(__dirname, '..', 'fixtures', 'upstream-charts.json');
export const manifest = JSON.parse(fs.readFileSync(MANIFEST_FILE, 'utf8')) as { environmentVariable: string; charts: ManifestEntry[] };
// The packaged charts are not in the repository (fetched upstream files are not committed here); the steering
// repository's shared/ (laid beside every clone, CI's included) is where they belong, so they are found there too.
const SHARED_FIXTURES = path.resolve(__dirname, '..', '..', '..', 'shared', 'fixtures', 'upstream-charts');
export const FIXTURES = process.env[manifest.environmentVariable] ?? (fs.existsSync(SHARED_FIXTURES) ? SHARED_FIXTURES : undefined);

/** Throws unless `file` holds exactly the files the manifest records for `entry`, in whatever archive order. */
export function verifyFixture(file: string, entry: ManifestEntry): void {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing from ${manifest.environmentVariable}`);
  const digest = archiveContentDigest(file);
  if (digest !== entry.contentSha256) {
    throw new Error(`${file} holds other files (content digest ${digest}) than the manifest records (${entry.contentSha256}): not the recorded chart`);
  }
}

/** Renders a packaged upstream chart with the values files of one of the stack's helm_release resources. */
export function renderRelease(release: { name: string; namespace: string; values: string[] }, chart: string): any[] {
  const entry = manifest.charts.find((candidate) => candidate.chart === chart)!;
  const file = path.join(FIXTURES!, entry.file);
  verifyFixture(file, entry);
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), `render-${chart}-`));
  try {
    const valueArgs = release.values.flatMap((values, index) => {
      const valuesFile = path.join(directory, `values-${index}.yaml`);
      fs.writeFileSync(valuesFile, values);
      return ['--values', valuesFile];
    });
    const manifestText = helm(['template', release.name, file, '--namespace', release.namespace, ...valueArgs]);
    return parseAllDocuments(manifestText).map((document) => document.toJSON()).filter((object) => object !== null);
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}
