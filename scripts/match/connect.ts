/**
 * One place that picks the protocol: an HTTP or a gRPC connection to Triton, handing out clients that share it, each
 * under its own deadline (the match client uses one for the whole run, the load generator one per request).
 */
import { Deadline, type InferenceClient } from './inference-client';
import type { Protocol } from './kserve-v2';
import { maxResponseBytes } from './limits';
import { grpcChannel, TritonGrpcClient } from './grpc-client';
import { KServeV2Client } from './triton-client';

export interface ConnectOptions {
  protocol: Protocol;
  /** http(s) URL without credentials, or host:port for gRPC. */
  url: string;
  /** HTTP Basic credentials taken out of an http(s) --url. */
  authorization?: string;
  /** Bounds every response (limits.ts maxResponseBytes). */
  maxMatches: number;
}

export interface Connection {
  client(deadline: Deadline): InferenceClient;
  /** Closes the gRPC channel (HTTP keeps nothing that needs closing). */
  close(): void;
}

export function connect(options: ConnectOptions): Connection {
  if (options.protocol === 'grpc') {
    const channel = grpcChannel(options.url, maxResponseBytes(options.maxMatches));
    return {
      client: (deadline) => new TritonGrpcClient(channel, options.url, deadline, options.maxMatches),
      close: () => channel.close(),
    };
  }
  const endpoint = { url: options.url, authorization: options.authorization };
  return { client: (deadline) => new KServeV2Client(endpoint, deadline, options.maxMatches), close: () => undefined };
}
