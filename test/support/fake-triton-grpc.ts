/**
 * A stand-in for Triton's gRPC endpoint (GRPCInferenceService on 127.0.0.1, ephemeral port), built with @grpc/grpc-js
 * and the vendored grpc_service.proto, loaded here on its own rather than through the client's code. It serves
 * ServerLive, ServerReady, ModelReady, ModelMetadata and ModelInfer, CHECKS every ModelInfer request (inputs, shapes,
 * raw_input_contents equal to the decoded pixels, the three outputs requested) and answers fixed matches as
 * raw_output_contents, or one of the faults below.
 */
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import * as protobuf from 'protobufjs';
import type { ExpectedImage, FixedMatches } from './fake-triton-server';
import { ensembleOutputs, float32Le, type OutputSpec } from './infer-responses';

const root = new protobuf.Root().loadSync(join(__dirname, '..', '..', 'scripts', 'match', 'proto', 'grpc_service.proto'), { keepCase: true });
root.resolveAll();
const service = root.lookupService('inference.GRPCInferenceService');

export type GrpcFault = 'datatype' | 'shape' | 'duplicate' | 'truncated' | 'raw-count' | 'typed-and-raw' | 'unrequested';

export interface FakeTritonGrpcOptions {
  model?: string;
  expected: { image0: ExpectedImage; image1: ExpectedImage };
  matches: FixedMatches;
  serverReady?: boolean;
  /** ModelReady answers ready: false, or fails with this status (as Triton does when its server is not ready). */
  modelReady?: boolean | { code: grpc.status; details: string };
  /** ModelInfer fails with this status, as Triton's handler would. */
  inferError?: { code: grpc.status; details: string };
  fault?: GrpcFault;
  inferDelayMs?: number;
  /** Outputs to answer instead of the fixed matches (built by the test). */
  outputs?: OutputSpec[];
  /** Compress responses (grpc-js server option grpc.default_compression_algorithm: 1 deflate, 2 gzip). */
  compression?: 1 | 2;
}

export interface FakeTritonGrpc {
  /** host:port */
  url: string;
  calls: string[];
  violations: string[];
  close(): Promise<void>;
}

const OUTPUTS = ['matches_kp0', 'matches_kp1', 'match_confidences'];

type Message = Record<string, any>;

function verify(request: Message, options: FakeTritonGrpcOptions, model: string): string[] {
  const v: string[] = [];
  if (request.model_name !== model) v.push(`model_name '${request.model_name}'`);
  const inputs: Message[] = request.inputs ?? [];
  if (inputs.map((i) => i.name).join(',') !== 'image0,image1') v.push(`inputs [${inputs.map((i) => i.name).join(',')}]`);
  const raw: Buffer[] = request.raw_input_contents ?? [];
  if (raw.length !== inputs.length) v.push(`${raw.length} raw_input_contents for ${inputs.length} inputs`);
  inputs.forEach((input, i) => {
    const exp = options.expected[input.name as 'image0' | 'image1'];
    if (!exp) return;
    if (input.datatype !== 'UINT8') v.push(`${input.name}: datatype ${input.datatype}`);
    if (String(input.shape) !== String(exp.shape)) v.push(`${input.name}: shape [${input.shape}] != [${exp.shape}]`);
    if (input.contents) v.push(`${input.name}: typed contents next to raw_input_contents`);
    const bytes = raw[i];
    if (!bytes || bytes.length !== exp.shape[0] * exp.shape[1] * 3) v.push(`${input.name}: ${bytes?.length} raw bytes`);
    else if (exp.data && !bytes.equals(exp.data)) v.push(`${input.name}: pixel bytes differ from the decoded image`);
  });
  const outputs: Message[] = request.outputs ?? [];
  if (outputs.map((o) => o.name).sort().join(',') !== [...OUTPUTS].sort().join(',')) v.push(`outputs requested: [${outputs.map((o) => o.name)}]`);
  return v;
}

