import fc from 'fast-check';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Testing, Token } from 'cdktf';
import { ConfigError, parseConfig, parseConfigDocument } from '../config/load';
import { configSchema } from '../config/schema';
import { Json, isPlainObject } from '../lib/deep-merge';
import { createStacks, OmniglueStacks } from '../stacks';
import { isControlFree, isImageRepository, isLabelKey, isLabelValue, isTag } from './support/value-oracles';

// Random mutations of the shipped configurations must either give stacks that build and hold the stack's
// invariants, or a ConfigError whose every line names a setting; never another exception. FUZZ_RUNS and FUZZ_SEED
// run it longer or elsewhere (`FUZZ_RUNS=20000 npx jest test/config-fuzz.test.ts`).
const RUNS = Number(process.env.FUZZ_RUNS ?? 500);
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const ROOT = path.resolve(__dirname, '..');
// Nothing is written there: the constructs are validated and synthesized in memory.
const OUTDIR = path.join(os.tmpdir(), 'omniglue-config-fuzz');
const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8')) as Record<string, Json>;

const SEEDS: Record<string, Json>[] = [{}, readJson('omniglue.config.json'), readJson('omniglue.config.example.json')];
const TOP_LEVEL = Object.keys(configSchema.shape);
const NAMES_A_SETTING = new RegExp(`(^|[^A-Za-z])(${[...TOP_LEVEL, 'environments', 'OMNIGLUE_ENV', 'duplicate key', '\\(top level\\)'].join('|')})(?![A-Za-z])`);

/** Every path to a leaf of the defaults and of the example file: the settings a user can touch. */
function leafPaths(value: unknown, at: string[] = []): string[][] {
  if (!isPlainObject(value) || Object.keys(value).length === 0) return at.length > 0 ? [at] : [];
  return Object.entries(value).flatMap(([key, item]) => leafPaths(item, [...at, key]));
}
const PATHS = [
  ...new Map(
    [...leafPaths(parseConfig({})), ...leafPaths(SEEDS[2])]
      .filter((p) => p[0] !== '$schema' && p[0] !== 'environments')
      .map((p) => [p.join('.'), p] as const),
  ).values(),
];

const hostileString = fc.constantFrom(
  '', ' ', 'latest', 'default', 'kube-system', 'monitoring', 'nvidia-device-plugin', 'UPPER_case', '1.5Gi', '1m', '1e400', '0', '-1',
  '1000m', '0.5', '64Mi', '1Ei', '${file("/etc/passwd")}', '%{ if true }x%{ endif }', 'http://', 'file:///dev/zero', 'ftp://x',
  'nvcr.io/nvidia/tritonserver', 'Registry.io/Image:tag', 'python:3.11', 'a'.repeat(300), '../../etc', '~/x', 'PATH', '__proto__',
  // The classes of the second robustness round: label keys part by part, URL grammar, control characters.
  `example.com/${'n'.repeat(64)}`, `${'p'.repeat(254)}/x`, 'a/b/c', '/x', 'x-', 'v1.', `${'t'.repeat(64)}`, 'a__b/c', 'a--b/c', '[::1]:5000/x',
  'http://prometheus:99999', 'http://[::1', 'http://user:pw@prometheus:9090', 'http://prometheus:9090/?q=1', 'https://charts:0/x', 'http:///api',
  'a\nb', 'tab\there', '\u0000', 'nel\u0085', 'xn--bucket', '192.168.5.4', 'goog-state', 'rg.',
);
const hostileNumber = fc.oneof(
  fc.constantFrom(0, -1, 1, 0.5, 100, 101, 3600, 3601, 2 ** 31, 2 ** 53, 1e308, -0),
  fc.integer({ min: -1000, max: 100_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  hostileString,
  fc.string({ maxLength: 12 }),
  hostileNumber,
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileString, { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('HTTPS_PROXY', 'PATH', 'bad name', 'min', 'max', 'backend', 'x', '__proto__', `example.com/${'n'.repeat(64)}`, 'release'), hostileString, { maxKeys: 2 }),
);

/** A setting's value in the defaults or the example file, which tells the type a plausible edit keeps. */
function exampleValue(at: string[]): unknown {
  for (const source of [parseConfig({}), SEEDS[2]]) {
    let value: unknown = source;
    for (const key of at) value = isPlainObject(value) ? value[key] : undefined;
    if (value !== undefined) return value;
  }
  return undefined;
}

// Values a user plausibly writes, of the setting's own type, so that a good share of the mutants is valid and
// reaches the constructs.
const plausibleString = fc.constantFrom('1', '2', '500m', '8Gi', '16Gi', '32Gi', '100Gi', '1500m', '0.5', 'omniglue-prod', 'standard', 'gp3', 'ReadWriteOnce',
    'NVIDIA-A10G', 'nvidia', 'https://charts.internal/mirror', 'registry.internal/nvidia/tritonserver', 'python:3.11.11-slim-bookworm',
    '0.19.0', 'http://prometheus-operated.obs.svc:9090', 'NoExecute', 'feature.node.kubernetes.io/pci-10de.present');
function plausibleValue(at: string[]): fc.Arbitrary<Json> {
  const current = exampleValue(at);
  if (typeof current === 'number') return fc.integer({ min: 0, max: Math.max(10, 2 * current) });
  if (typeof current === 'boolean') return fc.boolean();
  if (typeof current === 'string') return fc.oneof(fc.constant(current), plausibleString);
  return fc.constant(current as Json);
}

type Mutation = { kind: 'set'; path: string[]; value: Json } | { kind: 'delete'; path: string[] } | { kind: 'unknown'; path: string[] };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...PATHS), value: hostileValue }) },
  { weight: 6, arbitrary: fc.constantFrom(...PATHS).chain((at) => plausibleValue(at).map((value) => ({ kind: 'set' as const, path: at, value }))) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...PATHS) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unknown' as const), path: fc.constantFrom(...PATHS) }) },
);

