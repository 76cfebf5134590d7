import { EXIT_TIMEOUT_SECONDS, tritonArguments } from '../scripts/triton-local/server';
import { findResource, synthesize } from './support/synth';

/** `--name=value` flags of a command line, by name. */
function flags(args: string[]): Map<string, string> {
  return new Map(args.filter((a) => a.startsWith('--')).map((a) => [a.slice(2, a.includes('=') ? a.indexOf('=') : undefined), a.includes('=') ? a.slice(a.indexOf('=') + 1) : '']));
}

const local = flags(tritonArguments('/repo', { http: 18000, grpc: 18001, metrics: 18002 }, '/backends', 'KEY'));

/** Flags whose value is local by design, and why. */
const LOCAL_VALUES: Record<string, string> = {
  'model-repository': '/repo',
  'http-port': '18000',
  'grpc-port': '18001',
  'metrics-port': '18002',
  'exit-timeout-secs': String(EXIT_TIMEOUT_SECONDS),
};

describe('triton:local starts Triton with the Deployment’s flags', () => {
  const deployment = findResource(synthesize().serving, 'kubernetes_deployment_v1', 'triton');
  const command: string = deployment.spec.template.spec.container[0].args[0];
  const product = flags(command.slice(command.indexOf('exec tritonserver ') + 'exec tritonserver '.length).split(' '));

  test('every flag of the Deployment is passed, with the same value unless it is local by design', () => {
    expect(product.size).toBeGreaterThan(10);
    for (const [name, value] of product) {
      const expected = LOCAL_VALUES[name] ?? value.replace('$ADMIN_KEY', 'KEY');
      expect([name, local.get(name)]).toEqual([name, expected]);
    }
  });

  test('adds only loopback addresses and the wheel’s backend directory', () => {
    const added = [...local.keys()].filter((name) => !product.has(name)).sort();
    expect(added).toEqual(['backend-directory', 'grpc-address', 'http-address', 'metrics-address']);
    for (const name of ['grpc-address', 'http-address', 'metrics-address']) expect(local.get(name)).toBe('127.0.0.1');
  });
});
