/**
 * One HTTP/1.1 exchange with a capped body, on node:http(s) rather than fetch: fetch (undici) starts gunzipping or
 * un-brotli-ing a body as soon as the headers arrive, whatever Accept-Encoding asked for, and reads it without a
 * limit. Here nothing is ever decompressed (a Content-Encoding other than identity is refused before the body is
 * read), and a body is read only up to `maxBytes`. Redirects are not followed (node:http never does).
 */
import * as http from 'node:http';
import * as https from 'node:https';

/**
 * Kept-alive connections, as fetch kept them (the load generator sends thousands of requests), closed after 4 s idle
 * as undici closes them: Triton's HTTP server waits for open connections when it shuts down ("Found 1 HTTP service
 * connections", server src/http_server.cc HTTPServer::Stop), up to --exit-timeout-secs, so an idle one held for ever delays it and
 * fails its exit. The timeout closes only idle sockets (Node's Agent destroys a free socket on 'timeout'); a slow
 * inference on a socket in use is not cut.
 */
const IDLE_MS = 4_000;
const AGENTS = {
  'http:': new http.Agent({ keepAlive: true, timeout: IDLE_MS }),
  'https:': new https.Agent({ keepAlive: true, timeout: IDLE_MS }),
};

export interface HttpExchange {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: Uint8Array | string;
  signal: AbortSignal;
  maxBytes: number;
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Why an exchange failed, for the caller to turn into its own error class. */
export class HttpFailure extends Error {
  constructor(
    readonly kind: 'network' | 'timeout' | 'too-large' | 'encoding',
    message: string,
    /** For 'network': the system error code (ECONNREFUSED, ECONNRESET, ...); for others, the status when known. */
    readonly code?: string,
    /** True when the failure came before any response headers (a dropped kept-alive connection can be retried). */
    readonly beforeResponse = false,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HttpFailure';
  }
}

function failureOf(err: unknown, signal: AbortSignal, beforeResponse: boolean): HttpFailure {
  if (err instanceof HttpFailure) return err;
  if (signal.aborted) return new HttpFailure('timeout', 'timed out', undefined, beforeResponse);
  const e = err as { message?: unknown; code?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  return new HttpFailure('network', typeof e?.message === 'string' ? e.message : String(err), code, beforeResponse);
}

export function httpExchange(exchange: HttpExchange): Promise<HttpAnswer> {
  const url = new URL(exchange.url);
  const transport = url.protocol === 'https:' ? https : http;
  const body = exchange.body === undefined ? undefined : typeof exchange.body === 'string' ? Buffer.from(exchange.body) : exchange.body;
  return new Promise<HttpAnswer>((resolve, reject) => {
    let responded = false;
    const fail = (err: unknown) => reject(failureOf(err, exchange.signal, !responded));
    const request = transport.request(
      url,
      {
        method: exchange.method,
        agent: AGENTS[url.protocol as 'http:' | 'https:'],
        signal: exchange.signal,
        headers: { ...exchange.headers, ...(body ? { 'Content-Length': String(body.byteLength) } : {}) },
      },
      (response) => {
        responded = true;
        const status = response.statusCode ?? 0;
        const encoding = response.headers['content-encoding'];
        if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
          response.destroy();
          reject(new HttpFailure('encoding', encoding, undefined, false, status));
          return;
        }
        const announced = Number(response.headers['content-length']);
        if (Number.isFinite(announced) && announced > exchange.maxBytes) {
          response.destroy();
          reject(new HttpFailure('too-large', `Content-Length ${announced}`, undefined, false, status));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > exchange.maxBytes) {
            // Rejected first: destroying the response also reports it as aborted, which must not win.
            reject(new HttpFailure('too-large', `over ${exchange.maxBytes} bytes`, undefined, false, status));
            response.destroy();
            return;
          }
          chunks.push(chunk);
        });
        response.on('error', fail);
        // 'aborted' without 'error': the peer closed the connection mid-body (Node 20 emits both in some paths).
        response.on('aborted', () => fail(Object.assign(new Error('the server closed the connection mid-response'), { code: 'ECONNRESET' })));
        response.on('end', () => {
          if (!response.complete) return; // 'aborted' reports it
          resolve({ status, headers: response.headers, body: Buffer.concat(chunks, size) });
        });
      },
    );
    request.on('error', fail);
    request.end(body);
  });
}