function mutate(document: Record<string, Json>, change: Mutation, environment: string | undefined): Record<string, Json> {
  const copy = JSON.parse(JSON.stringify(document)) as Record<string, Json>;
  const target = environment === undefined ? copy : ((copy.environments as Record<string, Record<string, Json>>)[environment] ??= {});
  const at = change.kind === 'unknown' ? [...change.path.slice(0, -1), 'unknownSetting'] : change.path;
  let parent: Record<string, Json> = target;
  for (const key of at.slice(0, -1)) {
    if (!isPlainObject(parent[key])) parent[key] = {};
    parent = parent[key] as Record<string, Json>;
  }
  const last = at[at.length - 1]!;
  if (change.kind === 'delete') delete parent[last];
  else parent[last] = change.kind === 'set' ? change.value : 1;
  return copy;
}

/** Where configuration text lands as single-line values (generated files and Helm values are multi-line by nature). */
const SINGLE_LINE = new Set(['env', 'args', 'command', 'repository', 'image', 'backend', 'provider', 'config_path', 'config_context']);

/**
 * What the cluster would refuse in the Terraform a configuration synthesizes to: a label key or value, an image, a
 * control character where text is one line. Checked with the independent oracles of test/support/value-oracles.ts.
 */
function invariantViolations(stacks: OmniglueStacks): string[] {
  const violations: string[] = [];
  const walk = (value: unknown, at: string, singleLine = false): void => {
    if (typeof value === 'string') {
      if (singleLine && !isControlFree(value)) violations.push(`${at}: a control character`);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    // The engine-cache sidecar runs a generated multi-line script (lib/trt-engine-cache-scripts.ts), no configuration text.
    if ((value as { name?: unknown }).name === 'trt-engine-cache-sync') return;
    for (const [key, item] of Object.entries(value)) {
      const here = `${at}.${key}`;
      if ((key === 'labels' || key === 'match_labels') && typeof item === 'object' && item !== null && !Array.isArray(item)) {
        for (const [label, text] of Object.entries(item)) {
          if (Token.isUnresolved(label) || Token.isUnresolved(String(text))) continue;
          if (!isLabelKey(label)) violations.push(`${here}: label key ${label}`);
          if (typeof text === 'string' && !text.startsWith('${') && !isLabelValue(text)) violations.push(`${here}: label value ${text}`);
        }
      }
      if (key === 'image' && typeof item === 'string') {
        const [name, tag] = item.split('@')[0].split(/:(?=[^/:]*$)/);
        if (!isImageRepository(name) || (tag !== undefined && !isTag(tag))) violations.push(`${here}: image ${item}`);
      }
      walk(item, here, singleLine || SINGLE_LINE.has(key));
    }
  };
  for (const stack of [stacks.platform, stacks.serving]) {
    const { terraform, provider, resource } = stack.toTerraform();
    walk({ backend: terraform?.backend, provider, resource }, stack.node.id);
  }
  return violations;
}

let synthesized = 0;

test(`${RUNS} mutated configurations synthesize or are refused with the setting named, never a crash`, () => {
  const environmentOf = (document: Record<string, Json>) => fc.constantFrom<string | undefined>(undefined, ...Object.keys((document.environments as object) ?? {}));
  const outcomes = { accepted: 0, refused: 0 };
  fc.assert(
    fc.property(
      fc.constantFrom(...SEEDS).chain((seed) => fc.tuple(fc.constant(seed), environmentOf(seed), fc.array(mutation, { minLength: 1, maxLength: 2 }))),
      ([seed, environment, changes]) => {
        const document = changes.reduce((doc, change) => mutate(doc, change, environment), seed);
        let config;
        try {
          config = parseConfigDocument(document, 'fuzz.json', environment);
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          expect(error.problems.length).toBeGreaterThan(0);
          for (const problem of error.problems) expect(problem).toMatch(NAMES_A_SETTING);
          outcomes.refused += 1;
          if (process.env.FUZZ_DEBUG) console.log(error.problems[0]);
          return;
        }
        outcomes.accepted += 1;
        // Constructors check their props eagerly; anything they refuse should have been a configuration error.
        const app = new App({ outdir: OUTDIR, skipValidation: true, stackTraces: false });
        const stacks = createStacks(app, config);
        expect(invariantViolations(stacks)).toEqual([]);
        // A full synth of a sample: the JSON Terraform reads, with no configuration text turned into an expression.
        if (synthesized < 5) {
          synthesized += 1;
          for (const stack of [stacks.platform, stacks.serving]) {
            const json = Testing.synth(stack, true);
            expect(json).not.toMatch(/\$\{file\(|%\{/);
          }
        }
      },
    ),
    { numRuns: RUNS, seed: SEED },
  );
  if (process.env.FUZZ_DEBUG) console.log(outcomes, synthesized);
  // Both sides are exercised: a generator that only ever produced refusals would prove nothing about synthesis.
  expect(outcomes.accepted).toBeGreaterThan(RUNS / 10);
  expect(outcomes.refused).toBeGreaterThan(RUNS / 10);
});
