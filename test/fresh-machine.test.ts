import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cdktfInvocations, deploymentOrder } from '../scripts/cdktf-run';

const ROOT = path.resolve(__dirname, '..');
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** Runs a snippet against scripts/setup/check.mjs (an ES module) in a child Node. */
function check(snippet: string): string {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', `import * as check from './scripts/setup/check.mjs';\n${snippet}`], { cwd: ROOT, encoding: 'utf8' });
  expect(result.stderr).toBe('');
  return result.stdout.trim();
}

describe('system packages', () => {
  const listed = JSON.parse(check('console.log(JSON.stringify(check.readSystemPackages()))')) as { name: string; kind: string; target: string }[];

  test('the list has python3-pil and a probe for every Python package', () => {
    expect(listed.map((p) => p.name)).toEqual(expect.arrayContaining(['python3-pil', 'python3-onnx', 'python3-numpy', 'python3-torch', 'python3-pytest', 'python3-protobuf']));
    for (const p of listed.filter((p) => p.name.startsWith('python3-'))) expect(p.kind).toBe('import');
  });

  test('every module the Python tests and the conversion program import is the standard library, our own, or a listed package', () => {
    const files = ['test/python', 'test/support', 'scripts/omniglue_conversion'].flatMap((dir) =>
      fs.readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.py')).map((f) => path.join(ROOT, dir, f)),
    );
    // Python's own parser lists the imports: absolute ones, top-level package names.
    const lister = [
      'import ast, sys',
      'names = set()',
      'for path in sys.argv[1:]:',
      '    for node in ast.walk(ast.parse(open(path).read())):',
      '        if isinstance(node, ast.Import): names.update(a.name.split(".")[0] for a in node.names)',
      '        elif isinstance(node, ast.ImportFrom) and node.level == 0: names.add(node.module.split(".")[0])',
      'print("\\n".join(sorted(names - set(sys.stdlib_module_names))))',
    ].join('\n');
    const imported = new Set(spawnSync(PYTHON, ['-c', lister, ...files], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean));
    const stdlib = new Set<string>(['__future__']);
    const ours = new Set(['omniglue_conversion', 'conftest', ...files.map((f) => path.basename(f, '.py'))]);
    // Imported only inside the conversion Job, whose image installs scripts/requirements-conversion.txt.
    const jobOnly = new Set(['onnxruntime', 'tensorflow', 'tf2onnx']);
    const covered = new Set(listed.map((p) => p.target.split('.')[0]));
    const uncovered = [...imported].filter((name) => !stdlib.has(name) && !ours.has(name) && !jobOnly.has(name) && !covered.has(name));
    expect(uncovered).toEqual([]);
  });

  test('a missing package stops the tests with one line that names it and the command that installs it', () => {
    const listing = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'packages-')), 'system-packages.txt');
    fs.writeFileSync(listing, 'python3-numpy import:numpy # here\npython3-notthere import:omniglue_module_that_does_not_exist # missing\nnot-a-tool command:omniglue-no-such-program\n');
    const message = check(`console.log(check.missingPackagesMessage(check.missingSystemPackages(check.readSystemPackages(${JSON.stringify(listing)}))))`);
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toMatch(/^Missing system package\(s\) for the tests: python3-notthere, not-a-tool\. Install them with `npm run setup`/);
    expect(message).not.toContain('python3-numpy');
  });

  test('this machine has them all (the check npm test runs first)', () => {
    expect(check('console.log(check.missingSystemPackages().join(","))')).toBe('');
  });
});