function answer(options: FakeTritonGrpcOptions, model: string): Message {
  const m = options.matches;
  const outputs = [...(options.outputs ?? ensembleOutputs(m.kp0, m.kp1, m.confidences))];
  const raw = outputs.map((o) => float32Le(o.values));
  const tensors = outputs.map((o) => ({ name: o.name, datatype: o.datatype ?? 'FP32', shape: o.shape }));
  const fault = options.fault;
  if (fault === 'datatype') tensors[2]!.datatype = 'FP64';
  if (fault === 'shape') tensors[0]!.shape = [tensors[0]!.shape[0]!, 3];
  if (fault === 'truncated') raw[0] = raw[0]!.subarray(0, raw[0]!.length - 4);
  if (fault === 'duplicate') {
    tensors.push({ ...tensors[2]! });
    raw.push(float32Le(outputs[2]!.values.map(() => 0.75)));
  }
  if (fault === 'unrequested') {
    tensors.push({ name: 'debug_scores', datatype: 'FP32', shape: [1] });
    raw.push(float32Le([1]));
  }
  if (fault === 'raw-count') raw.pop();
  const withContents = fault === 'typed-and-raw'
    ? tensors.map((t, i) => (i === 0 ? { ...t, contents: { fp32_contents: outputs[0]!.values } } : t))
    : tensors;
  return { model_name: model, model_version: '1', outputs: withContents, raw_output_contents: raw };
}

export async function startFakeTritonGrpc(options: FakeTritonGrpcOptions): Promise<FakeTritonGrpc> {
  const model = options.model ?? 'omniglue_ensemble';
  const calls: string[] = [];
  const violations: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const definition: Record<string, grpc.MethodDefinition<Message, Message>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};

  const unary = (name: string, handle: (request: Message) => Promise<Message> | Message) => {
    const method = service.methods[name]!;
    const req = method.resolvedRequestType!;
    const res = method.resolvedResponseType!;
    definition[name] = {
      path: `/inference.GRPCInferenceService/${name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (m: Message) => Buffer.from(req.encode(req.fromObject(m)).finish()),
      requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), { longs: Number, bytes: Buffer, arrays: true }),
      responseSerialize: (m: Message) => Buffer.from(res.encode(res.fromObject(m)).finish()),
      responseDeserialize: (b: Buffer) => res.toObject(res.decode(b)),
    };
    handlers[name] = (call: grpc.ServerUnaryCall<Message, Message>, callback: grpc.sendUnaryData<Message>) => {
      calls.push(name);
      Promise.resolve(handle(call.request)).then((m) => callback(null, m), (err: grpc.ServiceError) => callback(err));
    };
  };
  const fail = (status: { code: grpc.status; details: string }) => Promise.reject(Object.assign(new Error(status.details), status));
  const delay = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(() => (timers.delete(timer), resolve()), ms);
    timers.add(timer);
  });

  unary('ServerLive', () => ({ live: true }));
  unary('ServerReady', () => ({ ready: options.serverReady ?? true }));
  unary('ModelReady', (request) => {
    if (request.name !== model) return fail({ code: grpc.status.NOT_FOUND, details: `Request for unknown model: '${request.name}' has no available versions` });
    const ready = options.modelReady ?? true;
    return typeof ready === 'boolean' ? { ready } : fail(ready);
  });
  unary('ModelMetadata', () => ({
    name: model, versions: ['1'], platform: 'ensemble',
    inputs: ['image0', 'image1'].map((name) => ({ name, datatype: 'UINT8', shape: [-1, -1, 3] })),
    outputs: ensembleOutputs([], [], []).map((o) => ({ name: o.name, datatype: 'FP32', shape: o.shape.map(() => -1) })),
  }));
  unary('ModelInfer', async (request) => {
    const found = verify(request, options, model);
    if (options.inferDelayMs) await delay(options.inferDelayMs);
    if (found.length > 0) {
      violations.push(...found);
      return fail({ code: grpc.status.INVALID_ARGUMENT, details: `fake-triton-grpc: ${found.join('; ')}` });
    }
    return options.inferError ? fail(options.inferError) : answer(options, model);
  });

  const server = new grpc.Server(options.compression ? { 'grpc.default_compression_algorithm': options.compression } : {});
  server.addService(definition, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return {
    url: `127.0.0.1:${port}`,
    calls,
    violations,
    close: () => {
      for (const timer of timers) clearTimeout(timer);
      server.forceShutdown();
      return Promise.resolve();
    },
  };
}
