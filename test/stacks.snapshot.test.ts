import { createHash } from 'crypto';
import { synthesize } from './support/synth';

/** ConfigMaps carry whole scripts and images: the snapshot records their digests, the files themselves are reviewed as code. */
function digestConfigMapPayloads(document: any): any {
  for (const configMap of Object.values<any>(document.resource?.kubernetes_config_map_v1 ?? {})) {
    for (const field of ['data', 'binary_data']) {
      if (configMap[field] === undefined) continue;
      configMap[field] = Object.fromEntries(
        Object.entries<string>(configMap[field]).map(([key, value]) => [key, `sha256:${createHash('sha256').update(value).digest('hex').slice(0, 16)} (${value.length} chars)`]),
      );
    }
  }
  return document;
}

// A snapshot change is a change to what users deploy: review the diff, then update with `npx jest -u`.
describe('synthesized stacks with the default configuration', () => {
  const { platform, serving } = synthesize();

  test('gpu-platform', () => {
    expect(digestConfigMapPayloads(JSON.parse(platform.json))).toMatchSnapshot();
  });

  test('omniglue-serving', () => {
    expect(digestConfigMapPayloads(JSON.parse(serving.json))).toMatchSnapshot();
  });
});
