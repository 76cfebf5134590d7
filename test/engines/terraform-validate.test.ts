import { execFile } from 'child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { REPOSITORY_ROOT } from '../../lib/paths';
import { StackValidation, formatValidation, validateOutdirs } from '../../scripts/terraform-validate';
import { synthesize } from '../../scripts/validate';

const EXAMPLE = path.join(REPOSITORY_ROOT, 'omniglue.config.example.json');
const exampleEnvironments = Object.keys(JSON.parse(readFileSync(EXAMPLE, 'utf8')).environments ?? {});
const CONFIGURATIONS: { name: string; env: NodeJS.ProcessEnv }[] = [
  { name: 'default', env: {} },
  ...exampleEnvironments.map((environment) => ({ name: `example/${environment}`, env: { OMNIGLUE_CONFIG: EXAMPLE, OMNIGLUE_ENV: environment } })),
];
const FORMS = ['json', 'hcl'] as const;
// cdktf's HCL renderer writes depends_on and ignore_changes entries as quoted strings, which Terraform 1.5 accepts
// with this warning (valid in JSON syntax, deprecated in native syntax).
const KNOWN_WARNINGS = { json: [] as string[], hcl: ['Quoted references are deprecated'] };

let root: string;
let results: StackValidation[] = [];
const outdir = (name: string, form: string) => path.join(root, name.replace('/', '-'), form);

// Each configuration is synthesized once per form by the app's own synth command, as the user's `npm run synth`
// and `npm run synth:hcl` do; all stack files are then validated together, two Terraform processes at a time.
beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'omniglue-engines-validate-'));
  const { OMNIGLUE_CONFIG: _config, OMNIGLUE_ENV: _environment, ...base } = process.env;
  for (const { name, env } of CONFIGURATIONS) for (const form of FORMS) synthesize(outdir(name, form), form, { ...base, ...env });
  results = await validateOutdirs(CONFIGURATIONS.flatMap(({ name }) => FORMS.map((form) => outdir(name, form))));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.each(FORMS)('terraform validate with the pinned providers, %s output', (form) => {
  test.each(CONFIGURATIONS.map(({ name }) => name))('every stack of %s is valid', (name) => {
    const validations = results.filter((result) => result.file.startsWith(outdir(name, form) + path.sep));
    expect(validations.map((result) => result.stack).sort()).toEqual(['gpu-platform', 'omniglue-serving']);
    const invalid = validations.filter((result) => !result.valid).map((result) => formatValidation(result, root));
    expect(invalid).toEqual([]);
    const warnings = validations.flatMap((result) => result.diagnostics.filter((diagnostic) => diagnostic.severity === 'warning'));
    expect(warnings.map((warning) => warning.summary).filter((summary) => !KNOWN_WARNINGS[form].includes(summary))).toEqual([]);
  });
});

describe('npm run validate -- --dir DIR', () => {
  const run = promisify(execFile);
  const validate = (dir: string) =>
    run('npm', ['run', '--silent', 'validate', '--', '--dir', dir], { cwd: REPOSITORY_ROOT }).then(
      ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr }),
    );

  test('fails on a reference planted in a stack, naming the stack, the file and line, and the diagnostic', async () => {
    const planted = path.join(root, 'planted');
    cpSync(outdir('default', 'json'), planted, { recursive: true });
    const file = path.join(planted, 'stacks', 'omniglue-serving', 'cdk.tf.json');
    const stack = JSON.parse(readFileSync(file, 'utf8'));
    const configMap = Object.values<any>(stack.resource.kubernetes_config_map_v1)[0];
    configMap.data = { ...configMap.data, planted: 'uid: ${nonexistent.x}' };
    const text = JSON.stringify(stack, null, 2);
    writeFileSync(file, text);
    const line = text.split('\n').findIndex((candidate) => candidate.includes('${nonexistent.x}')) + 1;

    const { code, output } = await validate(planted);

    expect(code).toBe(1);
    expect(output).toContain(`validate: omniglue-serving (${file}): INVALID`);
    expect(output).toMatch(new RegExp(`stacks/omniglue-serving/cdk\\.tf\\.json:${line}:\\d+: error: Reference to undeclared resource`));
    expect(output).toContain('A managed resource "nonexistent" "x" has not been declared in the root module.');
    expect(output).toContain('validate: gpu-platform');
    expect(output).toMatch(/1 of 2 stack files invalid: omniglue-serving \(cdk\.tf\.json\)/);
  });

  test('passes on a valid directory and reports each stack file', async () => {
    const { code, output } = await validate(outdir('default', 'hcl'));
    expect(output).toMatch(/validate: gpu-platform \(.*stacks\/gpu-platform\/cdk\.tf\): valid/);
    expect(output).toContain('validate: all 2 stack files valid');
    expect(code).toBe(0);
  });
});
