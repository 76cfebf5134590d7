import fc from 'fast-check';
import type { Tensor } from 'onnxruntime-node';
import { fixtureModel } from './support/onnx-fixtures';
import { dinoSize, extractSuperpointOutput, findMatches, superpointSize } from './support/omniglue-reference';
import { f32, i32, ort, SessionPool } from './support/ort';

// The glue graphs on what the reference meets at its edges: NaN and infinities in SuperPoint's probability map and
// in the matcher's soft assignment, and images around the smallest size the reference takes. Each property runs
// RUNS cases against the reference model (FUZZ_RUNS and FUZZ_SEED run it longer or elsewhere).
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
// Fatal only: the failures these tests expect would each print an error line.
const pool = new SessionPool({ logSeverityLevel: 4 });
afterAll(() => pool.releaseAll());

const run = async (model: string, feeds: Record<string, Tensor>, set: 'models' | 'k8' = 'models') => (await pool.get(fixtureModel(model, set))).run(feeds);
const values = (t: Tensor) => Array.from(t.data as Float32Array);
const IMAGE_TOO_SMALL = /running Reshape node\. Name:'image too small for OmniGlue: each side must be at least 14 px, and the longer side at most 45 times the shorter when it exceeds 630 px/;

/** A float32 value of the kinds a network's output can hold, NaN and both infinities included. */
const score = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(0, -0, 0.25, 0.5, 1) },
  { weight: 4, arbitrary: fc.float({ min: Math.fround(-1), max: Math.fround(1), noNaN: true }) },
  { weight: 2, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
);

describe('superpoint_keypoints ignores NaN pixels as the reference does (keypoint_map > 0 is false for NaN)', () => {
  const [mapH, mapW, width, height] = [8, 16, 17, 9];
  const raw = Float32Array.from({ length: 256 * 2 }, (_, i) => Math.sin(i));

  async function expectReference(prob: ArrayLike<number>, k: number, set: 'models' | 'k8') {
    const out = await run('superpoint_keypoints', { prob_nms: f32(prob, [1, mapH, mapW]), descriptors_raw: f32(raw, [1, 1, 2, 256]), width: i32(width), height: i32(height) }, set);
    const reference = extractSuperpointOutput(Float32Array.from(prob), mapH, mapW, k, height, width);
    expect(values(out.scores)).toEqual(reference.scores);
    expect(values(out.keypoints)).toEqual(reference.keypoints.flat().map(Math.fround));
    return reference.scores.length;
  }

  test.each([
    [3, 3],
    [20, 8],
  ])('NaN pixels beside %i detections leave the reference its %i keypoints (K = 8)', async (detections, kept) => {
    const prob = Array.from({ length: mapH * mapW }, (_, i) => (i % 5 === 0 ? NaN : i % 5 === 1 && i < 5 * detections ? i / 1000 : 0));
    expect(await expectReference(prob, 8, 'k8')).toBe(kept);
  });

  test('a map of NaN has no keypoint; +Infinity is the highest score and is kept', async () => {
    expect(await expectReference(new Array(mapH * mapW).fill(NaN), 8, 'k8')).toBe(0);
    const prob = new Array(mapH * mapW).fill(0);
    [prob[3], prob[40], prob[41]] = [Infinity, 0.5, -Infinity];
    expect(await expectReference(prob, 1024, 'models')).toBe(2);
  });

  test('fuzz: NaN and infinities anywhere in the map give the reference selection', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(score, { minLength: mapH * mapW, maxLength: mapH * mapW }), fc.boolean(), async (prob, small) => {
        await expectReference(prob, small ? 8 : 1024, small ? 'k8' : 'models');
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});

describe('omniglue_match_extraction takes NaN as numpy does: its row and column have no match', () => {
  async function expectReference(n: number, m: number, soft: ArrayLike<number>) {
    const [scores0, scores1] = [new Array(n).fill(0.5), new Array(m).fill(0.5)];
    const out = await run('omniglue_match_extraction', {
      soft_assignment: f32(soft, [1, n + 1, m + 1]),
      keypoints0: f32(Array.from({ length: 2 * n }, (_, i) => i), [1, n, 2]),
      keypoints1: f32(Array.from({ length: 2 * m }, (_, i) => 100 + i), [1, m, 2]),
      scores0: f32(scores0, [1, n, 1]),
      scores1: f32(scores1, [1, m, 1]),
    });
    const reference = findMatches(Float32Array.from(soft), n, m, scores0, scores1);
    expect(values(out.matches_kp0)).toEqual(reference.rows.flatMap((i) => [2 * i, 2 * i + 1]));
    expect(values(out.matches_kp1)).toEqual(reference.columns.flatMap((j) => [100 + 2 * j, 101 + 2 * j]));
    expect(values(out.match_confidences)).toEqual(reference.confidences);
    return reference.rows;
  }

  test('a NaN removes its row and its column; the other mutual maxima still match', async () => {
    const soft = [
      [0.9, 0.0, 0.0, 0],
      [0.0, NaN, 0.8, 0],
      [0.0, 0.0, 0.7, 0],
      [0.0, 0.6, 0.0, 0],
      [0, 0, 0, 0],
    ];
    expect(await expectReference(4, 3, soft.flat())).toEqual([0]);
  });

  test('an infinite soft assignment is a match with confidence Infinity; NaN in the dustbins changes nothing', async () => {
    const soft = [
      [Infinity, 0.1, NaN],
      [0.2, 0.5, NaN],
      [NaN, NaN, NaN],
    ];
    expect(await expectReference(2, 2, soft.flat())).toEqual([0, 1]);
  });

  test('fuzz: NaN and infinities anywhere in the soft assignment give the reference matches', async () => {
    const sizes = fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 9 }));
    const cases = sizes.chain(([n, m]) => fc.tuple(fc.constant(n), fc.constant(m), fc.array(score, { minLength: (n + 1) * (m + 1), maxLength: (n + 1) * (m + 1) })));
    await fc.assert(fc.asyncProperty(cases, async ([n, m, soft]) => void (await expectReference(n, m, soft))), { numRuns: RUNS, seed: SEED });
  });
});

