// Set-up step (scripts/setup/setup.sh): builds the engines of scripts/setup/engines/versions.ts with the Go
// toolchain from the module proxy into .cache/engines/<name>-<version>/, one after another, then lays out the
// providers' filesystem mirror and the Terraform CLI configuration (docs/engines.md). An engine whose stamp
// matches its recipe is skipped without touching the network, so a second run only checks. A failed build prints
// go's error and the engine, the others are still built, and the step exits 1.
import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'fs';
import * as path from 'path';
import { ENGINES_DIR, TERRAFORM_CLI_CONFIG, engineDir, writeTerraformCliConfig } from '../../engines';
import { REPOSITORY_ROOT } from '../../../lib/paths';
import { GoCommand, STAMP, Stamp, goCommand, goErrors, goJobs, goVersion, readStamp, recipe, runGo, wrapperMismatch } from '../engines/go-build';
import { PIN_CHECK, checkPin, describeProviders, writeMirror, writeSources } from '../engines/providers';
import { ENGINES, Engine } from '../engines/versions';

const say = (line: string) => console.log(`engines: ${line}`);
const relative = (file: string) => path.relative(REPOSITORY_ROOT, file);
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const megabytes = (dir: string, files: readonly string[]) => Math.round(files.reduce((sum, file) => sum + statSync(path.join(dir, file)).size, 0) / 2 ** 20);

function isCached(engine: Engine): boolean {
  const dir = engineDir(engine.name);
  const stamp = readStamp(dir);
  if (stamp?.recipe !== recipe(engine)) return false;
  try {
    return engine.binaries.every((binary) => statSync(path.join(dir, binary)).isFile());
  } catch {
    return false;
  }
}

/** The command without its flags, for progress lines: `go install pkg@version`, `go build pkg…`. */
const display = (command: GoCommand) => `go ${command.args.filter((arg, index) => !arg.startsWith('-') && command.args[index - 1] !== '-o').join(' ')}`;

/** Builds into a scratch directory renamed into place at the end, so a stopped build never looks finished. */
async function build(engine: Engine, go: string): Promise<boolean> {
  const label = `${engine.name} ${engine.version}`;
  const mismatch = wrapperMismatch(engine);
  if (mismatch !== undefined) {
    console.error(`engines: ${label} FAILED: ${mismatch}`);
    return false;
  }
  const dir = engineDir(engine.name);
  const scratch = `${dir}.partial`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const command = goCommand(engine, scratch);
  const started = Date.now();
  say(`${label}: building (${display(command)}, -p=${goJobs()})`);
  if (engine.source.kind === 'provider' && engine.source.standIn !== undefined) {
    const check = checkPin(engine.source);
    writeFileSync(path.join(scratch, PIN_CHECK), `${JSON.stringify(check, null, 2)}\n`);
  }
  const { code, output } = await runGo(command, (elapsed) => say(`${label}: still building, ${elapsed} s`));
  const missing = engine.binaries.filter((binary) => {
    try {
      return !statSync(path.join(scratch, binary)).isFile();
    } catch {
      return true;
    }
  });
  if (code !== 0 || missing.length > 0) {
    const reason = code !== 0 ? `go exited ${code}` : `go wrote no ${missing.join(', ')}`;
    console.error(`engines: ${label} FAILED after ${seconds(started)} (${reason}): ${display(command)}\n${goErrors(output)}`);
    rmSync(scratch, { recursive: true, force: true });
    return false;
  }
  const stamp: Stamp = { recipe: recipe(engine), command: display(command), goVersion: go, seconds: Math.round((Date.now() - started) / 1000), builtAt: new Date().toISOString() };
  writeFileSync(path.join(scratch, STAMP), `${JSON.stringify(stamp, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(scratch, dir);
  say(`${label}: built in ${seconds(started)}, ${megabytes(dir, engine.binaries)} MiB (${relative(dir)})`);
  return true;
}

async function main(): Promise<number> {
  const started = Date.now();
  mkdirSync(ENGINES_DIR, { recursive: true });
  const stale = ENGINES.filter((engine) => !isCached(engine));
  const go = stale.length > 0 ? goVersion() : 'unused';
  if (go === undefined) {
    console.error(`engines: the Go toolchain (\`go\` on PATH) is needed to build ${stale.map((engine) => engine.name).join(', ')}; none was found`);
    return 1;
  }
  const failed: string[] = [];
  for (const engine of ENGINES) {
    if (!stale.includes(engine)) {
      say(`${engine.name} ${engine.version}: cached (${relative(engineDir(engine.name))})`);
    } else if (!(await build(engine, go))) {
      failed.push(engine.name);
    }
  }
  // Written from what is built, at every run, so that they always describe the engines in place.
  const current = new Set(ENGINES.filter(isCached).map((engine) => engine.name));
  const isCurrent = (name: string) => current.has(name);
  writeMirror(isCurrent);
  writeSources(isCurrent);
  for (const line of describeProviders(isCurrent)) say(line);
  writeTerraformCliConfig();
  if (failed.length > 0) {
    console.error(`engines: FAILED to build ${failed.join(', ')} (go's error above); the others are in ${relative(ENGINES_DIR)}`);
    return 1;
  }
  say(`all ${ENGINES.length} ready in ${seconds(started)}; Terraform CLI configuration ${relative(TERRAFORM_CLI_CONFIG)}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`engines: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);
