import * as fs from 'node:fs';
import * as https from 'node:https';
import type { KeyPair } from './pki';

export interface KubeResponse {
  readonly status: number;
  readonly body: any;
}

/** A Kubernetes object as JSON. */
export type KubeObject = { apiVersion?: string; kind?: string; metadata: { name: string; namespace?: string; uid?: string; [key: string]: any }; [key: string]: any };

/**
 * The few REST calls the harness and the tests make, over mutual TLS to the API server. Requests are bounded by a
 * timeout, so a hung server fails a test instead of stalling it.
 */
export class KubeClient {
  private readonly agent: https.Agent;

  constructor(
    readonly server: string,
    ca: string,
    client: KeyPair,
    private readonly timeoutMs = 30_000,
  ) {
    this.agent = new https.Agent({ ca: fs.readFileSync(ca), cert: fs.readFileSync(client.cert), key: fs.readFileSync(client.key), keepAlive: true });
  }

  request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<KubeResponse> {
    const url = new URL(path, this.server);
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        {
          method,
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: { Accept: 'application/json', ...(payload !== undefined ? { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text === '' ? undefined : JSON.parse(text);
            } catch {
              // Health endpoints answer plain text.
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${this.timeoutMs / 1000} s`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** GET that returns undefined on 404 and throws on any other failure. */
  async get(path: string): Promise<any> {
    const res = await this.request('GET', path);
    if (res.status === 404) return undefined;
    if (res.status >= 300) throw new Error(`GET ${path}: ${res.status} ${describe(res.body)}`);
    return res.body;
  }

  async list(path: string): Promise<KubeObject[]> {
    return ((await this.get(path))?.items ?? []) as KubeObject[];
  }

  /** Server-side apply (idempotent create-or-update) of one object at its resource path. */
  async apply(path: string, object: KubeObject): Promise<any> {
    const res = await this.request('PATCH', `${path}?fieldManager=omniglue-test-harness&force=true`, object, 'application/apply-patch+yaml');
    if (res.status >= 300) throw new Error(`apply ${path}: ${res.status} ${describe(res.body)}`);
    return res.body;
  }

  async create(path: string, object: KubeObject): Promise<KubeResponse> {
    return this.request('POST', path, object);
  }

  async delete(path: string): Promise<KubeResponse> {
    return this.request('DELETE', path);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A Status object's message, or the body as text. */
export function describe(body: unknown): string {
  if (typeof body === 'object' && body !== null && 'message' in body) return String((body as { message: unknown }).message);
  return typeof body === 'string' ? body.slice(0, 500) : JSON.stringify(body)?.slice(0, 500) ?? '';
}

/** A client for the first user and cluster of a kubeconfig with embedded certificates (as pki.ts writes them). */
export function clientFromKubeconfig(file: string, dir: string): KubeClient {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  const cluster = doc.clusters[0].cluster;
  const user = doc.users[0].user;
  const write = (name: string, b64: string) => {
    const target = `${dir}/${name}`;
    fs.writeFileSync(target, Buffer.from(b64, 'base64'), { mode: 0o600 });
    return target;
  };
  fs.mkdirSync(dir, { recursive: true });
  return new KubeClient(cluster.server, write('ca.crt', cluster['certificate-authority-data']), {
    cert: write('client.crt', user['client-certificate-data']),
    key: write('client.key', user['client-key-data']),
  });
}
