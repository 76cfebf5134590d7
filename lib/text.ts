/**
 * Control characters (C0, DEL and C1) in text the configuration passes on. Terraform, the API server and the
 * processes that read the values would each treat them differently: a URL parser drops a tab or a newline
 * (WHATWG URL, "remove all ASCII tab or newline"), a NUL ends a C string in a container's environment, and a newline
 * in a path splits the line a shell reads. None belongs in a setting.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function controlCharacterProblem(text: string): string | undefined {
  const match = CONTROL.exec(text);
  if (match === null) return undefined;
  const code = match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
  return `must not contain control characters (found U+${code} at position ${match.index + 1})`;
}
