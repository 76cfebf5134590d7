/**
 * A gRPC server written at the HTTP/2 level (node:http2), for the faults a real gRPC library will not produce:
 * messages that are compressed under the wrong encoding or not at all, bombs, truncated frames, bytes that are not a
 * protobuf, missing statuses, reset streams. Readiness RPCs answer "ready"; ModelInfer answers what the test scripts.
 * Framing (grpc/grpc doc/PROTOCOL-HTTP2.md): each message is a 1-byte compressed flag, a 4-byte big-endian length
 * and the bytes; the status comes in trailers (grpc-status, grpc-message).
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as protobuf from 'protobufjs';

const root = new protobuf.Root().loadSync(join(__dirname, '..', '..', 'scripts', 'match', 'proto', 'grpc_service.proto'), { keepCase: true });
const ready = (type: string) => Buffer.from(root.lookupType(type).encode({ ready: true }).finish());

export interface ScriptedAnswer {
  /** Response headers besides :status 200 and content-type application/grpc (e.g. grpc-encoding). */
  headers?: Record<string, string>;
  /** The DATA bytes as sent: use grpcFrame() for well-formed messages. */
  data?: Buffer;
  /** Trailers; absent = none (the stream just ends). */
  trailers?: Record<string, string>;
  /** Instead of answering: reset the stream with this HTTP/2 code, or drop the whole connection. */
  abort?: 'rst' | 'drop';
}

export function grpcFrame(message: Buffer, compressed = false): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

export const OK_TRAILERS = { 'grpc-status': '0' };

export interface RawGrpcServer {
  url: string;
  close(): Promise<void>;
}

/** `readiness` may script ServerReady and ModelReady too (undefined: answer "ready"). */
export async function startRawGrpcServer(
  infer: () => ScriptedAnswer,
  readiness: (method: string) => ScriptedAnswer | undefined = () => undefined,
): Promise<RawGrpcServer> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    stream.on('data', () => undefined);
    stream.on('end', () => {
      const path = String(headers[':path']);
      const method = path.split('/').pop() ?? '';
      const answer: ScriptedAnswer = method === 'ModelInfer'
        ? infer()
        : (readiness(method) ?? { data: grpcFrame(ready(`inference.${method}Response`)), trailers: OK_TRAILERS });
      if (answer.abort === 'drop') return stream.session?.destroy();
      if (answer.abort === 'rst') return stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      const trailers = answer.trailers;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...answer.headers }, { waitForTrailers: trailers !== undefined });
      if (trailers) stream.on('wantTrailers', () => stream.sendTrailers(trailers));
      stream.end(answer.data ?? Buffer.alloc(0));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}
