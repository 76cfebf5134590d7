/**
 * Error type and exit codes of the match client.
 *
 * Every failure the user can act on is a MatchClientError carrying its own exit code, so scripts (and the tests)
 * can tell "fix your flags" from "the server is down" from "the server answered nonsense" without parsing text.
 * The codes are documented in docs/client.md; keep the two in sync.
 */

export const ExitCode = {
  /** Matches computed (possibly zero after --min-confidence) and every requested file written. */
  Ok: 0,
  /** A bug in the client: an exception that is not a MatchClientError. */
  Internal: 1,
  /** Invalid or missing command-line flag. */
  Usage: 2,
  /** An input image cannot be read or decoded, or breaks a documented input limit (size, aspect ratio, request size). */
  Image: 3,
  /** Nothing answers at --url (connection refused, DNS failure, connection dropped). */
  Unreachable: 4,
  /** The server answers but the model (or the server) is not ready. */
  NotReady: 5,
  /**
   * The inference got an error answer from the server: an HTTP error status (Triton's {"error": "..."} message is
   * shown) or a gRPC status the server sent (grpc-client.ts tells those from grpc-js's own).
   */
  Http: 6,
  /**
   * Protocol error: a body that breaks the protocol or the output contract, is over its size bound, comes under a
   * Content-Encoding that was not asked for, does not decode, or a redirect.
   */
  BadResponse: 7,
  /** --out or --json cannot be written (written atomically: nothing partial is left). */
  Output: 8,
  /** The run (readiness checks and inference together) took longer than --timeout-ms. */
  Timeout: 9,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class MatchClientError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    /** Optional next step for the user, printed on its own line after the message. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'MatchClientError';
  }
}

/**
 * Duck-typed rather than `instanceof Error`: errors thrown by Node internals (fetch's TypeError, fs errors) come
 * from another realm when the code runs inside a VM context such as Jest's, where `instanceof Error` is false.
 */
export interface ErrorLike {
  name: string;
  message: string;
  code?: unknown;
  cause?: unknown;
}

export function isErrorLike(value: unknown): value is ErrorLike {
  return typeof value === 'object' && value !== null && typeof (value as ErrorLike).message === 'string';
}

/** Short reason from any thrown value, for wrapping low-level errors (sharp, fs, fetch) into our messages. */
export function reasonOf(err: unknown): string {
  if (isErrorLike(err)) {
    const code = typeof err.code === 'string' ? err.code : undefined;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