describe('images around the smallest size the reference takes', () => {
  const image = (h: number, w: number) => new ort.Tensor('uint8', new Uint8Array(h * w * 3).fill(90), [h, w, 3]);
  /** The reference's cv2.resize raises when DINOv2's input would lose a side (dino_extract.py), or SuperPoint's. */
  const referenceTakes = (h: number, w: number) => Math.min(...dinoSize(h, w)) >= 14 && Math.min(superpointSize(h), superpointSize(w)) > 0;

  test.each([
    [13, 13],
    [14, 13],
    [0, 20],
    [15, 676],
    [700, 15],
  ])('a %ix%i image fails both preprocessing steps with the rule', async (h, w) => {
    for (const model of ['superpoint_preprocess', 'dinov2_preprocess']) await expect(run(model, { image: image(h, w) })).rejects.toThrow(IMAGE_TOO_SMALL);
  });

  test('fuzz: sizes around 14 px and around 45:1 above 630 px fail iff the reference fails, else give its sizes', async () => {
    const small = fc.integer({ min: 0, max: 30 });
    const side = fc.tuple(small, fc.oneof(small, fc.integer({ min: 620, max: 700 })));
    const nearRatio = fc.integer({ min: 631, max: 1400 }).chain((long) => fc.tuple(fc.constant(long), fc.integer({ min: Math.floor(long / 45) - 2, max: Math.ceil(long / 45) + 2 })));
    const sizes = fc.oneof(side, side.map(([a, b]) => [b, a] as [number, number]), nearRatio, nearRatio.map(([a, b]) => [b, a] as [number, number]));
    await fc.assert(
      fc.asyncProperty(sizes, async ([h, w]) => {
        for (const model of ['superpoint_preprocess', 'dinov2_preprocess']) {
          const result = run(model, { image: image(h, w) });
          if (!referenceTakes(h, w)) {
            await expect(result).rejects.toThrow(IMAGE_TOO_SMALL);
            continue;
          }
          const out = await result;
          const expected = model === 'dinov2_preprocess' ? [1, 3, ...dinoSize(h, w)] : [1, superpointSize(h), superpointSize(w), 1];
          expect(Object.values(out)[0].dims).toEqual(expected);
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
