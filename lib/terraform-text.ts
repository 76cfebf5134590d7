import { Aspects, IAspect, TerraformElement, TerraformRemoteState, TerraformStack } from 'cdktf';
import { IConstruct } from 'constructs';

/**
 * Terraform reads every string of its JSON syntax, object keys included, as a template: `${…}` is an interpolation
 * and `%{…}` a directive (HCL JSON specification, "Template Expressions"; hashicorp/hcl json/spec.md). Text that
 * must reach a resource as written, such as Grafana's `${datasource}`, a shell's `${HOME}` or a user's proxy URL,
 * has to arrive escaped as `$${` and `%%{`, which Terraform turns back into `${` and `%{`.
 *
 * cdktf encodes its own references as `${TfToken[TOKEN.n]}` until they resolve, so the unresolved configuration
 * still tells text from references: every `${` not opening a token is text, and no token opens with `%{`
 * (cdktf tokens/private/encoding.js, BEGIN_STRING_TOKEN_MARKER; its list and map markers are `#{` and `&{`).
 * Escaping the whole run of `$` or `%` before the brace keeps text that already reads `$${` exactly as written
 * (`$${` → `$$${`, which Terraform reads as `$` then the escape `$${`).
 */
export function escapeTemplateText(text: string): string {
  return text.replace(/\$\{(?!TfToken\[)/g, '$$$${').replace(/%\{/g, '%%{');
}

/**
 * Escapes every literal string, and every object key, of one element's unresolved configuration. Values that are
 * not plain data (cdktf's resolvables) are left to resolve as they are: they are references, not text.
 */
function escapeConfiguration(value: unknown, isExpression: (text: string) => boolean): unknown {
  if (typeof value === 'string') return isExpression(value) ? value : escapeTemplateText(value);
  if (Array.isArray(value)) return value.map((item) => escapeConfiguration(item, isExpression));
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [escapeTemplateText(key), escapeConfiguration(item, isExpression)]));
  }
  return value;
}

/**
 * The one expression cdktf writes as text rather than as a token: every backend's remote-state data source reads
 * the same workspace with a literal `workspace: "${terraform.workspace}"` (cdktf backends/s3-backend.js and its
 * siblings, getRemoteStateDataSource; lib/kubernetes-backend.ts does the same). It must stay an expression there.
 */
const REMOTE_STATE_WORKSPACE = '${terraform.workspace}';
const isRemoteStateWorkspace = (text: string) => text === REMOTE_STATE_WORKSPACE;
const noExpression = () => false;

const escapedElements = new WeakSet<TerraformElement>();

/**
 * The one place where text enters the synthesized configuration escaped: each Terraform element's configuration,
 * JSON (`toTerraform`) and HCL (`toHclTerraform`, for `cdktf synth --hcl`), is escaped before cdktf resolves its
 * tokens, so the dashboard, chart values, ConfigMaps and every user string are covered alike, and no construct
 * escapes at its own call sites.
 */
class TemplateTextEscaping implements IAspect {
  visit(node: IConstruct): void {
    if (!TerraformElement.isTerraformElement(node) || escapedElements.has(node)) return;
    escapedElements.add(node);
    const isExpression = node instanceof TerraformRemoteState ? isRemoteStateWorkspace : noExpression;
    const json = node.toTerraform.bind(node);
    const hcl = node.toHclTerraform.bind(node);
    node.toTerraform = () => escapeConfiguration(json(), isExpression);
    node.toHclTerraform = () => escapeConfiguration(hcl(), isExpression);
  }
}

/** Escapes the template text of every element of `stack` at synthesis (see TemplateTextEscaping). */
export function escapeTemplateTextOf(stack: TerraformStack): void {
  Aspects.of(stack).add(new TemplateTextEscaping());
}
