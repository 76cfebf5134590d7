import { Token } from 'cdktf';
import type { IConstruct } from 'constructs';
import { z } from 'zod';
import { PROTOTYPE_KEY_PROBLEM, prototypeKeyParents } from '../lib/deep-merge';
import { ValidationError } from '../lib/validation-error';
import { Names, Rule } from './rules';
import { configSchema } from './schema';

// Constructs built directly (a library user, a test) get the same defaults, bounds and rules as the app: a prop that
// mirrors a setting is resolved by that setting's own schema, and a rule between props is the rule the loader runs.

function unwrap(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while (inner instanceof z.ZodDefault || inner instanceof z.ZodPrefault || inner instanceof z.ZodOptional) inner = inner.unwrap() as z.ZodType;
  return inner;
}

/** The schema of one setting, by its path in omniglue.config.json (`triton.replicas.min`). */
export function settingSchema(path: string): z.ZodType {
  let schema: z.ZodType = configSchema;
  for (const key of path.split('.')) {
    const object = unwrap(schema);
    if (!(object instanceof z.ZodObject) || !Object.hasOwn(object.shape, key)) throw new Error(`'${path}' is not a setting of config/schema.ts`);
    schema = object.shape[key] as z.ZodType;
  }
  return schema;
}

/** The setting's default, as an empty configuration gets it. */
export function settingDefault<T>(path: string): T {
  return settingSchema(path).parse(undefined) as T;
}

// Values that only Terraform knows at apply time (a cross-stack reference) are checked where they are produced.
function holdsToken(value: unknown): boolean {
  if (typeof value === 'string' || typeof value === 'number') return Token.isUnresolved(value);
  if (Array.isArray(value)) return value.some(holdsToken);
  return typeof value === 'object' && value !== null && Object.values(value).some(holdsToken);
}

function shown(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value));
}

/**
 * A construct prop that mirrors a setting: undefined takes the setting's default, and a given value must pass the
 * setting's checks; a refusal names the prop, the value and what is allowed, with the construct's path.
 */
export function settingProp<T>(scope: IConstruct, path: string, prop: string, value: T | undefined): T {
  if (value !== undefined && holdsToken(value)) return value;
  const prototypeKeys = prototypeKeyParents(value);
  if (prototypeKeys.length > 0) throw new ValidationError(`${[prop, ...prototypeKeys[0], '__proto__'].join('.')}: ${PROTOTYPE_KEY_PROBLEM}`, scope);
  const result = settingSchema(path).safeParse(value);
  if (result.success) return result.data as T;
  const problems = result.error.issues.map((issue) => {
    const at = [prop, ...issue.path.map(String)].join('.');
    const message = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
    return issue.path.length === 0 ? `${at} (${shown(value)}) ${message}` : `${at}: ${message}`;
  });
  throw new ValidationError(problems.join('; '), scope);
}

/** Throws the rule's problem, with the construct's path, when the props break it. */
export function enforceRule<V>(scope: IConstruct, rule: Rule<V>, values: V, names: Names<V>): void {
  const problem = rule(values, names);
  if (problem !== undefined) throw new ValidationError(problem, scope);
}
