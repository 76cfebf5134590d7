#!/usr/bin/env node
// Times a full `cdktf synth` and the whole test suite over several runs and prints medians.
// Usage: npm run bench [-- --synth-runs 5 --test-runs 3]
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'synth-runs': { type: 'string', default: '5' },
    'test-runs': { type: 'string', default: '3' },
  },
});

const env = { ...process.env, CHECKPOINT_DISABLE: '1', CI: 'true' };

function time(label, command, args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) {
    process.stderr.write(result.stdout + result.stderr);
    throw new Error(`${label} failed with exit code ${result.status}`);
  }
  return seconds;
}

function median(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function bench(label, runs, command, args) {
  const samples = Array.from({ length: runs }, () => time(label, command, args));
  const format = (s) => `${s.toFixed(2)} s`;
  console.log(`${label.padEnd(34)} median ${format(median(samples))}  (runs: ${samples.map(format).join(', ')})`);
}

bench('cdktf synth (CLI + app)', Number(values['synth-runs']), 'node_modules/.bin/cdktf', ['synth']);
bench('npm run synth (the app)', Number(values['synth-runs']), process.execPath, ['scripts/synth-app.mjs']);
bench('app through tsx (for comparison)', Number(values['synth-runs']), process.execPath, ['--require', 'tsx/cjs', 'main.ts']);
bench('npm test (tsc + jest + pytest)', Number(values['test-runs']), 'npm', ['test', '--silent']);
