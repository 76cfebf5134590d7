/**
 * A stand-in for Triton's HTTP endpoint (127.0.0.1, ephemeral port) that serves the three v2 routes the match
 * client uses and CHECKS every inference request against the KServe v2 protocol and Triton's binary tensor data
 * extension (docs/protocol/extension_binary_data.md) before answering with fixed matches.
 *
 * A request that breaks the protocol is answered HTTP 400 {"error": "fake-triton: ..."} (as Triton would refuse
 * it) and recorded in `violations`, so a test sees both the client failing and why.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FixedMatches {
  kp0: Array<[number, number]>;
  kp1: Array<[number, number]>;
  confidences: number[];
}

export interface ExpectedImage {
  shape: [number, number, 3];
  /** When given, the received bytes must equal these (the test decodes the image independently). */
  data?: Buffer;
}

/** Ways to break the binary response, one per malformed-response check in the client. */
export type Malformation = 'truncated' | 'datatype' | 'byte-length' | 'header-length';

export interface FakeTritonOptions {
  model?: string;
  expected: { image0: ExpectedImage; image1: ExpectedImage };
  matches: FixedMatches;
  serverReadyStatus?: number;
  modelReadyStatus?: number;
  /** Answer the infer route with this status and {"error": message}. */
  inferError?: { status: number; message: string };
  malformed?: Malformation;
  inferDelayMs?: number;
  /** Delay of each readiness answer (GET routes). */
  readyDelayMs?: number;
  /** Close the connection without answering the first N model-readiness requests (a dropped keep-alive connection). */
  dropModelReady?: number;
  /** Answer the infer route with `Content-Encoding: gzip` and a body that is not gzip. */
  badGzip?: boolean;
  /** Answer every route with a 302 to itself. */
  redirectLoop?: boolean;
  /** Close the connection instead of answering an infer request. */
  dropInfer?: boolean;
  /** Answer a valid infer request with exactly these headers and body (a hostile or broken server). */
  rawAnswer?: { status?: number; headers?: Record<string, string>; body: Buffer | string };
}

export interface RecordedRequest {
  method: string;
  path: string;
  protocol?: 'binary' | 'json';
  /** The Authorization header, when one was sent. */
  authorization?: string;
}

export interface FakeTriton {
  url: string;
  requests: RecordedRequest[];
  violations: string[];
  close(): Promise<void>;
}

const OUTPUTS = ['matches_kp0', 'matches_kp1', 'match_confidences'] as const;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

const sameShape = (a: unknown, b: number[]): boolean =>
  Array.isArray(a) && a.length === b.length && a.every((d, i) => d === b[i]);

/** Validates the infer request; returns the protocol it used plus every violation found. */
export function verifyInferRequest(
  req: IncomingMessage,
  body: Buffer,
  expected: FakeTritonOptions['expected'],
): { protocol: 'binary' | 'json'; violations: string[] } {
  const v: string[] = [];
  const contentType = String(req.headers['content-type'] ?? '');
  const headerLength = req.headers['inference-header-content-length'];
  const protocol = headerLength === undefined ? 'json' : 'binary';
  if (req.headers['content-length'] !== String(body.length)) {
    v.push(`Content-Length ${String(req.headers['content-length'])} != body length ${body.length}`);
  }
  if (protocol === 'binary' && contentType !== 'application/octet-stream') v.push(`binary request has Content-Type '${contentType}'`);
  if (protocol === 'json' && !contentType.startsWith('application/json')) v.push(`JSON request has Content-Type '${contentType}'`);

  const jsonLength = protocol === 'binary' ? Number(headerLength) : body.length;
  if (!Number.isInteger(jsonLength) || jsonLength <= 0 || jsonLength > body.length) {
    return { protocol, violations: [...v, `Inference-Header-Content-Length '${String(headerLength)}' inconsistent with body ${body.length}`] };
  }
  let header: { inputs?: Array<Record<string, any>>; outputs?: Array<Record<string, any>> };
  try {
    header = JSON.parse(body.subarray(0, jsonLength).toString('utf8'));
  } catch {
    return { protocol, violations: [...v, 'JSON header does not parse (wrong Inference-Header-Content-Length?)'] };
  }

  const inputs = header.inputs ?? [];
  if (inputs.map((i) => i.name).join(',') !== 'image0,image1') v.push(`inputs are [${inputs.map((i) => i.name).join(',')}]`);
  let offset = jsonLength;
  for (const input of inputs) {
    const exp = expected[input.name as 'image0' | 'image1'];
    if (!exp) continue;
    const size = exp.shape[0] * exp.shape[1] * 3;
    if (input.datatype !== 'UINT8') v.push(`${input.name}: datatype ${input.datatype}`);
    if (!sameShape(input.shape, exp.shape)) v.push(`${input.name}: shape ${JSON.stringify(input.shape)} != ${JSON.stringify(exp.shape)}`);
    let bytes: Buffer;
    if (protocol === 'binary') {
      if (input.parameters?.binary_data_size !== size) v.push(`${input.name}: binary_data_size ${input.parameters?.binary_data_size} != ${size}`);
      bytes = body.subarray(offset, offset + size);
      offset += size;
    } else {
      const data: unknown[] = Array.isArray(input.data) ? input.data : [];
      if (data.length !== size || data.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 255)) {
        v.push(`${input.name}: JSON data is not ${size} integers in 0..255`);
      }
      bytes = Buffer.from(data as number[]);
    }
    if (bytes.length !== size) v.push(`${input.name}: ${bytes.length} bytes, expected ${size}`);
    else if (exp.data && !bytes.equals(exp.data)) v.push(`${input.name}: pixel bytes differ from the decoded image`);
  }
  if (protocol === 'binary' && offset !== body.length) v.push(`body is ${body.length} bytes, header + inputs = ${offset}`);

  const outputs = header.outputs ?? [];
  if (outputs.map((o) => o.name).sort().join(',') !== [...OUTPUTS].sort().join(',')) {
    v.push(`outputs requested: [${outputs.map((o) => o.name).join(',')}]`);
  }
  for (const out of outputs) {
    const binary = out.parameters?.binary_data === true;
    if (protocol === 'binary' && !binary) v.push(`output ${out.name} not requested with binary_data: true`);
    if (protocol === 'json' && binary) v.push(`JSON request asks for binary output ${out.name}`);
  }
  return { protocol, violations: v };
}

