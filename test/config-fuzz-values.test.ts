import fc from 'fast-check';
import { ConfigError, parseConfig, parseConfigDocument } from '../config/load';
import { Json } from '../lib/deep-merge';
import {
  isAcceptableUrl,
  isControlFree,
  isImageRepository,
  isLabelKey,
  isLabelValue,
  isS3Bucket,
  isTag,
  UrlShape,
  urlText,
} from './support/value-oracles';

// Each kind of value, generated part by part around the limits of its grammar, must be accepted exactly when an
// independent reading of the rules (test/support/value-oracles.ts) says the cluster or the cloud accepts it: no
// crash, nothing accepted that would be refused downstream, nothing refused that is valid. FUZZ_RUNS scales every
// property; FUZZ_REPORT=1 prints the counts.
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 20261211);
const counts: Record<string, { accepted: number; refused: number }> = {};

/** Whether the configuration is accepted; a throw other than a ConfigError is a crash and fails the property. */
function accepts(kind: string, input: unknown): boolean {
  counts[kind] ??= { accepted: 0, refused: 0 };
  try {
    parseConfig(input);
    counts[kind].accepted += 1;
    return true;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    counts[kind].refused += 1;
    return false;
  }
}

afterAll(() => {
  if (process.env.FUZZ_REPORT) console.log(JSON.stringify(counts));
});

const chars = (alphabet: string, maxLength: number) => fc.array(fc.constantFrom(...alphabet), { maxLength }).map((a) => a.join(''));
/** Lengths that sit on either side of the limits (63, 253, 255) far more often than chance would. */
const around = (...limits: number[]) => fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constantFrom(...limits.flatMap((n) => [n - 1, n, n + 1])));
const stretched = (text: fc.Arbitrary<string>, lengths: fc.Arbitrary<number>) =>
  fc.tuple(text, lengths, fc.constantFrom('a', 'Z', '9')).map(([t, n, fill]) => (t.length >= n ? t.slice(0, n) : t + fill.repeat(n - t.length)));

const LABEL_CHARS = 'abcxyzABZ0189-_.';
const DNS_CHARS = 'abz09-.';
const namePart = stretched(chars(LABEL_CHARS, 8), around(63));
const dnsLabel = stretched(chars(DNS_CHARS.replace('.', ''), 6), around(63));
const prefix = fc.oneof(fc.constant(''), fc.array(dnsLabel, { minLength: 1, maxLength: 5 }).map((labels) => labels.join('.')), stretched(chars(DNS_CHARS, 8), around(253)));
const labelKey = fc.oneof(
  namePart,
  fc.tuple(prefix, namePart).map(([p, n]) => `${p}/${n}`),
  fc.tuple(prefix, namePart, namePart).map(([p, a, b]) => `${p}/${a}/${b}`),
);

