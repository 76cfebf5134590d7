/**
 * The gRPC side of the client: GRPCInferenceService's ServerReady, ModelReady and ModelInfer on @grpc/grpc-js,
 * under the same deadline, limits and exit codes as the HTTP side (triton-client.ts).
 *
 * Which side produced a failure decides its exit code, as it does over HTTP (a refused connection is 4, an error
 * answer from the server is 6). gRPC reports both as a status, so the statuses grpc-js makes itself are told apart
 * by their text: grpc-js is pinned to one version, whose sources are cited per rule, and test/match-client-grpc*
 * produce each of them against a loopback server.
 */
import * as grpc from '@grpc/grpc-js';
import { ExitCode, MatchClientError } from './errors';
import { type Deadline, type InferenceClient, type InferResult, type ReadyStatus } from './inference-client';
import type { EncodedRequest } from './kserve-v2';
import { responseTooLarge } from './limits';
import { decodeGrpcInferResponse, decodeMessage, encodeMessage, rpc } from './grpc-protocol';

const Status = grpc.status;
const STATUS_NAME = Object.fromEntries(Object.entries(Status).map(([name, code]) => [code, name])) as Record<number, string>;

type Cause = 'transport' | 'too-large' | 'protocol' | 'timeout' | 'server';

/**
 * Statuses that grpc-js 1.14.7 makes itself (build/src file: origin). Any other status came from the server.
 * - transport: picker.js 'No connection established' (connect refused, DNS), subchannel-call.js onDisconnect
 *   'Connection dropped', its RST_STREAM REFUSED_STREAM mapping and socket errors (ECONNRESET, ETIMEDOUT), its write
 *   errors, load-balancing-call.js 'Failed to start HTTP/2 stream', internal-channel.js 'Channel closed'.
 * - too-large: stream-decoder.js 'Received message larger than max', compression-filter.js 'Received message that
 *   decompresses to a size larger than' (both against grpc.max_receive_message_length).
 * - protocol: compression-filter.js 'Failed to decompress', subchannel-call.js 'Received RST_STREAM' and 'No status
 *   information received', client.js 'No message received' and 'Too many responses received'.
 */
const GRPC_JS_STATUSES: Array<{ code: number; details: RegExp; cause: Cause }> = [
  { code: Status.UNAVAILABLE, details: /^(No connection established|Connection dropped$|Stream refused by server$|Failed to start HTTP\/2 stream|Channel closed|Write (error|failed))|\b(ECONNRESET|ETIMEDOUT|EPIPE)\b/, cause: 'transport' },
  { code: Status.RESOURCE_EXHAUSTED, details: /^Received message (larger than max|that decompresses to a size larger than)/, cause: 'too-large' },
  { code: Status.INTERNAL, details: /^(Failed to decompress|Received RST_STREAM with code)/, cause: 'protocol' },
  { code: Status.UNKNOWN, details: /^No status information received$/, cause: 'protocol' },
  { code: Status.UNIMPLEMENTED, details: /^(No message received|Too many responses received)$/, cause: 'protocol' },
];

export interface GrpcFailure {
  code?: number;
  details?: string;
}

export function causeOf(err: GrpcFailure): Cause {
  // compression-filter.js rejects a message it has no decoder for (an unknown grpc-encoding, or the compressed flag
  // under identity) with a bare Error that reaches the callback without a status code.
  if (typeof err.code !== 'number') return 'protocol';
  if (err.code === Status.DEADLINE_EXCEEDED) return 'timeout';
  return GRPC_JS_STATUSES.find((s) => s.code === err.code && s.details.test(err.details ?? ''))?.cause ?? 'server';
}

/** `gRPC status 14 UNAVAILABLE`: the load generator's error classes read the name back (loadtest/stats.ts). */
export function statusText(err: GrpcFailure): string {
  return typeof err.code === 'number' ? `gRPC status ${err.code} ${STATUS_NAME[err.code] ?? 'UNKNOWN'}` : 'no gRPC status';
}

const GRPC_PORT_FORWARD_HINT =
  "is the server running, and is this Triton's gRPC port (8001; 8000 is HTTP)? For the in-cluster service, forward it " +
  'first: kubectl --namespace <your namespace setting> port-forward service/omniglue-triton 8001:8001 (the omniglue-serving stack\'s port-forward-command output has it with your namespace)';

/** grpc-js's own Client with identity (de)serializers: messages are encoded and decoded in grpc-protocol.ts. */
export function grpcChannel(target: string, maxResponseBytes: number): grpc.Client {
  return new grpc.Client(target, grpc.credentials.createInsecure(), {
    // Also caps decompression: compression-filter.js counts decompressed bytes against it.
    'grpc.max_receive_message_length': maxResponseBytes,
  });
}

