import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Testing } from 'cdktf';
import { ConfigError, loadConfig, parseConfigDocument } from '../config/load';
import { OmniglueConfig } from '../config/schema';
import { cdktfInvocations } from '../scripts/cdktf-run';
import { environmentOutdir, outdirConflict } from '../lib/environment-output';
import { clusterClaims } from '../config/environment-isolation';
import { resolvedResources } from '../scripts/review/resource-diff';
import { createStacks } from '../stacks';
import { synthesize } from './support/synth';

const ROOT = path.resolve(__dirname, '..');
const FILES = ['omniglue.config.json', 'omniglue.config.example.json'].map((file) => path.join(ROOT, file));

/** Every environment of a file (undefined: the base), loaded as synth loads it. */
function environmentsOf(file: string): (string | undefined)[] {
  return [undefined, ...Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).environments ?? {})];
}

/** Both stacks' Terraform JSON for one environment, synthesized as main.ts does. */
function synthesizeEnvironment(config: OmniglueConfig, environment: string | undefined): any[] {
  const app = Testing.app() as App;
  const stacks = createStacks(app, config, { environment });
  // The whole app, as cdktf synth does: only then are cross-stack references resolved into remote state.
  app.synth();
  const documents = [stacks.platform, stacks.serving].map((stack) => JSON.parse(fs.readFileSync(path.join(app.outdir, 'stacks', stack.node.id, 'cdk.tf.json'), 'utf8')));
  fs.rmSync(app.outdir, { recursive: true, force: true });
  return documents;
}

