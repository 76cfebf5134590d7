/** What the triton:local suites share: a started server, the official client's run, the in-process runner's. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type DecodedTensor, outputsByName } from '../../../scripts/match/response-decoder';
import type { RgbImage } from '../../../scripts/match/images';
import { publishRepository, type Published, VENV_TRITON } from '../../../scripts/triton-local/publish';
import { freePort, type RunningTriton, startTriton } from '../../../scripts/triton-local/server';
import { REPOSITORY_ROOT } from '../../../lib/paths';
import { loadModelRepository } from '../../../lib/triton-model-config';
import type { ThroughputMode } from '../../../lib/throughput-mode';
import { runEnsemble } from '../../support/ensemble-runner';
import { ort, SessionPool } from '../../support/ort';

export const WORK_DIR = path.join(REPOSITORY_ROOT, '.cache', 'triton-local');
export const OUTPUT_NAMES = ['matches_kp0', 'matches_kp1', 'match_confidences'] as const;

/** An output as bytes: what "identical" compares. */
export interface RawTensor {
  datatype: string;
  shape: number[];
  bytes: Buffer;
}
export type RawOutputs = Record<string, RawTensor>;

export async function startLocal(name: string, throughput?: ThroughputMode): Promise<{ server: RunningTriton; published: Published }> {
  const published = publishRepository({ workDir: WORK_DIR, throughput, log: () => undefined });
  const ports = { http: await freePort(), grpc: await freePort(), metrics: await freePort() };
  const server = await startTriton(published.serving, ports, path.join(WORK_DIR, `tritonserver-${name}.log`));
  return { server, published };
}

/** The decoded outputs, each requested one once (the client's own check, response-decoder.ts), as bytes. */
export function fromDecoded(tensors: DecodedTensor[]): RawOutputs {
  const outputs = outputsByName(tensors, OUTPUT_NAMES);
  return Object.fromEntries(
    OUTPUT_NAMES.map((name) => {
      const t = outputs.get(name);
      if (!t?.raw) throw new Error(`output ${name} missing or not binary`);
      return [name, { datatype: t.datatype, shape: t.shape, bytes: Buffer.from(t.raw) }];
    }),
  );
}

const NUMPY_TYPES: Record<string, string> = { float32: 'FP32', int32: 'INT32', uint8: 'UINT8' };

/**
 * The pair through tritonclient (test/engines/support/tritonclient_pair.py), over HTTP and gRPC. Asynchronous: the
 * recording proxy it may talk to runs on this process's event loop.
 */
export async function tritonclientPair(
  httpAddress: string, grpcTarget: string, image0: RgbImage, image1: RgbImage, published: Published,
): Promise<{ http: RawOutputs; grpc: RawOutputs; job: RawOutputs }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tritonclient-pair-'));
  try {
    const pair: Record<string, { file: string; shape: number[] }> = {};
    for (const [name, image] of [['image0', image0], ['image1', image1]] as const) {
      const file = path.join(dir, `${name}.rgb`);
      fs.writeFileSync(file, image.data);
      pair[name] = { file, shape: [image.height, image.width, 3] };
    }
    fs.writeFileSync(path.join(dir, 'pair.json'), JSON.stringify(pair));
    const script = path.join(__dirname, 'tritonclient_pair.py');
    await promisify(execFile)(path.join(VENV_TRITON, 'bin', 'python'), [script, '--http', httpAddress, '--grpc', grpcTarget, '--pair', path.join(dir, 'pair.json'), '--out', dir,
      '--job-contract', published.contract, '--published', published.published]);
    const described = JSON.parse(fs.readFileSync(path.join(dir, 'outputs.json'), 'utf8'));
    const read = (protocol: 'http' | 'grpc' | 'job'): RawOutputs =>
      Object.fromEntries(OUTPUT_NAMES.map((name) => {
        const { dtype, shape } = described[protocol][name];
        return [name, { datatype: NUMPY_TYPES[dtype] ?? dtype, shape, bytes: fs.readFileSync(path.join(dir, protocol, `${name}.bin`)) }];
      }));
    return { http: read('http'), grpc: read('grpc'), job: read('job') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const imageTensor = (image: RgbImage) => new ort.Tensor('uint8', new Uint8Array(image.data), [image.height, image.width, 3]);

/** omniglue_ensemble run in-process (onnxruntime-node) on the published configs and the published ONNX files. */
export async function runnerOutputs(published: string, image0: RgbImage, image1: RgbImage, pool: SessionPool) {
  const repo = loadModelRepository(published);
  const run = await runEnsemble(repo, (model) => pool.get(path.join(published, model, '1', 'model.onnx')), { image0: imageTensor(image0), image1: imageTensor(image1) });
  const outputs: RawOutputs = Object.fromEntries(OUTPUT_NAMES.map((name) => {
    const t = run.outputs[name];
    const view = t.data as Float32Array;
    return [name, { datatype: 'FP32', shape: [...t.dims], bytes: Buffer.from(view.buffer, view.byteOffset, view.byteLength) }];
  }));
  return { outputs, run };
}

/** Same datatype, shape and bytes for every output; the first difference otherwise. */
export function difference(a: RawOutputs, b: RawOutputs): string | undefined {
  for (const name of OUTPUT_NAMES) {
    const [x, y] = [a[name], b[name]];
    if (x.datatype !== y.datatype || x.shape.join() !== y.shape.join()) return `${name}: ${x.datatype}[${x.shape}] vs ${y.datatype}[${y.shape}]`;
    if (!x.bytes.equals(y.bytes)) {
      const [fx, fy] = [new Float32Array(new Uint8Array(x.bytes).buffer), new Float32Array(new Uint8Array(y.bytes).buffer)];
      const i = fx.findIndex((v, k) => !Object.is(v, fy[k]));
      return `${name}: element ${i} is ${fx[i]} vs ${fy[i]}`;
    }
  }
  return undefined;
}

/**
 * The in-process runner runs onnxruntime-node 1.30, the wrappers the Job's onnxruntime 1.19.2: two builds whose
 * float kernels round differently. The keypoints and so the matches (which pairs, their coordinates) must be
 * identical; the confidences, the matcher's dual softmax, may differ by float32 rounding: measured up to 7.5e-7 on
 * the demo pair, allowed up to 1e-5.
 */
export const CONFIDENCE_TOLERANCE = 1e-5;

export function differenceFromRunner(triton: RawOutputs, runner: RawOutputs): string | undefined {
  const { match_confidences: a, ...kp } = triton;
  const { match_confidences: b, ...runnerKp } = runner;
  const exact = difference({ ...kp, match_confidences: a }, { ...runnerKp, match_confidences: a });
  if (exact !== undefined) return exact;
  if (a.shape.join() !== b.shape.join()) return `match_confidences: [${a.shape}] vs [${b.shape}]`;
  const [x, y] = [new Float32Array(new Uint8Array(a.bytes).buffer), new Float32Array(new Uint8Array(b.bytes).buffer)];
  const i = x.findIndex((v, k) => !(Math.abs(v - y[k]) <= CONFIDENCE_TOLERANCE));
  return i < 0 ? undefined : `match_confidences: element ${i} is ${x[i]} vs ${y[i]} (beyond ${CONFIDENCE_TOLERANCE})`;
}
