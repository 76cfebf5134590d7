/**
 * The configs as the conversion Job publishes them (scripts/omniglue_conversion/render_configs.py): warm-up samples
 * that Triton accepts and that the glue graphs really run, TensorRT profiles that contain the warm-up, and CPU-only
 * instance groups. Parsed with this repository's subset of Triton's model_config.proto.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildModelContract, loadModelRepository, MODEL_REPOSITORY_DIR, WarmupInput } from '../lib/triton-model-config';
import { onnxFixtures } from './support/onnx-fixtures';
import { ort } from './support/ort';
import { synthesize, findResource } from './support/synth';

const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const SCRIPTS_DIR = path.resolve(__dirname, '..', 'scripts');
const TENSORRT_MODELS = ['superpoint', 'dinov2', 'omniglue'];
const repo = loadModelRepository(MODEL_REPOSITORY_DIR);
const composing = repo.models.filter((m) => m.name !== repo.ensemble.name);

let workDir: string;
const python = (args: string[]) => execFileSync(PYTHON, args, { cwd: SCRIPTS_DIR, stdio: 'pipe' });
const VARIANTS: Record<string, string[]> = { gpu: [], trt: ['--tensorrt-fp16'], cpu: ['--instance-kind', 'cpu'] };
/** The configs one variant publishes, rendered in beforeAll (one Python process renders all of them). */
const render = (name: keyof typeof VARIANTS) => path.join(workDir, name);

beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'serving-configs-'));
  fs.writeFileSync(path.join(workDir, 'contract.json'), JSON.stringify(buildModelContract(repo)));
  const calls = Object.entries(VARIANTS).map(([name, args]) => [
    '--model-configs', MODEL_REPOSITORY_DIR, '--contract', path.join(workDir, 'contract.json'), '--out', path.join(workDir, name), ...args,
  ]);
  python(['-c', 'import json, sys\nfrom omniglue_conversion.render_configs import main\nfor args in json.loads(sys.argv[1]):\n    assert main(args) == 0, args', JSON.stringify(calls)]);
});
afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

const fits = (shape: number[], dims: number[]) => shape.length === dims.length && dims.every((d, i) => d === -1 || d === shape[i]);

