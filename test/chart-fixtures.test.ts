import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { archiveContentDigest, archiveFiles } from './support/chart-archive';
import { FIXTURES, manifest, verifyFixture } from './support/chart-fixtures';

const describeWithFixtures = FIXTURES === undefined ? describe.skip : describe;
const entry = manifest.charts.find((chart) => chart.chart === 'kube-prometheus-stack')!;
const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describeWithFixtures('the chart fixtures are checked by their contents, not their archive bytes', () => {
  let scratch: string;
  let extracted: string;
  const repack = (name: string, order: (files: string[]) => string[]) => {
    const files = (execFileSync('find', ['.', '-type', 'f'], { cwd: extracted, encoding: 'utf8' }) as string).split('\n').filter(Boolean).map((f) => f.slice(2));
    const list = path.join(scratch, `${name}.list`);
    fs.writeFileSync(list, `${order(files).join('\n')}\n`);
    const out = path.join(scratch, `${name}.tgz`);
    execFileSync('tar', ['-czf', out, '--no-recursion', '-C', extracted, '-T', list]);
    return out;
  };
  beforeAll(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-fixtures-'));
    extracted = path.join(scratch, 'extracted');
    fs.mkdirSync(extracted);
    execFileSync('tar', ['-xzf', path.join(FIXTURES!, entry.file), '-C', extracted]);
  });
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  test('a rebuild that writes the subcharts in another order is the recorded chart', () => {
    // What helm does on some rebuilds: the same files, the subcharts (charts/*) in another order.
    const reordered = repack('reordered', (files) => [...files].sort().reverse());
    expect(sha256(reordered)).not.toBe(entry.sha256);
    expect(() => verifyFixture(reordered, entry)).not.toThrow();
  });

  test('a chart with one file changed is not', () => {
    const values = path.join(extracted, 'kube-prometheus-stack', 'values.yaml');
    const original = fs.readFileSync(values);
    fs.appendFileSync(values, '\n# changed\n');
    try {
      const changed = repack('changed', (files) => files);
      expect(() => verifyFixture(changed, entry)).toThrow(/holds other files \(content digest [0-9a-f]{64}\) than the manifest records/);
    } finally {
      fs.writeFileSync(values, original);
    }
  });

  test('the digest is sha256sum over the extracted files, as the shell computes it', () => {
    const shell = execFileSync('bash', ['-c', `cd "$1" && find . -type f | sed 's|^\\./||' | LC_ALL=C sort | while read -r f; do printf '%s  %s\\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$f"; done | sha256sum | cut -d' ' -f1`, '_', extracted], { encoding: 'utf8' });
    expect(archiveContentDigest(path.join(FIXTURES!, entry.file))).toBe(shell.trim());
    expect(archiveFiles(path.join(FIXTURES!, entry.file)).size).toBe(307);
  });

  test.each(manifest.charts.map((chart) => [chart.chart, chart] as const))('%s in the fixtures directory matches the manifest', (_name, chart) => {
    expect(() => verifyFixture(path.join(FIXTURES!, chart.file), chart)).not.toThrow();
  });
});
