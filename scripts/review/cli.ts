/**
 * `npm run review [-- --out-dir cdktf.out] [--stack NAME ...] [--output review.md]`: a Markdown summary of what
 * `cdktf synth` wrote, for pasting into a pull request. It reads cdktf.out only (run `npm run synth` first), so
 * it reviews the synthesized Terraform rather than the TypeScript that produced it. See docs/review.md.
 *
 * With `--against DIR` or `--base REF` it compares instead: what applying this synthesis over an earlier one
 * does to the cluster (compare.ts), as Markdown and, with `--json FILE`, as JSON.
 *
 * main(argv, io) returns the exit code instead of exiting, so the tests drive it in-process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { resolveCrossStackReferences } from './cross-stack';
import { AppRun, synthesizeRevision } from './base-revision';
import { renderChangeReview } from './change-markdown';
import { compareSyntheses, consequencesJson, hasDestructive } from './compare';
import { ReviewError } from './errors';
import { environmentOutdir } from '../../lib/environment-output';
import { renderReview } from './markdown';
import { runChecks } from './checks';
import { summarizeStack } from './summarize';
import { TerraformJson } from './terraform-json';

export { ReviewError } from './errors';

export const USAGE = `Usage: npm run review -- [--out-dir cdktf.out] [--stack NAME ...] [--output FILE]
       npm run review -- (--against DIR | --base REF [--same-config]) [--json FILE] [--fail-on destructive] [--out-dir ...] [--stack ...] [--output FILE]

Without --against or --base: a Markdown review of the synthesized stacks: objects, images, GPU requests,
replicas and autoscaling, storage, Jobs, Helm releases, Services, network policies, outputs and the ensemble's
steps, with warnings first.

With --against or --base: what applying the synthesis in --out-dir over an earlier one does to the cluster:
per resource create, update, replace or delete, and the rollouts, Job runs, Helm upgrades and destructive
changes that follow, as Markdown for a pull-request comment.

  --out-dir <dir>         cdktf output directory (default: the environment's, cdktf.out or
                          cdktf.out/environments/$OMNIGLUE_ENV)
  --stack <name>          review only this stack; repeat for several (default: every stack in the manifest)
  --output <file>         write the Markdown to a file instead of stdout
  --against <dir>         compare with an earlier cdktf output directory
  --base <git ref>        synthesize that revision in a temporary git worktree, with its own configuration file
                          (the same path) and the same OMNIGLUE_ENV, and compare with it
  --same-config           with --base: synthesize the revision with this checkout's configuration file instead,
                          to compare the code changes alone
  --json <file>           also write the consequences as JSON: {"consequences": [{kind, address, stack, destructive, reason}]}
  --fail-on destructive   exit with 3 when a PVC or namespace is replaced or deleted
  --help                  show this text

Exit codes: 0 done, 1 a problem to fix (missing synth, unknown ref), 2 bad arguments, 3 --fail-on matched.`;

/** Exit code when --fail-on matches: distinct from errors (1) and usage (2), so CI can tell them apart. */
export const EXIT_FAIL_ON = 3;
const FAIL_ON_VALUES = ['destructive'];

const SYNTH_HINT = 'run `npm run synth` first';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const consoleIo: Io = { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(`${text}\n`) };

/** Stack name → path of its cdk.tf.json: from manifest.json when cdktf wrote one, else from stacks/. */
export function findStacks(outDir: string): Map<string, string> {
  if (!fs.existsSync(outDir) || !fs.statSync(outDir).isDirectory()) {
    throw new ReviewError(`${outDir} not found: ${SYNTH_HINT}`);
  }
  const manifestFile = path.join(outDir, 'manifest.json');
  const stacks = new Map<string, string>();
  if (fs.existsSync(manifestFile)) {
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { stacks?: Record<string, { synthesizedStackPath?: string }> };
    // The review reads Terraform JSON; after an HCL synth the manifest points at cdk.tf, so look for the JSON beside it.
    for (const [name, entry] of Object.entries(manifest.stacks ?? {})) {
      const synthesized = entry.synthesizedStackPath ?? path.join('stacks', name, 'cdk.tf.json');
      stacks.set(name, path.join(outDir, path.dirname(synthesized), 'cdk.tf.json'));
    }
  } else if (fs.existsSync(path.join(outDir, 'stacks'))) {
    for (const name of fs.readdirSync(path.join(outDir, 'stacks')).sort()) {
      stacks.set(name, path.join(outDir, 'stacks', name, 'cdk.tf.json'));
    }
  }
  if (stacks.size === 0) throw new ReviewError(`no stacks in ${outDir}: ${SYNTH_HINT}`);
  return stacks;
}

/** Reads the chosen stacks (all by default) in manifest order; a missing one is an error, not a gap in the review. */
export function readStacks(outDir: string, only: string[] = []): { name: string; doc: TerraformJson }[] {
  const stacks = findStacks(outDir);
  const names = only.length > 0 ? only : [...stacks.keys()];
  const read = names.map((name) => {
    const file = stacks.get(name);
    if (file === undefined) {
      throw new ReviewError(`stack '${name}' is not in ${outDir} (found: ${[...stacks.keys()].join(', ')}): ${SYNTH_HINT}`);
    }
    if (!fs.existsSync(file)) {
      const hcl = path.join(path.dirname(file), 'cdk.tf');
      throw new ReviewError(
        fs.existsSync(hcl)
          ? `${name} was synthesized as HCL (${hcl}); the review reads Terraform JSON: run \`npm run synth\` first`
          : `${file} is missing for stack '${name}': ${SYNTH_HINT}`,
      );
    }
    return { name, doc: JSON.parse(fs.readFileSync(file, 'utf8')) as TerraformJson };
  });
  // Every stack's document, the unchosen ones too, to resolve what the chosen ones take from them.
  const all = new Map<string, TerraformJson>();
  for (const [name, file] of stacks) if (fs.existsSync(file)) all.set(name, JSON.parse(fs.readFileSync(file, 'utf8')) as TerraformJson);
  return read.map(({ name, doc }) => ({ name, doc: resolveCrossStackReferences(doc, all) }));
}