describe('model_warmup', () => {
  test.each(composing.map((m) => m.name))('%s warms up once per instance with every input at the typical size', (name) => {
    const model = repo.model(name);
    expect(model.warmups).toHaveLength(1);
    const [sample] = model.warmups;
    expect(sample).toMatchObject({ name: 'typical_640x480', batchSize: 1 });
    expect(Object.keys(sample!.inputs).sort()).toEqual(model.inputs.map((t) => t.name).sort());
    for (const input of model.inputs) {
      const warm = sample!.inputs[input.name] as WarmupInput;
      expect([input.name, warm.dataType]).toEqual([input.name, input.dataType]);
      expect([input.name, fits(warm.dims, input.dims)]).toEqual([input.name, true]);
      // Random bytes could make NaN indices in the glue graphs and fail the load; only zeros and known files.
      expect(warm.data === 'zero' || typeof warm.data === 'object').toBe(true);
    }
  });

  test('the ensemble has none (Triton refuses model_warmup on ensembles: core model_config_utils.cc)', () => {
    expect(repo.ensemble.warmups).toEqual([]);
  });

  test('warm-up tensors agree along the ensemble edges, as one 640 x 480 request would produce them', () => {
    const shape = (model: string, input: string) => repo.model(model).warmups[0]!.inputs[input]!.dims;
    expect(shape('superpoint', 'image')).toEqual([1, 480, 640, 1]);
    expect(shape('superpoint_keypoints', 'prob_nms')).toEqual([1, 480, 640]);
    expect(shape('superpoint_keypoints', 'descriptors_raw')).toEqual([1, 480 / 8, 640 / 8, 256]);
    expect(shape('dinov2', 'pixel_values')).toEqual([1, 3, 462, 630]);
    expect(shape('dinov2_keypoint_sampler', 'features')).toEqual([1, 768, 462 / 14, 630 / 14]);
    expect(shape('omniglue_match_extraction', 'soft_assignment')).toEqual([1, 1025, 1025]);
    expect(shape('dinov2_keypoint_sampler', 'keypoints')).toEqual([1, 1024, 2]);
    expect(shape('omniglue', 'keypoints0')).toEqual([1, 1024, 2]);
    expect(shape('omniglue_match_extraction', 'keypoints1')).toEqual([1, 1024, 2]);
  });

  test('the glue graphs run their warm-up sample on ONNX Runtime (a failing warm-up would fail the model load)', async () => {
    const published = render('gpu');
    const glueDir = path.join(onnxFixtures(), 'models');
    const glue = fs.readdirSync(glueDir).filter((name) => !TENSORRT_MODELS.includes(name));
    expect(glue).toHaveLength(5);
    for (const name of glue) {
      const [sample] = repo.model(name).warmups;
      const feeds: Record<string, ort.Tensor> = {};
      for (const [input, warm] of Object.entries(sample!.inputs)) {
        const count = warm.dims.reduce((a, b) => a * b, 1);
        if (typeof warm.data === 'object') {
          const bytes = fs.readFileSync(path.join(published, name, 'warmup', warm.data.file));
          feeds[input] = new ort.Tensor('int32', new Int32Array(bytes.buffer, bytes.byteOffset, count), warm.dims);
        } else {
          feeds[input] = warm.dataType === 'TYPE_UINT8'
            ? new ort.Tensor('uint8', new Uint8Array(count), warm.dims)
            : new ort.Tensor('float32', new Float32Array(count), warm.dims);
        }
      }
      const session = await ort.InferenceSession.create(path.join(glueDir, name, '1', 'model.onnx'));
      const outputs = await session.run(feeds);
      for (const output of repo.model(name).outputs) expect([name, fits([...outputs[output.name]!.dims], output.dims)]).toEqual([name, true]);
      await session.release();
    }
  });
});

describe('TensorRT profiles as published', () => {
  const parseShapes = (text: string) =>
    Object.fromEntries(text.split(',').map((entry) => { const [name, dims] = entry.split(':'); return [name!, dims!.split('x').map(Number)]; }));

  test('cover every dynamic input of the three networks and contain their warm-up shape as the optimum', () => {
    const published = loadModelRepository(render('trt'));
    for (const name of TENSORRT_MODELS) {
      const text = published.model(name).configText;
      const parameter = (key: string) => parseShapes(new RegExp(`key: "${key}" value: "([^"]+)"`).exec(text)![1]!);
      const [min, opt, max] = ['trt_profile_min_shapes', 'trt_profile_opt_shapes', 'trt_profile_max_shapes'].map(parameter);
      const dynamic = published.model(name).inputs.filter((t) => t.dims.includes(-1));
      expect(Object.keys(min!).sort()).toEqual(dynamic.map((t) => t.name).sort());
      for (const input of dynamic) {
        const warm = published.model(name).warmups[0]!.inputs[input.name]!.dims;
        expect([input.name, opt![input.name]]).toEqual([input.name, warm]);
        for (const shape of [min, opt, max]) expect([input.name, fits(shape![input.name]!, input.dims)]).toEqual([input.name, true]);
        expect(min![input.name]!.every((d, i) => d <= warm[i]! && warm[i]! <= max![input.name]![i]!)).toBe(true);
      }
    }
  });
});

