import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

// The source tree's layers, lowest first: a module imports its own layer or lower ones, never a higher one.
// lib/ knows nothing of the configuration or of constructs; the configuration (settings, their defaults and the
// rules between them) knows no construct; constructs take their defaults from the configuration; stacks wire
// constructs from a configuration; the app, the tools and the tests sit on top.
const LAYERS: readonly (readonly string[])[] = [['lib'], ['config'], ['constructs'], ['stacks'], ['main.ts'], ['scripts', 'test']];
const ROOT = path.resolve(__dirname, '..');
const SKIPPED = new Set(['node_modules', 'cdktf.out', 'model_repository']);

function sourceFiles(dir: string): string[] {
  const absolute = path.join(ROOT, dir);
  if (!fs.statSync(absolute).isDirectory()) return [dir];
  return fs.readdirSync(absolute, { withFileTypes: true }).flatMap((entry) => {
    const relative = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) return SKIPPED.has(entry.name) || entry.name.startsWith('.') ? [] : sourceFiles(relative);
    return /\.(ts|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [relative] : [];
  });
}

const FILES = LAYERS.flat().flatMap(sourceFiles);
const KNOWN = new Set(FILES);
const layerOf = (file: string) => LAYERS.findIndex((layer) => layer.includes(file.split('/')[0]));

/** Relative imports of every file, type-only ones included, read by the TypeScript compiler's pre-processor. */
function importGraph(): Map<string, string[]> {
  return new Map(
    FILES.map((file) => {
      const { importedFiles } = ts.preProcessFile(fs.readFileSync(path.join(ROOT, file), 'utf8'), true, true);
      const targets = importedFiles
        .map((imported) => imported.fileName)
        .filter((name) => name.startsWith('.'))
        .map((name) => {
          const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), name));
          return [base, `${base}.ts`, `${base}.mjs`, `${base}/index.ts`].find((candidate) => KNOWN.has(candidate)) ?? `unresolved:${base}`;
        });
      return [file, targets];
    }),
  );
}

/** Every import circle, each as the path that closes it (a -> b -> a). */
function cycles(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const trail: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    trail.push(file);
    for (const target of graph.get(file) ?? []) {
      if (state.get(target) === 'open') found.push([...trail.slice(trail.indexOf(target)), target].join(' -> '));
      else if (!state.has(target)) visit(target);
    }
    trail.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

describe('the import graph', () => {
  const graph = importGraph();

  test('covers every layer and resolves every relative import', () => {
    for (const layer of LAYERS.flat()) expect(FILES.some((file) => file.split('/')[0] === layer)).toBe(true);
    expect([...graph.values()].flat().filter((target) => target.startsWith('unresolved:'))).toEqual([]);
  });

  test('has no import from a lower layer to a higher one (lib -> config, lib -> constructs, config -> constructs, ...)', () => {
    const upward = [...graph].flatMap(([file, targets]) => targets.filter((target) => layerOf(target) > layerOf(file)).map((target) => `${file} -> ${target}`));
    expect(upward).toEqual([]);
  });

  test('has no import circle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  test('the checks find an upward import and a circle when there is one', () => {
    const bad = new Map([
      ['lib/a.ts', ['config/b.ts']],
      ['config/b.ts', ['lib/a.ts']],
    ]);
    expect(cycles(bad)).toEqual(['lib/a.ts -> config/b.ts -> lib/a.ts']);
    expect(layerOf('config/b.ts')).toBeGreaterThan(layerOf('lib/a.ts'));
  });
});
