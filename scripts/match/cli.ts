/**
 * `npm run match -- --image0 a.jpg --image1 b.jpg [...]`: one OmniGlue inference against Triton's
 * `omniglue_ensemble`, printed, optionally saved as JSON and drawn as a PNG. Usage and exit codes: docs/client.md.
 *
 * Everything is exported so the tests drive it in-process: main(argv, io) returns the exit code instead of exiting.
 */
import { consoleIo, type Io } from './cli-support';
import { type Connection, connect } from './connect';
import { type Match, renderMatchesPng } from './draw';
import { ExitCode, MatchClientError, reasonOf } from './errors';
import { encodeGrpcInferRequest } from './grpc-protocol';
import { loadRgbImage, type RgbImage } from './images';
import { Deadline, type InferenceClient } from './inference-client';
import { encodeBinaryRequest, encodeJsonRequest, type EncodedRequest, type InputTensor } from './kserve-v2';
import { checkAspectRatio, checkRequestSize, jsonRequestBytes } from './limits';
import { checkedMatches, formatMatchesDocument, matchesDocument, type MatchResult, OUTPUT_NAMES } from './matches';
import { type MatchOptions, parseCliArgs, USAGE } from './options';
import { checkOutputCollisions, writeFileAtomically } from './outputs';

export type { Io } from './cli-support';
export { checkedMatches, formatMatchesDocument, matchesDocument, type MatchesDocument, type MatchResult, OUTPUT_NAMES, toMatches } from './matches';
export { DEFAULTS, type MatchOptions, parseCliArgs, USAGE } from './options';

/**
 * Where to look when the model is not ready, naming only what the deployment leaves open: constructs/triton-server.ts
 * restricts the model-repository, model-config, shared-memory, trace and logging APIs (`--http-restricted-api`), so
 * `POST /v2/repository/index` answers 403 there; health (`/v2/models/<name>/ready`) and metadata stay open.
 */
export function notReadyHint(url: string, protocol: MatchOptions['protocol'] = 'binary'): string {
  // gRPC's ModelReady is in the same open "health" group (--grpc-restricted-protocol); curl needs the HTTP port.
  const perModel = protocol === 'grpc'
    ? `curl -i http://<host>:8000/v2/models/<name>/ready (Triton's HTTP port) or gRPC ModelReady at ${url}`
    : `curl -i ${url}/v2/models/<name>/ready`;
  return (
    `Triton marks the ensemble ready only after every model it uses; the reason for a failed model is in the Triton ` +
    `pod's log (kubectl --namespace <your namespace setting> logs deployment/omniglue-triton), and ` +
    `${perModel} tells each model's state (names: the directories of model_repository/)`
  );
}

/** Readiness: the model must be ready; a not-ready *server* only warns, see the comment inside. */
async function checkReady(client: InferenceClient, options: MatchOptions, io: Io): Promise<void> {
  const server = await client.serverReady(); // also the reachability probe: fails with Unreachable first
  const model = await client.modelReady(options.model);
  if (!model.ready) {
    const detail = model.detail ? `: ${model.detail}` : '';
    throw new MatchClientError(
      `model '${options.model}' is not ready at ${options.url} (${model.answer}${detail}); ` +
        `server ready: ${server.ready ? 'yes' : `no (${server.answer})`}`,
      ExitCode.NotReady,
      notReadyHint(options.url, options.protocol),
    );
  }
  if (!server.ready) {
    // Triton's server readiness (strict by default) requires *every* model in the repository to be ready; an
    // unrelated failed model must not stop us from using a ready ensemble.
    io.err(`warning: server at ${options.url} reports not ready (${server.answer}), but '${options.model}' is ready`);
  }
}

/** The image pair as the ensemble's inputs (docs/ensemble-design.md): UINT8 [H, W, 3] each. */
export function imageInputs(image0: RgbImage, image1: RgbImage): InputTensor[] {
  return [image0, image1].map((img, i) => ({ name: `image${i}`, datatype: 'UINT8' as const, shape: [img.height, img.width, 3], data: img.data }));
}

/**
 * The request in the chosen protocol, refused before any network traffic when it breaks the request size limit.
 * The binary size is what a JSON refusal compares against (its hint).
 */
