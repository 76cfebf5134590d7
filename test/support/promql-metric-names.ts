/**
 * The metric names a PromQL expression selects, by a small lexer over the PromQL grammar (prometheus/prometheus
 * promql/parser/lex.go): string literals, label matchers `{…}`, ranges `[…]`, grouping lists (`by`, `without`, `on`,
 * `ignoring`, `group_left`, `group_right`) and numbers are removed; what remains and is not a function call or a
 * keyword is a metric name. Enough for the expressions of this repository, which promtool parses separately.
 */
const KEYWORDS = new Set(['bool', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'and', 'or', 'unless', 'inf', 'nan', 'atan2']);

export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ')
    .replace(/(^|[^\w:.])(\d+(\.\d+)?([eE][+-]?\d+)?|0x[0-9a-fA-F]+)\b/g, '$1 ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, identifier, call] = match;
    if (call === undefined && !KEYWORDS.has(identifier.toLowerCase())) names.add(identifier);
  }
  return [...names].sort();
}
