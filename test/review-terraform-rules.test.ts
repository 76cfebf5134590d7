import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { STACK_NAMES } from '../stacks';
import { Io, main } from '../scripts/review/cli';
import { compareSyntheses, StackDocument } from '../scripts/review/compare';
import { computedRules, quantityRules } from '../scripts/review/provider-diff-rules';
import { REPLACEMENT_RULES, REVIEWED_TYPES } from '../scripts/review/immutable-fields';
import { stackDocuments } from './support/review-stacks';
import { quantityValue } from '../lib/quantity';

const ROOT = path.resolve(__dirname, '..');

const defaults = stackDocuments({});
const serving = () => JSON.parse(JSON.stringify(defaults.find((s) => s.name === STACK_NAMES.serving))) as { name: string; doc: any };
const first = (doc: any, type: string) => Object.values(doc.resource[type])[0] as any;

/** The serving stack edited twice (before, after) from the defaults, compared. */
function compareEdited(type: string, before: (resource: any) => void, after: (resource: any) => void) {
  const [a, b] = [serving(), serving()];
  before(first(a.doc, type));
  after(first(b.doc, type));
  return compareSyntheses([a], [b]);
}
const kinds = (review: ReturnType<typeof compareSyntheses>) => review.consequences.map((c) => c.kind);

describe('quantities equal in other units are no change (suppressEquivalentResourceQuantity)', () => {
  test.each([
    ['a PVC request', 'kubernetes_persistent_volume_claim_v1', (r: any) => (r.spec.resources.requests.storage = '51200Mi')],
    ['a container limit', 'kubernetes_deployment_v1', (r: any) => (r.spec.template.spec.container[0].resources.limits.memory = `${quantityValue(r.spec.template.spec.container[0].resources.limits.memory) / 2 ** 20}Mi`)],
    ['a CPU request', 'kubernetes_deployment_v1', (r: any) => (r.spec.template.spec.container[0].resources.requests.cpu = `${Number(r.spec.template.spec.container[0].resources.requests.cpu) * 1000}m`)],
  ])('%s', (_name, type, edit) => {
    expect(kinds(compareEdited(type, () => {}, edit))).toEqual([]);
  });

  test('a different quantity still rolls the pods', () => {
    const review = compareEdited('kubernetes_deployment_v1', () => {}, (r) => (r.spec.template.spec.container[0].resources.limits.memory = '24577Mi'));
    expect(kinds(review).sort()).toEqual(['rollout', 'update']);
  });

  test('HPA targets are compared as written: the provider has no suppression there', () => {
    const review = compareEdited('kubernetes_horizontal_pod_autoscaler_v2', () => {}, (r) => (r.spec.metric[0].pods.target.average_value = '70000m'));
    expect(kinds(review)).toEqual(['update']);
  });
});

describe('an Optional + Computed attribute dropped from the configuration is no change (SDK keeps the prior value)', () => {
  test('the storage class of the model volume', () => {
    const review = compareSyntheses(stackDocuments({ modelRepository: { storageClassName: 'efs-sc' } }), defaults);
    expect(review.consequences).toEqual([]);
  });

  test('a new storage class still replaces the claim', () => {
    const review = compareSyntheses(defaults, stackDocuments({ modelRepository: { storageClassName: 'efs-sc' } }));
    expect(review.consequences.map((c) => [c.kind, c.destructive])).toEqual([['replace', true]]);
  });

  test('a container resources block and an image pull policy dropped', () => {
    const review = compareEdited(
      'kubernetes_deployment_v1',
      (r) => (r.spec.template.spec.container[0].image_pull_policy = 'IfNotPresent'),
      (r) => delete r.spec.template.spec.container[0].resources.limits,
    );
    expect(review.consequences).toEqual([]);
  });

  test('dropping one key of a computed map is a change', () => {
    const review = compareEdited('kubernetes_deployment_v1', () => {}, (r) => delete r.spec.template.spec.container[0].resources.limits.memory);
    expect(kinds(review).sort()).toEqual(['rollout', 'update']);
  });
});

