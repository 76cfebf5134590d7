import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as fc from 'fast-check';
import { App, LocalBackend, TerraformOutput, TerraformStack } from 'cdktf';
import { escapeTemplateTextOf } from '../../lib/terraform-text';
import { runTerraform } from '../../scripts/terraform-validate';

const WRITTEN = [
  '${datasource}',
  '"uid": "${datasource}"',
  '%{x}',
  '%{ if x }y%{ endif }',
  '$${x}',
  '$$${x}',
  '%%{x}',
  '%%%{y}',
  '$HOME ${HOME} 50$ { %',
  'http://%{x}@proxy:3128',
  'ends with $',
  'ends with %',
  '${',
  '}${}{',
  'say "hi"',
  'line one ${a}\nline "two" \\${b}\t%{c}',
];
// The alphabet of the model's property in test/terraform-text.test.ts, sampled with a fixed seed.
const SAMPLED = fc
  .sample(fc.string({ unit: fc.constantFrom('$', '%', '{', '}', '$$', 'a', '"', '\n'), minLength: 1 }), { seed: 18, numRuns: 40 })
  .filter((text) => !text.includes('${TfToken['));
const TEXTS = [...new Set([...WRITTEN, ...SAMPLED])];

/**
 * Strings that cdktf 0.21's HCL renderer writes as the same text (cdktf lib/hcl/render.js, renderString and
 * renderFuzzyJsonExpression): it escapes no backslash or newline, leaves quotes unescaped in a string holding `${`,
 * writes multi-line text as a heredoc (which adds a final newline), and strings that start with `[` or `{`, or
 * read as an integer, as expressions. docs/engines.md lists what Terraform makes of each; none is the escape's doing.
 */
const renderedFaithfullyInHcl = (text: string) => !/[\n\r\\"]/.test(text) && !/^[[{]/.test(text) && !/^-?\d+$/.test(text);

/**
 * Writes each text as an output of a cdktf stack, escaped by the project's aspect, in JSON or HCL. The stack's
 * synthesizer renders HCL only when SYNTH_HCL_OUTPUT is set as it is constructed, whatever the App's hclOutput
 * (cdktf lib/terraform-stack.js, TerraformStack constructor): set here as `cdktf synth --hcl` sets it.
 */
function synthesizeOutputs(outdir: string, texts: readonly string[], hcl: boolean): string {
  const saved = process.env.SYNTH_HCL_OUTPUT;
  process.env.SYNTH_HCL_OUTPUT = String(hcl);
  const app = new App({ outdir });
  const stack = new TerraformStack(app, 'texts');
  if (saved === undefined) delete process.env.SYNTH_HCL_OUTPUT;
  else process.env.SYNTH_HCL_OUTPUT = saved;
  // Relative to Terraform's working directory: cdktf's default local backend writes to the process's directory.
  new LocalBackend(stack, { path: 'terraform.tfstate' });
  escapeTemplateTextOf(stack);
  texts.forEach((text, index) => new TerraformOutput(stack, `t${index}`, { value: text }));
  app.synth();
  return path.join(outdir, 'stacks', 'texts');
}

/** `terraform apply` on a local state, then the outputs' values as Terraform evaluated them. */
async function applyAndReadOutputs(dir: string): Promise<Record<string, string>> {
  for (const args of [['init', '-input=false', '-no-color'], ['apply', '-auto-approve', '-input=false', '-no-color']]) {
    const { code, stdout, stderr } = await runTerraform(args, dir);
    if (code !== 0) throw new Error(`terraform ${args[0]} failed in ${dir}:\n${stdout}${stderr}`);
  }
  const { stdout } = await runTerraform(['output', '-json'], dir);
  return Object.fromEntries(Object.entries<{ value: string }>(JSON.parse(stdout)).map(([name, output]) => [name, output.value]));
}

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'omniglue-engines-text-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('escaped text evaluated by the real Terraform', () => {
  test.each([
    ['JSON', false, TEXTS],
    ['HCL', true, TEXTS.filter(renderedFaithfullyInHcl)],
  ])('every text comes back as written from the %s output', async (form, hcl, texts) => {
    expect(texts.length).toBeGreaterThan(15);
    const dir = synthesizeOutputs(path.join(root, form), texts, hcl);
    expect(readFileSync(path.join(dir, hcl ? 'cdk.tf' : 'cdk.tf.json'), 'utf8')).toContain('$${datasource}');

    const outputs = await applyAndReadOutputs(dir);

    expect(texts.map((_text, index) => outputs[`t${index}`])).toEqual(texts);
  });

  test("the model's worked example: a template with escapes and lone signs reads as the model says", async () => {
    const dir = path.join(root, 'model');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify({ output: { example: { value: '$$${x} $${datasource} %%{if} %%%{y} 50$ {' } } }));
    const outputs = await applyAndReadOutputs(dir);
    expect(outputs.example).toBe('$${x} ${datasource} %{if} %%{y} 50$ {');
  });
});
