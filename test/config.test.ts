import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadConfig, parseConfig } from '../config/load';
import { OmniglueConfigInput } from '../config/schema';
import { VERSIONS } from '../config/versions';
import { configRejection } from './support/config-errors';


describe('configuration defaults', () => {
  test('an empty configuration gets production defaults', () => {
    const config = parseConfig({});
    expect(config.namespace).toBe('omniglue');
    expect(config.modelRepository).toEqual({ size: '50Gi', accessMode: 'ReadWriteMany' });
    expect(config.triton.imageTag).toBe(VERSIONS.tritonImageTag);
    expect(config.triton.replicas).toEqual({ min: 2, max: 4 });
    expect(config.autoscaling.gpuUtilizationTargetPercent).toBe(70);
    expect(config.gpu.taint).toEqual({ key: 'nvidia.com/gpu', effect: 'NoSchedule' });
    expect(config.addons.nvidiaDevicePlugin).toBe(true);
    expect(config.chartVersions.nvidiaDevicePlugin).toBe(VERSIONS.nvidiaDevicePluginChart);
  });

  test('the committed omniglue.config.json is valid', () => {
    expect(() => loadConfig({ file: path.resolve(__dirname, '..', 'omniglue.config.json') })).not.toThrow();
  });

  test('the committed example configuration and each of its environments are valid', () => {
    const file = path.resolve(__dirname, '..', 'omniglue.config.example.json');
    const environments = Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).environments ?? {});
    expect(environments.length).toBeGreaterThan(0);
    expect(() => loadConfig({ file })).not.toThrow();
    for (const environment of environments) expect(() => loadConfig({ file, environment })).not.toThrow();
  });
});

describe('bad configurations stop synth with a message naming the setting', () => {
  const cases: [string, OmniglueConfigInput | unknown, RegExp][] = [
    ['minReplicas above maxReplicas', { triton: { replicas: { min: 5, max: 2 } } }, /triton\.replicas\.min \(5\) must be less than or equal to triton\.replicas\.max \(2\)/],
    ['a negative GPU count', { triton: { gpusPerReplica: -1 } }, /triton\.gpusPerReplica: must be between 0 and 16 \(GPUs one node can hold; 0 runs on CPU\) \(received -1\)/],
    ['a fractional GPU count', { triton: { gpusPerReplica: 0.5 } }, /triton\.gpusPerReplica: must be a whole number/],
    ['a quantity with a space', { modelRepository: { size: '10 Gi' } }, /modelRepository\.size: must be bytes with a unit such as '50Gi'.*received "10 Gi"/],
    ['a quantity with an unknown unit', { triton: { resources: { memoryLimit: '24GB' } } }, /triton\.resources\.memoryLimit: must be bytes with a unit such as '10Gi'/],
    ['an unknown access mode', { modelRepository: { accessMode: 'ReadWriteAll' } }, /modelRepository\.accessMode: must be ReadWriteMany \(several nodes.*or ReadWriteOnce \(single-node clusters\).*received "ReadWriteAll"/],
    ['a namespace that is not a DNS-1123 label', { namespace: 'OmniGlue_Prod' }, /namespace: must be a DNS-1123 label.*received "OmniGlue_Prod"/],
    ['a namespace longer than 63 characters', { namespace: 'a'.repeat(64) }, /namespace: must be at most 63 characters/],
    ['an empty image tag', { triton: { imageTag: '' } }, /triton\.imageTag: must not be empty/],
    ['the latest tag', { triton: { imageTag: 'latest' } }, /triton\.imageTag: must be pinned/],
    ['an unpinned conversion image', { conversion: { image: 'python' } }, /conversion\.image: must carry a tag or digest/],
    ['a conversion image on latest', { conversion: { image: 'python:latest' } }, /conversion\.image: must be pinned/],
    ['ReadWriteOnce storage with several replicas', { modelRepository: { accessMode: 'ReadWriteOnce' }, triton: { replicas: { min: 1, max: 3 } } }, /triton\.replicas\.max is 3, but modelRepository\.accessMode ReadWriteOnce lets only one node mount it/],
    ['a GPU utilization target above 100', { autoscaling: { gpuUtilizationTargetPercent: 150 } }, /autoscaling\.gpuUtilizationTargetPercent: must be between 1 and 99 \(percent\): at 100 the target can never be exceeded/],
    ['a misspelt setting', { triton: { replica: { min: 1 } } }, /triton: unknown setting\(s\) 'replica'/],
    ['a chart version range', { chartVersions: { nvidiaDevicePlugin: '^0.18' } }, /chartVersions\.nvidiaDevicePlugin: must be an exact chart version/],
    ['a taint effect that does not exist', { gpu: { taint: { effect: 'NoRun' } } }, /gpu\.taint\.effect: must be one of NoSchedule, PreferNoSchedule, NoExecute/],
    ['a GPU product label value with spaces', { gpu: { product: 'NVIDIA A10G' } }, /gpu\.product: must be a Kubernetes label value/],
    ['zero GPUs with GPU autoscaling', { triton: { gpusPerReplica: 0 } }, /autoscaling\.enabled scales on GPU utilization, but triton\.gpusPerReplica is 0/],
    ['a startup budget shorter than the model load', { triton: { startupTimeoutSeconds: 120, expectedModelLoadSeconds: 300 } }, /triton\.startupTimeoutSeconds \(120\) is shorter than triton\.expectedModelLoadSeconds \(300\)/],
    ['a memory limit below the request', { triton: { resources: { memoryRequest: '32Gi', memoryLimit: '16Gi' } } }, /triton\.resources\.memoryLimit \(16Gi\) must be at least triton\.resources\.memoryRequest \(32Gi\)/],
    ['/dev/shm as large as the memory limit', { triton: { shmSizeMiB: 24576 } }, /triton\.shmSizeMiB \(24576\) must be smaller than triton\.resources\.memoryLimit/],
    ['two Prometheus choices at once', { monitoring: { existingPrometheusUrl: 'http://prometheus.monitoring.svc:9090' } }, /monitoring\.existingPrometheusUrl is set while monitoring\.installKubePrometheusStack is true/],
    ['no Prometheus for the adapter', { monitoring: { installKubePrometheusStack: false } }, /prometheus-adapter needs monitoring\.existingPrometheusUrl/],
    ['a checksum that is not sha256', { conversion: { weights: { dinov2: { sha256: 'abc' } } } }, /conversion\.weights\.dinov2\.sha256: must be 64 lower-case hex characters/],
    ['a GPU for the conversion without an onnxruntime-gpu image', { conversion: { useGpu: true } }, /conversion\.useGpu needs conversion\.dependenciesPreinstalled with an image that has onnxruntime-gpu/],
    ['an environment variable name with a dash', { conversion: { extraEnv: { 'HTTPS-PROXY': 'x' } } }, /conversion\.extraEnv\.HTTPS-PROXY: must be an environment variable name|conversion\.extraEnv: must be an environment variable name/],
    ['an environment variable the Job sets itself', { conversion: { extraEnv: { PYTHONPATH: '/x' } } }, /conversion\.extraEnv may not set PYTHONPATH/],
    ['a placeholder checksum', { conversion: { weights: { dinov2: { sha256: '0'.repeat(64) } } } }, /conversion\.weights\.dinov2\.sha256: is a placeholder, not a real digest/],
    ['an image repository with a tag', { triton: { imageRepository: 'nvcr.io/nvidia/tritonserver:26.06-py3' } }, /triton\.imageRepository: must be an image repository without tag or digest/],
    ['a chart repository that is not a URL', { chartRepositories: { prometheusCommunity: 'prometheus-community' } }, /chartRepositories\.prometheusCommunity: must be an http\(s\):\/\/ or oci:\/\/ Helm chart repository URL/],
    ['a setting of the wrong type', { triton: { replicas: { max: '4' } } }, /triton\.replicas\.max: must be of type number \(received "4"\)/],
  ];

  test.each(cases)('rejects %s', (_name, input, message) => {
    expect(configRejection(input)).toMatch(message);
  });

  test('reports every problem at once, not only the first', () => {
    const message = configRejection({ namespace: 'Bad', modelRepository: { size: '1 Gi' } });
    expect(message).toMatch(/namespace:/);
    expect(message).toMatch(/modelRepository\.size:/);
  });
});

describe('JSON Schema for editors', () => {
  test('omniglue.config.schema.json is generated from the current schema (npm run config-schema)', () => {
    const committed = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'omniglue.config.schema.json'), 'utf8'));
    expect(committed).toEqual(jest.requireActual('../config/json-schema').configFileJsonSchema());
  });

  test('describes every setting, so editors show what each one does', () => {
    const schema = jest.requireActual('../config/json-schema').configFileJsonSchema();
    const settings: [string, { description?: string }][] = [];
    const walk = (node: any, at: string): void => {
      for (const variant of node.anyOf ?? node.oneOf ?? []) walk(variant, at);
      for (const [key, child] of Object.entries<any>(node.properties ?? {})) {
        if (at === '' && (key === '$schema' || key === 'environments')) continue;
        settings.push([`${at}${key}`, child]);
        walk(child, `${at}${key}.`);
      }
    };
    walk(schema, '');
    expect(settings.length).toBeGreaterThan(100);
    expect(settings.filter(([, child]) => typeof child.description !== 'string' || child.description === '').map(([at]) => at)).toEqual([]);
  });
});

