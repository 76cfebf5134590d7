import fc from 'fast-check';
import * as fs from 'fs';
import * as path from 'path';
import { cdktfHeredoc, exactHclString, rewriteHeredocs, rewriteQuotedStrings } from '../lib/hcl-output';
import { App, TerraformStack, Testing } from 'cdktf';
import { parseConfig } from '../config/load';
import { OmniglueConfigInput } from '../config/schema';
import { configureStateBackend } from '../stacks/backend';
import { closeHclParser, parseHcl, renderHcl, renderJson } from './support/hcl';
import { synthesize } from './support/synth';

afterAll(() => closeHclParser());

/**
 * The only differences between cdk.tf (parsed back) and cdk.tf.json that the comparison accepts, because Terraform
 * reads both sides the same way. Anything else fails the test.
 */
const EQUIVALENCES = {
  comment:
    '`//` properties are cdktf metadata (construct paths) in cdk.tf.json only; Terraform reads a `//` property as a comment ' +
    '(Terraform docs, JSON Configuration Syntax, "Comment Properties"). The HCL output keeps that metadata in metadata.json.',
  singleBlock:
    'one block written as a JSON object against hcl2json\'s list of one block: Terraform\'s JSON syntax takes an object ' +
    '(one block) or an array of objects (several blocks) for a block type. Accepted only where cdk.tf declares that name as a block.',
} as const;

interface Comparison {
  differences: string[];
  equivalences: Record<keyof typeof EQUIVALENCES, number>;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const show = (value: unknown) => (JSON.stringify(value) ?? 'undefined').slice(0, 200);
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** True when `name` opens a block in the HCL text, as a block type (`name {`) or as a block label (`x "name" {`). */
function declaredAsBlock(hcl: string, name: string): boolean {
  const key = escapeRegExp(name);
  return new RegExp(`^\\s*("?)${key}\\1(\\s+"[^"\\n]*")*\\s*\\{\\s*$`, 'm').test(hcl) || new RegExp(`^\\s*[\\w-]+(\\s+"[^"\\n]*")*\\s+"${key}"(\\s+"[^"\\n]*")*\\s*\\{\\s*$`, 'm').test(hcl);
}

function compare(json: unknown, hcl: unknown, hclText: string): Comparison {
  const result: Comparison = { differences: [], equivalences: { comment: 0, singleBlock: 0 } };
  const walk = (a: unknown, b: unknown, at: string, name: string) => {
    if (isObject(a) && Array.isArray(b) && b.length === 1 && isObject(b[0]) && declaredAsBlock(hclText, name)) {
      result.equivalences.singleBlock++;
      return walk(a, b[0], `${at}[0]`, name);
    }
    if (isObject(a) && isObject(b)) {
      if ('//' in a) result.equivalences.comment++;
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) if (key !== '//') walk(a[key], b[key], `${at}.${key}`, key);
      return;
    }
    if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
      a.forEach((item, index) => walk(item, b[index], `${at}[${index}]`, name));
      return;
    }
    if (a !== b) result.differences.push(`${at}: JSON ${show(a)} | HCL ${show(b)}`);
  };
  walk(json, hcl, '', '');
  return result;
}

const example = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'omniglue.config.example.json'), 'utf8'));
delete example.$schema;
delete example.environments;
// Free text a user may give, with what HCL escapes: backslashes and quotes. (A tab, a control character, is refused
// by the configuration; the exact HCL strings below still cover it.)
example.conversion.extraEnv = { ...example.conversion.extraEnv, PIP_INDEX_URL: 'https://pypi.internal/simple', DOMAIN_USER: 'CORP\\svc-"omniglue" x\\' };
const CONFIGURATIONS = { default: {}, example } as const;
const STACKS = ['platform', 'serving'] as const;

