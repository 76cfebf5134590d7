/**
 * lib/triton-model-config.proto is a subset of Triton's own model_config.proto: every message, field and enum value
 * it declares must exist upstream with the same number and type, so a config.pbtxt that parses here also parses in
 * Triton. The reference is test/fixtures/triton-model-config-fields.json, the names, numbers and types of
 * triton-inference-server/common protobuf/model_config.proto (commit in its `source`), written by
 * tools/triton_schema_manifest.py from the upstream file.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as protobuf from 'protobufjs';
import { REPOSITORY_ROOT } from '../lib/paths';

interface UpstreamField {
  number: number;
  type: string;
  repeated: boolean;
}
const upstream: { source: Record<string, string>; messages: Record<string, Record<string, UpstreamField>>; enums: Record<string, Record<string, number>> } =
  JSON.parse(fs.readFileSync(path.join(REPOSITORY_ROOT, 'test', 'fixtures', 'triton-model-config-fields.json'), 'utf8'));
// keepCase: the field names as written (protobufjs camel-cases them by default).
const subset = new protobuf.Root().loadSync(path.join(REPOSITORY_ROOT, 'lib', 'triton-model-config.proto'), { keepCase: true }).resolveAll();

function declared(namespace: protobuf.NamespaceBase): protobuf.ReflectionObject[] {
  return namespace.nestedArray.flatMap((nested) => [nested, ...(nested instanceof protobuf.Namespace ? declared(nested) : [])]);
}
const fullName = (object: protobuf.ReflectionObject) => object.fullName.replace(/^\./, '');

/** Every difference between one subset message and its upstream namesake. */
function messageProblems(message: protobuf.Type): string[] {
  const name = fullName(message);
  const reference = upstream.messages[name];
  if (reference === undefined) return [`message ${name} is not in Triton's model_config.proto`];
  return message.fieldsArray.flatMap((field) => {
    const where = `${name}.${field.name}`;
    const expected = reference[field.name];
    if (expected === undefined) return [`${where} is not a field of Triton's ${name}`];
    const problems: string[] = [];
    if (field.id !== expected.number) problems.push(`${where} is field ${field.id}, Triton's is ${expected.number}`);
    if (field instanceof protobuf.MapField) {
      // Upstream, a map is a repeated entry message.
      if (!expected.repeated || !expected.type.endsWith('Entry')) problems.push(`${where} is a map, Triton's is not`);
      return problems;
    }
    const type = field.resolvedType ? fullName(field.resolvedType) : field.type;
    if (type !== expected.type) problems.push(`${where} has type ${type}, Triton's ${expected.type}`);
    if (field.repeated !== expected.repeated) problems.push(`${where} is ${field.repeated ? '' : 'not '}repeated, Triton's is ${expected.repeated ? '' : 'not '}`);
    return problems;
  });
}

function enumProblems(enumeration: protobuf.Enum): string[] {
  const reference = upstream.enums[fullName(enumeration)];
  if (reference === undefined) return [`enum ${fullName(enumeration)} is not in Triton's model_config.proto`];
  return Object.entries(enumeration.values)
    .filter(([name, value]) => reference[name] !== value)
    .map(([name, value]) => `${fullName(enumeration)}.${name} = ${value}, Triton's is ${reference[name] ?? 'absent'}`);
}

describe('the model-config schema subset against Triton\'s model_config.proto', () => {
  const objects = declared(subset);

  test('declares only messages, fields and enum values Triton has, with its numbers and types', () => {
    const problems = objects.flatMap((object) =>
      object instanceof protobuf.Type ? messageProblems(object) : object instanceof protobuf.Enum ? enumProblems(object) : [],
    );
    expect(problems).toEqual([]);
    expect(objects.filter((object) => object instanceof protobuf.Type).length).toBeGreaterThan(15);
    expect(upstream.source).toEqual({ repository: 'triton-inference-server/common', commit: expect.stringMatching(/^[0-9a-f]{40}$/), path: 'protobuf/model_config.proto' });
  });

  test('a field Triton does not have, or a wrong number, is reported', () => {
    const doctored = protobuf.parse('syntax = "proto3"; package inference; message ModelMetrics { repeated string metric_controls = 1; } message ModelWarmup { uint32 batch_size = 3; }', { keepCase: true }).root.resolveAll();
    const problems = declared(doctored).flatMap((object) => (object instanceof protobuf.Type ? messageProblems(object) : []));
    expect(problems).toEqual([
      'inference.ModelMetrics.metric_controls is not a field of Triton\'s inference.ModelMetrics',
      'inference.ModelWarmup.batch_size is field 3, Triton\'s is 2',
    ]);
  });
});
