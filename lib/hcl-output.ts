import { TerraformStack } from 'cdktf';

/**
 * Makes `cdktf synth --hcl` (the exit path from cdktf) write every multi-line string with the value it has in the
 * JSON output.
 *
 * cdktf 0.21's renderer (cdktf/lib/hcl/render.js, renderString) writes a string with line breaks as
 * `<<EOF\n${lines.join("\n")}\nEOF`. A heredoc's value is each of its lines with its newline (HCL native syntax
 * specification, "Template Expressions", heredoc templates), so the value gains a newline: every ConfigMap file and
 * Helm values document would differ from the JSON by a trailing "\n" (an update on the first plan after switching,
 * and a new Helm revision). A line `EOF` in the string would end the heredoc early, and `\r\n` becomes `\n`.
 *
 * Each such heredoc is found verbatim, from the stack's own JSON configuration, and replaced: by a heredoc without
 * the extra newline when the string ends with one, else by a quoted string with HCL escapes. One-line strings with a
 * backslash get the same treatment (rewriteQuotedStrings). `${` and `%{` are left as they are: Terraform reads JSON
 * strings as templates too, so they mean the same in both outputs. Any other difference is caught by
 * test/hcl-round-trip.test.ts, which parses the HCL back.
 */
export function writeExactHclStrings(stack: TerraformStack): void {
  const render = stack.toHclTerraform.bind(stack);
  stack.toHclTerraform = () => {
    const rendered = render();
    const strings = stringsOf(stack.toTerraform());
    return { ...rendered, hcl: rewriteQuotedStrings(rewriteHeredocs(rendered.hcl, strings), strings) };
  };
}

/** Replaces cdktf's heredoc of each string by an exact literal; longest first, so no replacement cuts into another. */
export function rewriteHeredocs(hcl: string, strings: Iterable<string>): string {
  let result = hcl;
  const multiline = [...new Set(strings)].filter((text) => /[\n\r]/.test(text));
  for (const text of multiline.sort((a, b) => b.length - a.length)) {
    // In a list cdktf follows the heredoc with `,` on the closing line, which no heredoc can be: quote it there.
    result = result.split(`${cdktfHeredoc(text)},`).join(`${quotedHclString(text)},`);
    result = result.split(cdktfHeredoc(text)).join(exactHclString(text));
  }
  return result;
}

/** What cdktf's renderString writes for a string with line breaks. */
export function cdktfHeredoc(text: string): string {
  return `<<EOF\n${text.split(/\r\n|[\n\r]/).join('\n')}\nEOF`;
}

/** An HCL literal whose value is exactly `text` (template sequences `${`/`%{` keep their template meaning). */
export function exactHclString(text: string): string {
  if (text.endsWith('\n') && !text.includes('\r')) {
    const lines = text.split('\n');
    let delimiter = 'EOF';
    for (let n = 1; lines.some((line) => line.trim().startsWith(delimiter)); n++) delimiter = `EOF${n}`;
    return `<<${delimiter}\n${text}${delimiter}`;
  }
  return quotedHclString(text);
}

const QUOTED_ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** A quoted HCL string literal of `text`, its backslashes, quotes and line breaks escaped. */
export function quotedHclString(text: string): string {
  return `"${text.replace(/[\\"\n\r\t]/g, (c) => QUOTED_ESCAPES[c])}"`;
}

/**
 * Replaces cdktf's quoted form of each one-line string with a backslash by an exact literal. cdktf escapes only the
 * quotes not already behind a backslash (render.js, escapeQuotes), so HCL reads `\b` as an invalid escape and `\n`
 * as a newline. cdktf writes such a string at the end of its own line (`name = "…"`, or `"…",` in a list), so only
 * line ends outside heredocs are replaced; strings with `${` are left to cdktf, which writes them as expressions.
 */
export function rewriteQuotedStrings(hcl: string, strings: Iterable<string>): string {
  const replacements = new Map<string, string>();
  for (const text of new Set(strings)) {
    if (text.includes('\\') && !/[\n\r]/.test(text) && !text.includes('${')) replacements.set(`"${text.replace(/(?<!\\)"/g, '\\"')}"`, quotedHclString(text));
  }
  if (replacements.size === 0) return hcl;
  let heredocEnd: string | undefined;
  return hcl
    .split('\n')
    .map((line) => {
      if (heredocEnd !== undefined) {
        if (line.trim() === heredocEnd) heredocEnd = undefined;
        return line;
      }
      const opener = /<<-?([A-Za-z_][\w-]*)$/.exec(line);
      if (opener !== null) {
        heredocEnd = opener[1];
        return line;
      }
      for (const [rendered, exact] of replacements) {
        for (const tail of [rendered, `${rendered},`]) {
          const prefix = line.slice(0, line.length - tail.length);
          if (line.endsWith(tail) && (prefix.trim() === '' || prefix.endsWith('= '))) return `${prefix}${exact}${tail.slice(rendered.length)}`;
        }
      }
      return line;
    })
    .join('\n');
}

function stringsOf(value: unknown, found: string[] = []): string[] {
  if (typeof value === 'string') found.push(value);
  else if (Array.isArray(value)) for (const item of value) stringsOf(item, found);
  else if (typeof value === 'object' && value !== null) for (const item of Object.values(value)) stringsOf(item, found);
  return found;
}