function float32Le(values: number[]): Buffer {
  const buf = Buffer.alloc(values.length * 4);
  values.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf;
}

/** Response tensors in the order Triton would list them (the requested order). */
function responseTensors(m: FixedMatches): Array<{ name: string; shape: number[]; values: number[] }> {
  const k = m.confidences.length;
  return [
    { name: 'matches_kp0', shape: [k, 2], values: m.kp0.flat() },
    { name: 'matches_kp1', shape: [k, 2], values: m.kp1.flat() },
    { name: 'match_confidences', shape: [k], values: m.confidences },
  ];
}

function sendBinaryResponse(res: ServerResponse, model: string, m: FixedMatches, malformed?: Malformation): void {
  const tensors = responseTensors(m);
  const chunks = tensors.map((t) => float32Le(t.values));
  const header = {
    model_name: model,
    model_version: '1',
    outputs: tensors.map((t, i) => ({
      name: t.name,
      datatype: malformed === 'datatype' && t.name === 'match_confidences' ? 'FP64' : 'FP32',
      shape: t.shape,
      parameters: { binary_data_size: (chunks[i] as Buffer).length },
    })),
  };
  if (malformed === 'byte-length') {
    // Self-consistent framing, but matches_kp0 carries one float fewer than its shape needs.
    chunks[0] = (chunks[0] as Buffer).subarray(4);
    (header.outputs[0] as { parameters: { binary_data_size: number } }).parameters.binary_data_size -= 4;
  }
  const headerBytes = Buffer.from(JSON.stringify(header));
  let body = Buffer.concat([headerBytes, ...chunks]);
  if (malformed === 'truncated') body = body.subarray(0, body.length - 4);
  const announced = malformed === 'header-length' ? body.length + 10 : headerBytes.length;
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Inference-Header-Content-Length': String(announced),
    'Content-Length': String(body.length),
  });
  res.end(body);
}

function sendJsonResponse(res: ServerResponse, model: string, m: FixedMatches): void {
  const outputs = responseTensors(m).map((t) => ({ name: t.name, datatype: 'FP32', shape: t.shape, data: t.values }));
  sendJson(res, 200, { model_name: model, model_version: '1', outputs });
}

export async function startFakeTriton(options: FakeTritonOptions): Promise<FakeTriton> {
  const model = options.model ?? 'omniglue_ensemble';
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];
  let dropsLeft = options.dropModelReady ?? 0;
  // Delays of answers the client gave up on would outlive the test: close() cancels them.
  const pending = new Set<NodeJS.Timeout>();
  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(timer);
        resolve();
      }, ms);
      pending.add(timer);
    });

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = (req.url ?? '').split('?')[0] ?? '';
      const record: RecordedRequest = { method: req.method ?? '', path };
      if (req.headers.authorization !== undefined) record.authorization = req.headers.authorization;
      requests.push(record);
      if (req.method === 'GET' && options.readyDelayMs) await delay(options.readyDelayMs);

      if (options.redirectLoop) {
        res.writeHead(302, { Location: path }).end();
      } else if (req.method === 'GET' && path === `/v2/models/${model}/ready` && dropsLeft > 0) {
        dropsLeft -= 1;
        req.socket.destroy();
      } else if (req.method === 'GET' && path === '/v2/health/ready') {
        // Triton: 200 with an empty body when ready.
        const status = options.serverReadyStatus ?? 200;
        res.writeHead(status, { 'Content-Type': 'text/plain' }).end();
      } else if (req.method === 'GET' && path === `/v2/models/${model}/ready`) {
        const status = options.modelReadyStatus ?? 200;
        if (status === 200) res.writeHead(200, { 'Content-Type': 'text/plain' }).end();
        else sendJson(res, status, { error: `Request for unknown model: '${model}' has no available versions` });
      } else if (req.method === 'POST' && path === `/v2/models/${model}/infer`) {
        const checked = verifyInferRequest(req, body, options.expected);
        record.protocol = checked.protocol;
        if (options.inferDelayMs) await delay(options.inferDelayMs);
        if (options.dropInfer) {
          req.socket.destroy();
        } else if (checked.violations.length > 0) {
          violations.push(...checked.violations);
          sendJson(res, 400, { error: `fake-triton: ${checked.violations.join('; ')}` });
        } else if (options.rawAnswer) {
          const { status = 200, headers = {}, body: answer } = options.rawAnswer;
          res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(answer);
        } else if (options.badGzip) {
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }).end('{"outputs": []}');
        } else if (options.inferError) {
          sendJson(res, options.inferError.status, { error: options.inferError.message });
        } else if (checked.protocol === 'binary') {
          sendBinaryResponse(res, model, options.matches, options.malformed);
        } else {
          sendJsonResponse(res, model, options.matches);
        }
      } else {
        sendJson(res, 404, { error: `fake-triton: no route for ${req.method} ${path}` });
      }
    })().catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: `fake-triton crashed: ${String(err)}` });
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    violations,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of pending) clearTimeout(timer);
        pending.clear();
        server.closeAllConnections(); // fetch keeps connections alive; don't let them hold close() open
        server.close(() => resolve());
      }),
  };
}