describe('HCL output parsed back with an independent HCL parser (@cdktf/hcl2json)', () => {
  const cases = Object.entries(CONFIGURATIONS).flatMap(([configuration, input]) => STACKS.map((stack) => ({ configuration, input, stack })));
  const json = new Map<string, any>();
  const hcl = new Map<string, { text: string; parsed: any }>();
  const key = (configuration: string, stack: string) => `${configuration}/${stack}`;

  beforeAll(async () => {
    const texts: string[] = [];
    for (const { configuration, input, stack } of cases) {
      const { stacks } = synthesize(input);
      json.set(key(configuration, stack), renderJson(stacks[stack]));
      texts.push(renderHcl(stacks[stack]));
    }
    const parsed = await parseHcl(texts);
    cases.forEach(({ configuration, stack }, index) => hcl.set(key(configuration, stack), { text: texts[index], parsed: parsed[index] }));
  });

  test.each(cases.map(({ configuration, stack }) => [stack, configuration]))('cdk.tf of %s (%s configuration) equals cdk.tf.json', (stack, configuration) => {
    const { parsed, text } = hcl.get(key(configuration, stack))!;
    const { differences, equivalences } = compare(json.get(key(configuration, stack)), parsed, text);
    expect(differences).toEqual([]);
    expect(equivalences.singleBlock).toBeGreaterThan(0);
  });

  test.each(Object.keys(CONFIGURATIONS))('every Helm release gets the same single values document from both outputs (%s configuration)', (configuration) => {
    for (const stack of STACKS) {
      const releases = Object.entries<any>(json.get(key(configuration, stack)).resource.helm_release ?? {});
      for (const [name, release] of releases) {
        const [parsedRelease] = hcl.get(key(configuration, stack))!.parsed.resource.helm_release[name];
        expect(release.values).toHaveLength(1);
        expect(parsedRelease.values).toEqual(release.values);
      }
    }
  });
});

