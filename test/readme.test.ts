import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseYaml } from 'yaml';
import { configurationReference, REFERENCE_END, REFERENCE_START } from '../config/reference';
import { cdktfInvocations } from '../scripts/cdktf-run';
import { USAGE as REVIEW_USAGE } from '../scripts/review/cli';
import { STACK_NAMES } from '../stacks';
import { environmentOutdir } from '../lib/environment-output';
import { tritonScrapeJob } from '../lib/triton-scrape-job';
import { TRITON_PORTS } from '../lib/triton-command';
import { TRITON_CUSTOM_METRICS } from '../lib/triton-metrics';
import { bashCommands, Command } from './support/readme-commands';
import { findResource, synthesize } from './support/synth';

const ROOT = path.resolve(__dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const README = read('README.md');
const CONTRIBUTING = read('CONTRIBUTING.md');
const PACKAGE = JSON.parse(read('package.json'));

describe('the README for the people who deploy', () => {
  test('opens with what it deploys, a table of contents, the prerequisites and a quick start that ends in a match', () => {
    const firstScreens = README.slice(0, README.indexOf('## Configuration\n'));
    for (const heading of ['## Contents', '## What it deploys', '## Prerequisites', '## Quick start']) expect(firstScreens).toContain(heading);
    expect(README.indexOf('## Contents')).toBeLessThan(README.indexOf('## What it deploys'));
    expect(firstScreens).toMatch(/Terraform 1\.10 or newer/);
    expect(firstScreens).toMatch(/kubeconfig/);
    expect(firstScreens).toMatch(/Node\.js 20 or newer/);
    const quickStart = firstScreens.slice(firstScreens.indexOf('## Quick start'));
    for (const command of ['npm ci', 'npm run deploy', 'npm run match']) expect(quickStart).toContain(command);
  });

  test('every link of the table of contents leads to a heading', () => {
    const anchors = new Set([...README.matchAll(/^#+ (.+)$/gm)].map((m) => m[1].toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')));
    const contents = README.slice(README.indexOf('## Contents'), README.indexOf('## What it deploys'));
    for (const [, anchor] of contents.matchAll(/\]\(#([^)]+)\)/g)) expect(anchors).toContain(anchor);
  });

  test('holds no notes for the developers of this repository (issue numbers, CPU budgets)', () => {
    expect(README).not.toMatch(/\bissue \d+|CPU-second|on this shared VM|#\d{2,}\b/i);
  });

  test('its configuration reference is the one generated from the schema (npm run config-schema)', () => {
    const section = README.slice(README.indexOf(REFERENCE_START) + REFERENCE_START.length, README.indexOf(REFERENCE_END)).trim();
    expect(section).toBe(configurationReference());
  });

  test('the scrape job it shows is the one the stacks generate, scrape_timeout included', () => {
    const yaml = /```yaml\n(- job_name: omniglue-triton[\s\S]*?)```/.exec(README)?.[1];
    expect(parseYaml(yaml ?? '')).toEqual([tritonScrapeJob(5)]);
  });

  test('the developer matters are in CONTRIBUTING.md, which links the engine documents', () => {
    for (const text of ['npm run setup', 'npm test', 'npm run bench', 'docs/engines.md', 'docs/engines-cluster.md', 'docs/triton-local.md', 'docs/conversion-toolchain.md']) {
      expect(CONTRIBUTING).toContain(text);
    }
    expect(README).toContain('(CONTRIBUTING.md)');
  });
});

// Every command the README shows is run here, or checked against what the stacks synthesize, so that a renamed
// resource, label, flag or output cannot leave a stale command behind.
describe('every command the README shows', () => {
  const commands = bashCommands(README);
  const serving = synthesize({});
  const ownPrometheus = synthesize({ monitoring: { installKubePrometheusStack: false, existingPrometheusUrl: 'http://prometheus.obs.svc:9090', prometheusOperator: false, installAlertRules: false } });
  const { server, service, conversionJob } = serving.stacks.serving;
  const deployment = findResource(serving.serving, 'kubernetes_deployment_v1', 'triton');
  const job = findResource(serving.serving, 'kubernetes_job_v1', 'model-conversion');
  const podLabels = [deployment.spec.template.metadata.labels, job.spec.template.metadata.labels];
  const containers = [...deployment.spec.template.spec.container, ...job.spec.template.spec.container].map((c: { name: string }) => c.name);
  const cdktfOptions = new Set([...read('node_modules/cdktf-cli/bundle/bin/cdktf.js').matchAll(/option\("([a-z-]+)"/g)].map((m) => `--${m[1]}`));
  const helpOf = (script: string) => spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), script, '--help'], { cwd: ROOT, encoding: 'utf8' }).stdout;
  const help: Record<string, string> = {};

  function checkKubectl(words: string[]): void {
    const options = new Map<string, string>();
    const positional: string[] = [];
    for (let i = 1; i < words.length; i++) {
      const word = words[i];
      if (['--previous', '-w', '--raw'].includes(word)) options.set(word, word === '--raw' ? words[++i] : '');
      else if (word.startsWith('-')) options.set(word, words[++i]);
      else positional.push(word);
    }
    const namespace = options.get('--namespace');
    if (options.has('--raw')) {
      expect(options.get('--raw')).toBe(`/apis/custom.metrics.k8s.io/v1beta1/namespaces/${server.namespaceName}/pods/*/${TRITON_CUSTOM_METRICS.gpuUtilizationPercent}`);
      return;
    }
    if (positional[0] === 'config') return expect(positional[1]).toBe('use-context');
    expect(['omniglue', 'monitoring']).toContain(namespace);
    if (namespace === 'monitoring') {
      // kube-prometheus-stack's Grafana, named after the release the platform stack installs.
      const release = findResource(serving.platform, 'helm_release', 'prometheus_release');
      expect(release).toMatchObject({ name: 'kube-prometheus-stack', namespace: 'monitoring' });
      return expect(positional.filter((word) => word.includes('grafana'))).toEqual([expect.stringMatching(/^(service\/)?kube-prometheus-stack-grafana$/)]);
    }
    expect(namespace).toBe(server.namespaceName);
    const selector = options.get('-l');
    if (selector !== undefined) {
      const [key, value] = selector.split('=');
      if (key !== 'job-name') expect(podLabels.some((labels) => labels[key] === value)).toBe(true);
    }
    if (options.has('-c')) expect(containers).toContain(options.get('-c'));
    for (const target of positional.slice(1)) {
      const [kind, name] = target.includes('/') ? target.split('/') : [undefined, target];
      if (kind === 'deployment') expect(name).toBe(server.name);
      if (kind === 'service') expect(name).toBe(service.name);
      if (kind === undefined && positional[1] === 'hpa' && name !== 'hpa') expect(name).toBe(server.name);
      if (name.startsWith('$') || kind !== undefined) continue;
      expect(['rollout', 'status', 'jobs', 'hpa', 'pods', 'job', server.name, '8000:8000', '8001:8001', '8002:8002', '"$JOB"', '$JOB']).toContain(name);
    }
    if (positional[0] === 'port-forward') {
      const ports = positional.slice(2).map((mapping) => Number(mapping.split(':')[1]));
      for (const port of ports) expect(Object.values(TRITON_PORTS)).toContain(port);
    }
    expect(conversionJob.jobName.startsWith('omniglue-convert-')).toBe(true);
  }

  function checkNpm(command: Command): void {
    const [, verb, script, separator, ...args] = command.words;
    if (verb === 'ci') {
      const lock = JSON.parse(read('package-lock.json'));
      return expect(lock.packages[''].dependencies).toEqual(PACKAGE.dependencies);
    }
    if (verb === 'test') return expect(PACKAGE.scripts.test).toBeDefined();
    expect(verb).toBe('run');
    expect(Object.keys(PACKAGE.scripts)).toContain(script);
    if (separator !== undefined) expect(separator).toBe('--');
    if (command.env.OMNIGLUE_ENV !== undefined) expect(Object.keys(JSON.parse(read('omniglue.config.example.json')).environments)).toContain(command.env.OMNIGLUE_ENV);
    if (['deploy', 'diff', 'destroy'].includes(script)) {
      const manifest = { stacks: { [STACK_NAMES.platform]: {}, [STACK_NAMES.serving]: { dependencies: [STACK_NAMES.platform] } } };
      for (const invocation of cdktfInvocations(script as 'deploy', manifest, args)) {
        for (const flag of invocation.filter((word) => word.startsWith('--'))) expect(cdktfOptions).toContain(flag);
      }
    }
    if (script === 'match' || script === 'loadtest') {
      help[script] ??= helpOf(`scripts/${script}/cli.ts`);
      for (const flag of args.filter((word) => word.startsWith('--'))) expect(help[script]).toContain(flag);
      for (const image of args.filter((word) => word.startsWith('assets/'))) expect(fs.existsSync(path.join(ROOT, image))).toBe(true);
    }
    if (script === 'review') for (const flag of args.filter((word) => word.startsWith('--'))) expect(REVIEW_USAGE).toContain(flag);
  }

  test('covers every command, and each is one this test knows how to run or check', () => {
    expect(commands.length).toBeGreaterThan(20);
    let directory = ROOT;
    for (const command of commands) {
      const [program] = command.words;
      try {
        if (program === 'kubectl') checkKubectl(command.words);
        else if (program === 'npm') checkNpm(command);
        else if (program === 'cd') {
          directory = path.join(ROOT, command.words[1]);
          expect(path.relative(ROOT, directory)).toBe(path.join(environmentOutdir(undefined), 'stacks', STACK_NAMES.platform));
        } else if (program === 'terraform') {
          // Run where the platform stack's Terraform runs: the output exists there with your own Prometheus.
          expect(path.basename(directory)).toBe(STACK_NAMES.platform);
          expect(command.words).toEqual(['terraform', 'output', '-raw', 'prometheus-scrape-config']);
          expect(ownPrometheus.platform.output['prometheus-scrape-config']).toBeDefined();
        } else throw new Error(`no check for ${program}`);
        for (const filter of command.filters) expect(['jq', 'base64']).toContain(filter[0]);
      } catch (error) {
        throw new Error(`README command \`${command.line}\`: ${(error as Error).message}`);
      }
    }
  });
});
