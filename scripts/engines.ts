// Where the engines that `npm run setup` builds live (scripts/setup/steps/20-engines.ts, docs/engines.md): the one
// module other code asks for their paths and for the environment that runs Terraform offline.
import { existsSync, readFileSync, writeFileSync } from 'fs';
import * as path from 'path';
import { REPOSITORY_ROOT } from '../lib/paths';
import { engine } from './setup/engines/versions';

export const ENGINES_DIR = path.join(REPOSITORY_ROOT, '.cache', 'engines');
export const TERRAFORM_CLI_CONFIG = path.join(ENGINES_DIR, 'terraform.rc');

export interface EnginePaths {
  readonly terraform: string;
  /** The Terraform CLI configuration: providers from the filesystem mirror only, never from the network. */
  readonly terraformCliConfig: string;
  /** registry.terraform.io/hashicorp/<type>/<version>/linux_amd64/ (Terraform's unpacked mirror layout). */
  readonly providerMirror: string;
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubeScheduler: string;
  readonly kwok: string;
  readonly kwokctl: string;
}

/** The directory an engine of the version table is built into. */
export function engineDir(name: string): string {
  const { version } = engine(name);
  return path.join(ENGINES_DIR, `${name}-${version}`);
}

const binary = (name: string, file = name) => path.join(engineDir(name), file);

/** A provider's executable in the mirror, at the version the synthesized stacks pin. */
export function mirroredProvider(name: string): string {
  const { version, source } = engine(name);
  if (source.kind !== 'provider') throw new Error(`engine '${name}' is not a Terraform provider`);
  return path.join(ENGINES_DIR, 'providers', 'registry.terraform.io', 'hashicorp', source.type, version, 'linux_amd64', `${name}_v${version}`);
}

export const PROVIDERS = ['terraform-provider-kubernetes', 'terraform-provider-helm'] as const;

function allPaths(): EnginePaths {
  return {
    terraform: binary('terraform'),
    terraformCliConfig: TERRAFORM_CLI_CONFIG,
    providerMirror: path.join(ENGINES_DIR, 'providers'),
    etcd: binary('etcd'),
    kubeApiserver: binary('kubernetes', 'kube-apiserver'),
    kubeControllerManager: binary('kubernetes', 'kube-controller-manager'),
    kubeScheduler: binary('kubernetes', 'kube-scheduler'),
    kwok: binary('kwok'),
    kwokctl: binary('kwok', 'kwokctl'),
  };
}

/** What must exist for a path to be usable: the mirror counts only with every pinned provider in it. */
function requiredFiles(key: keyof EnginePaths, paths: EnginePaths): string[] {
  return key === 'providerMirror' ? PROVIDERS.map(mirroredProvider) : [paths[key]];
}

/**
 * Absolute paths of the engines under .cache/engines. Checks the engines named in `needed` (all by default) and
 * throws a one-line Error naming each missing file and `npm run setup`.
 */
export function enginePaths(...needed: (keyof EnginePaths)[]): EnginePaths {
  const paths = allPaths();
  const keys = needed.length > 0 ? needed : (Object.keys(paths) as (keyof EnginePaths)[]);
  const missing = keys.flatMap((key) => requiredFiles(key, paths).filter((file) => !existsSync(file)));
  if (missing.length > 0) {
    const names = missing.map((file) => path.relative(REPOSITORY_ROOT, file)).join(', ');
    throw new Error(`engines missing: ${names}; run \`npm run setup\` to build them`);
  }
  return paths;
}

/**
 * Terraform's CLI configuration for this checkout. With a provider_installation block, Terraform uses only the
 * methods it lists ("Explicit Installation Method Configuration", Terraform docs cli/config/config-file;
 * internal/command/cliconfig/provider_installation.go): no `direct` block, so `init` never asks a registry, and no
 * dev_overrides, which still let `init` query the registry for other providers. The mirror's path is absolute, so
 * the file is rewritten whenever it names another checkout's (a moved or copied work tree).
 */
export function writeTerraformCliConfig(): void {
  const text = [
    '# Written by scripts/engines.ts (npm run setup, and any Terraform run): providers from the filesystem mirror only.',
    'disable_checkpoint = true',
    '',
    'provider_installation {',
    '  filesystem_mirror {',
    `    path    = ${JSON.stringify(path.join(ENGINES_DIR, 'providers'))}`,
    '    include = ["registry.terraform.io/hashicorp/*"]',
    '  }',
    '}',
    '',
  ].join('\n');
  if (!existsSync(TERRAFORM_CLI_CONFIG) || readFileSync(TERRAFORM_CLI_CONFIG, 'utf8') !== text) writeFileSync(TERRAFORM_CLI_CONFIG, text);
}

/**
 * The environment for Terraform and for the cdktf CLI: `base` plus our CLI configuration (which overrides a
 * TF_CLI_CONFIG_FILE the machine may set, as this one does), our Terraform binary for cdktf (it runs
 * `process.env.TERRAFORM_BINARY_NAME || "terraform"`: @cdktf/commons terraform.ts), no checkpoint calls to
 * HashiCorp, and automation-style output.
 */
export function terraformEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { terraform, terraformCliConfig } = enginePaths('terraform', 'providerMirror');
  writeTerraformCliConfig();
  return {
    ...base,
    TF_CLI_CONFIG_FILE: terraformCliConfig,
    TERRAFORM_BINARY_NAME: terraform,
    CHECKPOINT_DISABLE: '1',
    TF_IN_AUTOMATION: '1',
  };
}
