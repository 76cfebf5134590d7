// npm run deploy | diff | destroy: both stacks through the cdktf CLI, in dependency order (destroy in reverse),
// offline-safe (CHECKPOINT_DISABLE=1), with OMNIGLUE_ENV and OMNIGLUE_CONFIG inherited and extra arguments passed
// through (`npm run deploy -- --auto-approve`). The app is synthesized once first, so a configuration error is
// printed once, by the app, before the CLI starts. Each environment runs in its own output directory
// (lib/environment-output.ts), with its own .terraform/, so switching OMNIGLUE_ENV never re-initialises a backend.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { environmentOutdir } from '../lib/environment-output';

export const ACTIONS = ['deploy', 'diff', 'destroy'] as const;
export type Action = (typeof ACTIONS)[number];

interface Manifest {
  readonly stacks: Record<string, { readonly dependencies?: readonly string[] }>;
}

/** Stack names with every stack after the stacks it depends on. */
export function deploymentOrder(manifest: Manifest): string[] {
  const ordered: string[] = [];
  const visit = (name: string, trail: string[]): void => {
    if (ordered.includes(name)) return;
    if (trail.includes(name)) throw new Error(`stack dependency cycle: ${[...trail, name].join(' -> ')}`);
    const stack = manifest.stacks[name];
    if (stack === undefined) throw new Error(`stack '${name}' is a dependency but was not synthesized`);
    for (const dependency of stack.dependencies ?? []) visit(dependency, [...trail, name]);
    ordered.push(name);
  };
  for (const name of Object.keys(manifest.stacks).sort()) visit(name, []);
  return ordered;
}

/**
 * The cdktf CLI invocations for an action. deploy and destroy take every stack at once (the CLI asks for approval
 * per stack); `cdktf diff` takes one stack, so it runs per stack. The app was synthesized already: --skip-synth,
 * into `output` (relative to the repository root), which the CLI reads with --output.
 */
export function cdktfInvocations(action: Action, manifest: Manifest, extraArgs: readonly string[], output?: string): string[][] {
  const order = deploymentOrder(manifest);
  const common = ['--skip-synth', ...(output === undefined ? [] : ['--output', output]), ...extraArgs];
  switch (action) {
    case 'deploy':
      return [['deploy', ...order, ...common]];
    case 'destroy':
      return [['destroy', ...[...order].reverse(), ...common]];
    case 'diff':
      return order.map((stack) => ['diff', stack, ...common]);
  }
}

function main(argv: readonly string[]): number {
  const [action, ...extraArgs] = argv;
  if (!ACTIONS.includes(action as Action)) {
    console.error(`usage: npm run deploy|diff|destroy [-- cdktf options]; got '${action ?? ''}', expected one of ${ACTIONS.join(', ')}`);
    return 2;
  }
  const root = path.resolve(__dirname, '..');
  const output = environmentOutdir(process.env.OMNIGLUE_ENV || undefined);
  const outdir = path.join(root, output);
  // The app writes to the environment's directory, where the CLI reads with --skip-synth, even if CDKTF_OUTDIR is set.
  const { CDKTF_OUTDIR: _ignored, ...inherited } = process.env;
  const env = { ...inherited, CHECKPOINT_DISABLE: '1' };
  const synth = spawnSync(process.execPath, [path.join(root, 'scripts', 'synth-app.mjs')], { cwd: root, env, stdio: 'inherit' });
  if (synth.status !== 0) return synth.status ?? 1;
  const manifestFile = path.join(outdir, 'manifest.json');
  if (!existsSync(manifestFile)) {
    console.error(`synth wrote no ${path.relative(root, manifestFile)}; nothing to ${action}`);
    return 1;
  }
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  const cdktf = process.env.CDKTF_BIN ?? path.join(root, 'node_modules', '.bin', 'cdktf');
  for (const args of cdktfInvocations(action as Action, manifest, extraArgs, output)) {
    console.log(`\n$ cdktf ${args.join(' ')}`);
    const run = spawnSync(cdktf, args, { cwd: root, env, stdio: 'inherit' });
    if (run.error !== undefined) {
      console.error(`cannot run ${cdktf}: ${run.error.message}; run npm ci first`);
      return 1;
    }
    if (run.status !== 0) return run.status ?? 1;
  }
  return 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