describe('ForceNew inside a Deployment pod template', () => {
  test.each(['name', 'namespace', 'generate_name'])('pod-template metadata %s replaces the Deployment', (field) => {
    const review = compareEdited('kubernetes_deployment_v1', () => {}, (r) => (r.spec.template.metadata[field] = 'other'));
    expect(kinds(review)).toEqual(['replace']);
    expect(review.resources[0].forced[0].rule.path).toBe(`spec.template.metadata.${field}`);
    expect(review.consequences[0].reason).toContain('not a rolling update');
  });

  const ephemeral = (storageClass: string, storage: string) => (r: any) =>
    r.spec.template.spec.volume.push({
      name: 'scratch',
      ephemeral: { volume_claim_template: { spec: { access_modes: ['ReadWriteOnce'], storage_class_name: storageClass, resources: { requests: { storage } } } } },
    });

  test('an ephemeral volume claim template: a new storage class replaces, a bigger request rolls', () => {
    const byClass = compareEdited('kubernetes_deployment_v1', ephemeral('gp3', '10Gi'), ephemeral('io2', '10Gi'));
    expect(kinds(byClass)).toEqual(['replace']);
    expect(byClass.resources[0].forced[0].rule.path).toBe('spec.template.spec.volume.ephemeral.volume_claim_template.spec.storage_class_name');
    expect(kinds(compareEdited('kubernetes_deployment_v1', ephemeral('gp3', '10Gi'), ephemeral('gp3', '20Gi'))).sort()).toEqual(['rollout', 'update']);
    expect(kinds(compareEdited('kubernetes_deployment_v1', ephemeral('gp3', '10Gi'), ephemeral('gp3', '10240Mi')))).toEqual([]);
  });
});

describe('the rules cite the provider and name real attributes', () => {
  const bindings = (type: string) => {
    const dir = path.join(ROOT, 'node_modules/@cdktf/provider-kubernetes/lib', type.replace(/^kubernetes_/, '').replace(/_/g, '-'));
    return (fs.readdirSync(dir, { recursive: true }) as string[])
      .filter((file) => file.endsWith('.js'))
      .map((file) => fs.readFileSync(path.join(dir, file), 'utf8'))
      .join('\n');
  };
  const types = REVIEWED_TYPES.filter((type) => type.startsWith('kubernetes_') && type !== 'kubernetes_manifest');

  test.each(types)('%s', (type) => {
    const source = bindings(type);
    for (const rule of [...quantityRules(type), ...computedRules(type)]) {
      expect(rule.source).toMatch(/^hashicorp\/terraform-provider-kubernetes v2\.38\.0 kubernetes\/\S+\.go /);
      for (const segment of rule.path.split('.')) expect([type, rule.path, segment, source.includes(`${segment}: `)]).toEqual([type, rule.path, segment, true]);
    }
  });

  test('the new ForceNew rules cite their schema', () => {
    const added = REPLACEMENT_RULES.filter((rule) => /spec\.template\.(metadata|spec\.volume\.ephemeral)/.test(rule.path));
    expect(added.map((rule) => rule.path.replace(/^spec\.template\./, ''))).toEqual([
      'metadata.name',
      'metadata.namespace',
      'metadata.generate_name',
      ...['access_modes', 'storage_class_name', 'volume_mode', 'volume_name', 'selector', 'resources.limits'].map((f) => `spec.volume.ephemeral.volume_claim_template.spec.${f}`),
    ]);
    for (const rule of added) expect(rule.provider).toMatch(/(schema_metadata|schema_persistent_volume_claim)\.go/);
  });
});

