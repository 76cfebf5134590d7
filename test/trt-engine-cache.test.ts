import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Testing, TerraformStack } from 'cdktf';
import { parseConfig } from '../config/load';
import { ModelConversionJob, ModelConversionJobProps } from '../constructs/model-conversion-job';
import { ModelRepository } from '../constructs/model-repository';
import { ServingNamespace } from '../constructs/serving-namespace';
import { TensorrtEngineCache } from '../constructs/tensorrt-engine-cache';
import { TritonServer, TritonServerProps } from '../constructs/triton-server';
import { GpuScheduling } from '../lib/gpu-scheduling';
import { restoreScript, syncScript } from '../lib/trt-engine-cache-scripts';
import { findResource, synthesize } from './support/synth';

// One TensorRT configuration for every synth-based test here: each distinct configuration costs a full synth.
const TRT = { conversion: { tensorrtFp16: true }, modelRepository: { storageClassName: 'efs-sc' }, triton: { engineCache: { size: '20Gi' } } };

function pod(input = {}) {
  const synthesized = synthesize(input);
  const spec = findResource(synthesized.serving, 'kubernetes_deployment_v1', 'triton').spec.template.spec;
  return { synthesized, spec, triton: spec.container[0], sidecar: spec.container[1] };
}

function claims(input = {}): any[] {
  return Object.values(synthesize(input).serving.resource.kubernetes_persistent_volume_claim_v1 ?? {});
}

