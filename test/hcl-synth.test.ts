import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// cdktf is archived; HCL output (`cdktf synth --hcl`, `npm run synth:hcl`) is the way out to plain Terraform.
// The CLI sets SYNTH_HCL_OUTPUT and the cdktf library renders the HCL (the CLI only reformats it), so running
// the app with it exercises the same rendering; in a child process, since the renderer keeps the process alive.
describe('HCL output', () => {
  let output: string;
  const read = (stack: string) => fs.readFileSync(path.join(output, 'stacks', stack, 'cdk.tf'), 'utf8');

  beforeAll(() => {
    output = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-hcl-'));
    const root = path.resolve(__dirname, '..');
    execFileSync(process.execPath, [path.join(root, 'scripts', 'synth-app.mjs')], {
      cwd: root,
      env: { ...process.env, SYNTH_HCL_OUTPUT: 'true', CDKTF_OUTDIR: output, OMNIGLUE_CONFIG: path.join(root, 'omniglue.config.json'), OMNIGLUE_ENV: '' },
      stdio: 'pipe',
    });
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
