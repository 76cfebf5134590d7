import * as path from 'path';
import { loadConfig } from '../config/load';
import { OmniglueConfigInput } from '../config/schema';
import { synthesize } from './support/synth';
import { configRejection } from './support/config-errors';

const EXAMPLE = path.resolve(__dirname, '..', 'omniglue.config.example.json');

function documents(input: OmniglueConfigInput) {
  const synthesized = synthesize(input);
  return { platform: JSON.parse(synthesized.platform.json), serving: JSON.parse(synthesized.serving.json) };
}


const crossStackInput = (serving: any) => serving.data.terraform_remote_state['cross-stack-reference-input-gpu-platform'];

describe('state backends', () => {
  test('local state by default, one file per stack at the repository root, relative to the stack directory', () => {
    const { platform, serving } = documents({});
    expect(platform.terraform.backend).toEqual({ local: { path: '../../../terraform.gpu-platform.tfstate', workspace_dir: '../../../terraform.gpu-platform.tfstate.d' } });
    expect(serving.terraform.backend).toEqual({ local: { path: '../../../terraform.omniglue-serving.tfstate', workspace_dir: '../../../terraform.omniglue-serving.tfstate.d' } });
  });

  const backends: [string, OmniglueConfigInput['state'], string, Record<string, unknown>, Record<string, unknown>][] = [
    ['s3', { backend: 's3', bucket: 'tf-state', region: 'eu-west-1' }, 's3',
      { bucket: 'tf-state', region: 'eu-west-1', key: 'omniglue-triton/gpu-platform.tfstate', encrypt: true, use_lockfile: true },
      { key: 'omniglue-triton/omniglue-serving.tfstate' }],
    ['gcs', { backend: 'gcs', bucket: 'tf-state', prefix: 'teams/ml' }, 'gcs', { bucket: 'tf-state', prefix: 'teams/ml/gpu-platform' }, { prefix: 'teams/ml/omniglue-serving' }],
    ['azurerm', { backend: 'azurerm', resourceGroupName: 'rg-state', storageAccountName: 'tfstate01', containerName: 'tfstate' }, 'azurerm',
      { resource_group_name: 'rg-state', storage_account_name: 'tfstate01', container_name: 'tfstate', key: 'omniglue-triton/gpu-platform.tfstate', use_azuread_auth: true },
      { key: 'omniglue-triton/omniglue-serving.tfstate' }],
    ['kubernetes', { backend: 'kubernetes', namespace: 'terraform-state' }, 'kubernetes',
      { secret_suffix: 'omniglue-triton-gpu-platform', namespace: 'terraform-state', config_path: '~/.kube/config' },
      { secret_suffix: 'omniglue-triton-omniglue-serving' }],
    ['remote', { backend: 'remote', organization: 'acme' }, 'remote',
      { hostname: 'app.terraform.io', organization: 'acme', workspaces: { name: 'omniglue-triton-gpu-platform' } },
      { workspaces: { name: 'omniglue-triton-omniglue-serving' } }],
  ];

  test.each(backends)('%s: each stack has its own state, and the serving stack reads the platform state from it', (_name, state, type, platformConfig, servingConfig) => {
    const { platform, serving } = documents({ state });
    expect(platform.terraform.backend[type]).toMatchObject(platformConfig);
    expect(serving.terraform.backend[type]).toMatchObject(servingConfig);
    const remoteState = crossStackInput(serving);
    expect(remoteState.backend).toBe(type);
    expect(remoteState.config).toMatchObject(platformConfig);
  });

  test('cloud: named workspaces per stack; the serving stack reads the platform workspace', () => {
    const { platform, serving } = documents({ state: { backend: 'cloud', organization: 'acme', project: 'ml-platform' } });
    expect(platform.terraform.cloud).toMatchObject({ organization: 'acme', workspaces: { name: 'omniglue-triton-gpu-platform', project: 'ml-platform' } });
    expect(serving.terraform.cloud.workspaces.name).toBe('omniglue-triton-omniglue-serving');
    expect(crossStackInput(serving)).toMatchObject({ backend: 'remote', config: { organization: 'acme', workspaces: { name: 'omniglue-triton-gpu-platform' } } });
  });

  test('the cross-stack reference: the Triton NetworkPolicy admits the namespace of the Prometheus release the platform stack installed', () => {
    const { platform, serving } = documents({ state: { backend: 's3', bucket: 'tf-state', region: 'eu-west-1' } });
    const [outputName, output] = Object.entries<any>(platform.output).find(([name]) => name.startsWith('cross-stack-output-'))!;
    expect(output.value).toMatch(/^\$\{helm_release\.prometheus_release_[A-Z0-9]+\.namespace\}$/);
    const policy = Object.values<any>(serving.resource.kubernetes_network_policy_v1)[0];
    const namespaces = policy.spec.ingress.flatMap((rule: any) => rule.from.map((peer: any) => peer.namespace_selector?.match_labels?.['kubernetes.io/metadata.name']));
    expect(namespaces).toContain(`\${data.terraform_remote_state.cross-stack-reference-input-gpu-platform.outputs.${outputName}}`);
  });

  test('with your own Prometheus there is nothing to reference: the configured namespace is written', () => {
    const { serving } = documents({ monitoring: { installKubePrometheusStack: false, existingPrometheusUrl: 'http://prometheus.obs.svc:9090', namespace: 'obs' } });
    expect(serving.data?.terraform_remote_state).toBeUndefined();
    expect(serving.resource.kubernetes_network_policy_v1 && JSON.stringify(serving.resource.kubernetes_network_policy_v1)).toContain('"kubernetes.io/metadata.name":"obs"');
  });

  test('the example file has environments with remote state; an overlay replaces the base state whole', () => {
    expect(loadConfig({ file: EXAMPLE }).state).toEqual({ backend: 'local', directory: '.' });
    expect(loadConfig({ file: EXAMPLE, environment: 'team-aws' }).state).toEqual({
      backend: 's3', bucket: 'acme-terraform-state', region: 'eu-west-1', keyPrefix: 'omniglue-triton', useLockfile: true, encrypt: true,
    });
    expect(loadConfig({ file: EXAMPLE, environment: 'team-kubernetes-state' }).state.backend).toBe('kubernetes');
  });

  test.each([
    ['an unknown backend', { state: { backend: 'swift' } }, /state\.backend: must be one of local, s3, gcs, azurerm, kubernetes, remote, cloud/],
    ['a state section without a backend', { state: {} }, /state\.backend: must be one of local, s3, gcs, azurerm, kubernetes, remote, cloud/],
    ['an S3 backend without a bucket', { state: { backend: 's3', region: 'eu-west-1' } }, /state\.bucket: must be of type string/],
    ['a malformed region', { state: { backend: 's3', bucket: 'b', region: 'Europe' } }, /state\.region: must be an AWS region such as "eu-west-1"/],
    ['credentials in the configuration', { state: { backend: 's3', bucket: 'b', region: 'eu-west-1', accessKey: 'AKIA' } }, /state: unknown setting\(s\) 'accessKey'/],
    ['a storage key in the configuration', { state: { backend: 'azurerm', resourceGroupName: 'rg', storageAccountName: 'acct01', containerName: 'tfstate', accessKey: 'k' } }, /state: unknown setting\(s\) 'accessKey'/],
    ['an absolute local directory', { state: { backend: 'local', directory: '/var/state' } }, /state\.directory: must be relative to the repository root/],
    ['a key prefix with a leading slash', { state: { backend: 'gcs', bucket: 'b', prefix: '/teams' } }, /state\.prefix: must be a path of letters/],
    ['an upper-case storage account', { state: { backend: 'azurerm', resourceGroupName: 'rg', storageAccountName: 'TFState', containerName: 'tfstate' } }, /state\.storageAccountName: must be an Azure storage account name/],
    ['an HCP backend without organization', { state: { backend: 'cloud' } }, /state\.organization: must be of type string/],
  ])('refuses %s, naming the setting', (_name, input, message) => {
    expect(configRejection(input)).toMatch(message);
  });
});

test('local state keeps non-default workspaces beside the default state, outside the synthesized directory', () => {
  const { platform } = documents({ state: { backend: 'local', directory: 'state' } });
  expect(platform.terraform.backend.local).toEqual({ path: '../../../state/terraform.gpu-platform.tfstate', workspace_dir: '../../../state/terraform.gpu-platform.tfstate.d' });
});

test('a Secret suffix prefix that would overflow the 63-character label is refused', () => {
  expect(configRejection({ state: { backend: 'kubernetes', secretSuffixPrefix: 'a'.repeat(47) } })).toMatch(/state\.secretSuffixPrefix: must be at most 46 characters/);
});
