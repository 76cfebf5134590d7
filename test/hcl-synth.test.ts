import { renderHcl } from './support/hcl';
import { synthesize } from './support/synth';

// cdktf is archived; HCL output (`cdktf synth --hcl`, `npm run synth:hcl`) is the way out to plain Terraform.
// test/hcl-round-trip.test.ts parses it back and compares it with the JSON; these are the readable landmarks.
describe('HCL output', () => {
  const { stacks } = synthesize();
  const hcl = { 'gpu-platform': renderHcl(stacks.platform), 'omniglue-serving': renderHcl(stacks.serving) };

  test.each([
    ['gpu-platform', ['resource "helm_release" "nvidia-device-plugin_release_', 'path = "../../../terraform.gpu-platform.tfstate"']],
    ['omniglue-serving', ['resource "kubernetes_deployment_v1" "triton_deployment_', 'resource "kubernetes_job_v1" "model-conversion_job_', 'resource "kubernetes_horizontal_pod_autoscaler_v2"', 'kubernetes_job_v1.model-conversion_job_']],
  ] as const)('writes plain HCL for %s', (stack, fragments) => {
    expect(hcl[stack].trimStart()).toMatch(/^terraform \{/);
    for (const fragment of fragments) expect(hcl[stack]).toContain(fragment);
  });

  test('keeps the Triton rollout behind the conversion Job', () => {
    expect(hcl['omniglue-serving']).toMatch(/depends_on = \[\s*"?kubernetes_job_v1\.model-conversion_job_/);
  });

  test.each(['gpu-platform', 'omniglue-serving'] as const)('writes the helm provider’s kubernetes setting as the attribute helm 3.x requires (%s)', (stack) => {
    const provider = /provider "helm" \{([\s\S]*?)\n\}/.exec(hcl[stack])?.[1] ?? '';
    expect(provider).toMatch(/kubernetes = \{\s*config_path = "~\/\.kube\/config"/);
    expect(provider).not.toMatch(/kubernetes \{/);
  });

  test.each(['gpu-platform', 'omniglue-serving'] as const)('writes each Helm release one values document, never a list of heredocs (%s)', (stack) => {
    expect(hcl[stack]).not.toMatch(/^\s*EOF,\s*$/m);
    const releases = hcl[stack].split(/\n(?=resource ")/).filter((block) => block.startsWith('resource "helm_release"'));
    expect(releases.length).toBeGreaterThan(0);
    for (const release of releases) expect(release).toMatch(/\nvalues = \[\n<<EOF\n[^]*?\nEOF\n\]\n/);
  });
});