describe('label keys, part by part', () => {
  test('accepted exactly when Kubernetes accepts them, in every setting that holds one', () => {
    fc.assert(
      fc.property(labelKey, (key) => {
        expect([key, accepts('label key', { gpu: { nodeLabel: { key } } })]).toEqual([key, isLabelKey(key)]);
        expect([key, accepts('label key (map)', { monitoring: { ruleLabels: { [key]: 'x' } } })]).toEqual([key, isLabelKey(key) && key !== '__proto__']);
      }),
      { numRuns: RUNS, seed: SEED, examples: [[`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}/${'n'.repeat(63)}`]] },
    );
  });

  test('label values too', () => {
    fc.assert(
      fc.property(fc.oneof(namePart, chars(`${LABEL_CHARS} /`, 10)), (value) => {
        expect([value, accepts('label value', { monitoring: { ruleLabels: { team: value } } })]).toEqual([value, isLabelValue(value)]);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});

describe('image references', () => {
  const component = fc
    .tuple(chars('az09', 3), fc.constantFrom('', '.', '_', '__', '___', '-', '---', '..', '/'), fc.oneof({ weight: 4, arbitrary: chars('az09', 3) }, { weight: 1, arbitrary: chars('azA09', 3) }))
    .map(([a, s, b]) => `${a}${s}${b}`);
  const registry = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('', 'nvcr.io/', 'NVCR.io/', 'localhost:5000/', '[::1]:5000/', '10.0.0.1:0/') },
    { weight: 1, arbitrary: fc.constantFrom('[::1/', 'reg-.io/', 'reg_x.io/', 'a:/') },
  );
  const repository = fc.oneof(
    fc.tuple(registry, fc.array(component, { minLength: 1, maxLength: 3 })).map(([r, parts]) => `${r}${parts.join('/')}`),
    fc.tuple(registry, stretched(chars('az09', 4), around(255))).map(([r, p]) => `${r}${p}`),
  );

  test('repositories follow the distribution/reference grammar', () => {
    fc.assert(
      fc.property(repository, (text) => {
        expect([text, accepts('image repository', { triton: { imageRepository: text } })]).toEqual([text, isImageRepository(text)]);
      }),
      { numRuns: RUNS, seed: SEED, examples: [['a__b/c'], ['a--b/c'], ['[::1]:5000/x']] },
    );
  });

  test('a full reference needs a valid repository and a pinned tag or a sha256 digest', () => {
    const tag = fc.oneof(chars('aZ09_.-', 6), fc.constantFrom('latest', 'LATEST', '_x', '-x', '.x'), stretched(chars('a9', 2), around(128)));
    const digest = fc.constantFrom(undefined, `sha256:${'ab'.repeat(32)}`, `sha256:${'AB'.repeat(32)}`, 'sha256:abc');
    fc.assert(
      fc.property(repository, fc.option(tag), digest, (repo, t, d) => {
        const text = `${repo}${t === null ? '' : `:${t}`}${d === undefined ? '' : `@${d}`}`;
        const pinned = d === undefined ? t !== null && isTag(t) && t.toLowerCase() !== 'latest' : /^sha256:[0-9a-f]{64}$/.test(d) && (t === null || isTag(t));
        expect([text, accepts('image reference', { conversion: { image: text } })]).toEqual([text, isImageRepository(repo) && pinned]);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});

describe('URLs', () => {
  // Each part is mostly valid, so that whole URLs are accepted often enough to prove acceptance too.
  const mostly = <T>(valid: readonly T[], invalid: readonly T[]) =>
    fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom(...invalid) });
  const shape: fc.Arbitrary<UrlShape> = fc.record({
    scheme: mostly(['http', 'https', 'HTTP', 'oci', 'file'], ['ftp', 'gs']),
    userinfo: mostly([''], ['user@', 'user:secret@', '@', ':p@']),
    host: mostly<[string, boolean]>([['prometheus', true], ['prometheus.obs.svc', true], ['10.0.0.1', true], ['[::1]', true], ['[fd00::1]', true]], [['', true], ['[::1', false], ['[::g]', false], ['a b', false]]),
    port: mostly(['', '9090', '1', '65535', '0080'], ['0', '00', '65536', '99999', 'x']),
    path: mostly(['', '/', '/api', '/prom/x'], ['/a\\b']),
    query: mostly([''], ['?tenant=a', '?', '#frag', '?a=b#c']),
  });
  const control = fc.integer({ min: 0, max: 0x9f }).filter((code) => code < 0x20 || code >= 0x7f);
  const withControl = fc.tuple(shape, fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: control })).map(([u, code]) =>
    code === null ? u : { ...u, path: `${u.path}${String.fromCharCode(code)}x` },
  );
  const kinds: [string, (text: string) => object, readonly string[], boolean][] = [
    ['Prometheus URL', (text) => ({ monitoring: { installKubePrometheusStack: false, existingPrometheusUrl: text } }), ['http', 'https'], false],
    ['chart repository URL', (text) => ({ chartRepositories: { prometheusCommunity: text } }), ['http', 'https', 'oci'], true],
    ['weights URL', (text) => ({ conversion: { weights: { dinov2: { url: text } } } }), ['http', 'https', 'file'], true],
  ];

  test.each(kinds)('a %s is accepted exactly when it parses, names a host and a real port, and carries nothing the setting cannot pass on', (kind, setting, schemes, query) => {
    fc.assert(
      fc.property(withControl, (u) => {
        const text = urlText(u);
        const expected = isAcceptableUrl(u, schemes, query) && !text.includes('\\');
        expect([text, accepts(kind, setting(text))]).toEqual([text, expected]);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});

describe('free text', () => {
  const settings: [string, (text: string) => object][] = [
    ['extraEnv value', (text) => ({ conversion: { extraEnv: { NO_PROXY: text } } })],
    ['kubeconfig path', (text) => ({ kubernetes: { configPath: text } })],
    ['kubeconfig context', (text) => ({ kubernetes: { configContext: text } })],
    ['HCP project', (text) => ({ state: { backend: 'cloud', organization: 'acme', project: text } })],
  ];
  const text = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), fc.tuple(fc.string({ minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 0x9f })).map(([t, c]) => `${t}${String.fromCharCode(c)}`));

  test.each(settings)('a %s is accepted exactly when it holds no control character', (kind, setting) => {
    fc.assert(
      fc.property(text, (value) => {
        expect([value, accepts(kind, setting(value))]).toEqual([value, isControlFree(value)]);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});

describe('"__proto__" keys', () => {
  const places = ['conversion.extraEnv', 'monitoring.ruleLabels', 'monitoring.podMonitorLabels', 'triton', 'conversion.weights', ''] as const;
  test('are refused wherever they are written, in the base or an overlay, never silently dropped', () => {
    fc.assert(
      fc.property(fc.constantFrom(...places), fc.boolean(), fc.constantFrom('"x"', '{}', '1'), (place, inOverlay, value) => {
        const inner = place === '' ? `{"__proto__": ${value}}` : place.split('.').reduceRight((body, key) => `{"${key}": ${body}}`, `{"__proto__": ${value}}`);
        const text = inOverlay ? `{"environments": {"prod": ${inner}}}` : inner;
        counts['prototype key'] ??= { accepted: 0, refused: 0 };
        let refused = false;
        try {
          parseConfigDocument(JSON.parse(text) as Json, 'fuzz.json');
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          refused = /__proto__/.test(error.message);
        }
        counts['prototype key'][refused ? 'refused' : 'accepted'] += 1;
        expect([text, refused]).toEqual([text, true]);
      }),
      { numRuns: Math.min(RUNS, 200), seed: SEED },
    );
  });
});

describe('cloud names', () => {
  const bucket = fc.oneof(
    stretched(chars('abz09.-', 10), around(3, 63)),
    fc.constantFrom('192.168.5.4', 'xn--a1b', 'sthree-x', 'amzn-s3-demo-x', 'a-s3alias', 'a--ol-s3', 'a.mrap', 'a--x-s3', 'a--table-s3', 'A-b'),
  );
  test('S3 buckets follow the S3 naming rules', () => {
    fc.assert(
      fc.property(bucket, (name) => {
        expect([name, accepts('S3 bucket', { state: { backend: 's3', region: 'eu-west-1', bucket: name } })]).toEqual([name, isS3Bucket(name)]);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
