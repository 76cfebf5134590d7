/**
 * The ensemble's three output tensors as matches, and the --json document made of them.
 */
import type { Match } from './draw';
import type { RgbImage } from './images';
import { checkMatchCount, checkMatchValues, DEFAULT_MAX_MATCHES } from './limits';
import { type DecodedTensor, outputsByName, readFloat32 } from './response-decoder';

/** The ensemble's outputs (docs/ensemble-design.md), requested in this order. */
export const OUTPUT_NAMES = ['matches_kp0', 'matches_kp1', 'match_confidences'] as const;

/**
 * Turns the three output tensors into matches, enforcing the ensemble contract:
 * matches_kp0 / matches_kp1 FP32 [K,2], match_confidences FP32 [K], all with the same K.
 */
export function toMatches(outputs: Map<string, DecodedTensor>, maxMatches: number = DEFAULT_MAX_MATCHES): Match[] {
  const declared = outputs.get('match_confidences')?.shape;
  if (declared?.length === 1) checkMatchCount(declared[0] as number, maxMatches);
  const conf = readFloat32(outputs.get('match_confidences'), 'match_confidences', [null]);
  const k = conf.shape[0] as number;
  const kp0 = readFloat32(outputs.get('matches_kp0'), 'matches_kp0', [k, 2]).values;
  const kp1 = readFloat32(outputs.get('matches_kp1'), 'matches_kp1', [k, 2]).values;
  const matches: Match[] = [];
  for (let i = 0; i < k; i++) {
    matches.push({
      kp0: [kp0[2 * i] as number, kp0[2 * i + 1] as number],
      kp1: [kp1[2 * i] as number, kp1[2 * i + 1] as number],
      confidence: conf.values[i] as number,
    });
  }
  return matches;
}

/**
 * The whole output contract, as the match client and the load generator both apply it to every response, whichever
 * protocol carried it: each requested output once (outputsByName), the tensors (toMatches) and their values
 * (checkMatchValues: finite, confidences in [0, 1], keypoints inside their image).
 */
export function checkedMatches(
  tensors: DecodedTensor[],
  limits: { maxMatches: number; image0: RgbImage; image1: RgbImage },
): Match[] {
  const matches = toMatches(outputsByName(tensors, OUTPUT_NAMES), limits.maxMatches);
  checkMatchValues(matches, limits.image0, limits.image1);
  return matches;
}

export interface MatchResult {
  model: string;
  image0: RgbImage;
  image1: RgbImage;
  /** Matches the server returned, before --min-confidence. */
  returned: number;
  /** Matches kept after --min-confidence. */
  matches: Match[];
  /** Round trip of the inference POST (encode excluded, decode excluded). */
  roundTripMs: number;
}

export interface MatchesDocument {
  model: string;
  image0: { path: string; width: number; height: number };
  image1: { path: string; width: number; height: number };
  matches: Match[];
  /** Round trip of the inference request in ms (what the server costs; decode/draw time excluded). */
  elapsedMs: number;
}

/**
 * The values are float32 on the wire; printed as doubles they grow noise digits (0.03389830514788627). Nine
 * significant digits always round-trip a float32 (Math.fround gives back the same value) and read cleanly.
 */
const float32Text = (v: number): number => Number(v.toPrecision(9));

/** The --json document: { model, image0, image1, matches, elapsedMs }. */
export function matchesDocument(result: MatchResult): MatchesDocument {
  const image = (img: RgbImage) => ({ path: img.path, width: img.width, height: img.height });
  return {
    model: result.model,
    image0: image(result.image0),
    image1: image(result.image1),
    matches: result.matches.map((m) => ({
      kp0: [float32Text(m.kp0[0]), float32Text(m.kp0[1])],
      kp1: [float32Text(m.kp1[0]), float32Text(m.kp1[1])],
      confidence: float32Text(m.confidence),
    })),
    elapsedMs: Math.round(result.roundTripMs * 10) / 10,
  };
}

/** Pretty JSON with one match per line: up to 1024 matches stay greppable and diffable without 15 lines each. */
export function formatMatchesDocument(doc: MatchesDocument): string {
  const lines = doc.matches.map((m) => `    ${JSON.stringify(m)}`);
  return [
    '{',
    `  "model": ${JSON.stringify(doc.model)},`,
    `  "image0": ${JSON.stringify(doc.image0)},`,
    `  "image1": ${JSON.stringify(doc.image1)},`,
    lines.length === 0 ? '  "matches": [],' : `  "matches": [\n${lines.join(',\n')}\n  ],`,
    `  "elapsedMs": ${JSON.stringify(doc.elapsedMs)}`,
    '}',
    '',
  ].join('\n');
}
