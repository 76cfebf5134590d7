/**
 * `npm run review [-- --out-dir cdktf.out] [--stack NAME ...] [--output review.md]`: a Markdown summary of what
 * `cdktf synth` wrote, for pasting into a pull request. It reads cdktf.out only (run `npm run synth` first), so
 * it reviews the synthesized Terraform rather than the TypeScript that produced it. See docs/review.md.
 *
 * main(argv, io) returns the exit code instead of exiting, so the tests drive it in-process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { resolveCrossStackReferences } from './cross-stack';
import { renderReview } from './markdown';
import { runChecks, summarizeStack, TerraformJson } from './summarize';

export const USAGE = `Usage: npm run review -- [--out-dir cdktf.out] [--stack NAME ...] [--output FILE]

Prints a Markdown review of the synthesized stacks: objects, images, GPU requests, replicas and autoscaling,
storage, Jobs, Helm releases, Services, network policies, outputs and the ensemble's steps, with warnings first.

  --out-dir <dir>   cdktf output directory (default cdktf.out)
  --stack <name>    review only this stack; repeat for several (default: every stack in the manifest)
  --output <file>   write the Markdown to a file instead of stdout
  --help            show this text`;

const SYNTH_HINT = 'run `npm run synth` first';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const consoleIo: Io = { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(`${text}\n`) };

/** A problem the user fixes (missing synth output, bad flag): printed without a stack trace. */
export class ReviewError extends Error {}

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

export function main(argv: string[], io: Io = consoleIo): number {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'out-dir': { type: 'string', default: 'cdktf.out' },
        stack: { type: 'string', multiple: true },
        output: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    io.err(`review: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  try {
    const markdown = review(values['out-dir'], values.stack ?? []);
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
