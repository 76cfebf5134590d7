import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { OmniglueConfigInput } from '../config/schema';
import { STACK_NAMES } from '../stacks';
import { EXIT_FAIL_ON, Io, main } from '../scripts/review/cli';
import { COMMENT_MARKER, renderChangeReview } from '../scripts/review/change-markdown';
import { CONSEQUENCE_KINDS, compareSyntheses, consequencesJson, StackDocument } from '../scripts/review/compare';
import { beforeAfter } from '../scripts/review/describe-change';
import { forcedReplacements, REPLACEMENT_RULES, REVIEWED_TYPES } from '../scripts/review/immutable-fields';
import { stackDocuments } from './support/review-stacks';
import { synthesize } from './support/synth';

const ROOT = path.resolve(__dirname, '..');

const defaults = stackDocuments({});
const compareWith = (input: OmniglueConfigInput) => compareSyntheses(defaults, stackDocuments(input));
const kindsByAddress = (input: OmniglueConfigInput) =>
  compareWith(input).consequences.map((c) => `${c.kind} ${c.address.replace(/_[0-9A-F]{8}$/, '')}${c.destructive ? ' destructive' : ''}`);

/** A copy of the default serving stack with one resource edited, compared with the original. */
function doctor(type: string, edit: (resource: any) => void) {
  const [serving] = defaults.filter((s) => s.name === STACK_NAMES.serving);
  const after: { name: string; doc: any } = JSON.parse(JSON.stringify(serving));
  edit(Object.values(after.doc.resource[type])[0]);
  return compareSyntheses([serving], [after]);
}

function collectingIo(): Io & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (text: string) => (io.stdout += text), err: (text: string) => (io.stderr += `${text}\n`) };
  return io;
}

