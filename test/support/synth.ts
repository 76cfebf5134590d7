import * as fs from 'fs';
import * as path from 'path';
import { App, TerraformStack, Testing } from 'cdktf';
import { parse as parseYaml } from 'yaml';
import { deepMerge, Json } from '../../lib/deep-merge';
import { parseConfig } from '../../config/load';
import { OmniglueConfig, OmniglueConfigInput } from '../../config/schema';
import { createStacks, OmniglueStacks } from '../../stacks';

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

function synthesizeUncached(input: OmniglueConfigInput): Synthesized {
  const config = parseConfig(input, 'test configuration');
  const app = Testing.app() as App;
  const stacks = createStacks(app, config);
  // The whole app is synthesized as `cdktf synth` does it, when a test first reads a stack: only an app synth
  // resolves cross-stack references into outputs and terraform_remote_state data sources (Testing.synth of one
  // stack leaves the other stack's addresses in place).
  let written: { platform: SynthesizedStack; serving: SynthesizedStack } | undefined;
  const read = () => {
    if (written === undefined) {
      app.synth();
      const stackJson = (stack: TerraformStack) => fs.readFileSync(path.join(app.outdir, 'stacks', stack.node.id, 'cdk.tf.json'), 'utf8');
      written = { platform: parse(stackJson(stacks.platform)), serving: parse(stackJson(stacks.serving)) };
      fs.rmSync(app.outdir, { recursive: true, force: true });
    }
    return written;
  };
  return {
    config,
    stacks,
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
