/**
 * `--base <git ref>`: synthesizes another revision of this repository in a temporary git worktree, with the
 * current configuration file and OMNIGLUE_ENV, so the two syntheses differ only by the code under review.
 * The worktree borrows the current node_modules through a symlink (no install) and is removed afterwards.
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReviewError } from './errors';

export interface AppRun {
  readonly status: number | null;
  readonly output: string;
}

export interface RevisionSynthOptions {
  /** Top level of the current checkout. */
  readonly repoRoot: string;
  readonly ref: string;
  /** Configuration file both revisions read; a missing file means the defaults. */
  readonly configFile: string;
  /** OMNIGLUE_ENV for the base revision. @default - unset */
  readonly environment?: string;
  /**
   * Runs the synth in the worktree with the given environment.
   * @default - the `app` command of the revision's cdktf.json, as `cdktf synth` runs it
   */
  readonly runApp?: (worktree: string, env: NodeJS.ProcessEnv) => AppRun;
}

export interface RevisionSynth {
  /** The revision's cdktf.out. */
  readonly outDir: string;
  /** `origin/main (1a2b3c4)`. */
  readonly label: string;
  /** Removes the worktree and everything written for it. */
  cleanup(): void;
}

function git(cwd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (result.error !== undefined) throw new ReviewError(`--base needs git on PATH: ${result.error.message}`);
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

function runCdktfApp(worktree: string, env: NodeJS.ProcessEnv): AppRun {
  const cdktfJson = path.join(worktree, 'cdktf.json');
  const app = fs.existsSync(cdktfJson) ? (JSON.parse(fs.readFileSync(cdktfJson, 'utf8')) as { app?: string }).app : undefined;
  if (app === undefined) return { status: 1, output: 'the revision has no cdktf.json with an "app" command' };
  const result = spawnSync(app, { cwd: worktree, env, shell: true, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** The last lines of a long output: where a failing synth says why. */
function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export function synthesizeRevision(options: RevisionSynthOptions): RevisionSynth {
  const { repoRoot, ref } = options;
  const commit = git(repoRoot, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (commit.status !== 0 || commit.stdout === '') {
    throw new ReviewError(`--base ${ref}: not a commit in ${repoRoot}; fetch it first (e.g. git fetch origin main) or name a branch, tag or sha`);
  }
  const sha = commit.stdout;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-review-base-'));
  const worktree = path.join(scratch, 'worktree');
  const cleanup = () => {
    git(repoRoot, ['worktree', 'remove', '--force', worktree]);
    git(repoRoot, ['worktree', 'prune']);
    fs.rmSync(scratch, { recursive: true, force: true });
  };
  try {
    const added = git(repoRoot, ['worktree', 'add', '--detach', '--quiet', worktree, sha]);
    if (added.status !== 0) throw new ReviewError(`--base ${ref}: git worktree add failed: ${added.stderr}`);
    const modules = path.join(repoRoot, 'node_modules');
    if (!fs.existsSync(modules)) throw new ReviewError(`--base ${ref}: ${modules} is missing; run npm ci first`);
    fs.symlinkSync(fs.realpathSync(modules), path.join(worktree, 'node_modules'), 'dir');
    let configFile = options.configFile;
    if (!fs.existsSync(configFile)) {
      // No configuration file here means the defaults; the base revision must not read its own file instead.
      configFile = path.join(scratch, 'defaults.config.json');
      fs.writeFileSync(configFile, '{}\n');
    }
    const outDir = path.join(scratch, 'cdktf.out');
    const env: NodeJS.ProcessEnv = { ...process.env, CDKTF_OUTDIR: outDir, OMNIGLUE_CONFIG: configFile, CHECKPOINT_DISABLE: '1' };
    delete env.OMNIGLUE_ENV;
    if (options.environment !== undefined && options.environment !== '') env.OMNIGLUE_ENV = options.environment;
    const run = (options.runApp ?? runCdktfApp)(worktree, env);
    if (run.status !== 0) {
      throw new ReviewError(
        `--base ${ref}: synthesizing ${sha.slice(0, 7)} with ${options.configFile} failed (exit ${run.status ?? 'signal'}):\n${tail(run.output)}\n` +
          'If the configuration uses settings that revision does not know, compare against an earlier synth with --against instead.',
      );
    }
    return { outDir, label: `${ref} (${sha.slice(0, 7)})`, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}
