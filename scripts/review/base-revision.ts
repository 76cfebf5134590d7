/**
 * `--base <git ref>`: synthesizes another revision of this repository in a temporary git worktree, for the same
 * OMNIGLUE_ENV and with that revision's own configuration file, so a configuration change (committed or not)
 * shows as what it does. With `--same-config` both sides read this checkout's file instead, and the comparison shows the
 * code changes alone. The worktree borrows the current node_modules through a symlink (no install) and is
 * removed afterwards.
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
  /** Configuration file of the current checkout; a missing file means the defaults. */
  readonly configFile: string;
  /**
   * `revision`: the base reads its own copy of configFile (the same path in the revision; the defaults when the
   * revision has none). `working-tree`: the base reads configFile itself. A file outside the repository or not
   * tracked by git has no revision of its own: both sides read it.
   * @default 'revision'
   */
  readonly configuration?: 'revision' | 'working-tree';
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
  /** Which configuration the revision was synthesized with, in words. */
  readonly configurationUsed: string;
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

/** The file the base revision reads, and what it is in words for the review's header and errors. */
function baseConfiguration(options: RevisionSynthOptions, worktree: string, scratch: string): { file: string; used: string } {
  const { repoRoot, configFile, ref } = options;
  const relative = path.relative(repoRoot, configFile);
  const inRepository = relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
  const tracked = inRepository && git(repoRoot, ['ls-files', '--error-unmatch', '--', relative]).status === 0;
  const defaults = () => {
    const file = path.join(scratch, 'defaults.config.json');
    fs.writeFileSync(file, '{}\n');
    return file;
  };
  if (options.configuration === 'working-tree' || !tracked) {
    const why = options.configuration === 'working-tree' ? '--same-config' : `not versioned in ${ref}`;
    // No configuration file here means the defaults; the base revision must not read its own file instead.
    return { file: fs.existsSync(configFile) ? configFile : defaults(), used: `this checkout's ${inRepository ? relative : configFile} (${why})` };
  }
  const own = path.join(worktree, relative);
  if (fs.existsSync(own)) return { file: own, used: `its own ${relative}` };
  return { file: defaults(), used: `the defaults (${ref} has no ${relative})` };
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
    const { file: configFile, used } = baseConfiguration(options, worktree, scratch);
    const outDir = path.join(scratch, 'cdktf.out');
    const env: NodeJS.ProcessEnv = { ...process.env, CDKTF_OUTDIR: outDir, OMNIGLUE_CONFIG: configFile, CHECKPOINT_DISABLE: '1' };
    delete env.OMNIGLUE_ENV;
    if (options.environment !== undefined && options.environment !== '') env.OMNIGLUE_ENV = options.environment;
    const run = (options.runApp ?? runCdktfApp)(worktree, env);
    if (run.status !== 0) {
      throw new ReviewError(
        `--base ${ref}: synthesizing ${sha.slice(0, 7)} with ${used} failed (exit ${run.status ?? 'signal'}):\n${tail(run.output)}\n` +
          'If the configuration uses settings that revision does not know, compare against an earlier synth with --against instead' +
          (options.configuration === 'working-tree' ? '.' : ', or add --same-config to compare the code alone with this checkout\'s configuration.'),
      );
    }
    return { outDir, label: `${ref} (${sha.slice(0, 7)})`, configurationUsed: used, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}