function writeOutDir(dir: string, stacks: StackDocument[]): string {
  const manifest: Record<string, { synthesizedStackPath: string }> = {};
  for (const { name, doc } of stacks) {
    fs.mkdirSync(path.join(dir, 'stacks', name), { recursive: true });
    fs.writeFileSync(path.join(dir, 'stacks', name, 'cdk.tf.json'), JSON.stringify(doc));
    manifest[name] = { synthesizedStackPath: `stacks/${name}/cdk.tf.json` };
  }
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ stacks: manifest }));
  return dir;
}

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-review-changes-'));
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('scenarios', () => {
  test('an unchanged configuration has no consequences', () => {
    const review = compareWith({});
    expect(review.consequences).toEqual([]);
    expect(renderChangeReview(review, { before: 'a', after: 'b' })).toContain('**No changes**');
  });

  test('a new Triton image tag rolls the Triton pods and runs nothing', () => {
    const review = compareWith({ triton: { imageTag: '26.07-py3' } });
    expect(review.consequences.map((c) => c.kind).sort()).toEqual(['rollout', 'update', 'update']);
    const rollout = review.consequences.find((c) => c.kind === 'rollout');
    expect(rollout?.address).toMatch(/^kubernetes_deployment_v1\./);
    expect(rollout?.reason).toContain('image of container triton: nvcr.io/nvidia/tritonserver:26.06-py3 → nvcr.io/nvidia/tritonserver:26.07-py3');
    expect(rollout?.reason).toContain('RollingUpdate (max surge 1, max unavailable 0)');
  });

  test.each([
    ['a changed weight URL', { conversion: { weights: { dinov2: { url: 'https://mirror.example.com/dinov2_vitb14_pretrain.pth' } } } }],
    ['a changed sample-match threshold', { conversion: { minSampleMatches: 20 } }],
  ])('%s runs the conversion Job under a new name and rolls Triton to the new model version', (_name, input) => {
    const review = compareWith(input);
    expect(review.consequences.map((c) => c.kind).sort()).toEqual(['job-run', 'replace', 'rollout', 'update']);
    expect(review.consequences.every((c) => !c.destructive)).toBe(true);
    const jobRun = review.consequences.find((c) => c.kind === 'job-run');
    expect(jobRun?.address).toMatch(/^kubernetes_job_v1\./);
    expect(jobRun?.reason).toMatch(/new name, was omniglue-convert-/);
    const { timeoutMinutes, backoffLimit } = synthesize({}).config.conversion;
    expect(jobRun?.reason).toContain(
      `may take up to ${timeoutMinutes} min (active_deadline_seconds ${timeoutMinutes * 60}, up to ${backoffLimit + 1} attempts (backoff_limit ${backoffLimit}) within it)`,
    );
    expect(jobRun?.reason).toContain('terraform apply waits for it up to 70m');
    expect(review.consequences.find((c) => c.kind === 'rollout')?.reason).toMatch(/annotation omniglue\.dev\/model-version: [0-9a-f]{12} → [0-9a-f]{12}/);
  });

  test.each([
    ['GPU utilization target', { autoscaling: { gpuUtilizationTargetPercent: 60 } }],
    ['queue-to-compute target', { autoscaling: { queueToComputeRatio: { target: '1500m' } } }],
  ])('a new HPA %s updates the autoscaler in place and rolls nothing', (_name, input) => {
    expect(kindsByAddress(input)).toEqual(['update kubernetes_horizontal_pod_autoscaler_v2.triton-autoscaler']);
    const [update] = compareWith(input).consequences;
    expect(update.reason).toMatch(/spec\.metric\[\d\]\.pods\.target\.average_value: .* → .*; rolls nothing/);
  });

  test('a new storage class replaces the model volume: destructive, flagged at the top', () => {
    const review = compareWith({ modelRepository: { storageClassName: 'fast-nfs' } });
    expect(consequencesJson(review).consequences).toEqual([
      {
        kind: 'replace',
        address: 'kubernetes_persistent_volume_claim_v1.model-repository_claim_6B08F54B',
        stack: STACK_NAMES.serving,
        destructive: true,
        reason: expect.stringContaining('spec.storage_class_name: unset → fast-nfs (provider ForceNew; immutable in the Kubernetes API); its data is lost'),
      },
    ]);
    expect(review.consequences[0].reason).toMatch(/kubernetes_job_v1\.\S+ keeps its name and does not run again/);
    const markdown = renderChangeReview(review, { before: 'main', after: 'cdktf.out' });
    expect(markdown.split('\n').slice(0, 8).join('\n')).toContain('> [!CAUTION]');
  });

  test('a chart version or values change upgrades the Helm release', () => {
    const review = compareWith({ chartVersions: { kubePrometheusStack: '82.0.0' }, monitoring: { scrapeIntervalSeconds: 10 } });
    const upgrades = review.consequences.filter((c) => c.kind === 'helm-upgrade');
    expect(upgrades.every((c) => c.address.startsWith('helm_release.') && c.stack === STACK_NAMES.platform)).toBe(true);
    const prometheus = upgrades.find((c) => c.address.startsWith('helm_release.prometheus_release'))?.reason;
    expect(prometheus).toMatch(/^helm upgrade of release monitoring\/kube-prometheus-stack: version: 81\.6\.2 → 82\.0\.0; values prometheus\.prometheusSpec\.\S*scrape_interval: 5s → 10s/);
    expect(review.consequences.filter((c) => c.kind === 'rollout')).toEqual([]);
  });

  test('a new namespace replaces everything in it and flags the namespace and the volume as destructive', () => {
    const review = compareWith({ namespace: 'omniglue-2' });
    expect(review.consequences.filter((c) => c.destructive).map((c) => c.address.split('.')[0])).toEqual([
      'kubernetes_namespace_v1',
      'kubernetes_persistent_volume_claim_v1',
    ]);
    expect(review.consequences.find((c) => c.address.startsWith('kubernetes_deployment_v1'))?.reason).toContain('not a rolling update');
    expect(review.consequences.find((c) => c.kind === 'job-run')?.reason).toContain('same name, recreated because metadata.namespace changed');
  });

  test('renders the Markdown for a pull request', () => {
    const review = compareWith({ triton: { imageTag: '26.07-py3' }, modelRepository: { storageClassName: 'fast-nfs' }, autoscaling: { gpuUtilizationTargetPercent: 60 } });
    const markdown = renderChangeReview(review, { before: 'origin/main (1a2b3c4)', after: 'cdktf.out' });
    expect(markdown.startsWith(`${COMMENT_MARKER}\n`)).toBe(true);
    expect(markdown).toMatchSnapshot();
  });
});

