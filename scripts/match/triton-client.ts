/**
 * The HTTP side of the client: Triton's KServe v2 routes (GET /v2/health/ready, GET /v2/models/<m>/ready,
 * POST /v2/models/<m>/infer; errors as {"error": "..."}) under one deadline, with each failure turned into a
 * MatchClientError of the right class. Encoding and decoding are in kserve-v2.ts.
 */
import { ExitCode, isErrorLike, MatchClientError, reasonOf } from './errors';
import { decodeInferResponse, type DecodedTensor, type EncodedRequest, INFERENCE_HEADER_CONTENT_LENGTH } from './kserve-v2';

export interface ReadyStatus {
  ready: boolean;
  status: number;
  /** Server's {"error"} message or a body excerpt, when not ready. */
  detail?: string;
}

/** Text of an error body: Triton's {"error": "..."} message when present, else a short excerpt. */
export function errorDetail(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: fall through to the raw excerpt
  }
  const trimmed = text.trim();
  return trimmed.length > 300 ? `${trimmed.slice(0, 300)}...` : trimmed;
}

/** One deadline for the whole run: every request gets what is left of it (--timeout-ms). */
export class Deadline {
  private readonly endsAt: number;

  constructor(readonly totalMs: number) {
    this.endsAt = performance.now() + totalMs;
  }

  remainingMs(): number {
    return this.endsAt - performance.now();
  }
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

/** Connection codes of a peer that closed a kept-alive connection before answering (undici, Node net). */
const DROPPED_CONNECTION = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

function causeOf(err: unknown): { code?: string; message: string } {
  const cause = isErrorLike(err) && err.cause !== undefined ? err.cause : err;
  const code = isErrorLike(cause) && typeof cause.code === 'string' ? cause.code : undefined;
  return { code, message: reasonOf(cause) };
}

/** A body that arrived but does not decode (undici reports zlib's Z_* errors for a bad Content-Encoding). */
function isDecodingError(err: unknown): boolean {
  const { code } = causeOf(err);
  return code !== undefined && (code.startsWith('Z_') || code.startsWith('ERR_ZLIB') || code === 'ERR_BROTLI_DECOMPRESSION_FAILED');
}

const PORT_FORWARD_HINT =
  'is the server running? For the in-cluster service, forward it first: ' +
  'kubectl --namespace omniglue port-forward service/omniglue-triton 8000:8000 (or the port-forward-command output of the omniglue-serving stack)';

export class KServeV2Client {
  private readonly base: string;

  constructor(private readonly endpoint: Endpoint, private readonly deadline: Deadline) {
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
   * fetch + body read within what is left of the run's deadline; failures become MatchClientErrors of the right
   * class. `idempotent` requests (GETs) are sent once more when the server dropped a kept-alive connection:
   * a server may close an idle connection just as the client reuses it (RFC 9112 section 9.3.1).
   */
  private async send(path: string, init: RequestInit & { idempotent?: boolean }): Promise<{ response: Response; body: Uint8Array }> {
    const url = `${this.base}${path}`;
    const what = `${init.method ?? 'GET'} ${url}`;
    for (let attempt = 1; ; attempt++) {
      const remaining = Math.floor(this.deadline.remainingMs());
      if (remaining <= 0) throw this.timeout(what);
      let response: Response | undefined;
      try {
        // identity: the binary decoder must see the exact bytes Inference-Header-Content-Length describes, and
        // compressing ~2 MB of pixels/floats on loopback or a port-forward costs more than it saves.
        const headers: Record<string, string> = {
          'Accept-Encoding': 'identity',
          ...(this.endpoint.authorization ? { Authorization: this.endpoint.authorization } : {}),
          ...(init.headers as Record<string, string> | undefined),
        };
        // manual: the v2 protocol has no redirects; following one would turn a POST into a GET (301/302) or loop.
        response = await fetch(url, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(remaining) });
        if (response.status >= 300 && response.status < 400) {
          await response.body?.cancel();
          const location = response.headers.get('location');
          throw new MatchClientError(
            `${what} answered HTTP ${response.status}, a redirect${location ? ` to '${redact(location)}'` : ''}; ` +
              'the inference protocol has no redirects',
            ExitCode.BadResponse,
            'pass the address it redirects to (often https:// instead of http://) as --url',
          );
        }
        const body = new Uint8Array(await response.arrayBuffer());
        return { response, body };
      } catch (err) {
        if (err instanceof MatchClientError) throw err;
        if (isErrorLike(err) && (err.name === 'TimeoutError' || err.name === 'AbortError')) throw this.timeout(what);
        const cause = causeOf(err);
        if (response !== undefined && isDecodingError(err)) {
          const encoding = response.headers.get('content-encoding') ?? 'none';
          throw new MatchClientError(
            `${what} answered HTTP ${response.status} with a body that does not decode (Content-Encoding ${encoding}: ${cause.message})`,
            ExitCode.BadResponse,
            'a proxy between the client and Triton mangles the response; try the Triton service directly (port-forward)',
          );
        }
        const dropped = response === undefined && cause.code !== undefined && DROPPED_CONNECTION.has(cause.code);
        if (dropped && init.idempotent && attempt === 1) continue;
        // fetch reports every network failure as TypeError('fetch failed'); the useful part is in `cause`.
        const retried = dropped && init.idempotent ? ', also when sent again' : '';
        throw new MatchClientError(`cannot reach Triton at ${this.base} (${what}: ${cause.message}${retried})`, ExitCode.Unreachable,
          PORT_FORWARD_HINT);
      }
    }
  }

  private async ready(path: string): Promise<ReadyStatus> {
    const { response, body } = await this.send(path, { method: 'GET', idempotent: true });
    const text = Buffer.from(body).toString('utf8');
    if (!response.ok) return { ready: false, status: response.status, detail: errorDetail(text) || undefined };
    // Triton answers 200 with an empty body; some KServe servers answer {"ready": false} with 200.
    try {
      if ((JSON.parse(text) as { ready?: unknown }).ready === false) return { ready: false, status: response.status };
    } catch {
      // empty or non-JSON body: the status code is the answer
    }
    return { ready: true, status: response.status };
  }

  serverReady(): Promise<ReadyStatus> {
    return this.ready('/v2/health/ready');
  }

  modelReady(model: string): Promise<ReadyStatus> {
    return this.ready(`/v2/models/${encodeURIComponent(model)}/ready`);
  }

  /** One inference request (never re-sent: it costs a GPU run); returns the decoded outputs and the round trip. */
  async infer(model: string, request: EncodedRequest): Promise<{ outputs: Map<string, DecodedTensor>; roundTripMs: number }> {
    const path = `/v2/models/${encodeURIComponent(model)}/infer`;
    const started = performance.now();
    const { response, body } = await this.send(path, { method: 'POST', headers: request.headers, body: request.body });
    const roundTripMs = performance.now() - started;
    if (!response.ok) {
      const detail = errorDetail(Buffer.from(body).toString('utf8')) || response.statusText;
      throw new MatchClientError(`inference failed: HTTP ${response.status} from POST ${this.base}${path}: ${detail}`,
        ExitCode.Http);
    }
    const outputs = decodeInferResponse(body, response.headers.get(INFERENCE_HEADER_CONTENT_LENGTH));
    return { outputs, roundTripMs };
  }
}

/** Hides the user:password of a URL-like text (for URLs the user did not type, and for unparsable --url values). */
export function redact(text: string): string {
  return text.replace(/(\/\/)[^/@\s]*@/g, '$1***@');
}
