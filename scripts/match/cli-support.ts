/** What the match client and the load test share as command-line programs: output, flag parsing, usage errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ExitCode, MatchClientError, reasonOf } from './errors';
import { redact } from './triton-client';

/** Where a CLI writes; the tests pass collectors. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export const consoleIo: Io = { out: (l) => console.log(l), err: (l) => console.error(l) };

export function usageError(message: string): MatchClientError {
  return new MatchClientError(`invalid arguments: ${message}`, ExitCode.Usage, 'run with --help for usage');
}

/** Strict flags, no positionals; a parse failure is a usage error that names the flag. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: false, options }).values;
  } catch (err) {
    // parseArgs' messages already name the offending flag ("Unknown option '--foo'", "Option '--url <value>' ...").
    throw usageError(reasonOf(err).replace(/\s*\(ERR_PARSE_ARGS_\w+\)$/, ''));
  }
}

/** An http(s) URL flag; the message shows the value without credentials. */
export function httpUrlFlag(flag: string, raw: string, example: string): URL {
  let parsed: URL | undefined;
  try {
    parsed = new URL(raw);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw usageError(`--${flag} must be an http(s) URL such as ${example}, got '${redact(raw)}'`);
  }
  return parsed;
}