describe('the README set-up and CI', () => {
  test('the set-up installs the system packages before anything runs the tests, and CI runs the same commands', () => {
    const readme = read('README.md');
    const setup = readme.indexOf('npm run setup');
    expect(setup).toBeGreaterThan(-1);
    expect(setup).toBeLessThan(readme.indexOf('npm test'));
    expect(setup).toBeLessThan(readme.indexOf('npm run synth'));
    const ci = read('.ci/run').split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
    expect(ci.slice(-2)).toEqual(['npm run setup', 'npm test']);
    const named = /Those packages \(a test keeps this line equal to the list\): (.*)$/m.exec(read('.ci/run'))?.[1]?.split(' ');
    const listed = read('scripts/setup/system-packages.txt').split('\n').map((line) => line.replace(/#.*/, '').trim().split(/\s+/)[0]).filter(Boolean);
    expect(named).toEqual(listed);
    const scripts = JSON.parse(read('package.json')).scripts;
    expect(scripts.setup).toBe('bash scripts/setup/setup.sh');
    const setupScript = read('scripts/setup/setup.sh');
    expect(setupScript.indexOf('install-system-packages.sh')).toBeLessThan(setupScript.indexOf('npm ci'));
    expect(setupScript.indexOf('\nnpm ci')).toBeLessThan(setupScript.indexOf('for step in scripts/setup/steps/'));
    expect(scripts.test).toMatch(/^node scripts\/setup\/check\.mjs && .* && node scripts\/test-engines\.mjs$/);
  });

  test('.npmrc holds only settings npm knows, so npm prints no warning about it', () => {
    const result = spawnSync('npm', ['config', 'get', 'ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
    expect(result.stdout.trim()).toBe('true');
    expect(result.stderr).not.toMatch(/warn/i);
  });
});

describe('npm run deploy, diff and destroy', () => {
  const manifest = { stacks: { 'omniglue-serving': { dependencies: ['gpu-platform'] }, 'gpu-platform': { dependencies: [] } } };

  test('deploy the platform before the serving stack, destroy in reverse, diff each stack', () => {
    expect(deploymentOrder(manifest)).toEqual(['gpu-platform', 'omniglue-serving']);
    expect(cdktfInvocations('deploy', manifest, ['--auto-approve'])).toEqual([['deploy', 'gpu-platform', 'omniglue-serving', '--skip-synth', '--auto-approve']]);
    expect(cdktfInvocations('destroy', manifest, [])).toEqual([['destroy', 'omniglue-serving', 'gpu-platform', '--skip-synth']]);
    expect(cdktfInvocations('diff', manifest, ['--refresh-only'])).toEqual([
      ['diff', 'gpu-platform', '--skip-synth', '--refresh-only'],
      ['diff', 'omniglue-serving', '--skip-synth', '--refresh-only'],
    ]);
  });

  test('a dependency cycle or a missing stack is an error, not a wrong order', () => {
    expect(() => deploymentOrder({ stacks: { a: { dependencies: ['b'] }, b: { dependencies: ['a'] } } })).toThrow(/stack dependency cycle: a -> b -> a/);
    expect(() => deploymentOrder({ stacks: { a: { dependencies: ['gone'] } } })).toThrow(/stack 'gone' is a dependency but was not synthesized/);
  });

  test('the npm scripts run both stacks through cdktf-run', () => {
    const scripts = JSON.parse(read('package.json')).scripts;
    for (const action of ['deploy', 'diff', 'destroy']) expect(scripts[action]).toBe(`tsx scripts/cdktf-run.ts ${action}`);
  });
});

describe('a configuration error under the cdktf CLI', () => {
  test('is printed once, on stdout, with nothing synthesized and no manifest left for the CLI', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-out-'));
    fs.writeFileSync(path.join(outdir, 'manifest.json'), '{"stale": true}');
    const config = path.join(outdir, 'bad.json');
    fs.writeFileSync(config, JSON.stringify({ namespace: 'Bad_NS' }));
    // What the cdktf CLI sets for its app command (@cdktf/cli-core src/lib/synth-stack.js).
    const cli = { CDKTF_OUTDIR: outdir, CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS: 'true', SYNTH_HCL_OUTPUT: 'false', CDKTF_CONTEXT_JSON: '{}' };
    const result = spawnSync(process.execPath, ['scripts/synth-app.mjs'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...cli, OMNIGLUE_CONFIG: config } });
    expect(result.stderr).toBe('');
    expect(result.stdout.match(/Invalid configuration/g)).toHaveLength(1);
    expect(result.stdout).toContain('namespace: must be a DNS-1123 label');
    expect(fs.existsSync(path.join(outdir, 'manifest.json'))).toBe(false);
    const stacks = path.join(outdir, 'stacks');
    expect(fs.existsSync(stacks) ? fs.readdirSync(stacks) : []).toEqual([]);
  });
});

describe('a refusal outside the cdktf CLI', () => {
  const synth = (env: Record<string, string>) => spawnSync(process.execPath, ['scripts/synth-app.mjs'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });

  test('with only CDKTF_OUTDIR set, as a pipeline redirects the output, exits non-zero with the error once on stderr', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-out-'));
    const config = path.join(outdir, 'bad.json');
    fs.writeFileSync(config, JSON.stringify({ namespace: 'Bad_NS' }));
    const result = synth({ CDKTF_OUTDIR: outdir, OMNIGLUE_CONFIG: config });
    expect(result.status).toBe(1);
    expect(result.stderr.match(/Invalid configuration/g)).toHaveLength(1);
    expect(result.stdout).toBe('');
    expect(fs.existsSync(path.join(outdir, 'manifest.json'))).toBe(false);
  });

  test('a CDKTF_OUTDIR whose parent directory does not exist fails with one line that says so', () => {
    const missing = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-out-')), 'no-such-dir', 'out');
    const result = synth({ CDKTF_OUTDIR: missing });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^cannot synthesize into .*no-such-dir\/out: its parent directory .*no-such-dir does not exist/)]);
  });

  test('a CDKTF_OUTDIR below a file fails as clearly', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-out-')), 'a-file');
    fs.writeFileSync(file, '');
    const result = synth({ CDKTF_OUTDIR: path.join(file, 'out') });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^cannot synthesize into .*a-file\/out: .*a-file is not a directory\n$/);
  });
});

