#!/usr/bin/env node
// Checks, before any test runs, that the system packages in system-packages.txt are usable, and stops with one
// line naming what is missing and the command that installs it; without it, a missing Python module surfaces
// as hundreds of lines of tracebacks from the glue-graph and pytest suites.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';

/** The packages of system-packages.txt, each with how to tell it is installed. */
export function readSystemPackages(file = path.join(here, 'system-packages.txt')) {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const [name, probe = ''] = line.split(/\s+/);
      const [kind, target] = probe.includes(':') ? probe.split(':', 2) : ['dpkg', name];
      if (!['import', 'command', 'dpkg'].includes(kind)) throw new Error(`system-packages.txt: '${probe}' for ${name} must be import:<module> or command:<program>`);
      return { name, kind, target };
    });
}

function onPath(program) {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, program), constants.X_OK);
      return dir !== '';
    } catch {
      return false;
    }
  });
}

/** Names of the listed packages that are not usable here. */
export function missingSystemPackages(packages = readSystemPackages()) {
  const modules = packages.filter((p) => p.kind === 'import');
  const missing = new Set();
  if (modules.length > 0) {
    // find_spec finds a module without importing it: torch alone takes a second to import.
    const probe = 'import importlib.util, sys\nfor name in sys.argv[1:]:\n    try:\n        found = importlib.util.find_spec(name) is not None\n    except ImportError:\n        found = False\n    if not found: print(name)';
    const result = spawnSync(PYTHON, ['-c', probe, ...modules.map((p) => p.target)], { encoding: 'utf8' });
    if (result.error !== undefined || result.status !== 0) {
      for (const p of modules) missing.add(p.name);
    } else {
      const absent = new Set(result.stdout.split('\n').filter(Boolean));
      for (const p of modules) if (absent.has(p.target)) missing.add(p.name);
    }
  }
  for (const p of packages.filter((p) => p.kind === 'command')) if (!onPath(p.target)) missing.add(p.name);
  for (const p of packages.filter((p) => p.kind === 'dpkg')) {
    const status = spawnSync('dpkg-query', ['-W', '-f=${Status}', p.target], { encoding: 'utf8' });
    if (!(status.stdout ?? '').includes('install ok installed')) missing.add(p.name);
  }
  return [...missing];
}

/** The one line a user sees when something is missing, or undefined when all is there. */
export function missingPackagesMessage(missing = missingSystemPackages()) {
  if (missing.length === 0) return undefined;
  return `Missing system package(s) for the tests: ${missing.join(', ')}. Install them with \`npm run setup\` (or: sudo apt-get install -y --no-install-recommends ${missing.join(' ')}).`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const message = missingPackagesMessage();
  if (message !== undefined) {
    console.error(message);
    process.exit(1);
  }
}
