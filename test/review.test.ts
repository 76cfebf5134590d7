import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'cdktf';
import { parseConfig } from '../config/load';
import { createStacks, STACK_NAMES } from '../stacks';
import { Io, main, readStacks, review } from '../scripts/review/cli';
import { renderReview } from '../scripts/review/markdown';
import { CHECKS, parseDuration, runChecks } from '../scripts/review/checks';
import { StackSummary, summarizeStack } from '../scripts/review/summarize';
import { TerraformJson } from '../scripts/review/terraform-json';
import { parseImage } from '../scripts/review/workloads';

/** The default configuration synthesized as `cdktf synth` writes it: a real cdktf.out layout in a temp dir. */
let outDir: string;
let docs: Record<string, TerraformJson>;
let platform: StackSummary;
let serving: StackSummary;

beforeAll(() => {
  outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-review-'));
  const app = new App({ outdir: outDir });
  createStacks(app, parseConfig({}));
  app.synth();
  docs = Object.fromEntries(readStacks(outDir).map(({ name, doc }) => [name, doc]));
  platform = summarizeStack(STACK_NAMES.platform, docs[STACK_NAMES.platform]);
  serving = summarizeStack(STACK_NAMES.serving, docs[STACK_NAMES.serving]);
});

afterAll(() => {
  fs.rmSync(outDir, { recursive: true, force: true });
});

function collectingIo(): Io & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (text: string) => (io.stdout += text), err: (text: string) => (io.stderr += `${text}\n`) };
  return io;
}

/** A deep copy of a synthesized stack to doctor; `edit` gets its resources. */
function doctored(stack: string, edit: (resource: Record<string, Record<string, any>>) => void): StackSummary {
  const copy = JSON.parse(JSON.stringify(docs[stack]));
  edit(copy.resource);
  return summarizeStack(stack, copy);
}
const only = (resources: Record<string, any>) => Object.values(resources)[0];

