import { z } from 'zod';
import { configSchema } from './schema';

/**
 * JSON Schema of omniglue.config.json, for editors (completion and checks as you type). Derived from the zod
 * schema, so it cannot drift; synth still validates with zod, which also checks what JSON Schema cannot express.
 */
export function configFileJsonSchema(): Record<string, unknown> {
  const settings = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, any>;
  const overlay = { ...settings };
  delete overlay.$schema;
  return {
    ...settings,
    title: 'omniglue-triton configuration',
    properties: {
      $schema: { type: 'string' },
      ...settings.properties,
      environments: {
        description: 'Per-environment overrides, selected with OMNIGLUE_ENV; merged key by key over the settings above.',
        type: 'object',
        additionalProperties: { ...overlay, required: [] },
      },
    },
  };
}
