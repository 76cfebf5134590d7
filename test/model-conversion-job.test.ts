import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { App, Testing } from 'cdktf';
import { TerraformStack } from 'cdktf';
import { ModelConversionJob } from '../constructs/model-conversion-job';
import { NON_RETRYABLE_EXIT_CODES } from '../lib/conversion-arguments';
import { ModelRepository } from '../constructs/model-repository';
import { ServingNamespace } from '../constructs/serving-namespace';
import { GpuScheduling } from '../lib/gpu-scheduling';
import type { ThroughputMode } from '../lib/throughput-mode';
import { parseConfig } from '../config/load';
import { findResource, synthesize } from './support/synth';

const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';

function conversion(input = {}) {
  const synthesized = synthesize(input);
  const job = findResource(synthesized.serving, 'kubernetes_job_v1', 'model-conversion');
  const pod = job.spec.template.spec;
  const container = pod.container.find((c: any) => c.name === 'convert');
  return { synthesized, job, pod, container, version: synthesized.stacks.serving.conversionJob.version };
}

describe('ModelRepository', () => {
  test('claims a ReadWriteMany volume that does not wait to be bound', () => {
    const claim = findResource(synthesize().serving, 'kubernetes_persistent_volume_claim_v1', 'model-repository');
    expect(claim.spec.access_modes).toEqual(['ReadWriteMany']);
    expect(claim.spec.resources.requests.storage).toBe('50Gi');
    expect(claim.wait_until_bound).toBe(false);
    expect(claim.spec).not.toHaveProperty('storage_class_name');
  });

  test('uses the configured storage class and size', () => {
    const claim = findResource(synthesize({ modelRepository: { storageClassName: 'efs-sc', size: '80Gi' } }).serving, 'kubernetes_persistent_volume_claim_v1', 'model-repository');
    expect(claim.spec.storage_class_name).toBe('efs-sc');
    expect(claim.spec.resources.requests.storage).toBe('80Gi');
  });

  test('fails when a ReadWriteOnce volume would be mounted by several replicas', () => {
    const stack = new TerraformStack(Testing.app() as App, 'test');
    const repository = new ModelRepository(stack, 'repo', { namespace: new ServingNamespace(stack, 'ns', { name: 'omniglue' }), accessMode: 'ReadWriteOnce' });
    expect(() => repository.assertSupportsReplicas(3, 'maxReplicas')).toThrow(/maxReplicas is 3, but the model repository's access mode ReadWriteOnce lets only one node mount it/);
    expect(() => repository.assertSupportsReplicas(1, 'maxReplicas')).not.toThrow();
  });
});

describe('ModelConversionJob', () => {
  test('is named after the content hash of what it converts', () => {
    const { job, version } = conversion();
    expect(version).toMatch(/^[0-9a-f]{12}$/);
    expect(job.metadata.name).toMatch(new RegExp(`^omniglue-convert-${version}-[0-9a-f]{6}$`));
  });

  test('changing how the Job runs gives it a new name (its pod template is immutable) but keeps the model version', () => {
    const changed = conversion({ conversion: { memoryLimit: '20Gi', extraEnv: { HTTPS_PROXY: 'http://proxy:3128' } } });
    expect(changed.version).toBe(conversion().version);
    expect(changed.job.metadata.name).not.toBe(conversion().job.metadata.name);
  });

  test('passes extra environment variables, e.g. a proxy, to both containers', () => {
    const { pod } = conversion({ conversion: { extraEnv: { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: '.svc' } } });
    for (const container of [...pod.init_container, ...pod.container]) {
      expect(container.env).toEqual(expect.arrayContaining([{ name: 'HTTPS_PROXY', value: 'http://proxy:3128' }, { name: 'NO_PROXY', value: '.svc' }]));
    }
  });

  test('on a ReadWriteOnce volume it may run on GPU nodes and prefers the node Triton holds the volume on', () => {
    const { pod } = conversion({ modelRepository: { accessMode: 'ReadWriteOnce' }, triton: { replicas: { min: 1, max: 1 } } });
    expect(pod.toleration).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    const [preferred] = pod.affinity.pod_affinity.preferred_during_scheduling_ignored_during_execution;
    expect(preferred.pod_affinity_term.topology_key).toBe('kubernetes.io/hostname');
    const triton = findResource(synthesize({ modelRepository: { accessMode: 'ReadWriteOnce' }, triton: { replicas: { min: 1, max: 1 } } }).serving, 'kubernetes_deployment_v1', 'triton');
    expect(triton.spec.selector.match_labels).toEqual(preferred.pod_affinity_term.label_selector[0].match_labels);
  });

  test('an unchanged conversion keeps its name, so nothing re-runs', () => {
    expect(conversion().version).toBe(conversion().version);
  });

  test.each([
    ['a pinned checksum', { conversion: { weights: { dinov2: { sha256: 'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb' } } } }],
    ['another weights URL', { conversion: { weights: { omniglue: { url: 'file:///models/og_export.zip' } } } }],
    ['TensorRT FP16', { conversion: { tensorrtFp16: true } }],
    ['throughput mode', { conversion: { throughputMode: { enabled: true } } }],
    ['another throughput queue delay', { conversion: { throughputMode: { enabled: true, maxQueueDelayMicroseconds: 500 } } }],
    ['another image', { conversion: { image: 'python:3.11.10-slim-bookworm' } }],
  ])('%s makes a new Job', (_name, input) => {
    expect(conversion(input).version).not.toBe(conversion().version);
  });

  test('the script gives up on downloads after half the Job\'s deadline and on another Job\'s lock after a quarter, with its own message', () => {
    const args = (input = {}) => conversion(input).container.args.join(' ');
    expect(args()).toContain('--download-timeout-seconds 1800 --lock-timeout-seconds 900');
    expect(args({ conversion: { timeoutMinutes: 5 } })).toContain('--download-timeout-seconds 150 --lock-timeout-seconds 75');
    // Limits of how the Job runs: a new Job name, the same model version.
    expect(conversion({ conversion: { timeoutMinutes: 5 } }).version).toBe(conversion().version);
  });

  test('Terraform waits for it with a create timeout sized for downloads and conversion', () => {
    const { job } = conversion();
    expect(job.wait_for_completion).toBe(true);
    expect(job.timeouts.create).toBe('70m');
    expect(job.spec.active_deadline_seconds).toBe(3600);
    expect(job.spec.backoff_limit).toBe(2);
    expect(job.spec).not.toHaveProperty('ttl_seconds_after_finished');
  });

  test('fails at once on a deterministic failure, and does not count a node drain or preemption as a retry', () => {
    const { job } = conversion();
    expect(job.spec.template.spec.restart_policy).toBe('Never'); // required by a pod failure policy
    expect(job.spec.pod_failure_policy.rule).toEqual([
      { action: 'FailJob', on_exit_codes: { container_name: 'convert', operator: 'In', values: [2, 4, 5, 6, 7] } },
      { action: 'Ignore', on_pod_condition: [{ type: 'DisruptionTarget', status: 'True' }] },
    ]);
  });

  test('the exit codes the Job fails at once on are the conversion script\'s non-transient failure classes', () => {
    const errors = fs.readFileSync(path.resolve(__dirname, '..', 'scripts', 'omniglue_conversion', 'errors.py'), 'utf8');
    const codes = Object.fromEntries([...errors.matchAll(/^EXIT_([A-Z]+) = (\d+)$/gm)].map(([, name, code]) => [name, Number(code)]));
    const deterministic = ['USAGE', 'CHECKSUM', 'EXPORT', 'CONTRACT', 'SAMPLE'].map((name) => codes[name]);
    expect(deterministic.every((code) => Number.isInteger(code))).toBe(true);
    expect([...NON_RETRYABLE_EXIT_CODES]).toEqual(deterministic);
    // Transient or unknown failures keep their retries.
    for (const name of ['UNEXPECTED', 'DOWNLOAD', 'PUBLISH', 'LOCK']) expect(NON_RETRYABLE_EXIT_CODES).not.toContain(codes[name]);
  });

  test('runs non-root with a read-only root filesystem and no service-account token', () => {
    const { pod, container } = conversion();
    expect(pod.security_context).toMatchObject({ run_as_non_root: true, run_as_user: '1000', fs_group: '1000', seccomp_profile: { type: 'RuntimeDefault' } });
    expect(container.security_context).toMatchObject({ allow_privilege_escalation: false, read_only_root_filesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.automount_service_account_token).toBe(false);
    expect(container.resources.requests).toEqual({ cpu: '2', memory: '8Gi' });
    expect(container.resources.limits).toEqual({ memory: '16Gi' });
  });

  test('runs on CPU nodes unless asked for a GPU', () => {
    const { pod, container } = conversion();
    expect(pod).not.toHaveProperty('toleration');
    expect(container.resources.limits).not.toHaveProperty(['nvidia.com/gpu']);
  });

  test('with useGpu it requests a GPU and tolerates the GPU taint', () => {
    const { pod, container } = conversion({ conversion: { useGpu: true, dependenciesPreinstalled: true, image: 'registry.internal/omniglue/conversion-gpu:0.1.0' } });
    expect(container.resources.limits['nvidia.com/gpu']).toBe('1');
    expect(pod.toleration).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  });

  test('installs the pinned requirements in an init container unless the image has them', () => {
    expect(conversion().pod.init_container.map((c: any) => c.name)).toEqual(['install-dependencies']);
    expect(conversion({ conversion: { dependenciesPreinstalled: true } }).pod.init_container).toEqual([]);
  });

  test('ships the script, every model config and the contract through ConfigMaps mounted at the paths the arguments name', () => {
    const { synthesized, pod, container } = conversion();
    const scripts = findResource(synthesized.serving, 'kubernetes_config_map_v1', 'scripts');
    const configs = findResource(synthesized.serving, 'kubernetes_config_map_v1', 'model-configs');
    expect(Object.keys(scripts.data)).toEqual(expect.arrayContaining(['convert_models_to_onnx.py', 'requirements-conversion.txt', 'omniglue_conversion__glue_graphs.py']));
    expect(Object.keys(configs.data)).toEqual(expect.arrayContaining(['omniglue_ensemble__config.pbtxt', 'superpoint__config.pbtxt', 'model_contract.json']));
    const configVolume = pod.volume.find((v: any) => v.name === 'model-configs');
    expect(configVolume.config_map.items).toContainEqual({ key: 'omniglue_ensemble__config.pbtxt', path: 'omniglue_ensemble/config.pbtxt' });
    expect(container.args).toEqual(expect.arrayContaining(['--model-configs', '/opt/omniglue/model_repository', '--contract', '/opt/omniglue/model_repository/model_contract.json']));
    expect(container.volume_mount).toContainEqual({ name: 'model-repository', mount_path: '/models' });
  });

  test('passes weight overrides, checksums and TensorRT to the script', () => {
    const { container } = conversion({
      conversion: { tensorrtFp16: true, weights: { superpoint: { url: 'file:///models/sp_v6.tgz', sha256: '3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d' } } },
    });
    expect(container.args).toEqual(expect.arrayContaining(['--weights-url', 'superpoint=file:///models/sp_v6.tgz', '--weights-sha256', `superpoint=${'3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d'}`, '--tensorrt-fp16']));
  });

  test('passes the throughput mode only when it is on', () => {
    expect(conversion().container.args.join(' ')).not.toContain('--throughput');
    const { container } = conversion({ conversion: { throughputMode: { enabled: true, imageWidth: 1280, imageHeight: 720, maxBatchSize: 4 } } });
    expect(container.args.join(' ')).toContain(
      '--throughput-image-size 1280x720 --throughput-max-batch-size 4 --throughput-max-queue-delay-microseconds 1000',
    );
  });

  test.each<[string, ThroughputMode, RegExp]>([
    ['a side below one DINOv2 patch', { imageWidth: 13, imageHeight: 480 }, /throughputMode\.imageWidth \(13\) must be a whole number between 14 and 4096 \(pixels\)/],
    ['a side beyond 4096', { imageWidth: 640, imageHeight: 4104 }, /throughputMode\.imageHeight \(4104\) must be a whole number between 14 and 4096 \(pixels\)/],
    ['an aspect ratio beyond 45:1', { imageWidth: 14, imageHeight: 631 }, /throughputMode\.imageWidth x imageHeight \(14 x 631\) must have an aspect ratio of at most 45:1/],
    ['a batch of zero', { imageWidth: 640, imageHeight: 480, maxBatchSize: 0 }, /throughputMode\.maxBatchSize \(0\) must be a whole number between 1 and 64/],
    ['a fractional delay', { imageWidth: 640, imageHeight: 480, maxQueueDelayMicroseconds: 0.5 }, /throughputMode\.maxQueueDelayMicroseconds \(0\.5\) must be a whole number between 0 and 1000000/],
  ])('refuses a throughput mode with %s', (_name, throughputMode, message) => {
    const stack = new TerraformStack(Testing.app() as App, 'test');
    const config = parseConfig({});
    const modelRepository = new ModelRepository(stack, 'repo', { namespace: new ServingNamespace(stack, 'ns', { name: 'omniglue' }) });
    expect(() => new ModelConversionJob(stack, 'job', { modelRepository, gpuScheduling: new GpuScheduling(config.gpu), throughputMode })).toThrow(message);
  });

  test('every flag the Job passes is one the conversion script accepts', () => {
    const { container } = conversion({ conversion: { tensorrtFp16: true, throughputMode: { enabled: true }, weights: { dinov2: { url: 'file:///x', sha256: '2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6' } } } });
    const help = spawnSync(PYTHON, [path.resolve(__dirname, '..', 'scripts', 'convert_models_to_onnx.py'), '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    const flags = container.args.filter((arg: string) => arg.startsWith('--'));
    for (const flag of flags) expect(help.stdout).toContain(flag);
  });

  test('every file a ConfigMap ships exists in the repository', () => {
    const stack = synthesize().stacks.serving;
    const job: ModelConversionJob = stack.conversionJob;
    expect(job.modelConfigs.models.map((model) => model.name)).toContain('omniglue_ensemble');
    for (const model of job.modelConfigs.models) expect(fs.existsSync(path.join(model.directory, 'config.pbtxt'))).toBe(true);
  });

  test('rejects a timeout that is not a whole number of minutes', () => {
    const stack = new TerraformStack(Testing.app() as App, 'test');
    const config = parseConfig({});
    const namespace = new ServingNamespace(stack, 'ns', { name: 'omniglue' });
    const modelRepository = new ModelRepository(stack, 'repo', { namespace });
    expect(() => new ModelConversionJob(stack, 'job', { modelRepository, gpuScheduling: new GpuScheduling(config.gpu), timeoutMinutes: 0.5 })).toThrow(/timeoutMinutes \(0.5\) must be a whole number between 5 and 1440 \(minutes\)/);
  });
});

describe('weight sources', () => {
  test('the example configuration names the same weight URLs the conversion script pins', () => {
    const pinned = JSON.parse(spawnSync(PYTHON, [path.resolve(__dirname, '..', 'scripts', 'convert_models_to_onnx.py'), '--print-defaults'], { encoding: 'utf8' }).stdout);
    const example = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'omniglue.config.example.json'), 'utf8'));
    expect(Object.fromEntries(Object.entries<any>(example.conversion.weights).map(([name, source]) => [name, source.url]))).toEqual(pinned);
  });
});

describe('conversion image', () => {
  test('the prebuilt image of scripts/Dockerfile.conversion starts from the default conversion image', () => {
    const dockerfile = fs.readFileSync(path.resolve(__dirname, '..', 'scripts', 'Dockerfile.conversion'), 'utf8');
    const { VERSIONS } = jest.requireActual('../config/versions');
    expect(dockerfile).toMatch(new RegExp(`^FROM ${VERSIONS.conversionImage.replace(/\./g, '\\.')}$`, 'm'));
  });
});

describe('ModelConversionJob failure reason', () => {
  test('both containers leave a reason in their termination message, the log tail when they wrote none', () => {
    const { pod } = conversion();
    for (const container of [...pod.init_container, ...pod.container]) {
      expect([container.name, container.termination_message_policy]).toEqual([container.name, 'FallbackToLogsOnError']);
      expect(container).not.toHaveProperty('termination_message_path');
    }
  });

  test('the conversion script that writes the reason is shipped to the Job', () => {
    const { synthesized } = conversion();
    const scripts = findResource(synthesized.serving, 'kubernetes_config_map_v1', 'model-conversion_scripts');
    expect(scripts.data['omniglue_conversion__termination.py']).toContain('TERMINATION_LOG = Path("/dev/termination-log")');
  });
});
