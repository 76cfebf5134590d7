import { isObj, one, str, TerraformJson } from './terraform-json';

// cdktf turns a value one stack takes from another into an output of the producing stack and a
// terraform_remote_state data source of the consuming one (`cross-stack-reference-input-<stack>`).
const CROSS_STACK_REFERENCE = /\$\{data\.terraform_remote_state\.cross-stack-reference-input-([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)\}/g;
const ATTRIBUTE_REFERENCE = /^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}$/;

/** The literal an output stands for when it is a plain attribute the producing stack sets, e.g. a release's namespace. */
function outputLiteral(producer: TerraformJson, outputName: string): string | undefined {
  const value = str(one(one(producer.output)[outputName]).value);
  const reference = value === undefined ? undefined : ATTRIBUTE_REFERENCE.exec(value);
  if (reference === null || reference === undefined) return value !== undefined && !value.includes('${') ? value : undefined;
  const [, type, name, attribute] = reference;
  const literal = str(one(one(one(producer.resource)[type])[name])[attribute]);
  return literal !== undefined && !literal.includes('${') ? literal : undefined;
}

function mapStrings(value: unknown, replace: (text: string) => string): unknown {
  if (typeof value === 'string') return replace(value);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, replace));
  if (isObj(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, mapStrings(item, replace)]));
  return value;
}

/**
 * Replaces cross-stack references with the literal the other stack sets, so the review shows `monitoring`
 * rather than a remote-state address; a reference to a computed value stays as written.
 */
export function resolveCrossStackReferences(doc: TerraformJson, stacks: ReadonlyMap<string, TerraformJson>): TerraformJson {
  return mapStrings(doc, (text) =>
    text.replace(CROSS_STACK_REFERENCE, (whole, stack: string, outputName: string) => {
      const producer = stacks.get(stack);
      return (producer && outputLiteral(producer, outputName)) ?? whole;
    }),
  ) as TerraformJson;
}
