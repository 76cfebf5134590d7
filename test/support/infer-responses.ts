/**
 * Inference responses built byte by byte, for servers that answer something other than the truth: JSON and binary
 * (KServe v2 with Triton's binary tensor extension) over HTTP, and compressed variants of any body.
 */
import * as zlib from 'node:zlib';

export interface OutputSpec {
  name: string;
  datatype?: string;
  shape: number[];
  values: number[];
}

/** The ensemble's three outputs for K matches (or the given rows). */
export function ensembleOutputs(kp0: Array<[number, number]>, kp1: Array<[number, number]>, confidences: number[]): OutputSpec[] {
  return [
    { name: 'matches_kp0', shape: [kp0.length, 2], values: kp0.flat() },
    { name: 'matches_kp1', shape: [kp1.length, 2], values: kp1.flat() },
    { name: 'match_confidences', shape: [confidences.length], values: confidences },
  ];
}

export function float32Le(values: number[]): Buffer {
  const buf = Buffer.alloc(values.length * 4);
  values.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf;
}

export interface RawAnswer {
  status?: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Plain JSON, `data` flat unless `nest` reshapes it (KServe allows nested arrays matching the shape). */
export function jsonAnswer(outputs: OutputSpec[], nest?: (values: number[], shape: number[]) => unknown): RawAnswer {
  const body = {
    model_name: 'omniglue_ensemble',
    outputs: outputs.map((o) => ({ name: o.name, datatype: o.datatype ?? 'FP32', shape: o.shape, data: nest ? nest(o.values, o.shape) : o.values })),
  };
  // NaN and Infinity are not JSON: they can only come over the binary protocol.
  return { headers: { 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) };
}

/** The binary tensor extension: JSON header, then each output's float32 bytes. */
export function binaryAnswer(outputs: OutputSpec[]): RawAnswer {
  const chunks = outputs.map((o) => float32Le(o.values));
  const header = Buffer.from(JSON.stringify({
    model_name: 'omniglue_ensemble',
    outputs: outputs.map((o, i) => ({ name: o.name, datatype: o.datatype ?? 'FP32', shape: o.shape, parameters: { binary_data_size: chunks[i]!.length } })),
  }));
  return {
    headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(header.length) },
    body: Buffer.concat([header, ...chunks]),
  };
}

/** `[[[...[]...]]]` nested `depth` deep, as text (JSON.stringify would recurse). */
export function nestedArrayText(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** A JSON answer whose first output's `data` is `dataText` verbatim. */
export function jsonAnswerWithData(dataText: string): RawAnswer {
  const text = `{"outputs":[{"name":"matches_kp0","datatype":"FP32","shape":[1,2],"data":${dataText}}]}`;
  return { headers: { 'Content-Type': 'application/json' }, body: Buffer.from(text) };
}

export type Encoding = 'gzip' | 'br' | 'deflate';

export function compress(body: Buffer, encoding: Encoding): Buffer {
  if (encoding === 'gzip') return zlib.gzipSync(body);
  if (encoding === 'br') return zlib.brotliCompressSync(body);
  return zlib.deflateSync(body);
}

/**
 * About `wireBytes` of gzip that inflates to `wireBytes` x ~1000: concatenated gzip members of zeros (a valid gzip
 * stream, RFC 1952 section 2.2), built from one member so it costs nothing to make.
 */
export function gzipBomb(inflatedBytes: number): Buffer {
  const member = zlib.gzipSync(Buffer.alloc(16 * 2 ** 20));
  return Buffer.concat(Array.from({ length: Math.ceil(inflatedBytes / (16 * 2 ** 20)) }, () => member));
}

/** The answer under a Content-Encoding, with another body: its compressed form, a bomb or garbage. */
export function withEncoding(answer: RawAnswer, encoding: string, body: Buffer): RawAnswer {
  return { ...answer, headers: { ...answer.headers, 'Content-Encoding': encoding }, body };
}
