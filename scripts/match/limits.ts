/**
 * The documented limits, checked on our side: the input limits before anything is sent, the response against the
 * ensemble's contract before anything is written. Each limit cites where it comes from.
 */
import { ExitCode, MatchClientError } from './errors';
import type { Match } from './draw';
import type { RgbImage } from './images';
import type { InputTensor, Protocol } from './kserve-v2';
import { malformed } from './response-decoder';

/** Node's timers hold a signed 32-bit delay; a longer one silently fires after 1 ms (Node docs, setTimeout). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * K, the keypoints per image the ensemble keeps (model_repository/superpoint_keypoints/config.pbtxt, dims
 * [1, 1024, 2]); a mutual-nearest match uses each keypoint once, so no response holds more matches.
 */
export const DEFAULT_MAX_MATCHES = 1024;

/**
 * Triton's default `--http-max-input-size`: 64 MiB (HTTP_DEFAULT_MAX_INPUT_SIZE = 1 << 26 in
 * triton-inference-server/server src/common.h; its qa size-limit test refuses both JSON and binary bodies above
 * it). constructs/triton-server.ts does not change it.
 */
export const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024;

/**
 * Triton's gRPC endpoint takes messages up to INT32_MAX bytes (MAX_GRPC_MESSAGE_SIZE in triton-inference-server/server
 * src/common.h, set by grpc_server.cc SetMaxMessageSize). The client keeps --max-request-bytes for gRPC too, so the
 * same images are accepted whichever protocol carries them.
 */
export const GRPC_MAX_MESSAGE_BYTES = 2 ** 31 - 1;

/**
 * What a response may take, before it is decoded: the JSON or protobuf envelope (names, shapes, parameters; a few
 * hundred bytes from Triton) plus, per match, five float32 values. Binary and gRPC carry them in 4 bytes each; JSON
 * prints each as a number of at most 25 characters and a separator: Triton writes an FP32 output as the double
 * it widens to (triton-inference-server/server src/http_server.cc WriteDataToJson, TritonJson AppendDouble, i.e.
 * rapidjson's shortest round-trip form: at most 17 digits, a sign, a point and an exponent). Larger bodies are
 * refused as they arrive, so a hostile server cannot make the client buffer gigabytes.
 */
export const RESPONSE_ENVELOPE_BYTES = 64 * 1024;
export const RESPONSE_BYTES_PER_MATCH = 5 * 32;

export function maxResponseBytes(maxMatches: number): number {
  return Math.min(RESPONSE_ENVELOPE_BYTES + RESPONSE_BYTES_PER_MATCH * maxMatches, GRPC_MAX_MESSAGE_BYTES);
}

/** The refusal of a response over maxResponseBytes(): `what` names the request. */
export function responseTooLarge(what: string, maxMatches: number): MatchClientError {
  const bytes = maxResponseBytes(maxMatches);
  return malformed(
    `${what} answered with more than ${bytes} bytes, more than a response of at most ${maxMatches} matches takes ` +
      `(--max-matches ${maxMatches}: ${RESPONSE_ENVELOPE_BYTES} bytes + ${RESPONSE_BYTES_PER_MATCH} per match)`,
  );
}

/** dinov2_preprocess (scripts/omniglue_conversion/glue_preprocess.py): longer side capped at 630, then multiples of 14. */
const DINO_MAX_SIDE = 630;
const DINO_PATCH = 14;

/** The size dinov2_preprocess resizes an image to, with the graph's integer arithmetic. */
export function dinov2InputSize(width: number, height: number): { width: number; height: number } {
  let w = width;
  let h = height;
  if (Math.max(width, height) > DINO_MAX_SIDE) {
    if (height > width) {
      h = DINO_MAX_SIDE;
      w = Math.floor((DINO_MAX_SIDE * width) / height);
    } else {
      w = DINO_MAX_SIDE;
      h = Math.floor((DINO_MAX_SIDE * height) / width);
    }
  }
  return { width: Math.floor(w / DINO_PATCH) * DINO_PATCH, height: Math.floor(h / DINO_PATCH) * DINO_PATCH };
}

/**
 * docs/model-repository.md "Input limits": after the DINOv2 resize both sides must hold one 14 px patch, which for
 * images longer than 630 px means an aspect ratio of at most 45:1. (Sides under 14 px are refused by images.ts.)
 */
