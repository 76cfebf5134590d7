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

/**
 * A gRPC target, `host:port` as tritonclient's InferenceServerClient takes it (a name, an IPv4 address or a
 * bracketed IPv6 address). Plaintext only, as Triton's --grpc-port serves by default and a port-forward carries.
 */
export function grpcTargetFlag(flag: string, raw: string, example: string): string {
  const match = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(\d{1,5})$/.exec(raw);
  const port = Number(match?.[1]);
  if (!match || port < 1 || port > 65535) {
    const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? ' without a scheme (plaintext gRPC)' : '';
    throw usageError(`--${flag} for --protocol grpc must be host:port${scheme}, such as ${example}, got '${redact(raw)}'`);
  }
  return raw;
}
