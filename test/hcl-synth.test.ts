import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'cdktf';
import { parseConfig } from '../config/load';
import { createStacks } from '../stacks';

// cdktf is archived; HCL output (`cdktf synth --hcl`, `npm run synth:hcl`) is the way out to plain Terraform.
// The CLI sets SYNTH_HCL_OUTPUT and the cdktf library renders the HCL (the CLI only reformats it), so this
// exercises the same rendering in-process.
describe('HCL output', () => {
  let output: string;
  const read = (stack: string) => fs.readFileSync(path.join(output, 'stacks', stack, 'cdk.tf'), 'utf8');

  beforeAll(() => {
    output = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-hcl-'));
    const previous = process.env.SYNTH_HCL_OUTPUT;
    process.env.SYNTH_HCL_OUTPUT = 'true';
    try {
      const app = new App({ outdir: output });
      createStacks(app, parseConfig({}));
      app.synth();
    } finally {
      if (previous === undefined) delete process.env.SYNTH_HCL_OUTPUT;
      else process.env.SYNTH_HCL_OUTPUT = previous;
    }
  });
  afterAll(() => fs.rmSync(output, { recursive: true, force: true }));

  test.each([
    ['gpu-platform', ['resource "helm_release" "nvidia-device-plugin_release_', 'path = "../../../terraform.gpu-platform.tfstate"']],
    ['omniglue-serving', ['resource "kubernetes_deployment_v1" "triton_deployment_', 'resource "kubernetes_job_v1" "model-conversion_job_', 'resource "kubernetes_horizontal_pod_autoscaler_v2"', 'kubernetes_job_v1.model-conversion_job_']],
  ])('writes plain HCL for %s', (stack, fragments) => {
    const hcl = read(stack);
    expect(hcl.trimStart()).toMatch(/^terraform \{/);
    for (const fragment of fragments) expect(hcl).toContain(fragment);
  });

  test('keeps the Triton rollout behind the conversion Job', () => {
    expect(read('omniglue-serving')).toMatch(/depends_on = \[\s*"?kubernetes_job_v1\.model-conversion_job_/);
  });

  test.each(['gpu-platform', 'omniglue-serving'])('writes the helm provider’s kubernetes setting as the attribute helm 3.x requires (%s)', (stack) => {
    const provider = /provider "helm" \{([\s\S]*?)\n\}/.exec(read(stack))?.[1] ?? '';
    expect(provider).toMatch(/kubernetes = \{\s*config_path = "~\/\.kube\/config"/);
    expect(provider).not.toMatch(/kubernetes \{/);
  });
});