describe('replacement table', () => {
  /** The generated JavaScript of a resource's cdktf bindings: every attribute appears there as `snake_name: `. */
  const cache = new Map<string, string>();
  const bindings = (type: string) => cache.get(type) ?? cache.set(type, readBindings(type)).get(type)!;
  const readBindings = (type: string) => {
    const dir =
      type === 'helm_release'
        ? path.join(ROOT, 'node_modules/@cdktf/provider-helm/lib/release')
        : path.join(ROOT, 'node_modules/@cdktf/provider-kubernetes/lib', type.replace(/^kubernetes_/, '').replace(/_/g, '-'));
    return (fs.readdirSync(dir, { recursive: true }) as string[])
      .filter((file) => file.endsWith('.js'))
      .map((file) => fs.readFileSync(path.join(dir, file), 'utf8'))
      .join('\n');
  };

  test('every rule cites the provider or the Kubernetes API', () => {
    for (const rule of REPLACEMENT_RULES) expect(`${rule.provider ?? ''}${rule.api ?? ''}`).toMatch(/terraform-provider-(kubernetes v2\.38\.0|helm v3\.1\.1)|kubernetes\/kubernetes|kubernetes\.io\/docs/);
  });

  test("every rule's path names attributes of the resource in the provider's bindings", () => {
    for (const rule of REPLACEMENT_RULES) {
      // A Namespace is cluster-scoped: its metadata has no namespace.
      const types =
        rule.types === 'kubernetes'
          ? REVIEWED_TYPES.filter((t) => t.startsWith('kubernetes_') && t !== 'kubernetes_manifest' && !(t === 'kubernetes_namespace_v1' && rule.path === 'metadata.namespace'))
          : rule.types.filter((t) => REVIEWED_TYPES.includes(t));
      // kubernetes_manifest's paths below `manifest` are the object's own fields, not provider attributes.
      // Below a map attribute (requests) come map keys (storage), not attributes.
      const all = rule.path.split('.');
      const mapAt = all.findIndex((segment) => ['requests', 'limits', 'data', 'binary_data', 'match_labels'].includes(segment));
      const segments = rule.types.includes('kubernetes_manifest') ? ['manifest'] : mapAt >= 0 ? all.slice(0, mapAt + 1) : all;
      for (const type of types) {
        const source = bindings(type);
        for (const segment of segments) expect([type, segment, source.includes(`${segment}: `)]).toEqual([type, segment, true]);
      }
    }
  });

  test('storage may grow in place but shrinking replaces the claim', () => {
    const resize = (size: string) => doctor('kubernetes_persistent_volume_claim_v1', (pvc) => (pvc.spec.resources.requests.storage = size)).consequences;
    expect(resize('100Gi').map((c) => [c.kind, c.destructive])).toEqual([['update', false]]);
    expect(resize('40Gi').map((c) => [c.kind, c.destructive])).toEqual([['replace', true]]);
  });

  test('any storage class or access mode change replaces the claim; a label change does not', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/);
    fc.assert(
      fc.property(name, fc.constantFrom('ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteOncePod'), name, (storageClass, accessMode, label) => {
        const byClass = doctor('kubernetes_persistent_volume_claim_v1', (pvc) => (pvc.spec.storage_class_name = storageClass));
        const byMode = doctor('kubernetes_persistent_volume_claim_v1', (pvc) => (pvc.spec.access_modes = [accessMode]));
        const byLabel = doctor('kubernetes_persistent_volume_claim_v1', (pvc) => (pvc.metadata.labels.team = label));
        return byClass.consequences[0].kind === 'replace' && byMode.consequences[0].destructive && byLabel.consequences.map((c) => c.kind).join() === 'update';
      }),
      { numRuns: 10 },
    );
  });

  test.each([
    ['kubernetes_deployment_v1', 'spec.selector', (r: any) => (r.spec.selector.match_labels.tier = 'gpu')],
    ['kubernetes_service_v1', 'spec.cluster_ip', (r: any) => (r.spec.cluster_ip = '10.0.0.12')],
    ['kubernetes_pod_disruption_budget_v1', 'spec', (r: any) => (r.spec.max_unavailable = '2')],
    ['kubernetes_job_v1', 'spec.template', (r: any) => (r.spec.template.spec.container[0].image = 'python:3.12-slim')],
    ['helm_release', 'name', (r: any) => (r.name = 'alerts')],
  ])('%s: a change to %s forces replacement', (type, rulePath, edit) => {
    const [replace] = doctor(type, edit).consequences;
    expect(replace.kind).toBe('replace');
    expect(replace.destructive).toBe(false);
    const forced = doctor(type, edit).resources[0].forced;
    expect(forced[0].rule.path).toBe(rulePath);
  });

  test('an immutable ConfigMap is replaced when its data changes, a mutable one updated', () => {
    const before = { immutable: true, data: { a: '1' } };
    expect(forcedReplacements('kubernetes_config_map_v1', [{ path: 'data.a', before: '1', after: '2' }], before)).toHaveLength(1);
    expect(forcedReplacements('kubernetes_config_map_v1', [{ path: 'data.a', before: '1', after: '2' }], { data: { a: '1' } })).toEqual([]);
  });

  test('a PDB change replaces the budget and rolls nothing', () => {
    const review = doctor('kubernetes_pod_disruption_budget_v1', (pdb) => (pdb.spec.max_unavailable = '2'));
    expect(review.consequences[0].reason).toContain('rolls nothing');
    expect(renderChangeReview(review, { before: 'a', after: 'b' })).toContain('- **rolls nothing** `kubernetes_pod_disruption_budget_v1.');
  });
});

