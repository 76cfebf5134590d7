#!/usr/bin/env node
// The engine tiers of `npm test`, after the unit tier: the suites that run the real engines (Terraform with the
// providers, a Kubernetes control plane, Triton, the conversion Job's Python toolchain). They run one at a time,
// since each starts its engine once per run and the machine has two cores.
//   - test/engines/**/*.test.ts: Jest, in band (jest.engines.config.js).
//   - test/engines/python/<name>/: pytest, run by the interpreter of the git-ignored virtual environment .<name>/
//     that a setup step builds (test/engines/python/venv/ by .venv/bin/python).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (command, args) => {
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  console.log(`engine tier: ${[path.relative(root, command) || command, ...args].join(' ')}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result.status ?? 1;
};

const failures = [];
const jestSuites = (dir) =>
  readdirSync(dir, { withFileTypes: true }).some((entry) =>
    entry.isDirectory() ? entry.name !== 'python' && jestSuites(path.join(dir, entry.name)) : entry.name.endsWith('.test.ts'),
  );
const engines = path.join(root, 'test', 'engines');
if (jestSuites(engines) && run(path.join(root, 'node_modules', '.bin', 'jest'), ['-c', 'jest.engines.config.js']) !== 0) failures.push('jest');
const pythonTiers = path.join(engines, 'python');
for (const entry of readdirSync(pythonTiers, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
  if (!entry.isDirectory()) continue;
  const name = entry.name;
  const dir = path.join(pythonTiers, name);
  if (!readdirSync(dir).some((file) => /^test_.*\.py$/.test(file))) continue;
  const python = path.join(root, `.${name}`, 'bin', 'python');
  if (!existsSync(python)) {
    console.error(`engine tier ${name}: ${path.relative(root, python)} is missing; run \`npm run setup\` first`);
    failures.push(name);
    continue;
  }
  if (run(python, ['-m', 'pytest', '-q', path.relative(root, dir)]) !== 0) failures.push(name);
}
if (failures.length > 0) {
  console.error(`engine tiers failed: ${failures.join(', ')}`);
  process.exit(1);
}
