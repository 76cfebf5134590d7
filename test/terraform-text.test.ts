import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as fc from 'fast-check';
import { App, Fn, Testing, TerraformOutput, TerraformStack } from 'cdktf';
import { escapeTemplateText, escapeTemplateTextOf } from '../lib/terraform-text';
import { ConfigMapV1 } from '../lib/provider-classes';
import { loadConfig } from '../config/load';
import { REPOSITORY_ROOT } from '../lib/paths';
import { findResource, synthesize } from './support/synth';
import { renderHcl } from './support/hcl';

/**
 * What Terraform makes of a template string with no interpolation left: `$${` reads `${`, `%%{` reads `%{`, and any
 * other `${` or `%{` opens an interpolation or directive (null here). Checked against Terraform 1.11 by hand:
 * `"$$${x} $${datasource} %%{if} %%%{y} 50$ {"` outputs `$${x} ${datasource} %{if} %%{y} 50$ {`; the engine tier
 * checks it with the project's own Terraform.
 */
function terraformText(template: string): string | null {
  let text = '';
  for (let i = 0; i < template.length; ) {
    const escape = template.startsWith('$${', i) || template.startsWith('%%{', i);
    if (escape) {
      text += `${template[i]}{`;
      i += 3;
    } else if (template.startsWith('${', i) || template.startsWith('%{', i)) {
      return null;
    } else {
      text += template[i++];
    }
  }
  return text;
}

const templateish = fc.string({ unit: fc.constantFrom('$', '%', '{', '}', '$$', 'a', 'TfToken[', '"', '\n') });

describe('text that Terraform must not evaluate', () => {
  test('any text escapes to a template that Terraform reads back as the same text', () => {
    fc.assert(
      fc.property(templateish, (text) => {
        fc.pre(!text.includes('${TfToken['));
        expect(terraformText(escapeTemplateText(text))).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });

  test('the default dashboard reaches Terraform with ${datasource} escaped', () => {
    const dashboard = findResource(synthesize().serving, 'kubernetes_config_map_v1', 'grafana-dashboard');
    const text: string = dashboard.data['omniglue-triton.json'];
    expect(text).toContain('"uid": "$${datasource}"');
    expect(JSON.parse(terraformText(text)!).panels.length).toBeGreaterThan(0);
  });

  test('user strings arrive as written: a proxy setting with ${HOME} and %{x} is escaped, not refused', () => {
    const { serving } = synthesize({ conversion: { extraEnv: { NO_PROXY: '$HOME ${HOME}', HTTPS_PROXY: 'http://%{x}' } } });
    const job = findResource(serving, 'kubernetes_job_v1', 'model-conversion');
    const env: { name: string; value: string }[] = job.spec.template.spec.container.find((c: any) => c.name === 'convert').env;
    expect(env.find((e) => e.name === 'NO_PROXY')?.value).toBe('$HOME $${HOME}');
    expect(env.find((e) => e.name === 'HTTPS_PROXY')?.value).toBe('http://%%{x}');
  });

  test('real references stay references, and text beside them is escaped', () => {
    const app = Testing.app() as App;
    const stack = new TerraformStack(app, 'escaping');
    escapeTemplateTextOf(stack);
    const map = new ConfigMapV1(stack, 'map', {
      metadata: { name: 'm', labels: { '${key}': 'v' } },
      data: { text: '${datasource} %{ if x }', both: `${Fn.upper('a')} \${HOME}` },
    });
    new TerraformOutput(stack, 'name', { value: `${map.metadata.name}-\${suffix}` });
    const json = JSON.parse(Testing.synth(stack));
    const config = json.resource.kubernetes_config_map_v1.map;
    expect(config.data).toEqual({ text: '$${datasource} %%{ if x }', both: '${upper("a")} $${HOME}' });
    expect(config.metadata.labels).toEqual({ '$${key}': 'v' });
    expect(json.output.name.value).toBe('${kubernetes_config_map_v1.map.metadata[0].name}-$${suffix}');
    const hcl = renderHcl(stack);
    expect(hcl).toContain('$${datasource} %%{ if x }');
    expect(hcl).toContain('"$${key}"');
  });

  // ../shared/tools/tf-templates.js is written outside this repository (it lies beside every clone, CI's too): an
  // independent reading of which interpolations Terraform can resolve.
  test('no synthesized stack, default or any example environment, holds an interpolation Terraform cannot resolve', () => {
    const guard = path.resolve(REPOSITORY_ROOT, '..', 'shared', 'tools', 'tf-templates.js');
    const example = path.join(REPOSITORY_ROOT, 'omniglue.config.example.json');
    const environments = Object.keys(JSON.parse(fs.readFileSync(example, 'utf8')).environments);
    const configurations = [{}, loadConfig({ file: example }), ...environments.map((environment) => loadConfig({ file: example, environment }))];
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-templates-'));
    try {
      const dirs = configurations.map((input, index) => {
        const dir = path.join(root, String(index));
        const synthesized = synthesize(input as never);
        for (const [name, stack] of [['gpu-platform', synthesized.platform], ['omniglue-serving', synthesized.serving]] as const) {
          fs.mkdirSync(path.join(dir, 'stacks', name), { recursive: true });
          fs.writeFileSync(path.join(dir, 'stacks', name, 'cdk.tf.json'), stack.json);
        }
        return dir;
      });
      expect(execFileSync(process.execPath, [guard, ...dirs], { encoding: 'utf8' })).toMatch(/: 0 unresolvable/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