export function checkAspectRatio(image: RgbImage): void {
  const dino = dinov2InputSize(image.width, image.height);
  if (dino.width < DINO_PATCH || dino.height < DINO_PATCH) {
    const ratio = Math.max(image.width, image.height) / Math.min(image.width, image.height);
    throw new MatchClientError(
      `image '${image.path}' is ${image.width}x${image.height}, an aspect ratio of ${ratio.toFixed(1)}:1; the ensemble ` +
        `accepts at most 45:1 (DINOv2 scales the longer side to ${DINO_MAX_SIDE} px, leaving ${dino.width}x${dino.height}, ` +
        `less than one ${DINO_PATCH} px patch)`,
      ExitCode.Image,
      'crop the image to a less elongated region',
    );
  }
}

/** Decimal digits of 0..255 plus the separating comma: what one UINT8 costs in a JSON `data` array. */
const JSON_BYTE_COST = Array.from({ length: 256 }, (_, v) => String(v).length + 1);

/** Exact byte length of encodeJsonRequest()'s body, without building the (3.6x larger) string. */
export function jsonRequestBytes(inputs: InputTensor[], outputNames: string[]): number {
  const skeleton = JSON.stringify({
    inputs: inputs.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, data: [] })),
    outputs: outputNames.map((name) => ({ name })),
  });
  let bytes = Buffer.byteLength(skeleton);
  for (const t of inputs) {
    let digits = 0;
    for (const v of t.data) digits += JSON_BYTE_COST[v] as number;
    bytes += Math.max(0, digits - 1); // n values need n - 1 commas
  }
  return bytes;
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

const PROTOCOL_NAME: Record<Protocol, string> = { binary: 'binary', json: 'JSON', grpc: 'gRPC' };

/**
 * Refuses a request the server would answer with "exceeds the maximum allowed value" (HTTP 400). gRPC gets the same
 * limit (GRPC_MAX_MESSAGE_BYTES), so that an image pair is accepted or refused whatever the protocol.
 */
export function checkRequestSize(bytes: number, binaryBytes: number, protocol: Protocol, maxBytes: number): void {
  if (bytes <= maxBytes) return;
  const fitsAsBinary = protocol === 'json' && binaryBytes <= maxBytes;
  const source = protocol === 'grpc' ? 'kept for gRPC as for HTTP' : "Triton's --http-max-input-size";
  throw new MatchClientError(
    `the ${PROTOCOL_NAME[protocol]} inference request would be ${bytes} bytes (${mib(bytes)}), over ` +
      `the server's request limit of ${maxBytes} bytes (--max-request-bytes; ${source})`,
    ExitCode.Image,
    fitsAsBinary
      ? `drop --json-protocol: the binary tensor protocol sends the same images in ${binaryBytes} bytes (${mib(binaryBytes)})`
      : `downscale the images (SuperPoint was trained at 640x480), or raise ${protocol === 'grpc'
        ? `--max-request-bytes (Triton's gRPC port takes up to ${GRPC_MAX_MESSAGE_BYTES} bytes)`
        : '--http-max-input-size on the server and --max-request-bytes here'}`,
  );
}

/** K before any value is read: a response with 200,000 matches is refused, not written out. */
export function checkMatchCount(k: number, maxMatches: number): void {
  if (k > maxMatches) {
    throw malformed(
      `${k} matches, more than the ${maxMatches} keypoints per image the ensemble keeps (--max-matches ${maxMatches})`,
    );
  }
}

/**
 * Every value finite, confidences in [0, 1] (soft-assignment probabilities), coordinates inside their image.
 * Keypoints are pixel positions scaled by (original - 1) / (resized - 1) (superpoint_keypoints), so they lie in
 * [0, side - 1]; the bound used is the image's edge, [0, side], which no float rounding crosses.
 */
export function checkMatchValues(matches: Match[], image0: RgbImage, image1: RgbImage): void {
  const where = (i: number, field: string) => `match ${i}: ${field}`;
  matches.forEach((m, i) => {
    for (const [field, point, image] of [['kp0', m.kp0, image0], ['kp1', m.kp1, image1]] as const) {
      const [x, y] = point;
      if (!Number.isFinite(x) || !Number.isFinite(y)) throw malformed(`${where(i, field)} is (${x}, ${y}), not finite`);
      if (x < 0 || y < 0 || x > image.width || y > image.height) {
        throw malformed(`${where(i, field)} (${x}, ${y}) lies outside its ${image.width}x${image.height} image`);
      }
    }
    if (!Number.isFinite(m.confidence) || m.confidence < 0 || m.confidence > 1) {
      throw malformed(`${where(i, 'confidence')} is ${m.confidence}, outside [0, 1]`);
    }
  });
}
