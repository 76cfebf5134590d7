import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';

/** promtool from Debian's `prometheus` package (scripts/setup/system-packages.txt); $PROMTOOL overrides it. */
export const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

export interface PromtoolResult {
  readonly ok: boolean;
  readonly output: string;
}

/** Runs promtool in a fresh directory holding `files` (YAML documents by file name). */
export function promtool(args: string[], files: Record<string, unknown>): PromtoolResult {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-promtool-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      fs.writeFileSync(path.join(directory, name), typeof content === 'string' ? content : stringify(content, { lineWidth: 0 }));
    }
    const run = spawnSync(PROMTOOL, args, { cwd: directory, encoding: 'utf8' });
    if (run.error !== undefined) {
      throw new Error(`cannot run ${PROMTOOL} (${run.error.message}): install the Debian package 'prometheus' (bash scripts/setup/install-system-packages.sh)`);
    }
    return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

/** A promtool unit-test file: rule files by name, and tests in promtool's `test rules` format. */
export function runRuleTests(ruleGroups: unknown[], tests: unknown[]): PromtoolResult {
  return promtool(['test', 'rules', 'tests.yaml'], {
    'rules.yaml': { groups: ruleGroups },
    'tests.yaml': { rule_files: ['rules.yaml'], evaluation_interval: '1m', tests },
  });
}

/** An expression that is 1 where `expr` equals `value` (within 1e-9), for exact checks that float printing would spoil. */
export function near(expr: string, value: number): string {
  return `abs((${expr}) - ${value}) < bool 1e-9`;
}

/** promtool's series notation: a counter that starts at 0 and grows by `step` per interval, `count` times. */
export function counter(step: number, count: number): string {
  return `0+${step}x${count}`;
}
