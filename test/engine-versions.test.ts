import { mirroredProvider } from '../scripts/engines';
import { wrapperMismatch } from '../scripts/setup/engines/go-build';
import { ENGINES, engine } from '../scripts/setup/engines/versions';
import { synthesize } from './support/synth';

describe('the engines version table', () => {
  test('each wrapper module requires the version the table names', () => {
    expect(ENGINES.map(wrapperMismatch).filter((mismatch) => mismatch !== undefined)).toEqual([]);
  });

  test('the mirror holds each provider at the version the synthesized stacks require', () => {
    const { platform, serving } = synthesize();
    const required = { ...JSON.parse(platform.json).terraform.required_providers, ...JSON.parse(serving.json).terraform.required_providers };
    expect(Object.keys(required).sort()).toEqual(['helm', 'kubernetes']);
    for (const [type, { version }] of Object.entries<{ version: string }>(required)) {
      expect(engine(`terraform-provider-${type}`).version).toBe(version);
      expect(mirroredProvider(`terraform-provider-${type}`)).toContain(`/hashicorp/${type}/${version}/linux_amd64/terraform-provider-${type}_v${version}`);
    }
  });

  test('a provider builds its stand-in while one is declared, and names the pinned commit beside it', () => {
    for (const { source } of ENGINES.filter((candidate) => candidate.source.kind === 'provider')) {
      if (source.kind !== 'provider') continue;
      expect(source.pin).toMatch(/^[0-9a-f]{40}$/);
      if (source.standIn !== undefined) expect(source.standIn).toMatch(/^v\d+\.\d+\.\d+-0\.\d{14}-[0-9a-f]{12}$/);
    }
  });
});
