/**
 * What the match client and the load generator need from Triton, whichever protocol carries it: readiness, one
 * inference, and one deadline. triton-client.ts speaks it over HTTP (KServe v2), grpc-client.ts over gRPC
 * (GRPCInferenceService); connect.ts picks one.
 */
import type { EncodedRequest } from './kserve-v2';
import type { DecodedTensor } from './response-decoder';

export interface ReadyStatus {
  ready: boolean;
  /** What the server answered, for messages: `HTTP 400`, `gRPC status 5 NOT_FOUND`, `ready: false`. */
  answer: string;
  /** Server's error message or a body excerpt, when not ready. */
  detail?: string;
}

export interface InferResult {
  /** The outputs in the order the server listed them, not yet checked by name (response-decoder.ts outputsByName). */
  tensors: DecodedTensor[];
  /** Round trip of the inference request (encoding and decoding excluded). */
  roundTripMs: number;
}

export interface InferenceClient {
  serverReady(): Promise<ReadyStatus>;
  modelReady(model: string): Promise<ReadyStatus>;
  /** One inference request, never re-sent: it costs a GPU run. */
  infer(model: string, request: EncodedRequest): Promise<InferResult>;
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
