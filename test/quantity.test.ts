import fc from 'fast-check';
import { canonicalQuantity, isCanonicalQuantity, QuantityError } from '../lib/quantity';
import { resourcesOfType, synthesize } from './support/synth';

/** Exact value of a quantity string as a fraction, computed from the grammar in quantity.go's doc comment. */
function exactValue(text: string): { numerator: bigint; denominator: bigint } {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(.*)$/.exec(text)!;
  const [, sign, integer, fraction = '', suffix] = match;
  let numerator = BigInt(`${integer}${fraction}` || '0') * (sign === '-' ? -1n : 1n);
  let denominator = 10n ** BigInt(fraction.length);
  const binary: Record<string, bigint> = { Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n };
  const decimal: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
  const power = suffix in decimal ? decimal[suffix] : /^[eE]/.test(suffix) ? Number(suffix.slice(1)) : undefined;
  if (suffix in binary) numerator *= binary[suffix];
  else if (power! >= 0) numerator *= 10n ** BigInt(power!);
  else denominator *= 10n ** BigInt(-power!);
  return { numerator, denominator };
}
const sameValue = (a: string, b: string) => {
  const [x, y] = [exactValue(a), exactValue(b)];
  return x.numerator * y.denominator === y.numerator * x.denominator;
};

describe('canonicalQuantity', () => {
  // Expected strings from kubernetes/apimachinery v0.28.6 pkg/api/resource: quantity.go's doc comment and
  // quantity_test.go (TestQuantityParseEmit), plus the HPA value the provider reads back as "1".
  test.each([
    ['1000m', '1'],
    ['1.5', '1500m'],
    ['1.5Gi', '1536Mi'],
    ['1024Mi', '1Gi'],
    ['2048Mi', '2Gi'],
    ['1000M', '1G'],
    ['.001Ki', '1024m'],
    ['.000001Ki', '1024u'],
    ['.000000001Ki', '1024n'],
    ['.000000000001Ki', '2n'],
    ['0.1m', '100u'],
    ['0.0000001m', '1n'],
    ['70', '70'],
    ['100', '100'],
    ['1000', '1k'],
    ['0', '0'],
    ['-0', '0'],
    ['-1.5Gi', '-1536Mi'],
    ['1e3', '1e3'],
    ['1000e0', '1e3'],
    ['1Gi', '1Gi'],
    ['50Gi', '50Gi'],
    ['9000000Ti', '9223372036854775807'],
  ])('%s is written back as %s', (input, canonical) => {
    expect(canonicalQuantity(input)).toBe(canonical);
  });

  test('keeps a string ParseQuantity accepts as already canonical, as the API server does', () => {
    expect(canonicalQuantity('+1')).toBe('+1');
    expect(canonicalQuantity('01')).toBe('01');
    expect(canonicalQuantity('5.')).toBe('5.');
  });

  test.each([
    ['', /'' is not a Kubernetes quantity/],
    ['1.5x', /'1\.5x' is not a Kubernetes quantity \(it must match/],
    ['1K', /'1K' is not a Kubernetes quantity: unknown suffix 'K' \(allowed: n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or e<exponent>\)/],
    ['1e99999999999999999999', /'1e99999999999999999999' is not a Kubernetes quantity: its exponent is out of range/],
    [' 1', /' 1' is not a Kubernetes quantity/],
  ])('refuses %j', (input, message) => {
    expect(() => canonicalQuantity(input)).toThrow(QuantityError);
    expect(() => canonicalQuantity(input)).toThrow(message);
    expect(isCanonicalQuantity(input)).toBe(false);
  });

  const quantityText = fc
    .tuple(
      fc.constantFrom('', '-'),
      fc.stringMatching(/^\d{1,6}$/),
      fc.option(fc.stringMatching(/^\d{0,3}$/), { nil: undefined }),
      fc.constantFrom('', 'm', 'k', 'M', 'G', 'T', 'Ki', 'Mi', 'Gi', 'Ti', 'e3', 'e-3', 'e6', 'E0'),
    )
    .map(([sign, integer, fraction, suffix]) => `${sign}${integer}${fraction === undefined ? '' : `.${fraction}`}${suffix}`);

  test('is a fixed point: what the API server writes back reads back the same', () => {
    fc.assert(fc.property(quantityText, (text) => canonicalQuantity(canonicalQuantity(text)) === canonicalQuantity(text)));
  });

  test('loses no value within nanounit precision and the int64 cap of binary quantities', () => {
    fc.assert(fc.property(quantityText, (text) => sameValue(canonicalQuantity(text), text)));
  });

  test('emits no fractional digits unless it keeps the input', () => {
    fc.assert(fc.property(quantityText, (text) => canonicalQuantity(text) === text || !canonicalQuantity(text).includes('.')));
  });
});

// Every resource type the stacks write, with its quantity fields and how hashicorp/kubernetes v2.38.0 compares them.
// By value: the field has DiffSuppressFunc suppressEquivalentResourceQuantity (kubernetes/diff_supress_funcs.go).
// As text: it has none, so only the API server's canonical form is stable.
const QUANTITY_FIELDS_BY_TYPE: Record<string, string> = {
  kubernetes_horizontal_pod_autoscaler_v2: 'metric targets average_value, value: as text (schema_horizontal_pod_autoscaler.go metricTargetFields)',
  kubernetes_deployment_v1: 'container resources: by value (schema_container.go resourcesFieldV1); emptyDir size_limit: by value (schema_pod_spec.go)',
  kubernetes_job_v1: 'container resources: by value (schema_container.go resourcesFieldV1); emptyDir size_limit: by value (schema_pod_spec.go)',
  kubernetes_persistent_volume_claim_v1: 'spec.resources requests, limits: by value (schema_persistent_volume_claim.go)',
  kubernetes_pod_disruption_budget_v1: 'none (min_available/max_unavailable are int-or-percent, not quantities)',
  kubernetes_config_map_v1: 'none',
  kubernetes_namespace_v1: 'none',
  kubernetes_network_policy_v1: 'none',
  kubernetes_service_account_v1: 'none',
  kubernetes_service_v1: 'none',
  helm_release: 'none read back from the cluster (values are compared as given)',
};

function hpaTargetQuantities(hpa: any): string[] {
  const values: string[] = [];
  for (const metric of hpa.spec.metric ?? []) {
    for (const source of ['pods', 'object', 'external', 'resource', 'container_resource']) {
      const target = metric[source]?.target;
      for (const field of ['average_value', 'value']) if (typeof target?.[field] === 'string') values.push(target[field]);
    }
  }
  return values;
}

describe('quantities the provider compares as text', () => {
  test('every resource type the stacks write has had its quantity fields reviewed against the provider schema', () => {
    const { platform, serving } = synthesize();
    const types = [...Object.keys(platform.resource), ...Object.keys(serving.resource)];
    expect(types.filter((type) => !(type in QUANTITY_FIELDS_BY_TYPE))).toEqual([]);
    const textCompared = Object.entries(QUANTITY_FIELDS_BY_TYPE).filter(([, fields]) => fields.includes('as text'));
    expect(textCompared.map(([type]) => type)).toEqual(['kubernetes_horizontal_pod_autoscaler_v2']);
  });

  test.each([
    ['the default configuration', {}, ['70', '1']],
    ['a fractional queue target', { autoscaling: { queueToComputeRatio: { target: '1.5' }, gpuUtilizationTargetPercent: 99 } }, ['99', '1500m']],
  ])('are written in canonical form with %s', (_, config, expected) => {
    const hpas = Object.values(resourcesOfType(synthesize(config).serving, 'kubernetes_horizontal_pod_autoscaler_v2'));
    expect(hpas).toHaveLength(1);
    const quantities = hpas.flatMap(hpaTargetQuantities);
    expect(quantities).toEqual(expected);
    for (const quantity of quantities) expect(canonicalQuantity(quantity)).toBe(quantity);
  });

  test('a target Kubernetes would refuse is a configuration error naming the setting', () => {
    expect(() => synthesize({ autoscaling: { queueToComputeRatio: { target: '1e99999999999999999999' } } }).serving).toThrow(
      /autoscaling\.queueToComputeRatio\.target: must be a ratio such as '1000m'/,
    );
  });
});
