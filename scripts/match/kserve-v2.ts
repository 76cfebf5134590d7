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
 * Pure encoding, so the tests exercise it directly; the HTTP calls are in triton-client.ts, the decoding (shared with
 * gRPC) in response-decoder.ts.
 */
import { INFERENCE_HEADER_CONTENT_LENGTH } from './response-decoder';

export interface InputTensor {
  name: string;
  datatype: 'UINT8';
  shape: number[];
  data: Uint8Array;
}

export interface EncodedRequest {
  body: Uint8Array | string;
  headers: Record<string, string>;
}

/** The wire format: HTTP with binary tensors, HTTP with JSON tensors, or gRPC with raw contents. */
export type Protocol = 'binary' | 'json' | 'grpc';

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
