/** A loopback HTTP proxy in front of Triton that keeps every exchange's bytes, for byte-for-byte comparisons. */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exchange {
  method: string;
  path: string;
  requestHeaders: http.IncomingHttpHeaders;
  requestBody: Buffer;
  status: number;
  responseHeaders: http.IncomingHttpHeaders;
  responseBody: Buffer;
}

export interface RecordingProxy {
  /** host:port of the proxy (tritonclient's form); `http://${address}` for the project's client. */
  address: string;
  exchanges: Exchange[];
  close(): Promise<void>;
}

const collect = (stream: NodeJS.ReadableStream) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });

export async function recordingProxy(targetPort: number): Promise<RecordingProxy> {
  const exchanges: Exchange[] = [];
  const server = http.createServer(async (req, res) => {
    const requestBody = await collect(req);
    const upstream = http.request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${targetPort}` } },
      async (answer) => {
        const responseBody = await collect(answer);
        exchanges.push({
          method: req.method ?? '',
          path: req.url ?? '',
          requestHeaders: req.headers,
          requestBody,
          status: answer.statusCode ?? 0,
          responseHeaders: answer.headers,
          responseBody,
        });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.end(responseBody);
      },
    );
    upstream.on('error', (err) => {
      res.writeHead(502);
      res.end(String(err));
    });
    upstream.end(requestBody);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
