import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPOSITORY_ROOT } from '../../lib/paths';
import { terraformEnv } from '../../scripts/engines';

/**
 * A copy of this checkout (tracked and untracked, not ignored files: what a clone with the developer's edits has)
 * in which the engine tests run the user's commands. The developer's own cdktf.out, .terraform directories and
 * state files stay untouched, and each suite starts from a checkout with no state. node_modules is linked, not
 * copied: nothing writes there.
 */
export interface DeployWorkspace {
  readonly root: string;
  /** Writes a configuration file (by default the one the commands read, OMNIGLUE_CONFIG) and returns its path. */
  writeConfig(config: object, name?: string): string;
  /** The environment of every command: the engines' Terraform, offline, the test configuration. */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  remove(): void;
}

export const CONFIG_FILE = 'omniglue.engine-test.json';

export function createDeployWorkspace(): DeployWorkspace {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-deploy-'));
  const root = path.join(base, 'checkout');
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: REPOSITORY_ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    const from = path.join(REPOSITORY_ROOT, file);
    // A deleted but still tracked file, or a submodule: nothing to copy.
    if (!fs.existsSync(from) || fs.statSync(from).isDirectory()) continue;
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.copyFileSync(from, path.join(root, file));
  }
  fs.symlinkSync(fs.realpathSync(path.join(REPOSITORY_ROOT, 'node_modules')), path.join(root, 'node_modules'));
  return {
    root,
    writeConfig: (config, name = CONFIG_FILE) => {
      const file = path.join(root, name);
      fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
      return file;
    },
    env: (extra = {}) => {
      // Only what a user's shell would have: no Jest or CI variables that change how the tools behave.
      const { OMNIGLUE_ENV: _env, CDKTF_OUTDIR: _out, ...inherited } = process.env;
      return terraformEnv({ ...inherited, OMNIGLUE_CONFIG: path.join(root, CONFIG_FILE), FORCE_COLOR: '0', NO_COLOR: '1', ...extra });
    },
    remove: () => fs.rmSync(base, { recursive: true, force: true }),
  };
}

export interface CommandResult {
  readonly code: number | null;
  /** stdout and stderr as they came. */
  readonly output: string;
  readonly stdout: string;
  readonly seconds: number;
}

/**
 * Runs a command without blocking the event loop: the chart repository and the extension-API stand-in are served
 * from this process, and would not answer while a synchronous child runs. Killed (its whole process group) after
 * `timeoutMs`; the output is kept for the failure message.
 */
export function runCommand(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; log?: string }): Promise<CommandResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stdout = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (options.log !== undefined) fs.appendFileSync(options.log, chunk);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      collect(chunk);
    });
    child.stderr.on('data', collect);
    const timer = setTimeout(() => {
      output += `\n[killed after ${options.timeoutMs / 1000} s]`;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, options.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, stdout, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** The last lines of a long output, for a failure message. */
export function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
