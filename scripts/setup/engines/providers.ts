// The Terraform side of the engines: the providers' filesystem mirror, the record of what was built in place of
// which pin (SOURCES.json), and the CLI configuration that makes Terraform use the mirror and nothing else.
import { spawnSync } from 'child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ENGINES_DIR, engineDir, mirroredProvider } from '../../engines';
import { ENGINES, ProviderBuild, providerBuildTarget } from './versions';

export const SOURCES_FILE = path.join(ENGINES_DIR, 'providers', 'SOURCES.json');
export const PIN_CHECK = 'PIN-CHECK.json';

export interface PinCheck {
  /** Whether the proxy serves the pinned commit. */
  readonly served: boolean;
  /** go's own words when it does not. */
  readonly error?: string;
  readonly checkedAt: string;
}

/**
 * Asks the proxy once, at a cold build, whether it serves the pinned commit: `go list -m` fetches only the
 * version's .info (cmd/go modfetch, the proxy protocol's `@v/<version>.info`), so this costs one request.
 */
export function checkPin(source: ProviderBuild): PinCheck {
  const result = spawnSync('go', ['list', '-m', '-json', `${source.module}@${source.pin}`], { cwd: os.tmpdir(), encoding: 'utf8' });
  const checkedAt = new Date().toISOString();
  if (result.status === 0) return { served: true, checkedAt };
  return { served: false, error: (result.stderr || result.error?.message || '').trim(), checkedAt };
}

function readPinCheck(name: string): PinCheck | undefined {
  const file = path.join(engineDir(name), PIN_CHECK);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as PinCheck) : undefined;
}

const providers = () => ENGINES.flatMap((engine) => (engine.source.kind === 'provider' ? [{ engine, source: engine.source }] : []));

/**
 * Places each provider whose build matches the table (`isCurrent`) in Terraform's unpacked mirror layout,
 * HOSTNAME/NAMESPACE/TYPE/VERSION/OS_ARCH/ with an executable named terraform-provider-TYPE… (Terraform
 * internal/getproviders/filesystem_search.go, SearchLocalDirectory), under the version the stacks pin. A hard link
 * costs no disk; a copy where links fail. A provider whose build does not match (its new recipe failed to build)
 * is taken out of the mirror rather than served under a recipe it was not built from.
 */
export function writeMirror(isCurrent: (name: string) => boolean): void {
  for (const { engine } of providers()) {
    const built = path.join(engineDir(engine.name), engine.binaries[0]);
    const mirrored = mirroredProvider(engine.name);
    rmSync(mirrored, { force: true });
    if (!isCurrent(engine.name)) continue;
    mkdirSync(path.dirname(mirrored), { recursive: true });
    try {
      linkSync(built, mirrored);
    } catch {
      copyFileSync(built, mirrored);
    }
  }
}

/** One line per provider for the set-up's output; a stand-in says what it stands in for and why. */
export function describeProviders(isCurrent: (name: string) => boolean): string[] {
  return providers().map(({ engine, source }) => {
    const address = `registry.terraform.io/hashicorp/${source.type} ${engine.version}`;
    if (!isCurrent(engine.name)) return `${address}: NOT in the mirror (its build failed)`;
    if (source.standIn === undefined) return `${address}: built from ${providerBuildTarget(source)} (the pinned commit)`;
    const check = readPinCheck(engine.name);
    const why = check === undefined ? 'the pin was not checked' : check.served ? 'the proxy now serves the pin: delete standIn in scripts/setup/engines/versions.ts to build it' : `the proxy refuses the pin: ${firstLine(check.error)}`;
    return `${address}: STAND-IN, built from ${providerBuildTarget(source)} in place of the pinned commit ${source.pin}; ${why}`;
  });
}

const firstLine = (text = '') => text.split('\n')[0];

/** The manifest beside the mirror: exactly which module version each mirrored provider was built from. */
export function writeSources(isCurrent: (name: string) => boolean): void {
  const entries = providers().map(({ engine, source }) => ({
    provider: `registry.terraform.io/hashicorp/${source.type}`,
    mirroredVersion: engine.version,
    inMirror: isCurrent(engine.name),
    pinned: `${source.module}@${source.pin}`,
    built: providerBuildTarget(source),
    standIn: source.standIn !== undefined,
    pinCheck: readPinCheck(engine.name) ?? null,
  }));
  const manifest = {
    about:
      'Providers in this mirror, and the Go module version each was built from. A stand-in is the nearest commit the Go module proxy serves, built because the proxy refuses the commit of the pinned release tag (pinCheck.error quotes go). See docs/engines.md.',
    providers: entries,
  };
  mkdirSync(path.dirname(SOURCES_FILE), { recursive: true });
  writeFileSync(SOURCES_FILE, `${JSON.stringify(manifest, null, 2)}\n`);
}