describe('--base synthesizes the revision with its own configuration', () => {
  let scratch: string;
  let repo: string;
  const git = (...args: string[]) => spawnSync('git', ['-C', repo, ...args], { encoding: 'utf8' });
  const io = () => {
    const collected = { stdout: '', stderr: '', out: (t: string) => (collected.stdout += t), err: (t: string) => (collected.stderr += `${t}\n`) };
    return collected as Io & { stdout: string; stderr: string };
  };
  const writeOutDir = (dir: string, stacks: StackDocument[]) => {
    const manifest: Record<string, { synthesizedStackPath: string }> = {};
    for (const { name, doc } of stacks) {
      fs.mkdirSync(path.join(dir, 'stacks', name), { recursive: true });
      fs.writeFileSync(path.join(dir, 'stacks', name, 'cdk.tf.json'), JSON.stringify(doc));
      manifest[name] = { synthesizedStackPath: `stacks/${name}/cdk.tf.json` };
    }
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ stacks: manifest }));
    return dir;
  };
  /** The revision's app: synthesizes whatever configuration file it is given (its `triton` section only, for speed). */
  const runApp = (seen: string[]) => (_worktree: string, env: NodeJS.ProcessEnv) => {
    seen.push(env.OMNIGLUE_CONFIG as string);
    const input = JSON.parse(fs.readFileSync(env.OMNIGLUE_CONFIG as string, 'utf8'));
    writeOutDir(env.CDKTF_OUTDIR as string, stackDocuments({ triton: input.triton }));
    return { status: 0, output: '' };
  };
  const config = (imageTag: string) => `${JSON.stringify({ triton: { imageTag } })}\n`;

  beforeAll(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-review-config-'));
    repo = path.join(scratch, 'repo');
    fs.mkdirSync(path.join(repo, 'node_modules'), { recursive: true });
    fs.writeFileSync(path.join(repo, '.gitignore'), 'node_modules\nprivate.json\n');
    fs.writeFileSync(path.join(repo, 'omniglue.config.json'), config('26.06-py3'));
    git('init', '-q');
    git('add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'base');
    // The change under review: a configuration edit, committed or not.
    fs.writeFileSync(path.join(repo, 'omniglue.config.json'), config('26.07-py3'));
  });
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  const review = (argv: string[], configFile: string) => {
    const current = writeOutDir(path.join(scratch, `current-${argv.length}`), stackDocuments({ triton: { imageTag: '26.07-py3' } }));
    const seen: string[] = [];
    const collected = io();
    const previous = process.env.OMNIGLUE_CONFIG;
    process.env.OMNIGLUE_CONFIG = configFile;
    try {
      expect(main(['--out-dir', current, '--base', 'HEAD', ...argv], collected, { repoRoot: repo, runApp: runApp(seen) })).toBe(0);
    } finally {
      if (previous === undefined) delete process.env.OMNIGLUE_CONFIG;
      else process.env.OMNIGLUE_CONFIG = previous;
    }
    return { seen, stdout: collected.stdout };
  };

  test("a configuration change shows its consequences: the base reads the revision's copy", () => {
    const { seen, stdout } = review([], path.join(repo, 'omniglue.config.json'));
    expect(seen[0]).not.toBe(path.join(repo, 'omniglue.config.json'));
    expect(seen[0]).toMatch(/omniglue\.config\.json$/);
    expect(stdout).toContain('synthesized with its own omniglue.config.json');
    expect(stdout).toContain('image of container triton: nvcr.io/nvidia/tritonserver:26.06-py3 → nvcr.io/nvidia/tritonserver:26.07-py3');
  });

  test('--same-config compares the code alone: no changes', () => {
    const { seen, stdout } = review(['--same-config'], path.join(repo, 'omniglue.config.json'));
    expect(seen).toEqual([path.join(repo, 'omniglue.config.json')]);
    expect(stdout).toContain("this checkout's omniglue.config.json (--same-config)");
    expect(stdout).toContain('**No changes**');
  });

  test('a configuration file git does not track is read by both sides', () => {
    const file = path.join(repo, 'private.json');
    fs.writeFileSync(file, config('26.07-py3'));
    const { seen, stdout } = review([], file);
    expect(seen).toEqual([file]);
    expect(stdout).toContain("this checkout's private.json (not versioned in HEAD)");
  });

  test('--same-config needs --base', () => {
    const collected = io();
    expect(main(['--against', scratch, '--same-config'], collected)).toBe(2);
    expect(collected.stderr).toContain('--same-config applies to --base <git ref> only');
  });
});