describe('comparison rules', () => {
  test('a rollout names changed resources and environment per container', () => {
    const review = doctor('kubernetes_deployment_v1', (deployment) => {
      const [triton] = deployment.spec.template.spec.container;
      triton.resources.limits.memory = '32Gi';
      triton.env.push({ name: 'CUDA_MODULE_LOADING', value: 'LAZY' });
    });
    expect(review.consequences.find((c) => c.kind === 'rollout')?.reason).toMatch(/because the pod template changed: environment of container triton: CUDA_MODULE_LOADING; resources of container triton: limits\.memory 10Gi → 32Gi$/);
  });

  test('lifecycle.ignore_changes hides the replica count the HPA owns', () => {
    expect(doctor('kubernetes_deployment_v1', (d) => (d.spec.replicas = '5')).consequences).toEqual([]);
  });

  test('a block written as a one-element list equals the object, and numbers equal numeric strings', () => {
    expect(doctor('kubernetes_deployment_v1', (d) => ((d.spec.strategy = [d.spec.strategy]), (d.spec.revision_history_limit = '5'))).consequences).toEqual([]);
  });

  test('Terraform-side settings change nothing in the cluster', () => {
    const [update] = doctor('kubernetes_job_v1', (job) => (job.timeouts.create = '90m')).consequences;
    expect(update).toMatchObject({ kind: 'update', reason: expect.stringContaining('nothing changes in the cluster') });
  });

  test('a Job without deadline or create timeout says so', () => {
    const review = doctor('kubernetes_job_v1', (job) => {
      job.metadata.name = 'convert-now';
      delete job.spec.active_deadline_seconds;
      delete job.spec.backoff_limit;
      delete job.timeouts;
    });
    expect(review.consequences.find((c) => c.kind === 'job-run')?.reason).toContain(
      'has no deadline (active_deadline_seconds unset): up to 7 attempts (backoff_limit 6), each as long as its pod runs; terraform apply waits for it up to 1m, the provider default',
    );
  });

  test('secret values are never printed, and unreviewed types are named', () => {
    const after = JSON.parse(JSON.stringify(defaults));
    const before = JSON.parse(JSON.stringify(defaults));
    before[1].doc.resource.kubernetes_secret_v1 = { token: { metadata: { name: 't' }, data: { key: 'old-secret' } } };
    after[1].doc.resource.kubernetes_secret_v1 = { token: { metadata: { name: 't' }, data: { key: 'new-secret' } } };
    before[1].doc.resource.kubernetes_role_v1 = { reader: { metadata: { name: 'r' }, rule: [{ verbs: ['get'] }] } };
    after[1].doc.resource.kubernetes_role_v1 = { reader: { metadata: { name: 'r' }, rule: [{ verbs: ['get', 'list'] }] } };
    const review = compareSyntheses(before, after);
    const markdown = renderChangeReview(review, { before: 'a', after: 'b' });
    expect(markdown).toContain('data.key changed (value hidden)');
    expect(markdown).not.toContain('new-secret');
    expect(review.unreviewedTypes).toEqual(['kubernetes_role_v1']);
    expect(markdown).toContain('**Not covered by the replacement table**');
  });

  test('a stack present on one side only is created or deleted whole', () => {
    const review = compareSyntheses(defaults.slice(1), defaults);
    expect(review.stacks.map((s) => s.status)).toEqual(['added', 'unchanged']);
    expect(new Set(review.consequences.filter((c) => c.stack === STACK_NAMES.platform).map((c) => c.kind))).toEqual(new Set(['create']));
  });

  test('long values are cut to where they differ', () => {
    const a = `${'x'.repeat(100)}/versions/849c5d0c4c86 --strict${'y'.repeat(100)}`;
    expect(beforeAfter(a, a.replace('849c5d0c4c86', 'a2f5aacec21c'))).toBe(
      `…${'x'.repeat(14)}/versions/849c5d0c4c86 --strict${'y'.repeat(15)}… → …${'x'.repeat(14)}/versions/a2f5aacec21c --strict${'y'.repeat(15)}…`,
    );
  });
});

