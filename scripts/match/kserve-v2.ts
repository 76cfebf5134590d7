/**
 * KServe v2 (Open Inference Protocol) over HTTP, as Triton speaks it, plus Triton's binary tensor data extension.
 *
 * References (checked, not guessed):
 * - triton-inference-server/server docs/protocol/extension_binary_data.md: the request/response body is the JSON
 *   object followed by the raw tensors in the order the JSON lists them; `Inference-Header-Content-Length` gives
 *   the JSON length; inputs carry `parameters.binary_data_size`; outputs are asked for with
 *   `parameters.binary_data: true` and come back with `parameters.binary_data_size`. Raw data is little-endian,
 *   row major, no padding.
 * - kserve predict-api v2: GET /v2/health/ready, GET /v2/models/<m>/ready (200 = ready), POST /v2/models/<m>/infer,
 *   errors as `{"error": "<message>"}` with a non-200 status.
 *
 * Pure encode/decode, so the tests exercise it directly; the HTTP calls are in triton-client.ts.
 */
import { ExitCode, MatchClientError, reasonOf } from './errors';

/** Name of the header that carries the JSON part's byte length (extension_binary_data.md). */
export const INFERENCE_HEADER_CONTENT_LENGTH = 'Inference-Header-Content-Length';

export interface InputTensor {
  name: string;
  datatype: 'UINT8';
  shape: number[];
  data: Uint8Array;
}

/** An output as it arrived: exactly one of `raw` (binary extension) or `json` (plain JSON `data`) is set. */
export interface DecodedTensor {
  name: string;
  datatype: string;
  shape: number[];
  raw?: Uint8Array;
  json?: unknown[];
}

export interface EncodedRequest {
  body: Uint8Array | string;
  headers: Record<string, string>;
}

export type Protocol = 'binary' | 'json';

// ---------------------------------------------------------------------------------------------------------------
// Encoding

/** JSON header + raw input bytes; every output is requested as binary so nothing is printed as JSON numbers. */
export function encodeBinaryRequest(inputs: InputTensor[], outputNames: string[]): EncodedRequest {
  const header = {
    inputs: inputs.map((t) => ({
      name: t.name,
      shape: t.shape,
      datatype: t.datatype,
      parameters: { binary_data_size: t.data.byteLength },
    })),
    outputs: outputNames.map((name) => ({ name, parameters: { binary_data: true } })),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  return {
    body: Buffer.concat([headerBytes, ...inputs.map((t) => t.data)]),
    headers: {
      // Content-Type as in the extension's example; Content-Length is set by fetch from the body.
      'Content-Type': 'application/octet-stream',
      [INFERENCE_HEADER_CONTENT_LENGTH]: String(headerBytes.byteLength),
    },
  };
}

/** Plain JSON fallback (for proxies or servers without the binary extension): flat row-major `data` arrays. */
export function encodeJsonRequest(inputs: InputTensor[], outputNames: string[]): EncodedRequest {
  const body = {
    inputs: inputs.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, data: Array.from(t.data) })),
    outputs: outputNames.map((name) => ({ name })),
  };
  return { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } };
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding

function malformed(message: string): MatchClientError {
  return new MatchClientError(`malformed inference response: ${message}`, ExitCode.BadResponse);
}

function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isInteger(d) && d >= 0);
}

/**
 * Splits an infer response body into its outputs. `headerLength` is the response's Inference-Header-Content-Length
 * (null when absent: then the whole body is JSON, which is what Triton sends when no output is binary).
 */
export function decodeInferResponse(body: Uint8Array, headerLength: string | null): Map<string, DecodedTensor> {
  let jsonEnd = body.byteLength;
  if (headerLength !== null) {
    jsonEnd = Number(headerLength);
    if (!/^\d+$/.test(headerLength.trim()) || jsonEnd > body.byteLength) {
      throw malformed(`${INFERENCE_HEADER_CONTENT_LENGTH} is '${headerLength}' but the body has ${body.byteLength} bytes`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, jsonEnd).toString('utf8'));
  } catch (err) {
    throw malformed(`JSON part does not parse (${reasonOf(err)})`);
  }
  const outputs = (parsed as { outputs?: unknown }).outputs;
  if (!Array.isArray(outputs)) throw malformed('no "outputs" array');

  const result = new Map<string, DecodedTensor>();
  let offset = jsonEnd; // binary chunks follow the JSON in the order the outputs are listed
  for (const out of outputs as Array<Record<string, unknown>>) {
    const name = out?.name;
    const datatype = out?.datatype;
    const shape = out?.shape;
    if (typeof name !== 'string' || typeof datatype !== 'string' || !isShape(shape)) {
      throw malformed(`output ${JSON.stringify(name ?? null)} lacks a valid name, datatype or shape`);
    }
    const size = (out.parameters as Record<string, unknown> | undefined)?.binary_data_size;
    if (size !== undefined) {
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || offset + size > body.byteLength) {
        throw malformed(
          `output '${name}' announces binary_data_size ${String(size)} but only ${body.byteLength - offset} bytes remain`,
        );
      }
      result.set(name, { name, datatype, shape, raw: body.subarray(offset, offset + size) });
      offset += size;
    } else if (Array.isArray(out.data)) {
      // KServe allows nested arrays; Triton sends them flat. Flatten either way.
      result.set(name, { name, datatype, shape, json: (out.data as unknown[]).flat(Infinity) });
    } else {
      throw malformed(`output '${name}' has neither binary_data_size nor a data array`);
    }
  }
  if (offset !== body.byteLength) {
    throw malformed(`${body.byteLength - offset} unexplained bytes after the last output`);
  }
  return result;
}

/**
 * Checks an FP32 output against an expected shape (null = any size in that dimension) and returns its values.
 * Binary data is read with an explicit little-endian DataView: the chunk may sit at any offset, so a Float32Array
 * view over the body could be misaligned, and the protocol fixes the byte order regardless of the host.
 */
export function readFloat32(tensor: DecodedTensor | undefined, name: string, expected: Array<number | null>): {
  shape: number[];
  values: Float32Array;
} {
  if (!tensor) throw malformed(`output '${name}' is missing`);
  if (tensor.datatype !== 'FP32') throw malformed(`output '${name}' has datatype ${tensor.datatype}, expected FP32`);
  const { shape } = tensor;
  if (shape.length !== expected.length || expected.some((d, i) => d !== null && d !== shape[i])) {
    const want = expected.map((d) => (d === null ? 'K' : String(d))).join(',');
    throw malformed(`output '${name}' has shape [${shape.join(',')}], expected [${want}]`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(count);
  if (tensor.raw) {
    if (tensor.raw.byteLength !== count * 4) {
      throw malformed(`output '${name}' has ${tensor.raw.byteLength} bytes, shape [${shape.join(',')}] needs ${count * 4}`);
    }
    const view = new DataView(tensor.raw.buffer, tensor.raw.byteOffset, tensor.raw.byteLength);
    for (let i = 0; i < count; i++) values[i] = view.getFloat32(i * 4, true);
  } else {
    const data = tensor.json ?? [];
    if (data.length !== count) {
      throw malformed(`output '${name}' has ${data.length} values, shape [${shape.join(',')}] needs ${count}`);
    }
    for (let i = 0; i < count; i++) {
      const v = data[i];
      if (typeof v !== 'number') throw malformed(`output '${name}' holds a non-number at index ${i}`);
      values[i] = v;
    }
  }
  return { shape, values };
}