describe('TensorRT engine cache', () => {
  test('with TensorRT, a separate writable claim holds the engines, in the model repository access mode', () => {
    const cache = claims(TRT).find((c) => c.metadata.name === 'omniglue-trt-engine-cache');
    expect(cache.spec).toMatchObject({ access_modes: ['ReadWriteMany'], storage_class_name: 'efs-sc', resources: { requests: { storage: '20Gi' } } });
    expect(cache.wait_until_bound).toBe(false);
  });

  test('the Triton container restores from the cache and a sidecar saves new engines, with no hostPath', () => {
    const { spec, triton, sidecar } = pod(TRT);
    expect(triton.volume_mount).toContainEqual({ name: 'trt-engine-cache', mount_path: '/var/cache/omniglue-trt' });
    expect(triton.args[0]).toMatch(/^GPU=\$\(nvidia-smi .*KEY=[0-9a-f-]+_"\$GPU"_triton-26\.06-py3; .*exec tritonserver /s);
    expect(sidecar.name).toBe('trt-engine-cache-sync');
    expect(sidecar.image).toBe(triton.image);
    expect(sidecar.security_context).toMatchObject({ run_as_non_root: true, read_only_root_filesystem: true, allow_privilege_escalation: false });
    expect(sidecar.resources.limits).not.toHaveProperty('nvidia.com/gpu');
    expect(spec.volume.find((v: any) => v.name === 'trt-engine-cache').persistent_volume_claim.claim_name).toMatch(/^\$\{kubernetes_persistent_volume_claim_v1\.trt-engine-cache_claim_\w+\.metadata\[0\]\.name\}$/);
    expect(spec.volume.every((v: any) => v.host_path === undefined)).toBe(true);
    expect(JSON.stringify([triton.args, sidecar.args])).not.toMatch(/\$\{|%\{/);
  });

  test('without TensorRT, or with the cache switched off, there is no cache volume and no sidecar', () => {
    for (const input of [{}, { conversion: { tensorrtFp16: true }, triton: { engineCache: { enabled: false } } }]) {
      const { spec, triton } = pod(input);
      expect(spec.container).toHaveLength(1);
      expect(triton.args[0]).toMatch(/^ADMIN_KEY=/);
      expect(claims(input).map((c) => c.metadata.name)).toEqual(['omniglue-model-repository']);
    }
  });

  test('fails on a retention shorter than a day', () => {
    const stack = new TerraformStack(Testing.app() as App, 'test');
    const modelRepository = new ModelRepository(stack, 'repo', { namespace: new ServingNamespace(stack, 'ns', { name: 'omniglue' }) });
    expect(() => new TensorrtEngineCache(stack, 'cache', { modelRepository, retentionDays: 0 })).toThrow(/retentionDays \(0\) must be a whole number of days, at least 1/);
  });
});

describe('engine cache scripts (run with /bin/sh)', () => {
  let root: string;
  let paths: { cacheRoot: string; localDir: string };
  let env: NodeJS.ProcessEnv;
  const sh = (script: string) => execFileSync('/bin/sh', ['-c', script], { env, encoding: 'utf8' });
  const age = (file: string, seconds: number) => utimesSync(file, new Date(Date.now() - seconds * 1000), new Date(Date.now() - seconds * 1000));

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'trt-cache-'));
    paths = { cacheRoot: join(root, 'cache'), localDir: join(root, 'tmp', 'trt-engine-cache') };
    mkdirSync(join(root, 'bin'));
    mkdirSync(join(root, 'tmp'));
    writeFileSync(join(root, 'bin', 'nvidia-smi'), '#!/bin/sh\necho "NVIDIA A10G"\n');
    chmodSync(join(root, 'bin', 'nvidia-smi'), 0o755);
    env = { ...process.env, PATH: `${join(root, 'bin')}:${process.env.PATH}`, HOSTNAME: 'pod-a' };
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('restores the engines of its key only, logs the count and hands the key to the sidecar', () => {
    const key = 'v1_NVIDIA-A10G_triton-26.06-py3';
    mkdirSync(join(paths.cacheRoot, key), { recursive: true });
    mkdirSync(join(paths.cacheRoot, 'v0_NVIDIA-A10G_triton-26.06-py3'));
    writeFileSync(join(paths.cacheRoot, key, 'dinov2.engine'), 'engine');
    writeFileSync(join(paths.cacheRoot, key, 'dinov2.profile'), 'profile');
    writeFileSync(join(paths.cacheRoot, 'v0_NVIDIA-A10G_triton-26.06-py3', 'old.engine'), 'old');
    const out = sh(restoreScript(paths, 'v1', 'triton-26.06-py3'));
    expect(JSON.parse(out.trim())).toEqual({ event: 'trt-engine-cache-restored', key, files: 2 });
    expect(readdirSync(paths.localDir).sort()).toEqual(['dinov2.engine', 'dinov2.profile']);
    expect(readFileSync(`${paths.localDir}.key`, 'utf8').trim()).toBe(key);
  });

  test('without nvidia-smi the key says unknown-gpu', () => {
    env.PATH = '/usr/bin:/bin';
    const out = sh(restoreScript(paths, 'v1', 'triton-x'));
    expect(JSON.parse(out.trim())).toMatchObject({ key: 'v1_unknown-gpu_triton-x', files: 0 });
  });

  test('saves engines built in the pod once they are a minute old, atomically, one log line each', () => {
    sh(restoreScript(paths, 'v1', 'triton-x'));
    const key = 'v1_NVIDIA-A10G_triton-x';
    writeFileSync(join(paths.localDir, 'superpoint.engine'), 'built');
    age(join(paths.localDir, 'superpoint.engine'), 120);
    writeFileSync(join(paths.localDir, 'dinov2.engine'), 'still being written');
    const sync = syncScript(paths, { intervalSeconds: 30, retentionDays: 30, once: true });
    const lines = sh(sync).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([{ event: 'trt-engine-built', key, file: 'superpoint.engine', bytes: 5 }]);
    expect(readdirSync(join(paths.cacheRoot, key))).toEqual(['superpoint.engine']);
    expect(sh(sync).trim()).toBe('');

    writeFileSync(join(paths.localDir, 'superpoint.engine'), 'rebuilt for a wider range');
    age(join(paths.localDir, 'superpoint.engine'), 90);
    expect(JSON.parse(sh(sync).trim())).toMatchObject({ file: 'superpoint.engine', bytes: 25 });
    expect(readFileSync(join(paths.cacheRoot, key, 'superpoint.engine'), 'utf8')).toBe('rebuilt for a wider range');
  });

  test('after a Triton restart in the same pod it rebuilds instead of restoring, and the rebuilt engines replace the cached ones', () => {
    const key = 'v1_NVIDIA-A10G_triton-x';
    mkdirSync(join(paths.cacheRoot, key), { recursive: true });
    writeFileSync(join(paths.cacheRoot, key, 'dinov2.engine'), 'damaged');
    age(join(paths.cacheRoot, key, 'dinov2.engine'), 7200);
    expect(JSON.parse(sh(restoreScript(paths, 'v1', 'triton-x')).trim())).toMatchObject({ event: 'trt-engine-cache-restored', files: 1 });
    const again = JSON.parse(sh(restoreScript(paths, 'v1', 'triton-x')).trim());
    expect(again).toMatchObject({ event: 'trt-engine-cache-bypassed', key });
    expect(readdirSync(paths.localDir)).toEqual([]);
    writeFileSync(join(paths.localDir, 'dinov2.engine'), 'rebuilt');
    age(join(paths.localDir, 'dinov2.engine'), 120);
    expect(JSON.parse(sh(syncScript(paths, { intervalSeconds: 30, retentionDays: 30, once: true })).trim())).toMatchObject({ event: 'trt-engine-built', file: 'dinov2.engine' });
    expect(readFileSync(join(paths.cacheRoot, key, 'dinov2.engine'), 'utf8')).toBe('rebuilt');
  });

  test('restored engines are not saved again, and keys unused past the retention are pruned', () => {
    const key = 'v1_NVIDIA-A10G_triton-x';
    mkdirSync(join(paths.cacheRoot, key), { recursive: true });
    writeFileSync(join(paths.cacheRoot, key, 'omniglue.engine'), 'cached');
    age(join(paths.cacheRoot, key, 'omniglue.engine'), 3600);
    const stale = join(paths.cacheRoot, 'v0_NVIDIA-A10G_triton-x');
    mkdirSync(stale);
    age(stale, 40 * 86400);
    sh(restoreScript(paths, 'v1', 'triton-x'));
    expect(sh(syncScript(paths, { intervalSeconds: 30, retentionDays: 30, once: true })).trim()).toBe('');
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(join(paths.cacheRoot, key, 'omniglue.engine'))).toBe(true);
  });
});