describe('the README configuration-error example', () => {
  test('is what synth prints for those values, to the character', () => {
    const readme = read('README.md');
    const example = /```\n(Invalid configuration \(omniglue\.config\.json\):\n[\s\S]*?)\n```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const received = [...example!.matchAll(/\(received (".*?")\)$/gm)].map((m) => JSON.parse(m[1]));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-example-'));
    fs.writeFileSync(path.join(dir, 'omniglue.config.json'), JSON.stringify({ namespace: received[0], modelRepository: { size: received[1] } }));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const { loadConfig } = jest.requireActual('../config/load');
      expect(() => loadConfig({ file: path.join(dir, 'omniglue.config.json') })).toThrow(example);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('what a synth removes from cdktf.out', () => {
  test("replaces the generated configuration, keeps Terraform's own files, and drops stacks that no longer exist", () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-out-'));
    const write = (file: string, text = 'x') => {
      fs.mkdirSync(path.dirname(path.join(outdir, file)), { recursive: true });
      fs.writeFileSync(path.join(outdir, file), text);
    };
    for (const file of ['manifest.json', 'stacks/gpu-platform/cdk.tf', 'stacks/gpu-platform/cdk.tf.json', 'stacks/gpu-platform/.terraform/terraform.tfstate', 'stacks/gpu-platform/.terraform.lock.hcl', 'stacks/gpu-platform/terraform.tfstate.d/blue/terraform.tfstate', 'stacks/retired/cdk.tf.json']) write(file);
    const run = (snippet: string) =>
      spawnSync(process.execPath, ['--input-type=module', '-e', `import * as output from './scripts/synth-output.mjs';\n${snippet}`], { cwd: ROOT, encoding: 'utf8' });
    expect(run(`output.clearGeneratedFiles(${JSON.stringify(outdir)});`).status).toBe(0);
    const left = (dir: string) => fs.readdirSync(path.join(outdir, dir)).sort();
    expect(fs.existsSync(path.join(outdir, 'manifest.json'))).toBe(false);
    expect(left('stacks/gpu-platform')).toEqual(['.terraform', '.terraform.lock.hcl', 'terraform.tfstate.d']);
    write('manifest.json', JSON.stringify({ stacks: { 'gpu-platform': {}, 'omniglue-serving': {} } }));
    expect(run(`output.removeOrphanedStacks(${JSON.stringify(outdir)});`).status).toBe(0);
    expect(left('stacks')).toEqual(['gpu-platform']);
  });
});