describe('summary of the default stacks', () => {
  test('lists the platform Helm releases with pinned charts', () => {
    const devicePlugin = platform.helmReleases.find((r) => r.chart === 'nvidia-device-plugin');
    expect(devicePlugin).toMatchObject({ version: '0.18.0', repository: 'https://nvidia.github.io/k8s-device-plugin', namespace: 'nvidia-device-plugin' });
    expect(platform.helmReleases.map((r) => r.chart)).toEqual(['nvidia-device-plugin', 'kube-prometheus-stack', 'prometheus-adapter']);
  });

  test('shows the Triton image tag and its GPU request, toleration and node affinity', () => {
    expect(serving.images.find((i) => i.container === 'triton')).toMatchObject({ image: 'nvcr.io/nvidia/tritonserver:26.06-py3', tag: '26.06-py3' });
    expect(serving.gpu.find((g) => g.container === 'triton')).toEqual({
      workload: 'Deployment/omniglue-triton',
      container: 'triton',
      gpuRequest: '1',
      gpuLimit: '1',
      tolerations: ['nvidia.com/gpu Exists:NoSchedule'],
      nodeAffinity: ['feature.node.kubernetes.io/pci-10de.present In [true]'],
      runtimeClass: undefined,
    });
    // The conversion Job runs on CPU by default, init container included.
    expect(serving.images.filter((i) => i.workload.startsWith('Job/')).map((i) => [i.container, i.init])).toEqual([['install-dependencies', true], ['convert', false]]);
  });

  test('shows replicas, rollout, probes and the HPA with both metrics', () => {
    const [deployment] = serving.deployments;
    expect(deployment).toMatchObject({ name: 'omniglue-triton', namespace: 'omniglue', replicas: 2, replicasIgnored: true, createTimeout: '100m' });
    expect(deployment.probes.find((p) => p.kind === 'startup')).toMatchObject({ periodSeconds: 10, failureThreshold: 90, budgetSeconds: 900 });
    const [hpa] = serving.autoscalers;
    expect(hpa).toMatchObject({ minReplicas: 2, maxReplicas: 4, targetKind: 'Deployment', targetName: 'omniglue-triton' });
    expect(hpa.metrics.map((m) => [m.name, m.target])).toEqual([
      ['triton_gpu_utilization_percent', 'AverageValue 70'],
      ['triton_queue_compute_ratio', 'AverageValue 1'],
    ]);
    expect(hpa.behavior).toEqual(['up: stabilization 0s, max(2 pods/15s, 100%/15s)', 'down: stabilization 300s, min(1 pods/60s)']);
  });

  test('shows storage, the conversion Job, services, network policy and resolved outputs', () => {
    expect(serving.volumeClaims).toEqual([{ name: 'omniglue-model-repository', namespace: 'omniglue', size: '50Gi', accessModes: ['ReadWriteMany'], storageClass: undefined }]);
    expect(serving.jobs).toEqual([
      expect.objectContaining({ backoffLimit: 2, activeDeadlineSeconds: 3600, waitForCompletion: true, createTimeout: '70m', failJobExitCodes: [2, 4, 5, 6, 7], modelVariant: [] }),
    ]);
    expect(serving.services[0].ports).toEqual(['http 8000→http/TCP', 'grpc 8001→grpc/TCP', 'metrics 8002→metrics/TCP']);
    expect(serving.networkPolicies.map((n) => [n.ports, n.sources])).toEqual([
      ['8000/TCP, 8001/TCP', 'namespaces {kubernetes.io/metadata.name=omniglue}'],
      ['8002/TCP', 'namespaces {kubernetes.io/metadata.name=monitoring}'],
    ]);
    expect(serving.outputs.find((o) => o.name === 'triton-http-url')?.value).toBe('http://omniglue-triton.omniglue.svc.cluster.local:8000');
  });

  test('names the model variant the conversion Job publishes from its flags', () => {
    const variant = doctored(STACK_NAMES.serving, (resources) => {
      const convert = only(resources.kubernetes_job_v1).spec.template.spec.container[0];
      convert.args.push('--tensorrt-fp16', '--throughput-image-size', '1280x720', '--throughput-max-batch-size', '4');
    });
    expect(variant.jobs[0].modelVariant).toEqual(['tensorrt-fp16', 'throughput-image-size 1280x720', 'throughput-max-batch-size 4']);
  });

  test('reads the 14 ensemble steps in order from the conversion ConfigMap', () => {
    expect(serving.ensemble?.source).toBe('ConfigMap/omniglue-conversion-model-configs');
    expect(serving.ensemble?.steps.map((s) => s.modelName)).toEqual([
      'superpoint_preprocess', 'superpoint', 'superpoint_keypoints', 'dinov2_preprocess', 'dinov2', 'dinov2_keypoint_sampler',
      'superpoint_preprocess', 'superpoint', 'superpoint_keypoints', 'dinov2_preprocess', 'dinov2', 'dinov2_keypoint_sampler',
      'omniglue', 'omniglue_match_extraction',
    ]);
    expect(serving.ensemble?.steps[0]).toEqual({ modelName: 'superpoint_preprocess', inputMap: { image: 'image0' }, outputMap: { image_gray: 'superpoint_image0', width: 'width0', height: 'height0' } });
    expect(platform.ensemble).toBeUndefined();
  });

  test('raises no warnings', () => {
    expect([platform, serving].flatMap(runChecks)).toEqual([]);
  });

  test('renders deterministic Markdown with the key facts', () => {
    const markdown = review(outDir);
    for (const fact of ['| nvidia-device-plugin | nvidia-device-plugin | nvidia-device-plugin | 0.18.0 |', '`nvcr.io/nvidia/tritonserver:26.06-py3`',
      '2–4 replicas', '`triton_queue_compute_ratio`', '| omniglue-model-repository | omniglue | 50Gi | ReadWriteMany |', '14 steps', '| 1 | superpoint_preprocess | image ← image0 |']) {
      expect(markdown).toContain(fact);
    }
    expect(markdown).not.toContain(outDir);
    expect(markdown).not.toContain('${');
    // The model version is a hash of the conversion scripts and configs: masked so that editing them leaves the snapshot alone.
    const version = serving.outputs.find((o) => o.name === 'model-version')?.value ?? '';
    expect(version).toMatch(/^[0-9a-f]{12}$/);
    expect(markdown.split(version).join('<model-version>')).toMatchSnapshot();
  });
});