export class TritonGrpcClient implements InferenceClient {
  constructor(
    private readonly channel: grpc.Client,
    /** host:port, for messages. */
    private readonly target: string,
    private readonly deadline: Deadline,
    private readonly maxMatches: number,
  ) {}

  private failure(name: string, err: GrpcFailure, cause: Cause, retried = false): MatchClientError {
    const what = `${name} at ${this.target}`;
    const reason = `${statusText(err)}${err.details ? `: ${err.details}` : ''}`;
    const classes: Record<Exclude<Cause, 'server'>, () => MatchClientError> = {
      timeout: () => new MatchClientError(
        `${what}: the run took longer than --timeout-ms ${this.deadline.totalMs} ms (readiness checks and inference together)`,
        ExitCode.Timeout, 'raise --timeout-ms (the first request after a model load can be slow)'),
      transport: () => new MatchClientError(`cannot reach Triton at ${this.target} (${what}: ${reason}${retried ? ', also when sent again' : ''})`,
        ExitCode.Unreachable, GRPC_PORT_FORWARD_HINT),
      'too-large': () => responseTooLarge(what, this.maxMatches),
      protocol: () => new MatchClientError(`malformed inference response: ${what} broke the gRPC protocol (${reason})`, ExitCode.BadResponse,
        'a proxy between the client and Triton may mangle HTTP/2; try the Triton service directly (port-forward)'),
    };
    return cause === 'server'
      ? new MatchClientError(`inference failed: ${statusText(err)} from ${what}${err.details ? `: ${err.details}` : ''}`, ExitCode.Http)
      : classes[cause]();
  }

  /** One unary call within what is left of the deadline; resolves with the response bytes or rejects with grpc-js's error. */
  private call(name: string, request: Uint8Array): Promise<Buffer> {
    const remaining = Math.floor(this.deadline.remainingMs());
    if (remaining <= 0) return Promise.reject({ code: Status.DEADLINE_EXCEEDED, details: 'no time left' } satisfies GrpcFailure);
    const identity = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new Promise((resolve, reject) => {
      this.channel.makeUnaryRequest(rpc(name).path, identity, (b: Buffer) => b, request, new grpc.Metadata(),
        { deadline: Date.now() + remaining }, (err, response) => (err || !response ? reject(err ?? {}) : resolve(response)));
    });
  }

  /**
   * A readiness RPC: `ready: false`, or an error status from the server, means "not ready". Triton 2.51 answers an
   * unknown model with ready: false (test/engines/match-grpc.test.ts); its handler passes on any error of
   * TRITONSERVER_ServerModelIsReady as the status (server src/grpc/grpc_server.cc RegisterModelReady), e.g.
   * "Server not ready" (UNAVAILABLE, core src/server.cc ModelIsReady). A dropped connection is retried once, as the
   * HTTP side retries its GETs: the RPCs are idempotent.
   */
  private async ready(name: 'ServerReady' | 'ModelReady', fields: Record<string, unknown>): Promise<ReadyStatus> {
    const method = rpc(name);
    const request = encodeMessage(method.requestType, fields);
    for (let attempt = 1; ; attempt++) {
      let bytes: Buffer;
      try {
        bytes = await this.call(name, request);
      } catch (e) {
        const err = e as GrpcFailure;
        const cause = causeOf(err);
        const dropped = cause === 'transport' && !/^No connection established/.test(err.details ?? '');
        if (dropped && attempt === 1) continue;
        if (cause !== 'server') throw this.failure(name, err, cause, dropped);
        return { ready: false, answer: statusText(err), detail: err.details || undefined };
      }
      const ready = decodeMessage(method.responseType, bytes).ready === true;
      return ready ? { ready, answer: 'ready: true' } : { ready, answer: 'ready: false' };
    }
  }

  serverReady(): Promise<ReadyStatus> {
    return this.ready('ServerReady', {});
  }

  modelReady(model: string): Promise<ReadyStatus> {
    return this.ready('ModelReady', { name: model });
  }

  async infer(_model: string, request: EncodedRequest): Promise<InferResult> {
    // The model's name is inside the encoded ModelInferRequest (grpc-protocol.ts encodeGrpcInferRequest).
    const started = performance.now();
    let bytes: Buffer;
    try {
      bytes = await this.call('ModelInfer', request.body as Uint8Array);
    } catch (e) {
      const err = e as GrpcFailure;
      throw this.failure('ModelInfer', err, causeOf(err));
    }
    const roundTripMs = performance.now() - started;
    return { tensors: decodeGrpcInferResponse(bytes), roundTripMs };
  }
}
