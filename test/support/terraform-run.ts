import * as fs from 'node:fs';
import * as path from 'node:path';
import { enginePaths } from '../../scripts/engines';
import { CommandResult, DeployWorkspace, runCommand, tail } from './deploy-workspace';

/** Stack name → the directory Terraform runs in, from the manifest cdktf wrote. */
export function stackDirectories(outDir: string): Record<string, string> {
  const manifestFile = path.join(outDir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) throw new Error(`${manifestFile} is missing: nothing was synthesized there`);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { stacks: Record<string, { workingDirectory: string }> };
  return Object.fromEntries(Object.entries(manifest.stacks).map(([name, stack]) => [name, path.join(outDir, stack.workingDirectory)]));
}

/**
 * Synthesizes a configuration file of the workspace (by default the one its commands read) into `outDir`, as
 * `npm run synth` does.
 */
export async function synth(ws: DeployWorkspace, outDir: string, configFile?: string): Promise<void> {
  const env = ws.env({ CDKTF_OUTDIR: outDir, ...(configFile !== undefined ? { OMNIGLUE_CONFIG: configFile } : {}) });
  const result = await runCommand(process.execPath, [path.join(ws.root, 'scripts', 'synth-app.mjs')], { cwd: ws.root, env, timeoutMs: 180_000 });
  expectExit('synth', result);
  // Under CDKTF_OUTDIR a configuration error is printed to stdout with exit 0 and no manifest (main.ts, for the
  // cdktf CLI): the message is what to show.
  if (!fs.existsSync(path.join(outDir, 'manifest.json'))) throw new Error(`synth wrote no manifest:\n${tail(result.output)}`);
}

/** The engines' Terraform in a stack directory, with the project's CLI configuration (offline provider mirror). */
export function terraform(ws: DeployWorkspace, cwd: string, args: string[], timeoutMs = 600_000): Promise<CommandResult> {
  return runCommand(enginePaths().terraform, [...args, '-no-color'], { cwd, env: ws.env(), timeoutMs });
}

/** Fails with the command's output tail unless it exited with one of `codes`. */
export function expectExit(what: string, result: CommandResult, codes: number[] = [0]): CommandResult {
  if (result.code === null || !codes.includes(result.code)) {
    throw new Error(`${what} exited ${result.code ?? 'by a signal'} after ${result.seconds.toFixed(0)} s:\n${tail(result.output, 60)}`);
  }
  return result;
}

/** One entry of `terraform show -json`'s resource_changes. */
export interface PlannedChange {
  readonly address: string;
  readonly mode: string;
  readonly type: string;
  readonly actions: string[];
}

/** `terraform plan -out` then `terraform show -json` of that plan: what Terraform would do, per resource. */
export async function planChanges(ws: DeployWorkspace, stackDir: string): Promise<PlannedChange[]> {
  expectExit(`terraform plan in ${path.basename(stackDir)}`, await terraform(ws, stackDir, ['plan', '-input=false', '-lock=false', '-out=engine-test.tfplan']));
  const show = expectExit('terraform show -json', await terraform(ws, stackDir, ['show', '-json', 'engine-test.tfplan']));
  const plan = JSON.parse(show.stdout) as { resource_changes?: { address: string; mode: string; type: string; change: { actions: string[] } }[] };
  return (plan.resource_changes ?? []).map((rc) => ({ address: rc.address, mode: rc.mode, type: rc.type, actions: rc.change.actions }));
}

/** Terraform's actions as the review names them: no-op and reads are no change. */
export function reviewAction(actions: string[]): 'create' | 'delete' | 'update' | 'replace' | undefined {
  const key = [...actions].sort().join(',');
  switch (key) {
    case 'create':
      return 'create';
    case 'delete':
      return 'delete';
    case 'update':
      return 'update';
    case 'create,delete':
      return 'replace';
    default:
      return undefined;
  }
}