describe('npm run review -- --against / --base', () => {
  test('rejects conflicting or incomplete flags with the usage', () => {
    const cases: [string[], RegExp][] = [
      [['--against', 'a', '--base', 'main'], /--against and --base are alternatives/],
      [['--json', 'x.json'], /--json and --fail-on need --against <dir> or --base <git ref>/],
      [['--against', 'a', '--fail-on', 'replace'], /--fail-on replace: unknown value; allowed: destructive/],
    ];
    for (const [argv, message] of cases) {
      const io = collectingIo();
      expect(main(argv, io)).toBe(2);
      expect(io.stderr).toMatch(message);
      expect(io.stderr).toContain('Usage: npm run review');
    }
  });

  test('fails with the synth hint when the earlier directory is missing', () => {
    const current = writeOutDir(path.join(scratch, 'current'), defaults);
    const io = collectingIo();
    expect(main(['--out-dir', current, '--against', path.join(scratch, 'nope')], io)).toBe(1);
    expect(io.stderr).toContain('run `npm run synth` first');
  });

  test('exits non-zero on a destructive change with --fail-on destructive and writes --json (child process)', () => {
    const before = writeOutDir(path.join(scratch, 'before'), defaults);
    const after = writeOutDir(path.join(scratch, 'after'), stackDocuments({ modelRepository: { storageClassName: 'fast-nfs' } }));
    const json = path.join(scratch, 'consequences.json');
    const run = spawnSync(path.join(ROOT, 'node_modules/.bin/tsx'), ['scripts/review/cli.ts', '--against', before, '--out-dir', after, '--json', json, '--fail-on', 'destructive'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(run.status).toBe(EXIT_FAIL_ON);
    expect(run.stdout).toContain('> [!CAUTION]');
    expect(run.stderr).toContain('1 destructive change (--fail-on destructive)');
    const written = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(Object.keys(written)).toEqual(['consequences']);
    expect(written.consequences.map((c: object) => Object.keys(c))).toEqual([['kind', 'address', 'stack', 'destructive', 'reason']]);
    expect(written.consequences[0]).toMatchObject({ kind: 'replace', destructive: true });
    expect(CONSEQUENCE_KINDS).toEqual(['create', 'delete', 'update', 'replace', 'rollout', 'job-run', 'helm-upgrade']);
  });

  describe('--base', () => {
    let repo: string;
    const git = (...args: string[]) => spawnSync('git', ['-C', repo, ...args], { encoding: 'utf8' });
    beforeAll(() => {
      repo = path.join(scratch, 'repo');
      fs.mkdirSync(path.join(repo, 'node_modules'), { recursive: true });
      fs.writeFileSync(path.join(repo, 'cdktf.json'), '{"app": "node scripts/synth-app.mjs"}\n');
      fs.writeFileSync(path.join(repo, '.gitignore'), 'node_modules\n');
      git('init', '-q');
      git('add', '.');
      git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'base');
    });

    test('synthesizes the revision in a worktree with the same configuration and environment, then removes it', () => {
      const current = writeOutDir(path.join(scratch, 'with-image'), stackDocuments({ triton: { imageTag: '26.07-py3' } }));
      const seen: { config?: string; environment?: string; modules?: boolean; worktree?: string } = {};
      const io = collectingIo();
      const previous = { config: process.env.OMNIGLUE_CONFIG, environment: process.env.OMNIGLUE_ENV };
      process.env.OMNIGLUE_CONFIG = 'omniglue.config.json';
      process.env.OMNIGLUE_ENV = 'staging';
      try {
        const code = main(['--out-dir', current, '--base', 'HEAD'], io, {
          repoRoot: repo,
          runApp: (worktree, env) => {
            Object.assign(seen, { config: env.OMNIGLUE_CONFIG, environment: env.OMNIGLUE_ENV, modules: fs.lstatSync(path.join(worktree, 'node_modules')).isSymbolicLink(), worktree });
            writeOutDir(env.CDKTF_OUTDIR as string, defaults);
            return { status: 0, output: '' };
          },
        });
        expect(code).toBe(0);
      } finally {
        process.env.OMNIGLUE_CONFIG = previous.config;
        process.env.OMNIGLUE_ENV = previous.environment;
        if (previous.config === undefined) delete process.env.OMNIGLUE_CONFIG;
        if (previous.environment === undefined) delete process.env.OMNIGLUE_ENV;
      }
      expect(seen.config).toBe(path.resolve('omniglue.config.json'));
      expect(seen.environment).toBe('staging');
      expect(seen.modules).toBe(true);
      expect(fs.existsSync(seen.worktree as string)).toBe(false);
      expect(git('worktree', 'list').stdout.trim().split('\n')).toHaveLength(1);
      expect(io.stdout).toMatch(/over `HEAD \([0-9a-f]{7}\)`/);
      expect(io.stdout).toContain('- **rollout** `kubernetes_deployment_v1.');
    });

    test('names an unknown ref and a failed synth', () => {
      const current = path.join(scratch, 'current');
      const unknown = collectingIo();
      expect(main(['--out-dir', current, '--base', 'no-such-branch'], unknown, { repoRoot: repo })).toBe(1);
      expect(unknown.stderr).toContain('--base no-such-branch: not a commit');
      const failing = collectingIo();
      expect(main(['--out-dir', current, '--base', 'HEAD'], failing, { repoRoot: repo, runApp: () => ({ status: 1, output: "Invalid configuration:\n  - triton.foo: unknown setting(s) 'foo'" }) })).toBe(1);
      expect(failing.stderr).toMatch(/synthesizing [0-9a-f]{7} with .* failed \(exit 1\):\nInvalid configuration:\n {2}- triton\.foo/);
      expect(git('worktree', 'list').stdout.trim().split('\n')).toHaveLength(1);
    });
  });
});

describe('CI workflow', () => {
  test('reviews pull requests against their base branch and posts the Markdown', () => {
    const workflow = parseYaml(fs.readFileSync(path.join(ROOT, '.github/workflows/review.yml'), 'utf8'));
    expect(Object.keys(workflow.on)).toEqual(['pull_request']);
    const steps: { run?: string; uses?: string; with?: { script?: string } }[] = workflow.jobs.review.steps;
    const review = steps.find((s) => /npm run (--silent )?review --/.test(s.run ?? ''))?.run ?? '';
    expect(review).toMatch(/--base "origin\/\$BASE_REF"/);
    expect(workflow.jobs.review.steps.find((s: { id?: string }) => s.id === 'review').env.BASE_REF).toBe('${{ github.base_ref }}');
    expect(review).toContain('--json review.json');
    expect(review).toContain('--fail-on destructive');
    expect(steps.find((s) => s.uses?.startsWith('actions/github-script@'))?.with?.script).toContain(COMMENT_MARKER);
  });
});