describe('checks on a doctored stack', () => {
  const checkIds = (summary: StackSummary) => runChecks(summary).map((f) => f.check);

  test('every check is wired into CHECKS', () => {
    expect(CHECKS).toHaveLength(8);
  });

  test('warn about an unpinned or ranged chart version', () => {
    const summary = doctored(STACK_NAMES.platform, (r) => {
      const byChart = (chart: string) => Object.values(r.helm_release).find((release) => release.chart === chart);
      delete byChart('nvidia-device-plugin').version;
      byChart('kube-prometheus-stack').version = '~81.0';
    });
    const findings = runChecks(summary);
    expect(findings.map((f) => f.check)).toEqual(['chart-version', 'chart-version']);
    expect(findings.map((f) => f.message).join('\n')).toMatch(/nvidia-device-plugin.*no version/);
    expect(renderReview([summary], findings)).toContain('**unpinned**');
  });

  test('warn about :latest and untagged images, and not about a digest', () => {
    const summary = doctored(STACK_NAMES.serving, (r) => {
      only(r.kubernetes_deployment_v1).spec.template.spec.container[0].image = 'foo:latest';
      const job = only(r.kubernetes_job_v1).spec.template.spec;
      job.container[0].image = 'registry.local:5000/convert';
      job.init_container[0].image = 'python@sha256:0123';
    });
    const findings = runChecks(summary);
    expect(findings.map((f) => f.check)).toEqual(['image-tag', 'image-tag']);
    expect(findings[0].message).toContain('`foo:latest`');
    expect(findings[1].message).toContain('`registry.local:5000/convert` without a tag');
  });

  test('warn about a GPU workload without toleration or with a request but no limit', () => {
    const summary = doctored(STACK_NAMES.serving, (r) => {
      const spec = only(r.kubernetes_deployment_v1).spec.template.spec;
      delete spec.toleration;
      delete spec.container[0].resources.limits['nvidia.com/gpu'];
    });
    expect(checkIds(summary)).toEqual(['gpu-toleration', 'gpu-limit']);
  });

  test('warn about an HPA target that is not a Deployment in the stack, and about replicas the HPA does not own', () => {
    expect(checkIds(doctored(STACK_NAMES.serving, (r) => (only(r.kubernetes_horizontal_pod_autoscaler_v2).spec.scale_target_ref.name = 'triton')))).toEqual(['hpa-target']);
    expect(checkIds(doctored(STACK_NAMES.serving, (r) => delete only(r.kubernetes_deployment_v1).lifecycle))).toEqual(['hpa-replicas']);
  });

  test('warn about a Job create timeout under 5 minutes or within the active deadline', () => {
    const short = runChecks(doctored(STACK_NAMES.serving, (r) => (only(r.kubernetes_job_v1).timeouts.create = '2m')));
    expect(short.map((f) => f.check)).toEqual(['job-timeout', 'job-timeout']);
    expect(short[0].message).toContain('under 5 minutes');
    const unset = runChecks(doctored(STACK_NAMES.serving, (r) => delete only(r.kubernetes_job_v1).timeouts));
    expect(unset[0].message).toContain('1m (provider default)');
  });

  test('warn about a rollout timeout within the startup probe budget', () => {
    expect(checkIds(doctored(STACK_NAMES.serving, (r) => (only(r.kubernetes_deployment_v1).timeouts.create = '15m')))).toEqual(['rollout-timeout']);
  });

  test('parse image references and Terraform durations', () => {
    expect(parseImage('nvcr.io/nvidia/tritonserver:26.06-py3')).toEqual({ tag: '26.06-py3', digest: undefined });
    expect(parseImage('localhost:5000/foo')).toEqual({ tag: undefined, digest: undefined });
    expect(parseImage('foo:1@sha256:abc')).toEqual({ tag: '1', digest: 'sha256:abc' });
    expect([parseDuration('70m'), parseDuration('1h30m'), parseDuration('90s'), parseDuration('soon')]).toEqual([4200, 5400, 90, undefined]);
  });
});

describe('npm run review', () => {
  test('prints the review on stdout', () => {
    const io = collectingIo();
    expect(main(['--out-dir', outDir], io)).toBe(0);
    expect(io.stdout).toMatch(/^# cdktf synth review\n/);
    expect(io.stdout).toContain('## Stack `gpu-platform`');
  });

  test('writes the review to --output and reviews only the --stack asked for', () => {
    const file = path.join(outDir, 'review.md');
    const io = collectingIo();
    expect(main(['--out-dir', outDir, '--stack', STACK_NAMES.platform, '--output', file], io)).toBe(0);
    expect(io.stdout).toBe('');
    const written = fs.readFileSync(file, 'utf8');
    expect(written).toContain('## Stack `gpu-platform`');
    expect(written).not.toContain('## Stack `omniglue-serving`');
  });

  test('fails with the synth hint when cdktf.out or a stack is missing', () => {
    const missing = collectingIo();
    expect(main(['--out-dir', path.join(outDir, 'nope')], missing)).toBe(1);
    expect(missing.stderr).toContain('run `npm run synth` first');
    const unknown = collectingIo();
    expect(main(['--out-dir', outDir, '--stack', 'staging'], unknown)).toBe(1);
    expect(unknown.stderr).toMatch(/stack 'staging' is not in .*run `npm run synth` first/);
  });

  test('explains that an HCL synth must be followed by a JSON synth', () => {
    const hclOut = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-review-hcl-'));
    try {
      fs.mkdirSync(path.join(hclOut, 'stacks', 'gpu-platform'), { recursive: true });
      fs.writeFileSync(path.join(hclOut, 'stacks', 'gpu-platform', 'cdk.tf'), 'terraform {}\n');
      fs.writeFileSync(path.join(hclOut, 'manifest.json'), JSON.stringify({ stacks: { 'gpu-platform': { synthesizedStackPath: 'stacks/gpu-platform/cdk.tf' } } }));
      const io = collectingIo();
      expect(main(['--out-dir', hclOut], io)).toBe(1);
      expect(io.stderr).toMatch(/gpu-platform was synthesized as HCL .*run `npm run synth` first/);
    } finally {
      fs.rmSync(hclOut, { recursive: true, force: true });
    }
  });

  test('rejects unknown flags with the usage', () => {
    const io = collectingIo();
    expect(main(['--bogus'], io)).toBe(2);
    expect(io.stderr).toContain('Usage: npm run review');
  });
});

describe('chart-version check', () => {
  test('does not ask a local chart (a path) for a version', () => {
    const { checkChartVersionPinned } = jest.requireActual('../scripts/review/checks');
    const summary = { stack: 's', helmReleases: [{ name: 'local', chart: '../../../charts/x' }, { name: 'remote', chart: 'x' }] };
    expect(checkChartVersionPinned(summary).map((finding: any) => finding.message)).toEqual([expect.stringContaining('`remote`')]);
  });
});
