/**
 * The one decoder of inference responses, used by the match client and the load generator over both protocols.
 * The transports hand it at most maxResponseBytes() (limits.ts) of undecompressed body; from there on every step is
 * bounded and every failure is a MatchClientError with exit code 7, never an exception from deep inside a parser:
 * - JSON: any value may arrive (`null`, a number, an array), so its shape is checked before it is read; `data`
 *   arrays are flattened without recursion, at most as deep as the tensor's rank (kserve/kserve
 *   docs/predict-api/v2/required_api.md, HTTP/REST "Tensor Data": elements "in their natural multi-dimensional
 *   representation, or as a flattened one-dimensional representation"), so 200,000 nested brackets are refused, not
 *   a stack overflow.
 * - gRPC: the protobuf reader's own recursion limit (protobufjs Reader.recursionLimit), errors wrapped here.
 * - Both: outputs by name, each at most once and each one that was asked for (a second copy used to win silently).
 *
 * Binary layout (triton-inference-server/server docs/protocol/extension_binary_data.md): the JSON object, then the
 * raw tensors in the order the JSON lists them, each `parameters.binary_data_size` long; `Inference-Header-Content-
 * Length` gives the JSON's length.
 */
import { ExitCode, MatchClientError, reasonOf } from './errors';

/** Name of the header that carries the JSON part's byte length (extension_binary_data.md). */
export const INFERENCE_HEADER_CONTENT_LENGTH = 'Inference-Header-Content-Length';

/** An output as it arrived: exactly one of `raw` (binary extension, gRPC raw contents) or `values` is set. */
export interface DecodedTensor {
  name: string;
  datatype: string;
  shape: number[];
  raw?: Uint8Array;
  /** Typed values: a JSON `data` array (flattened) or a gRPC InferTensorContents field. */
  values?: unknown[];
}

export function malformed(message: string): MatchClientError {
  return new MatchClientError(`malformed inference response: ${message}`, ExitCode.BadResponse);
}