describe('TensorRT profiles against the preprocessing graphs', () => {
  test('what the preprocessing produces for the smallest, typical, extreme-aspect and largest images lies within the profiles', async () => {
    const published = loadModelRepository(render('trt'));
    const glueDir = path.join(onnxFixtures(), 'models');
    const range = (model: string, input: string) =>
      ['min', 'max'].map((which) => {
        const text = new RegExp(`key: "trt_profile_${which}_shapes" value: "([^"]+)"`).exec(published.model(model).configText)![1]!;
        return text.split(',').find((e) => e.startsWith(`${input}:`))!.split(':')[1]!.split('x').map(Number);
      });
    const [spMin, spMax] = range('superpoint', 'image');
    const [dinoMin, dinoMax] = range('dinov2', 'pixel_values');
    const within = (shape: readonly number[], min: number[], max: number[]) => shape.every((d, i) => min[i]! <= d && d <= max[i]!);
    const sessions = await Promise.all(['superpoint_preprocess', 'dinov2_preprocess'].map((m) => ort.InferenceSession.create(path.join(glueDir, m, '1', 'model.onnx'))));
    // 14 px is the documented minimum side; 43 x 1920 is near the 45:1 aspect limit; 1920 is tensorrtMaxImageSide's default.
    for (const [height, width] of [[14, 14], [14, 630], [630, 14], [480, 640], [43, 1920], [1920, 1920]] as const) {
      const image = new ort.Tensor('uint8', new Uint8Array(height * width * 3), [height, width, 3]);
      const [superpoint, dinov2] = await Promise.all(sessions.map((s) => s.run({ image })));
      expect([height, width, within(superpoint!.image_gray!.dims, spMin!, spMax!)]).toEqual([height, width, true]);
      expect([height, width, within(dinov2!.pixel_values!.dims, dinoMin!, dinoMax!)]).toEqual([height, width, true]);
    }
    await Promise.all(sessions.map((s) => s.release()));
  });
});

describe('CPU-only replicas (triton.gpusPerReplica: 0)', () => {
  const cpu = { triton: { gpusPerReplica: 0 }, autoscaling: { enabled: false } };

  test('publish a distinct model version whose instance groups all load without a GPU', () => {
    const gpuJob = synthesize({}).stacks.serving.conversionJob;
    const { stacks, serving } = synthesize(cpu);
    const job = findResource(serving, 'kubernetes_job_v1', 'model-conversion');
    const args: string[] = job.spec.template.spec.container[0].args;
    expect(args.slice(args.indexOf('--instance-kind'), args.indexOf('--instance-kind') + 2)).toEqual(['--instance-kind', 'cpu']);
    expect(stacks.serving.conversionJob.version).not.toBe(gpuJob.version);
    const container = findResource(serving, 'kubernetes_deployment_v1', 'triton').spec.template.spec.container[0];
    expect(container.resources.limits).not.toHaveProperty('nvidia.com/gpu');

    const published = loadModelRepository(render('cpu'));
    for (const model of published.models.filter((m) => m.name !== published.ensemble.name)) {
      expect([model.name, model.instanceGroups.map((g) => g.kind)]).toEqual([model.name, model.instanceGroups.map(() => 'KIND_CPU')]);
      expect(model.configText).not.toContain('KIND_GPU');
      expect(model.instanceGroups.reduce((n, g) => n + g.count, 0)).toBe(repo.model(model.name).instanceGroups.reduce((n, g) => n + g.count, 0));
    }
  });

test('the CPU-only flags are ones the conversion script accepts', () => {
    const args: string[] = findResource(synthesize(cpu).serving, 'kubernetes_job_v1', 'model-conversion').spec.template.spec.container[0].args;
    const help = execFileSync(PYTHON, [path.join(SCRIPTS_DIR, 'convert_models_to_onnx.py'), '--help'], { encoding: 'utf8' });
    for (const flag of args.filter((a) => a.startsWith('--'))) expect(help).toContain(flag);
    expect(help).toMatch(/--instance-kind \{gpu,cpu\}/);
  });

  test('GPU replicas keep KIND_GPU and the GPU version', () => {
    const args: string[] = findResource(synthesize({}).serving, 'kubernetes_job_v1', 'model-conversion').spec.template.spec.container[0].args;
    expect(args).not.toContain('--instance-kind');
  });
});
