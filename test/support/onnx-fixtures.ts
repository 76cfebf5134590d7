/**
 * The ONNX models the tests run (the five glue graphs, the three stand-in networks), built once per change of
 * their sources and cached in `.cache/onnx-fixtures/<hash>/` (gitignored). A warm run starts no Python at all;
 * a cold one runs test/support/build_onnx_fixtures.py once, whichever Jest worker gets there first (the others
 * wait on a lock directory instead of building the same files twice).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { contentHash, type HashedFile } from '../../lib/content-hash';
import { REPOSITORY_ROOT } from '../../lib/paths';

const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const BUILDER = path.join(REPOSITORY_ROOT, 'test', 'support', 'build_onnx_fixtures.py');
const CACHE_ROOT = path.join(REPOSITORY_ROOT, '.cache', 'onnx-fixtures');
const STALE_LOCK_MS = 120_000;

/** Every file whose change may change a built model: the builders and the conversion package they import from. */
function builderSources(): HashedFile[] {
  const conversion = path.join(REPOSITORY_ROOT, 'scripts', 'omniglue_conversion');
  const files = fs
    .readdirSync(conversion)
    .filter((name) => name.endsWith('.py'))
    .sort()
    .map((name) => path.join(conversion, name));
  files.push(BUILDER, path.join(REPOSITORY_ROOT, 'test', 'support', 'stand_in_networks.py'));
  return files.map((file) => ({ key: path.relative(REPOSITORY_ROOT, file), content: fs.readFileSync(file) }));
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

let built: string | undefined;

/**
 * The directory holding `models/<name>/1/model.onnx` (K = 1024 plus stand-ins), `k8/<glue>/1/model.onnx` and
 * `throughput/<name>/1/model.onnx` (DINOv2's fixed-size preprocessing for 640 x 480 and its batch-axis stand-in).
 */
export function onnxFixtures(): string {
  if (built) return built;
  const dir = path.join(CACHE_ROOT, contentHash(builderSources(), 'onnx-fixtures-v1', 16));
  const lock = `${dir}.lock`;
  fs.mkdirSync(CACHE_ROOT, { recursive: true });
  for (;;) {
    if (fs.existsSync(path.join(dir, 'complete'))) return (built = dir);
    try {
      fs.mkdirSync(lock);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another worker builds; take the lock over only if its builder died long ago.
      if (Date.now() - fs.statSync(lock).mtimeMs > STALE_LOCK_MS) fs.rmSync(lock, { recursive: true, force: true });
      else sleep(100);
      continue;
    }
    try {
      fs.rmSync(dir, { recursive: true, force: true });
      execFileSync(PYTHON, [BUILDER, dir], { stdio: 'pipe' });
      fs.writeFileSync(path.join(dir, 'complete'), '');
      for (const entry of fs.readdirSync(CACHE_ROOT)) {
        // Builds for older sources are never read again.
        if (entry !== path.basename(dir) && !entry.endsWith('.lock')) fs.rmSync(path.join(CACHE_ROOT, entry), { recursive: true, force: true });
      }
    } finally {
      fs.rmSync(lock, { recursive: true, force: true });
    }
  }
}

/** Path of one model built by the fixtures: `models/<name>` (default K), `k8/<name>` or `throughput/<name>`. */
export function fixtureModel(name: string, set: 'models' | 'k8' | 'throughput' = 'models'): string {
  return path.join(onnxFixtures(), set, name, '1', 'model.onnx');
}