/** A server-chosen name in a message: quoted, control characters escaped, long names cut. */
export function quoted(value: unknown): string {
  const text = JSON.stringify(typeof value === 'string' ? value : (value ?? null)) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const SAFE_TEXT = /^[\w.:-]{1,64}$/;

/** A server-chosen output name in a message: `'name'` when it is plain, else quoted(). */
export function label(value: unknown): string {
  return typeof value === 'string' && SAFE_TEXT.test(value) ? `'${value}'` : quoted(value);
}

/** A server-chosen word (a datatype) in a message: as it is when plain, else quoted(). */
function plain(value: unknown): string {
  return typeof value === 'string' && SAFE_TEXT.test(value) ? value : quoted(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

export function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.length <= 32 && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/**
 * Flattens a `data` array without recursion. A tensor of rank r has at most r levels of brackets; anything deeper
 * is refused as soon as it is seen, so neither the stack nor the time depends on how deep the server nested it.
 */
export function flattenData(data: unknown[], rank: number, name: string): unknown[] {
  const maxDepth = Math.max(rank, 1);
  const out: unknown[] = [];
  const stack: Array<{ items: unknown[]; next: number }> = [{ items: data, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as { items: unknown[]; next: number };
    if (top.next === top.items.length) {
      stack.pop();
      continue;
    }
    const item = top.items[top.next++];
    if (!Array.isArray(item)) {
      out.push(item);
    } else if (stack.length >= maxDepth) {
      throw malformed(`output ${label(name)} nests its data deeper than its shape's ${rank} dimension${rank === 1 ? '' : 's'}`);
    } else {
      stack.push({ items: item, next: 0 });
    }
  }
  return out;
}

/**
 * Splits an HTTP infer response body into its outputs, in the order listed. `headerLength` is the response's
 * Inference-Header-Content-Length (null when absent: then the whole body is JSON, as Triton sends it when no output
 * is binary).
 */
export function decodeHttpInferBody(body: Uint8Array, headerLength: string | null): DecodedTensor[] {
  let jsonEnd = body.byteLength;
  if (headerLength !== null) {
    jsonEnd = Number(headerLength);
    if (!/^\d+$/.test(headerLength.trim()) || jsonEnd > body.byteLength) {
      throw malformed(`${INFERENCE_HEADER_CONTENT_LENGTH} is '${headerLength.slice(0, 40)}' but the body has ${body.byteLength} bytes`);
    }
  }
  let parsed: unknown;
  try {
    // V8's JSON.parse does not recurse, so nesting alone cannot overflow the stack here; the body is already capped.
    parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, jsonEnd).toString('utf8'));
  } catch (err) {
    throw malformed(`JSON part does not parse (${reasonOf(err)})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw malformed(`the JSON part is ${describe(parsed)}, not an object`);
  }
  const outputs = (parsed as { outputs?: unknown }).outputs;
  if (!Array.isArray(outputs)) throw malformed('no "outputs" array');

  const tensors: DecodedTensor[] = [];
  let offset = jsonEnd; // binary chunks follow the JSON in the order the outputs are listed
  for (const item of outputs as unknown[]) {
    const out = (item !== null && typeof item === 'object' ? item : {}) as Record<string, unknown>;
    const { name, datatype, shape } = out;
    if (typeof name !== 'string' || typeof datatype !== 'string' || !isShape(shape)) {
      throw malformed(`output ${quoted(name)} lacks a valid name, datatype or shape`);
    }
    const parameters = out.parameters !== null && typeof out.parameters === 'object' ? (out.parameters as Record<string, unknown>) : {};
    const size = parameters.binary_data_size;
    if (size !== undefined) {
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || offset + size > body.byteLength) {
        throw malformed(
          `output ${label(name)} announces binary_data_size ${quoted(size)} but only ${body.byteLength - offset} bytes remain`,
        );
      }
      tensors.push({ name, datatype, shape, raw: body.subarray(offset, offset + size) });
      offset += size;
    } else if (Array.isArray(out.data)) {
      tensors.push({ name, datatype, shape, values: flattenData(out.data, shape.length, name) });
    } else {
      throw malformed(`output ${label(name)} has neither binary_data_size nor a data array`);
    }
  }
  if (offset !== body.byteLength) {
    throw malformed(`${body.byteLength - offset} unexplained bytes after the last output`);
  }
  return tensors;
}

/**
 * The outputs by name, for both protocols: each requested name at most once, nothing that was not requested. The
 * request names its outputs, and the server returns those (required_api.md, "Inference Request Examples": "the
 * inference server must return the 'output0' output tensor"; Triton builds the response from the request's
 * requested outputs); two tensors under one name leave no way to tell which is meant. A missing output is reported
 * where it is read (readFloat32).
 */
export function outputsByName(tensors: DecodedTensor[], requested: readonly string[]): Map<string, DecodedTensor> {
  const result = new Map<string, DecodedTensor>();
  for (const tensor of tensors) {
    if (!requested.includes(tensor.name)) {
      throw malformed(`output ${label(tensor.name)} was not requested (the request asked for ${requested.join(', ')})`);
    }
    if (result.has(tensor.name)) throw malformed(`output '${tensor.name}' appears more than once`);
    result.set(tensor.name, tensor);
  }
  return result;
}

/**
 * Checks an FP32 output against an expected shape (null = any size in that dimension) and returns its values. Sizes
 * are compared before anything is allocated. Raw data is read with an explicit little-endian DataView: the chunk may
 * sit at any offset, so a Float32Array view could be misaligned, and the protocol fixes the byte order.
 */
export function readFloat32(tensor: DecodedTensor | undefined, name: string, expected: Array<number | null>): {
  shape: number[];
  values: Float32Array;
} {
  if (!tensor) throw malformed(`output '${name}' is missing`);
  if (tensor.datatype !== 'FP32') throw malformed(`output '${name}' has datatype ${plain(tensor.datatype)}, expected FP32`);
  const { shape } = tensor;
  if (shape.length !== expected.length || expected.some((d, i) => d !== null && d !== shape[i])) {
    const want = expected.map((d) => (d === null ? 'K' : String(d))).join(',');
    throw malformed(`output '${name}' has shape [${shape.join(',')}], expected [${want}]`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (tensor.raw) {
    if (tensor.raw.byteLength !== count * 4) {
      throw malformed(`output '${name}' has ${tensor.raw.byteLength} bytes, shape [${shape.join(',')}] needs ${count * 4}`);
    }
    const values = new Float32Array(count);
    const view = new DataView(tensor.raw.buffer, tensor.raw.byteOffset, tensor.raw.byteLength);
    for (let i = 0; i < count; i++) values[i] = view.getFloat32(i * 4, true);
    return { shape, values };
  }
  const data = tensor.values ?? [];
  if (data.length !== count) {
    throw malformed(`output '${name}' has ${data.length} values, shape [${shape.join(',')}] needs ${count}`);
  }
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const v = data[i];
    if (typeof v !== 'number') throw malformed(`output '${name}' holds a non-number at index ${i}`);
    values[i] = v;
  }
  return { shape, values };
}