/** The review of an output directory as Markdown. */
export function review(outDir: string, only: string[] = []): string {
  const summaries = readStacks(outDir, only).map(({ name, doc }) => summarizeStack(name, doc));
  return renderReview(summaries, summaries.flatMap(runChecks));
}

/** Test seams for --base: where the repository is and how the base revision is synthesized. */
export interface MainHooks {
  readonly repoRoot?: string;
  readonly runApp?: (worktree: string, env: NodeJS.ProcessEnv) => AppRun;
}

function repositoryRoot(): string {
  const result = spawnSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8' });
  if (result.status !== 0) throw new ReviewError('--base needs a git checkout: run it inside the repository');
  return result.stdout.trim();
}

interface CompareOptions {
  readonly outDir: string;
  readonly only: string[];
  readonly against: string | undefined;
  readonly base: string | undefined;
  readonly output: string | undefined;
  readonly json: string | undefined;
  readonly failOn: string | undefined;
  readonly sameConfig: boolean;
}

function compare(options: CompareOptions, io: Io, hooks: MainHooks): number {
  const after = readStacks(options.outDir, options.only);
  let beforeDir = options.against;
  let beforeLabel = options.against ?? '';
  let beforeSynthesis: string | undefined;
  let cleanup = () => {};
  if (options.base !== undefined) {
    const repoRoot = hooks.repoRoot ?? repositoryRoot();
    const configFile = path.resolve(process.env.OMNIGLUE_CONFIG ?? path.join(repoRoot, 'omniglue.config.json'));
    const environment = process.env.OMNIGLUE_ENV || undefined;
    const synth = synthesizeRevision({
      repoRoot,
      ref: options.base,
      configFile,
      configuration: options.sameConfig ? 'working-tree' : 'revision',
      environment,
      runApp: hooks.runApp,
    });
    ({ outDir: beforeDir, label: beforeLabel, cleanup } = synth);
    beforeSynthesis = `${synth.configurationUsed}${environment === undefined ? '' : `, environment ${environment}`}`;
  }
  try {
    const before = readStacks(beforeDir as string).filter(({ name }) => options.only.length === 0 || options.only.includes(name));
    const review = compareSyntheses(before, after);
    const markdown = renderChangeReview(review, { before: beforeLabel, after: options.outDir, beforeSynthesis });
    if (options.output !== undefined) {
      fs.writeFileSync(options.output, markdown);
      io.err(`review: wrote ${options.output}`);
    } else {
      io.out(markdown);
    }
    if (options.json !== undefined) {
      fs.writeFileSync(options.json, `${JSON.stringify(consequencesJson(review), null, 2)}\n`);
      io.err(`review: wrote ${options.json}`);
    }
    if (options.failOn === 'destructive' && hasDestructive(review)) {
      const count = review.consequences.filter((c) => c.destructive).length;
      io.err(`review: ${count} destructive change${count === 1 ? '' : 's'} (--fail-on destructive)`);
      return EXIT_FAIL_ON;
    }
    return 0;
  } finally {
    cleanup();
  }
}

function usageError(io: Io, message: string): number {
  io.err(`review: ${message}\n\n${USAGE}`);
  return 2;
}

export function main(argv: string[], io: Io = consoleIo, hooks: MainHooks = {}): number {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'out-dir': { type: 'string' },
        stack: { type: 'string', multiple: true },
        output: { type: 'string' },
        against: { type: 'string' },
        base: { type: 'string' },
        json: { type: 'string' },
        'fail-on': { type: 'string' },
        'same-config': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return usageError(io, error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  // The synthesis of the environment the rest of the toolchain works on (lib/environment-output.ts).
  const outDir = values['out-dir'] ?? environmentOutdir(process.env.OMNIGLUE_ENV || undefined);
  const comparing = values.against !== undefined || values.base !== undefined;
  if (values.against !== undefined && values.base !== undefined) return usageError(io, '--against and --base are alternatives: give one');
  if (!comparing && (values.json !== undefined || values['fail-on'] !== undefined)) {
    return usageError(io, '--json and --fail-on need --against <dir> or --base <git ref>');
  }
  if (values['same-config'] && values.base === undefined) return usageError(io, '--same-config applies to --base <git ref> only');
  if (values['fail-on'] !== undefined && !FAIL_ON_VALUES.includes(values['fail-on'])) {
    return usageError(io, `--fail-on ${values['fail-on']}: unknown value; allowed: ${FAIL_ON_VALUES.join(', ')}`);
  }
  try {
    if (comparing) {
      const only = values.stack ?? [];
      return compare(
        {
          outDir,
          only,
          against: values.against,
          base: values.base,
          output: values.output,
          json: values.json,
          failOn: values['fail-on'],
          sameConfig: values['same-config'],
        },
        io,
        hooks,
      );
    }
    const markdown = review(outDir, values.stack ?? []);
    if (values.output !== undefined) {
      fs.writeFileSync(values.output, markdown);
      io.err(`review: wrote ${values.output}`);
    } else {
      io.out(markdown);
    }
    return 0;
  } catch (error) {
    if (error instanceof ReviewError) {
      io.err(`review: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

if (require.main === module) {
  // exitCode rather than exit(): lets stdout drain first when piped into a file.
  process.exitCode = main(process.argv.slice(2));
}
