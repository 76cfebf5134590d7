// How one engine of the version table is built with the Go toolchain, and how a finished build is recognised, for
// scripts/setup/steps/20-engines.ts.
import { spawn, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { existsSync, readFileSync, readdirSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Engine, providerBuildTarget } from './versions';

export const WRAPPERS_DIR = __dirname;

/**
 * Packages compiled at once by one `go` command. Engines are built one after another, so peak memory is one link's
 * (kube-apiserver: 2.0 to 2.4 GB resident, measured); Go's own default is GOMAXPROCS, the number of CPUs. A shared
 * machine can ask for fewer with OMNIGLUE_GO_JOBS=1.
 */
export function goJobs(): number {
  const asked = Number(process.env.OMNIGLUE_GO_JOBS);
  return Number.isInteger(asked) && asked > 0 ? asked : os.availableParallelism();
}

export interface GoCommand {
  readonly args: string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * The `go` invocation that writes the engine's binaries into `outDir`. -trimpath keeps this machine's paths out of
 * the binaries; `-s -w` drops the symbol table and DWARF (a third of their size; stack traces keep their names);
 * -buildvcs=false, since a wrapper module sits inside this project's git work tree and its commit is no engine's.
 */
export function goCommand(engine: Engine, outDir: string): GoCommand {
  const ldflags = ['-s', '-w', ...(engine.ldflags ?? [])].join(' ');
  const flags = ['-trimpath', '-buildvcs=false', `-p=${goJobs()}`, `-ldflags=${ldflags}`];
  const { source } = engine;
  switch (source.kind) {
    case 'install':
    case 'provider': {
      const packages = source.kind === 'install' ? [...source.packages] : [providerBuildTarget(source)];
      // Outside any module, so `pkg@version` resolves by the module's own go.mod only.
      return { args: ['install', ...flags, ...packages], cwd: os.tmpdir(), env: { ...process.env, GOBIN: outDir } };
    }
    case 'wrapper':
      return { args: ['build', ...flags, '-o', `${outDir}/`, ...source.packages], cwd: path.join(WRAPPERS_DIR, source.dir), env: process.env };
  }
}

/** Why a wrapper module cannot build the engine's version, or undefined when its go.mod requires exactly that. */
export function wrapperMismatch(engine: Engine): string | undefined {
  if (engine.source.kind !== 'wrapper') return undefined;
  const goMod = path.join(WRAPPERS_DIR, engine.source.dir, 'go.mod');
  const text = readFileSync(goMod, 'utf8');
  const required = new RegExp(`^\\s*(?:require\\s+)?${engine.source.module.replace(/[.]/g, '\\.')}\\s+(v\\S+)`, 'm').exec(text)?.[1];
  if (required === `v${engine.version}`) return undefined;
  return `${path.relative(process.cwd(), goMod)} requires ${engine.source.module} ${required ?? '(nothing)'}, but versions.ts says ${engine.version}`;
}

/** The wrapper module's own files (go.mod, go.sum, *.go): a change to any of them is a new recipe. */
function wrapperDigest(engine: Engine): string | undefined {
  if (engine.source.kind !== 'wrapper') return undefined;
  const dir = path.join(WRAPPERS_DIR, engine.source.dir);
  const hash = createHash('sha256');
  for (const file of readdirSync(dir).filter((name) => /^go\.(mod|sum)$|\.go$/.test(name)).sort()) hash.update(file).update(readFileSync(path.join(dir, file)));
  return hash.digest('hex').slice(0, 16);
}

/**
 * What decides the binaries: the table's entry and the wrapper's files. The Go toolchain's version is recorded in
 * the stamp but not compared, so a Go upgrade alone does not rebuild every engine.
 */
export function recipe(engine: Engine): string {
  const { args } = goCommand(engine, 'OUT');
  return JSON.stringify({ version: engine.version, args: args.filter((arg) => !arg.startsWith('-p=')), wrapper: wrapperDigest(engine) });
}

export const STAMP = 'BUILD.json';

export interface Stamp {
  readonly recipe: string;
  readonly command: string;
  readonly goVersion: string;
  readonly seconds: number;
  readonly builtAt: string;
}

export function readStamp(dir: string): Stamp | undefined {
  const file = path.join(dir, STAMP);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Stamp) : undefined;
}

export function goVersion(): string | undefined {
  const result = spawnSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/**
 * Runs go, collecting its output, and says every `heartbeatSeconds` that it is still going (a cold kube-apiserver
 * build is quiet for minutes). Resolves with the exit code and what go printed.
 */
export function runGo(command: GoCommand, onHeartbeat: (seconds: number) => void, heartbeatSeconds = 30): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn('go', command.args, { cwd: command.cwd, env: command.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    const timer = setInterval(() => onHeartbeat(Math.round((Date.now() - started) / 1000)), heartbeatSeconds * 1000);
    const finish = (code: number, extra = '') => {
      clearInterval(timer);
      resolve({ code, output: Buffer.concat(chunks).toString('utf8') + extra });
    };
    child.on('error', (error) => finish(127, `${error.message}\n`));
    child.on('close', (code) => finish(code ?? 1));
  });
}

/** go's output without its progress lines ("go: downloading …"): the error, for a failed build. */
export function goErrors(output: string, lines = 40): string {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^go: (downloading|finding|extracting) /.test(line))
    .slice(-lines)
    .join('\n');
}
