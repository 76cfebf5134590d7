/**
 * Generators for the response fuzzers (test/match-client-fuzz.test.ts, test/match-client-grpc-fuzz.test.ts): an
 * ensemble answer for a small image pair, then one flaw of each class issue 21 found (or none), so that every
 * generated case has a known verdict: accepted only when it has no flaw.
 */
import fc from 'fast-check';
import { ensembleOutputs, type OutputSpec } from './infer-responses';

/** The image pair the fuzzers send: small, so a run costs little. */
export const SIZE = { width: 40, height: 30 };

export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 60);
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261204);

export type Flaw =
  | 'none' | 'duplicate' | 'unrequested' | 'missing' | 'nan' | 'infinite' | 'confidence-over-1' | 'outside-image'
  | 'datatype' | 'shape' | 'short-data' | 'too-many-matches';

export const FLAWS: Flaw[] = ['none', 'duplicate', 'unrequested', 'missing', 'nan', 'infinite', 'confidence-over-1', 'outside-image',
  'datatype', 'shape', 'short-data', 'too-many-matches'];

export interface Case {
  flaw: Flaw;
  outputs: OutputSpec[];
}

const point = fc.tuple(
  fc.float({ min: 0, max: SIZE.width, noNaN: true, noDefaultInfinity: true }),
  fc.float({ min: 0, max: SIZE.height, noNaN: true, noDefaultInfinity: true }),
);
const confidence = fc.float({ min: 0, max: 1, noNaN: true });

/** A valid answer (K from 0 to 6) with one flaw applied; `order` shuffles the outputs as a server may list them. */
export const flawedCase: fc.Arbitrary<Case> = fc
  .record({
    k: fc.integer({ min: 0, max: 6 }),
    rows: fc.array(fc.tuple(point, point, confidence), { minLength: 7, maxLength: 7 }),
    // A third sound, so the accepting path is exercised as often as the refusing ones.
    flaw: fc.oneof({ weight: 5, arbitrary: fc.constant<Flaw>('none') }, { weight: 11, arbitrary: fc.constantFrom(...FLAWS.slice(1)) }),
    which: fc.integer({ min: 0, max: 2 }),
    order: fc.shuffledSubarray([0, 1, 2], { minLength: 3, maxLength: 3 }),
  })
  .map(({ k, rows, flaw, which, order }) => {
    const used = rows.slice(0, flaw === 'too-many-matches' ? 7 : k);
    const base = ensembleOutputs(used.map((r) => r[0] as [number, number]), used.map((r) => r[1] as [number, number]), used.map((r) => r[2]));
    const outputs = order.map((i) => base[i]!);
    const target = outputs[which]!;
    // With K = 0 there is no value to spoil: those flaws become a duplicate output instead.
    const effective: Flaw = ['nan', 'infinite', 'confidence-over-1', 'outside-image', 'short-data'].includes(flaw) && used.length === 0 ? 'duplicate' : flaw;
    const confidences = outputs.find((o) => o.name === 'match_confidences')!;
    const kp0 = outputs.find((o) => o.name === 'matches_kp0')!;
    switch (effective) {
      case 'duplicate': outputs.push({ ...target, values: target.values.map((v) => v / 2) }); break;
      case 'unrequested': outputs.push({ name: 'scores', shape: [1], values: [0.5] }); break;
      case 'missing': outputs.splice(which, 1); break;
      case 'nan': target.values[0] = NaN; break;
      case 'infinite': target.values[0] = -Infinity; break;
      case 'confidence-over-1': confidences.values[0] = 1.5; break;
      case 'outside-image': kp0.values[0] = SIZE.width + 1; break;
      case 'datatype': target.datatype = 'FP16'; break;
      case 'shape': target.shape = [...target.shape, 1, 1]; break;
      case 'short-data': target.values.pop(); break;
      default: break;
    }
    return { flaw: effective, outputs };
  });

/** How a body is compressed, and whether the client asked for it. */
export type Compression = 'none' | 'identity' | 'gzip' | 'br' | 'deflate' | 'gzip-bomb' | 'corrupt-br' | 'corrupt-gzip' | 'x-unknown';
export const compression = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<Compression>('none', 'identity') },
  { weight: 2, arbitrary: fc.constantFrom<Compression>('gzip', 'br', 'deflate', 'gzip-bomb', 'corrupt-br', 'corrupt-gzip', 'x-unknown') },
);

/** Array nesting beyond the rank (0 = none), with depths from one level too many to the 200k of issue 21. */
export const extraNesting = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(1_000, 50_000, 200_000) },
);

/**
 * `values` reshaped to `shape` (KServe's nested form) when it has rows, wrapped in `extra` more single-element
 * arrays; `tooDeep` says whether the brackets then go deeper than the shape has dimensions.
 */
export function nestedData(values: number[], shape: number[], extra: number): { text: string; tooDeep: boolean } {
  const rows = shape.length === 2 && shape[1]! > 0 ? shape[1]! : 0;
  const nested = rows > 0 && values.length > 0 && values.length % rows === 0;
  const text = nested
    ? `[${Array.from({ length: values.length / rows }, (_, i) => JSON.stringify(values.slice(i * rows, (i + 1) * rows))).join(',')}]`
    : JSON.stringify(values);
  const depth = (nested ? 2 : 1) + extra;
  return { text: `${'['.repeat(extra)}${text}${']'.repeat(extra)}`, tooDeep: depth > Math.max(shape.length, 1) };
}
