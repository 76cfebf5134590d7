/**
 * The HTTP side of the client: Triton's KServe v2 routes (GET /v2/health/ready, GET /v2/models/<m>/ready,
 * POST /v2/models/<m>/infer; errors as {"error": "..."}) under one deadline, with each failure turned into a
 * MatchClientError of the right class. Encoding is in kserve-v2.ts, decoding in response-decoder.ts, the exchange
 * itself (no decompression, capped body) in http-transport.ts.
 */
import { ExitCode, MatchClientError } from './errors';
import { type HttpAnswer, type HttpExchange, httpExchange, HttpFailure } from './http-transport';
import { Deadline, type InferenceClient, type InferResult, type ReadyStatus } from './inference-client';
import type { EncodedRequest } from './kserve-v2';
import { DEFAULT_MAX_MATCHES, maxResponseBytes, responseTooLarge } from './limits';
import { decodeHttpInferBody, INFERENCE_HEADER_CONTENT_LENGTH } from './response-decoder';

export { Deadline, type ReadyStatus } from './inference-client';

/** Text of an error body: Triton's {"error": "..."} message when present, else a short excerpt. */
export function errorDetail(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown } | null;
    if (typeof parsed?.error === 'string') return parsed.error;
  } catch {
    // not JSON: fall through to the raw excerpt
  }
  const trimmed = text.trim();
  return trimmed.length > 300 ? `${trimmed.slice(0, 300)}...` : trimmed;
}

/** Where to send requests, and the Basic credentials taken out of the URL (fetch refuses URLs that carry them). */
export interface Endpoint {
  /** http(s) URL without credentials: safe to print. */
  url: string;
  /** `Basic …` header value when --url had user:password@. */
  authorization?: string;
}