describe('startup budget and CPU-only settings', () => {
  test.each([
    ['warm-up beyond the startup budget', { triton: { startupTimeoutSeconds: 350 } }, /triton\.startupTimeoutSeconds \(350\) is shorter than triton\.expectedModelLoadSeconds \(300\) \+ triton\.expectedWarmupSeconds \(60\) = 360 s/],
    ['TensorRT engine builds beyond it', { conversion: { tensorrtFp16: true }, triton: { startupTimeoutSeconds: 800 } }, /\+ triton\.expectedEngineBuildSeconds \(480, TensorRT is on\) = 840 s/],
    ['TensorRT on CPU-only replicas', { conversion: { tensorrtFp16: true }, triton: { gpusPerReplica: 0 }, autoscaling: { enabled: false } }, /conversion\.tensorrtFp16 needs a GPU, but triton\.gpusPerReplica is 0/],
    ['a profile smaller than the typical image', { conversion: { tensorrtMaxImageSide: 320 } }, /conversion\.tensorrtMaxImageSide: must be at least 640/],
  ])('rejects %s', (_name, input, message) => {
    expect(() => parseConfig(input)).toThrow(message);
  });

  test('the defaults fit the startup budget with and without TensorRT', () => {
    expect(synthesize(TRT).stacks.serving.server.expectedStartupSeconds).toBe(840);
    expect(synthesize({}).stacks.serving.server.expectedStartupSeconds).toBe(360);
  });
});

describe('construct-level checks', () => {
  function build(jobProps: Partial<ModelConversionJobProps>, serverProps: Partial<TritonServerProps> = {}) {
    const stack = new TerraformStack(Testing.app() as App, 'test');
    const gpuScheduling = new GpuScheduling(parseConfig({}).gpu);
    const modelRepository = new ModelRepository(stack, 'repo', { namespace: new ServingNamespace(stack, 'ns', { name: 'omniglue' }) });
    return () => {
      const conversionJob = new ModelConversionJob(stack, 'job', { modelRepository, gpuScheduling, ...jobProps });
      return new TritonServer(stack, 'triton', { modelRepository, conversionJob, gpuScheduling, ...serverProps });
    };
  }

  test.each([
    ['TensorRT with CPU instances', { tensorrtFp16: true, cpuOnlyInstances: true }, {}, /tensorrtFp16 needs a GPU, but cpuOnlyInstances is set/],
    ['a profile below the typical image', { tensorrtFp16: true, tensorrtMaxImageSide: 600 }, {}, /tensorrtMaxImageSide \(600\) must be at least 640/],
    ['a CPU-only server on GPU configs', {}, { gpusPerReplica: 0 }, /gpusPerReplica is 0, but the conversion Job publishes KIND_GPU instance groups/],
    ['a GPU server on CPU configs', { cpuOnlyInstances: true }, {}, /gpusPerReplica is 1, but the conversion Job publishes KIND_CPU instance groups/],
    ['a negative warm-up time', {}, { expectedWarmupSeconds: -5 }, /expectedWarmupSeconds \(-5\) must be between 0 and 3600 \(seconds\)/],
    ['engine builds beyond the startup budget', { tensorrtFp16: true }, { startupTimeoutSeconds: 600 }, /\+ expectedEngineBuildSeconds \(480, TensorRT is on\) = 840 s/],
  ])('rejects %s', (_name, jobProps, serverProps, message) => {
    expect(build(jobProps, serverProps)).toThrow(message);
  });

  test('without TensorRT the engine cache is ignored and the build time not counted', () => {
    const stack = new TerraformStack(Testing.app() as App, 'test');
    const modelRepository = new ModelRepository(stack, 'repo', { namespace: new ServingNamespace(stack, 'ns', { name: 'omniglue' }) });
    const engineCache = new TensorrtEngineCache(stack, 'cache', { modelRepository });
    const server = build({}, { engineCache })();
    expect(server.engineCache).toBeUndefined();
    expect(server.expectedStartupSeconds).toBe(360);
  });

});
