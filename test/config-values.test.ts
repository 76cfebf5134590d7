import { App, Testing, TerraformStack } from 'cdktf';
import { parseConfig, parseConfigDocument } from '../config/load';
import { PrometheusAdapter } from '../constructs/prometheus-adapter';
import { labelKeyProblem, labelValueFor, labelValueProblem } from '../lib/kubernetes-names';
import { ValidationError } from '../lib/validation-error';
import { configRejection } from './support/config-errors';
import { findResource, synthesize } from './support/synth';

const OWN_PROMETHEUS = { installKubePrometheusStack: false, existingPrometheusUrl: 'http://prometheus.obs.svc:9090' };
const S3 = { backend: 's3', region: 'eu-west-1' };

// Each value Kubernetes, Terraform or the cloud would refuse is refused here, with the setting named and why.
describe('values the cluster or the cloud would refuse', () => {
  test.each<[string, Record<string, unknown>, RegExp]>([
    ['a label key whose name part is 64 characters', { gpu: { nodeLabel: { key: `example.com/${'a'.repeat(64)}` } } }, /gpu\.nodeLabel\.key: must be a Kubernetes label key .*its name part is 64 characters, at most 63/],
    ['a label key whose prefix is 254 characters', { gpu: { taint: { key: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}/x` } } }, /gpu\.taint\.key: .*its prefix .* must be at most 253 characters/],
    ['a label key prefix that is no DNS subdomain', { gpu: { nodeLabel: { key: 'Example.com/x' } } }, /gpu\.nodeLabel\.key: .*its prefix "Example\.com" must be a DNS-1123 subdomain/],
    ['a label key with two slashes', { gpu: { nodeLabel: { key: 'a/b/c' } } }, /gpu\.nodeLabel\.key: .*at most one "\/"/],
    ['a label key with an empty prefix', { gpu: { nodeLabel: { key: '/x' } } }, /gpu\.nodeLabel\.key: .*the prefix before "\/" is empty/],
    ['a label key with an empty name', { gpu: { nodeLabel: { key: 'example.com/' } } }, /gpu\.nodeLabel\.key: .*the name part is empty/],
    ['a label key name ending in "-"', { monitoring: { ...OWN_PROMETHEUS, podMonitorLabels: { 'release-': 'x' } } }, /monitoring\.podMonitorLabels\.release-: must be a Kubernetes label key .*starting and ending with a letter or digit/],
    ['a label value of 64 characters', { monitoring: { ruleLabels: { team: 'a'.repeat(64) } } }, /monitoring\.ruleLabels\.team: must be at most 63 characters \(a Kubernetes label value\)/],
    ['an image repository over 255 characters', { triton: { imageRepository: `registry.example/${'a'.repeat(240)}` } }, /triton\.imageRepository: must be at most 255 characters/],
    ['an image reference whose name is over 255 characters', { conversion: { image: `registry.example/${'a'.repeat(240)}:1` } }, /conversion\.image: must be a container image reference: .*at most 255 characters/],
    ['an image digest that is not sha256', { conversion: { image: `python@sha512:${'a'.repeat(128)}` } }, /conversion\.image: must pin its digest as sha256/],
    ['a newline in an extraEnv value', { conversion: { extraEnv: { NO_PROXY: 'a\nb' } } }, /conversion\.extraEnv\.NO_PROXY: must not contain control characters \(found U\+000A at position 2\)/],
    ['a control character in state.directory', { state: { backend: 'local', directory: 'st\u0001ate' } }, /state\.directory: must not contain control characters \(found U\+0001 at position 3\)/],
    ['a newline in the kubeconfig path', { kubernetes: { configPath: '~/.kube/config\n' } }, /kubernetes\.configPath: must not contain control characters/],
    ['a tab in a weights URL (WHATWG URL would drop it)', { conversion: { weights: { dinov2: { url: 'https://example.com/d\tinov2.pth' } } } }, /conversion\.weights\.dinov2\.url: must be an http\(s\):\/\/ or file:\/\/ URL; it must not contain control characters \(found U\+0009/],
    ['an unparsable chart URL', { chartRepositories: { prometheusCommunity: 'https://[::1' } }, /chartRepositories\.prometheusCommunity: must be an http\(s\):\/\/ or oci:\/\/ Helm chart repository URL; "https:\/\/\[::1" does not parse/],
    ['a chart URL on port 0', { chartRepositories: { nvidiaDevicePlugin: 'https://charts.example:0/nvidia' } }, /chartRepositories\.nvidiaDevicePlugin: .*port 0 is not a port \(1-65535\)/],
    ['a chart URL without a host', { chartRepositories: { nvidiaDevicePlugin: 'https://:8080/x' } }, /chartRepositories\.nvidiaDevicePlugin: must be an http\(s\):\/\/ or oci:\/\/ Helm chart repository URL/],
    ['a Prometheus URL on port 99999', { monitoring: { ...OWN_PROMETHEUS, existingPrometheusUrl: 'http://prometheus:99999' } }, /monitoring\.existingPrometheusUrl: .*does not parse as one/],
    ['a Prometheus URL with a broken IPv6 host', { monitoring: { ...OWN_PROMETHEUS, existingPrometheusUrl: 'http://[::1' } }, /monitoring\.existingPrometheusUrl: .*does not parse as one/],
    ['a Prometheus URL with credentials', { monitoring: { ...OWN_PROMETHEUS, existingPrometheusUrl: 'http://user:secret@prometheus:9090' } }, /monitoring\.existingPrometheusUrl: .*must not hold credentials/],
    ['a Prometheus URL with a query', { monitoring: { ...OWN_PROMETHEUS, existingPrometheusUrl: 'http://prometheus:9090/?tenant=a' } }, /monitoring\.existingPrometheusUrl: .*must not have a query \(\?\) or fragment/],
    ['credentials in a weights URL', { conversion: { weights: { omniglue: { url: 'https://u:p@example.com/og.zip' } } } }, /conversion\.weights\.omniglue\.url: .*must not hold credentials/],
    ['an S3 bucket with capitals', { state: { ...S3, bucket: 'My-State' } }, /state\.bucket: must be an S3 bucket name: lower-case letters/],
    ['an S3 bucket of two characters', { state: { ...S3, bucket: 'ab' } }, /state\.bucket: must be an S3 bucket name: 3 to 63 characters/],
    ['an S3 bucket with adjacent periods', { state: { ...S3, bucket: 'a..b' } }, /state\.bucket: must be an S3 bucket name: no two adjacent periods/],
    ['an S3 bucket named like an IP address', { state: { ...S3, bucket: '192.168.5.4' } }, /state\.bucket: must be an S3 bucket name: not formatted as an IP address/],
    ['an S3 bucket with a reserved prefix', { state: { ...S3, bucket: 'xn--state' } }, /state\.bucket: .*the prefixes xn--, sthree- and amzn-s3-demo- are reserved/],
    ['an S3 bucket with a reserved suffix', { state: { ...S3, bucket: 'state-s3alias' } }, /state\.bucket: .*the suffixes -s3alias/],
    ['a GCS bucket starting with goog', { state: { backend: 'gcs', bucket: 'goog-state' } }, /state\.bucket: must be a GCS bucket name: it may not start with "goog"/],
    ['a GCS bucket with "google" in it', { state: { backend: 'gcs', bucket: 'my-g00gle-state' } }, /state\.bucket: must be a GCS bucket name: .*"google" or a look-alike/],
    ['a GCS bucket with a dot-separated part over 63', { state: { backend: 'gcs', bucket: `${'a'.repeat(64)}.example` } }, /state\.bucket: must be a GCS bucket name: each dot-separated part 1 to 63 characters/],
    ['a GCS bucket with a trailing underscore', { state: { backend: 'gcs', bucket: 'state_' } }, /state\.bucket: must be a GCS bucket name: lower-case letters/],
    ['a GCS bucket named like an IP address', { state: { backend: 'gcs', bucket: '10.0.0.1' } }, /state\.bucket: must be a GCS bucket name: not an IP address/],
    ['a GCS bucket of 64 characters without dots', { state: { backend: 'gcs', bucket: 'a'.repeat(64) } }, /state\.bucket: must be a GCS bucket name: 3 to 63 characters/],
    ['a DynamoDB table of two characters', { state: { ...S3, bucket: 'tf-state', dynamodbTable: 'lk' } }, /state\.dynamodbTable: must be a DynamoDB table name: 3 to 255/],
    ['an Azure resource group ending in "."', { state: { backend: 'azurerm', resourceGroupName: 'rg.', storageAccountName: 'acct01', containerName: 'tfstate' } }, /state\.resourceGroupName: must be an Azure resource group name: it may not end with "\."/],
    ['an Azure resource group with a space', { state: { backend: 'azurerm', resourceGroupName: 'rg state', storageAccountName: 'acct01', containerName: 'tfstate' } }, /state\.resourceGroupName: must be an Azure resource group name: letters, digits/],
    ['an Azure resource group of 91 characters', { state: { backend: 'azurerm', resourceGroupName: 'r'.repeat(91), storageAccountName: 'acct01', containerName: 'tfstate' } }, /state\.resourceGroupName: must be an Azure resource group name: 1 to 90 characters/],
    ['an Azure container with "--"', { state: { backend: 'azurerm', resourceGroupName: 'rg', storageAccountName: 'acct01', containerName: 'tf--state' } }, /state\.containerName: must be an Azure blob container name/],
  ])('refuses %s', (_name, input, message) => {
    expect(configRejection(input)).toMatch(message);
  });

  test.each(['conversion.extraEnv', 'monitoring.ruleLabels', 'monitoring.podMonitorLabels'])('a "__proto__" key in %s is refused, not dropped', (setting) => {
    const [section, map] = setting.split('.');
    const document = JSON.parse(`{"monitoring": {"installKubePrometheusStack": false, "existingPrometheusUrl": "http://p.obs.svc:9090"}, "${section}": {"${map}": {"__proto__": "x"}}}`);
    if (section === 'conversion') document.monitoring = undefined;
    expect(() => parseConfigDocument(JSON.parse(JSON.stringify(document).replace('"monitoring":null,', '')), 'f.json')).toThrow(
      new RegExp(`${setting.replace('.', '\\.')}\\.__proto__: the key "__proto__" is refused: a JavaScript object cannot hold it as an ordinary key`),
    );
  });

  test('a "__proto__" key of an environment overlay is refused too, naming the environment', () => {
    expect(() => parseConfigDocument(JSON.parse('{"environments": {"prod": {"conversion": {"extraEnv": {"__proto__": "x"}}}}}'), 'f.json')).toThrow(
      /environments\.prod: conversion\.extraEnv\.__proto__: the key "__proto__" is refused/,
    );
  });

  test('a PrometheusAdapter built with an unparsable URL refuses it, with its path, instead of crashing', () => {
    const stack = new TerraformStack(Testing.app() as App, 'adapter');
    expect(() => new PrometheusAdapter(stack, 'adapter', { prometheus: 'http://[::1' })).toThrow(ValidationError);
    expect(() => new PrometheusAdapter(stack, 'again', { prometheus: 'http://prometheus:0' })).toThrow(/^prometheus \('http:\/\/prometheus:0'\) must be an http:\/\/ or https:\/\/ URL.*port 0 is not a port/);
  });
});

describe('valid values are accepted and passed on as written', () => {
  test('a label key of 317 characters: a 253-character prefix and a 63-character name', () => {
    const prefix = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    const key = `${prefix}/${'n'.repeat(63)}`;
    expect(prefix).toHaveLength(253);
    expect(key).toHaveLength(317);
    expect(parseConfig({ gpu: { nodeLabel: { key } } }).gpu.nodeLabel.key).toBe(key);
  });

  test.each(['a__b/c', 'a--b/c', '[::1]:5000/x', 'NVCR.io/nvidia/tritonserver', 'localhost:5000/mirror/tritonserver'])('the image repository %s', (repository) => {
    expect(parseConfig({ triton: { imageRepository: repository } }).triton.imageRepository).toBe(repository);
  });

  test('the query of a chart repository and of a weights URL is kept as written', () => {
    const chart = 'https://charts.internal/nvidia?channel=stable';
    const weights = 'https://mirror.internal/dinov2.pth?X-Signature=abc%2Fdef';
    const { platform, serving } = synthesize({ chartRepositories: { nvidiaDevicePlugin: chart }, conversion: { weights: { dinov2: { url: weights } } } });
    expect(findResource(platform, 'helm_release', 'nvidia-device-plugin').repository).toBe(chart);
    expect(findResource(serving, 'kubernetes_job_v1', 'model-conversion').spec.template.spec.container[0].args).toContain(`dinov2=${weights}`);
  });

  test('valid cloud names of each backend', () => {
    for (const state of [
      { ...S3, bucket: 'acme.terraform-state', dynamodbTable: 'Terraform_Locks.v1' },
      { backend: 'gcs', bucket: `state_${'a'.repeat(57)}.${'b'.repeat(63)}` },
      { backend: 'azurerm', resourceGroupName: 'rg-(state)_1.a', storageAccountName: 'acct01', containerName: 'tf-state' },
    ]) {
      expect(parseConfig({ state }).state).toMatchObject(state);
    }
  });
});

describe('the image tag as a label value', () => {
  test.each([
    ['26.06-py3', '26.06-py3'],
    ['v1-', 'v1'],
    ['_build.7.', 'build.7'],
    ['a'.repeat(100), 'a'.repeat(63)],
    [`${'a'.repeat(62)}-b`, 'a'.repeat(62)],
    ['___', ''],
  ])('%s gives app.kubernetes.io/version %s, a value the API server accepts', (tag, label) => {
    expect(labelValueFor(tag)).toBe(label);
    expect(labelValueProblem(labelValueFor(tag))).toBeUndefined();
  });

  test('a tag of 128 characters ending in "." still synthesizes a Deployment whose labels are all valid', () => {
    const tag = `${'b'.repeat(127)}.`;
    const { serving } = synthesize({ triton: { imageTag: tag } });
    const deployment = findResource(serving, 'kubernetes_deployment_v1', 'triton');
    expect(deployment.spec.template.spec.container[0].image).toBe(`nvcr.io/nvidia/tritonserver:${tag}`);
    for (const labels of [deployment.metadata.labels, deployment.spec.template.metadata.labels]) {
      for (const [key, value] of Object.entries<string>(labels)) {
        expect(labelKeyProblem(key)).toBeUndefined();
        expect(labelValueProblem(value)).toBeUndefined();
      }
    }
    expect(deployment.metadata.labels['app.kubernetes.io/version']).toBe('b'.repeat(63));
  });
});