/** Splits credentials off a URL; the returned `url` never contains them. */
export function toEndpoint(raw: URL): Endpoint {
  const url = new URL(raw.href);
  let authorization: string | undefined;
  if (url.username !== '' || url.password !== '') {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  // URL.href always ends a bare origin with '/': drop it so path prefixes (ingress) stay exactly as given.
  return { url: url.href.replace(/\/+$/, ''), authorization };
}

/** Connection codes of a peer that closed a kept-alive connection before answering (Node net). */
const DROPPED_CONNECTION = new Set(['ECONNRESET', 'EPIPE']);

const PORT_FORWARD_HINT =
  'is the server running? For the in-cluster service, forward it first: ' +
  'kubectl --namespace <your namespace setting> port-forward service/omniglue-triton 8000:8000 (the omniglue-serving stack\'s port-forward-command output has it with your namespace)';

export class KServeV2Client implements InferenceClient {
  private readonly base: string;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly deadline: Deadline,
    /** Bounds every response body (limits.ts maxResponseBytes). */
    private readonly maxMatches: number = DEFAULT_MAX_MATCHES,
  ) {
    this.base = endpoint.url.replace(/\/+$/, ''); // keep any path prefix (ingress), drop trailing slashes
  }

  private timeout(what: string): MatchClientError {
    return new MatchClientError(
      `${what}: the run took longer than --timeout-ms ${this.deadline.totalMs} ms (readiness checks and inference together)`,
      ExitCode.Timeout,
      'raise --timeout-ms (the first request after a model load can be slow)',
    );
  }

  /**
   * One exchange within what is left of the run's deadline; failures become MatchClientErrors of the right class.
   * `idempotent` requests (GETs) are sent once more when the server dropped a kept-alive connection: a server may
   * close an idle connection just as the client reuses it (RFC 9112 section 9.3.1).
   */
  private async send(path: string, init: Pick<HttpExchange, 'method' | 'body'> & { headers?: Record<string, string>; idempotent?: boolean }): Promise<HttpAnswer> {
    const url = `${this.base}${path}`;
    const what = `${init.method} ${url}`;
    for (let attempt = 1; ; attempt++) {
      const remaining = Math.floor(this.deadline.remainingMs());
      if (remaining <= 0) throw this.timeout(what);
      let answer: HttpAnswer;
      try {
        // identity: the binary decoder must see the exact bytes Inference-Header-Content-Length describes, and
        // compressing ~2 MB of pixels/floats on loopback or a port-forward costs more than it saves.
        const headers: Record<string, string> = {
          'Accept-Encoding': 'identity',
          ...(this.endpoint.authorization ? { Authorization: this.endpoint.authorization } : {}),
          ...init.headers,
        };
        answer = await httpExchange({ method: init.method, url, headers, body: init.body, signal: AbortSignal.timeout(remaining),
          maxBytes: maxResponseBytes(this.maxMatches) });
      } catch (err) {
        if (!(err instanceof HttpFailure)) throw err;
        if (err.kind === 'timeout') throw this.timeout(what);
        if (err.kind === 'too-large') throw responseTooLarge(what, this.maxMatches);
        if (err.kind === 'encoding') {
          throw new MatchClientError(
            `${what} answered HTTP ${err.status} with Content-Encoding '${err.message.slice(0, 40)}', although the client ` +
              'asked for identity (Accept-Encoding: identity); the body was not read, let alone decompressed',
            ExitCode.BadResponse,
            'a proxy between the client and Triton compresses responses; try the Triton service directly (port-forward)',
          );
        }
        const dropped = err.beforeResponse && err.code !== undefined && DROPPED_CONNECTION.has(err.code);
        if (dropped && init.idempotent && attempt === 1) continue;
        const retried = dropped && init.idempotent ? ', also when sent again' : '';
        const code = err.code && !err.message.includes(err.code) ? ` (${err.code})` : '';
        throw new MatchClientError(`cannot reach Triton at ${this.base} (${what}: ${err.message}${code}${retried})`, ExitCode.Unreachable,
          PORT_FORWARD_HINT);
      }
      if (answer.status >= 300 && answer.status < 400) {
        // The v2 protocol has no redirects; following one would turn a POST into a GET (301/302) or loop.
        const location = answer.headers.location;
        throw new MatchClientError(
          `${what} answered HTTP ${answer.status}, a redirect${location ? ` to '${redact(location)}'` : ''}; ` +
            'the inference protocol has no redirects',
          ExitCode.BadResponse,
          'pass the address it redirects to (often https:// instead of http://) as --url',
        );
      }
      return answer;
    }
  }

  private async ready(path: string): Promise<ReadyStatus> {
    const { status, body } = await this.send(path, { method: 'GET', idempotent: true });
    const text = body.toString('utf8');
    if (status < 200 || status > 299) return { ready: false, answer: `HTTP ${status}`, detail: errorDetail(text) || undefined };
    // Triton answers 200 with an empty body; some KServe servers answer {"ready": false} with 200.
    try {
      if ((JSON.parse(text) as { ready?: unknown } | null)?.ready === false) return { ready: false, answer: `HTTP ${status}` };
    } catch {
      // empty or non-JSON body: the status code is the answer
    }
    return { ready: true, answer: `HTTP ${status}` };
  }

  serverReady(): Promise<ReadyStatus> {
    return this.ready('/v2/health/ready');
  }

  modelReady(model: string): Promise<ReadyStatus> {
    return this.ready(`/v2/models/${encodeURIComponent(model)}/ready`);
  }

  async infer(model: string, request: EncodedRequest): Promise<InferResult> {
    const path = `/v2/models/${encodeURIComponent(model)}/infer`;
    const started = performance.now();
    const answer = await this.send(path, { method: 'POST', headers: request.headers, body: request.body });
    const roundTripMs = performance.now() - started;
    if (answer.status < 200 || answer.status > 299) {
      const detail = errorDetail(answer.body.toString('utf8')) || `HTTP ${answer.status}`;
      throw new MatchClientError(`inference failed: HTTP ${answer.status} from POST ${this.base}${path}: ${detail}`,
        ExitCode.Http);
    }
    const headerLength = answer.headers[INFERENCE_HEADER_CONTENT_LENGTH.toLowerCase()];
    return { tensors: decodeHttpInferBody(answer.body, typeof headerLength === 'string' ? headerLength : null), roundTripMs };
  }
}

/** Hides the user:password of a URL-like text (for URLs the user did not type, and for unparsable --url values). */
export function redact(text: string): string {
  return text.replace(/(\/\/)[^/@\s]*@/g, '$1***@');
}
