/**
 * Triton's gRPC protocol (GRPCInferenceService, vendored in proto/ with its provenance): the messages the client
 * sends and reads, encoded and decoded with protobufjs from the .proto files at run time.
 *
 * Why protobufjs and not @grpc/proto-loader or generated code: the client hands grpc-js bytes both ways (an identity
 * serializer and deserializer), so the response is decoded here, inside the bounded decoder's error handling, and a
 * malformed message is exit 7 with a reason instead of grpc-js's generic "Response message parsing error". protobufjs
 * is already the project's protobuf library (lib/triton-model-config.ts); generated code would be a second copy of
 * the schema to keep in step, and grpc-tools' protoc ships as a binary that an install script downloads (.npmrc
 * turns those off).
 *
 * Tensors travel as `raw_input_contents` / `raw_output_contents`, one bytes entry per tensor in the order of
 * `inputs` / `outputs`, row-major little-endian (grpc_service.proto, ModelInferRequest and ModelInferResponse), as
 * tritonclient does: triton-inference-server/client src/python/library/tritonclient/grpc/_utils.py
 * `_get_inference_request` (request.raw_input_contents.extend([infer_input._get_content()])), _infer_input.py
 * `set_data_from_numpy` (input_tensor.tobytes()) and _infer_result.py `as_numpy` (raw_output_contents[index], index
 * being the output's position in `outputs`).
 */
import { join } from 'node:path';
import * as protobuf from 'protobufjs';
import { reasonOf } from './errors';
import type { InputTensor } from './kserve-v2';
import { type DecodedTensor, label, malformed } from './response-decoder';

export const PROTO_DIR = join(__dirname, 'proto');
export const SERVICE = 'inference.GRPCInferenceService';

let root: protobuf.Root | undefined;

/** grpc_service.proto (which imports model_config.proto), field names as written (keepCase). */
export function tritonProto(): protobuf.Root {
  if (!root) {
    root = new protobuf.Root().loadSync(join(PROTO_DIR, 'grpc_service.proto'), { keepCase: true });
    root.resolveAll();
  }
  return root;
}

/** An RPC of GRPCInferenceService: its HTTP/2 path and message types, all read from the proto. */
export interface Rpc {
  name: string;
  path: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
}

export function rpc(name: string): Rpc {
  const method = tritonProto().lookupService(SERVICE).methods[name];
  if (!method?.resolvedRequestType || !method.resolvedResponseType) throw new Error(`${SERVICE} has no RPC ${name}`);
  return { name, path: `/${SERVICE}/${name}`, requestType: method.resolvedRequestType, responseType: method.resolvedResponseType };
}

/** A message to bytes; `fields` are checked against the type first, so a typo fails here and not on the server. */
export function encodeMessage(type: protobuf.Type, fields: Record<string, unknown>): Uint8Array {
  const problem = type.verify(fields);
  if (problem) throw new Error(`${type.name}: ${problem}`);
  return type.encode(type.fromObject(fields)).finish();
}

/** A response's bytes to a plain object; a message that does not decode is a malformed response (exit 7). */
export function decodeMessage(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> {
  try {
    return type.toObject(type.decode(bytes), { longs: String, bytes: Buffer, arrays: true, defaults: true });
  } catch (err) {
    throw malformed(`the ${type.name} message does not decode (${reasonOf(err)})`);
  }
}

/** ModelInferRequest with the tensors as raw contents (tritonclient's layout, above). */
export function encodeGrpcInferRequest(model: string, inputs: InputTensor[], outputNames: readonly string[]): Uint8Array {
  return encodeMessage(rpc('ModelInfer').requestType, {
    model_name: model,
    inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    outputs: outputNames.map((name) => ({ name })),
    raw_input_contents: inputs.map((t) => t.data),
  });
}

/** int64 dimensions arrive as decimal strings (longs: String): a size, or a malformed response. */
function dimension(value: unknown, name: unknown): number {
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw malformed(`output ${label(name)} has a shape dimension ${String(value)}, not a size`);
  return n;
}

/** The InferTensorContents field that holds each datatype (grpc_service.proto InferTensorContents). */
const CONTENTS_FIELD: Record<string, string> = {
  BOOL: 'bool_contents', INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents',
  UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents',
  FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents',
};

/**
 * ModelInferResponse to tensors, in the order listed. Raw contents, when present, must be one per output (the
 * proto: "initialized with data for each tensor in the same order as 'outputs'"), and then no output may also carry
 * typed contents ("If this field is specified then InferOutputTensor::contents must not be specified").
 */
export function decodeGrpcInferResponse(bytes: Uint8Array): DecodedTensor[] {
  const response = decodeMessage(rpc('ModelInfer').responseType, bytes);
  const outputs = response.outputs as Array<Record<string, unknown>>;
  const raw = response.raw_output_contents as Buffer[];
  if (raw.length > 0 && raw.length !== outputs.length) {
    throw malformed(`${raw.length} raw_output_contents for ${outputs.length} outputs; the protocol wants one per output`);
  }
  return outputs.map((out, i) => {
    const name = out.name as string;
    const datatype = out.datatype as string;
    if (name === '' || datatype === '') throw malformed(`output ${label(name)} lacks a name or a datatype`);
    const shape = (out.shape as unknown[]).map((d) => dimension(d, name));
    const contents = (out.contents ?? null) as Record<string, unknown[]> | null;
    const typed = contents ? Object.values(contents).some((values) => Array.isArray(values) && values.length > 0) : false;
    if (raw.length > 0) {
      if (typed) throw malformed(`output ${label(name)} has both raw_output_contents and typed contents`);
      return { name, datatype, shape, raw: raw[i] as Buffer };
    }
    const field = CONTENTS_FIELD[datatype];
    return { name, datatype, shape, values: (field && contents?.[field]) || [] };
  });
}