export function encodeRequest(protocol: MatchOptions['protocol'], model: string, inputs: InputTensor[], maxRequestBytes: number): EncodedRequest {
  const names = [...OUTPUT_NAMES];
  if (protocol === 'grpc') {
    const body = encodeGrpcInferRequest(model, inputs, names);
    checkRequestSize(body.byteLength, body.byteLength, 'grpc', maxRequestBytes);
    return { body, headers: {} };
  }
  const binary = encodeBinaryRequest(inputs, names);
  const binaryBytes = (binary.body as Uint8Array).byteLength;
  if (protocol === 'binary') {
    checkRequestSize(binaryBytes, binaryBytes, 'binary', maxRequestBytes);
    return binary;
  }
  checkRequestSize(jsonRequestBytes(inputs, names), binaryBytes, 'json', maxRequestBytes);
  return encodeJsonRequest(inputs, names);
}

/** How the summary names the protocol. */
const PROTOCOL_LABEL: Record<MatchOptions['protocol'], string> = {
  binary: 'binary tensor data',
  json: 'JSON',
  grpc: 'gRPC, raw tensor contents',
};

/** The whole run; throws MatchClientError on every expected failure. Prints the summary through io. */
export async function runMatch(options: MatchOptions, io: Io = consoleIo): Promise<MatchResult> {
  const started = performance.now();
  // Local mistakes first, without touching the network: colliding outputs, unreadable images, input limits.
  const outputsGiven = [
    ...(options.json ? [{ flag: '--json', path: options.json }] : []),
    ...(options.out ? [{ flag: '--out', path: options.out }] : []),
  ];
  await checkOutputCollisions([{ flag: '--image0', path: options.image0 }, { flag: '--image1', path: options.image1 }], outputsGiven);
  const [image0, image1] = await Promise.all([options.image0, options.image1].map((p) => loadRgbImage(p, options.exifOrientation)));
  checkAspectRatio(image0);
  checkAspectRatio(image1);
  // Encoded before the readiness checks, so the inference follows them at once: a server that closes idle
  // keep-alive connections (5 s is common) must not see a long pause on the connection they used.
  const request = encodeRequest(options.protocol, options.model, imageInputs(image0, image1), options.maxRequestBytes);

  const connection: Connection = connect(options);
  let all: Match[];
  let roundTripMs: number;
  try {
    const client = connection.client(new Deadline(options.timeoutMs));
    await checkReady(client, options, io);
    const answer = await client.infer(options.model, request);
    roundTripMs = answer.roundTripMs;
    all = checkedMatches(answer.tensors, { maxMatches: options.maxMatches, image0, image1 });
  } finally {
    connection.close();
  }
  const matches = all.filter((m) => m.confidence >= options.minConfidence);
  const result: MatchResult = { model: options.model, image0, image1, returned: all.length, matches, roundTripMs };

  if (options.json) {
    await writeFileAtomically('JSON', options.json, formatMatchesDocument(matchesDocument(result)));
  }
  if (options.out) {
    const png = await renderMatchesPng(image0, image1, matches).catch((err: unknown) => {
      throw new MatchClientError(`cannot draw the picture for '${options.out}': ${reasonOf(err)}`, ExitCode.Output);
    });
    await writeFileAtomically('picture', options.out, png);
  }
  const totalMs = performance.now() - started;

  const protocol = PROTOCOL_LABEL[options.protocol];
  const auth = options.authorization ? ', credentials from --url sent as HTTP Basic auth' : '';
  io.out(`model: ${options.model} at ${options.url} (${protocol}${auth})`);
  io.out(`image0: ${image0.path} (${image0.width}x${image0.height})`);
  io.out(`image1: ${image1.path} (${image1.width}x${image1.height})`);
  io.out(`matches: ${matches.length} (${all.length} returned, min confidence ${options.minConfidence})`);
  io.out(`time: request ${roundTripMs.toFixed(1)} ms, total ${totalMs.toFixed(1)} ms`);
  if (options.json) io.out(`json: ${options.json}`);
  if (options.out) io.out(`picture: ${options.out}`);
  return result;
}

/** CLI entry: returns the exit code (see ExitCode) rather than calling process.exit. */
export async function main(argv: string[], io: Io = consoleIo): Promise<number> {
  try {
    const options = parseCliArgs(argv);
    if (options === 'help') {
      io.out(USAGE);
      return ExitCode.Ok;
    }
    await runMatch(options, io);
    return ExitCode.Ok;
  } catch (err) {
    if (err instanceof MatchClientError) {
      io.err(`error: ${err.message}`);
      if (err.hint) io.err(`hint: ${err.hint}`);
      return err.exitCode;
    }
    const stack = err instanceof Error ? err.stack : undefined;
    io.err(`error: unexpected failure: ${stack ?? reasonOf(err)}`);
    return ExitCode.Internal;
  }
}

if (require.main === module) {
  // exitCode rather than exit(): lets stdout/stderr drain first.
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