describe('exact HCL strings', () => {
  // Lines that trip HCL: the heredoc marker alone or with a comma, quotes, backslashes (escapes in quoted strings,
  // literal in heredocs), tabs, CRLF, blank lines; `${` and `%{` are templates in both outputs and stay out.
  const line = fc.oneof(
    fc.constantFrom('EOF', 'EOF,', '  EOF', '<<EOF', 'EOF1', '"quoted"', 'back\\slash', '\\n', 'tab\there', '', ' ', '$$', '%', '}'),
    fc.stringMatching(/^[a-zA-Z0-9 :#\-_.,'"=\\/[\]]{0,20}$/),
  );
  const multiline = fc
    .tuple(fc.array(line, { minLength: 2, maxLength: 6 }), fc.constantFrom('\n', '\r\n'), fc.boolean())
    .map(([lines, newline, trailing]) => lines.join(newline) + (trailing ? newline : ''));
  const samples = fc.sample(multiline, { numRuns: 300, seed: 14 });
  const oneLine = fc.stringMatching(/^[a-z\\"' \t]{1,12}$/).filter((text) => text.includes('\\'));
  const quoted = fc.sample(oneLine, { numRuns: 200, seed: 14 });
  // cdktf's quoted form (render.js escapeQuotes: quotes escaped unless a backslash precedes them).
  const cdktfQuoted = (text: string) => `"${text.replace(/(?<!\\)"/g, '\\"')}"`;
  let parsed: any[];

  beforeAll(async () => {
    const attributes = samples.map((text, index) => `a${index} = ${cdktfHeredoc(text)}\n`).join('');
    const list = `values = [\n${cdktfHeredoc(samples[0])},\n${cdktfHeredoc(samples[1])}\n]\n`;
    const oneLiners = `${quoted.map((text, index) => `q${index} = ${cdktfQuoted(text)}\n`).join('')}l = [\n${quoted.map(cdktfQuoted).join(',\n')}\n]\n`;
    parsed = await parseHcl([rewriteHeredocs(attributes, samples), list, rewriteHeredocs(list, samples.slice(0, 2)), rewriteQuotedStrings(oneLiners, quoted)]);
  });

  test('cdktf\'s own heredoc list is one string to HCL (the HCL exit path bug)', () => {
    expect(parsed[1].values).toHaveLength(1);
  });

  test('rewritten, each string reads back exactly', () => {
    samples.forEach((text, index) => expect([index, parsed[0][`a${index}`]]).toEqual([index, text]));
  });

  test('rewritten, a list of heredocs reads back as the same list', () => {
    expect(parsed[2].values).toEqual(samples.slice(0, 2));
  });

  test('rewritten, one-line strings with backslashes and quotes read back exactly, alone and in a list', () => {
    quoted.forEach((text, index) => expect([index, parsed[3][`q${index}`]]).toEqual([index, text]));
    expect(parsed[3].l).toEqual(quoted);
  });

  test('keeps a heredoc for text that ends with a newline, with a marker no line starts with', () => {
    expect(exactHclString('a\nb\n')).toBe('<<EOF\na\nb\nEOF');
    expect(exactHclString('EOF\nEOF1 x\n')).toBe('<<EOF2\nEOF\nEOF1 x\nEOF2');
    expect(exactHclString('a\nb')).toBe('"a\\nb"');
  });
});

// cdktf is archived; HCL output (`cdktf synth --hcl`, `npm run synth:hcl`) is the way out to plain Terraform.
// The round trip above compares it with the JSON; these are the readable landmarks.
describe('HCL output', () => {
  const { stacks } = synthesize();
  const hcl = { 'gpu-platform': renderHcl(stacks.platform), 'omniglue-serving': renderHcl(stacks.serving) };

  test.each([
    ['gpu-platform', ['resource "helm_release" "nvidia-device-plugin_release_', 'path = "../../../terraform.gpu-platform.tfstate"']],
    ['omniglue-serving', ['resource "kubernetes_deployment_v1" "triton_deployment_', 'resource "kubernetes_job_v1" "model-conversion_job_', 'resource "kubernetes_horizontal_pod_autoscaler_v2"', 'kubernetes_job_v1.model-conversion_job_']],
  ] as const)('writes plain HCL for %s', (stack, fragments) => {
    expect(hcl[stack].trimStart()).toMatch(/^terraform \{/);
    for (const fragment of fragments) expect(hcl[stack]).toContain(fragment);
  });

  test('keeps the Triton rollout behind the conversion Job', () => {
    expect(hcl['omniglue-serving']).toMatch(/depends_on = \[\s*"?kubernetes_job_v1\.model-conversion_job_/);
  });

  test.each(['gpu-platform', 'omniglue-serving'] as const)('writes the helm provider’s kubernetes setting as the attribute helm 3.x requires (%s)', (stack) => {
    const provider = /provider "helm" \{([\s\S]*?)\n\}/.exec(hcl[stack])?.[1] ?? '';
    expect(provider).toMatch(/kubernetes = \{\s*config_path = "~\/\.kube\/config"/);
    expect(provider).not.toMatch(/kubernetes \{/);
  });

  test.each(['gpu-platform', 'omniglue-serving'] as const)('writes each Helm release one values document, never a list of heredocs (%s)', (stack) => {
    expect(hcl[stack]).not.toMatch(/^\s*EOF,\s*$/m);
    const releases = hcl[stack].split(/\n(?=resource ")/).filter((block) => block.startsWith('resource "helm_release"'));
    expect(releases.length).toBeGreaterThan(0);
    for (const release of releases) expect(release).toMatch(/\nvalues = \[\n<<EOF\n[^]*?\nEOF\n\]\n/);
  });
});

/** hcl2json writes every block as a list of its instances; blocks here occur once. */
function unwrapBlocks(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 1 && typeof value[0] === 'object' && value[0] !== null && !Array.isArray(value[0]) ? unwrapBlocks(value[0]) : value.map(unwrapBlocks);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, unwrapBlocks(item)]));
}

describe('state backends in HCL (npm run synth:hcl)', () => {
  const hclCases: [string, OmniglueConfigInput['state']][] = [
    ['local', { backend: 'local', directory: 'state' }],
    ['s3', { backend: 's3', bucket: 'tf-state', region: 'eu-west-1', dynamodbTable: 'locks' }],
    ['gcs', { backend: 'gcs', bucket: 'tf-state' }],
    ['azurerm', { backend: 'azurerm', resourceGroupName: 'rg', storageAccountName: 'tfstate01', containerName: 'tfstate' }],
    ['kubernetes', { backend: 'kubernetes' }],
    ['remote', { backend: 'remote', organization: 'acme' }],
    ['cloud', { backend: 'cloud', organization: 'acme', project: 'ml-platform' }],
  ];

  test('each backend parses back from HCL to exactly its JSON (cdktf writes remote workspaces and cloud projects wrong; lib/hcp-backends.ts)', async () => {
    const rendered = hclCases.map(([name, state]) => {
      const stack = new TerraformStack(Testing.app() as App, `state-${name}`);
      configureStateBackend(stack, 'gpu-platform', parseConfig({ state }).state, { configPath: '~/.kube/config', configContext: 'admin' });
      return { json: renderJson(stack).terraform, hcl: renderHcl(stack) };
    });
    const parsed = await parseHcl(rendered.map((r) => r.hcl));
    parsed.forEach((document, index) => {
      const { backend, cloud } = unwrapBlocks(document.terraform) as Record<string, unknown>;
      expect([hclCases[index]![0], { backend, cloud }]).toEqual([hclCases[index]![0], { backend: rendered[index]!.json.backend, cloud: rendered[index]!.json.cloud }]);
    });
  });
});
