import { Testing } from 'cdktf';
// cdktf's Jest matchers (toHaveResourceWithProperties, ...) and their type declarations, for this suite only.
import 'cdktf/lib/testing/adapters/jest';
import { createHash } from 'crypto';
import { DeploymentV1, HelmRelease, HorizontalPodAutoscalerV2, JobV1, PersistentVolumeClaimV1 } from '../lib/provider-classes';
import { synthesize } from './support/synth';

/** ConfigMaps carry whole scripts and images: the snapshot records their digests, the files themselves are reviewed as code. */
function digestConfigMapPayloads(document: any): any {
  for (const configMap of Object.values<any>(document.resource?.kubernetes_config_map_v1 ?? {})) {
    for (const field of ['data', 'binary_data']) {
      if (configMap[field] === undefined) continue;
      configMap[field] = Object.fromEntries(
        Object.entries<string>(configMap[field]).map(([key, value]) => [key, `sha256:${createHash('sha256').update(value).digest('hex').slice(0, 16)} (${value.length} chars)`]),
      );
    }
  }
  return document;
}

// A snapshot change is a change to what users deploy: review the diff, then update with `npx jest -u`.
describe('synthesized stacks with the default configuration', () => {
  const { platform, serving } = synthesize();

  test('gpu-platform', () => {
    expect(digestConfigMapPayloads(JSON.parse(platform.json))).toMatchSnapshot();
  });

  test('omniglue-serving', () => {
    expect(digestConfigMapPayloads(JSON.parse(serving.json))).toMatchSnapshot();
  });
});
Testing.setupJest();

// The stack's intent in cdktf's own matchers (snake_case, as Terraform sees it).
describe('intent of the synthesized stacks', () => {
  const { stacks } = synthesize();
  const serving = Testing.synth(stacks.serving);
  const platform = Testing.synth(stacks.platform);

  test('the Triton container requests a GPU and tolerates the GPU taint', () => {
    const podSpec = (spec: object) => ({ spec: expect.objectContaining({ template: expect.objectContaining({ spec: expect.objectContaining(spec) }) }) });
    expect(serving).toHaveResourceWithProperties(DeploymentV1, podSpec({ toleration: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] }));
    expect(serving).toHaveResourceWithProperties(
      DeploymentV1,
      podSpec({ container: [expect.objectContaining({ resources: expect.objectContaining({ limits: expect.objectContaining({ 'nvidia.com/gpu': '1' }) }) })] }),
    );
  });

  test('the server waits for the conversion Job', () => {
    expect(serving).toHaveResourceWithProperties(DeploymentV1, { depends_on: [expect.stringMatching(/^kubernetes_job_v1\./)] });
    expect(serving).toHaveResourceWithProperties(JobV1, { wait_for_completion: true });
  });

  test('the HPA scales a Deployment on GPU utilization', () => {
    expect(serving).toHaveResourceWithProperties(HorizontalPodAutoscalerV2, {
      spec: expect.objectContaining({
        scale_target_ref: expect.objectContaining({ kind: 'Deployment', name: expect.stringMatching(/^\$\{kubernetes_deployment_v1\./) }),
        metric: expect.arrayContaining([expect.objectContaining({ pods: expect.objectContaining({ metric: { name: 'triton_gpu_utilization_percent' } }) })]),
      }),
    });
  });

  test('the model volume is shared and does not wait to be bound', () => {
    expect(serving).toHaveResourceWithProperties(PersistentVolumeClaimV1, { wait_until_bound: false, spec: expect.objectContaining({ access_modes: ['ReadWriteMany'] }) });
  });

  test('the device plugin comes from NVIDIA’s chart repository at a pinned version', () => {
    expect(platform).toHaveResourceWithProperties(HelmRelease, { chart: 'nvidia-device-plugin', repository: 'https://nvidia.github.io/k8s-device-plugin', version: '0.18.0' });
  });
});
