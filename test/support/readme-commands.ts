/**
 * The shell commands of a Markdown document: every line of its ```bash blocks, with comments, trailing `&` and
 * `$( … )` substitutions separated out, split into pipeline stages and words as a shell would.
 */

export interface Command {
  /** The line as written (continuations joined). */
  readonly line: string;
  /** Variables set before the command (`OMNIGLUE_ENV=production npm …`). */
  readonly env: Record<string, string>;
  readonly words: string[];
  /** Further stages of a pipeline (`… | jq …`), as words. */
  readonly filters: string[][];
}

/** Splits at whitespace outside quotes and drops the quotes, as a shell does (no expansion). */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let quote: string | undefined;
  let started = false;
  for (const c of text) {
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (/\s/.test(c)) {
      if (started || current !== '') words.push(current);
      current = '';
      started = false;
    } else {
      current += c;
    }
  }
  if (started || current !== '') words.push(current);
  return words;
}

/** Splits at `sep` outside quotes and `$( … )`. */
function splitOutside(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (text.startsWith('$(', i)) depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0 && quote === undefined && text.startsWith(sep, i)) {
      parts.push(text.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((part) => part.trim()).filter(Boolean);
}

function stripComment(line: string): string {
  // A "#" that starts a word outside quotes starts a comment.
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  return line;
}

function commandsOf(line: string): Command[] {
  const found: Command[] = [];
  for (const statement of splitOutside(line, '&&')) {
    const text = statement.replace(/\s*&$/, '');
    const substitution = /^(\w+)=\$\((.*)\)$/.exec(text);
    if (substitution !== null) {
      found.push(...commandsOf(substitution[2]));
      continue;
    }
    const [first, ...rest] = splitOutside(text, '|');
    const words = shellWords(first);
    const env: Record<string, string> = {};
    while (words.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) {
      const [name, ...value] = words.shift()!.split('=');
      env[name] = value.join('=');
    }
    found.push({ line: text, env, words, filters: rest.map(shellWords) });
  }
  return found;
}

/** Every command of the document's ```bash blocks. */
export function bashCommands(markdown: string): Command[] {
  const blocks = [...markdown.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks.flatMap((block) =>
    block
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .map(stripComment)
      .map((line) => line.trim())
      .filter(Boolean)
      .flatMap(commandsOf),
  );
}