const refusal = (document: object, environment?: string) => {
  try {
    parseConfigDocument(document as never, 'test.json', environment);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
};

describe("the repository's own files: an independent check of what synth writes", () => {
  test.each(FILES)('%s: no two environments share a state or a cluster target', (file) => {
    const states = new Map<string, string>();
    const targets = new Map<string, string>();
    for (const environment of environmentsOf(file)) {
      const config = loadConfig({ file, environment });
      const documents = synthesizeEnvironment(config, environment);
      for (const doc of documents) {
        const [type, backend] = Object.entries<any>(doc.terraform.backend ?? { cloud: doc.terraform.cloud })[0];
        // Local paths are relative to the stack's own directory: resolve them from the environment's.
        const where = type === 'local' ? path.resolve(ROOT, environmentOutdir(environment), 'stacks', 'x', backend.path) : JSON.stringify({ type, ...backend, workspace_dir: undefined });
        expect([where, states.get(where)]).toEqual([where, undefined]);
        states.set(where, `${environment}`);
      }
      const provider = Object.values<any>(documents[1].provider.kubernetes)[0] ?? documents[1].provider.kubernetes;
      const target = `${provider.config_path}#${provider.config_context ?? ''}#${config.namespace}`;
      expect([target, targets.get(target)]).toEqual([target, undefined]);
      targets.set(target, `${environment}`);
    }
  });
});

describe('state and output per environment', () => {
  test('a named environment has its own local state files and output directory; the base keeps its own', () => {
    const config = loadConfig({ file: FILES[0], environment: 'staging' });
    const [platform] = synthesizeEnvironment(config, 'staging');
    expect(platform.terraform.backend.local).toEqual({
      path: '../../../../../terraform.staging.gpu-platform.tfstate',
      workspace_dir: '../../../../../terraform.staging.gpu-platform.tfstate.d',
    });
    expect(environmentOutdir('staging')).toBe('cdktf.out/environments/staging');
    expect(environmentOutdir(undefined)).toBe('cdktf.out');
    expect(JSON.parse(synthesize({}).platform.json).terraform.backend.local.path).toBe('../../../terraform.gpu-platform.tfstate');
  });

  test.each([
    [{ backend: 's3', bucket: 'tf-state', region: 'eu-west-1' }, 's3', { key: 'omniglue-triton/staging/gpu-platform.tfstate' }],
    [{ backend: 'gcs', bucket: 'tf-state' }, 'gcs', { prefix: 'omniglue-triton/staging/gpu-platform' }],
    [{ backend: 'azurerm', resourceGroupName: 'rg', storageAccountName: 'acct01', containerName: 'tfstate' }, 'azurerm', { key: 'omniglue-triton/staging/gpu-platform.tfstate' }],
    [{ backend: 'kubernetes' }, 'kubernetes', { secret_suffix: 'omniglue-triton-staging-gpu-platform' }],
    [{ backend: 'remote', organization: 'acme' }, 'remote', { workspaces: { name: 'omniglue-triton-staging-gpu-platform' } }],
  ])('%j: the environment is part of the state location', (state, type, expected) => {
    const config = parseConfigDocument({ state, environments: { staging: { kubernetes: { configContext: 'staging' } } } } as never, 'test.json', 'staging');
    const [platform, serving] = synthesizeEnvironment(config, 'staging');
    expect(platform.terraform.backend[type]).toMatchObject(expected);
    expect(serving.data.terraform_remote_state['cross-stack-reference-input-gpu-platform'].config).toMatchObject(expected);
  });

  test('npm run deploy, diff and destroy hand the CLI the environment\'s directory', () => {
    const manifest = { stacks: { 'gpu-platform': {}, 'omniglue-serving': { dependencies: ['gpu-platform'] } } };
    expect(cdktfInvocations('deploy', manifest, [], 'cdktf.out/environments/staging')).toEqual([
      ['deploy', 'gpu-platform', 'omniglue-serving', '--skip-synth', '--output', 'cdktf.out/environments/staging'],
    ]);
  });

  test('a synthesis into another environment\'s directory is refused, naming the right one', () => {
    expect(outdirConflict(path.join(ROOT, 'cdktf.out'), 'staging', ROOT)).toMatch(
      /^OMNIGLUE_ENV staging synthesizes into cdktf\.out\/environments\/staging .* but the output directory is cdktf\.out: .* --output cdktf\.out\/environments\/staging$/,
    );
    expect(outdirConflict(path.join(ROOT, 'cdktf.out/environments/prod'), undefined, ROOT)).toMatch(/^without OMNIGLUE_ENV synthesizes into cdktf\.out /);
    expect(outdirConflict(path.join(ROOT, 'cdktf.out/environments/staging'), 'staging', ROOT)).toBeUndefined();
    expect(outdirConflict(os.tmpdir(), 'staging', ROOT)).toBeUndefined();
  });

  test('the cdktf CLI pointed at another environment\'s directory synthesizes nothing (child process)', () => {
    const parent = path.join(ROOT, 'cdktf.out', 'environments');
    // Whatever of cdktf.out/environments this test creates, it removes again.
    const created = [path.join(ROOT, 'cdktf.out'), parent].filter((dir) => !fs.existsSync(dir));
    fs.mkdirSync(parent, { recursive: true });
    const result = spawnSync(process.execPath, ['scripts/synth-app.mjs'], {
      cwd: ROOT,
      encoding: 'utf8',
      // As the cdktf CLI runs its app command (@cdktf/cli-core synth-stack.js): main.ts then prints the error once, on stdout.
      env: { ...process.env, CDKTF_OUTDIR: path.join(ROOT, 'cdktf.out', 'environments', 'not-staging'), CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS: 'true', SYNTH_HCL_OUTPUT: 'false', OMNIGLUE_ENV: 'staging', OMNIGLUE_CONFIG: FILES[0] },
    });
    expect(result.stdout).toContain('OMNIGLUE_ENV staging synthesizes into cdktf.out/environments/staging');
    expect(result.stdout).toContain('Nothing was synthesized.');
    expect(fs.existsSync(path.join(ROOT, 'cdktf.out', 'environments', 'not-staging', 'manifest.json'))).toBe(false);
    for (const dir of created.reverse()) fs.rmdirSync(dir);
  });
});

describe('environments that would share a cluster or a state are refused', () => {
  const shared = { environments: { staging: { triton: { replicas: { min: 1, max: 2 } } }, production: {} } };

  test('two environments on the current context with one namespace (the old default file)', () => {
    const message = refusal(shared);
    expect(message).toContain("environment 'staging' and environment 'production' both deploy to the current context of ~/.kube/config and both create namespace omniglue");
    expect(message).toContain('set kubernetes.allowSharedTarget to true in both');
    expect(message).toContain('the base configuration (no OMNIGLUE_ENV) and environment');
  });

  test('allowSharedTarget on both sides lets them be, on one side only does not', () => {
    expect(() => parseConfigDocument({ kubernetes: { allowSharedTarget: true }, ...shared } as never, 'test.json')).not.toThrow();
    const oneSided = { environments: { a: { kubernetes: { allowSharedTarget: true } }, b: {} } };
    expect(refusal(oneSided)).toContain("environment 'a' and environment 'b' both deploy");
  });

  test('other namespaces on one cluster still share the cluster-wide add-ons', () => {
    const message = refusal({ environments: { a: { namespace: 'omniglue-a' }, b: { namespace: 'omniglue-b' } } });
    expect(message).toMatch(/environment 'a' and environment 'b' both deploy .* both create the NVIDIA device plugin/);
    expect(message).not.toContain('namespace omniglue-a');
  });

  test('two environments whose state locations coincide', () => {
    const s3 = (keyPrefix: string) => ({ backend: 's3', bucket: 'tf-state', region: 'eu-west-1', keyPrefix });
    const message = refusal({ state: s3('team/staging'), kubernetes: { configContext: 'base' }, environments: { staging: { state: s3('team'), kubernetes: { configContext: 's' } } } });
    expect(message).toContain("the base configuration (no OMNIGLUE_ENV) and environment 'staging' share the state s3://tf-state/team/staging/gpu-platform.tfstate");
  });

  test('a Secret suffix the environment name makes too long for a label', () => {
    const message = refusal({ state: { backend: 'kubernetes', secretSuffixPrefix: 'a'.repeat(40) }, environments: { staging: { kubernetes: { configContext: 's' } } } });
    expect(message).toMatch(/environment 'staging': the state Secret suffix 'a{40}-staging-omniglue-serving' of stack omniglue-serving has 65 characters; .* at most 63/);
  });
});

describe('the cluster claims match what the stacks create', () => {
  const variants = [
    {},
    { monitoring: { installKubePrometheusStack: false, existingPrometheusUrl: 'http://prometheus.obs.svc:9090', namespace: 'obs' } },
    { monitoring: { installKubePrometheusStack: false, prometheusOperator: false, installAlertRules: false, installPrometheusAdapter: false }, autoscaling: { enabled: false } },
  ];

  test.each(variants)('%j: every object outside the serving namespace is claimed', (input) => {
    const synthesized = synthesize(input);
    const claims = clusterClaims(synthesized.config);
    const ADD_ONS: Record<string, string> = { 'kube-prometheus-stack': 'kube-prometheus-stack', 'prometheus-adapter': 'prometheus-adapter', 'nvidia-device-plugin': 'the NVIDIA device plugin' };
    for (const stack of [synthesized.platform, synthesized.serving]) {
      for (const [type, byName] of Object.entries(resolvedResources(JSON.parse(stack.json)))) {
        for (const resource of Object.values<any>(byName)) {
          const metadata = resource.metadata ?? resource.manifest?.metadata ?? {};
          const namespace: string | undefined = type === 'helm_release' ? resource.namespace : metadata.namespace;
          const name: string = type === 'helm_release' ? resource.name : metadata.name;
          if (type === 'kubernetes_namespace_v1' || namespace === synthesized.config.namespace) {
            expect(claims).toContain(`namespace ${synthesized.config.namespace}`);
            continue;
          }
          const kind = type === 'helm_release' ? 'Helm release' : type === 'kubernetes_config_map_v1' ? 'ConfigMap' : type;
          const claimed = claims.some((claim) => claim === `${kind} ${namespace}/${name}` || (ADD_ONS[name] !== undefined && claim.startsWith(ADD_ONS[name])));
          expect([type, namespace, name, claimed]).toEqual([type, namespace, name, true]);
        }
      }
    }
  });
});
