import * as fs from 'fs';
import * as path from 'path';
import { App, Testing, TerraformStack } from 'cdktf';
import { parseConfig } from '../config/load';
import { RULES } from '../config/rules';
import { ModelConversionJob, ModelConversionJobProps } from '../constructs/model-conversion-job';
import { ModelRepository } from '../constructs/model-repository';
import { ServingNamespace } from '../constructs/serving-namespace';
import { TritonServer, TritonServerProps } from '../constructs/triton-server';
import { GpuScheduling } from '../lib/gpu-scheduling';
import { ValidationError } from '../lib/validation-error';
import { configRejection } from './support/config-errors';

function build(jobProps: Partial<ModelConversionJobProps>, serverProps?: Partial<TritonServerProps>) {
  return () => {
    const stack = new TerraformStack(Testing.app() as App, 'rules');
    const gpuScheduling = new GpuScheduling(parseConfig({}).gpu);
    const modelRepository = new ModelRepository(stack, 'repo', { namespace: new ServingNamespace(stack, 'ns', { name: 'omniglue' }) });
    const conversionJob = new ModelConversionJob(stack, 'job', { modelRepository, gpuScheduling, ...jobProps });
    if (serverProps !== undefined) new TritonServer(stack, 'triton', { modelRepository, conversionJob, gpuScheduling, ...serverProps });
  };
}

// The same rule, stated once in config/rules.ts, refuses the configuration and the construct built directly, each
// naming the values as its user knows them.
describe('one rule, two refusals', () => {
  test.each<[string, Record<string, unknown>, RegExp, () => void, RegExp]>([
    [
      'a Job on a GPU with the CPU requirements',
      { conversion: { useGpu: true } },
      /conversion\.useGpu needs conversion\.dependenciesPreinstalled with an image that has onnxruntime-gpu/,
      build({ useGpu: true }),
      /useGpu needs dependenciesPreinstalled with an image that has onnxruntime-gpu/,
    ],
    [
      'an environment variable the Job sets itself',
      { conversion: { extraEnv: { HOME: '/root' } } },
      /conversion\.extraEnv may not set HOME: the Job sets them itself/,
      build({ extraEnv: { HOME: '/root' } }),
      /extraEnv may not set HOME: the Job sets them itself/,
    ],
    [
      'a conversion memory limit below its request',
      { conversion: { memoryRequest: '16Gi', memoryLimit: '8Gi' } },
      /conversion\.memoryLimit \(8Gi\) must be at least conversion\.memoryRequest \(16Gi\)/,
      build({ resources: { memoryRequest: '16Gi', memoryLimit: '8Gi' } }),
      /resources\.memoryLimit \(8Gi\) must be at least resources\.memoryRequest \(16Gi\)/,
    ],
    [
      'the throughput mode on CPU-only instances',
      { triton: { gpusPerReplica: 0 }, autoscaling: { enabled: false }, conversion: { throughputMode: { enabled: true } } },
      /conversion\.throughputMode batches DINOv2 on a GPU, but triton\.gpusPerReplica is 0 \(CPU-only replicas\)/,
      build({ cpuOnlyInstances: true, throughputMode: { imageWidth: 640, imageHeight: 480 } }),
      /throughputMode batches DINOv2 on a GPU, but cpuOnlyInstances is set \(KIND_CPU instance groups\)/,
    ],
    [
      'a /dev/shm that leaves Triton too little memory',
      { triton: { shmSizeMiB: 22000, resources: { memoryLimit: '24Gi' } } },
      /triton\.shmSizeMiB \(22000\) leaves Triton 2576 MiB of triton\.resources\.memoryLimit \(24Gi\)/,
      build({}, { shmSizeMiB: 22000, resources: { memoryLimit: '24Gi' } }),
      /shmSizeMiB \(22000\) leaves Triton 2576 MiB of resources\.memoryLimit \(24Gi\); it needs at least 4096 MiB besides \/dev\/shm/,
    ],
    [
      'a Triton memory limit below its request',
      { triton: { resources: { memoryRequest: '32Gi', memoryLimit: '24Gi' } } },
      /triton\.resources\.memoryLimit \(24Gi\) must be at least triton\.resources\.memoryRequest \(32Gi\)/,
      build({}, { resources: { memoryRequest: '32Gi', memoryLimit: '24Gi' } }),
      /resources\.memoryLimit \(24Gi\) must be at least resources\.memoryRequest \(32Gi\)/,
    ],
  ])('%s', (_name, input, configMessage, construct, constructMessage) => {
    expect(configRejection(input)).toMatch(configMessage);
    expect(construct).toThrow(ValidationError);
    expect(construct).toThrow(constructMessage);
  });
});

describe('the table of rules', () => {
  test('the loader runs every rule', () => {
    const table = fs.readFileSync(path.resolve(__dirname, '..', 'config', 'cross-check.ts'), 'utf8');
    for (const name of Object.keys(RULES)) expect(table).toContain(`RULES.${name}`);
  });

  test('constructs state no rule of their own between settings: each enforces the table\'s', () => {
    const dir = path.resolve(__dirname, '..', 'constructs');
    const enforced = fs.readdirSync(dir).flatMap((file) => [...fs.readFileSync(path.join(dir, file), 'utf8').matchAll(/RULES\.(\w+)/g)].map((m) => m[1]));
    expect(new Set(enforced)).toEqual(
      new Set([
        'replicaBounds', 'singleNodeVolume', 'memoryLimitAtLeastRequest', 'shmWithinMemoryLimit', 'memoryBesidesShm', 'startupBudget',
        'tensorrtNeedsGpu', 'throughputNeedsGpu', 'conversionGpuNeedsGpuImage', 'reservedJobEnvironment', 'autoscalingNeedsGpu', 'servingNamespace',
      ]),
    );
  });
});