describe('loading the configuration file', () => {
  let directory: string;
  beforeEach(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-config-'));
  });
  afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

  function write(document: unknown): string {
    const file = path.join(directory, 'omniglue.config.json');
    fs.writeFileSync(file, typeof document === 'string' ? document : JSON.stringify(document));
    return file;
  }

  test('applies the environment overlay on top of the base settings', () => {
    const file = write({ namespace: 'omniglue', triton: { replicas: { max: 2 } }, environments: { production: { kubernetes: { configContext: 'production' }, triton: { replicas: { min: 2, max: 8 } } } } });
    expect(loadConfig({ file }).triton.replicas).toEqual({ min: 2, max: 2 });
    expect(loadConfig({ file, environment: 'production' }).triton.replicas).toEqual({ min: 2, max: 8 });
  });

  test('names the file and the environment in errors', () => {
    const file = write({ environments: { staging: { namespace: 'Not_Valid' } } });
    expect(() => loadConfig({ file, environment: 'staging' })).toThrow(/environment 'staging'[\s\S]*namespace: must be a DNS-1123 label/);
  });

  test('fails on an unknown environment and lists the known ones', () => {
    const file = write({ environments: { staging: {} } });
    expect(() => loadConfig({ file, environment: 'prod' })).toThrow(/environment 'prod' \(OMNIGLUE_ENV\) is not defined; known environments: staging/);
  });

  test('fails on a file that is not JSON', () => {
    const file = write('{ namespace: omniglue');
    expect(() => loadConfig({ file })).toThrow(/not valid JSON/);
  });

  test('fails on a configuration file that does not exist', () => {
    expect(() => loadConfig({ file: path.join(directory, 'missing.json') })).toThrow(/file not found/);
  });
});
