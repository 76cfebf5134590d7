import fc from 'fast-check';
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { deepMerge, Json } from '../lib/deep-merge';
import { helmValues, singleValuesDocument } from '../lib/helm-values';
import { resourcesOfType, synthesize } from './support/synth';

const key = fc.constantFrom('a', 'b', 'image', 'tolerations', 'rules', 'x.y', 'with space', '1');
const scalar = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 8 }), fc.constantFrom('true', '1.0', 'null', '~', 'yes', '#x'));
const { values } = fc.letrec<{ values: Record<string, Json>; value: Json }>((tie) => ({
  values: fc.dictionary(key, tie('value'), { maxKeys: 4 }) as fc.Arbitrary<Record<string, Json>>,
  value: fc.oneof({ depthSize: 'small' }, scalar, tie('values'), fc.array(tie('value'), { maxLength: 3 })) as fc.Arbitrary<Json>,
}));

describe('singleValuesDocument', () => {
  test('holds what Helm gets from the values files in order (maps merged key by key, the rest replaced)', () => {
    fc.assert(
      fc.property(values, fc.array(values, { minLength: 1, maxLength: 3 }), (base, overlays) => {
        const [document] = singleValuesDocument([helmValues(base), ...overlays.map((overlay) => helmValues(overlay))]);
        expect(parse(document) ?? {}).toEqual([base, ...overlays].reduce<Json>(deepMerge, {}));
      }),
      { numRuns: 50 },
    );
  });

  test('keeps the comments of the first document, where a reviewer reads why a value is set', () => {
    const [document] = singleValuesDocument(['# chart defaults\nresources:\n  # the plugin is small\n  requests:\n    cpu: 50m\n', helmValues({ resources: { limits: { memory: '256Mi' } } })]);
    expect(document).toBe('# chart defaults\nresources:\n  # the plugin is small\n  requests:\n    cpu: 50m\n  limits:\n    memory: 256Mi\n');
  });

  test.each([
    [['a: [1\n'], /Helm values are not valid YAML/],
    [['- a\n', 'b: 1\n'], /Helm values must be a map at the top level, got: - a/],
    [['a: 1\n', '- b\n'], /Helm values must be a map at the top level, got: - b/],
  ])('refuses %j', (documents, message) => {
    expect(() => singleValuesDocument(documents)).toThrow(message);
  });

  test.each([
    ['nvidia-device-plugin', 'nvidia-device-plugin'],
    ['prometheus_release', 'kube-prometheus-stack'],
    ['prometheus-adapter', 'prometheus-adapter'],
  ])('the %s release gets one document: its base values file with the stack’s settings merged in', (release, chartDirectory) => {
    const [name, resource] = Object.entries<any>(resourcesOfType(synthesize().platform, 'helm_release')).find(([logicalName]) => logicalName.startsWith(release))!;
    expect(resource.values).toHaveLength(1);
    const base = fs.readFileSync(path.resolve(__dirname, '..', 'charts', chartDirectory, 'values.yaml'), 'utf8');
    expect([name, resource.values[0].startsWith(base.split('\n')[0])]).toEqual([name, true]);
    expect(parse(resource.values[0])).toEqual(deepMerge(parse(base), parse(resource.values[0])));
  });
});
