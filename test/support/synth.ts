import * as fs from 'fs';
import * as path from 'path';
import type { App, TerraformStack } from 'cdktf';
import { parse as parseYaml } from 'yaml';
import { deepMerge, Json } from '../../lib/deep-merge';
import { parseConfig } from '../../config/load';
import { OmniglueConfig, OmniglueConfigInput } from '../../config/schema';
import type { OmniglueStacks } from '../../stacks';
import { contentHash, filesUnder, type HashedFile } from '../../lib/content-hash';
import { REPOSITORY_ROOT } from '../../lib/paths';

export interface SynthesizedStack {
  /** Terraform JSON as `cdktf synth` writes it. */
  readonly json: string;
  readonly resource: Record<string, Record<string, any>>;
  readonly output: Record<string, any>;
}

export interface Synthesized {
  readonly config: OmniglueConfig;
  readonly stacks: OmniglueStacks;
  readonly platform: SynthesizedStack;
  readonly serving: SynthesizedStack;
}

/** cdktf's "//" metadata (construct paths, stack name, cdktf version) is not configuration: tests leave it out. */
function withoutMetadata(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutMetadata);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== '//').map(([key, item]) => [key, withoutMetadata(item)]));
}

function parse(written: string): SynthesizedStack {
  const document = withoutMetadata(JSON.parse(written)) as any;
  const json = JSON.stringify(document, null, 2);
  return { json, resource: document.resource ?? {}, output: document.output ?? {} };
}

const cache = new Map<string, Synthesized>();

/**
 * Synthesizes both stacks for a configuration, with validations run as `cdktf synth` runs them. Results are
 * cached per configuration within a test file: tests only read them, and synthesis dominates the suite's time.
 */
export function synthesize(input: OmniglueConfigInput = {}): Synthesized {
  const key = JSON.stringify(input);
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const synthesized = synthesizeUncached(input);
  cache.set(key, synthesized);
  return synthesized;
}

// Synthesized JSON is also kept on disk between runs, under a key of every file synthesis reads (the app's
// sources, charts, model configs and shipped scripts, the locked dependency versions) and of the configuration:
// a warm run reads a stack instead of building it, and any change to those files starts a new cache.
const SYNTH_INPUTS = ['config', 'constructs', 'lib', 'stacks', 'charts', 'model_repository', 'scripts', 'assets'];
const SYNTH_INPUT_FILES = ['main.ts', 'cdktf.json', 'package-lock.json', 'test/support/synth.ts'];
const SYNTH_CACHE = path.join(REPOSITORY_ROOT, '.cache', 'synth');
let sourcesDir: string | undefined;

function synthCacheDir(): string {
  if (sourcesDir !== undefined) return sourcesDir;
  const files: HashedFile[] = [
    ...SYNTH_INPUTS.flatMap((dir) => filesUnder(path.join(REPOSITORY_ROOT, dir)).map((file) => ({ ...file, key: `${dir}/${file.key}` }))),
    ...SYNTH_INPUT_FILES.map((file) => ({ key: file, content: fs.readFileSync(path.join(REPOSITORY_ROOT, file)) })),
  ].filter((file) => !file.key.includes('__pycache__'));
  sourcesDir = path.join(SYNTH_CACHE, contentHash(files, process.version, 16));
  if (!fs.existsSync(sourcesDir)) {
    fs.mkdirSync(sourcesDir, { recursive: true });
    // Caches of older sources are never read again.
    for (const entry of fs.readdirSync(SYNTH_CACHE)) if (entry !== path.basename(sourcesDir)) fs.rmSync(path.join(SYNTH_CACHE, entry), { recursive: true, force: true });
  }
  return sourcesDir;
}

function synthesizeUncached(input: OmniglueConfigInput): Synthesized {
  const config = parseConfig(input, 'test configuration');
  let app: App | undefined;
  let stacks: OmniglueStacks | undefined;
  const build = (): { app: App; stacks: OmniglueStacks } => {
    if (app === undefined || stacks === undefined) {
      // Loaded on first build only: a suite that reads cached stacks never loads cdktf and the provider bindings.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { Testing } = require('cdktf') as typeof import('cdktf');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { createStacks } = require('../../stacks') as typeof import('../../stacks');
      app = Testing.app() as App;
      stacks = createStacks(app, config);
    }
    return { app, stacks };
  };
  const cacheFile = path.join(synthCacheDir(), `${contentHash([], input, 24)}.json`);
  // Only successful syntheses are cached: without an entry the stacks are built at once, so a configuration the
  // constructs refuse throws from synthesize() itself, as it always did.
  if (!fs.existsSync(cacheFile)) build();
  // The whole app is synthesized as `cdktf synth` does it, when a test first reads a stack: only an app synth
  // resolves cross-stack references into outputs and terraform_remote_state data sources (Testing.synth of one
  // stack leaves the other stack's addresses in place).
  let written: { platform: SynthesizedStack; serving: SynthesizedStack } | undefined;
  const read = () => {
    if (written !== undefined) return written;
    if (fs.existsSync(cacheFile)) {
      const cached = JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as { platform: string; serving: string };
      return (written = { platform: parse(cached.platform), serving: parse(cached.serving) });
    }
    const built = build();
    built.app.synth();
    const stackJson = (stack: TerraformStack) => fs.readFileSync(path.join(built.app.outdir, 'stacks', stack.node.id, 'cdk.tf.json'), 'utf8');
    const raw = { platform: stackJson(built.stacks.platform), serving: stackJson(built.stacks.serving) };
    fs.rmSync(built.app.outdir, { recursive: true, force: true });
    written = { platform: parse(raw.platform), serving: parse(raw.serving) };
    // Written whole, then renamed: the other Jest worker may read the same entry at any moment.
    const temporary = `${cacheFile}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify(raw));
    fs.renameSync(temporary, cacheFile);
    return written;
  };
  return {
    config,
    get stacks() {
      return build().stacks;
    },
    get platform() {
      return read().platform;
    },
    get serving() {
      return read().serving;
    },
  };
}

/** All resources of one Terraform type, keyed by their logical names. */
export function resourcesOfType(stack: SynthesizedStack, type: string): Record<string, any> {
  return stack.resource[type] ?? {};
}

/** The single resource of a type whose logical name contains `namePart`; fails loudly if there are none or several. */
export function findResource(stack: SynthesizedStack, type: string, namePart: string): any {
  const matches = Object.entries(resourcesOfType(stack, type)).filter(([name]) => name.includes(namePart));
  if (matches.length !== 1) {
    const names = Object.keys(resourcesOfType(stack, type));
    throw new Error(`expected one ${type} named like '${namePart}', found ${matches.length} among [${names.join(', ')}]`);
  }
  return matches[0][1];
}

/** A Helm release's values files merged the way Helm merges them (later files win, maps merge key by key). */
export function releaseValues(release: { values: string[] }): any {
  return release.values.map((text) => parseYaml(text) as Json).reduce(deepMerge, {});
}
