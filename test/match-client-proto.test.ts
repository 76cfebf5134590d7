/**
 * The vendored Triton protos (scripts/match/proto/) are what their README says they are, and what the client reads
 * from them matches tritonclient's layout.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as protobuf from 'protobufjs';
import { decodeGrpcInferResponse, encodeGrpcInferRequest, encodeMessage, PROTO_DIR, rpc, tritonProto } from '../scripts/match/grpc-protocol';
import { ROOT } from './support/match-harness';

const readme = readFileSync(join(PROTO_DIR, 'README.md'), 'utf8');
const rows = [...readme.matchAll(/^\| `([\w.]+\.proto)` \| ([\w/-]+) \| ([0-9a-f]{40}) \| ([\w/.]+) \| ([\w.-]+) \| ([0-9a-f]{64}) \|$/gm)];
const manifest = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'triton-model-config-fields.json'), 'utf8')) as {
  source: { commit: string; repository: string };
  messages: Record<string, Record<string, { number: number; repeated: boolean }>>;
};

describe('the vendored protos', () => {
  test('are exactly the files the README lists, with their hashes, from triton-inference-server/common under BSD-3-Clause', () => {
    expect(rows.map((r) => r[1]).sort()).toEqual(readdirSync(PROTO_DIR).filter((f) => f.endsWith('.proto')).sort());
    for (const [, file, repository, commit, path, licence, sha256] of rows) {
      const text = readFileSync(join(PROTO_DIR, file!));
      expect({ file, sha256: createHash('sha256').update(text).digest('hex') }).toEqual({ file, sha256 });
      expect([repository, path, licence]).toEqual(['triton-inference-server/common', `protobuf/${file}`, 'BSD-3-Clause']);
      expect(commit).toBe(manifest.source.commit);
      expect(text.toString('utf8')).toContain('Redistribution and use in source and binary forms');
    }
  });

  test('model_config.proto declares exactly the messages and fields of the manifest lib/triton-model-config.proto is checked against', () => {
    const root = new protobuf.Root().loadSync(join(PROTO_DIR, 'model_config.proto'), { keepCase: true });
    root.resolveAll();
    const found: Record<string, Record<string, { number: number; repeated: boolean }>> = {};
    const walk = (ns: protobuf.NamespaceBase) => {
      for (const nested of ns.nestedArray) {
        if (nested instanceof protobuf.Type) {
          found[nested.fullName.slice(1)] = Object.fromEntries(nested.fieldsArray.map((f) => [f.name, { number: f.id, repeated: f.repeated || f instanceof protobuf.MapField }]));
        }
        if (nested instanceof protobuf.Namespace) walk(nested);
      }
    };
    walk(root);
    const strip = (m: typeof found) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([f, d]) => [f, { number: d.number, repeated: d.repeated }]))]));
    expect(strip(found)).toEqual(strip(manifest.messages));
  });

  test('GRPCInferenceService has the RPCs the client calls, with their message types', () => {
    expect(['ServerReady', 'ModelReady', 'ModelInfer'].map((name) => {
      const r = rpc(name);
      return [r.path, r.requestType.name, r.responseType.name];
    })).toEqual([
      ['/inference.GRPCInferenceService/ServerReady', 'ServerReadyRequest', 'ServerReadyResponse'],
      ['/inference.GRPCInferenceService/ModelReady', 'ModelReadyRequest', 'ModelReadyResponse'],
      ['/inference.GRPCInferenceService/ModelInfer', 'ModelInferRequest', 'ModelInferResponse'],
    ]);
    expect(() => rpc('ModelTrain')).toThrow('inference.GRPCInferenceService has no RPC ModelTrain');
    expect(() => encodeMessage(rpc('ModelReady').requestType, { name: 7 })).toThrow('ModelReadyRequest: name: string expected');
  });
});

describe('the request and response layout', () => {
  test('a request carries the pixels as raw_input_contents, one per input in order, and names the outputs', () => {
    const data = [Buffer.from([1, 2, 3, 4, 5, 6]), Buffer.from([7, 8, 9])];
    const bytes = encodeGrpcInferRequest('omniglue_ensemble', [
      { name: 'image0', datatype: 'UINT8', shape: [1, 2, 3], data: data[0]! },
      { name: 'image1', datatype: 'UINT8', shape: [1, 1, 3], data: data[1]! },
    ], ['matches_kp0']);
    const type = tritonProto().lookupType('inference.ModelInferRequest');
    const request = type.toObject(type.decode(bytes), { longs: Number, bytes: Buffer });
    expect(request).toEqual({
      model_name: 'omniglue_ensemble',
      inputs: [{ name: 'image0', datatype: 'UINT8', shape: [1, 2, 3] }, { name: 'image1', datatype: 'UINT8', shape: [1, 1, 3] }],
      outputs: [{ name: 'matches_kp0' }],
      raw_input_contents: data,
    });
  });

  test('typed fp32_contents are read when no raw contents came, and int64 dimensions beyond 2^53 are refused', () => {
    const type = tritonProto().lookupType('inference.ModelInferResponse');
    const encode = (fields: Record<string, unknown>) => type.encode(type.fromObject(fields)).finish();
    expect(decodeGrpcInferResponse(encode({ outputs: [{ name: 'c', datatype: 'FP32', shape: [2], contents: { fp32_contents: [0.5, 0.25] } }] })))
      .toEqual([{ name: 'c', datatype: 'FP32', shape: [2], values: [0.5, 0.25] }]);
    expect(() => decodeGrpcInferResponse(encode({ outputs: [{ name: 'c', datatype: 'FP32', shape: ['9007199254740993'] }] })))
      .toThrow("output 'c' has a shape dimension 9007199254740993, not a size");
    expect(() => decodeGrpcInferResponse(encode({ outputs: [{ name: 'c', datatype: 'FP32', shape: [-1] }] })))
      .toThrow("output 'c' has a shape dimension -1, not a size");
    expect(() => decodeGrpcInferResponse(encode({ outputs: [{ name: '', datatype: 'FP32', shape: [1] }] })))
      .toThrow('output "" lacks a name or a datatype');
  });
});
